"""Decoding speed on a random model: SpeechBrain's full-prefix searcher against the incremental one.

    python scripts/bench_decoding.py [--threads 1] [--lengths 25 50 100] [--beam 10]

Prints two tables:
  1. decode time per utterance when every hypothesis is forced to L tokens (<eos> is blocked until
     step L, the encoder has 2L frames), attention-only and joint CTC/attention, for the MHA decoder
     and the Summary Decoder, with S2STransformerBeamSearcher (whole decoder re-run on the prefix at
     every step) and S2SIncrementalBeamSearcher (one position per step);
  2. the time of one decoder step for `beam` hypotheses against the prefix length: incremental
     (MHA: O(t) self-attention over the cache; Summary Decoder: O(1) running mean) and full-prefix.
Weights are random: the figures are about time, not accuracy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable

import torch
from speechbrain.decoders.scorer import CTCScorer, ScorerBuilder
from speechbrain.decoders.seq2seq import S2STransformerBeamSearcher
from speechbrain.nnet.linear import Linear
from torch import nn

from summarymixing.decoding import S2SIncrementalBeamSearcher
from summarymixing.decoding.beam_search import enc_padding_mask
from summarymixing.models.decoder import AttentionDecoder, build_decoder

DECODERS = {"MHA": None, "Summary": {"self_attention": "summarymixing", "mode": "SummaryMixing"}}


class FullPrefixModel(nn.Module):
    """``decode(prefix, enc, enc_lens)``, what S2STransformerBeamSearcher calls at every step."""

    def __init__(self, decoder: AttentionDecoder):
        super().__init__()
        self.decoder = decoder

    def decode(self, tokens: torch.Tensor, enc: torch.Tensor, enc_lens: torch.Tensor):
        return self.decoder(tokens.long(), enc, enc_padding_mask(enc_lens, enc.shape[1])), None


def seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls, after one untimed call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def searcher(kind: str, decoder, seq_lin, ctc_lin, beam: int, ctc_weight: float, ratio: float):
    scorer = None
    if ctc_weight > 0:
        scorer = ScorerBuilder(full_scorers=[CTCScorer(ctc_lin, 0, 2)], weights={"ctc": ctc_weight})
    common = dict(
        bos_index=1, eos_index=2, min_decode_ratio=ratio, max_decode_ratio=ratio, beam_size=beam,
        using_eos_threshold=False, length_normalization=True, scorer=scorer,
    )  # fmt: skip
    if kind == "speechbrain":
        return S2STransformerBeamSearcher(modules=[FullPrefixModel(decoder), seq_lin], **common)
    return S2SIncrementalBeamSearcher(decoder, seq_lin, **common)


def decode_table(args, models) -> None:
    print(f"\n## Decode time per utterance (s), beam {args.beam}, every hypothesis forced to L tokens\n")
    print("| decoder | search | L | SpeechBrain | incremental | speed-up |")
    print("|---|---|---|---|---|---|")
    for name, (decoder, seq_lin, ctc_lin) in models.items():
        for search, ctc_weight in (("attention", 0.0), (f"joint CTC {args.ctc_weight}", args.ctc_weight)):
            for L in args.lengths:
                enc, rel = torch.randn(1, 2 * L, args.d_model), torch.ones(1)
                t = {}
                for kind in ("speechbrain", "incremental"):
                    s = searcher(kind, decoder, seq_lin, ctc_lin, args.beam, ctc_weight, ratio=0.5)
                    t[kind] = seconds(lambda: s(enc.clone(), rel), args.repeats)
                print(f"| {name} | {search} | {L} | {t['speechbrain']:.3f} | {t['incremental']:.3f} "
                      f"| {t['speechbrain'] / t['incremental']:.1f}x |", flush=True)  # fmt: skip


def step_table(args, models) -> None:
    T = 2 * max(args.lengths)
    print(f"\n## One decoder step (ms) for {args.beam} hypotheses against the prefix length t ({T} encoder frames)\n")
    print("| t | MHA incremental | Summary incremental | MHA full prefix | Summary full prefix |")
    print("|---|---|---|---|---|")
    enc = torch.randn(1, T, args.d_model)
    enc_pad = torch.zeros(1, T, dtype=torch.bool)
    last = torch.full((args.beam,), 5)
    states = {name: models[name][0].init_state(enc, enc_pad) for name in models}
    done = 0
    for t in args.step_lengths:
        for name, (decoder, _, _) in models.items():  # grow each state to t - 1 tokens
            for _ in range(done, t - 1):
                _, states[name] = decoder.step(last, states[name])
        done = t - 1
        row = []
        for name, (decoder, _, _) in models.items():
            row.append(seconds(lambda: decoder.step(last, states[name]), args.repeats * 5))
        prefix = torch.full((args.beam, t), 5)
        enc_beam = enc.expand(args.beam, -1, -1)
        for name, (decoder, _, _) in models.items():
            row.append(seconds(lambda: decoder(prefix, enc_beam, enc_pad.expand(args.beam, -1)), args.repeats))
        print(f"| {t} | " + " | ".join(f"{1e3 * r:.2f}" for r in row) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--nhead", type=int, default=4)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--d-ffn", type=int, default=1024)
    parser.add_argument("--vocab", type=int, default=256)
    parser.add_argument("--beam", type=int, default=10)
    parser.add_argument("--ctc-weight", type=float, default=0.4)
    parser.add_argument("--lengths", type=int, nargs="+", default=[25, 50, 100])
    parser.add_argument("--step-lengths", type=int, nargs="+", default=[25, 50, 100, 200, 400])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tables", nargs="+", choices=["decode", "step"], default=["decode", "step"])
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    arch = {"d_model": args.d_model, "nhead": args.nhead, "num_decoder_layers": args.layers, "d_ffn": args.d_ffn}
    models = {
        name: (
            build_decoder(arch, args.vocab, cfg).eval(),
            Linear(input_size=args.d_model, n_neurons=args.vocab).eval(),
            Linear(input_size=args.d_model, n_neurons=args.vocab).eval(),
        )
        for name, cfg in DECODERS.items()
    }
    print(f"decoder: {args.layers} layers, d_model {args.d_model}, {args.nhead} heads, d_ffn {args.d_ffn}, "
          f"vocabulary {args.vocab}; torch {torch.__version__}, {args.threads} thread(s), "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    with torch.no_grad():
        if "decode" in args.tables:
            decode_table(args, models)
        if "step" in args.tables:
            step_table(args, models)


if __name__ == "__main__":
    main()

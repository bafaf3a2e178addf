"""Stage ``decode``: transcribe every test split with a trained model.

Two decoders, both SpeechBrain's:
    ctc_greedy   best path of the CTC head, repeats merged and blanks removed
    joint_beam   attention-decoder beam search rescored on the fly with the CTC prefix score
                 (S2STransformerBeamSearcher + CTCScorer, weight ``decoding.<size>.ctc_weight``), no LM

Writes ``exp/<dataset>/<model>/hypotheses.jsonl``: one line per (split, decoder, utterance) with the
reference and the hypothesis, followed by one ``timing`` line per (split, decoder) with the decoding
time and the real-time factor.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from .. import paths
from ..config import ModelSpec, dataset_config, load_params
from ..io import atomic_path

log = logging.getLogger(__name__)

DECODERS = ("ctc_greedy", "joint_beam")


def load_model(dataset: str, model_id: str, device: str):
    """The trained ``AttentionCTCModel`` of ``model_id``, in eval mode on ``device``."""
    import torch

    from ..models.asr import AttentionCTCModel

    path = paths.model_path(dataset, model_id)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run `summarymixing train --dataset {dataset} --model {model_id}` first")
    ckpt = torch.load(path, map_location="cpu")
    model = AttentionCTCModel(ckpt["arch"], n_tokens=ckpt["n_tokens"], n_mels=ckpt["n_mels"])
    model.load_state_dict(ckpt["state_dict"])
    model.normalize._load_statistics_dict(ckpt["normalizer"])
    return model.to(device).eval()


def make_beam_searcher(model, beam_size: int, ctc_weight: float):
    """Joint CTC/attention beam search over ``model``'s decoder (SpeechBrain)."""
    from speechbrain.decoders.scorer import CTCScorer, ScorerBuilder
    from speechbrain.decoders.seq2seq import S2STransformerBeamSearcher

    from .tokenizer import BOS_ID, EOS_ID, PAD_ID

    scorer = ScorerBuilder(
        full_scorers=[CTCScorer(ctc_fc=model.ctc_lin, blank_index=PAD_ID, eos_index=EOS_ID)],
        weights={"ctc": ctc_weight},
    )
    return S2STransformerBeamSearcher(
        modules=[model.transformer, model.seq_lin],
        bos_index=BOS_ID,
        eos_index=EOS_ID,
        min_decode_ratio=0.0,
        max_decode_ratio=1.0,
        beam_size=beam_size,
        using_eos_threshold=False,
        length_normalization=True,
        scorer=scorer,
    )


def run(args: argparse.Namespace) -> None:
    import torch
    from speechbrain.decoders import ctc_greedy_decode

    from ..data import load_cuts, make_loader
    from .tokenizer import load_tokenizer

    params = load_params(args.params)
    spec = ModelSpec.parse(args.model)
    cfg = dataset_config(params, args.dataset)
    hp = params["decoding"][spec.size]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = load_tokenizer(args.dataset)
    model = load_model(args.dataset, spec.id, device)
    searcher = make_beam_searcher(model, hp["beam_size"], hp["ctc_weight"]).to(device)

    lines: list[dict] = []
    with torch.no_grad():
        for split in cfg["test_splits"]:
            # Batches of similar durations: the beam search runs every hypothesis of a batch until the
            # longest one ends, so padding costs decoder steps (sorted batches of 25 s decode 1.4x faster on CPU).
            cuts = load_cuts(paths.cuts_path(args.dataset, split)).sort_by_duration(ascending=True)
            loader, _ = make_loader(cuts, tokenizer, hp.get("max_batch_duration", 200), train=False)
            seconds = {name: 0.0 for name in DECODERS}
            audio_seconds = 0.0
            for batch in loader:
                feats, rel_lens = batch["feats"].to(device), batch["feat_rel_lens"].to(device)
                audio_seconds += sum(batch["durations"])
                start = time.perf_counter()
                enc = model.encode(feats, rel_lens)
                encode_seconds = time.perf_counter() - start
                greedy = ctc_greedy_decode(model.ctc_lin(enc).log_softmax(-1), rel_lens, blank_id=0)
                seconds["ctc_greedy"] += time.perf_counter() - start
                start = time.perf_counter()
                beam, _, _, _ = searcher(enc, rel_lens)
                seconds["joint_beam"] += encode_seconds + time.perf_counter() - start
                for name, hyps in (("ctc_greedy", greedy), ("joint_beam", beam)):
                    for utt, ref, hyp in zip(batch["ids"], batch["texts"], hyps):
                        lines.append({"split": split, "decoder": name, "id": utt, "ref": ref, "hyp": tokenizer.decode(list(map(int, hyp)))})
            for name in DECODERS:
                lines.append({"split": split, "decoder": name, "timing": {
                    "seconds": round(seconds[name], 3), "audio_seconds": round(audio_seconds, 3),
                    "rtf": round(seconds[name] / max(audio_seconds, 1e-9), 5), "device": device}})
            log.info("%s %s: %d utterances, RTF %.4f (greedy) / %.4f (beam %d)", spec.id, split, len(cuts),
                     seconds["ctc_greedy"] / audio_seconds, seconds["joint_beam"] / audio_seconds, hp["beam_size"])

    with atomic_path(paths.hypotheses_path(args.dataset, spec.id)) as tmp:
        tmp.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

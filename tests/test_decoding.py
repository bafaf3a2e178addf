"""Incremental decoding: decoder and LM steps equal their teacher-forced passes, the Summary Decoder is
linear in the prefix, and the beam search finds what SpeechBrain's full-prefix searcher finds."""

from __future__ import annotations

import pytest
import torch
from speechbrain.decoders.scorer import CTCScorer, ScorerBuilder
from speechbrain.decoders.scorer import TransformerLMScorer as SBTransformerLMScorer
from speechbrain.decoders.seq2seq import S2STransformerBeamSearcher, S2STransformerGreedySearcher
from speechbrain.lobes.models.transformer.TransformerLM import TransformerLM
from speechbrain.nnet.linear import Linear
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from summarymixing.decoding import (
    S2SIncrementalBeamSearcher,
    S2SIncrementalGreedySearcher,
    TransformerLMScorer,
    build_beam_searcher,
)
from summarymixing.decoding.beam_search import enc_padding_mask
from summarymixing.models.decoder import CausalSummaryMixing, build_decoder
from summarymixing.models.lm import IncrementalTransformerLM, build_lm, lm_loss
from summarymixing.models.summary_mixing import MODES

# SpeechBrain's TransformerLM.forward passes a float look-ahead mask with a boolean padding mask
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask and attn_mask")

D, V = 32, 14
ARCH = {"d_model": D, "nhead": 4, "num_decoder_layers": 2, "d_ffn": 64, "dropout": 0.1}
DECODERS = {
    "mha": None,
    **{  # -fast has no LayerNorm
        mode: {"self_attention": "summarymixing", "mode": mode, "nhead": 2, "use_layernorm": "fast" not in mode}
        for mode in MODES
    },
}
ENC_LENS = [10, 7, 4]  # frames per utterance: the batch is padded to 10


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: a second intra-op thread only adds synchronisation (and waits on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_decoder(name: str = "mha"):
    torch.manual_seed(0)
    return build_decoder(ARCH, V, DECODERS[name]).eval()


def encoder_batch(lengths=ENC_LENS):
    torch.manual_seed(1)
    T = max(lengths)
    return torch.randn(len(lengths), T, D), torch.arange(T)[None] >= torch.tensor(lengths)[:, None]


def step_through(module, tokens: torch.Tensor, state) -> torch.Tensor:
    """Feed tokens (N, L) one position at a time; the outputs stacked (N, L, ...)."""
    outs = []
    for t in range(tokens.shape[1]):
        out, state = module.step(tokens[:, t], state)
        outs.append(out)
    return torch.stack(outs, dim=1)


def step_through_state(module, tokens: torch.Tensor, state):
    """Feed tokens (N, L) one position at a time; the last output and the state after them."""
    for t in range(tokens.shape[1]):
        out, state = module.step(tokens[:, t], state)
    return out, state


# ---------------------------------------------------------------------------------------------------
# The decoder


@pytest.mark.parametrize("name", DECODERS)
def test_step_equals_teacher_forcing(name):
    decoder = make_decoder(name)
    enc, enc_pad = encoder_batch()
    torch.manual_seed(2)
    tokens = torch.randint(3, V, (3, 8))
    tokens[:, 0] = 1  # <bos>
    tokens[2, 5:] = 0  # a shorter transcript, padded
    with torch.no_grad():
        full = decoder(tokens, enc, enc_pad)
        steps = step_through(decoder, tokens, decoder.init_state(enc, enc_pad))
    torch.testing.assert_close(steps[:2], full[:2], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(steps[2, :5], full[2, :5], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["mha", "SummaryMixing"])
def test_reorder_follows_predecessors(name):
    """3 hypotheses per utterance share the utterance's cross-attention keys/values; reordering mid-way
    gives what the reordered prefixes give from scratch."""
    decoder = make_decoder(name)
    enc, enc_pad = encoder_batch([10, 6])
    R = 3
    torch.manual_seed(3)
    tokens = torch.randint(3, V, (2 * R, 6))
    tokens[:, 0] = 1
    index = torch.tensor([2, 0, 0, 4, 5, 3])  # predecessors, within each utterance
    with torch.no_grad():
        state = decoder.init_state(enc, enc_pad)
        _, state = step_through_state(decoder, tokens[:, :3], state)
        state = decoder.reorder_state(state, index)
        after = step_through(decoder, tokens[:, 3:], state)
        prefixes = torch.cat([tokens[index, :3], tokens[:, 3:]], dim=1)
        full = decoder(prefixes, enc.repeat_interleave(R, 0), enc_pad.repeat_interleave(R, 0))
    torch.testing.assert_close(after, full[:, 3:], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------------
# The Summary Decoder's causal summary


def causal_mixer(mode: str) -> CausalSummaryMixing:
    return make_decoder(mode).layers.layers[0].self_attn


@pytest.mark.parametrize("mode", MODES)
def test_cumsum_summary_equals_lower_triangular_mean(mode):
    """s_bar_t by cumulative sums == the explicit mean under an (L, L) lower-triangular mask."""
    mixer = causal_mixer(mode)
    torch.manual_seed(4)
    L = 9
    x = torch.randn(3, L, D)
    pad = torch.arange(L)[None] >= torch.tensor([9, 6, 2])[:, None]
    future = torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1)  # True where j > t: may not see
    with torch.no_grad():
        out, _ = mixer(x, x, x, attn_mask=None, key_padding_mask=pad)
        explicit, _ = mixer.mixer(x, attn_mask=future, key_padding_mask=pad)  # masked (L, L) mean
    torch.testing.assert_close(out, explicit, rtol=1e-5, atol=1e-6)
    if mode == "SummaryMixing-lite":  # h_t is the summary itself
        s = mixer.mixer.summary_proj(x[0])
        torch.testing.assert_close(out[0, 4], s[:5].mean(0), rtol=1e-5, atol=1e-6)


class ShapeRecorder(TorchDispatchMode):
    """The shape of every tensor an op returns."""

    def __init__(self):
        super().__init__()
        self.shapes: list[tuple[str, tuple[int, ...]]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for o in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(o, torch.Tensor):
                self.shapes.append((str(func), tuple(o.shape)))
        return out


def square_shapes(module, *inputs, L: int) -> list:
    """Ops that return a tensor with two dimensions of size L."""
    with torch.no_grad(), ShapeRecorder() as rec:
        module(*inputs)
    return [s for s in rec.shapes if sum(d == L for d in s[1]) >= 2]


def test_summary_decoder_builds_no_prefix_by_prefix_tensor():
    L, enc_len = 23, 11
    enc, enc_pad = encoder_batch([enc_len, 8])
    tokens = torch.randint(3, V, (2, L))
    summary, mha = make_decoder("SummaryMixing"), make_decoder("mha")
    assert square_shapes(summary, tokens, enc, enc_pad, L=L) == []
    assert square_shapes(mha, tokens, enc, enc_pad, L=L) != []  # the check does see attention's (L, L) maps


def test_summary_mixing_flops_are_linear_in_length():
    mixer = causal_mixer("SummaryMixing")

    def flops(L: int) -> int:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            mixer(torch.randn(2, L, D))
        return counter.get_total_flops()

    assert flops(64) == 2 * flops(32) > 0


def test_summary_step_cost_does_not_grow_with_the_prefix():
    """The ops (and their shapes) of one step are the same after 3 tokens and after 40."""
    enc, enc_pad = encoder_batch()

    def step_shapes(decoder, prefix_length: int) -> list:
        with torch.no_grad():
            _, state = step_through_state(decoder, torch.full((3, prefix_length), 5), decoder.init_state(enc, enc_pad))
            with ShapeRecorder() as rec:
                decoder.step(torch.full((3,), 5), state)
        return rec.shapes

    summary, mha = make_decoder("SummaryMixing"), make_decoder("mha")
    assert step_shapes(summary, 3) == step_shapes(summary, 40)
    assert step_shapes(mha, 3) != step_shapes(mha, 40)  # the key/value cache grows


# ---------------------------------------------------------------------------------------------------
# The language model

LM_CFG = {"d_model": D, "nhead": 4, "num_layers": 2, "d_ffn": 64, "dropout": 0.0}


def make_lm(normalize_before: bool = False) -> IncrementalTransformerLM:
    torch.manual_seed(5)
    return build_lm({**LM_CFG, "normalize_before": normalize_before}, V).eval()


@pytest.mark.parametrize("normalize_before", [False, True])
def test_lm_step_equals_forward(normalize_before):
    lm = make_lm(normalize_before)
    torch.manual_seed(6)
    tokens = torch.randint(3, V, (3, 9))
    tokens[:, 0] = 1
    with torch.no_grad():
        torch.testing.assert_close(step_through(lm, tokens, lm.init_state()), lm(tokens), rtol=1e-5, atol=1e-5)


def test_lm_checkpoint_is_speechbrains():
    """The state dict is a plain SpeechBrain TransformerLM's (the recipes' lm.ckpt loads as it is)."""
    lm = make_lm()
    sb_lm = TransformerLM(V, D, 4, 2, 0, 64, dropout=0.0, activation=nn.GELU, normalize_before=False).eval()
    sb_lm.load_state_dict(lm.state_dict())
    tokens = torch.randint(1, V, (2, 6))
    with torch.no_grad():
        torch.testing.assert_close(sb_lm(tokens), lm(tokens))


def test_lm_loss_is_the_token_mean_nll():
    lm = make_lm()
    bos = torch.tensor([[1, 5, 6, 7], [1, 8, 0, 0]])
    eos = torch.tensor([[5, 6, 7, 2], [8, 2, 0, 0]])
    loss = lm_loss(lm, bos, eos, torch.tensor([1.0, 0.5]))
    log_probs = lm(bos).log_softmax(-1)
    valid = [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]
    expected = -torch.stack([log_probs[b, t, eos[b, t]] for b, t in valid]).mean()
    torch.testing.assert_close(loss, expected)


# ---------------------------------------------------------------------------------------------------
# The searches, against SpeechBrain's full-prefix searchers on the same weights


class FullPrefixModel(nn.Module):
    """What ``S2STransformerBeamSearcher`` calls: ``decode(prefix, enc, enc_lens)``, the whole decoder."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def decode(self, tokens, enc, enc_lens):
        return self.decoder(tokens.long(), enc, enc_padding_mask(enc_lens, enc.shape[1])), None


def heads(name: str):
    decoder = make_decoder(name)
    torch.manual_seed(7)
    seq_lin, ctc_lin = Linear(input_size=D, n_neurons=V), Linear(input_size=D, n_neurons=V)
    with torch.no_grad():
        seq_lin.w.bias[2] += 1.0  # <eos> a little likelier, so that hypotheses end at different steps
        # never padding, as after training: the full-prefix decoder would mask a padding token in a prefix
        seq_lin.w.bias[0] = -20.0
    return decoder, seq_lin.eval(), ctc_lin.eval()


SEARCH = {"bos_index": 1, "eos_index": 2, "min_decode_ratio": 0.0, "max_decode_ratio": 1.0,
          "using_eos_threshold": False, "length_normalization": True}  # fmt: skip
PAPER = {"ctc_weight": 0.4, "lm_weight": 0.6, "temperature": 1.15}


def scorers(ctc_lin, lm, incremental: bool):
    """[LM, CTC] with the recipes' weights (either may be None); SpeechBrain's LM scorer gets a plain
    TransformerLM carrying the same weights."""
    full_scorers, weights = [], {}
    if lm is not None:
        if incremental:
            full_scorers.append(TransformerLMScorer(lm, temperature=PAPER["temperature"]))
        else:
            sb_lm = TransformerLM(V, D, 4, 2, 0, 64, dropout=0.0, activation=nn.GELU, normalize_before=False)
            sb_lm.load_state_dict(lm.state_dict())
            full_scorers.append(SBTransformerLMScorer(sb_lm.eval(), temperature=PAPER["temperature"]))
        weights["transformerlm"] = PAPER["lm_weight"]
    if ctc_lin is not None:
        full_scorers.append(CTCScorer(ctc_lin, 0, 2))
        weights["ctc"] = PAPER["ctc_weight"]
    return ScorerBuilder(full_scorers=full_scorers, weights=weights) if full_scorers else None


def assert_same_topk(ours, reference):
    hyps, lengths, scores, log_probs = ours
    ref_hyps, ref_lengths, ref_scores, ref_log_probs = reference
    assert hyps.tolist() == ref_hyps.tolist()
    torch.testing.assert_close(lengths, ref_lengths)
    torch.testing.assert_close(scores, ref_scores, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(log_probs, ref_log_probs, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("beam", [1, 4])
@pytest.mark.parametrize("with_lm", [False, True], ids=["ctc", "ctc+lm"])
@pytest.mark.parametrize("name", ["mha", "SummaryMixing"])
def test_joint_beam_search_equals_speechbrain(name, with_lm, beam):
    decoder, seq_lin, ctc_lin = heads(name)
    lm = make_lm() if with_lm else None
    enc, _ = encoder_batch()
    rel_lens = torch.tensor(ENC_LENS) / max(ENC_LENS)
    common = {**SEARCH, "beam_size": beam, "return_topk": True, "topk": beam, "temperature": PAPER["temperature"]}
    reference = S2STransformerBeamSearcher(
        modules=[FullPrefixModel(decoder), seq_lin], scorer=scorers(ctc_lin, lm, incremental=False), **common
    )
    ours = S2SIncrementalBeamSearcher(decoder, seq_lin, scorer=scorers(ctc_lin, lm, incremental=True), **common)
    with torch.no_grad():
        assert_same_topk(ours(enc.clone(), rel_lens), reference(enc.clone(), rel_lens))


@pytest.mark.parametrize("beam", [1, 4])
@pytest.mark.parametrize("with_lm", [False, True], ids=["att", "att+lm"])
def test_attention_only_beam_search_equals_speechbrain(with_lm, beam):
    decoder, seq_lin, _ = heads("mha")
    lm = make_lm() if with_lm else None
    enc, _ = encoder_batch()
    rel_lens = torch.tensor(ENC_LENS) / max(ENC_LENS)
    common = {**SEARCH, "beam_size": beam, "return_topk": True, "topk": beam}
    reference = S2STransformerBeamSearcher(
        modules=[FullPrefixModel(decoder), seq_lin], scorer=scorers(None, lm, incremental=False), **common
    )
    ours = S2SIncrementalBeamSearcher(decoder, seq_lin, scorer=scorers(None, lm, incremental=True), **common)
    with torch.no_grad():
        assert_same_topk(ours(enc, rel_lens), reference(enc, rel_lens))


def test_built_searchers_run_and_attention_only_never_emits_padding():
    decoder, seq_lin, ctc_lin = heads("SummaryMixing")
    with torch.no_grad():
        seq_lin.w.bias[0] = 20.0  # the decoder would rather emit padding than anything else
    enc, _ = encoder_batch()
    rel_lens = torch.tensor(ENC_LENS) / max(ENC_LENS)
    with torch.no_grad():
        hyps, *_ = build_beam_searcher(decoder, seq_lin, beam_size=3)(enc, rel_lens)
        assert all(0 not in hyp for hyp in hyps)
        joint = build_beam_searcher(decoder, seq_lin, 3, ctc_lin=ctc_lin, lm=make_lm(), **PAPER, lm_temperature=1.15)
        hyps, *_ = joint(enc, rel_lens)
    assert len(hyps) == 3 and all(0 not in hyp for hyp in hyps)


def test_greedy_equals_speechbrain():
    decoder, seq_lin, _ = heads("mha")
    enc, _ = encoder_batch()
    rel_lens = torch.tensor(ENC_LENS) / max(ENC_LENS)
    common = {"bos_index": 1, "eos_index": 2, "min_decode_ratio": 0.0, "max_decode_ratio": 1.0}
    reference = S2STransformerGreedySearcher(modules=[FullPrefixModel(decoder), seq_lin], **common)
    ours = S2SIncrementalGreedySearcher(decoder, seq_lin, **common)
    hyps, lengths, scores, log_probs = ours(enc, rel_lens)
    ref_hyps, ref_lengths, ref_scores, ref_log_probs = reference(enc, rel_lens)
    assert hyps == ref_hyps
    torch.testing.assert_close(scores, ref_scores, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(log_probs, ref_log_probs, rtol=1e-5, atol=1e-5)

"""SummaryMixing: the equations, the masking, and how it plugs into SpeechBrain's encoders."""

import pytest
import torch

from summarymixing.models.mixers import build_summary_mixing, replace_mixers
from summarymixing.models.summary_mixing import MODES, HeadwiseLinear, SummaryMixing, masked_mean

D = 16


def make(mode="SummaryMixing", nhead=1, **kw):
    torch.manual_seed(0)
    return SummaryMixing(D, nhead=nhead, mode=mode, **kw).eval()


def padding_mask(lengths, T):
    return torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]  # True at padded frames


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nhead", [1, 4])
def test_shapes_and_attention_signature(mode, nhead):
    module = make(mode, nhead)
    x = torch.randn(3, 11, D)
    out, attn = module(x, x, x, attn_mask=None, key_padding_mask=padding_mask([11, 7, 3], 11), pos_embs=None)
    assert out.shape == (3, 11, D)
    assert attn is None


@pytest.mark.parametrize("mode", MODES)
def test_real_frames_do_not_see_padding(mode):
    module = make(mode, nhead=2)
    x = torch.randn(2, 9, D)
    lengths = [9, 5]
    out, _ = module(x, key_padding_mask=padding_mask(lengths, 9))
    # Add 6 frames of large garbage padding: the outputs at real frames must not change.
    x_long = torch.cat([x, 100 * torch.randn(2, 6, D)], dim=1)
    x_long[1, 5:] = -50.0
    out_long, _ = module(x_long, key_padding_mask=padding_mask(lengths, 15))
    for b, n in enumerate(lengths):
        torch.testing.assert_close(out_long[b, :n], out[b, :n])
    # And utterance 1 alone, unpadded, gives the same as inside the batch.
    alone, _ = module(x[1:2, :5])
    torch.testing.assert_close(alone[0], out[1, :5])


def test_summary_is_masked_mean_of_s():
    module = make("SummaryMixing-lite", nhead=2)  # lite outputs the summary itself
    x = torch.randn(2, 8, D)
    lengths = [8, 3]
    out, _ = module(x, key_padding_mask=padding_mask(lengths, 8))
    with torch.no_grad():
        s = module.summary_proj(x)  # s(x_t) for every frame
    for b, n in enumerate(lengths):
        expected = s[b, :n].sum(0) / n  # hand-computed mean over the valid frames only
        torch.testing.assert_close(out[b, 0], expected)


def test_lite_broadcasts_one_summary_to_every_real_frame():
    module = make("SummaryMixing-lite")
    x = torch.randn(2, 7, D)
    out, _ = module(x, key_padding_mask=padding_mask([7, 4], 7))
    torch.testing.assert_close(out[0], out[0, :1].expand(7, D))
    torch.testing.assert_close(out[1, :4], out[1, :1].expand(4, D))
    assert torch.all(out[1, 4:] == 0)


def test_combiner_sees_local_and_summary():
    """h_t = c([f(x_t); s_bar]) computed by hand from the module's own f, s and c."""
    module = make("SummaryMixing", nhead=2)
    x = torch.randn(1, 5, D)
    out, _ = module(x)
    with torch.no_grad():
        f, s = module.local_proj(x), module.summary_proj(x)
        s_bar = s.mean(dim=1, keepdim=True).expand_as(s)
        expected = module.combiner(torch.cat([f, s_bar], dim=-1))
    torch.testing.assert_close(out, expected)


def test_fast_mode_uses_one_full_fused_projection():
    """[f(x_t); s(x_t)] = GELU(W x_t + b), W a full (not headwise) 2D x D matrix; c = Linear(2D -> D) + GELU."""
    module = make("SummaryMixing-fast", nhead=4)
    assert not [m for m in module.modules() if isinstance(m, (HeadwiseLinear, torch.nn.LayerNorm))]
    projection, combiner = module.fused_proj[0], module.combiner[0]
    assert (projection.in_features, projection.out_features) == (D, 2 * D)
    assert (combiner.in_features, combiner.out_features) == (2 * D, D)
    x = torch.randn(1, 3, D)
    out, _ = module(x)
    with torch.no_grad():
        f, s = module.fused_proj(x).split(D, dim=-1)
        expected = module.combiner(torch.cat([f, s.mean(1, keepdim=True).expand_as(s)], dim=-1))
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("nhead", [2, 4])
def test_fast_mode_f_and_s_see_every_input_feature(nhead):
    module = make("SummaryMixing-fast", nhead=nhead)
    jacobian = torch.autograd.functional.jacobian(module.fused_proj, torch.randn(D))  # (2D, D): d[f; s] / dx
    assert (jacobian[:D] != 0).all() and (jacobian[D:] != 0).all()  # f and s: every output reads every input


def test_fast_mode_has_no_layernorm():
    with pytest.raises(ValueError, match="no LayerNorm"):
        SummaryMixing(D, mode="SummaryMixing-fast", use_layernorm=True)


def test_headwise_linear_is_block_diagonal():
    torch.manual_seed(0)
    layer = HeadwiseLinear(8, 8, nhead=2)
    x = torch.randn(3, 8)
    y = layer(x)
    x2 = x.clone()
    x2[:, 4:] += 1.0  # change only head 2's inputs
    y2 = layer(x2)
    torch.testing.assert_close(y2[:, :4], y[:, :4])  # head 1's outputs unchanged
    assert not torch.allclose(y2[:, 4:], y[:, 4:])


@pytest.mark.parametrize("mode", MODES)
def test_every_parameter_gets_a_gradient(mode):
    module = SummaryMixing(D, nhead=2, mode=mode, dropout=0.1).train()
    x = torch.randn(3, 6, D, requires_grad=True)
    out, _ = module(x, key_padding_mask=padding_mask([6, 4, 2], 6))
    out.pow(2).sum().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert x.grad[1, 4:].abs().sum() == 0  # padded frames contribute nothing


@pytest.mark.parametrize("mode", MODES)
def test_chunk_mask_covering_utterance_equals_no_mask(mode):
    module = make(mode, nhead=2)
    x = torch.randn(2, 10, D)
    kpm = padding_mask([10, 6], 10)
    full_chunk = torch.zeros(10, 10, dtype=torch.bool)  # one chunk of 10 frames: everyone sees everyone
    torch.testing.assert_close(module(x, attn_mask=full_chunk, key_padding_mask=kpm)[0], module(x, key_padding_mask=kpm)[0])


def test_chunked_summary_sees_own_chunk_and_past():
    T, C = 8, 3
    chunk = torch.arange(T) // C
    time_mask = chunk[None, :] > chunk[:, None]  # True where frame t may not see frame j (a future chunk)
    values = torch.randn(1, T, 4)
    valid = torch.ones(1, T, 1)
    s_bar = masked_mean(values, valid, time_mask)
    for t in range(T):
        last = min(T, (chunk[t].item() + 1) * C)
        torch.testing.assert_close(s_bar[0, t], values[0, :last].mean(0))


def test_lite_requires_summary_of_model_size():
    with pytest.raises(ValueError, match="d_model"):
        SummaryMixing(D, mode="SummaryMixing-lite", summary_out_dim=D // 2)
    with pytest.raises(ValueError, match="mode"):
        SummaryMixing(D, mode="SummaryMixing-heavy")


@pytest.mark.parametrize("encoder", ["conformer", "branchformer", "transformer"])
def test_plugs_into_speechbrain_encoders(encoder):
    from speechbrain.lobes.models.transformer.Branchformer import BranchformerEncoder
    from speechbrain.lobes.models.transformer.Conformer import ConformerEncoder
    from speechbrain.lobes.models.transformer.Transformer import TransformerEncoder

    torch.manual_seed(0)
    if encoder == "conformer":
        enc = ConformerEncoder(num_layers=2, d_model=D, d_ffn=32, nhead=2, kernel_size=3)
    elif encoder == "branchformer":
        enc = BranchformerEncoder(nhead=2, num_layers=2, d_model=D, kernel_size=3, csgu_linear_units=32)
    else:
        enc = TransformerEncoder(num_layers=2, nhead=2, d_ffn=32, d_model=D)
    mixer_cfg = {"type": "summarymixing", "mode": "SummaryMixing", "dropout": 0.0}
    assert replace_mixers(enc, lambda: build_summary_mixing(mixer_cfg, D, 2)) == 2
    assert all(isinstance(getattr(layer, "mha_layer", getattr(layer, "self_att", None)), SummaryMixing) for layer in enc.layers)
    enc.eval()
    x = torch.randn(2, 12, D)
    kpm = padding_mask([12, 8], 12)
    out, _ = enc(x, src_key_padding_mask=kpm)
    assert out.shape == (2, 12, D)
    x_long = torch.cat([x, torch.randn(2, 5, D)], 1)
    x_long[1, 8:] = 50.0  # different padding
    out_long, _ = enc(x_long, src_key_padding_mask=padding_mask([12, 8], 17))
    if encoder == "transformer":  # Conformer and Branchformer convolutions read padded frames (test_mixers.py)
        torch.testing.assert_close(out_long[1, :8], out[1, :8], atol=1e-5, rtol=1e-4)


def _model(encoder, mixer):
    from summarymixing.models.seq2seq import EncoderDecoderModel

    arch = {"encoder": encoder, "d_model": D, "nhead": 2, "num_encoder_layers": 2, "num_decoder_layers": 1,
            "d_ffn": 32, "kernel_size": 3, "csgu_linear_units": 32, "dropout": 0.0, "mixer": mixer, "decoder": None}
    torch.manual_seed(0)
    return EncoderDecoderModel(arch, n_tokens=10, n_mels=16).eval()


def test_summarymixing_encoder_has_no_positional_encoding():
    """Transformer layers with SummaryMixing and no positions are permutation-equivariant over time."""
    sm = _model("transformer", {"type": "summarymixing", "mode": "SummaryMixing", "dropout": 0.0})
    mha = _model("transformer", {"type": "attention", "attention_type": "regularMHA"})
    x = torch.randn(1, 9, D)  # after the CNN front-end and input projection
    no_padding = torch.zeros(1, 9, dtype=torch.bool)
    perm = torch.randperm(9)
    with torch.no_grad():
        out, out_perm = sm.encoder.forward_layers(x, no_padding), sm.encoder.forward_layers(x[:, perm], no_padding)
        torch.testing.assert_close(out_perm, out[:, perm])
        ref, ref_perm = mha.encoder.forward_layers(x, no_padding), mha.encoder.forward_layers(x[:, perm], no_padding)
        assert not torch.allclose(ref_perm, ref[:, perm], atol=1e-4)  # absolute positions break symmetry


@pytest.mark.parametrize("encoder", ["conformer", "branchformer", "transformer"])
@pytest.mark.parametrize("mixer", [
    {"type": "attention", "attention_type": "RelPosMHAXL"},
    {"type": "summarymixing", "mode": "SummaryMixing-lite", "dropout": 0.0},
])
def test_asr_model_decoder_still_has_positions(encoder, mixer):
    model = _model(encoder, mixer).train()  # training mode: the global normaliser collects its statistics
    feats, rel = torch.randn(2, 40, 16), torch.tensor([1.0, 0.7])
    tokens_bos = torch.randint(1, 10, (2, 5))
    enc, p_ctc, p_seq = model(feats, rel, tokens_bos)
    assert enc.shape == (2, 10, D) and p_ctc.shape == (2, 10, 10) and p_seq.shape == (2, 5, 10)
    torch.testing.assert_close(p_seq.exp().sum(-1), torch.ones(2, 5))
    assert model.decoder.positional_encoding is not None

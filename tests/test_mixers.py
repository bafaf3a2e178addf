"""Every mixer type in every encoder it applies to, ContextNet, FastFormer's equations, the Branchformer variants.

Padding, as far as each architecture allows:
- every mixer module alone: valid frames never see padded ones;
- Transformer layers (no convolution): exactly the same;
- Conformer and Branchformer layers: SpeechBrain's convolutions (the Conformer's depthwise convolution,
  the cgMLP's spatial gating) read the frames around them, padded ones included, and mask at most their
  output. One layer therefore leaves every valid frame unchanged except the last kernel_size // 2; a
  second layer with a global mixer would spread that to every frame;
- the CNN front-end does the same at the end of an utterance, so whole encoders match only for lengths
  that fill their last subsampled frame;
- ContextNet: nothing takes a mask (see ``summarymixing.models.contextnet``).
"""

import math

import pytest
import torch
from speechbrain.nnet.hypermixing import HyperMixing

from summarymixing.models.branchformer import CnnOnlyLayer, merge_mlp
from summarymixing.models.encoders import ENCODERS, MIXERLESS_ENCODERS, build_encoder
from summarymixing.models.fastformer import FastFormerAttention
from summarymixing.models.mixers import (
    MIXER_ATTRIBUTES,
    MIXER_TYPES,
    build_fastformer,
    build_summary_mixing,
    mixer_type,
)
from summarymixing.models.summary_mixing import SummaryMixing

D, NHEAD, N_MELS, KERNEL = 16, 2, 16, 3
TRANSFORMER_FAMILY = ("conformer", "branchformer", "transformer")

# one block of params.yaml per mixer type
MIXERS = {
    "attention": {"type": "attention", "attention_type": "RelPosMHAXL"},
    "summarymixing": {"type": "summarymixing", "mode": "SummaryMixing", "nhead": None, "dropout": None},
    "hypermixer": {"type": "hypermixer"},
    "fastformer": {"type": "fastformer", "nhead": None, "dropout": None},
    "cnnonly": {"type": "cnnonly"},
}
CONTEXTNET = dict(alpha=1, num_encoder_layers=3, block_layers=2, kernel_size=3, channels=[8, 16], widen_at=2,
                  stride_blocks=[0, 1], out_channels=16, se_inner_dim=4)  # fmt: skip


def applies_to(kind: str) -> tuple[str, ...]:
    return MIXER_TYPES[kind].encoders or TRANSFORMER_FAMILY


CASES = [(encoder, kind) for kind in MIXER_TYPES for encoder in applies_to(kind)] + [("contextnet", None)]


def arch(encoder, kind, **kw):
    settings = dict(encoder=encoder, d_model=D, nhead=NHEAD, num_encoder_layers=2, num_decoder_layers=1, d_ffn=32,
                    kernel_size=KERNEL, csgu_linear_units=32, dropout=0.0, cnn_channels=[4, 4], decoder=None,
                    mixer=MIXERS[kind] if kind else None)  # fmt: skip
    if encoder == "contextnet":
        settings.update(CONTEXTNET)
    return {**settings, **kw}


def build(encoder, kind, **kw):
    torch.manual_seed(0)
    return build_encoder(arch(encoder, kind, **kw), N_MELS)


def pad_mask(lengths, T):
    return torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]  # True at padded frames


def mixers_of(encoder):
    layers = encoder.layers.layers
    return [getattr(layer, name) for layer in layers for name in MIXER_ATTRIBUTES if hasattr(layer, name)]


def test_every_mixer_type_is_tested():
    assert set(MIXERS) == set(MIXER_TYPES)
    assert set(ENCODERS) == {*TRANSFORMER_FAMILY, "contextnet"} and MIXERLESS_ENCODERS == {"contextnet"}


@pytest.mark.parametrize("encoder,kind", CASES)
def test_output_shape(encoder, kind):
    enc = build(encoder, kind).eval()
    out = enc(torch.randn(2, 40, N_MELS), torch.tensor([1.0, 0.7]))
    assert out.shape == (2, 10, D) and enc.d_model == D  # 4x subsampling (ContextNet: two stride-2 blocks here)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("encoder,kind", CASES)
def test_every_parameter_gets_a_gradient(encoder, kind):
    enc = build(encoder, kind).train()
    enc(torch.randn(3, 40, N_MELS), torch.tensor([1.0, 0.8, 0.5])).pow(2).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


# --- padding -----------------------------------------------------------------------------------


def padded_longer(x, lengths, extra=5, scale=100.0):
    """x (B, T, D) with ``extra`` frames of large garbage appended and its padded frames replaced too."""
    torch.manual_seed(1)
    x_long = torch.cat([x, scale * torch.randn(x.shape[0], extra, x.shape[2])], dim=1)
    x_long[pad_mask(lengths, x_long.shape[1])] = -scale / 2
    return x_long


@pytest.mark.parametrize(
    "make",
    [
        lambda: build_summary_mixing(MIXERS["summarymixing"], D, NHEAD),
        lambda: build_fastformer(MIXERS["fastformer"], D, NHEAD),
        lambda: HyperMixing(D, 4 * D, num_heads=NHEAD),
    ],
    ids=["summarymixing", "fastformer", "hypermixer"],
)
def test_mixer_module_ignores_padding(make):
    torch.manual_seed(0)
    mixer = make().eval()
    x, lengths = torch.randn(2, 9, D), [9, 5]
    out, _ = mixer(x, x, x, key_padding_mask=pad_mask(lengths, 9))
    x_long = padded_longer(x, lengths)
    out_long, _ = mixer(x_long, x_long, x_long, key_padding_mask=pad_mask(lengths, x_long.shape[1]))
    for b, n in enumerate(lengths):
        torch.testing.assert_close(out_long[b, :n], out[b, :n], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("encoder,kind", [case for case in CASES if case[0] != "contextnet"])
def test_layers_ignore_padding_as_far_as_their_convolutions_allow(encoder, kind):
    """Transformer: exactly. Conformer and Branchformer, one layer: all but the last kernel_size // 2 frames."""
    layers = 2 if encoder == "transformer" else 1
    enc = build(encoder, kind, num_encoder_layers=layers).eval()
    x, lengths = torch.randn(2, 12, D), [12, 8]
    out = enc.forward_layers(x, pad_mask(lengths, 12))
    x_long = padded_longer(x, lengths)
    out_long = enc.forward_layers(x_long, pad_mask(lengths, x_long.shape[1]))
    reach = 0 if encoder == "transformer" else KERNEL // 2
    for b, n in enumerate(lengths):
        torch.testing.assert_close(out_long[b, : n - reach], out[b, : n - reach], atol=1e-5, rtol=1e-4)
    if reach:  # the frames within reach of the padding do change: the expectation above is not vacuous
        assert not torch.allclose(out_long[1, n - reach : n], out[1, n - reach : n], atol=1e-3)


def test_cnn_only_layers_only_reach_kernel_size_over_two_frames_per_layer():
    enc = build("branchformer", "cnnonly", num_encoder_layers=2).eval()
    x, lengths = torch.randn(2, 12, D), [12, 8]
    out = enc.forward_layers(x, pad_mask(lengths, 12))
    x_long = padded_longer(x, lengths)
    out_long = enc.forward_layers(x_long, pad_mask(lengths, x_long.shape[1]))
    torch.testing.assert_close(out_long[1, : 8 - 2 * (KERNEL // 2)], out[1, : 8 - 2 * (KERNEL // 2)])


@pytest.mark.parametrize("kind", [k for k in MIXER_TYPES if "transformer" in applies_to(k)])
def test_whole_transformer_encoder_ignores_padding_for_lengths_filling_the_subsampling(kind):
    enc = build("transformer", kind).eval()
    feats = torch.randn(2, 48, N_MELS)
    out = enc(feats, torch.tensor([1.0, 32 / 48]))  # 32 frames: 8 whole subsampled frames
    alone = enc(feats[1:2, :32], torch.ones(1))
    torch.testing.assert_close(alone[0], out[1, :8], atol=1e-5, rtol=1e-4)


def test_contextnet_padding_what_holds_and_what_does_not():
    enc = build("contextnet", None).eval()  # eval: batch norm uses running statistics, frame by frame
    torch.manual_seed(0)
    feats, rel = torch.randn(2, 40, N_MELS), torch.tensor([1.0, 0.6])
    out = enc(feats, rel)
    # what padding holds does not matter: padded input frames are zeroed
    other = feats.clone()
    other[1, 24:] = 100.0
    torch.testing.assert_close(enc(other, rel), out)
    # an utterance does not depend on the others in its batch, given the same padded length
    torch.testing.assert_close(enc(feats[1:2], rel[1:2])[0], out[1])
    # but how much padding follows does: the excitation averages over it, the convolutions read it
    alone = enc(feats[1:2, :24], torch.ones(1))[0]  # (6, D)
    assert not torch.allclose(alone, out[1, :6], atol=1e-3)


# --- FastFormer ----------------------------------------------------------------------------------


def fastformer_by_loop(m: FastFormerAttention, x: torch.Tensor, lengths: list[int]) -> list[torch.Tensor]:
    """The paper's equations, one utterance, head and frame at a time, on its valid frames only."""
    outs = []
    for b, n in enumerate(lengths):
        xs = x[b, :n]  # (n, D)
        q, k = m.query(xs), m.key(xs)
        v = q if m.value is None else m.value(xs)
        u = torch.zeros_like(q)
        for h in range(m.nhead):
            cols = slice(h * m.d_head, (h + 1) * m.d_head)
            qh, kh, vh = q[:, cols], k[:, cols], v[:, cols]
            alpha = torch.softmax(torch.stack([m.query_score[h] @ qh[t] for t in range(n)]) / math.sqrt(m.d_head), 0)
            q_bar = sum(alpha[t] * qh[t] for t in range(n))
            p = [q_bar * kh[t] for t in range(n)]
            beta = torch.softmax(torch.stack([m.key_score[h] @ p[t] for t in range(n)]) / math.sqrt(m.d_head), 0)
            k_bar = sum(beta[t] * p[t] for t in range(n))
            for t in range(n):
                u[t, cols] = k_bar * vh[t]
        outs.append(m.output(u) + q)
    return outs


@pytest.mark.parametrize("share_query_value", [True, False])
def test_fastformer_matches_the_equations(share_query_value):
    torch.manual_seed(0)
    m = FastFormerAttention(D, nhead=4, share_query_value=share_query_value).double().eval()
    for p in m.parameters():  # away from the N(0, 0.02) start, so that every term matters
        torch.nn.init.normal_(p, std=0.5)
    x, lengths = torch.randn(3, 7, D, dtype=torch.float64), [7, 4, 1]
    out, attn = m(x, x, x, key_padding_mask=pad_mask(lengths, 7))
    assert attn is None
    for b, expected in enumerate(fastformer_by_loop(m, x, lengths)):
        torch.testing.assert_close(out[b, : lengths[b]], expected)


def test_fastformer_parameters_and_empty_utterance():
    shared, separate = FastFormerAttention(D, NHEAD), FastFormerAttention(D, NHEAD, share_query_value=False)
    n_shared = 3 * (D * D + D) + 2 * D  # W_q, W_k, W_o; w_q and w_k (one d_h vector per head)
    assert sum(p.numel() for p in shared.parameters()) == n_shared
    assert sum(p.numel() for p in separate.parameters()) == n_shared + D * D + D  # + W_v
    out, _ = shared(torch.randn(2, 5, D), key_padding_mask=pad_mask([5, 0], 5))
    assert torch.isfinite(out).all()
    with pytest.raises(ValueError, match="attn_mask"):
        shared(torch.randn(1, 3, D), attn_mask=torch.zeros(3, 3, dtype=torch.bool))


# --- Branchformer variants -------------------------------------------------------------------------


def test_cnn_only_has_no_attention_or_merge_parameters():
    cnn_only, mhsa = build("branchformer", "cnnonly"), build("branchformer", "attention")
    assert all(isinstance(layer, CnnOnlyLayer) for layer in cnn_only.layers.layers)
    names = [name for name, _ in cnn_only.named_parameters()]
    assert not [n for n in names if any(part in n for part in ("mha_layer", "merge_proj", "norm_mhsa"))]
    dropped = sum(
        p.numel() for layer in mhsa.layers.layers for part in (layer.mha_layer, layer.merge_proj, layer.norm_mhsa)
        for p in part.parameters()
    )  # fmt: skip
    assert sum(p.numel() for p in cnn_only.parameters()) == sum(p.numel() for p in mhsa.parameters()) - dropped
    assert cnn_only.positions is None


def test_cnn_only_layer_is_x_plus_cgmlp_of_normalised_x():
    layer = build("branchformer", "cnnonly").eval().layers.layers[0]
    x = torch.randn(2, 9, D)
    out, attn = layer(x, src_key_padding_mask=pad_mask([9, 6], 9))
    torch.testing.assert_close(out, x + layer.convolution_branch(layer.norm_conv(x)))
    assert attn is None


def test_merge_mlp_shapes_and_parameters():
    linear, mlp = build("branchformer", "summarymixing"), build("branchformer", "summarymixing", merge="mlp")
    for layer in mlp.layers.layers:
        first, _, second, _ = layer.merge_proj
        assert (first.in_features, first.out_features, second.in_features, second.out_features) == (2 * D, D, D, D)
        assert [type(m).__name__ for m in layer.merge_proj] == ["Linear", "GELU", "Linear", "GELU"]
    assert sum(p.numel() for p in merge_mlp(D).parameters()) == (2 * D * D + D) + (D * D + D)
    extra = sum(p.numel() for p in mlp.parameters()) - sum(p.numel() for p in linear.parameters())
    assert extra == 2 * (D * D + D)  # per layer, the second Linear(D -> D)
    out = mlp.train()(torch.randn(2, 40, N_MELS), torch.tensor([1.0, 0.5]))
    assert out.shape == (2, 10, D)
    out.pow(2).sum().backward()
    assert all(p.grad.abs().sum() > 0 for layer in mlp.layers.layers for p in layer.merge_proj.parameters())


@pytest.mark.parametrize(
    "encoder,kind,merge,message",
    [
        ("conformer", "summarymixing", "mlp", "only the branchformer"),
        ("branchformer", "summarymixing", "concat", "unknown Branchformer merge"),
        ("branchformer", "cnnonly", "mlp", "nothing to merge"),
    ],
)
def test_merge_setting_errors(encoder, kind, merge, message):
    with pytest.raises(ValueError, match=message):
        build(encoder, kind, merge=merge)


# --- what each registry entry builds ---------------------------------------------------------------


@pytest.mark.parametrize("kind", list(MIXER_TYPES))
@pytest.mark.parametrize("encoder", TRANSFORMER_FAMILY)
def test_registry_entry_builds_for_exactly_its_encoders(kind, encoder):
    if encoder in applies_to(kind):
        assert mixer_type(MIXERS[kind], encoder) is MIXER_TYPES[kind]
        enc = build(encoder, kind)
        assert enc.positions == MIXER_TYPES[kind].positions(MIXERS[kind])
    else:
        message = f"mixer type '{kind}' applies to .* only, not '{encoder}'"
        with pytest.raises(ValueError, match=message):
            mixer_type(MIXERS[kind], encoder)  # what a check of the grid can call before building anything
        with pytest.raises(ValueError, match=message):
            build(encoder, kind)


@pytest.mark.parametrize("encoder", TRANSFORMER_FAMILY)
def test_mixer_modules_in_place(encoder):
    assert all(type(m).__name__ == "HyperMixing" for m in mixers_of(build(encoder, "hypermixer")))
    assert all(isinstance(m, FastFormerAttention) for m in mixers_of(build(encoder, "fastformer")))
    assert all(isinstance(m, SummaryMixing) for m in mixers_of(build(encoder, "summarymixing")))


def test_hypermixer_token_mixing_width_is_speechbrains():
    """SpeechBrain sizes HyperMixing's hidden layer d_ffn in Conformer/Transformer, 4 * d_model in Branchformer."""
    for encoder, width in [("conformer", 32), ("transformer", 32), ("branchformer", 4 * D)]:
        generator = mixers_of(build(encoder, "hypermixer"))[0].hyper.w1_gen  # per head: width / H hidden units
        assert generator.num_mlps * generator.output_size == width


def test_unknown_or_missing_mixer_and_mixer_on_contextnet():
    with pytest.raises(ValueError, match="unknown mixer type 'linformer'"):
        build_encoder({**arch("conformer", None), "mixer": {"type": "linformer"}}, N_MELS)
    with pytest.raises(ValueError, match="needs a token mixer"):
        build("conformer", None)
    with pytest.raises(ValueError, match="contextnet takes no token mixer"):
        build("contextnet", "attention")
    with pytest.raises(ValueError, match="stride_blocks"):
        build("contextnet", None, stride_blocks=[0, 3])

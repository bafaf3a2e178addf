"""``summarymixing describe`` at the ``paper`` size: the Table-1 models' parameter counts, derived by hand.

Every count below is written out from the official recipes' dimensions (paper.md section 5.1), module by
module, as SpeechBrain 1.1 and ``summarymixing.models`` build them. Nothing here is read back from a built
model: the derivations are compared with what ``describe`` counts, in total and per block (encoder,
decoder, ctc_lin, seq_lin), so a change to an architecture, to params.yaml's ``paper`` size or to the
way a model is put together shows up as a count that no longer matches the recipe.

``describe`` builds every model of the ASR grid once, for the whole module (about a minute on two CPU
cores, most of it ContextNet: SpeechBrain's ``Sequential`` runs a dummy batch through the network built
so far each time it appends a layer). The head-count checks at the end build single mixers only.

Conventions of the derivations: ``linear(i, o)`` is ``i * o`` weights plus ``o`` biases; a LayerNorm has a
weight and a bias per normalised element; a convolution has ``c_out * c_in / groups * kernel`` weights plus
``c_out`` biases (SpeechBrain's and PyTorch's default ``bias=True``); a BatchNorm has a weight and a bias
per channel (its running statistics are buffers). Positional encodings (sinusoids, RelPosEncXL) and the
global input normalisation hold buffers only, so they add nothing.
"""

from __future__ import annotations

from math import prod
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------------
# The recipes' dimensions (paper.md 5.1; params.yaml models.paper).

D = 512  # d_model
D_FFN = 2048  # feed-forward hidden size (Conformer, Transformer encoder, every decoder)
CGMLP_UNITS = 3072  # Branchformer cgMLP (csgu_linear_units)
KERNEL = 31  # Conformer depthwise convolution and cgMLP spatial gating
HEADS = 8  # MHSA recipes
SM_BRANCHFORMER_HEADS = 1  # the SummaryMixing Branchformer recipes (encoder and decoder)
CONFORMER_LAYERS = 12
BRANCHFORMER_LAYERS = 18
TRANSFORMER_LAYERS = 12
DECODER_LAYERS = 6
VOCAB = 5000  # 5,000-token unigram
N_MELS = 80
CNN_CHANNELS = (64, 32)  # CNN front-end, 3x3 kernels, stride 2
CNN_KERNEL = 3 * 3


# ---------------------------------------------------------------------------------------------------
# Building blocks.


def linear(n_in: int, n_out: int, bias: bool = True) -> int:
    """nn.Linear / SpeechBrain Linear: a weight matrix and, by default, a bias per output."""
    return n_in * n_out + (n_out if bias else 0)


def layer_norm(*shape: int) -> int:
    """LayerNorm over ``shape``: a weight and a bias per normalised element."""
    return 2 * prod(shape)


def conv(c_in: int, c_out: int, kernel: int, groups: int = 1) -> int:
    """Conv1d/Conv2d with bias; ``kernel`` is the number of taps (k, or kh * kw)."""
    return c_out * (c_in // groups) * kernel + c_out


def batch_norm(channels: int) -> int:
    """BatchNorm1d with affine parameters."""
    return 2 * channels


def headwise_linear(n_in: int, n_out: int, heads: int) -> int:
    """``HeadwiseLinear``: ``heads`` independent (n_in/H -> n_out/H) blocks, one bias per output."""
    return heads * (n_in // heads) * (n_out // heads) + n_out


# ---------------------------------------------------------------------------------------------------
# Front-end shared by the Conformer, Branchformer and Transformer encoders.

# stride 2 with padding k // 2 = 1: 80 -> 40 -> 20 frequency bins
FREQ_1, FREQ_2 = N_MELS // 2, N_MELS // 4
CNN = (
    # block 1: Conv2d(1 -> 64, 3x3, stride 2); a 3-d input has one channel
    conv(1, CNN_CHANNELS[0], CNN_KERNEL)
    # block 1: SpeechBrain LayerNorm built from input_shape normalises over (frequency, channels)
    + layer_norm(FREQ_1, CNN_CHANNELS[0])
    # block 2: Conv2d(64 -> 32, 3x3, stride 2)
    + conv(CNN_CHANNELS[0], CNN_CHANNELS[1], CNN_KERNEL)
    # block 2: LayerNorm over (20 bins, 32 channels)
    + layer_norm(FREQ_2, CNN_CHANNELS[1])
)
# input projection: Linear(32 x 20 = 640 -> d_model)
INPUT_PROJ = linear(CNN_CHANNELS[1] * FREQ_2, D)
FRONT_END = CNN + INPUT_PROJ

# ---------------------------------------------------------------------------------------------------
# Token mixers.

REL_POS_MHA_XL = (
    # in_proj_weight: packed query, key and value projections, no bias
    3 * D * D
    # out_proj: Linear(d, d)
    + linear(D, D)
    # linear_pos: projection of the relative positional embeddings, no bias
    + linear(D, D, bias=False)
    # pos_bias_u and pos_bias_v: (d / H) x H each, d whatever the number of heads
    + 2 * D
)

# regular MHA (torch.nn.MultiheadAttention): in_proj (3d x d weights + 3d biases) + out_proj Linear(d, d)
MHA = 3 * D * D + 3 * D + linear(D, D)


def summary_mixing_f(heads: int) -> int:
    """f, the local MLP (hidden [d], out d): two block-diagonal Linear(d, d), GELU after each."""
    return 2 * headwise_linear(D, D, heads)


def summary_mixing_s(heads: int) -> int:
    """s, the summary MLP (hidden [d], out d): two block-diagonal Linear(d, d), GELU after each."""
    return 2 * headwise_linear(D, D, heads)


# c, the combiner: Linear([f; s_bar] = 2d -> d), GELU; never split by head
SUMMARY_MIXING_C = linear(2 * D, D)
# LayerNorm on f(x_t) and LayerNorm on s_bar (mixers.summarymixing.use_layernorm, the SpeechBrain 0.5 code)
SUMMARY_MIXING_NORMS = layer_norm(D) + layer_norm(D)


def summary_mixing(heads: int, layernorm: bool) -> int:
    """SummaryMixing: f, s, c and, with ``layernorm``, the two LayerNorms before c."""
    norms = SUMMARY_MIXING_NORMS if layernorm else 0
    return summary_mixing_f(heads) + summary_mixing_s(heads) + norms + SUMMARY_MIXING_C


def summary_mixing_lite(heads: int) -> int:
    """SummaryMixing-lite: h_t = s_bar, so s alone (no f, no c, no LayerNorm)."""
    return summary_mixing_s(heads)


# SpeechBrain's HyperMixing as the Branchformer layer builds it (hypernet_size 4d, untied, per-head output
# size): two ParallelMLPs generating W1 and W2, each H x [Linear(d/H -> d/H) + Linear(d/H -> 4d/H)]
HYPERNET = 4 * D
HYPERMIXING = (
    # w1_gen and w2_gen: H parallel MLPs d/H -> d/H -> 4d/H, weights and biases
    2 * HEADS * (linear(D // HEADS, D // HEADS) + linear(D // HEADS, HYPERNET // HEADS))
    # layer_norm: nn.LayerNorm(d)
    + layer_norm(D)
)

FASTFORMER = (
    # query (W_q, also the values: share_query_value) and key projections: Linear(d, d) each
    2 * linear(D, D)
    # query_score and key_score: one d/H vector per head each
    + 2 * HEADS * (D // HEADS)
    # output transform W_o: Linear(d, d)
    + linear(D, D)
)

# ---------------------------------------------------------------------------------------------------
# Encoders.

# PositionalwiseFeedForward: Linear(d, d_ffn) + Linear(d_ffn, d), no norm of its own
FFN = linear(D, D_FFN) + linear(D_FFN, D)
# macaron FFN of a Conformer layer: LayerNorm(d) + Linear(d, d_ffn) + Linear(d_ffn, d)
CONFORMER_FFN = layer_norm(D) + FFN
CONFORMER_CONV = (
    # layer_norm before the convolution module
    layer_norm(D)
    # bottleneck: pointwise Conv1d(d -> 2d, 1), then GLU
    + conv(D, 2 * D, 1)
    # depthwise Conv1d(d -> d, kernel 31, groups d)
    + conv(D, D, KERNEL, groups=D)
    # after_conv: LayerNorm(d) (in place of the original BatchNorm), Swish, pointwise Linear(d, d)
    + layer_norm(D)
    + linear(D, D)
)


def conformer_encoder(mixer: int) -> int:
    """Front-end + 12 Conformer layers with ``mixer`` parameters of self-mixing each + final LayerNorm."""
    layer = (
        # ffn_module1 and ffn_module2: two half-step macaron FFNs
        2 * CONFORMER_FFN
        # norm1: LayerNorm before the self-mixing
        + layer_norm(D)
        # mha_layer: the token mixer
        + mixer
        # convolution_module
        + CONFORMER_CONV
        # norm2: LayerNorm closing the layer
        + layer_norm(D)
    )
    # ConformerEncoder.norm: LayerNorm(d) after the last layer
    return FRONT_END + CONFORMER_LAYERS * layer + layer_norm(D)


HALF = CGMLP_UNITS // 2  # the spatial gating unit splits the cgMLP's channels in two halves
CGMLP = (
    # pre_channel_proj: Linear(d, 3072), GELU
    linear(D, CGMLP_UNITS)
    # csgu.norm: LayerNorm over the gating half (1536)
    + layer_norm(HALF)
    # csgu.conv: depthwise Conv1d(1536 -> 1536, kernel 31, groups 1536)
    + conv(HALF, HALF, KERNEL, groups=HALF)
    # post_channel_proj: Linear(1536, d)
    + linear(HALF, D)
)
# SpeechBrain's merge_proj: Linear([x1; x2] = 2d -> d)
LINEAR_MERGE = linear(2 * D, D)
# the SummaryMixing recipes' merge: Linear(2d -> d) + GELU + Linear(d -> d) + GELU
MLP_MERGE = linear(2 * D, D) + linear(D, D)


def branchformer_encoder(mixer: int, merge: int) -> int:
    """Front-end + 18 Branchformer layers (global branch ``mixer``, ``merge``) + final LayerNorm."""
    layer = (
        # norm_mhsa: LayerNorm before the global branch
        layer_norm(D)
        # mha_layer: the token mixer of the global branch
        + mixer
        # norm_conv: LayerNorm before the local branch
        + layer_norm(D)
        # convolution_branch: the cgMLP
        + CGMLP
        # merge_proj
        + merge
    )
    # BranchformerEncoder.norm
    return FRONT_END + BRANCHFORMER_LAYERS * layer + layer_norm(D)


# CNN only: CnnOnlyLayer keeps norm_conv and the cgMLP; the global branch and the merge are gone
CNN_ONLY_LAYER = layer_norm(D) + CGMLP
CNN_ONLY_ENCODER = FRONT_END + BRANCHFORMER_LAYERS * CNN_ONLY_LAYER + layer_norm(D)


def transformer_encoder(mixer: int) -> int:
    """Front-end + 12 pre-LN Transformer layers + final LayerNorm."""
    layer = (
        # norm1: LayerNorm before the self-mixing
        layer_norm(D)
        # self_att: the token mixer
        + mixer
        # norm2: LayerNorm before the FFN
        + layer_norm(D)
        # pos_ffn: Linear(d, d_ffn) + Linear(d_ffn, d)
        + FFN
    )
    # TransformerEncoder.norm
    return FRONT_END + TRANSFORMER_LAYERS * layer + layer_norm(D)


# ContextNet-L as params.yaml configures SpeechBrain's ContextNet (no recipe gives the paper's ContextNet):
# alpha 2, 21 blocks of 5 depthwise-separable convolutions, kernel 5, 512 channels for blocks 0-9 and
# 1024 from block 10, 1280 output channels, squeeze-and-excitation bottleneck 12, projection to d_model.
CTX_KERNEL, CTX_LAYERS, CTX_BLOCKS, CTX_WIDEN_AT, CTX_SE = 5, 5, 21, 10, 12
CTX_NARROW, CTX_WIDE, CTX_OUT = 2 * 256, 2 * 512, 2 * 640


def separable(c_in: int, c_out: int, kernel: int) -> int:
    """DepthwiseSeparableConv1d: depthwise Conv1d(c_in, kernel, groups c_in) + pointwise Conv1d(c_in -> c_out)."""
    return conv(c_in, c_in, kernel, groups=c_in) + conv(c_in, c_out, 1)


def contextnet_block(c_in: int, c_out: int) -> int:
    """A ContextNetBlock: 5 x [separable conv + BN], squeeze-and-excitation, residual conv + BN."""
    return (
        # Convs: the first separable conv changes the width, the other four keep it; BN after each
        separable(c_in, c_out, CTX_KERNEL) + batch_norm(c_out)
        + (CTX_LAYERS - 1) * (separable(c_out, c_out, CTX_KERNEL) + batch_norm(c_out))
        # SE.conv: one more separable conv (kernel 1) + BN, then sigmoid
        + separable(c_out, c_out, 1) + batch_norm(c_out)
        # SE.bottleneck: Linear(c -> 12) + Linear(12 -> c), sigmoid after each
        + linear(c_out, CTX_SE) + linear(CTX_SE, c_out)
        # reduced_cov: the residual path, a full Conv1d(c_in -> c_out, kernel 3) + BN
        + conv(c_in, c_out, 3) + batch_norm(c_out)
    )  # fmt: skip


def contextnet_encoder() -> int:
    """ContextNet + Linear(1280 -> d_model)."""
    widths = [CTX_NARROW if i < CTX_WIDEN_AT else CTX_WIDE for i in range(CTX_BLOCKS)]
    blocks = sum(contextnet_block(c_in, c_out) for c_in, c_out in zip([CTX_NARROW, *widths], widths))
    return (
        # conv_start: separable conv 80 -> 512 (kernel 5) + BN
        separable(N_MELS, CTX_NARROW, CTX_KERNEL) + batch_norm(CTX_NARROW)
        # block_0 .. block_20
        + blocks
        # conv_end: separable conv 1024 -> 1280 (kernel 5) + BN
        + separable(CTX_WIDE, CTX_OUT, CTX_KERNEL) + batch_norm(CTX_OUT)
        # output_proj: Linear(1280 -> d_model)
        + linear(CTX_OUT, D)
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Decoder and heads.


def decoder(self_mixing: int) -> int:
    """NormalizedEmbedding + 6 pre-LN Transformer decoder layers (self-mixing, cross MHA, FFN) + LayerNorm."""
    layer = (
        # norm1 + self_attn: the decoder's self-mixing (regular MHA, or the Summary Decoder's SummaryMixing)
        layer_norm(D) + self_mixing
        # norm2 + multihead_attn: regular MHA over the encoder states (always regularMHA in SpeechBrain)
        + layer_norm(D) + MHA
        # norm3 + pos_ffn: Linear(d, d_ffn) + Linear(d_ffn, d)
        + layer_norm(D) + FFN
    )  # fmt: skip
    # embedding: nn.Embedding(5000, d), no bias; TransformerDecoder.norm after the last layer
    return VOCAB * D + DECODER_LAYERS * layer + layer_norm(D)


# the recipes' decoder: regular MHA; the number of heads does not change its size
DECODER = decoder(MHA)
# the Summary Decoder: causal SummaryMixing with the model's heads (1 in the SummaryMixing Branchformer);
# decoders.summary_decoder sets no use_layernorm, so it has no LayerNorm before c
SUMMARY_DECODER = decoder(summary_mixing(SM_BRANCHFORMER_HEADS, layernorm=False))
# ctc_lin and seq_lin: Linear(d -> 5000 tokens)
HEAD = linear(D, VOCAB)

# ---------------------------------------------------------------------------------------------------
# The models, by the name part of their experiment id.

ENCODERS: dict[str, int] = {
    "contextnet-paper": contextnet_encoder(),
    # SpeechBrain's LibriSpeech Transformer recipe: regular MHA with absolute positions
    "transformer-mha-paper": transformer_encoder(MHA),
    "conformer-mhsa-paper": conformer_encoder(REL_POS_MHA_XL),
    "branchformer-mhsa-paper": branchformer_encoder(REL_POS_MHA_XL, LINEAR_MERGE),
    "branchformer-cnnonly-paper": CNN_ONLY_ENCODER,
    "branchformer-hypermixer-paper": branchformer_encoder(HYPERMIXING, LINEAR_MERGE),
    "branchformer-fastformer-paper": branchformer_encoder(FASTFORMER, LINEAR_MERGE),
    # the Conformer recipe keeps 8 heads: f and s are block-diagonal over 8 heads
    "conformer-summarymixing-paper": conformer_encoder(summary_mixing(HEADS, layernorm=True)),
    "branchformer-summarymixing_lite-paper": branchformer_encoder(
        summary_mixing_lite(SM_BRANCHFORMER_HEADS), MLP_MERGE
    ),
    "branchformer-summarymixing-paper": branchformer_encoder(
        summary_mixing(SM_BRANCHFORMER_HEADS, layernorm=True), MLP_MERGE
    ),
    "branchformer-summarymixing-paper+summary_decoder": branchformer_encoder(
        summary_mixing(SM_BRANCHFORMER_HEADS, layernorm=True), MLP_MERGE
    ),
}
DECODERS: dict[str, int] = {name: DECODER for name in ENCODERS} | {
    "branchformer-summarymixing-paper+summary_decoder": SUMMARY_DECODER
}


def expected(name: str) -> dict[str, int]:
    """The derived counts of model ``name``: total and per block."""
    blocks = {"encoder": ENCODERS[name], "decoder": DECODERS[name], "ctc_lin": HEAD, "seq_lin": HEAD}
    return {"total": sum(blocks.values()), **blocks}


# ---------------------------------------------------------------------------------------------------
# Tests.


@pytest.fixture(scope="module")
def described() -> dict[str, dict[str, Any]]:
    """``describe``'s rows for the paper size of the ASR grid, by the name part of the experiment id.

    Run once for the module: building every paper-size model is the expensive part of these tests.
    """
    from summarymixing.config import load_params
    from summarymixing.stages.describe import describe

    rows = describe(load_params(REPO / "params.yaml"), ["paper"], VOCAB, ["asr"])
    # the dataset part of the id is the grid's business; the model is named by the last part
    return {row["experiment"].rsplit("/", 1)[1]: row for row in rows}


@pytest.mark.parametrize("name", list(ENCODERS))
def test_paper_counts_match_the_recipes(described: dict[str, dict[str, Any]], name: str) -> None:
    """Total and per-block counts of each Table-1 model equal the hand derivation."""
    assert name in described, f"{name} is not in the ASR grid any more (described: {', '.join(described)})"
    counts = {key: value for key, value in described[name].items() if key != "experiment"}
    assert counts == expected(name)


def test_table_1_totals() -> None:
    """The derivations' totals, written out: a change to a derivation above has to change this table too."""
    assert {name: expected(name)["total"] for name in ENCODERS} == {
        "contextnet-paper": 161_514_732,
        "transformer-mha-paper": 71_098_544,
        "conformer-mhsa-paper": 109_136_048,
        "branchformer-mhsa-paper": 109_845_680,
        "branchformer-cnnonly-paper": 76_760_240,
        "branchformer-hypermixer-paper": 92_233_904,
        "branchformer-fastformer-paper": 100_426_928,
        "conformer-summarymixing-paper": 101_308_592,
        "branchformer-summarymixing_lite-paper": 100_408_496,
        "branchformer-summarymixing-paper": 119_347_376,
        "branchformer-summarymixing-paper+summary_decoder": 122_496_176,
    }


def encoder_gap(described: dict[str, dict[str, Any]], bigger: str, smaller: str) -> int:
    """How many more encoder parameters model ``bigger`` has than model ``smaller``, as described."""
    return described[bigger]["encoder"] - described[smaller]["encoder"]


def test_branchformer_summarymixing_over_mhsa(described: dict[str, dict[str, Any]]) -> None:
    """Per layer: one-head SummaryMixing in place of RelPosMHAXL, and the MLP merge in place of the linear one.

    The MLP merge adds (2d*d + d) + (d*d + d) - (2d*d + d) = d*d + d per layer over the linear merge.
    """
    merge_extra = (2 * D * D + D) + (D * D + D) - (2 * D * D + D)
    assert merge_extra == MLP_MERGE - LINEAR_MERGE == D * D + D
    mixer_change = summary_mixing(SM_BRANCHFORMER_HEADS, layernorm=True) - REL_POS_MHA_XL
    gap = encoder_gap(described, "branchformer-summarymixing-paper", "branchformer-mhsa-paper")
    assert gap == BRANCHFORMER_LAYERS * (mixer_change + merge_extra)


def test_branchformer_summarymixing_over_lite(described: dict[str, dict[str, Any]]) -> None:
    """Same heads and merge: SummaryMixing adds f, the two LayerNorms and c to -lite's s, per layer."""
    gap = encoder_gap(described, "branchformer-summarymixing-paper", "branchformer-summarymixing_lite-paper")
    assert gap == BRANCHFORMER_LAYERS * (
        summary_mixing_f(SM_BRANCHFORMER_HEADS) + SUMMARY_MIXING_NORMS + SUMMARY_MIXING_C
    )


def test_conformer_mhsa_over_summarymixing(described: dict[str, dict[str, Any]]) -> None:
    """Conformer: RelPosMHAXL (5d^2 + 3d) against eight-head SummaryMixing, per layer; nothing else changes."""
    gap = encoder_gap(described, "conformer-mhsa-paper", "conformer-summarymixing-paper")
    assert REL_POS_MHA_XL == 5 * D * D + 3 * D
    assert gap == CONFORMER_LAYERS * (REL_POS_MHA_XL - summary_mixing(HEADS, layernorm=True))


def test_summary_decoder_over_mha_decoder(described: dict[str, dict[str, Any]]) -> None:
    """The Summary Decoder swaps each layer's self-attention MHA (4d^2 + 4d) for SummaryMixing without LayerNorm."""
    with_summary = described["branchformer-summarymixing-paper+summary_decoder"]
    without = described["branchformer-summarymixing-paper"]
    assert with_summary["encoder"] == without["encoder"]
    assert with_summary["decoder"] - without["decoder"] == DECODER_LAYERS * (
        summary_mixing(SM_BRANCHFORMER_HEADS, layernorm=False) - MHA
    )


def test_decoder_size_does_not_depend_on_heads(described: dict[str, dict[str, Any]]) -> None:
    """The one-head SummaryMixing Branchformer and the eight-head MHSA models have the same decoder."""
    assert described["branchformer-summarymixing-paper"]["decoder"] == DECODER
    assert described["branchformer-mhsa-paper"]["decoder"] == DECODER
    assert described["conformer-mhsa-paper"]["decoder"] == DECODER


def test_heads_change_only_summary_mixing_f_and_s() -> None:
    """One head against eight: RelPosMHAXL and regular MHA keep their size; in SummaryMixing only the
    block-diagonal f and s shrink, by (d^2 - d^2 / 8) weights in each of their four linear layers.

    Checked on single mixers (cheap): the mixers of params.yaml's summarymixing block, and SpeechBrain's.
    """
    from speechbrain.nnet.attention import MultiheadAttention, RelPosMHAXL

    from summarymixing.config import load_params
    from summarymixing.models.mixers import build_summary_mixing

    def size(module: Any) -> int:
        return sum(p.numel() for p in module.parameters() if p.requires_grad)

    block = load_params(REPO / "params.yaml")["mixers"]["summarymixing"]
    for heads in (1, HEADS):
        assert size(RelPosMHAXL(embed_dim=D, num_heads=heads)) == REL_POS_MHA_XL
        assert size(MultiheadAttention(nhead=heads, d_model=D)) == MHA
        assert size(build_summary_mixing(block, D, heads)) == summary_mixing(heads, layernorm=True)
    one, eight = summary_mixing(1, layernorm=True), summary_mixing(HEADS, layernorm=True)
    assert one - eight == 4 * (D * D - D * D // HEADS)

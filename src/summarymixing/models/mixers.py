"""Token mixers and how each is put into SpeechBrain's encoders, by composition.

SpeechBrain builds every encoder layer with a self-attention module: ``mha_layer`` in
``ConformerEncoderLayer`` and ``BranchformerEncoderLayer``, ``self_att`` in ``TransformerEncoderLayer``.
All of them are called as ``module(x, x, x, attn_mask=, key_padding_mask=, pos_embs=) -> (out, attn)``.
A mixer with that signature replaces the module in place: no SpeechBrain file is copied or patched.

A mixer *type* (``params.yaml: mixers.<name>.type``) says, in ``MIXER_TYPES``:
    build_as      the ``attention_type`` SpeechBrain builds the encoder with
    positions     the positional information the encoder then needs: ``relative`` (RelPosMHAXL's
                  embeddings, passed to every layer), ``absolute`` (sinusoids added to the input) or None
    install       what replaces SpeechBrain's modules afterwards (None: SpeechBrain's own mixer is used)
    encoders      the encoders it applies to (None: every encoder with a mixer)

Adding a mixer is one entry here (and its module): the stages never look at mixer types.

Types and what SpeechBrain (1.1) does with them:
    attention      SpeechBrain's MHSA: RelPosMHAXL (relative positions) or regularMHA (absolute).
    summarymixing  ``SummaryMixing`` (and -lite, -fast) in place of every self-attention; no positions.
    hypermixer     SpeechBrain's own ``HyperMixing`` (``attention_type: hypermixing``), which all three
                   layer types build natively (token-mixing hidden size d_ffn in Conformer and
                   Transformer layers, 4 * d_model in Branchformer layers). It masks padded frames out
                   of its input and of the generated token-mixing weights, and adds absolute sinusoids
                   to its hypernetwork's input itself, so the encoder adds no positions (as
                   ``TransformerASR.encode`` does for hypermixing). Its "attention weights" are a
                   (B, T, T) tensor of zeros, which the encoder holds for every layer until its forward
                   returns: memory quadratic in T that the mixer itself does not need.
    fastformer     ``FastFormerAttention`` (additive attention) in place of every self-attention, with
                   absolute sinusoids added to the encoder input (as ESPnet requires for it).
    cnnonly        Branchformer only: every layer keeps its cgMLP branch alone (``CnnOnlyLayer``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from torch import nn

from .branchformer import install_cnn_only
from .fastformer import FastFormerAttention
from .summary_mixing import SummaryMixing

MIXER_ATTRIBUTES = ("mha_layer", "self_att")  # Conformer/Branchformer, Transformer


@dataclass(frozen=True)
class MixerType:
    build_as: Callable[[dict[str, Any]], str]
    positions: Callable[[dict[str, Any]], Optional[str]]
    install: Optional[Callable[[nn.Module, dict[str, Any], dict[str, Any]], None]] = None
    encoders: Optional[tuple[str, ...]] = None


def build_summary_mixing(mixer_cfg: dict[str, Any], d_model: int, nhead: int, dropout: float = 0.0) -> SummaryMixing:
    """A ``SummaryMixing`` module from a ``mixers.<name>`` block of params.yaml.

    Null dims mean ``d_model``, a null ``nhead`` the model's ``nhead``, a null ``dropout`` the model's.
    """

    def dims(key: str) -> list[int] | None:
        value = mixer_cfg.get(key)
        return list(value) if value is not None else None

    return SummaryMixing(
        d_model=d_model,
        nhead=mixer_cfg.get("nhead") or nhead,
        mode=mixer_cfg["mode"],
        local_proj_hid_dim=dims("local_proj_hid_dim"),
        local_proj_out_dim=mixer_cfg.get("local_proj_out_dim"),
        summary_hid_dim=dims("summary_hid_dim"),
        summary_out_dim=mixer_cfg.get("summary_out_dim"),
        dropout=dropout if mixer_cfg.get("dropout") is None else mixer_cfg["dropout"],
        use_layernorm=mixer_cfg.get("use_layernorm", False),
    )


def replace_mixers(encoder: nn.Module, make_mixer: Callable[[], nn.Module]) -> int:
    """Put ``make_mixer()`` in place of the self-attention of every layer of a SpeechBrain encoder.

    The encoder's ``attention_type`` becomes the mixer's class name: SpeechBrain's Conformer and
    Branchformer encoders demand positional embeddings only when it says ``RelPosMHAXL``.
    Returns the number of layers changed; raises if the encoder has no layer with a known attribute.
    """
    replaced, mixer_name = 0, None
    for layer in encoder.layers:
        for name in MIXER_ATTRIBUTES:
            if hasattr(layer, name):
                mixer = make_mixer()
                setattr(layer, name, mixer)
                mixer_name = type(mixer).__name__
                replaced += 1
                break
    if replaced == 0:
        raise TypeError(f"{type(encoder).__name__}: no layer has a self-attention module ({', '.join(MIXER_ATTRIBUTES)})")
    if hasattr(encoder, "attention_type"):
        encoder.attention_type = mixer_name
    return replaced


def build_fastformer(
    mixer_cfg: dict[str, Any], d_model: int, nhead: int, dropout: float = 0.0
) -> FastFormerAttention:
    """A ``FastFormerAttention`` from a ``mixers.<name>`` block: null ``nhead``/``dropout`` mean the model's."""
    return FastFormerAttention(
        d_model,
        nhead=mixer_cfg.get("nhead") or nhead,
        dropout=dropout if mixer_cfg.get("dropout") is None else mixer_cfg["dropout"],
        share_query_value=mixer_cfg.get("share_query_value", True),
    )


def install_summary_mixing(encoder: nn.Module, mixer_cfg: dict[str, Any], arch: dict[str, Any]) -> None:
    replace_mixers(
        encoder, lambda: build_summary_mixing(mixer_cfg, arch["d_model"], arch["nhead"], arch.get("dropout", 0.1))
    )


def install_fastformer(encoder: nn.Module, mixer_cfg: dict[str, Any], arch: dict[str, Any]) -> None:
    replace_mixers(
        encoder, lambda: build_fastformer(mixer_cfg, arch["d_model"], arch["nhead"], arch.get("dropout", 0.1))
    )


MIXER_TYPES: dict[str, MixerType] = {
    # SpeechBrain's MHSA: RelPosMHAXL (relative positions, the paper's baseline) or regularMHA (absolute)
    "attention": MixerType(
        build_as=lambda cfg: cfg["attention_type"],
        positions=lambda cfg: "relative" if cfg["attention_type"] == "RelPosMHAXL" else "absolute",
    ),
    # SummaryMixing (and -lite, -fast): no positional encoding, as in the paper's recipes
    "summarymixing": MixerType(build_as=lambda cfg: "regularMHA", positions=lambda cfg: None, install=install_summary_mixing),
    # HyperMixer: SpeechBrain's HyperMixing, which adds its own positions to its hypernetwork's input
    "hypermixer": MixerType(build_as=lambda cfg: "hypermixing", positions=lambda cfg: None),
    # FastFormer additive attention, absolute positions on the encoder input
    "fastformer": MixerType(
        build_as=lambda cfg: "regularMHA", positions=lambda cfg: "absolute", install=install_fastformer
    ),
    # the Branchformer's cgMLP branch alone, no global mixer and no positions
    "cnnonly": MixerType(
        build_as=lambda cfg: "regularMHA",
        positions=lambda cfg: None,
        install=install_cnn_only,
        encoders=("branchformer",),
    ),
}


def mixer_type(mixer_cfg: dict[str, Any], encoder: Optional[str] = None) -> MixerType:
    """The ``MixerType`` of a ``mixers.<name>`` block; with ``encoder``, raises unless it applies to it."""
    try:
        kind = MIXER_TYPES[mixer_cfg["type"]]
    except KeyError:
        raise ValueError(f"unknown mixer type {mixer_cfg.get('type')!r} (known: {', '.join(MIXER_TYPES)})") from None
    if encoder is not None and kind.encoders is not None and encoder not in kind.encoders:
        raise ValueError(f"mixer type {mixer_cfg['type']!r} applies to {', '.join(kind.encoders)} only, not {encoder!r}")
    return kind

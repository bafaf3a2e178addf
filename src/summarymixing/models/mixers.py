"""Token mixers and how they are put into SpeechBrain's encoders, by composition.

SpeechBrain builds every encoder layer with a self-attention module: ``mha_layer`` in
``ConformerEncoderLayer`` and ``BranchformerEncoderLayer``, ``self_att`` in ``TransformerEncoderLayer``.
All of them are called as ``module(x, x, x, attn_mask=, key_padding_mask=, pos_embs=) -> (out, attn)``.
A mixer with that signature (``SummaryMixing``) replaces the module in place: no SpeechBrain file is
copied or patched.

Mixer names (``params.yaml: mixers``):
    mhsa                 SpeechBrain RelPosMHAXL (relative positions), the paper's MHSA baseline
    mha                  SpeechBrain regular MultiheadAttention with absolute sinusoidal positions
    summarymixing*       SummaryMixing in one of its modes, no positional encoding
"""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from .summary_mixing import SummaryMixing

MIXER_ATTRIBUTES = ("mha_layer", "self_att")  # Conformer/Branchformer, Transformer


def attention_type(mixer_cfg: dict[str, Any]) -> str:
    """The SpeechBrain ``attention_type`` to build the encoder with before any mixer is swapped in.

    SummaryMixing encoders are built as RelPosMHAXL because SpeechBrain then feeds the decoder its own
    absolute positional encoding and the encoder layers a separate relative one, which
    ``remove_encoder_positions`` can drop without touching the decoder.
    """
    if mixer_cfg["type"] == "attention":
        return mixer_cfg["attention_type"]
    return "RelPosMHAXL"


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


class NoPositionalEncoding(nn.Module):
    """Stands in for the encoder's relative positional encoding: the layers receive ``pos_embs=None``."""

    def forward(self, x):  # noqa: D102
        return None


def remove_encoder_positions(transformer: nn.Module) -> None:
    """Drop the positional encoding of a RelPosMHAXL-built ``TransformerASR`` encoder (not its decoder).

    ``TransformerASR.encode`` computes ``pos_embs = self.positional_encoding(src)`` for RelPosMHAXL and
    passes it to every layer; the decoder uses ``positional_encoding_decoder``, which is kept.
    """
    if transformer.attention_type != "RelPosMHAXL":
        raise ValueError("remove_encoder_positions expects a TransformerASR built with attention_type='RelPosMHAXL'")
    transformer.positional_encoding = NoPositionalEncoding()

"""Speech encoders: normalised fbank (B, T, n_mels) -> encoder states (B, T', d_model).

``ENCODERS`` maps an encoder name (``params.yaml``: ``models.<size>.<encoder>``) to a builder
``(arch, n_mels) -> SpeechEncoder``; ``arch`` is ``config.model_config``'s dict (the size's settings
for the encoder, ``encoder`` and the ``mixer`` block, or ``mixer: None`` for encoders without one).

The Conformer, Branchformer and Transformer encoders are SpeechBrain's, as ``TransformerASR`` builds
them for the official recipes (paper.md section 5.1):

    fbank (B, T, 80) -> CNN front-end: 2 conv blocks (64, 32 channels, 3x3, stride 2): 4x subsampling
        -> (B, T/4, 32 x 20) -> Linear -> d_model, dropout -> [+ absolute positions]
        -> encoder layers whose self-attention is the chosen token mixer ([relative positions])

The mixer is put in by ``summarymixing.models.mixers``. The Branchformer merges its two branches as
``arch["merge"]`` says: ``linear`` (SpeechBrain's, the default) or ``mlp`` (the SummaryMixing recipes';
``summarymixing.models.branchformer``).

ContextNet (``summarymixing.models.contextnet``) takes no token mixer: it subsamples by itself (8x in
the paper's configuration), and a projection to ``d_model`` lets the same heads sit on it.

Adding an encoder is one builder here.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from speechbrain.dataio.dataio import length_to_mask
from speechbrain.lobes.models.convolution import ConvolutionFrontEnd
from speechbrain.lobes.models.transformer.Branchformer import BranchformerEncoder
from speechbrain.lobes.models.transformer.Conformer import ConformerEncoder
from speechbrain.lobes.models.transformer.Transformer import PositionalEncoding, TransformerEncoder
from speechbrain.nnet.activations import Swish
from speechbrain.nnet.attention import RelPosEncXL
from speechbrain.nnet.linear import Linear
from torch import nn

from .branchformer import set_merge
from .mixers import mixer_type

CNN_CHANNELS = (64, 32)  # the official recipes' front-end; models.<size>.<encoder>.cnn_channels overrides it
MAX_LENGTH = 2500  # longest sequence the absolute positional encoding covers (frames after subsampling)


class SpeechEncoder(nn.Module):
    """Base class: ``forward(feats (B, T, F), rel_lens (B,)) -> (B, T', d_model)``; ``d_model`` attribute."""

    d_model: int


def padding_mask(x: torch.Tensor, rel_lens: torch.Tensor) -> torch.Tensor:
    """(B, T) True at padded frames, from relative lengths (SpeechBrain's convention, rounded)."""
    abs_len = torch.round(rel_lens * x.shape[1])
    return ~length_to_mask(abs_len, max_len=x.shape[1]).bool()


def cnn_front_end(arch: dict[str, Any], n_mels: int) -> tuple[nn.Module, int]:
    """The recipes' 2-block CNN (4x subsampling); returns it and its flattened output size."""
    channels = tuple(arch.get("cnn_channels") or CNN_CHANNELS)
    cnn = ConvolutionFrontEnd(
        input_shape=(8, 10, n_mels),
        num_blocks=2,
        num_layers_per_block=1,
        out_channels=channels,
        kernel_sizes=(3, 3),
        strides=(2, 2),
        residuals=(False, False),
        dropout=arch.get("dropout", 0.1),
    )
    return cnn, channels[-1] * ((n_mels + 3) // 4)


class TransformerFamilyEncoder(SpeechEncoder):
    """CNN front-end + SpeechBrain Conformer / Branchformer / Transformer encoder with a token mixer."""

    def __init__(self, encoder: str, arch: dict[str, Any], n_mels: int):
        super().__init__()
        mixer = arch.get("mixer")
        if mixer is None:
            raise ValueError(f"encoder {encoder!r} needs a token mixer (mixers.<name>)")
        kind = mixer_type(mixer, encoder)
        merge = arch.get("merge") or "linear"
        if encoder != "branchformer" and merge != "linear":
            raise ValueError(f"merge {merge!r}: only the branchformer has branches to merge, not {encoder!r}")
        d_model, nhead, dropout = arch["d_model"], arch["nhead"], arch.get("dropout", 0.1)
        self.d_model = d_model
        self.cnn, cnn_out = cnn_front_end(arch, n_mels)
        self.input_proj = nn.Sequential(Linear(input_size=cnn_out, n_neurons=d_model), nn.Dropout(dropout))
        attention_type = kind.build_as(mixer)
        common = dict(nhead=nhead, num_layers=arch["num_encoder_layers"], d_model=d_model, dropout=dropout,
                      attention_type=attention_type)
        if encoder == "conformer":
            self.layers = ConformerEncoder(d_ffn=arch["d_ffn"], kernel_size=arch.get("kernel_size", 31),
                                           activation=Swish, causal=False, **common)
        elif encoder == "branchformer":
            self.layers = BranchformerEncoder(kernel_size=arch.get("kernel_size", 31), activation=nn.GELU,
                                              csgu_linear_units=arch.get("csgu_linear_units", 3072), **common)
            set_merge(self.layers, merge)
        elif encoder == "transformer":
            self.layers = TransformerEncoder(d_ffn=arch["d_ffn"], activation=nn.GELU, normalize_before=True,
                                             causal=False, **common)
        else:
            raise ValueError(f"TransformerFamilyEncoder: unknown encoder {encoder!r}")
        self.positions = kind.positions(mixer)
        if self.positions == "relative":
            self.positional_encoding = RelPosEncXL(d_model)
        elif self.positions == "absolute":
            self.positional_encoding = PositionalEncoding(d_model, MAX_LENGTH)
        for p in [*self.input_proj.parameters(), *self.layers.parameters()]:  # as TransformerASR._init_params
            if p.dim() > 1:
                nn.init.xavier_normal_(p)
        if kind.install is not None:
            kind.install(self.layers, mixer, arch)

    def forward(self, feats: torch.Tensor, rel_lens: torch.Tensor) -> torch.Tensor:
        x = self.front_end(feats)  # (B, T', D)
        return self.forward_layers(x, padding_mask(x, rel_lens))  # (B, T', D)

    def front_end(self, feats: torch.Tensor) -> torch.Tensor:
        """CNN front-end and input projection: (B, T, n_mels) -> (B, T', D)."""
        x = self.cnn(feats)  # (B, T/4, C, F/4)
        return self.input_proj(x.reshape(x.shape[0], x.shape[1], -1))  # (B, T', D)

    def forward_layers(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """Positions and encoder layers: (B, T', D), padding mask (B, T') True = padding -> (B, T', D)."""
        pos_embs = None
        if self.positions == "absolute":
            x = x + self.positional_encoding(x)
        elif self.positions == "relative":
            pos_embs = self.positional_encoding(x)
        out, _ = self.layers(x, src_key_padding_mask=pad, pos_embs=pos_embs)
        return out  # (B, T', D)


def _transformer_family(name: str) -> Callable[[dict[str, Any], int], SpeechEncoder]:
    return lambda arch, n_mels: TransformerFamilyEncoder(name, arch, n_mels)


def _contextnet(arch: dict[str, Any], n_mels: int) -> SpeechEncoder:
    from .contextnet import ContextNetEncoder  # it builds on SpeechEncoder and padding_mask, defined here

    return ContextNetEncoder(arch, n_mels)


ENCODERS: dict[str, Callable[[dict[str, Any], int], SpeechEncoder]] = {
    "conformer": _transformer_family("conformer"),
    "branchformer": _transformer_family("branchformer"),
    "transformer": _transformer_family("transformer"),
    "contextnet": _contextnet,
}
# encoders that take no token mixer (the grid names them without one)
MIXERLESS_ENCODERS: set[str] = {"contextnet"}


def build_encoder(arch: dict[str, Any], n_mels: int) -> SpeechEncoder:
    """The encoder ``arch['encoder']`` of ``arch``."""
    try:
        builder = ENCODERS[arch["encoder"]]
    except KeyError:
        raise ValueError(f"unknown encoder {arch.get('encoder')!r} (known: {', '.join(ENCODERS)})") from None
    return builder(arch, n_mels)

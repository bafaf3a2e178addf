"""The attention + CTC encoder-decoder of the paper's ASR experiments, assembled from SpeechBrain parts.

    fbank (B, T, 80) -> global mean/variance normalisation
        -> CNN front-end: 2 conv blocks (64, 32 channels, 3x3, stride 2): 4x subsampling -> (B, T/4, 640)
        -> TransformerASR: Linear(640 -> d_model), encoder (Conformer | Branchformer | Transformer) whose
           self-attention is the chosen token mixer, Transformer decoder (regular MHA, 6 layers in the paper)
        -> ctc_lin (encoder states -> tokens, CTC) and seq_lin (decoder states -> tokens, attention)

as in the official recipes (paper.md section 5.1). The mixer is put into the encoder by
``summarymixing.models.mixers``; everything else is SpeechBrain's own code.
"""

from __future__ import annotations

from typing import Any

import torch
from speechbrain.lobes.models.convolution import ConvolutionFrontEnd
from speechbrain.lobes.models.transformer.TransformerASR import TransformerASR
from speechbrain.nnet.activations import Swish
from speechbrain.nnet.linear import Linear
from speechbrain.processing.features import InputNormalization
from torch import nn

from .mixers import attention_type, build_summary_mixing, remove_encoder_positions, replace_mixers

CNN_CHANNELS = (64, 32)  # the official recipes' front-end; models.<size>.<encoder>.cnn_channels overrides it


class AttentionCTCModel(nn.Module):
    """Encoder-decoder ASR model with a CTC head on the encoder; ``arch`` is ``config.model_config``."""

    def __init__(self, arch: dict[str, Any], n_tokens: int, n_mels: int = 80):
        super().__init__()
        self.arch = arch
        d_model, nhead, mixer = arch["d_model"], arch["nhead"], arch["mixer"]
        dropout = arch.get("dropout", 0.1)
        encoder = arch["encoder"]
        channels = tuple(arch.get("cnn_channels") or CNN_CHANNELS)
        self.normalize = InputNormalization(norm_type="global", update_until_epoch=4)
        self.cnn = ConvolutionFrontEnd(
            input_shape=(8, 10, n_mels),
            num_blocks=2,
            num_layers_per_block=1,
            out_channels=channels,
            kernel_sizes=(3, 3),
            strides=(2, 2),
            residuals=(False, False),
            dropout=dropout,
        )
        self.transformer = TransformerASR(
            tgt_vocab=n_tokens,
            input_size=channels[-1] * ((n_mels + 3) // 4),
            d_model=d_model,
            nhead=nhead,
            num_encoder_layers=arch["num_encoder_layers"],
            num_decoder_layers=arch["num_decoder_layers"],
            d_ffn=arch["d_ffn"],
            dropout=dropout,
            activation=nn.GELU,
            conformer_activation=Swish,
            branchformer_activation=nn.GELU,
            kernel_size=arch.get("kernel_size", 31),
            csgu_linear_units=arch.get("csgu_linear_units", 3072),
            encoder_module=encoder,
            attention_type=attention_type(mixer),
            normalize_before=True,
            causal=False,
        )
        if mixer["type"] == "summarymixing":
            replace_mixers(self.transformer.encoder, lambda: build_summary_mixing(mixer, d_model, nhead, dropout))
            remove_encoder_positions(self.transformer)
        self.ctc_lin = Linear(input_size=d_model, n_neurons=n_tokens)
        self.seq_lin = Linear(input_size=d_model, n_neurons=n_tokens)

    def encode(self, feats: torch.Tensor, rel_lens: torch.Tensor, epoch: int | None = None) -> torch.Tensor:
        """(B, T, n_mels) features, (B,) relative lengths -> (B, T/4, d_model) encoder states."""
        feats = self.normalize(feats, rel_lens, epoch=epoch) if self.training else self.normalize(feats, rel_lens)
        return self.transformer.encode(self.cnn(feats), rel_lens)

    def forward(
        self, feats: torch.Tensor, rel_lens: torch.Tensor, tokens_bos: torch.Tensor, epoch: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Teacher-forced pass: returns (encoder states, CTC log-probs, attention log-probs)."""
        feats = self.normalize(feats, rel_lens, epoch=epoch) if self.training else self.normalize(feats, rel_lens)
        enc, dec = self.transformer(self.cnn(feats), tokens_bos, rel_lens, pad_idx=0)
        return enc, self.ctc_lin(enc).log_softmax(-1), self.seq_lin(dec).log_softmax(-1)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

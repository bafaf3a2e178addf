"""Utterance classification (keyword spotting): speech encoder + masked mean pooling + linear classifier.

    fbank (B, T, 80) -> global normalisation -> speech encoder (any of ``encoders.ENCODERS``)
        -> (B, T', d_model) -> mean over the valid frames -> (B, d_model) -> Linear -> (B, n_classes)
"""

from __future__ import annotations

from typing import Any

import torch
from speechbrain.nnet.linear import Linear
from speechbrain.processing.features import InputNormalization
from torch import nn

from .encoders import build_encoder, padding_mask


class EncoderClassifier(nn.Module):
    def __init__(self, arch: dict[str, Any], n_classes: int, n_mels: int = 80):
        super().__init__()
        self.arch = arch
        self.normalize = InputNormalization(norm_type="global", update_until_epoch=4)
        self.encoder = build_encoder(arch, n_mels)
        self.classifier = Linear(input_size=self.encoder.d_model, n_neurons=n_classes)

    def forward(self, feats: torch.Tensor, rel_lens: torch.Tensor, epoch: int | None = None) -> torch.Tensor:
        """(B, T, n_mels), (B,) -> (B, n_classes) log-probabilities."""
        feats = self.normalize(feats, rel_lens, epoch=epoch) if self.training else self.normalize(feats, rel_lens)
        enc = self.encoder(feats, rel_lens)  # (B, T', D)
        valid = (~padding_mask(enc, rel_lens)).unsqueeze(-1).to(enc.dtype)  # (B, T', 1)
        pooled = (enc * valid).sum(1) / valid.sum(1).clamp(min=1.0)  # (B, D)
        return self.classifier(pooled).log_softmax(-1)

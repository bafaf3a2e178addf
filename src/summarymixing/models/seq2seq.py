"""The attention (+ CTC) encoder-decoder of the paper's ASR experiments, also used for direct SLU.

    fbank (B, T, 80) -> global mean/variance normalisation
        -> speech encoder (``encoders.ENCODERS``: CNN front-end + Conformer | Branchformer | Transformer
           with the chosen token mixer, or ContextNet) -> (B, T', d_model)
        -> ctc_lin (encoder states -> tokens; CTC, optional) and
           attention decoder (``decoder.build_decoder``) -> seq_lin (decoder states -> tokens)

as in the official recipes (paper.md section 5.1). Every block is SpeechBrain's own code.
"""

from __future__ import annotations

from typing import Any

import torch
from speechbrain.nnet.linear import Linear
from speechbrain.processing.features import InputNormalization
from torch import nn

from .decoder import build_decoder
from .encoders import build_encoder, padding_mask


class EncoderDecoderModel(nn.Module):
    """``arch`` is ``config.model_config``'s dict; ``ctc`` adds the CTC head on the encoder."""

    def __init__(self, arch: dict[str, Any], n_tokens: int, n_mels: int = 80, ctc: bool = True):
        super().__init__()
        self.arch = arch
        self.normalize = InputNormalization(norm_type="global", update_until_epoch=4)
        self.encoder = build_encoder(arch, n_mels)
        d_model = self.encoder.d_model
        self.decoder = build_decoder(arch, n_tokens, arch.get("decoder"))
        self.ctc_lin = Linear(input_size=d_model, n_neurons=n_tokens) if ctc else None
        self.seq_lin = Linear(input_size=d_model, n_neurons=n_tokens)

    def encode(self, feats: torch.Tensor, rel_lens: torch.Tensor, epoch: int | None = None) -> torch.Tensor:
        """(B, T, n_mels) features, (B,) relative lengths -> (B, T', d_model) encoder states."""
        feats = self.normalize(feats, rel_lens, epoch=epoch) if self.training else self.normalize(feats, rel_lens)
        return self.encoder(feats, rel_lens)

    def forward(
        self, feats: torch.Tensor, rel_lens: torch.Tensor, tokens_bos: torch.Tensor, epoch: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Teacher-forced pass: (encoder states, CTC log-probs or None, attention log-probs)."""
        enc = self.encode(feats, rel_lens, epoch)
        dec = self.decoder(tokens_bos, enc, padding_mask(enc, rel_lens))
        p_ctc = self.ctc_lin(enc).log_softmax(-1) if self.ctc_lin is not None else None
        return enc, p_ctc, self.seq_lin(dec).log_softmax(-1)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def parameters_by_module(model: nn.Module) -> dict[str, int]:
    """Trainable parameters of each top-level block (encoder, decoder, heads, ...)."""
    return {name: count_parameters(child) for name, child in model.named_children() if count_parameters(child)}

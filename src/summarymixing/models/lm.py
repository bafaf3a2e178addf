"""The Transformer language model of shallow fusion: SpeechBrain's ``TransformerLM``, decoder-only.

    tokens (B, L) -> NormalizedEmbedding * sqrt(d) + sinusoidal positions
        -> num_layers x [causal self-attention, FFN (GELU)]  (post-LN, as the recipes' LM; or pre-LN)
        -> LayerNorm -> Linear -> LayerNorm -> Linear -> (B, L, n_tokens) logits

``IncrementalTransformerLM`` is that module with no parameter added, so the official recipes' checkpoint
(``speechbrain/asr-transformer-transformerlm-librispeech``, ``lm.ckpt``) loads into it as it is, and it
adds incremental decoding with the same interface as ``AttentionDecoder``:

    init_state()                   an empty prefix
    step(last_tokens, state)       next-token logits; each layer appends its key/value to a cache
    reorder_state(state, index)    follows the beam search's choice of predecessors

A ``lms.<size>`` block of params.yaml gives the sizes: d_model, nhead, num_layers, d_ffn, dropout and,
optionally, normalize_before (default false, the recipes' post-LN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import speechbrain as sb
import torch
from speechbrain.lobes.models.transformer.Transformer import TransformerEncoderLayer
from speechbrain.lobes.models.transformer.TransformerLM import TransformerLM
from torch import nn

from .decoder import KVCache, mha_step


@dataclass
class LMState:
    """Per layer: the self-attention cache of the prefix (None before the first step); tokens consumed."""

    layers: list[KVCache | None]
    length: int = 0

    def reorder(self, index: torch.Tensor) -> LMState:
        return LMState([c.reorder(index) if c is not None else None for c in self.layers], self.length)


def encoder_layer_step(
    layer: TransformerEncoderLayer, x: torch.Tensor, cache: KVCache | None
) -> tuple[torch.Tensor, KVCache]:
    """``TransformerEncoderLayer.forward`` with a causal mask, for the newest position x (N, 1, D), eval mode."""
    pre = layer.normalize_before
    h, cache = mha_step(layer.self_att, layer.norm1(x) if pre else x, cache)
    x = x + h if pre else layer.norm1(x + h)
    h = layer.pos_ffn(layer.norm2(x) if pre else x)
    x = x + h if pre else layer.norm2(x + h)
    return x, cache


class IncrementalTransformerLM(TransformerLM):
    """SpeechBrain's ``TransformerLM`` (GELU, regular MHA, sinusoidal positions) + incremental decoding.

    ``forward(tokens (B, L)) -> (B, L, n_tokens)`` logits is SpeechBrain's: causal, token 0 is padding.
    """

    def __init__(
        self,
        n_tokens: int,
        d_model: int,
        nhead: int,
        num_layers: int,
        d_ffn: int,
        dropout: float = 0.0,
        normalize_before: bool = False,
    ):
        super().__init__(
            vocab=n_tokens, d_model=d_model, nhead=nhead, num_encoder_layers=num_layers, num_decoder_layers=0,
            d_ffn=d_ffn, dropout=dropout, activation=nn.GELU, normalize_before=normalize_before,
        )  # fmt: skip

    def init_state(self) -> LMState:
        return LMState([None] * len(self.encoder.layers))

    def step(self, last_tokens: torch.Tensor, state: LMState) -> tuple[torch.Tensor, LMState]:
        """Feed last_tokens (N,) -> next-token logits (N, n_tokens), new state."""
        x = self.custom_src_module(last_tokens[:, None])  # (N, 1, D)
        x = x + self.positional_encoding.pe[:, state.length : state.length + 1]
        caches = []
        for layer, cache in zip(self.encoder.layers, state.layers):
            x, cache = encoder_layer_step(layer, x, cache)
            caches.append(cache)
        logits = self.output_proj(self.encoder.norm(x))[:, 0]  # (N, n_tokens)
        return logits, LMState(caches, state.length + 1)

    def reorder_state(self, state: LMState, index: torch.Tensor) -> LMState:
        return state.reorder(index)


def build_lm(lm_cfg: dict[str, Any], n_tokens: int) -> IncrementalTransformerLM:
    """The LM of a ``lms.<size>`` block of params.yaml."""
    return IncrementalTransformerLM(
        n_tokens, lm_cfg["d_model"], lm_cfg["nhead"], lm_cfg["num_layers"], lm_cfg["d_ffn"],
        dropout=lm_cfg.get("dropout", 0.0), normalize_before=lm_cfg.get("normalize_before", False),
    )  # fmt: skip


def lm_loss(lm: nn.Module, tokens_bos: torch.Tensor, tokens_eos: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean next-token negative log-likelihood per token.

    tokens_bos (B, L) = [<bos>, y_1 .. y_n] and tokens_eos (B, L) = [y_1 .. y_n, <eos>], padded with 0;
    lengths (B,) are tokens_eos's relative lengths (SpeechBrain's convention, ``token_eos_rel_lens``).
    """
    log_probs = lm(tokens_bos).log_softmax(dim=-1)  # (B, L, n_tokens)
    return sb.nnet.losses.nll_loss(log_probs, tokens_eos, length=lengths)

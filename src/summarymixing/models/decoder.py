"""The attention decoder of the encoder-decoder models: SpeechBrain's Transformer decoder.

    tokens (B, L) -> NormalizedEmbedding * sqrt(d) + sinusoidal positions
        -> num_decoder_layers x [self-mixing (causal), cross-attention to the encoder, FFN], pre-LN
        -> LayerNorm -> (B, L, d_model)

as ``TransformerASR`` builds it. The self-mixing is chosen by a ``decoders.<name>`` block of params.yaml:

    self_attention: mha            SpeechBrain's regular MHA with a look-ahead mask (the recipes' decoder)
    self_attention: summarymixing  the Summary Decoder (paper Table 1, "Branchformer + Summary Decoder"):
                                   SummaryMixing with a causal summary,
                                       s_bar_t = sum_{j<=t} m_j s(x_j) / sum_{j<=t} m_j
                                       h_t     = c([f(x_t); s_bar_t])      (lite: h_t = s_bar_t)
                                   computed with cumulative sums: O(L) time and memory, no L x L tensor.

Incremental decoding (beam search, greedy search) never re-runs the decoder on the prefix:

    init_state(enc, enc_pad_mask)  each layer's cross-attention keys/values, once per utterance
    step(last_tokens, state)       one position: the self-attention appends its key/value to a cache
                                   (O(t) per step), the Summary Decoder adds s(x_t) to a running sum
                                   (O(1) per step); the cross-attention reuses the cached keys/values
    reorder_state(state, index)    follows the beam search's choice of predecessors

The steps use the SpeechBrain layers' own modules and weights and equal the teacher-forced ``forward``
in eval mode (no dropout is applied by ``step``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional, Union

import speechbrain as sb
import torch
import torch.nn.functional as F
from speechbrain.lobes.models.transformer.Transformer import (
    NormalizedEmbedding,
    PositionalEncoding,
    TransformerDecoder,
    TransformerDecoderLayer,
)
from torch import nn

from .encoders import MAX_LENGTH
from .mixers import build_summary_mixing
from .summary_mixing import SummaryMixing

PAD_ID = 0
SELF_ATTENTIONS = ("mha", "summarymixing")


# ---------------------------------------------------------------------------------------------------
# Incremental states: one per self-mixing layer, reordered along the hypotheses (rows) by the beam search.


@dataclass
class KVCache:
    """Self-attention keys and values of the prefix: k, v (N, H, t, d_head)."""

    k: torch.Tensor
    v: torch.Tensor

    def reorder(self, index: torch.Tensor) -> KVCache:
        return KVCache(self.k.index_select(0, index), self.v.index_select(0, index))


@dataclass
class RunningSummary:
    """The Summary Decoder's state: total = sum_{j<=t} s(x_j) (N, 1, S) and count = t."""

    total: torch.Tensor
    count: int

    def reorder(self, index: torch.Tensor) -> RunningSummary:
        return RunningSummary(self.total.index_select(0, index), self.count)


LayerState = Union[KVCache, RunningSummary, None]


@dataclass
class DecoderState:
    """What ``AttentionDecoder.step`` needs besides the last tokens.

    Rows n = b * R + r: R hypotheses per utterance b, grouped by utterance (as SpeechBrain's beam search
    lays them out), so the encoder-side tensors are stored once per utterance, not once per hypothesis.
    """

    cross_kv: list[tuple[torch.Tensor, torch.Tensor]]  # per layer: K, V (B, H, T, d_head)
    enc_bias: torch.Tensor  # (B, 1, 1, T): 0 at frames, -inf at padding
    layers: list[LayerState]  # per layer: self-mixing state, None before the first step
    length: int = 0  # tokens consumed so far
    attn: Optional[torch.Tensor] = field(default=None)  # (N, T): last layer's cross-attention, heads averaged

    def reorder(self, index: torch.Tensor) -> DecoderState:
        """Keep rows ``index`` (N',); each row must stay among its own utterance's hypotheses."""
        return replace(
            self,
            layers=[s.reorder(index) if s is not None else None for s in self.layers],
            attn=self.attn.index_select(0, index) if self.attn is not None else None,
        )


# ---------------------------------------------------------------------------------------------------
# One step of torch.nn.MultiheadAttention (wrapped by SpeechBrain's MultiheadAttention as ``.att``).


def _in_projections(mha: nn.MultiheadAttention) -> list[tuple[torch.Tensor, Optional[torch.Tensor]]]:
    """[(W_q, b_q), (W_k, b_k), (W_v, b_v)] of the packed input projection."""
    if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
        raise ValueError("incremental attention supports MultiheadAttention with kdim = vdim = d_model only")
    weights = mha.in_proj_weight.chunk(3)
    biases = mha.in_proj_bias.chunk(3) if mha.in_proj_bias is not None else (None, None, None)
    return list(zip(weights, biases))


def _heads(x: torch.Tensor, nhead: int) -> torch.Tensor:
    """(..., L, D) -> (..., H, L, D/H)."""
    *lead, L, D = x.shape
    return x.reshape(*lead, L, nhead, D // nhead).transpose(-3, -2)


def _attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: Optional[torch.Tensor] = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d_head) + bias) v; q (..., Lq, dh), k, v (..., Lk, dh) -> (out, weights)."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (..., Lq, Lk)
    weights = (scores if bias is None else scores + bias).softmax(dim=-1)
    return weights @ v, weights


def mha_step(
    att: sb.nnet.attention.MultiheadAttention, x: torch.Tensor, cache: Optional[KVCache]
) -> tuple[torch.Tensor, KVCache]:
    """Causal self-attention of the newest position x (N, 1, D) over the cached prefix and itself."""
    mha = att.att
    H = mha.num_heads
    (wq, bq), (wk, bk), (wv, bv) = _in_projections(mha)
    q, k, v = (_heads(F.linear(x, w, b), H) for w, b in ((wq, bq), (wk, bk), (wv, bv)))  # (N, H, 1, dh)
    if cache is not None:
        k, v = torch.cat([cache.k, k], dim=2), torch.cat([cache.v, v], dim=2)  # (N, H, t, dh)
    out, _ = _attend(q, k, v)  # (N, H, 1, dh)
    out = out.transpose(1, 2).reshape(x.shape)  # (N, 1, D)
    return mha.out_proj(out), KVCache(k, v)


def cross_kv(att: sb.nnet.attention.MultiheadAttention, enc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keys and values of the encoder states enc (B, T, D): (B, H, T, dh) each."""
    mha = att.att
    _, (wk, bk), (wv, bv) = _in_projections(mha)
    return _heads(F.linear(enc, wk, bk), mha.num_heads), _heads(F.linear(enc, wv, bv), mha.num_heads)


def cross_step(
    att: sb.nnet.attention.MultiheadAttention,
    x: torch.Tensor,
    kv: tuple[torch.Tensor, torch.Tensor],
    enc_bias: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-attention of x (N, 1, D), N = B * R, over its utterance's cached K, V (B, H, T, dh).

    Returns (N, 1, D) and the attention weights averaged over heads (N, T).
    """
    mha = att.att
    k, v = kv
    B, H, T, dh = k.shape
    N = x.shape[0]
    if N % B:
        raise ValueError(f"{N} hypotheses do not split evenly over {B} utterances")
    (wq, bq), _, _ = _in_projections(mha)
    q = F.linear(x, wq, bq).reshape(B, N // B, H, dh).transpose(1, 2)  # (B, H, R, dh)
    out, weights = _attend(q, k, v, enc_bias)  # (B, H, R, dh), (B, H, R, T)
    out = out.transpose(1, 2).reshape(x.shape)  # (N, 1, D)
    return mha.out_proj(out), weights.mean(dim=1).reshape(N, T)


# ---------------------------------------------------------------------------------------------------
# The Summary Decoder's self-mixing.


class CausalSummaryMixing(nn.Module):
    """SummaryMixing over the past only, for a decoder (see the module docstring for the equations).

    Composes a ``SummaryMixing`` (f, s, c and the modes are its own) and replaces its utterance-level mean
    with a running mean. The call signature is SpeechBrain attention's, so it drops into
    ``TransformerDecoderLayer.self_attn``; it is causal by construction, so ``attn_mask`` (the decoder's
    look-ahead mask) is not needed and is ignored, as are ``key``, ``value`` and ``pos_embs``.
    """

    def __init__(self, mixer: SummaryMixing):
        super().__init__()
        self.mixer = mixer

    def forward(
        self,
        query: torch.Tensor,
        key: Optional[torch.Tensor] = None,
        value: Optional[torch.Tensor] = None,
        attn_mask: Optional[torch.Tensor] = None,
        key_padding_mask: Optional[torch.Tensor] = None,
        pos_embs: Optional[torch.Tensor] = None,
        **unused: Any,
    ) -> tuple[torch.Tensor, None]:
        """query (B, L, D); key_padding_mask (B, L) True at padding -> ((B, L, D), None)."""
        B, L, _ = query.shape
        if key_padding_mask is None:
            m = query.new_ones(B, L, 1)
        else:
            m = (~key_padding_mask.bool()).to(query.dtype)[..., None]  # (B, L, 1): 1 at real tokens
        local, summary_in = self._project(query)  # f(x_t) (B, L, F) or None, s(x_t) (B, L, S)
        total = torch.cumsum(summary_in * m, dim=1)  # sum_{j<=t} m_j s(x_j): (B, L, S)
        count = torch.cumsum(m, dim=1).clamp(min=1.0)  # sum_{j<=t} m_j: (B, L, 1)
        return self._combine(local, total / count, m), None

    def step(self, x: torch.Tensor, state: Optional[RunningSummary]) -> tuple[torch.Tensor, RunningSummary]:
        """The newest position x (N, 1, D): s_bar_t = (total_{t-1} + s(x_t)) / t, O(1) in t."""
        local, summary_in = self._project(x)  # (N, 1, F) or None, (N, 1, S)
        if state is None:
            state = RunningSummary(summary_in, 1)
        else:
            state = RunningSummary(state.total + summary_in, state.count + 1)
        return self._combine(local, state.total / state.count, None), state

    def _project(self, x: torch.Tensor) -> tuple[Optional[torch.Tensor], torch.Tensor]:
        """Per-position MLPs: (f(x_t) or None in lite mode, s(x_t))."""
        mixer = self.mixer
        if mixer.mode == "SummaryMixing-fast":
            local, summary_in = mixer.fused_proj(x).split(mixer.local_out, dim=-1)
            return local, summary_in
        local = mixer.local_proj(x) if mixer.mode == "SummaryMixing" else None
        return local, mixer.summary_proj(x)

    def _combine(self, local: Optional[torch.Tensor], s_bar: torch.Tensor, m: Optional[torch.Tensor]) -> torch.Tensor:
        """h_t = c([f(x_t); s_bar_t]), or h_t = s_bar_t in lite mode; zero at padding."""
        mixer = self.mixer
        if mixer.mode == "SummaryMixing-lite":
            out = s_bar
        else:
            local = mixer.local_norm(local if m is None else local * m)
            out = mixer.combiner(mixer.dropout(torch.cat([local, mixer.summary_norm(s_bar)], dim=-1)))
        return out if m is None else out * m


def self_mixing_step(module: nn.Module, x: torch.Tensor, state: LayerState) -> tuple[torch.Tensor, LayerState]:
    """One step of a decoder layer's self-mixing, x (N, 1, D)."""
    if isinstance(module, CausalSummaryMixing):
        return module.step(x, state)
    if isinstance(module, sb.nnet.attention.MultiheadAttention):
        return mha_step(module, x, state)
    raise TypeError(f"no incremental step for {type(module).__name__}")


def decoder_layer_step(
    layer: TransformerDecoderLayer,
    x: torch.Tensor,
    state: LayerState,
    kv: tuple[torch.Tensor, torch.Tensor],
    enc_bias: torch.Tensor,
) -> tuple[torch.Tensor, LayerState, torch.Tensor]:
    """``TransformerDecoderLayer.forward`` for the newest position x (N, 1, D), eval mode.

    Returns (N, 1, D), the new self-mixing state and the cross-attention weights (N, T).
    """
    pre = layer.normalize_before
    h, state = self_mixing_step(layer.self_attn, layer.norm1(x) if pre else x, state)
    x = x + h if pre else layer.norm1(x + h)
    h, weights = cross_step(layer.multihead_attn, layer.norm2(x) if pre else x, kv, enc_bias)
    x = x + h if pre else layer.norm2(x + h)
    h = layer.pos_ffn(layer.norm3(x) if pre else x)
    x = x + h if pre else layer.norm3(x + h)
    return x, state, weights


# ---------------------------------------------------------------------------------------------------
# The decoder.


def lookahead_mask(length: int, device: torch.device) -> torch.Tensor:
    """(L, L) True where position t may not see position j > t; boolean like the key padding mask,
    which PyTorch's attention wants of the same type."""
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(diagonal=1)


class AttentionDecoder(nn.Module):
    """Transformer decoder over token ids; ``forward(tokens_bos, enc, enc_pad_mask) -> (B, L, d_model)``.

    ``self_mixing``, if given, builds the module put in place of each layer's self-attention (the
    Summary Decoder); ``positional_encoding`` adds the sinusoidal positions to the token embeddings.
    """

    def __init__(
        self,
        n_tokens: int,
        d_model: int,
        nhead: int,
        num_layers: int,
        d_ffn: int,
        dropout: float = 0.1,
        self_mixing: Optional[Callable[[], nn.Module]] = None,
        positional_encoding: bool = True,
    ):
        super().__init__()
        self.d_model = d_model
        self.embedding = NormalizedEmbedding(d_model, n_tokens)
        self.positional_encoding = PositionalEncoding(d_model, MAX_LENGTH) if positional_encoding else None
        self.layers = TransformerDecoder(
            num_layers=num_layers, nhead=nhead, d_ffn=d_ffn, d_model=d_model, dropout=dropout, activation=nn.GELU,
            normalize_before=True, causal=True, attention_type="regularMHA",
        )  # fmt: skip
        for p in [*self.embedding.parameters(), *self.layers.parameters()]:  # as TransformerASR._init_params
            if p.dim() > 1:
                nn.init.xavier_normal_(p)
        if self_mixing is not None:  # after the init, as the encoders install their mixers
            for layer in self.layers.layers:
                layer.self_attn = self_mixing()
        # the Summary Decoder is causal by construction and needs no (L, L) look-ahead mask
        self.causal_by_mask = self_mixing is None

    def embed(self, tokens: torch.Tensor, start: int = 0) -> torch.Tensor:
        """tokens (B, L) at positions start .. start + L - 1 -> (B, L, D)."""
        tgt = self.embedding(tokens)
        if self.positional_encoding is not None:
            tgt = tgt + self.positional_encoding.pe[:, start : start + tokens.shape[1]]
        return tgt

    def forward(self, tokens: torch.Tensor, enc: torch.Tensor, enc_pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        """tokens (B, L) starting with <bos>, padded with 0; enc (B, T, D); enc_pad_mask (B, T) True = pad."""
        out, _, _ = self.layers(
            self.embed(tokens), enc,
            tgt_mask=lookahead_mask(tokens.shape[1], tokens.device) if self.causal_by_mask else None,
            tgt_key_padding_mask=tokens == PAD_ID,
            memory_key_padding_mask=enc_pad_mask,
        )  # fmt: skip
        return out

    def init_state(self, enc: torch.Tensor, enc_pad_mask: torch.Tensor | None = None) -> DecoderState:
        """Each layer's cross-attention keys/values of enc (B, T, D), computed once; enc_pad_mask True = pad."""
        B, T, _ = enc.shape
        bias = enc.new_zeros(B, 1, 1, T)
        if enc_pad_mask is not None:
            bias = bias.masked_fill(enc_pad_mask[:, None, None, :], float("-inf"))
        layers = self.layers.layers
        return DecoderState([cross_kv(layer.multihead_attn, enc) for layer in layers], bias, [None] * len(layers))

    def step(self, last_tokens: torch.Tensor, state: DecoderState) -> tuple[torch.Tensor, DecoderState]:
        """Feed last_tokens (N,), N = B * R hypotheses grouped by utterance -> (N, d_model), new state.

        A prefix never holds padding (the searches never emit it), so no position is masked here.
        """
        x = self.embed(last_tokens[:, None], start=state.length)  # (N, 1, D)
        new_layers, weights = [], None
        for layer, layer_state, kv in zip(self.layers.layers, state.layers, state.cross_kv):
            x, layer_state, weights = decoder_layer_step(layer, x, layer_state, kv, state.enc_bias)
            new_layers.append(layer_state)
        out = self.layers.norm(x)[:, 0]  # (N, D)
        return out, replace(state, layers=new_layers, length=state.length + 1, attn=weights)

    def reorder_state(self, state: DecoderState, index: torch.Tensor) -> DecoderState:
        """The state of hypotheses ``index`` (N',), e.g. the beam search's predecessors."""
        return state.reorder(index)


def build_decoder(arch: dict[str, Any], n_tokens: int, decoder_cfg: dict[str, Any] | None = None) -> AttentionDecoder:
    """The decoder of ``arch`` (``num_decoder_layers`` layers, the model's width, heads and dropout).

    ``decoder_cfg`` is a ``decoders.<name>`` block of params.yaml; None is SpeechBrain's Transformer
    decoder (regular MHA). A ``summarymixing`` block takes the keys of a ``mixers.<name>`` SummaryMixing
    block (``mode``, ``nhead``, dims, ``dropout``: null = the model's; ``use_layernorm``, default false)
    and ``positional_encoding`` (default true: a causal mean alone would not see the order of the prefix).
    """
    cfg = decoder_cfg or {}
    kind = cfg.get("self_attention", "mha")
    d_model, nhead, dropout = arch["d_model"], arch["nhead"], arch.get("dropout", 0.1)
    if kind == "mha":
        self_mixing = None
    elif kind == "summarymixing":
        self_mixing = lambda: CausalSummaryMixing(build_summary_mixing(cfg, d_model, nhead, dropout))  # noqa: E731
    else:
        raise ValueError(f"decoder self_attention {kind!r}: expected one of {', '.join(SELF_ATTENTIONS)}")
    return AttentionDecoder(
        n_tokens, d_model, nhead, arch["num_decoder_layers"], arch["d_ffn"], dropout,
        self_mixing=self_mixing, positional_encoding=cfg.get("positional_encoding", True),
    )  # fmt: skip

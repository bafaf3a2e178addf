"""SummaryMixing: a linear-time token mixer in place of multi-head self-attention.

Implemented from the paper (Parcollet, van Dalen, Zhang, Bhattacharya, Interspeech 2024,
arXiv 2307.07421), not from the CC BY-NC reference code. For an utterance X = [x_1 .. x_T], x_t in R^D,
with valid-frame mask m_t (1 for real frames, 0 for padding):

    s_bar = sum_t m_t s(x_t) / sum_t m_t          the summary: a masked mean of a per-frame MLP s
    h_t   = c([f(x_t); s_bar])                     f: per-frame local MLP, c: combiner MLP

Cost is O(T) in time and memory: no T x T tensor is ever built (unless a streaming time mask is given).

Modes:
    SummaryMixing       f, s and c as above.
    SummaryMixing-lite  h_t = s_bar for every t (no f, no c); local context comes from elsewhere
                        (the cgMLP branch of a Branchformer, the convolution module of a Conformer).
    SummaryMixing-fast  [f(x_t); s(x_t)] = GELU(W x_t + b), one full Linear(D -> 2L) split in halves;
                        no LayerNorm; c = Linear(2L -> D) + GELU.

Multi-head (SummaryMixing and -lite): with H heads, x_t is split into H blocks of D/H features and f and
s are block-diagonal (one small MLP per head, computed for all heads in one batched matmul); c mixes
across heads. The fused projection of -fast is never split by head: each of its 2L outputs reads all D
input features, so f and s both see the whole frame whatever H is.

Streaming: an optional time mask M (T x T, True = may not see) turns the summary into
s_bar_t = sum_j M'_tj m_j s(x_j) / sum_j M'_tj m_j with M' = not M, e.g. a Dynamic-Chunk-Training mask
where frame t sees its own chunk and the past.

The module has the call signature of SpeechBrain's attention modules,
``(query, key, value, attn_mask, key_padding_mask, pos_embs) -> (output, None)``, so it drops into
the ``mha_layer`` of ``ConformerEncoderLayer``/``BranchformerEncoderLayer`` and the ``self_att`` of
``TransformerEncoderLayer`` (see ``summarymixing.models.mixers``). It ignores ``key``, ``value`` and
``pos_embs``: a SummaryMixing encoder uses no positional encoding.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

MODES = ("SummaryMixing", "SummaryMixing-lite", "SummaryMixing-fast")


class HeadwiseLinear(nn.Module):
    """A block-diagonal linear layer: H independent (in/H -> out/H) projections, one batched matmul.

    With H = 1 it is an ordinary ``nn.Linear``.
    """

    def __init__(self, in_features: int, out_features: int, nhead: int = 1, bias: bool = True):
        super().__init__()
        if in_features % nhead or out_features % nhead:
            raise ValueError(f"HeadwiseLinear: {in_features} -> {out_features} is not divisible by nhead={nhead}")
        self.nhead = nhead
        self.in_features, self.out_features = in_features, out_features
        if nhead == 1:
            self.linear = nn.Linear(in_features, out_features, bias=bias)
        else:
            self.weight = nn.Parameter(torch.empty(nhead, in_features // nhead, out_features // nhead))
            self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
            for h in range(nhead):  # same init as nn.Linear, per head
                nn.init.kaiming_uniform_(self.weight[h].T, a=5**0.5)
            if self.bias is not None:
                bound = (nhead / in_features) ** 0.5
                nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., in) -> (..., out)
        if self.nhead == 1:
            return self.linear(x)
        *lead, _ = x.shape
        x = x.reshape(*lead, self.nhead, self.in_features // self.nhead)  # (..., H, in/H)
        y = torch.einsum("...hi,hio->...ho", x, self.weight)  # (..., H, out/H)
        y = y.reshape(*lead, self.out_features)
        return y + self.bias if self.bias is not None else y


def headwise_mlp(in_dim: int, hidden: Sequence[int], out_dim: int, nhead: int) -> nn.Sequential:
    """Per-frame MLP ``in -> hidden[0] -> ... -> out``, block-diagonal over heads, GELU after every layer."""
    layers: list[nn.Module] = []
    for dim in [*hidden, out_dim]:
        layers += [HeadwiseLinear(in_dim, dim, nhead), nn.GELU()]
        in_dim = dim
    return nn.Sequential(*layers)


class SummaryMixing(nn.Module):
    """SummaryMixing token mixer (see the module docstring for the equations).

    Arguments
    ---------
    d_model: input and output size D.
    nhead: number of heads H of the block-diagonal f and s (no effect in -fast mode).
    mode: ``SummaryMixing``, ``SummaryMixing-lite`` or ``SummaryMixing-fast``.
    local_proj_hid_dim: hidden sizes of f (default ``[d_model]``).
    local_proj_out_dim: output size of f (default ``d_model``).
    summary_hid_dim: hidden sizes of s (default ``[d_model]``).
    summary_out_dim: output size of s (default ``d_model``; must be ``d_model`` in lite mode).
    dropout: dropout on [f; s_bar] before the combiner.
    use_layernorm: LayerNorm on f(x_t) and on s_bar before the combiner (the SpeechBrain-0.5 variant);
        not available in -fast mode, which has none.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int = 1,
        mode: str = "SummaryMixing",
        local_proj_hid_dim: Optional[Sequence[int]] = None,
        local_proj_out_dim: Optional[int] = None,
        summary_hid_dim: Optional[Sequence[int]] = None,
        summary_out_dim: Optional[int] = None,
        dropout: float = 0.0,
        use_layernorm: bool = False,
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"SummaryMixing: unknown mode {mode!r} (expected one of {', '.join(MODES)})")
        if mode == "SummaryMixing-fast" and use_layernorm:
            raise ValueError("SummaryMixing-fast has no LayerNorm: use_layernorm must be False")
        self.mode = mode
        local_hid = list(local_proj_hid_dim) if local_proj_hid_dim is not None else [d_model]
        local_out = local_proj_out_dim or d_model
        summary_hid = list(summary_hid_dim) if summary_hid_dim is not None else [d_model]
        summary_out = summary_out_dim or d_model

        if mode == "SummaryMixing":
            self.local_proj = headwise_mlp(d_model, local_hid, local_out, nhead)  # f
            self.summary_proj = headwise_mlp(d_model, summary_hid, summary_out, nhead)  # s
        elif mode == "SummaryMixing-lite":
            if summary_out != d_model:
                raise ValueError(f"SummaryMixing-lite outputs the summary itself: summary_out_dim must be d_model={d_model}")
            self.summary_proj = headwise_mlp(d_model, summary_hid, summary_out, nhead)  # s
        else:  # SummaryMixing-fast: [f(x_t); s(x_t)] = GELU(W x_t + b), one full (not headwise) projection
            summary_out = local_out
            self.fused_proj = nn.Sequential(nn.Linear(d_model, 2 * local_out), nn.GELU())
        if mode != "SummaryMixing-lite":
            self.local_norm = nn.LayerNorm(local_out) if use_layernorm else nn.Identity()
            self.summary_norm = nn.LayerNorm(summary_out) if use_layernorm else nn.Identity()
            self.dropout = nn.Dropout(dropout)
            self.combiner = nn.Sequential(nn.Linear(local_out + summary_out, d_model), nn.GELU())  # c
        self.local_out = local_out

    def forward(
        self,
        query: torch.Tensor,
        key: Optional[torch.Tensor] = None,
        value: Optional[torch.Tensor] = None,
        attn_mask: Optional[torch.Tensor] = None,
        key_padding_mask: Optional[torch.Tensor] = None,
        pos_embs: Optional[torch.Tensor] = None,
        **unused,
    ) -> tuple[torch.Tensor, None]:
        """Mix ``query`` (B, T, D) along time; ``key_padding_mask`` (B, T) is True at padded frames.

        ``attn_mask`` (T, T), optional, is a streaming time mask: True (or -inf) where frame t may not
        see frame j. ``key``, ``value`` and ``pos_embs`` are accepted for compatibility and ignored.
        """
        x = query  # (B, T, D)
        B, T, _ = x.shape
        if key_padding_mask is not None:
            m = (~key_padding_mask.bool()).to(x.dtype).unsqueeze(-1)  # (B, T, 1): 1 at real frames
        else:
            m = x.new_ones(B, T, 1)

        if self.mode == "SummaryMixing-fast":
            local, summary_in = self.fused_proj(x).split(self.local_out, dim=-1)  # f(x_t), s(x_t)
        else:
            summary_in = self.summary_proj(x)  # s(x_t): (B, T, S)
            local = self.local_proj(x) if self.mode == "SummaryMixing" else None  # f(x_t): (B, T, L)

        s_bar = masked_mean(summary_in, m, attn_mask)  # (B, 1, S), or (B, T, S) with a time mask

        if self.mode == "SummaryMixing-lite":
            out = s_bar.expand(B, T, s_bar.shape[-1])  # h_t = s_bar
        else:
            local = self.local_norm(local * m)
            s_bar = self.summary_norm(s_bar).expand(B, T, s_bar.shape[-1])
            out = self.combiner(self.dropout(torch.cat([local, s_bar], dim=-1)))  # h_t = c([f(x_t); s_bar])
        return out * m, None


def masked_mean(values: torch.Tensor, mask: torch.Tensor, time_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean of ``values`` (B, T, S) over the frames where ``mask`` (B, T, 1) is 1.

    Without ``time_mask`` the result is (B, 1, S): one summary per utterance. With a (T, T) time mask
    (True or -inf where frame t may not see frame j) it is (B, T, S): one summary per frame, over the
    valid frames that frame may see.
    """
    if time_mask is None:
        return (values * mask).sum(dim=1, keepdim=True) / mask.sum(dim=1, keepdim=True).clamp(min=1.0)
    if time_mask.dtype == torch.bool:
        visible = (~time_mask).to(values.dtype)
    else:
        visible = (time_mask == 0).to(values.dtype)
    visible = visible.reshape(-1, *visible.shape[-2:])  # (1 or B, T, T)
    total = visible @ (values * mask)  # (B, T, S)
    count = visible @ mask  # (B, T, 1)
    return total / count.clamp(min=1.0)

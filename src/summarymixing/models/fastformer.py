"""Fastformer additive attention: a linear-time token mixer in place of multi-head self-attention.

Implemented from the paper (Wu, Wu, Qi, Huang, Xie, "Fastformer: Additive Attention Can Be All You
Need", arXiv 2108.09084). For an utterance X = [x_1 .. x_T] with valid-frame mask m_t, and for each head
h of size d_h = D / H (the head index is left out below):

    q_t = W_q x_t,  k_t = W_k x_t,  v_t = W_v x_t         per-frame projections (D -> D, split in H heads)
    alpha_t = softmax_{t: m_t=1}(w_q . q_t / sqrt(d_h))    additive attention over the valid frames
    q_bar   = sum_t alpha_t q_t                             global query
    p_t     = q_bar * k_t                                   element-wise product
    beta_t  = softmax_{t: m_t=1}(w_k . p_t / sqrt(d_h))
    k_bar   = sum_t beta_t p_t                              global key
    u_t     = k_bar * v_t
    o_t     = W_o u_t + q_t                                 output transform (mixes heads) + the query

w_q and w_k are one learned vector per head. ``share_query_value`` sets W_v = W_q, the paper's
query-value parameter sharing, which its authors' code and ESPnet's Fastformer use; then u_t = k_bar * q_t.
Dropout falls on q_bar, k_bar and W_o u_t, where the authors' code puts it.

Cost is O(T): two masked softmax poolings and element-wise products, no T x T tensor. Padded frames
get zero weight in both poolings, so they never reach a valid frame; their own outputs are not zeroed.
Fastformer carries no positional information: the encoder adds absolute sinusoids to its input.

The module has the call signature of SpeechBrain's attention modules, so it replaces the self-attention
of Conformer/Branchformer/Transformer layers (``summarymixing.models.mixers.replace_mixers``).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn


def masked_softmax(scores: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Softmax of ``scores`` (B, H, T) over time, restricted to the frames where ``valid`` (B, 1, T) holds.

    A finite fill (not -inf) and the final product keep an utterance with no valid frame at all weights
    of zero instead of NaN.
    """
    scores = scores.masked_fill(~valid, torch.finfo(scores.dtype).min)
    return scores.softmax(dim=-1) * valid


class FastFormerAttention(nn.Module):
    """Multi-head additive attention (see the module docstring for the equations).

    Arguments
    ---------
    d_model: input and output size D.
    nhead: number of heads H (D must be divisible by H).
    dropout: dropout on the global query, the global key and the output transform.
    share_query_value: W_v = W_q (the paper's parameter sharing) instead of a separate value projection.
    """

    def __init__(self, d_model: int, nhead: int = 1, dropout: float = 0.0, share_query_value: bool = True):
        super().__init__()
        if d_model % nhead:
            raise ValueError(f"FastFormerAttention: d_model={d_model} is not divisible by nhead={nhead}")
        self.nhead, self.d_head = nhead, d_model // nhead
        self.query = nn.Linear(d_model, d_model)  # W_q
        self.key = nn.Linear(d_model, d_model)  # W_k
        self.value = None if share_query_value else nn.Linear(d_model, d_model)  # W_v
        self.query_score = nn.Parameter(torch.empty(nhead, self.d_head))  # w_q, one per head
        self.key_score = nn.Parameter(torch.empty(nhead, self.d_head))  # w_k, one per head
        self.output = nn.Linear(d_model, d_model)  # W_o
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """N(0, 0.02) weights and zero biases, the initialisation of the Fastformer authors' code."""
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)
            else:
                nn.init.zeros_(p)

    def heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, H, T, d_h)."""
        B, T, _ = x.shape
        return x.reshape(B, T, self.nhead, self.d_head).transpose(1, 2)

    def pool(self, x: torch.Tensor, w: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """sum_t softmax_t(w . x_t / sqrt(d_h)) x_t over the valid frames: (B, H, T, d_h) -> (B, H, 1, d_h)."""
        scores = torch.einsum("bhtd,hd->bht", x, w) / self.d_head**0.5  # (B, H, T)
        weights = masked_softmax(scores, valid)  # (B, H, T)
        return self.dropout((weights.unsqueeze(-1) * x).sum(dim=2, keepdim=True))

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

        Self-attention only: ``key``, ``value`` and ``pos_embs`` are accepted for compatibility and
        ignored; a time mask (``attn_mask``) is refused, since the global pooling has no causal form here.
        """
        if attn_mask is not None:
            raise ValueError("FastFormerAttention: attn_mask (a time mask) is not supported")
        x = query  # (B, T, D)
        B, T, D = x.shape
        if key_padding_mask is None:
            valid = torch.ones(B, 1, T, dtype=torch.bool, device=x.device)
        else:
            valid = ~key_padding_mask.bool().unsqueeze(1)  # (B, 1, T): True at real frames

        q_proj = self.query(x)  # (B, T, D)
        q = self.heads(q_proj)  # q_t: (B, H, T, d_h)
        k = self.heads(self.key(x))  # k_t
        v = q if self.value is None else self.heads(self.value(x))  # v_t

        q_bar = self.pool(q, self.query_score, valid)  # global query: (B, H, 1, d_h)
        p = q_bar * k  # p_t: (B, H, T, d_h)
        k_bar = self.pool(p, self.key_score, valid)  # global key: (B, H, 1, d_h)
        u = (k_bar * v).transpose(1, 2).reshape(B, T, D)  # u_t, heads concatenated: (B, T, D)
        return self.dropout(self.output(u)) + q_proj, None  # o_t = W_o u_t + q_t

"""Branchformer variants built from SpeechBrain's ``BranchformerEncoderLayer`` objects, by composition.

SpeechBrain's layer (pre-LN in both branches):

    x1 = dropout(mixer(LN(x)))                     global branch: self-attention or a linear-time mixer
    x2 = dropout(cgMLP(LN(x)))                     local branch: convolutional gating MLP
    x  = x + dropout(merge([x1; x2]))              merge = Linear(2D -> D)

Two variants of the paper's Table 1 change it:

``merge: mlp``  the official SummaryMixing Branchformer recipes merge the branches with a two-layer MLP,
                merge = GELU(Linear(D -> D)(GELU(Linear(2D -> D)(.))))   (paper.md section 4, "Placement").
``cnnonly``     the cgMLP branch alone, as ESPnet's Branchformer with ``use_attn: false``:
                x = x + dropout(x2) = x + dropout(dropout(cgMLP(LN(x))));
                with one branch ESPnet's merge projection is the identity, and both of its dropouts remain.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

MERGES = ("linear", "mlp")  # arch["merge"]; linear is SpeechBrain's own


def merge_mlp(d_model: int) -> nn.Sequential:
    """The two-layer merge of the SummaryMixing recipes: [x1; x2] (2D) -> D -> D, GELU after each."""
    return nn.Sequential(nn.Linear(2 * d_model, d_model), nn.GELU(), nn.Linear(d_model, d_model), nn.GELU())


def set_merge(encoder: nn.Module, merge: str) -> None:
    """Give every layer of a SpeechBrain ``BranchformerEncoder`` the ``merge`` (``MERGES``) of its branches."""
    if merge not in MERGES:
        raise ValueError(f"unknown Branchformer merge {merge!r} (known: {', '.join(MERGES)})")
    if merge == "mlp":
        for layer in encoder.layers:
            layer.merge_proj = merge_mlp(layer.merge_proj.out_features)


class CnnOnlyLayer(nn.Module):
    """A Branchformer layer without its global branch: x + dropout(dropout(cgMLP(LN(x)))).

    Keeps the LayerNorm, cgMLP and dropout of a SpeechBrain ``BranchformerEncoderLayer`` and drops its
    self-attention, its LayerNorm and the merge projection, so they hold no parameters. Called like the
    layer it replaces; masks and positions are accepted and unused (the cgMLP takes none).
    """

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.norm_conv = layer.norm_conv
        self.convolution_branch = layer.convolution_branch
        self.dropout = layer.dropout

    def forward(
        self,
        x: torch.Tensor,
        src_mask: Optional[torch.Tensor] = None,
        src_key_padding_mask: Optional[torch.Tensor] = None,
        pos_embs: Optional[torch.Tensor] = None,
    ) -> tuple[torch.Tensor, None]:
        x2 = self.dropout(self.convolution_branch(self.norm_conv(x)))  # (B, T, D)
        return x + self.dropout(x2), None


def install_cnn_only(encoder: nn.Module, mixer_cfg: dict[str, Any], arch: dict[str, Any]) -> None:
    """Replace every layer of a SpeechBrain ``BranchformerEncoder`` by its ``CnnOnlyLayer``."""
    if (arch.get("merge") or "linear") != "linear":
        raise ValueError(f"cnnonly has one branch and nothing to merge: merge {arch['merge']!r} does not apply")
    encoder.layers = nn.ModuleList(CnnOnlyLayer(layer) for layer in encoder.layers)
    encoder.attention_type = "cnnonly"

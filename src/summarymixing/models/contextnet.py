"""ContextNet encoder (Han et al. 2020, arXiv 2005.03191): SpeechBrain's ``ContextNet`` + a projection.

    fbank (B, T, n_mels) -> C0: depthwise-separable conv, BN, Swish
        -> C1 .. C_N: blocks of ``block_layers`` x [depthwise-separable conv (kernel k), BN],
           squeeze-and-excitation, residual conv, Swish, dropout; some blocks stride 2
        -> C_N+1: depthwise-separable conv, BN, Swish -> (B, T / 2^strides, out_channels)
        -> Linear -> (B, T', d_model), for the same decoder, CTC and classifier heads as other encoders

No token mixer: global context comes from the squeeze-and-excitation of every block, which multiplies
each frame by a gate computed from the mean of the block's output over time.

Settings, from ``arch`` (``models.<size>.contextnet``), with the defaults of the ContextNet paper:
    alpha               1       width multiplier (the paper's S, M, L: 0.5, 1, 2)
    num_encoder_layers  21      blocks C1 .. C21 between the single-conv C0 and C22
    block_layers        5       convolutions per block
    kernel_size         5
    channels            [256, 512]   widths (x alpha) of the blocks before and from ``widen_at``, and of C0
    widen_at            10      first block (0-based) of the wider half: C11
    stride_blocks       [2, 6, 13]   blocks (0-based) that halve the frame rate: C3, C7, C14 (8x)
    out_channels        640     width (x alpha) of C22
    se_inner_dim        12      bottleneck of the squeeze-and-excitation (SpeechBrain's default)
    dropout             0.15    after every block (SpeechBrain's default)
    d_model                     output size, the width of the heads on top

SpeechBrain's block differs from the paper's in ways that are kept as they are: no activation between
the convolutions of a block (only BN); a kernel-3 full convolution on the residual path, where the paper
has a pointwise projection; and an excitation module that first passes the block's output through one
more depthwise-separable convolution, BN and a sigmoid, with sigmoids in both layers of its bottleneck.

Padding: nothing in ContextNet takes a mask. Batch norm normalises with statistics over every frame of
the batch in training (running statistics in eval mode: per frame, so harmless), the excitation averages
over the padded length, and the convolutions read padded frames near the end of an utterance. A valid
frame's output therefore depends on how much padding follows it. Padded input frames are zeroed first,
so at least what the padding holds does not matter.
"""

from __future__ import annotations

from typing import Any

import torch
from speechbrain.lobes.models.ContextNet import ContextNet
from torch import nn

from .encoders import SpeechEncoder, padding_mask

DEFAULTS: dict[str, Any] = dict(
    alpha=1.0,
    num_encoder_layers=21,
    block_layers=5,
    kernel_size=5,
    channels=[256, 512],
    widen_at=10,
    stride_blocks=[2, 6, 13],
    out_channels=640,
    se_inner_dim=12,
    dropout=0.15,
)


class ContextNetEncoder(SpeechEncoder):
    """``forward(feats (B, T, n_mels), rel_lens (B,)) -> (B, T', d_model)``, T' = ceil(T / 2^len(stride_blocks))."""

    def __init__(self, arch: dict[str, Any], n_mels: int):
        super().__init__()
        if arch.get("mixer") is not None:
            raise ValueError(f"contextnet takes no token mixer, got mixer {arch['mixer']!r}")
        cfg = {key: default if arch.get(key) is None else arch[key] for key, default in DEFAULTS.items()}
        alpha, num_blocks = cfg["alpha"], cfg["num_encoder_layers"]
        narrow, wide = (int(c * alpha) for c in cfg["channels"])
        if any(not 0 <= b < num_blocks for b in cfg["stride_blocks"]):
            raise ValueError(f"contextnet: stride_blocks {cfg['stride_blocks']} must lie in 0 .. {num_blocks - 1}")
        out_channels = int(cfg["out_channels"] * alpha)
        self.d_model = arch["d_model"]
        self.subsampling = 2 ** len(cfg["stride_blocks"])
        self.contextnet = ContextNet(
            input_shape=(8, 10 * self.subsampling, n_mels),  # a dummy batch long enough for every stride
            out_channels=out_channels,
            conv_channels=[narrow if i < cfg["widen_at"] else wide for i in range(num_blocks)],
            kernel_size=cfg["kernel_size"],
            strides=[2 if i in cfg["stride_blocks"] else 1 for i in range(num_blocks)],
            num_blocks=num_blocks,
            num_layers=cfg["block_layers"],
            inner_dim=cfg["se_inner_dim"],
            alpha=1,  # the widths above are already scaled
            dropout=cfg["dropout"],
        )
        # building ran that dummy batch of zeros through the network in training mode: forget its statistics
        for module in self.contextnet.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
        self.output_proj = nn.Linear(out_channels, self.d_model)

    def forward(self, feats: torch.Tensor, rel_lens: torch.Tensor) -> torch.Tensor:
        valid = (~padding_mask(feats, rel_lens)).unsqueeze(-1).to(feats.dtype)  # (B, T, 1)
        x = self.contextnet(feats * valid)  # (B, T', out_channels)
        return self.output_proj(x)  # (B, T', d_model)

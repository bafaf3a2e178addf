"""Batches of precomputed features, from lhotse cuts, for training and decoding.

A lhotse sampler yields ``CutSet``s of at most ``max_duration`` seconds of audio (dynamic batching,
bucketed by duration for training); the task's batch dataset (``Task.batches``) turns each into
padded tensors.
"""

from __future__ import annotations

from pathlib import Path

import torch


def load_cuts(path: Path):
    """Cuts with features, with a clear error if the features stage has not produced them."""
    from lhotse import load_manifest

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: missing; run `summarymixing features` for this split first")
    return load_manifest(path)


def make_loader(cuts, batches: torch.utils.data.Dataset, max_duration: float, train: bool, seed: int = 0,
                num_buckets: int = 10, max_cuts: int | None = None):
    """A DataLoader over dynamic batches of ``cuts``; bucketed and shuffled for training."""
    from lhotse.dataset import DynamicBucketingSampler, SimpleCutSampler

    if train:
        sampler = DynamicBucketingSampler(
            cuts, max_duration=max_duration, max_cuts=max_cuts, shuffle=True, num_buckets=num_buckets, seed=seed,
            drop_last=False,
        )  # fmt: skip
    else:
        sampler = SimpleCutSampler(cuts, max_duration=max_duration, max_cuts=max_cuts, shuffle=False)
    loader = torch.utils.data.DataLoader(batches, sampler=sampler, batch_size=None, num_workers=0)
    return loader, sampler

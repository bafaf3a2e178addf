"""Batches of precomputed features and token ids, from lhotse cuts, for training and decoding.

A lhotse sampler yields ``CutSet``s of at most ``max_duration`` seconds of audio (dynamic batching,
bucketed by duration for training); ``AsrBatches`` turns each into padded tensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence

from .stages.tokenizer import BOS_ID, EOS_ID, PAD_ID


class AsrBatches(torch.utils.data.Dataset):
    """Map a ``CutSet`` (one batch) to a dict of padded tensors.

    feats (B, T, F), feat_rel_lens (B,) relative lengths in (0, 1] as SpeechBrain expects, tokens (B, L)
    without bos/eos, tokens_bos (B, L+1), tokens_eos (B, L+1), token_rel_lens and token_eos_rel_lens,
    plus the cut ids, the reference texts and the durations.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __getitem__(self, cuts) -> dict[str, Any]:
        from lhotse.dataset.collation import collate_features

        cuts = cuts.sort_by_duration(ascending=False)
        feats, feat_lens = collate_features(cuts)
        texts = [" ".join(s.text for s in cut.supervisions) for cut in cuts]
        ids = [torch.tensor(self.tokenizer.encode(t), dtype=torch.long) for t in texts]
        bos, eos = torch.tensor([BOS_ID]), torch.tensor([EOS_ID])
        token_lens = torch.tensor([len(t) for t in ids], dtype=torch.float)
        return {
            "ids": [cut.id for cut in cuts],
            "texts": texts,
            "durations": [cut.duration for cut in cuts],
            "feats": feats,
            "feat_rel_lens": feat_lens.float() / feat_lens.max(),
            "tokens": pad_sequence(ids, batch_first=True, padding_value=PAD_ID),
            "token_rel_lens": token_lens / token_lens.max().clamp(min=1),
            "tokens_bos": pad_sequence([torch.cat([bos, t]) for t in ids], batch_first=True, padding_value=PAD_ID),
            "tokens_eos": pad_sequence([torch.cat([t, eos]) for t in ids], batch_first=True, padding_value=PAD_ID),
            "token_eos_rel_lens": (token_lens + 1) / (token_lens.max() + 1),
        }


def load_cuts(path: Path):
    """Cuts with features, with a clear error if the features stage has not produced them."""
    from lhotse import load_manifest

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: missing; run `summarymixing features` for this dataset first")
    return load_manifest(path)


def make_loader(cuts, tokenizer, max_duration: float, train: bool, seed: int = 0, num_buckets: int = 10):
    """A DataLoader over dynamic batches of ``cuts``; bucketed and shuffled for training."""
    from lhotse.dataset import DynamicBucketingSampler, SimpleCutSampler

    if train:
        sampler = DynamicBucketingSampler(
            cuts, max_duration=max_duration, shuffle=True, num_buckets=num_buckets, seed=seed, drop_last=False
        )
    else:
        sampler = SimpleCutSampler(cuts, max_duration=max_duration, shuffle=False)
    loader = torch.utils.data.DataLoader(AsrBatches(tokenizer), sampler=sampler, batch_size=None, num_workers=0)
    return loader, sampler

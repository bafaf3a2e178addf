"""Stage ``features``: 80-dim log-mel filterbanks, computed once per split and shared by every model.

Reads ``data/<dataset>/manifests/cuts_<split>.jsonl.gz`` and writes, per split,
``data/<dataset>/features/feats_<split>/`` (lhotse's lilcom-compressed chunked storage) and
``data/<dataset>/features/cuts_<split>.jsonl.gz`` (the cuts, pointing at their features). The cuts file
is written last and atomically: it is the split's completion marker, so a killed run recomputes only
the unfinished splits.
"""

from __future__ import annotations

import argparse
import logging
import os

from .. import paths
from ..config import dataset_config, dataset_splits, load_params
from ..io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)

PARALLEL_ABOVE_CUTS = 20_000


def extractor_from_params(features: dict):
    """The lhotse feature extractor described by ``params.yaml: features``."""
    from lhotse import Fbank, FbankConfig

    return Fbank(
        FbankConfig(
            num_mel_bins=features["num_mel_bins"],
            frame_shift=features.get("frame_shift_ms", 10) / 1000,
            frame_length=features.get("frame_length_ms", 25) / 1000,
        )
    )


def run(args: argparse.Namespace) -> None:
    import torch
    from lhotse import LilcomChunkyWriter, load_manifest

    # fbank of one utterance is a handful of small tensor ops: extra threads only wait on each other
    # (and stall badly when another job holds a core)
    torch.set_num_threads(1)

    params = load_params(args.params)
    cfg = dataset_config(params, args.dataset)
    out_dir = paths.features_dir(args.dataset)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings_file = out_dir / "settings.json"
    if settings_file.is_file() and read_json(settings_file) != params["features"]:
        log.warning("%s: feature settings changed; recomputing every split", out_dir)
        for split in dataset_splits(cfg):
            paths.cuts_path(args.dataset, split).unlink(missing_ok=True)
    write_json(settings_file, params["features"])

    extractor = extractor_from_params(params["features"])
    cpus = max(1, min(8, len(os.sched_getaffinity(0))))  # the CPUs this job may use (SLURM restricts them)
    for split in dataset_splits(cfg):
        target = paths.cuts_path(args.dataset, split)
        if target.is_file():
            log.info("%s: done already", target)
            continue
        manifest = paths.manifests_dir(args.dataset) / f"cuts_{split}.jsonl.gz"
        if not manifest.is_file():
            raise FileNotFoundError(f"{manifest}: missing; run `summarymixing prepare --dataset {args.dataset}` first")
        cuts = load_manifest(manifest)
        # fbank runs at ~2000x real time on one core: worker processes only pay off on big splits
        num_jobs = cpus if len(cuts) > PARALLEL_ABOVE_CUTS else 1
        log.info("%s: fbank for %d cuts (%.2f h) with %d job(s)", split, len(cuts), sum(c.duration for c in cuts) / 3600, num_jobs)
        cuts = cuts.compute_and_store_features(
            extractor=extractor,
            storage_path=out_dir / f"feats_{split}",
            storage_type=LilcomChunkyWriter,
            num_jobs=num_jobs,
        )
        with atomic_path(target) as tmp:
            cuts.to_file(tmp)
    log.info("%s: features ready", out_dir)

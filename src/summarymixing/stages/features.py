"""``summarymixing features --dataset X --split S``: 80-dim log-mel filterbanks of one split, computed
once and shared by every model.

Reads ``data/<dataset>/manifests/<S>/cuts.jsonl.gz`` and writes ``data/<dataset>/features/<S>/``:
``feats/`` (lhotse's lilcom-compressed chunked storage), ``settings.json`` and ``cuts.jsonl.gz`` (the
cuts, pointing at their features). The cuts file is written last and atomically: it is the split's
completion marker, so a killed run starts the split again, and a finished split with the same
settings is not recomputed.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil

from .. import paths
from ..config import load_params
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
    dataset, split = args.dataset, args.split
    out_dir = paths.features_dir(dataset, split)
    target = paths.cuts_path(dataset, split)
    settings_file = out_dir / "settings.json"
    if target.is_file() and settings_file.is_file() and read_json(settings_file) == params["features"]:
        log.info("%s: done already", target)
        return
    manifest = paths.manifest_cuts(dataset, split)
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: missing; run `summarymixing prepare --dataset {dataset} --split {split}` first")
    shutil.rmtree(out_dir, ignore_errors=True)  # a killed or outdated computation
    out_dir.mkdir(parents=True)

    cuts = load_manifest(manifest)
    cpus = max(1, min(8, len(os.sched_getaffinity(0))))  # the CPUs this job may use (SLURM restricts them)
    # fbank runs at ~2000x real time on one core: worker processes only pay off on big splits
    num_jobs = cpus if len(cuts) > PARALLEL_ABOVE_CUTS else 1
    log.info("%s %s: fbank for %d cuts (%.2f h) with %d job(s)", dataset, split, len(cuts),
             sum(c.duration for c in cuts) / 3600, num_jobs)
    cuts = cuts.compute_and_store_features(
        extractor=extractor_from_params(params["features"]),
        storage_path=out_dir / "feats",
        storage_type=LilcomChunkyWriter,
        num_jobs=num_jobs,
    )
    write_json(settings_file, params["features"])
    with atomic_path(target) as tmp:
        cuts.to_file(tmp)
    log.info("%s: features ready", out_dir)

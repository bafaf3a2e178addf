"""``summarymixing prepare --dataset X --split S``: lhotse manifests of one split.

Calls the corpus recipe's ``prepare_<corpus>`` with the unpacked archives the split is made from
(``SPLITS[S]`` -> ``data/<dataset>/corpus/<archive>/``) and the dataset's ``prepare`` options, writing
``recordings``, ``supervisions`` and ``cuts`` (``.jsonl.gz``) into ``data/<dataset>/manifests/<S>/``
(all at once). If the split's manifests exist already, nothing is done.
"""

from __future__ import annotations

import argparse
import logging
import os

from summarymixing import paths
from summarymixing.config import dataset_config, load_params
from summarymixing.corpora import MANIFEST_KINDS, manifest_file, recipe

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    dataset, split = args.dataset, args.split
    cfg = dataset_config(params, dataset)
    corpus = cfg["corpus"]
    module = recipe(corpus)
    if split not in module.SPLITS:
        raise ValueError(f"corpus {corpus!r} has no split {split!r} (known: {', '.join(module.SPLITS)})")
    output_dir = paths.manifests_dir(dataset, split)
    if all(manifest_file(output_dir, kind).is_file() for kind in MANIFEST_KINDS):
        log.info("%s: manifests of %s already in %s: nothing to do", dataset, split, output_dir)
        return
    archive_dirs = {name: paths.corpus_dir(dataset, name) for name in module.SPLITS[split]}
    for name, directory in archive_dirs.items():
        if not directory.is_dir():
            raise FileNotFoundError(f"{directory}: missing; run `summarymixing download --dataset {dataset} --archive {name}` first")
    options = dict(cfg.get("prepare") or {})
    log.info("%s: preparing %s from %s into %s", dataset, split, ", ".join(map(str, archive_dirs.values())), output_dir)
    prepare = getattr(module, f"prepare_{corpus}")
    if "num_jobs" in prepare.__code__.co_varnames:
        options.setdefault("num_jobs", min(8, len(os.sched_getaffinity(0))))
    cuts = prepare(archive_dirs, split, output_dir, **options)
    log.info("%s: %s: %d cuts, %.2f h, manifests in %s", dataset, split, len(cuts), sum(c.duration for c in cuts) / 3600, output_dir)

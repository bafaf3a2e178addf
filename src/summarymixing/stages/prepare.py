"""``summarymixing prepare --dataset X``: lhotse manifests of every split of a dataset.

Calls the corpus recipe's ``prepare_<corpus>`` on ``data/<dataset>/corpus/<CORPUS_DIRNAME>`` for the
training, validation and test splits of ``params.yaml``, writing recordings, supervisions and cuts
per split into ``data/<dataset>/manifests/`` (all at once: the directory is replaced atomically).
If every split's manifests exist already, nothing is done.
"""

from __future__ import annotations

import argparse
import logging
import os

from summarymixing import paths
from summarymixing.config import dataset_config, dataset_splits, load_params
from summarymixing.corpora import recipe

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    dataset = args.dataset
    cfg = dataset_config(params, dataset)
    corpus = cfg["corpus"]
    corpus_recipe = recipe(corpus)
    splits = dataset_splits(cfg)
    output_dir = paths.manifests_dir(dataset)

    missing = [
        path for split in splits for path in corpus_recipe.manifest_paths(output_dir, split).values() if not path.is_file()
    ]
    if not missing:
        log.info("%s: manifests of %s already in %s: nothing to do", dataset, ", ".join(splits), output_dir)
        return

    corpus_dir = paths.corpus_dir(dataset) / corpus_recipe.CORPUS_DIRNAME
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"{corpus_dir}: missing; run `summarymixing download --dataset {dataset}` first")
    log.info("%s: preparing %s from %s into %s", dataset, ", ".join(splits), corpus_dir, output_dir)
    prepare = getattr(corpus_recipe, f"prepare_{corpus}")
    prepare(corpus_dir, output_dir, splits, num_jobs=min(8, os.cpu_count() or 1))
    log.info("%s: manifests written to %s", dataset, output_dir)

"""``summarymixing download --dataset X``: fetch, verify and extract a corpus's archives.

Reads the archive list pinned by the ``source`` stage (``data/<dataset>/source/source.json``: base
URL, file names, md5s, sizes) and calls the corpus recipe's ``download_<corpus>``, which downloads
into ``data/<dataset>/archives/`` (resumable, md5-checked) and extracts into
``data/<dataset>/corpus/``. Splits already extracted are skipped, so a second run does nothing.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from summarymixing import paths
from summarymixing.config import dataset_config, load_params
from summarymixing.corpora import recipe
from summarymixing.io import read_json

log = logging.getLogger(__name__)

ARCHIVE_KEYS = ("split", "file", "md5")


def read_source(dataset: str, corpus: str) -> dict[str, Any]:
    """``source.json`` of ``dataset``, checked against the dataset's corpus; errors name the file."""
    source_json = paths.source_dir(dataset) / "source.json"
    if not source_json.is_file():
        raise FileNotFoundError(f"{source_json}: missing; run `summarymixing source --dataset {dataset}` first")
    source = read_json(source_json)
    if source.get("dataset") != dataset or source.get("corpus") != corpus:
        raise ValueError(
            f"{source_json}: describes dataset {source.get('dataset')!r} of corpus {source.get('corpus')!r}, "
            f"expected {dataset!r} of {corpus!r}; run `summarymixing source --dataset {dataset}` again"
        )
    if not source.get("base_url") or not isinstance(source.get("archives"), list):
        raise ValueError(f"{source_json}: needs 'base_url' and a list 'archives'")
    for i, archive in enumerate(source["archives"]):
        missing = [key for key in ARCHIVE_KEYS if not archive.get(key)]
        if missing:
            raise ValueError(f"{source_json}: archives[{i}] lacks {', '.join(missing)}")
    return source


def run(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    dataset = args.dataset
    corpus = dataset_config(params, dataset)["corpus"]
    source = read_source(dataset, corpus)
    download = getattr(recipe(corpus), f"download_{corpus}")

    archives_dir, corpus_dir = paths.archives_dir(dataset), paths.corpus_dir(dataset)
    splits = ", ".join(a["split"] for a in source["archives"])
    log.info("%s: %d archives (%s) from %s -> %s, extracted into %s",
             dataset, len(source["archives"]), splits, source["base_url"], archives_dir, corpus_dir)
    corpus_root: Path = download(
        target_dir=corpus_dir, archives=source["archives"], base_url=source["base_url"], archives_dir=archives_dir
    )
    log.info("%s: corpus ready in %s", dataset, corpus_root)

"""``summarymixing download --dataset X --archive A``: fetch, verify and unpack one archive.

Reads the archive's entry pinned by the ``source`` stage (``data/<dataset>/source/source.json``: URL,
file name, checksum, size) and calls the corpus recipe's ``download_<corpus>``, which downloads into
``data/<dataset>/archives/`` (resumable, checksum-verified) and unpacks into
``data/<dataset>/corpus/<A>/``. A second run finds the ``.completed`` marker and does nothing.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from summarymixing import paths
from summarymixing.config import dataset_config, load_params
from summarymixing.corpora import recipe
from summarymixing.io import read_json

log = logging.getLogger(__name__)

ARCHIVE_KEYS = ("file", "url", "checksum")


def read_source(dataset: str, corpus: str) -> dict[str, Any]:
    """``source.json`` of ``dataset``, checked against the dataset's corpus; errors name the file."""
    source_json = paths.source_json(dataset)
    if not source_json.is_file():
        raise FileNotFoundError(f"{source_json}: missing; run `summarymixing source --dataset {dataset}` first")
    source = read_json(source_json)
    if source.get("dataset") != dataset or source.get("corpus") != corpus:
        raise ValueError(
            f"{source_json}: describes dataset {source.get('dataset')!r} of corpus {source.get('corpus')!r}, "
            f"expected {dataset!r} of {corpus!r}; run `summarymixing source --dataset {dataset}` again"
        )
    if not isinstance(source.get("archives"), dict):
        raise ValueError(f"{source_json}: needs an 'archives' mapping")
    for name, entry in source["archives"].items():
        missing = [key for key in ARCHIVE_KEYS if not entry.get(key)]
        if missing:
            raise ValueError(f"{source_json}: archives.{name} lacks {', '.join(missing)}")
    return source


def run(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    dataset, name = args.dataset, args.archive
    corpus = dataset_config(params, dataset)["corpus"]
    source = read_source(dataset, corpus)
    if name not in source["archives"]:
        raise ValueError(f"{paths.source_json(dataset)}: no archive {name!r} (known: {', '.join(source['archives'])})")
    entry = source["archives"][name]
    download = getattr(recipe(corpus), f"download_{corpus}")
    target = paths.corpus_dir(dataset, name)
    log.info("%s: %s from %s -> %s", dataset, entry["file"], entry["url"], target)
    download(entry, paths.archives_dir(dataset), target)
    log.info("%s: %s ready in %s", dataset, name, target)

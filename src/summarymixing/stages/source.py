"""``summarymixing source --dataset X``: pin where every archive of a corpus comes from, and its checksum.

Writes ``data/<dataset>/source/`` (atomically: it appears complete or not at all) with ``source.json``::

    {"dataset": ..., "corpus": ..., "source": "real" | "replica",
     "archives": {name: {"file": ..., "url": ..., "checksum": "md5:..." | "sha256:...", "bytes": ...}},
     "settings_hash": ...}

so that ``download`` runs the same code for a real corpus and for a synthetic replica:

* ``source: real``: the archives are the recipe's ``ARCHIVES`` (URLs and checksums pinned in
  ``corpora/<corpus>.py``); a dataset ``url`` (a mirror) replaces each URL's directory.
* ``source: replica``: the replica is synthesised into this directory first (``corpora.replica``);
  each URL is then ``<url or this directory>/<file>``, relative to the repository root.

Every archive of the corpus (or of the replica) is listed, whichever splits the dataset uses: adding
a split to the grid then changes nothing here (only new download jobs appear). A second run with the same settings
(``corpus``, ``source``, ``url``, the ``replica`` block without its worker count, and for a real
corpus the recipe's archives) finds ``source.json`` up to date and does nothing.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from summarymixing import paths
from summarymixing.config import dataset_config, load_params, params_hash
from summarymixing.corpora import recipe, replica_module
from summarymixing.corpora.fetch import checksum_matches, split_checksum
from summarymixing.io import atomic_dir, file_checksum, read_json, write_json

log = logging.getLogger(__name__)

SOURCE_JSON = "source.json"


def source_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """The dataset settings a source directory is made from (a description or worker count is not one)."""
    settings = {key: cfg.get(key) for key in ("corpus", "source", "url")}
    if cfg["source"] == "replica":
        ignored = set(getattr(replica_module(cfg["corpus"]), "WORKER_KEYS", ()))
        settings["replica"] = {k: v for k, v in (cfg.get("replica") or {}).items() if k not in ignored}
    return settings


def real_archives(corpus: str, mirror: str | None) -> dict[str, dict[str, Any]]:
    """The recipe's archives; with a ``mirror``, each URL's directory becomes the mirror."""
    archives = {}
    for name, archive in recipe(corpus).ARCHIVES.items():
        entry = archive.to_dict()
        if mirror:
            entry["url"] = f"{mirror.rstrip('/')}/{archive.file}"
        archives[name] = entry
    return archives


def _up_to_date(source_dir: Path, settings_hash: str) -> bool:
    """Whether ``source_dir`` was made from the same settings and its replica files are intact."""
    source_json = source_dir / SOURCE_JSON
    if not source_json.is_file():
        return False
    try:
        existing = read_json(source_json)
    except ValueError:
        return False
    if existing.get("settings_hash") != settings_hash:
        return False
    if existing.get("source") == "replica":
        for entry in existing.get("archives", {}).values():
            path = source_dir / entry["file"]
            algorithm, expected = split_checksum(entry["checksum"])
            if not path.is_file() or not checksum_matches(file_checksum(path, algorithm), expected):
                log.warning("%s: missing or modified, synthesising the replica again", path)
                return False
    return True


def write_source(dataset: str, cfg: dict[str, Any]) -> Path:
    """Write ``data/<dataset>/source/`` for the ``datasets.<dataset>`` block ``cfg``; return its path."""
    source_dir = paths.source_dir(dataset)
    corpus, source = cfg["corpus"], cfg["source"]
    module = recipe(corpus)
    settings = source_settings(cfg)
    archives = real_archives(corpus, cfg.get("url")) if source == "real" else None
    settings_hash = params_hash({"settings": settings, "real_archives": archives})
    if _up_to_date(source_dir, settings_hash):
        log.info("%s: %s is up to date", dataset, source_dir / SOURCE_JSON)
        return source_dir

    with atomic_dir(source_dir) as tmp:
        if source == "replica":
            log.info("%s: synthesising the %s replica into %s", dataset, corpus, source_dir)
            summary = replica_module(corpus).synthesize(tmp, cfg["replica"])
            unknown = [name for name in summary["archives"] if name not in module.ARCHIVES]
            if unknown:
                raise ValueError(f"the {corpus} replica produced archive(s) the recipe does not know: {', '.join(unknown)}")
            base = (cfg.get("url") or source_dir.as_posix()).rstrip("/")
            archives = {
                name: {"file": entry["file"], "url": f"{base}/{entry['file']}", "checksum": entry["checksum"],
                       "bytes": entry.get("bytes")}
                for name, entry in summary["archives"].items()
            }  # fmt: skip
        elif source != "real":
            raise ValueError(f"datasets.{dataset}.source: {source!r} is neither 'real' nor 'replica'")
        write_json(tmp / SOURCE_JSON, {
            "dataset": dataset, "corpus": corpus, "source": source, "archives": archives, "settings_hash": settings_hash,
        })  # fmt: skip
    log.info("%s: %d archives pinned in %s", dataset, len(archives), source_dir / SOURCE_JSON)
    return source_dir


def run(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    write_source(args.dataset, dataset_config(params, args.dataset))

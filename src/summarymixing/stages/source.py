"""``summarymixing source --dataset X``: pin where a corpus comes from and the md5s of its archives.

Writes ``data/<dataset>/source/`` (atomically: it appears complete or not at all) with ``source.json``::

    {"dataset": ..., "corpus": "librispeech", "source": "real" | "replica", "base_url": ...,
     "archives": [{"split": ..., "file": ..., "md5": ..., "bytes": ...}, ...], "params_hash": ...}

and ``md5sum.txt`` (``<md5>  <file>`` lines, like openslr's), so that ``download`` runs the same code
for a real corpus and for a synthetic replica:

* ``source: real``: the archives and md5s are the recipe's constants (``corpora/<corpus>.py``:
  ``ARCHIVES``, and ``ARCHIVE_BYTES`` if it has them); ``base_url`` is the dataset's ``url`` param,
  else the recipe's ``BASE_URL``.
* ``source: replica``: the replica is synthesised into this directory first (archives + md5sum.txt);
  ``base_url`` is the dataset's ``url`` param (e.g. an http mirror serving this directory), else this
  directory's path, relative to the repository root like every path of the pipeline.

Only the splits the dataset uses are listed: train_splits, valid_split, test_splits. A second run with
the same settings (a hash of the dataset's ``corpus``, ``source``, ``url``, splits and ``replica``
block, and for a real corpus of the recipe's archive list) finds ``source.json`` up to date and does
nothing.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from summarymixing import paths
from summarymixing.config import dataset_config, dataset_splits, load_params, params_hash
from summarymixing.corpora import recipe
from summarymixing.io import atomic_dir, md5sum, read_json, write_json, write_text

log = logging.getLogger(__name__)

SOURCE_JSON = "source.json"
MD5SUM_TXT = "md5sum.txt"
# The dataset settings a source directory is made from; the rest (tokenizer, description) does not matter.
SOURCE_KEYS = ("corpus", "source", "url", "train_splits", "valid_split", "test_splits", "replica")
# corpus -> the replica synthesiser ("module:function", imported only when needed)
REPLICA_SYNTHESIZERS = {
    "librispeech": "summarymixing.corpora.replica.librispeech:synthesize_librispeech_replica",
}


def real_archives(corpus: str, splits: list[str]) -> list[dict[str, Any]]:
    """The official archives of ``splits`` from the recipe's constants (``bytes`` null if unknown)."""
    module = recipe(corpus)
    archives: dict[str, tuple[str, str]] = module.ARCHIVES
    sizes: dict[str, int] = getattr(module, "ARCHIVE_BYTES", {})
    unknown = [split for split in splits if split not in archives]
    if unknown:
        raise ValueError(f"corpus {corpus!r} has no split(s) {', '.join(unknown)} (known: {', '.join(archives)})")
    return [{"split": s, "file": archives[s][0], "md5": archives[s][1], "bytes": sizes.get(s)} for s in splits]


def synthesize_replica(
    corpus: str, out_dir: Path, replica_cfg: dict[str, Any], splits: list[str]
) -> list[dict[str, Any]]:
    """Synthesise ``corpus``'s replica into ``out_dir``; return the archive entries of ``splits``."""
    import importlib

    if corpus not in REPLICA_SYNTHESIZERS:
        raise ValueError(f"no synthetic replica for corpus {corpus!r} (known: {', '.join(REPLICA_SYNTHESIZERS)})")
    missing = [split for split in splits if split not in replica_cfg.get("utterances", {})]
    if missing:
        raise ValueError(f"replica.utterances has no entry for split(s) {', '.join(missing)} that the dataset uses")
    module_name, function_name = REPLICA_SYNTHESIZERS[corpus].split(":")
    synthesize = getattr(importlib.import_module(module_name), function_name)
    summary = synthesize(out_dir, replica_cfg)
    by_split = {archive["split"]: archive for archive in summary["archives"]}
    return [{key: by_split[split][key] for key in ("split", "file", "md5", "bytes")} for split in splits]


def _up_to_date(source_dir: Path, settings_hash: str) -> bool:
    """Whether ``source_dir`` was made from the same settings and its replica archives are intact."""
    source_json = source_dir / SOURCE_JSON
    if not source_json.is_file():
        return False
    try:
        existing = read_json(source_json)
    except ValueError:
        return False
    if existing.get("params_hash") != settings_hash:
        return False
    if existing.get("source") == "replica":
        for archive in existing.get("archives", []):
            path = source_dir / archive["file"]
            if not path.is_file() or md5sum(path) != archive["md5"]:
                log.warning("%s: missing or modified, synthesising the replica again", path)
                return False
    return True


def write_source(dataset: str, cfg: dict[str, Any]) -> Path:
    """Write ``data/<dataset>/source/`` for the ``datasets.<dataset>`` block ``cfg``; return its path."""
    source_dir = paths.source_dir(dataset)
    corpus, source = cfg["corpus"], cfg["source"]
    splits = dataset_splits(cfg)
    archives = real_archives(corpus, splits) if source == "real" else None
    settings = {key: cfg.get(key) for key in SOURCE_KEYS}
    settings_hash = params_hash({"settings": settings, "real_archives": archives})
    if _up_to_date(source_dir, settings_hash):
        log.info("%s: %s is up to date", dataset, source_dir / SOURCE_JSON)
        return source_dir

    with atomic_dir(source_dir) as tmp:
        if source == "replica":
            log.info("%s: synthesising the %s replica (%s) into %s", dataset, corpus, ", ".join(splits), source_dir)
            archives = synthesize_replica(corpus, tmp, cfg["replica"], splits)
            base_url = cfg.get("url") or source_dir.as_posix()
        elif source == "real":
            write_text(tmp / MD5SUM_TXT, "".join(f"{a['md5']}  {a['file']}\n" for a in archives))
            base_url = cfg.get("url") or recipe(corpus).BASE_URL
        else:
            raise ValueError(f"datasets.{dataset}.source: {source!r} is neither 'real' nor 'replica'")
        write_json(
            tmp / SOURCE_JSON,
            {
                "dataset": dataset,
                "corpus": corpus,
                "source": source,
                "base_url": base_url,
                "archives": archives,
                "params_hash": settings_hash,
            },
        )
    log.info("%s: %d archives pinned in %s (base URL %s)", dataset, len(archives), source_dir / SOURCE_JSON, base_url)
    return source_dir


def run(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    write_source(args.dataset, dataset_config(params, args.dataset))

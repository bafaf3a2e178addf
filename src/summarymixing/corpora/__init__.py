"""Corpus recipes, one file per corpus (after lhotse's ``recipes/``).

Each recipe module defines, at the top, its official download URL, its archives and their md5s as
module constants, and two public functions of the same shape in every file:

* ``download_<corpus>(target_dir, archives, base_url, archives_dir) -> Path``: fetch (resumable),
  verify md5, safely extract; idempotent through ``.completed`` markers.
* ``prepare_<corpus>(corpus_dir, output_dir, splits) -> dict``: write lhotse manifests, including
  ``cuts_<split>.jsonl.gz`` (cut id = utterance id) that the later stages read.

plus ``CORPUS_DIRNAME`` (the top directory inside the archives, e.g. ``LibriSpeech``) and
``manifest_paths(output_dir, split)``.

Synthetic replicas of the corpora (same layout, generated offline) live in ``corpora.replica``.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def recipe(corpus: str) -> ModuleType:
    """The recipe module of ``corpus`` (``summarymixing.corpora.<corpus>``)."""
    try:
        return importlib.import_module(f"summarymixing.corpora.{corpus}")
    except ModuleNotFoundError as e:
        if e.name == f"summarymixing.corpora.{corpus}":
            raise ValueError(f"no recipe for corpus {corpus!r} (expected src/summarymixing/corpora/{corpus}.py)") from None
        raise

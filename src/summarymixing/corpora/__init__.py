"""Corpus recipes, one file per corpus (after lhotse's ``recipes/``).

A recipe module ``summarymixing.corpora.<corpus>`` starts with a docstring about the corpus and
defines, as module constants:

* ``ARCHIVES: dict[str, Archive]``: every file the corpus is distributed as, by name (the name is also
  the directory it is unpacked into: ``data/<dataset>/corpus/<name>/``): a tarball or a plain file
  (e.g. a jsonl of labels), its URL, its checksum (``md5:<hex>`` or ``sha256:<hex>``, as published)
  and its size in bytes (None if unknown).
* ``SPLITS: dict[str, tuple[str, ...]]``: the archives each split is prepared from. Many to many:
  a split may need several archives (SLURP's training set: two text files and two audio archives),
  an archive may serve several splits (Speech Commands' main archive: train and validation).

and two public functions of the same shape in every file:

* ``download_<corpus>(entry: dict, archives_dir: Path, target_dir: Path) -> Path``: one archive of
  ``source.json`` (``file``, ``url``, ``checksum``, ``bytes``): fetch it (resumable, verified) into
  ``archives_dir`` and unpack it into ``target_dir`` (usually ``fetch.fetch_archive`` with the
  corpus's layout), idempotent through a ``.completed`` marker.
* ``prepare_<corpus>(archive_dirs: dict[str, Path], split: str, output_dir: Path, **options) -> CutSet``:
  the lhotse manifests of one split, ``recordings.jsonl.gz``, ``supervisions.jsonl.gz`` and
  ``cuts.jsonl.gz``, written into ``output_dir`` (all at once: ``io.atomic_dir``). ``archive_dirs``
  maps each archive of ``SPLITS[split]`` to its unpacked directory; ``options`` is the dataset's
  ``prepare`` block of params.yaml. One cut per utterance, named by the utterance id, with exactly
  one supervision: ``text`` is the transcript (for keyword spotting: the spoken word), ``custom`` holds
  the task labels (SLURP: scenario, action, entities). Bad input raises ``ValueError`` naming the file.

Synthetic replicas (same files, same layout, generated offline) live in ``corpora.replica``; the
same two functions download and prepare them.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Archive:
    """One file a corpus is distributed as."""

    file: str  # file name, as published
    url: str  # where the real corpus serves it
    checksum: str  # "md5:<hex>" | "sha256:<hex>"
    bytes: int | None = None  # size, if known

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recipe(corpus: str) -> ModuleType:
    """The recipe module of ``corpus`` (``summarymixing.corpora.<corpus>``)."""
    try:
        return importlib.import_module(f"summarymixing.corpora.{corpus}")
    except ModuleNotFoundError as e:
        if e.name == f"summarymixing.corpora.{corpus}":
            raise ValueError(f"no recipe for corpus {corpus!r} (expected src/summarymixing/corpora/{corpus}.py)") from None
        raise


def replica_module(corpus: str) -> ModuleType:
    """The replica synthesiser of ``corpus`` (``summarymixing.corpora.replica.<corpus>``)."""
    try:
        return importlib.import_module(f"summarymixing.corpora.replica.{corpus}")
    except ModuleNotFoundError as e:
        if e.name == f"summarymixing.corpora.replica.{corpus}":
            raise ValueError(f"no synthetic replica for corpus {corpus!r} (expected src/summarymixing/corpora/replica/{corpus}.py)") from None
        raise


def split_archives(corpus: str, splits: list[str]) -> list[str]:
    """The archives ``splits`` are prepared from, each once, in the recipe's order."""
    module = recipe(corpus)
    unknown = [split for split in splits if split not in module.SPLITS]
    if unknown:
        raise ValueError(f"corpus {corpus!r} has no split(s) {', '.join(unknown)} (known: {', '.join(module.SPLITS)})")
    needed = {name for split in splits for name in module.SPLITS[split]}
    return [name for name in module.ARCHIVES if name in needed]


MANIFEST_KINDS = ("recordings", "supervisions", "cuts")


def manifest_file(output_dir, kind: str):
    """``output_dir/<kind>.jsonl.gz``: the files ``prepare_<corpus>`` writes for one split."""
    from pathlib import Path

    return Path(output_dir) / f"{kind}.jsonl.gz"


def utterance_cuts(recordings, supervisions):
    """One cut per recording, named after it (lhotse would append a loop index), with its one supervision.

    Raises ``ValueError`` naming the recording if it has no supervision or several.
    """
    from lhotse import CutSet
    from lhotse.utils import fastcopy

    cuts = sorted(
        (fastcopy(cut, id=cut.recording_id) for cut in CutSet.from_manifests(recordings=recordings, supervisions=supervisions)),
        key=lambda cut: cut.id,
    )
    for cut in cuts:
        if len(cut.supervisions) != 1:
            raise ValueError(f"utterance {cut.id}: {len(cut.supervisions)} supervisions, expected exactly one")
    return CutSet.from_cuts(cuts)


def save_manifests(output_dir, recordings, supervisions, cuts) -> None:
    """Write a split's three manifests into ``output_dir`` (a staging directory of ``io.atomic_dir``)."""
    recordings.to_file(manifest_file(output_dir, "recordings"))
    supervisions.to_file(manifest_file(output_dir, "supervisions"))
    cuts.to_file(manifest_file(output_dir, "cuts"))

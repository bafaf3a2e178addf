"""Synthetic speakers and deterministic tarballs, shared by the replicas.

A speaker is an espeak-ng identity: voice x variant x speaking rate x pitch. A replica's ``cfg`` names
two families of voices, ``seen_voices`` (training) and ``unseen_voices`` (held-out accents), the
``variants`` and the ``rate_wpm`` and ``pitch`` ranges. ``voice_cycles`` deals each family's voice x
variant pairs in a seeded order; ``new_identity`` gives the next pair a rate and a pitch that no
speaker has yet, so no two speakers of a replica sound alike.

``deterministic_tar`` writes a ``.tar.gz`` whose bytes depend on its members alone: mtime 0, uid/gid 0,
no user names, fixed modes, a gzip header without name or time.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import os
import tarfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from summarymixing.io import atomic_path

FAMILIES = ("seen_voices", "unseen_voices")
GZIP_LEVEL = 6  # audio does not compress further; a higher level only costs time
Identity = tuple[str, str, int, int]  # voice, variant, rate (words per minute), pitch


def check_voices(cfg: dict[str, Any]) -> None:
    """The voices and variants exist in espeak-ng, the families are disjoint, the ranges are ranges;
    ``ValueError`` naming the key otherwise."""
    from summarymixing.corpora.replica.espeak import MAX_RATE_WPM, MIN_RATE_WPM, available_variants, available_voices

    voices = available_voices()
    for key in (*FAMILIES, "variants"):
        if not isinstance(cfg[key], list) or not cfg[key] or not all(isinstance(v, str) for v in cfg[key]):
            raise ValueError(f"replica config: {key} must be a non-empty list of names, got {cfg[key]!r}")
    for key in FAMILIES:
        unknown = [voice for voice in cfg[key] if voice.lower() not in voices]
        if unknown:
            raise ValueError(f"replica config: {key}: unknown espeak-ng voice(s) {', '.join(unknown)}")
    overlap = set(cfg["seen_voices"]) & set(cfg["unseen_voices"])
    if overlap:
        raise ValueError(f"replica config: voices both seen and unseen: {', '.join(sorted(overlap))}")
    unknown = [variant for variant in cfg["variants"] if variant not in available_variants()]
    if unknown:
        raise ValueError(f"replica config: variants: unknown espeak-ng variant(s) {', '.join(unknown)}")
    for key, (lowest, highest) in {"rate_wpm": (MIN_RATE_WPM, MAX_RATE_WPM), "pitch": (0, 100)}.items():
        value = cfg[key]
        if not isinstance(value, list) or len(value) != 2 or not lowest <= value[0] <= value[1] <= highest:
            raise ValueError(f"replica config: {key}: {value!r} is not a range within [{lowest}, {highest}]")


def voice_cycles(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, Iterator[tuple[str, str]]]:
    """Per family, its voice x variant pairs in a seeded order, over and over."""
    cycles = {}
    for family in FAMILIES:
        pairs = list(itertools.product(cfg[family], cfg["variants"]))
        cycles[family] = itertools.cycle([pairs[i] for i in rng.permutation(len(pairs))])
    return cycles


def new_identity(cfg: dict[str, Any], rng: np.random.Generator, pairs: Iterator[tuple[str, str]],
                 used: set[Identity]) -> Identity:
    """The next voice x variant of ``pairs`` with a rate and a pitch no speaker in ``used`` has (added)."""
    voice, variant = next(pairs)
    for _ in range(1000):
        rate_wpm = int(rng.integers(cfg["rate_wpm"][0], cfg["rate_wpm"][1] + 1))
        pitch = int(rng.integers(cfg["pitch"][0], cfg["pitch"][1] + 1))
        if (voice, variant, rate_wpm, pitch) not in used:
            used.add((voice, variant, rate_wpm, pitch))
            return voice, variant, rate_wpm, pitch
    raise ValueError("replica config: more speakers than the voices, variants, rates and pitches can make")


def tar_info(name: str, size: int = 0, is_dir: bool = False) -> tarfile.TarInfo:
    """A member header that carries no time, owner or machine of its own."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir else 0o644
    return info


class DeterministicTar:
    """Adds members in the order it is told, with ``tar_info`` headers."""

    def __init__(self, tar: tarfile.TarFile):
        self.tar = tar

    def add_bytes(self, name: str, data: bytes) -> None:
        self.tar.addfile(tar_info(name, len(data)), io.BytesIO(data))

    def add_dir(self, name: str) -> None:
        self.tar.addfile(tar_info(name, is_dir=True))

    def add_file(self, name: str, path: Path) -> None:
        with open(path, "rb") as f:
            self.tar.addfile(tar_info(name, os.fstat(f.fileno()).st_size), f)


@contextlib.contextmanager
def deterministic_tar(archive: Path) -> Iterator[DeterministicTar]:
    """Write ``archive`` (``.tar.gz``, atomically) from the members added in the block."""
    with atomic_path(archive) as tmp, open(tmp, "wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0
    ) as gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        yield DeterministicTar(tar)

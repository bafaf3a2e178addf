"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

SAMPLE_RATE = 16_000


def write_librispeech_split(corpus_root: Path, split: str, transcripts: dict[str, str]) -> None:
    """Write a tiny split in LibriSpeech layout under ``corpus_root`` (the ``LibriSpeech`` directory).

    ``transcripts`` maps ``<spk>-<chapter>-<utt>`` to its text; each utterance gets a short 16 kHz
    FLAC tone and a line in ``<spk>/<chapter>/<spk>-<chapter>.trans.txt``.
    """
    lines: dict[Path, list[str]] = {}
    for i, (utterance_id, text) in enumerate(sorted(transcripts.items())):
        speaker, chapter, _ = utterance_id.split("-")
        chapter_dir = corpus_root / split / speaker / chapter
        chapter_dir.mkdir(parents=True, exist_ok=True)
        seconds = 0.1 + 0.05 * i
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        sf.write(chapter_dir / f"{utterance_id}.flac", 0.1 * np.sin(2 * np.pi * 220 * t), SAMPLE_RATE, subtype="PCM_16")
        lines.setdefault(chapter_dir / f"{speaker}-{chapter}.trans.txt", []).append(f"{utterance_id} {text}")
    for trans_path, trans_lines in lines.items():
        trans_path.write_text("\n".join(trans_lines) + "\n", encoding="utf-8")


@pytest.fixture
def librispeech_split() -> Callable[[Path, str, dict[str, str]], None]:
    """``write_librispeech_split``: builds a tiny LibriSpeech-layout split."""
    return write_librispeech_split

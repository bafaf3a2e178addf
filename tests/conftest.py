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


# ---------------------------------------------------------------------------------------------
# A tiny configuration of the real pipeline, for end-to-end tests (minutes, not hours).

REPO = Path(__file__).resolve().parents[1]


def tiny_params() -> dict:
    """params.yaml shrunk to a few seconds per stage: a tiny replica, tiny models, a few epochs.

    The structure and the code paths are the default run's; only sizes change.
    """
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    replica = params["datasets"]["librispeech_replica"]["replica"]
    replica["utterances"] = {"train-clean-100": 48, "dev-clean": 8, "test-clean": 8, "test-other": 8}
    replica["speakers"] = {"train-clean-100": 4, "dev-clean": 2, "test-clean": 2, "test-other": 2}
    replica["words"] = [3, 6]
    arch = {"d_model": 32, "nhead": 2, "num_encoder_layers": 1, "num_decoder_layers": 1, "d_ffn": 64,
            "kernel_size": 3, "csgu_linear_units": 64, "dropout": 0.1, "cnn_channels": [8, 8]}
    params["models"]["tiny"] = {enc: dict(arch) for enc in ("conformer", "branchformer", "transformer")}
    params["training"]["asr"]["tiny"] = {**params["training"]["asr"]["small"], "epochs": 6, "max_batch_duration": 30,
                                         "warmup_steps": 5, "average_checkpoints": 2}
    params["decoding"]["asr"]["tiny"] = {"beam_size": 2, "ctc_weight": 0.4, "lm_weight": 0.5, "max_batch_duration": 60}
    replica["lm_sentences"] = 300
    params["lms"]["tiny"] = {"d_model": 32, "nhead": 2, "num_layers": 1, "d_ffn": 64, "dropout": 0.0, "epochs": 12,
                             "lr": 5e-3, "warmup_steps": 10, "max_batch_tokens": 2000}
    params["datasets"]["librispeech_replica"]["tasks"]["asr"]["lm"] = "tiny"
    slurp = params["datasets"]["slurp_replica"]["replica"]
    slurp.update(records={"train": 24, "train_synthetic": 8, "devel": 6, "test": 8},
                 sessions={"train": 1, "train_synthetic": 1, "devel": 1, "test": 1},
                 speakers={"train": 4, "train_synthetic": 2, "devel": 2, "test": 2})
    commands = params["datasets"]["speechcommands_replica"]["replica"]
    commands.update(speakers={"training": 4, "validation": 2, "testing": 2, "test_set": 2}, keyword_clips=1,
                    other_words=7, background_seconds=[3, 4])
    params["training"]["slu"]["tiny"] = {**params["training"]["slu"]["small"], "epochs": 3, "max_batch_duration": 30,
                                         "warmup_steps": 5}
    params["decoding"]["slu"]["tiny"] = {"beam_size": 2, "max_batch_duration": 60}
    # a few dozen clips: a tiny classifier needs more passes, at a higher rate, before its validation loss moves
    params["training"]["kws"]["tiny"] = {**params["training"]["kws"]["small"], "epochs": 12, "lr": 1.0e-2,
                                         "max_batch_duration": 20, "warmup_steps": 5}
    params["grid"] = [
        {"task": "asr", "datasets": ["librispeech_replica"], "sizes": ["tiny"], "encoders": ["conformer"],
         "mixers": ["mhsa", "summarymixing"]},
        {"task": "slu", "datasets": ["slurp_replica"], "sizes": ["tiny"], "encoders": ["conformer"], "mixers": ["summarymixing"]},
        {"task": "kws", "datasets": ["speechcommands_replica"], "sizes": ["tiny"], "encoders": ["branchformer"],
         "mixers": ["summarymixing_lite"]},
    ]
    return params


def write_params(directory: Path, params: dict) -> Path:
    import yaml

    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path

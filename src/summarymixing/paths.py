"""Where every stage reads and writes, relative to the working directory (the repository root).

The same layout is spelled out in ``workflow/rules/*.smk`` and ``dvc.yaml`` (as outputs to declare);
``tests/test_dag.py`` checks that both enumerate the same commands and outputs. ``data/`` and ``exp/``
are ignored by git; ``reports/`` is committed.

    data/<dataset>/source/       checksums (md5sum.txt, source.json); for a replica also the archives
    data/<dataset>/archives/     downloaded archives and partial downloads (undeclared: survives failures)
    data/<dataset>/corpus/       the extracted corpus, laid out as the original (LibriSpeech/<split>/...)
    data/<dataset>/manifests/    lhotse recordings + supervisions per split
    data/<dataset>/tokenizer/    sentencepiece model trained on the training transcripts
    data/<dataset>/features/     80-dim fbank for every split + lhotse cuts pointing at it
    exp/<dataset>/<model>/       model.pt, train_metrics.json, hypotheses.jsonl, scores.json, alignments/
    checkpoints/<dataset>/<model>/  SpeechBrain checkpoints (undeclared: a killed job resumes from them;
                                 kept out of exp/ so that exp/<dataset>/ holds results only)
    reports/tables/<dataset>.{md,csv}
"""

from __future__ import annotations

from pathlib import Path

DATA = Path("data")
EXP = Path("exp")
CHECKPOINTS = Path("checkpoints")
REPORTS = Path("reports")


def source_dir(dataset: str) -> Path:
    return DATA / dataset / "source"


def archives_dir(dataset: str) -> Path:
    return DATA / dataset / "archives"


def corpus_dir(dataset: str) -> Path:
    return DATA / dataset / "corpus"


def manifests_dir(dataset: str) -> Path:
    return DATA / dataset / "manifests"


def tokenizer_dir(dataset: str) -> Path:
    return DATA / dataset / "tokenizer"


def features_dir(dataset: str) -> Path:
    return DATA / dataset / "features"


def cuts_path(dataset: str, split: str) -> Path:
    """Cuts with precomputed features of ``split`` (written by ``features``)."""
    return features_dir(dataset) / f"cuts_{split}.jsonl.gz"


def exp_dir(dataset: str, model: str) -> Path:
    return EXP / dataset / model


def checkpoint_dir(dataset: str, model: str) -> Path:
    return CHECKPOINTS / dataset / model


def model_path(dataset: str, model: str) -> Path:
    return exp_dir(dataset, model) / "model.pt"


def train_metrics_path(dataset: str, model: str) -> Path:
    return exp_dir(dataset, model) / "train_metrics.json"


def hypotheses_path(dataset: str, model: str) -> Path:
    return exp_dir(dataset, model) / "hypotheses.jsonl"


def scores_path(dataset: str, model: str) -> Path:
    return exp_dir(dataset, model) / "scores.json"


def alignments_dir(dataset: str, model: str) -> Path:
    return exp_dir(dataset, model) / "alignments"


def table_paths(dataset: str) -> tuple[Path, Path]:
    """The Markdown and CSV table of ``dataset``'s results."""
    return REPORTS / "tables" / f"{dataset}.md", REPORTS / "tables" / f"{dataset}.csv"

"""Where every stage reads and writes, relative to the working directory (the repository root).

``summarymixing.dag`` declares exactly these paths to Snakemake and DVC; the arguments may be
Snakemake wildcards (``paths.model_path("{experiment}")``). ``data/``, ``exp/`` and ``checkpoints/``
are ignored by git; ``reports/`` is committed.

    data/<dataset>/source/                  source.json: every archive's URL, checksum and size; for a
                                            replica also the synthesised files
    data/<dataset>/archives/                downloaded archives and partial downloads (undeclared:
                                            survives failures, a rerun resumes)
    data/<dataset>/corpus/<archive>/        one archive, unpacked as distributed
    data/<dataset>/manifests/<split>/       lhotse recordings, supervisions, cuts of one split
    data/<dataset>/features/<split>/        80-dim fbank of one split + the cuts pointing at it
    data/<dataset>/tokenizer/<task>/        sentencepiece model of the task's targets
    exp/lm/<dataset>/                       the language model of a dataset (model.pt, metrics)
    exp/<task>/<dataset>/<name>/            one experiment: model.pt, train_metrics.json,
                                            hypotheses.jsonl, scores.json, details/
    checkpoints/<task>/<dataset>/<name>/    SpeechBrain checkpoints (undeclared: a killed job resumes
                                            from them; outside exp/ so that exp/ holds results only)
    reports/tables/<task>/<dataset>.{md,csv}
"""

from __future__ import annotations

from pathlib import Path

DATA = Path("data")
EXP = Path("exp")
CHECKPOINTS = Path("checkpoints")
REPORTS = Path("reports")
LOGS = Path("logs")


def source_dir(dataset: str) -> Path:
    return DATA / dataset / "source"


def source_json(dataset: str) -> Path:
    return source_dir(dataset) / "source.json"


def archives_dir(dataset: str) -> Path:
    return DATA / dataset / "archives"


def corpus_dir(dataset: str, archive: str) -> Path:
    return DATA / dataset / "corpus" / archive


def manifests_dir(dataset: str, split: str) -> Path:
    return DATA / dataset / "manifests" / split


def manifest_cuts(dataset: str, split: str) -> Path:
    """Cuts of ``split`` without features (written by ``prepare``)."""
    return manifests_dir(dataset, split) / "cuts.jsonl.gz"


def features_dir(dataset: str, split: str) -> Path:
    return DATA / dataset / "features" / split


def cuts_path(dataset: str, split: str) -> Path:
    """Cuts of ``split`` with their precomputed features (written by ``features``)."""
    return features_dir(dataset, split) / "cuts.jsonl.gz"


def tokenizer_dir(dataset: str, task: str) -> Path:
    return DATA / dataset / "tokenizer" / task


def lm_dir(dataset: str) -> Path:
    return EXP / "lm" / dataset


def lm_model_path(dataset: str) -> Path:
    return lm_dir(dataset) / "model.pt"


def lm_metrics_path(dataset: str) -> Path:
    return lm_dir(dataset) / "train_metrics.json"


def exp_dir(experiment: str) -> Path:
    return EXP / experiment


def checkpoint_dir(experiment: str) -> Path:
    return CHECKPOINTS / experiment


def model_path(experiment: str) -> Path:
    return exp_dir(experiment) / "model.pt"


def train_metrics_path(experiment: str) -> Path:
    return exp_dir(experiment) / "train_metrics.json"


def hypotheses_path(experiment: str) -> Path:
    return exp_dir(experiment) / "hypotheses.jsonl"


def scores_path(experiment: str) -> Path:
    return exp_dir(experiment) / "scores.json"


def details_dir(experiment: str) -> Path:
    return exp_dir(experiment) / "details"


def table_paths(task: str, dataset: str) -> tuple[Path, Path]:
    """The Markdown and CSV table of one task on one dataset."""
    return REPORTS / "tables" / task / f"{dataset}.md", REPORTS / "tables" / task / f"{dataset}.csv"

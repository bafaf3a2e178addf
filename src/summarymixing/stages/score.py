"""``summarymixing score --experiment <id>``: the task's metrics of every (split, decoder).

Reads ``exp/<experiment>/hypotheses.jsonl`` and asks the experiment's task to score it with the
dataset's settings (``datasets.<d>.tasks.<task>``: normaliser, labels, ...). Writes
``exp/<experiment>/scores.json`` (one row per split and decoder) and ``exp/<experiment>/details/``
(per-utterance files: alignments, per-class accuracy, parsed predictions).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from .. import paths
from ..config import find_experiment, load_params, task_config
from ..io import atomic_dir, write_json

log = logging.getLogger(__name__)


def read_hypotheses(path: Path) -> list[dict[str, Any]]:
    """The lines of a ``hypotheses.jsonl``; a malformed line is an error naming the file and line."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run `summarymixing decode` for this experiment first")
    lines = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(text)
            if not isinstance(row, dict) or not {"split", "decoder"} <= row.keys():
                raise KeyError("split/decoder")
            if "timing" not in row and not {"id", "ref", "hyp"} <= row.keys():
                raise KeyError("id/ref/hyp")
        except (json.JSONDecodeError, KeyError) as e:
            raise ValueError(f"{path}:{number}: malformed hypothesis line ({e})") from None
        lines.append(row)
    return lines


def run(args: argparse.Namespace) -> None:
    from ..tasks import get_task
    from ..tasks.base import TaskContext

    params = load_params(args.params)
    exp = find_experiment(params, args.experiment)
    task = get_task(exp.task)
    cfg = task_config(params, exp.task, exp.dataset)
    ctx = TaskContext(exp, cfg, params["features"]["num_mel_bins"], labels=list(cfg.get("labels") or []))
    lines = read_hypotheses(paths.hypotheses_path(exp.id))
    results, details = task.score(lines, ctx)
    with atomic_dir(paths.details_dir(exp.id)) as tmp:
        for name, text in details.items():
            (tmp / name).write_text(text, encoding="utf-8")
    for row in results:
        shown = ", ".join(f"{key} {row[key]:.2f}" for key, _, _ in task.metrics if isinstance(row.get(key), (int, float)))
        log.info("%s %s %s: %s (%d utterances)", exp.id, row["split"], row["decoder"], shown, row.get("utterances", 0))
    write_json(paths.scores_path(exp.id), {
        "experiment": exp.id, "task": exp.task, "dataset": exp.dataset,
        "scoring": task.describe_scoring(cfg), "results": results,
    })  # fmt: skip

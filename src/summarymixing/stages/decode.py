"""``summarymixing decode --experiment <id>``: run a trained model on every test split of its dataset.

The task decides how (``Task.decode``: beam searches for the sequence tasks, the arg max for
classification) with ``decoding.<task>.<size>``; a dataset's language model
(``datasets.<d>.tasks.<task>.lm``, trained by the ``lm`` stage) is loaded when the task uses one.

Writes ``exp/<experiment>/hypotheses.jsonl``: one line per (split, decoder, utterance) with the
reference and the hypothesis, then one ``timing`` line per (split, decoder) with the decoding time
and the real-time factor.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from .. import paths
from ..config import Experiment, dataset_config, decoding_config, find_experiment, load_params
from ..io import atomic_path

log = logging.getLogger(__name__)


def load_model(exp: Experiment, ctx, device: str):
    """The trained model of ``exp``, in eval mode on ``device``."""
    import torch

    from ..tasks import get_task

    path = paths.model_path(exp.id)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run `summarymixing train --experiment {exp.id}` first")
    ckpt = torch.load(path, map_location="cpu")
    model = get_task(exp.task).build_model(ckpt["arch"], ctx, ckpt["training"])
    model.load_state_dict(ckpt["state_dict"])
    model.normalize._load_statistics_dict(ckpt["normalizer"])
    return model.to(device).eval()


def decoding_extras(params: dict[str, Any], exp: Experiment, settings: dict[str, Any], device: str) -> dict[str, Any]:
    """Optional resources of the search: the dataset's language model when the task decodes with one."""
    from ..tasks import TASKS

    extras: dict[str, Any] = {}
    task_cfg = (dataset_config(params, exp.dataset).get("tasks") or {}).get(exp.task) or {}
    if TASKS[exp.task].uses_lm and task_cfg.get("lm") and settings.get("lm_weight", 0) > 0:
        from .lm import load_lm

        extras["lm"] = load_lm(exp.dataset, device)
    return extras


def run(args: argparse.Namespace) -> None:
    import torch

    from ..data import load_cuts
    from ..tasks import get_task
    from .train import task_context

    params = load_params(args.params)
    exp = find_experiment(params, args.experiment)
    cfg = dataset_config(params, exp.dataset)
    settings = decoding_config(params, exp)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ctx = task_context(params, exp)
    model = load_model(exp, ctx, device)
    splits = {split: load_cuts(paths.cuts_path(exp.dataset, split)) for split in cfg["test_splits"]}
    extras = decoding_extras(params, exp, settings, device)
    lines = list(get_task(exp.task).decode(model, splits, settings, ctx, device, extras))
    with atomic_path(paths.hypotheses_path(exp.id)) as tmp:
        tmp.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    log.info("%s: %d hypotheses written to %s", exp.id, sum("timing" not in line for line in lines), paths.hypotheses_path(exp.id))

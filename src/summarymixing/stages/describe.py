"""``summarymixing describe``: every configured model's parameter count, by module.

For each model of the grid (task x encoder x mixer x decoder) and each size (the grid's, or
``--sizes``), builds the network as ``train`` would and counts its trainable parameters: in total and
per block (``encoder``, ``decoder``, ``ctc_lin``, ``seq_lin``, ``classifier``, ...). Output sizes that
depend on data (a tokenizer's vocabulary, a class list) come from ``--vocab`` (default: the official
recipes' 5,000-token unigram) and the task's labels. Nothing is trained and no data is read.

    summarymixing describe                      # the grid as configured
    summarymixing describe --sizes paper        # every model of the grid at the paper's size
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from typing import Any

from ..config import Experiment, experiments, load_params, model_config, task_config, training_config

log = logging.getLogger(__name__)

RECIPE_VOCAB = 5000  # LibriSpeech recipes: 5,000-token unigram sentencepiece


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", nargs="+", default=None, help="sizes to describe (default: the grid's)")
    parser.add_argument("--vocab", type=int, default=RECIPE_VOCAB, help="output tokens of sequence models")
    parser.add_argument("--tasks", nargs="+", default=None, help="only these tasks")


def count(params: dict[str, Any], exp: Experiment, vocab: int) -> dict[str, int]:
    """Parameters of ``exp``'s network: ``{"total": n, <block>: n, ...}``."""
    from ..models.seq2seq import count_parameters, parameters_by_module
    from ..tasks import TASKS, get_task
    from ..tasks.base import TaskContext

    class Vocabulary:  # stands in for a sentencepiece model: only the size matters here
        def get_piece_size(self) -> int:
            return vocab

    cfg = task_config(params, exp.task, exp.dataset)
    ctx = TaskContext(exp, cfg, params["features"]["num_mel_bins"],
                      Vocabulary() if TASKS[exp.task].uses_tokenizer else None, list(cfg.get("labels") or []))
    model = get_task(exp.task).build_model(model_config(params, exp), ctx, training_config(params, exp))
    return {"total": count_parameters(model), **parameters_by_module(model)}


def describe(params: dict[str, Any], sizes: list[str] | None, vocab: int, tasks: list[str] | None) -> list[dict[str, Any]]:
    rows, seen = [], set()
    for exp in experiments(params):
        if tasks and exp.task not in tasks:
            continue
        for size in sizes or [exp.size]:
            if size not in params["models"] or exp.encoder not in params["models"][size]:
                continue
            if size not in params["training"].get(exp.task, {}):
                continue
            variant = replace(exp, size=size)
            if variant.id in seen:
                continue
            seen.add(variant.id)
            rows.append({"experiment": variant.id, **count(params, variant, vocab)})
    return rows


def render(rows: list[dict[str, Any]], vocab: int) -> str:
    blocks = list(dict.fromkeys(k for row in rows for k in row if k not in ("experiment", "total")))
    header = ["experiment", "total (M)", *(f"{b} (M)" for b in blocks)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["experiment"], f"{row['total'] / 1e6:.3f}", *(f"{row[b] / 1e6:.3f}" if b in row else "-" for b in blocks)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\nSequence models with {vocab} output tokens; parameter counts are trainable parameters.\n"


def run(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    rows = describe(params, args.sizes, args.vocab, args.tasks)
    print(render(rows, args.vocab))

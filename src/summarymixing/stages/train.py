"""``summarymixing train --experiment <task>/<dataset>/<name>``: train one model with SpeechBrain's Brain.

The experiment's task (``summarymixing.tasks``) supplies the batches, the network, the loss and the
per-epoch check; this stage runs SpeechBrain's ``Brain`` with AdamW, a Noam schedule, gradient
clipping and checkpoints, then averages the best checkpoints.

Outputs (declared in the DAG):
    exp/<experiment>/model.pt            the final model: mean of the N best checkpoints by validation loss
    exp/<experiment>/train_metrics.json  parameters (by module), training time, device-hours, peak
                                         memory, per-epoch history, provenance
Undeclared, so that it survives a killed or failed job:
    checkpoints/<experiment>/            SpeechBrain checkpoints; a rerun resumes from the latest

Checkpoints made with other settings (params.yaml changed since) are discarded, never resumed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
from typing import Any

from .. import paths
from ..config import Experiment, dataset_config, find_experiment, load_params, model_config, params_hash, task_config, training_config
from ..io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)


def training_settings(params: dict[str, Any], exp: Experiment) -> dict[str, Any]:
    """Everything a trained model depends on; its hash guards checkpoints against stale resumes."""
    from ..tasks import TASKS

    cfg = dataset_config(params, exp.dataset)
    task_cfg = task_config(params, exp.task, exp.dataset)
    return {
        "experiment": exp.id,
        "arch": model_config(params, exp),
        "training": training_config(params, exp),
        "features": params["features"],
        "task": {key: task_cfg[key] for key in TASKS[exp.task].train_keys if key in task_cfg},
        "tokenizer": task_cfg.get("tokenizer"),
        "train_splits": cfg["train_splits"],
        "valid_split": cfg["valid_split"],
    }


def task_context(params: dict[str, Any], exp: Experiment):
    """The experiment's ``TaskContext``: its tokenizer or labels, from the dataset's task block."""
    from ..tasks import TASKS
    from ..tasks.base import TaskContext
    from .tokenizer import load_tokenizer

    cfg = task_config(params, exp.task, exp.dataset)
    tokenizer = load_tokenizer(exp.dataset, exp.task) if TASKS[exp.task].uses_tokenizer else None
    return TaskContext(exp, cfg, params["features"]["num_mel_bins"], tokenizer, list(cfg.get("labels") or []))


def device_description(device: str) -> tuple[str, int]:
    """A human-readable device name and the number of devices used."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(), 1
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)", 1


def run(args: argparse.Namespace) -> None:
    import speechbrain as sb
    import torch
    from lhotse import combine
    from speechbrain.utils.checkpoints import Checkpointer

    from ..brain import COMPLETE, CheckpointComplete, TaskBrain, TrainingCost, peak_memory
    from ..data import load_cuts, make_loader
    from ..environment import provenance
    from ..models.seq2seq import count_parameters, parameters_by_module
    from ..tasks import get_task

    params = load_params(args.params)
    exp = find_experiment(params, args.experiment)
    settings = training_settings(params, exp)
    hp = settings["training"]
    model_file, metrics_file = paths.model_path(exp.id), paths.train_metrics_path(exp.id)
    if model_file.is_file() and metrics_file.is_file() and read_json(metrics_file).get("settings_hash") == params_hash(settings):
        log.info("%s: trained already", model_file)
        return

    save_dir = paths.checkpoint_dir(exp.id)
    settings_file = save_dir / "settings.json"
    if save_dir.exists() and (not settings_file.is_file() or read_json(settings_file) != json.loads(json.dumps(settings))):
        log.warning("%s: checkpoints were made with other settings; starting from scratch", save_dir)
        shutil.rmtree(save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    write_json(settings_file, settings)

    torch.manual_seed(hp["seed"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    task = get_task(exp.task)
    ctx = task_context(params, exp)
    batches = task.batches(ctx)
    train_cuts = combine([load_cuts(paths.cuts_path(exp.dataset, s)) for s in settings["train_splits"]])
    valid_cuts = load_cuts(paths.cuts_path(exp.dataset, settings["valid_split"]))
    train_loader, train_sampler = make_loader(
        train_cuts, batches, hp["max_batch_duration"], train=True, seed=hp["seed"], num_buckets=hp.get("num_buckets", 10),
        max_cuts=hp.get("max_batch_cuts"),
    )  # fmt: skip
    valid_loader, _ = make_loader(valid_cuts, batches, hp["max_batch_duration"], train=False, max_cuts=hp.get("max_batch_cuts"))

    model = task.build_model(settings["arch"], ctx, hp)
    n_params = count_parameters(model)
    log.info("%s: %.2f M parameters, training on %s for %d epochs", exp.id, n_params / 1e6, device, hp["epochs"])

    cost = TrainingCost(device)
    epoch_counter = sb.utils.epoch_loop.EpochCounter(limit=hp["epochs"])
    noam = sb.nnet.schedulers.NoamScheduler(lr_initial=hp["lr"], n_warmup_steps=hp["warmup_steps"])
    checkpointer = Checkpointer(
        save_dir,
        recoverables={
            "model": model, "normalizer": model.normalize, "counter": epoch_counter, "noam": noam, "cost": cost,
            COMPLETE: CheckpointComplete(),  # saved last (see TaskBrain.on_fit_start)
        },
    )
    brain = TaskBrain(
        modules={"model": model},
        opt_class=lambda p: torch.optim.AdamW(
            p, lr=hp["lr"], betas=(0.9, 0.98), eps=1e-9, weight_decay=hp.get("weight_decay", 0.0)
        ),
        hparams={
            "task": task, "ctx": ctx, "hp": hp, "noam": noam, "cost": cost, "counter": epoch_counter,
            "train_sampler": train_sampler,
        },
        run_opts={
            "device": device,
            "precision": hp.get("precision", "fp32"),
            "max_grad_norm": hp.get("max_grad_norm", 5.0),
            "noprogressbar": not os.isatty(2),
            "ckpt_interval_minutes": hp.get("ckpt_interval_minutes", 0),
        },
        checkpointer=checkpointer,
    )
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    brain.fit(epoch_counter, train_loader, valid_loader)

    # The final model: parameters averaged over the N best checkpoints by validation loss.
    best = checkpointer.find_checkpoints(min_key="loss", max_num_checkpoints=hp.get("average_checkpoints", 1))
    state = sb.utils.checkpoints.average_checkpoints(best, "model")
    with atomic_path(model_file) as tmp:
        torch.save(
            {
                "task": exp.task,
                "arch": settings["arch"],
                "training": hp,
                "labels": ctx.labels,
                "state_dict": state,
                "normalizer": model.normalize._statistics_dict(),
                "averaged_checkpoints": [c.path.name for c in best],
            },
            tmp,
        )
    _, memory_kind = peak_memory(device)
    device_name, device_count = device_description(device)
    write_json(
        metrics_file,
        {
            "experiment": exp.id,
            "task": exp.task,
            "dataset": exp.dataset,
            "encoder": exp.encoder,
            "mixer": exp.mixer,
            "decoder": exp.decoder,
            "size": exp.size,
            "parameters": n_params,
            "parameters_by_module": parameters_by_module(model),
            "epochs": len(cost.history),
            "train_seconds": round(cost.seconds, 1),
            "train_cpu_seconds": round(cost.cpu_seconds, 1),  # core-seconds: CPU time of every thread
            "threads": torch.get_num_threads(),
            "device": device_name,
            "device_type": device,
            "device_count": device_count,
            "device_hours": round(cost.seconds * device_count / 3600, 4),
            "peak_memory_bytes": cost.peak_memory,
            "peak_memory_kind": memory_kind,
            "averaged_checkpoints": [c.meta for c in best],
            "history": cost.history,
            "settings_hash": params_hash(settings),
            "provenance": provenance(),
        },
    )
    log.info("%s: done in %.0f s; model written to %s", exp.id, cost.seconds, model_file)

"""Stage ``train``: train one ``<encoder>-<mixer>-<size>`` ASR model with SpeechBrain's ``Brain``.

Loss (paper.md 5.1): ``(1 - w) * KLdiv(attention decoder, label smoothing) + w * CTC`` with
``w = training.<size>.ctc_weight``; AdamW with a Noam schedule; gradient clipping.

Outputs (declared in the DAG):
    exp/<dataset>/<model>/model.pt            the final model: mean of the N best checkpoints
    exp/<dataset>/<model>/train_metrics.json  parameters, training time, device-hours, peak memory, history
Undeclared, so that it survives a killed or failed job:
    checkpoints/<dataset>/<model>/            SpeechBrain checkpoints; a rerun resumes from the latest

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
from ..config import ModelSpec, dataset_config, load_params, model_config, params_hash
from ..io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)


def training_settings(params: dict[str, Any], dataset: str, spec: ModelSpec) -> dict[str, Any]:
    """Everything a trained model depends on; its hash guards checkpoints against stale resumes."""
    cfg = dataset_config(params, dataset)
    return {
        "dataset": dataset,
        "model": spec.id,
        "arch": model_config(params, spec),
        "training": params["training"][spec.size],
        "features": params["features"],
        "tokenizer": cfg["tokenizer"],
        "train_splits": cfg["train_splits"],
        "valid_split": cfg["valid_split"],
    }


def device_description(device: str) -> tuple[str, int]:
    """A human-readable device name and the number of devices used."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(), 1
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)", 1


def run(args: argparse.Namespace) -> None:
    import speechbrain as sb
    import torch
    from speechbrain.utils.checkpoints import Checkpointer

    from lhotse import combine

    from ..brain import COMPLETE, AsrBrain, CheckpointComplete, TrainingCost, peak_memory
    from ..data import load_cuts, make_loader
    from ..models.asr import AttentionCTCModel, count_parameters
    from .tokenizer import load_tokenizer

    params = load_params(args.params)
    spec = ModelSpec.parse(args.model)
    settings = training_settings(params, args.dataset, spec)
    hp = settings["training"]
    model_file, metrics_file = paths.model_path(args.dataset, spec.id), paths.train_metrics_path(args.dataset, spec.id)
    if model_file.is_file() and metrics_file.is_file() and read_json(metrics_file).get("settings_hash") == params_hash(settings):
        log.info("%s: trained already", model_file)
        return

    save_dir = paths.checkpoint_dir(args.dataset, spec.id)
    settings_file = save_dir / "settings.json"
    if save_dir.exists() and (not settings_file.is_file() or read_json(settings_file) != json.loads(json.dumps(settings))):
        log.warning("%s: checkpoints were made with other settings; starting from scratch", save_dir)
        shutil.rmtree(save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    write_json(settings_file, settings)

    torch.manual_seed(hp["seed"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = load_tokenizer(args.dataset)
    train_cuts = combine([load_cuts(paths.cuts_path(args.dataset, s)) for s in settings["train_splits"]])
    valid_cuts = load_cuts(paths.cuts_path(args.dataset, settings["valid_split"]))
    train_loader, train_sampler = make_loader(
        train_cuts, tokenizer, hp["max_batch_duration"], train=True, seed=hp["seed"], num_buckets=hp.get("num_buckets", 10)
    )
    valid_loader, _ = make_loader(valid_cuts, tokenizer, hp["max_batch_duration"], train=False)

    model = AttentionCTCModel(settings["arch"], n_tokens=tokenizer.get_piece_size(), n_mels=params["features"]["num_mel_bins"])
    n_params = count_parameters(model)
    log.info("%s: %.2f M parameters, training on %s for %d epochs", spec.id, n_params / 1e6, device, hp["epochs"])

    cost = TrainingCost(device)
    epoch_counter = sb.utils.epoch_loop.EpochCounter(limit=hp["epochs"])
    noam = sb.nnet.schedulers.NoamScheduler(lr_initial=hp["lr"], n_warmup_steps=hp["warmup_steps"])
    checkpointer = Checkpointer(
        save_dir,
        recoverables={
            "model": model, "normalizer": model.normalize, "counter": epoch_counter, "noam": noam, "cost": cost,
            COMPLETE: CheckpointComplete(),  # saved last (see AsrBrain.on_fit_start)
        },
    )
    brain = AsrBrain(
        modules={"model": model},
        opt_class=lambda p: torch.optim.AdamW(
            p, lr=hp["lr"], betas=(0.9, 0.98), eps=1e-9, weight_decay=hp.get("weight_decay", 0.0)
        ),
        hparams={
            "hp": hp, "noam": noam, "cost": cost, "counter": epoch_counter, "tokenizer": tokenizer,
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
                "arch": settings["arch"],
                "n_tokens": tokenizer.get_piece_size(),
                "n_mels": params["features"]["num_mel_bins"],
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
            "dataset": args.dataset,
            "model": spec.id,
            "encoder": spec.encoder,
            "mixer": spec.mixer,
            "size": spec.size,
            "parameters": n_params,
            "epochs": len(cost.history),
            "train_seconds": round(cost.seconds, 1),
            "device": device_name,
            "device_type": device,
            "device_count": device_count,
            "device_hours": round(cost.seconds * device_count / 3600, 4),
            "peak_memory_bytes": cost.peak_memory,
            "peak_memory_kind": memory_kind,
            "averaged_checkpoints": [c.meta for c in best],
            "history": cost.history,
            "settings_hash": params_hash(settings),
        },
    )
    log.info("%s: done in %.0f s; model written to %s", spec.id, cost.seconds, model_file)



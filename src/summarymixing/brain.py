"""``TaskBrain``: SpeechBrain's training loop for any task of ``summarymixing.tasks``.

SpeechBrain's ``Brain`` runs the epochs, the optimiser, gradient clipping, mixed precision and the
checkpointing (and recovers the latest checkpoint when ``fit`` starts, which is how a killed job
resumes); this subclass asks the experiment's task for the outputs, the loss and the per-epoch
check, and records the training cost.
"""

from __future__ import annotations

import json
import logging
import resource
import shutil
import time
from pathlib import Path

import speechbrain as sb
import torch
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks

log = logging.getLogger(__name__)


class TaskBrain(sb.Brain):
    """hparams: ``task``, ``ctx`` (TaskContext), ``hp`` (training block), ``noam``, ``cost``, ``counter``,
    ``train_sampler``."""

    def on_fit_start(self):
        discard_incomplete_checkpoints(self.checkpointer.checkpoints_dir)
        super().on_fit_start()  # adds the optimizer to the checkpointer, recovers the latest checkpoint
        # The completion marker must be saved after everything else, the optimizer included.
        self.checkpointer.recoverables[COMPLETE] = self.checkpointer.recoverables.pop(COMPLETE)
        self._clock, self._cpu_clock = time.perf_counter(), time.process_time()

    def on_stage_start(self, stage, epoch=None):
        if stage == sb.Stage.TRAIN:
            self.hparams.train_sampler.set_epoch(epoch)
        self._valid = self.hparams.task.valid_start()

    def _to_device(self, batch):
        return {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    def compute_forward(self, batch, stage):
        batch = self._to_device(batch)
        outputs = self.hparams.task.forward(self.modules.model, batch, stage == sb.Stage.TRAIN, self.hparams.counter.current)
        return outputs, batch

    def compute_objectives(self, predictions, batch, stage):
        outputs, batch = predictions
        task = self.hparams.task
        loss = task.loss(outputs, batch, self.hparams.hp)
        if stage != sb.Stage.TRAIN:
            task.valid_update(self._valid, outputs, batch, self.hparams.ctx)
        return loss

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        if should_step:
            self.hparams.noam(self.optimizer)

    def on_stage_end(self, stage, stage_loss, epoch=None):
        if stage == sb.Stage.TRAIN:
            self._train_loss = stage_loss
            return
        check = self.hparams.task.valid_summary(self._valid)
        now, now_cpu = time.perf_counter(), time.process_time()
        cost = self.hparams.cost
        cost.seconds += now - self._clock
        cost.cpu_seconds += now_cpu - self._cpu_clock
        self._clock, self._cpu_clock = now, now_cpu
        lr = self.optimizer.param_groups[0]["lr"]
        cost.history.append({
            "epoch": epoch,
            "train_loss": round(float(self._train_loss), 4),
            "valid_loss": round(float(stage_loss), 4),
            **{k: round(v, 2) for k, v in check.items()},
            "lr": lr,
            "steps": self.optimizer_step,
            "seconds": round(cost.seconds, 1),
        })  # fmt: skip
        log.info(
            "epoch %d: train loss %.3f, valid loss %.3f, %s, lr %.2e, %.0f s",
            epoch, self._train_loss, stage_loss, ", ".join(f"{k} {v:.2f}" for k, v in check.items()) or "-", lr,
            cost.seconds,
        )  # fmt: skip
        self.checkpointer.save_and_keep_only(
            meta={"loss": float(stage_loss), **check, "epoch": epoch},
            min_keys=["loss"],
            num_to_keep=self.hparams.hp.get("average_checkpoints", 1),
        )


def peak_memory(device: str) -> tuple[int, str]:
    """Peak memory of this process so far: CUDA max allocated, else peak resident set size."""
    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated()), "cuda_max_allocated"
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "cpu_peak_rss"


@register_checkpoint_hooks
class TrainingCost:
    """Training time (wall and CPU: core-seconds), peak memory and per-epoch history, saved with every
    checkpoint. A resumed run loads them back, so the totals cover every run that trained the model.
    """

    def __init__(self, device: str):
        self.device = device
        self.seconds, self.cpu_seconds, self.peak_memory, self.history = 0.0, 0.0, 0, []

    @mark_as_saver
    def _save(self, path):
        self.peak_memory = max(self.peak_memory, peak_memory(self.device)[0])
        state = {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds, "peak_memory": self.peak_memory,
                 "history": self.history}
        Path(path).write_text(json.dumps(state))

    @mark_as_loader
    def _load(self, path, end_of_epoch=False):
        state = json.loads(Path(path).read_text())
        self.seconds, self.peak_memory, self.history = state["seconds"], state["peak_memory"], state["history"]
        self.cpu_seconds = state.get("cpu_seconds", 0.0)


COMPLETE = "complete"


@register_checkpoint_hooks
class CheckpointComplete:
    """The last file of every checkpoint: SpeechBrain writes checkpoint files in place, one after the
    other, so a job killed while saving leaves a checkpoint directory with a truncated file. A checkpoint
    without this marker is incomplete and is discarded rather than resumed from."""

    @mark_as_saver
    def _save(self, path):
        Path(path).write_text("complete\n")

    @mark_as_loader
    def _load(self, path, end_of_epoch=False):
        pass


def discard_incomplete_checkpoints(checkpoints_dir) -> None:
    """Delete checkpoint directories that lack the completion marker (a save cut short by a kill)."""
    for ckpt in sorted(Path(checkpoints_dir).glob("CKPT+*")):
        if not (ckpt / f"{COMPLETE}.ckpt").is_file():
            log.warning("%s: incomplete checkpoint (the job was killed while saving it); discarding it", ckpt)
            shutil.rmtree(ckpt)

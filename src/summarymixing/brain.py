"""``AsrBrain``: SpeechBrain's training loop for the attention + CTC model.

SpeechBrain's ``Brain`` runs the epochs, the optimiser, gradient clipping, mixed precision and the
checkpointing (and recovers the latest checkpoint when ``fit`` starts, which is how a killed job
resumes); this subclass only says how to compute the outputs and the loss and what to log.
"""

from __future__ import annotations

import json
import logging
import resource
import shutil
import time
from pathlib import Path

import jiwer
import speechbrain as sb
import torch
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks

log = logging.getLogger(__name__)


class AsrBrain(sb.Brain):
    """hparams: ``hp`` (training.<size>), ``noam``, ``cost``, ``tokenizer``, ``train_sampler``, ``counter``."""

    def on_fit_start(self):
        discard_incomplete_checkpoints(self.checkpointer.checkpoints_dir)
        super().on_fit_start()  # adds the optimizer to the checkpointer, recovers the latest checkpoint
        # The completion marker must be saved after everything else, the optimizer included.
        self.checkpointer.recoverables[COMPLETE] = self.checkpointer.recoverables.pop(COMPLETE)
        self._clock = time.perf_counter()

    def on_stage_start(self, stage, epoch=None):
        if stage == sb.Stage.TRAIN:
            self.hparams.train_sampler.set_epoch(epoch)
        self._refs, self._hyps = [], []

    def _move(self, batch, *keys):
        return [batch[k].to(self.device) for k in keys]

    def compute_forward(self, batch, stage):
        feats, rel_lens, tokens_bos = self._move(batch, "feats", "feat_rel_lens", "tokens_bos")
        epoch = self.hparams.counter.current
        _, p_ctc, p_seq = self.modules.model(feats, rel_lens, tokens_bos, epoch=epoch)
        return p_ctc, p_seq, rel_lens

    def compute_objectives(self, predictions, batch, stage):
        p_ctc, p_seq, rel_lens = predictions
        tokens, token_lens, tokens_eos, token_eos_lens = self._move(
            batch, "tokens", "token_rel_lens", "tokens_eos", "token_eos_rel_lens"
        )
        hp = self.hparams.hp
        loss_ctc = sb.nnet.losses.ctc_loss(p_ctc, tokens, rel_lens, token_lens, blank_index=0, reduction="batchmean")
        loss_att = sb.nnet.losses.kldiv_loss(
            p_seq, tokens_eos, length=token_eos_lens, label_smoothing=hp.get("label_smoothing", 0.0), reduction="batchmean"
        )
        loss = hp["ctc_weight"] * loss_ctc + (1 - hp["ctc_weight"]) * loss_att
        if stage != sb.Stage.TRAIN:  # a cheap accuracy check each epoch: CTC greedy CER
            hyps = sb.decoders.ctc_greedy_decode(p_ctc, rel_lens, blank_id=0)
            self._refs += batch["texts"]
            self._hyps += [self.hparams.tokenizer.decode(h) for h in hyps]
        return loss

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        if should_step:
            self.hparams.noam(self.optimizer)

    def on_stage_end(self, stage, stage_loss, epoch=None):
        if stage == sb.Stage.TRAIN:
            self._train_loss = stage_loss
            return
        cer = 100 * jiwer.cer(self._refs, self._hyps)
        now = time.perf_counter()
        cost = self.hparams.cost
        cost.seconds += now - self._clock
        self._clock = now
        lr = self.optimizer.param_groups[0]["lr"]
        cost.history.append(
            {
                "epoch": epoch,
                "train_loss": round(float(self._train_loss), 4),
                "valid_loss": round(float(stage_loss), 4),
                "valid_cer_ctc_greedy": round(cer, 2),
                "lr": lr,
                "steps": self.optimizer_step,
                "seconds": round(cost.seconds, 1),
            }
        )
        log.info(
            "epoch %d: train loss %.3f, valid loss %.3f, valid CER (CTC greedy) %.2f %%, lr %.2e, %.0f s",
            epoch, self._train_loss, stage_loss, cer, lr, cost.seconds,
        )
        self.checkpointer.save_and_keep_only(
            meta={"loss": float(stage_loss), "cer": cer, "epoch": epoch},
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
    """Training time, peak memory and per-epoch history, saved with every checkpoint.

    A resumed run loads them back, so the totals cover every run that trained the model.
    """

    def __init__(self, device: str):
        self.device = device
        self.seconds, self.peak_memory, self.history = 0.0, 0, []

    @mark_as_saver
    def _save(self, path):
        self.peak_memory = max(self.peak_memory, peak_memory(self.device)[0])
        state = {"seconds": self.seconds, "peak_memory": self.peak_memory, "history": self.history}
        Path(path).write_text(json.dumps(state))

    @mark_as_loader
    def _load(self, path, end_of_epoch=False):
        state = json.loads(Path(path).read_text())
        self.seconds, self.peak_memory, self.history = state["seconds"], state["peak_memory"], state["history"]


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

"""``summarymixing lm --dataset X``: train the Transformer language model of a dataset's ASR decoding.

As the official recipes, the LM (``lms.<name>`` of ``datasets.<X>.tasks.asr.lm``; for LibriSpeech the
architecture of ``speechbrain/asr-transformer-transformerlm-librispeech``) learns from the corpus's LM
text (the recipe's ``LM_ARCHIVES``: LibriSpeech's ``librispeech-lm-norm.txt.gz``, openslr 11; a replica
writes a file of the same name from its grammar, larger than its training transcripts and disjoint
from its test sentences) plus the training transcripts, tokenized by the ASR tokenizer. Validation
on the validation split's transcripts gives the perplexity.

Training is SpeechBrain's ``Brain`` (``TaskBrain``) with AdamW and a Noam schedule; the text streams
from disk in shuffled chunks, so the 40-million-sentence LibriSpeech text never sits in memory.
Checkpoints (``checkpoints/lm/<dataset>/``) make a killed job resume.

Outputs: ``exp/lm/<dataset>/model.pt`` and ``train_metrics.json`` (parameters, time, perplexity).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import math
import os
import random
import shutil
from pathlib import Path
from typing import Any, Iterator

from torch.utils.data import DataLoader, IterableDataset

from .. import paths
from ..config import dataset_config, load_params, params_hash, task_config
from ..io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)

SHUFFLE_LINES = 100_000  # lines shuffled together while streaming the LM text


def lm_text_files(dataset: str, corpus: str) -> list[Path]:
    """The unpacked LM text files of ``dataset`` (``LM_ARCHIVES`` of the corpus recipe)."""
    from ..corpora import recipe

    module = recipe(corpus)
    files = []
    for name in getattr(module, "LM_ARCHIVES", ()):
        archive = paths.corpus_dir(dataset, name)
        path = archive / module.ARCHIVES[name].file
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; run `summarymixing download --dataset {dataset} --archive {name}` first")
        files.append(path)
    return files


def transcripts(dataset: str, splits: list[str]) -> list[str]:
    from lhotse import load_manifest

    texts = []
    for split in splits:
        manifest = paths.manifest_cuts(dataset, split)
        if not manifest.is_file():
            raise FileNotFoundError(f"{manifest}: missing; run `summarymixing prepare --dataset {dataset} --split {split}` first")
        texts += [cut.supervisions[0].text for cut in load_manifest(manifest)]
    return texts


class TextBatches(IterableDataset):
    """An iterable of LM batches: the lines of ``files`` and ``extra`` lines, shuffled in chunks of
    ``SHUFFLE_LINES`` (seeded by epoch), tokenized, and grouped into batches of about ``max_tokens``."""

    def __init__(self, files: list[Path], extra: list[str], tokenizer, max_tokens: int, seed: int, max_len: int = 400):
        super().__init__()
        self.files, self.extra, self.tokenizer = files, extra, tokenizer
        self.max_tokens, self.seed, self.max_len = max_tokens, seed, max_len
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def lines(self) -> Iterator[str]:
        yield from self.extra
        for path in self.files:
            with (gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")) as f:
                for line in f:
                    if line.strip():
                        yield line.strip()

    def chunks(self) -> Iterator[list[str]]:
        rng = random.Random(self.seed * 1000 + self.epoch)
        chunk: list[str] = []
        for line in self.lines():
            chunk.append(line)
            if len(chunk) == SHUFFLE_LINES:
                rng.shuffle(chunk)
                yield chunk
                chunk = []
        if chunk:
            rng.shuffle(chunk)
            yield chunk

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from ..tasks.seq2seq import pad_targets

        for chunk in self.chunks():
            ids = [self.tokenizer.encode(line)[: self.max_len] for line in chunk]
            order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths together: less padding
            batches, batch, longest = [], [], 0
            for i in order:
                longest = max(longest, len(ids[i]) + 1)
                if batch and longest * (len(batch) + 1) > self.max_tokens:
                    batches.append(batch)
                    batch, longest = [], len(ids[i]) + 1
                batch.append(ids[i])
            if batch:
                batches.append(batch)
            random.Random(self.seed + self.epoch).shuffle(batches)
            for batch in batches:
                yield pad_targets(batch)


class LanguageModelObjective:
    """The hooks ``TaskBrain`` calls, for next-token prediction; the check is the validation perplexity."""

    def forward(self, model, batch, training, epoch):
        return model

    def loss(self, model, batch, hp):
        from ..models.lm import lm_loss

        return lm_loss(model, batch["tokens_bos"], batch["tokens_eos"], batch["token_eos_rel_lens"])

    def valid_start(self) -> dict[str, Any]:
        return {"nll": 0.0, "tokens": 0}

    def valid_update(self, state, model, batch, ctx) -> None:
        import torch

        with torch.no_grad():
            tokens = int((batch["tokens_eos"] != 0).sum())
            state["nll"] += float(self.loss(model, batch, {})) * tokens
            state["tokens"] += tokens

    def valid_summary(self, state) -> dict[str, float]:
        return {"valid_perplexity": math.exp(state["nll"] / max(1, state["tokens"]))}


def load_lm(dataset: str, device: str):
    """The trained LM of ``dataset``, in eval mode on ``device``."""
    import torch

    from ..models.lm import build_lm

    path = paths.lm_model_path(dataset)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run `summarymixing lm --dataset {dataset}` first")
    ckpt = torch.load(path, map_location="cpu")
    lm = build_lm(ckpt["lm"], ckpt["n_tokens"])
    lm.load_state_dict(ckpt["state_dict"])
    return lm.to(device).eval()


def run(args: argparse.Namespace) -> None:
    import speechbrain as sb
    import torch
    from speechbrain.utils.checkpoints import Checkpointer

    from ..brain import COMPLETE, CheckpointComplete, TaskBrain, TrainingCost, peak_memory
    from ..environment import provenance
    from ..models.lm import build_lm
    from ..models.seq2seq import count_parameters
    from .tokenizer import load_tokenizer
    from .train import device_description

    params = load_params(args.params)
    dataset = args.dataset
    cfg = dataset_config(params, dataset)
    name = task_config(params, "asr", dataset).get("lm")
    if not name:
        raise ValueError(f"datasets.{dataset}.tasks.asr.lm: no language model configured")
    if name not in (params.get("lms") or {}):
        raise ValueError(f"datasets.{dataset}.tasks.asr.lm: {name!r} is not defined under lms")
    hp = dict(params["lms"][name])
    hp.setdefault("seed", 3407)
    settings = {"lm": hp, "train_splits": cfg["train_splits"], "valid_split": cfg["valid_split"],
                "tokenizer": task_config(params, "asr", dataset).get("tokenizer")}
    model_file, metrics_file = paths.lm_model_path(dataset), paths.lm_metrics_path(dataset)
    if model_file.is_file() and metrics_file.is_file() and read_json(metrics_file).get("settings_hash") == params_hash(settings):
        log.info("%s: trained already", model_file)
        return
    save_dir = paths.CHECKPOINTS / "lm" / dataset
    settings_file = save_dir / "settings.json"
    if save_dir.exists() and (not settings_file.is_file() or read_json(settings_file) != json.loads(json.dumps(settings))):
        log.warning("%s: checkpoints were made with other settings; starting from scratch", save_dir)
        shutil.rmtree(save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    write_json(save_dir / "settings.json", settings)

    torch.manual_seed(hp["seed"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = load_tokenizer(dataset, "asr")
    files = lm_text_files(dataset, cfg["corpus"])
    train_batches = TextBatches(files, transcripts(dataset, cfg["train_splits"]), tokenizer, hp["max_batch_tokens"], hp["seed"])
    valid_batches = TextBatches([], transcripts(dataset, [cfg["valid_split"]]), tokenizer, hp["max_batch_tokens"], hp["seed"])
    lm = build_lm(hp, tokenizer.get_piece_size())
    n_params = count_parameters(lm)
    log.info("%s LM: %.2f M parameters, %s text file(s) + %d transcripts, %d epochs on %s", dataset, n_params / 1e6,
             len(files), len(train_batches.extra), hp["epochs"], device)

    cost = TrainingCost(device)
    counter = sb.utils.epoch_loop.EpochCounter(limit=hp["epochs"])
    noam = sb.nnet.schedulers.NoamScheduler(lr_initial=hp["lr"], n_warmup_steps=hp.get("warmup_steps", 1000))
    checkpointer = Checkpointer(save_dir, recoverables={
        "model": lm, "counter": counter, "noam": noam, "cost": cost, COMPLETE: CheckpointComplete()})
    brain = TaskBrain(
        modules={"model": lm},
        opt_class=lambda p: torch.optim.AdamW(p, lr=hp["lr"], betas=(0.9, 0.98), eps=1e-9, weight_decay=hp.get("weight_decay", 0.0)),
        hparams={"task": LanguageModelObjective(), "ctx": None, "hp": {"average_checkpoints": 1}, "noam": noam,
                 "cost": cost, "counter": counter, "train_sampler": train_batches},
        run_opts={"device": device, "max_grad_norm": hp.get("max_grad_norm", 5.0), "noprogressbar": not os.isatty(2)},
        checkpointer=checkpointer,
    )  # fmt: skip
    brain.fit(counter, DataLoader(train_batches, batch_size=None), DataLoader(valid_batches, batch_size=None))
    best = checkpointer.find_checkpoints(min_key="loss", max_num_checkpoints=1)
    state = sb.utils.checkpoints.average_checkpoints(best, "model")
    with atomic_path(model_file) as tmp:
        torch.save({"lm": hp, "n_tokens": tokenizer.get_piece_size(), "state_dict": state}, tmp)
    device_name, device_count = device_description(device)
    write_json(metrics_file, {
        "dataset": dataset, "lm": name, "parameters": n_params, "epochs": len(cost.history),
        "train_seconds": round(cost.seconds, 1), "device": device_name, "device_hours": round(cost.seconds * device_count / 3600, 4),
        "peak_memory_bytes": cost.peak_memory, "peak_memory_kind": peak_memory(device)[1],
        "valid_perplexity": best[0].meta.get("valid_perplexity") if best else None, "history": cost.history,
        "settings_hash": params_hash(settings), "provenance": provenance(),
    })  # fmt: skip
    log.info("%s LM: done in %.0f s, validation perplexity %.2f", dataset, cost.seconds,
             best[0].meta.get("valid_perplexity", float("nan")) if best else float("nan"))

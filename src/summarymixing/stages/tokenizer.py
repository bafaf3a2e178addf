"""``summarymixing tokenizer --dataset X --task T``: a sentencepiece model of the task's targets.

Reads the cuts of the dataset's training splits (``data/<dataset>/manifests/<split>/cuts.jsonl.gz``),
asks the task for each utterance's target text (ASR: the transcript; SLU: the semantics string) and
trains a sentencepiece model with ``datasets.<dataset>.tasks.<task>.tokenizer`` into
``data/<dataset>/tokenizer/<task>/{tokenizer.model,tokenizer.vocab,settings.json}``.
Token ids: 0 = padding and CTC blank, 1 = <bos>, 2 = <eos>, 3 = <unk>.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .. import paths
from ..config import dataset_config, load_params, task_config
from ..io import atomic_dir, read_json, write_json

log = logging.getLogger(__name__)

PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
N_SPECIAL = 4


def train_tokenizer(texts: list[str], out_dir: Path, model_type: str, vocab_size: int | None) -> int:
    """Train sentencepiece on ``texts`` into ``out_dir/tokenizer.model``; returns the vocabulary size."""
    import sentencepiece as spm

    if not texts:
        raise ValueError(f"{out_dir}: no training transcripts to train the tokenizer on")
    if vocab_size is None:
        if model_type != "char":
            raise ValueError("tokenizer.vocab_size may only be null for model_type 'char'")
        vocab_size = len(set("".join(texts).replace(" ", "\u2581"))) + N_SPECIAL + 1  # +1: the word boundary
    corpus = out_dir / "transcripts.txt"
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(out_dir / "tokenizer"),
        model_type=model_type,
        vocab_size=vocab_size,
        character_coverage=1.0,
        pad_id=PAD_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        unk_id=UNK_ID,
        hard_vocab_limit=model_type != "char",
        num_threads=1,
        minloglevel=2,
    )
    corpus.unlink()
    return spm.SentencePieceProcessor(model_file=str(out_dir / "tokenizer.model")).get_piece_size()


def load_tokenizer(dataset: str, task: str):
    """The trained sentencepiece processor of ``task`` on ``dataset``."""
    import sentencepiece as spm

    model = paths.tokenizer_dir(dataset, task) / "tokenizer.model"
    if not model.is_file():
        raise FileNotFoundError(f"{model}: missing; run `summarymixing tokenizer --dataset {dataset} --task {task}` first")
    return spm.SentencePieceProcessor(model_file=str(model))


def run(args: argparse.Namespace) -> None:
    from lhotse import load_manifest

    from ..tasks import get_task

    params = load_params(args.params)
    cfg = dataset_config(params, args.dataset)
    tokenizer_cfg = task_config(params, args.task, args.dataset).get("tokenizer")
    if not tokenizer_cfg:
        raise ValueError(f"datasets.{args.dataset}.tasks.{args.task}: no tokenizer block")
    task = get_task(args.task)
    settings = {"splits": cfg["train_splits"], **tokenizer_cfg}
    out_dir = paths.tokenizer_dir(args.dataset, args.task)
    if (out_dir / "settings.json").is_file() and read_json(out_dir / "settings.json").get("settings") == settings:
        log.info("%s: tokenizer up to date", out_dir)
        return
    texts = []
    for split in cfg["train_splits"]:
        manifest = paths.manifest_cuts(args.dataset, split)
        if not manifest.is_file():
            raise FileNotFoundError(f"{manifest}: missing; run `summarymixing prepare --dataset {args.dataset} --split {split}` first")
        texts += [task.target_text(cut.supervisions[0]) for cut in load_manifest(manifest)]
    log.info("training a %s tokenizer on %d %s targets of %s", tokenizer_cfg["model_type"], len(texts), args.task,
             ", ".join(cfg["train_splits"]))
    with atomic_dir(out_dir) as tmp:
        size = train_tokenizer(texts, tmp, tokenizer_cfg["model_type"], tokenizer_cfg.get("vocab_size"))
        write_json(tmp / "settings.json", {"settings": settings, "vocab_size": size})
    log.info("%s: %d tokens", out_dir, size)

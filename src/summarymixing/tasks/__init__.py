"""Tasks: what is learnt from the speech, how it is decoded and how it is scored.

The stages are task-neutral: ``train``, ``decode``, ``score`` and ``aggregate`` ask the experiment's
task (``TASKS[exp.task]``, a ``tasks.base.Task``) for its batch collation, model, loss and per-epoch
check, decoding, metrics and table columns. A task is one module with a ``TASK`` object and one entry
here; a corpus gives a task its labels through ``datasets.<name>.tasks.<task>`` in params.yaml.

    asr   speech recognition: attention encoder-decoder + CTC, joint CTC/attention beam search (+ LM), WER/CER
    slu   spoken language understanding (SLURP): the decoder emits scenario, action and entities as a
          sequence (SpeechBrain's direct recipe); intent accuracy and SLU-F1
    kws   keyword spotting (Speech Commands): encoder + pooling + classifier; top-1 accuracy

The registry itself imports nothing heavy: ``get_task`` imports a task's module when it is needed,
and the DAG plans a job's code dependencies from ``TaskInfo.module``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class TaskInfo:
    module: str  # the module defining TASK
    uses_tokenizer: bool  # targets are token sequences (a sentencepiece model per dataset and task)
    decodes_sequences: bool  # has decoding settings (decoding.<task>.<size>)
    uses_lm: bool = False  # may decode with a language model (datasets.<name>.tasks.<task>.lm)
    # the keys of datasets.<name>.tasks.<task> that training, decoding and scoring read (the DAG tracks them)
    train_keys: tuple[str, ...] = ()
    decode_keys: tuple[str, ...] = ()
    score_keys: tuple[str, ...] = ()


TASKS: dict[str, TaskInfo] = {
    "asr": TaskInfo("summarymixing.tasks.asr", uses_tokenizer=True, decodes_sequences=True, uses_lm=True,
                    decode_keys=("lm",), score_keys=("normaliser", "cer_counts_spaces")),
    "slu": TaskInfo("summarymixing.tasks.slu", uses_tokenizer=True, decodes_sequences=True),
    "kws": TaskInfo("summarymixing.tasks.kws", uses_tokenizer=False, decodes_sequences=False,
                    train_keys=("labels", "unknown_label"), decode_keys=("labels", "unknown_label"),
                    score_keys=("labels",)),
}


def get_task(name: str):
    """The ``Task`` object of ``name`` (imports its module)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r} (known: {', '.join(TASKS)})")
    return importlib.import_module(TASKS[name].module).TASK

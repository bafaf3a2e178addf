"""What a task supplies to the task-neutral stages (``train``, ``decode``, ``score``, ``aggregate``).

    context        the labels of the task on a dataset: its tokenizer or class list
    batches        lhotse CutSet -> dict of padded tensors (a torch Dataset for lhotse's samplers)
    build_model    the network for an architecture (``config.model_config``)
    forward/loss   one training step's outputs and loss (SpeechBrain's Brain calls them)
    valid_*        a cheap accuracy check after each epoch
    decode         every test split -> hypothesis lines (``hypotheses.jsonl``)
    score          hypothesis lines -> metric rows (``scores.json``) and details files
    metrics        the table's metric columns, ``(key, title, higher_is_better)``

Everything a task needs from params.yaml comes through ``TaskContext`` (``datasets.<d>.tasks.<t>``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from collections import defaultdict
from typing import Any, Iterable

from ..config import Experiment


@dataclass
class TaskContext:
    """One experiment's view of its task on its dataset."""

    experiment: Experiment
    task_cfg: dict[str, Any]  # datasets.<dataset>.tasks.<task>
    n_mels: int
    tokenizer: Any = None  # sentencepiece processor (tasks with token targets)
    labels: list[str] = field(default_factory=list)  # class names (classification tasks)

    @property
    def n_outputs(self) -> int:
        return self.tokenizer.get_piece_size() if self.tokenizer is not None else len(self.labels)


class Task(ABC):
    name: str
    # (key in scores.json results, column title, higher is better), in table order
    metrics: tuple[tuple[str, str, bool], ...] = ()
    # decoders in the order the tables show them; the first is the headline
    decoders: tuple[str, ...] = ()
    decoder_titles: dict[str, str] = {}

    @abstractmethod
    def target_text(self, supervision) -> str:
        """What the model learns to output for one utterance (tokenizer training, references)."""

    @abstractmethod
    def batches(self, ctx: TaskContext):
        """A torch ``Dataset`` mapping a lhotse ``CutSet`` (one batch) to a dict of tensors and lists."""

    @abstractmethod
    def build_model(self, arch: dict[str, Any], ctx: TaskContext, hp: dict[str, Any]):
        """The network; ``hp`` is the training block (e.g. whether a CTC head is trained)."""

    @abstractmethod
    def forward(self, model, batch: dict[str, Any], training: bool, epoch: int | None):
        """Outputs of one batch (``batch`` tensors are on the model's device)."""

    @abstractmethod
    def loss(self, outputs, batch: dict[str, Any], hp: dict[str, Any]):
        """Scalar training loss."""

    def valid_start(self) -> dict[str, Any]:
        return {}

    def valid_update(self, state: dict[str, Any], outputs, batch: dict[str, Any], ctx: TaskContext) -> None:
        """Accumulate the per-epoch check over validation batches."""

    def valid_summary(self, state: dict[str, Any]) -> dict[str, float]:
        """``{name: value}`` logged with each epoch (e.g. ``valid_cer_ctc_greedy``)."""
        return {}

    @abstractmethod
    def decode(self, model, splits: dict[str, Any], settings: dict[str, Any], ctx: TaskContext, device: str,
               extras: dict[str, Any]) -> Iterable[dict[str, Any]]:
        """Hypothesis lines for every test split (``{split: CutSet}``) and decoder, then one timing line per
        (split, decoder). ``extras`` holds optional decoding resources (a language model)."""

    @abstractmethod
    def score(self, lines: list[dict[str, Any]], ctx: TaskContext) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """Metric rows ``{"split", "decoder", <metric>: value, ...}`` and details files ``{name: text}``."""

    def describe_scoring(self, task_cfg: dict[str, Any]) -> str:
        """One sentence for the table: how hypotheses were normalised and scored."""
        return ""


def group_lines(lines: list[dict[str, Any]]) -> tuple[dict[tuple[str, str], list[dict]], dict[tuple[str, str], dict]]:
    """Utterance lines and timing lines of a ``hypotheses.jsonl``, by (split, decoder)."""
    utterances: dict[tuple[str, str], list[dict]] = defaultdict(list)
    timings: dict[tuple[str, str], dict] = {}
    for line in lines:
        key = (line["split"], line["decoder"])
        if "timing" in line:
            timings[key] = line["timing"]
        else:
            utterances[key].append(line)
    return utterances, timings


def timing_line(split: str, decoder: str, seconds: float, audio_seconds: float, device: str,
                encode_cpu_seconds: float, search_cpu_seconds: float) -> dict[str, Any]:
    """The ``timing`` line of a (split, decoder) in ``hypotheses.jsonl``: wall time (encoder + search)
    and real-time factor, and the CPU time of the encoder pass (shared by the decoders of a split)
    and of this decoder's search, for cost accounting in core-seconds."""
    return {"split": split, "decoder": decoder, "timing": {
        "seconds": round(seconds, 3), "audio_seconds": round(audio_seconds, 3),
        "rtf": round(seconds / max(audio_seconds, 1e-9), 5), "device": device,
        "encode_cpu_seconds": round(encode_cpu_seconds, 3), "search_cpu_seconds": round(search_cpu_seconds, 3)}}

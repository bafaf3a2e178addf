"""Task ``kws``: keyword spotting as utterance classification (Speech Commands' 12-class task).

The classes are ``datasets.<d>.tasks.kws.labels`` (the 10 command words, ``_unknown_`` and
``_silence_``); a cut's class is its supervision's ``custom["label"]`` (set by the corpus's prepare),
else its text if that is a class, else ``unknown_label``. Model: encoder + masked mean pooling +
linear classifier (``models.classifier``); loss: cross-entropy (with ``label_smoothing``). Decoding is
the arg max; scoring: top-1 accuracy, and per-class accuracy and the confusion matrix in the details.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Iterable

import torch

from .base import Task, TaskContext, timing_line


class ClassBatches(torch.utils.data.Dataset):
    """``CutSet`` -> feats (B, T, F), feat_rel_lens (B,), targets (B,) class indices, ids, labels, cuts."""

    def __init__(self, labels: list[str], unknown_label: str):
        self.index = {label: i for i, label in enumerate(labels)}
        self.unknown_label = unknown_label

    def label_of(self, supervision) -> str:
        label = (supervision.custom or {}).get("label") or supervision.text
        return label if label in self.index else self.unknown_label

    def __getitem__(self, cuts) -> dict[str, Any]:
        from lhotse.dataset.collation import collate_features

        cuts = cuts.sort_by_duration(ascending=False)
        feats, feat_lens = collate_features(cuts)
        labels = [self.label_of(cut.supervisions[0]) for cut in cuts]
        return {
            "ids": [cut.id for cut in cuts],
            "cuts": list(cuts),
            "texts": labels,
            "durations": [cut.duration for cut in cuts],
            "feats": feats,
            "feat_rel_lens": feat_lens.float() / feat_lens.max(),
            "targets": torch.tensor([self.index[label] for label in labels], dtype=torch.long),
        }


class KwsTask(Task):
    name = "kws"
    metrics = (("accuracy", "Accuracy %", True),)
    decoders = ("argmax",)
    decoder_titles = {"argmax": "Top-1 class"}

    def target_text(self, supervision) -> str:
        return (supervision.custom or {}).get("label") or supervision.text

    def batches(self, ctx: TaskContext) -> ClassBatches:
        unknown = ctx.task_cfg.get("unknown_label", "_unknown_")
        if unknown not in ctx.labels:
            raise ValueError(f"datasets.{ctx.experiment.dataset}.tasks.kws: unknown_label {unknown!r} is not among the labels")
        return ClassBatches(ctx.labels, unknown)

    def build_model(self, arch, ctx: TaskContext, hp):
        from ..models.classifier import EncoderClassifier

        return EncoderClassifier(arch, n_classes=len(ctx.labels), n_mels=ctx.n_mels)

    def forward(self, model, batch, training, epoch):
        return model(batch["feats"], batch["feat_rel_lens"], epoch=epoch)

    def loss(self, outputs, batch, hp):
        # outputs are log-probabilities: cross_entropy's log_softmax leaves them unchanged
        return torch.nn.functional.cross_entropy(outputs, batch["targets"], label_smoothing=hp.get("label_smoothing", 0.0))

    def valid_start(self) -> dict[str, Any]:
        return {"correct": 0, "total": 0}

    def valid_update(self, state, outputs, batch, ctx) -> None:
        state["correct"] += int((outputs.argmax(-1) == batch["targets"]).sum())
        state["total"] += len(batch["targets"])

    def valid_summary(self, state) -> dict[str, float]:
        return {"valid_accuracy": 100.0 * state["correct"] / max(1, state["total"])}

    def decode(self, model, splits, settings, ctx, device, extras) -> Iterable[dict[str, Any]]:
        from ..data import make_loader

        with torch.no_grad():
            for split, cuts in splits.items():
                loader, _ = make_loader(cuts.sort_by_duration(), self.batches(ctx), settings.get("max_batch_duration", 200),
                                        train=False)
                seconds = cpu_seconds = audio_seconds = 0.0
                for batch in loader:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    predicted = model(batch["feats"].to(device), batch["feat_rel_lens"].to(device)).argmax(-1).tolist()
                    seconds += time.perf_counter() - start
                    cpu_seconds += time.process_time() - start_cpu
                    audio_seconds += sum(batch["durations"])
                    for cut, ref, hyp in zip(batch["cuts"], batch["texts"], predicted):
                        yield {"split": split, "decoder": "argmax", "id": cut.id, "ref": ref, "hyp": ctx.labels[hyp]}
                yield timing_line(split, "argmax", seconds, audio_seconds, device, encode_cpu_seconds=cpu_seconds,
                                  search_cpu_seconds=0.0)

    def score(self, lines, ctx: TaskContext):
        from .base import group_lines

        utterances, timings = group_lines(lines)
        results, details = [], {}
        for (split, decoder), utts in sorted(utterances.items()):
            total = Counter(u["ref"] for u in utts)
            correct = Counter(u["ref"] for u in utts if u["hyp"] == u["ref"])
            confusion = Counter((u["ref"], u["hyp"]) for u in utts)
            per_class = {label: round(100.0 * correct[label] / total[label], 2) for label in sorted(total)}
            timing = timings.get((split, decoder), {})
            results.append({
                "split": split, "decoder": decoder, "utterances": len(utts),
                "accuracy": round(100.0 * sum(correct.values()) / max(1, len(utts)), 3),
                "per_class_accuracy": per_class,
                "decode_seconds": timing.get("seconds"), "rtf": timing.get("rtf"),
            })  # fmt: skip
            labels = sorted(set(total) | {h for _, h in confusion})
            rows = ["class\tutterances\tcorrect\taccuracy %"]
            rows += [f"{label}\t{total[label]}\t{correct[label]}\t{per_class[label]:.2f}" for label in sorted(total)]
            rows += ["", "confusion (rows: reference, columns: hypothesis)", "\t".join(["", *labels])]
            rows += ["\t".join([ref, *(str(confusion[(ref, hyp)]) for hyp in labels)]) for ref in sorted(total)]
            details[f"{split}.{decoder}.per_class.tsv"] = "\n".join(rows) + "\n"
            details[f"{split}.{decoder}.tsv"] = "id\tref\thyp\n" + "".join(f"{u['id']}\t{u['ref']}\t{u['hyp']}\n" for u in utts)
        return results, details

    def describe_scoring(self, task_cfg) -> str:
        return f"top-1 accuracy over {len(task_cfg.get('labels', []))} classes; per-class accuracy and confusion in the details"


TASK = KwsTask()

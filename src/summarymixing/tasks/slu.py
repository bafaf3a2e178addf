"""Task ``slu``: direct spoken language understanding on SLURP, as SpeechBrain's direct recipe.

The encoder-decoder emits the semantics of an utterance as a token sequence, SpeechBrain's dict-like
string of scenario, action and entities (``slurp_metrics.format_semantics``), tokenized by a
sentencepiece model trained on the training semantics. With ``ctc_weight`` > 0 a CTC head on the
encoder learns the transcript (lower-cased, in the same tokens: the semantics spell the words of the
entities with the same letters): an auxiliary loss that teaches the encoder the speech before the
decoder has learnt where to attend, which a model trained from scratch for a few epochs needs
(SpeechBrain's recipe trains 35 epochs without it). Decoding: attention beam search (``beam``), the
decoder alone. Scoring (``slurp_metrics``): the hypothesis is
parsed back (a malformed one counts as wrong everywhere, never crashes scoring), then scenario,
action and intent (scenario_action) accuracy, and the SLURP release's span, word- and
character-level F1 and SLU-F1, per recording as SLURP's evaluation keys them.
"""

from __future__ import annotations

from typing import Any

from .base import TaskContext
from .seq2seq import Seq2SeqTask


def semantics_of(supervision) -> dict[str, Any]:
    """Scenario, action and entities of a SLURP cut (``custom``, written by ``prepare_slurp``)."""
    custom = supervision.custom or {}
    return {"scenario": custom["scenario"], "action": custom["action"], "entities": list(custom.get("entities") or [])}


class SluTask(Seq2SeqTask):
    name = "slu"
    metrics = (
        ("intent_accuracy", "Intent acc. %", True),
        ("scenario_accuracy", "Scenario acc. %", True),
        ("action_accuracy", "Action acc. %", True),
        ("slu_f1", "SLU-F1 %", True),
    )
    decoders = ("beam",)
    decoder_titles = {"beam": "Attention beam search"}

    def target_text(self, supervision) -> str:
        from .slurp_metrics import format_semantics

        sem = semantics_of(supervision)
        return format_semantics(sem["scenario"], sem["action"], sem["entities"])

    def ctc_text(self, supervision) -> str:
        return " ".join(supervision.text.lower().split())

    def searchers(self, model, settings, extras):
        from .search import joint_beam_search

        # the CTC head learns the transcript, not the semantics: it takes no part in the search
        return {"beam": joint_beam_search(model, {**settings, "ctc_weight": 0.0})}

    def hypothesis_line(self, split, decoder, cut, reference, hypothesis):
        line = super().hypothesis_line(split, decoder, cut, reference, hypothesis)
        line["gold"] = semantics_of(cut.supervisions[0])
        line["file"] = cut.recording_id
        return line

    def score(self, lines, ctx: TaskContext):
        from .base import group_lines
        from .slurp_metrics import parse_semantics, slurp_item_details, slurp_scores

        utterances, timings = group_lines(lines)
        results, details = [], {}
        for (split, decoder), utts in sorted(utterances.items()):
            gold = [{"id": u["id"], "file": u.get("file", u["id"]), **u["gold"]} for u in utts]
            predicted = []
            for u in utts:
                parsed = parse_semantics(u["hyp"])
                predicted.append(None if parsed is None else {"id": u["id"], "file": u.get("file", u["id"]), **parsed})
            scores = slurp_scores(gold, predicted)
            timing = timings.get((split, decoder), {})
            results.append({"split": split, "decoder": decoder, "utterances": len(utts),
                            "malformed": sum(p is None for p in predicted), **scores,
                            "decode_seconds": timing.get("seconds"), "rtf": timing.get("rtf")})
            items = slurp_item_details(gold, predicted)
            details[f"{split}.{decoder}.jsonl"] = "".join(_json_line(item) for item in items)
        return results, details

    def describe_scoring(self, task_cfg) -> str:
        return ("intent = scenario_action; accuracies per recording; span, word- and char-level F1 and SLU-F1 as "
                "defined with the SLURP release; a malformed prediction counts as wrong")


def _json_line(obj: Any) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False) + "\n"


TASK = SluTask()

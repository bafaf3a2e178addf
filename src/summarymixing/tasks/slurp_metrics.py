"""SLURP spoken language understanding: the direct model's semantics string and SLURP's official scores.

Two definitions are reproduced here, each from its public source:

* The target sequence of SpeechBrain's direct SLURP recipe (``recipes/SLURP/prepare.py`` and
  ``recipes/SLURP/direct/train.py``). The model learns ``str(dict)`` of
  ``{"scenario", "action", "entities": [{"type", "filler"}]}`` with every ``,`` replaced by ``|``
  (commas would break the recipe's CSV manifests), and a decoded string is read back by undoing that
  replacement and evaluating it as a Python literal. Whatever cannot be read becomes the prediction
  ``scenario="none", action="none", entities=[]``.

* The metrics of SLURP's ``scripts/evaluation/evaluate.py`` (with ``util.py``, ``metrics/metrics.py``
  and ``metrics/distance.py``) under its default ``--average micro``:

  - scenario, action and intent (``f"{scenario}_{action}"``) F1. Every recording has exactly one gold
    and one predicted label, so a wrong label is one false positive plus one false negative, and
    micro precision = micro recall = micro F1 = accuracy. They are reported as accuracies.
  - span F1: a predicted entity is a true positive when an equal gold entity (same type, same filler
    string, compared exactly and case-sensitively) is still unmatched in the same recording.
  - word- and character-distance F1 ("Word-F1", "Char-F1"): every predicted entity whose type occurs
    among the still-unmatched gold entities of its recording is paired with the gold entity of that
    type at the lowest distance (the first one on ties); the pair adds 1 true positive and the
    distance d to both the false positives and the false negatives. A predicted entity of any other
    type adds 1 false positive, an unpaired gold entity 1 false negative. The word distance is the
    word error rate of the predicted filler against the gold one (it exceeds 1 when the prediction
    inserts words), the character distance is the Levenshtein distance divided by the longer length.
  - SLU-F1: F1 of the word- and character-distance counts added together.
  - precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2PR / (P + R), each 0 when its
    denominator terms are all 0; the counts are summed over all recordings first (micro average).
    A recording with no gold and no predicted entities adds nothing; a test set with no entities at
    all therefore scores 0 (not 100) on every entity metric.

The gold side follows ``util.release2prediction``: one item per recording file, entity fillers are the
lower-cased token surfaces of the entity span joined by single spaces. These can differ from the
fillers SpeechBrain trains on (taken from ``sentence_annotation``): casing (``Friday``) and
possessives (``jessica's`` against the tokens ``jessica 's``), so even an exact copy of the training
target does not reach 100 on the entity metrics.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

NONE_LABEL = "none"
"""Scenario and action that SpeechBrain writes for a decoded string it cannot read."""

Entity = dict[str, str]
Semantics = dict[str, Any]  # {"scenario": str, "action": str, "entities": list[Entity]}


# ---------------------------------------------------------------------------------------------
# The semantics sequence of the direct model


def format_semantics(scenario: str, action: str, entities: Sequence[Mapping[str, str]]) -> str:
    """The target string of SpeechBrain's direct SLURP recipe.

    ``format_semantics("alarm", "set", [{"type": "time", "filler": "eight am"}])`` is
    ``{'scenario': 'alarm'| 'action': 'set'| 'entities': [{'type': 'time'| 'filler': 'eight am'}]}``.

    The string is Python's own ``repr`` of the dict, so quoting follows ``repr`` (a filler holding an
    apostrophe, ``jessica's``, is written in double quotes); every comma, including one inside a
    filler, becomes ``|``.
    """
    semantics = {
        "scenario": scenario,
        "action": action,
        # Key order type, filler: the recipe builds each entity dict in that order.
        "entities": [{"type": entity["type"], "filler": entity["filler"]} for entity in entities],
    }
    return str(semantics).replace(",", "|")


def parse_semantics(text: object) -> Semantics | None:
    """Read a decoded semantics string back into ``{"scenario", "action", "entities"}``.

    As the recipe does, every ``|`` becomes ``,`` and the result is read as a Python literal (never
    executed). ``None`` is returned, and nothing is raised, when the string is not a literal (unbalanced
    brackets, bare words, garbage, nesting too deep) or is not a dict with a string ``scenario``, a
    string ``action`` and an ``entities`` list of dicts each with string ``type`` and ``filler``.

    That check is stricter than the recipe's, which keeps any dict (and only catches ``SyntaxError``):
    a dict without these keys would make SLURP's evaluator fail with a ``KeyError``, so it is treated
    as unreadable instead. Extra keys of an entity are kept, since the official span match compares
    whole entity dicts; extra top-level keys are dropped, since the evaluator never reads them.
    """
    if not isinstance(text, str):
        return None
    try:
        value = ast.literal_eval(text.replace("|", ","))
    # literal_eval raises SyntaxError for non-literals, ValueError for names or calls, and
    # TypeError, MemoryError or RecursionError for pathological input: all mean "unreadable".
    except Exception:
        return None
    return _validated_semantics(value)


def prediction_entry(text: str, file: str) -> dict[str, Any]:
    """The line SpeechBrain writes to ``predictions.jsonl`` for one decoded string.

    The parsed semantics, or the recipe's fallback ``{"scenario": "none", "action": "none",
    "entities": []}`` when the string cannot be read, with ``file`` (the audio file's base name,
    the key SLURP's evaluator matches on) added.
    """
    semantics = parse_semantics(text)
    if semantics is None:
        semantics = _none_semantics()
    return {**semantics, "file": file}


def _none_semantics() -> Semantics:
    return {"scenario": NONE_LABEL, "action": NONE_LABEL, "entities": []}


def _validated_semantics(value: object) -> Semantics | None:
    """``value`` as ``{"scenario", "action", "entities"}`` if it has that structure, else ``None``."""
    if not isinstance(value, Mapping):
        return None
    scenario, action, entities = value.get("scenario"), value.get("action"), value.get("entities")
    if not isinstance(scenario, str) or not isinstance(action, str):
        return None
    # A tuple can only come from a hand-written string, but it iterates like the list the
    # evaluator expects, so it is accepted.
    if not isinstance(entities, (list, tuple)):
        return None
    checked: list[Entity] = []
    for entity in entities:
        if not isinstance(entity, Mapping):
            return None
        if not isinstance(entity.get("type"), str) or not isinstance(entity.get("filler"), str):
            return None
        checked.append(dict(entity))
    return {"scenario": scenario, "action": action, "entities": checked}


# ---------------------------------------------------------------------------------------------
# Labels from the SLURP jsonl records


def annotation_entities(sentence_annotation: str) -> list[Entity]:
    """The entities of a ``sentence_annotation`` as SpeechBrain's ``prepare.py`` reads them.

    ``"wake me up at [time : eight] o'clock"`` gives ``[{"type": "time", "filler": "eight"}]``. Each
    ``[...]`` block is split at ``:``; the type is the stripped text before the first colon and the
    filler the stripped text between the first and a possible second colon, as in the recipe (no
    filler of the devel or test split contains a colon). These are the fillers the direct model is
    trained on; the evaluator's gold fillers come from the tokens instead (``gold_items_from_record``).

    Raises ``ValueError`` for a block without a colon (the recipe fails there too).
    """
    entities: list[Entity] = []
    for block in sentence_annotation.split("[")[1:]:
        parts = block.split("]")[0].split(":")
        if len(parts) < 2:
            raise ValueError(f"entity annotation without ':' in {sentence_annotation!r}")
        entities.append({"type": parts[0].strip(), "filler": parts[1].strip()})
    return entities


def gold_items_from_record(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The gold items of one SLURP jsonl record, as SLURP's evaluator builds them.

    One item per recording, ``{"file", "scenario", "action", "entities"}``, all sharing the record's
    labels. Entity fillers are the lower-cased surfaces of the span's tokens joined by single spaces.
    The scenario and action come from their own fields, never from the record's ``intent`` field,
    which is not always ``scenario_action``.
    """
    tokens = record["tokens"]
    entities = [
        {"type": entity["type"], "filler": " ".join(tokens[i]["surface"].lower() for i in entity["span"])}
        for entity in record["entities"]
    ]
    return [
        {
            "file": recording["file"],
            "scenario": record["scenario"],
            "action": record["action"],
            "entities": [dict(entity) for entity in entities],
        }
        for recording in record["recordings"]
    ]


# ---------------------------------------------------------------------------------------------
# Distances between a gold and a predicted filler


def levenshtein(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Edit distance between two sequences, every insertion, deletion and substitution costing 1."""
    if len(a) < len(b):
        a, b = b, a  # keep the row short: memory is O(min(len(a), len(b)))
    previous = list(range(len(b) + 1))
    for i, item_a in enumerate(a, start=1):
        current = [i]
        for j, item_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (item_a != item_b)))
        previous = current
    return previous[-1]


_MULTIPLE_WHITESPACE = re.compile(r"\s\s+")


def _words(text: str) -> list[str]:
    """Words as the evaluator's word error rate (jiwer 2.0.0's default transform) sees them.

    Runs of two or more whitespace characters become one space, the ends are stripped, the text is
    split on single spaces and blank pieces are dropped.
    """
    return [word for word in _MULTIPLE_WHITESPACE.sub(" ", text).strip().split(" ") if word.strip()]


def word_distance(gold: str, predicted: str) -> float:
    """Word error rate of ``predicted`` against ``gold``: word edit distance / number of gold words.

    It is 0 for equal word sequences and exceeds 1 when the prediction inserts words (``"noon"``
    against ``"at noon today"`` is 2.0). The evaluator's jiwer raises on a gold filler with no
    words; gold fillers built from token spans are never empty, and here such a gold filler gives
    0.0 against an empty prediction and 1.0 against any other.
    """
    gold_words, predicted_words = _words(gold), _words(predicted)
    if not gold_words:
        return 0.0 if not predicted_words else 1.0
    return levenshtein(gold_words, predicted_words) / len(gold_words)


def char_distance(gold: str, predicted: str) -> float:
    """Character Levenshtein distance divided by the longer string's length, in [0, 1].

    Case-sensitive and over every character, spaces included. Two empty strings give 1.0, as
    ``textdistance`` 4.1.5 (the version the evaluator pins) returns for a zero maximum.
    """
    longest = max(len(gold), len(predicted))
    if longest == 0:
        return 1.0
    return levenshtein(gold, predicted) / longest


DISTANCES: dict[str, Callable[[str, str], float]] = {"word": word_distance, "char": char_distance}


# ---------------------------------------------------------------------------------------------
# Scoring


@dataclass
class _Counts:
    """True positives, false positives and false negatives per entity type.

    Kept per type and summed at the end, as the evaluator does, so that the float sums match its
    order of additions.
    """

    tp: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    fp: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    fn: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def totals(self) -> tuple[float, float, float]:
        return sum(self.tp.values()), sum(self.fp.values()), sum(self.fn.values())

    def add(self, other: _Counts) -> None:
        for mine, theirs in ((self.tp, other.tp), (self.fp, other.fp), (self.fn, other.fn)):
            for label, value in theirs.items():
                mine[label] += value


@dataclass
class _DistanceMatch:
    type: str
    gold: str
    predicted: str
    distance: float


@dataclass
class _ItemScore:
    """Everything one recording contributes to the scores."""

    id: str | None
    malformed: bool
    gold: Semantics
    predicted: Semantics
    span: _Counts
    span_matched: list[Entity]
    span_extra: list[Entity]
    span_missed: list[Entity]
    distance: dict[str, _Counts]
    distance_matches: dict[str, list[_DistanceMatch]]

    @property
    def gold_intent(self) -> str:
        return intent_label(self.gold["scenario"], self.gold["action"])

    @property
    def predicted_intent(self) -> str:
        return intent_label(self.predicted["scenario"], self.predicted["action"])


def intent_label(scenario: str, action: str) -> str:
    """The intent as SLURP's evaluator forms it: ``f"{scenario}_{action}"``."""
    return f"{scenario}_{action}"


def _item_id(item: object) -> str | None:
    if not isinstance(item, Mapping):
        return None
    value = item.get("file", item.get("id"))
    return None if value is None else str(value)


def _gold_semantics(item: Mapping[str, Any]) -> Semantics:
    """A gold item reduced to what the evaluator compares; entities keep only ``type`` and ``filler``."""
    try:
        return {
            "scenario": str(item["scenario"]),
            "action": str(item["action"]),
            "entities": [{"type": str(e["type"]), "filler": str(e["filler"])} for e in item["entities"]],
        }
    except (KeyError, TypeError) as error:
        raise ValueError(f"gold item {_item_id(item)!r} lacks scenario, action or entities: {error}") from error


def _span_counts(
    gold: list[Entity], predicted: list[Entity]
) -> tuple[_Counts, list[Entity], list[Entity], list[Entity]]:
    """Exact entity matching: counts, matched predictions, unmatched predictions, unmatched gold."""
    counts = _Counts()
    remaining = [dict(entity) for entity in gold]
    matched: list[Entity] = []
    extra: list[Entity] = []
    for entity in predicted:
        # Whole-dict equality, as the evaluator's ``entity in gold``: type and filler must both be
        # identical strings, and an entity carrying any further key never matches.
        if entity in remaining:
            counts.tp[entity["type"]] += 1
            remaining.remove(entity)
            matched.append(entity)
        else:
            counts.fp[entity["type"]] += 1
            extra.append(entity)
    for entity in remaining:
        counts.fn[entity["type"]] += 1
    return counts, matched, extra, remaining


def _distance_counts(
    gold: list[Entity], predicted: list[Entity], distance: Callable[[str, str], float]
) -> tuple[_Counts, list[_DistanceMatch]]:
    """Type-matched entities with the filler distance as a partial error (see the module docstring)."""
    counts = _Counts()
    matches: list[_DistanceMatch] = []
    gold_labels = [entity["type"] for entity in gold]
    gold_fillers = [entity["filler"] for entity in gold]
    for entity in predicted:
        label = entity["type"]
        if label not in gold_labels:
            counts.fp[label] += 1
            continue
        # Predictions are taken in order, each pairing with the nearest unmatched gold entity of its
        # type; strict "<" keeps the first gold entity on ties, as the evaluator does.
        best_index, best_distance = 0, float("inf")
        for index, gold_label in enumerate(gold_labels):
            if gold_label == label:
                value = distance(gold_fillers[index], entity["filler"])
                if value < best_distance:
                    best_index, best_distance = index, value
        counts.tp[label] += 1
        counts.fp[label] += best_distance
        counts.fn[label] += best_distance
        matches.append(_DistanceMatch(label, gold_fillers[best_index], entity["filler"], best_distance))
        gold_labels.pop(best_index)
        gold_fillers.pop(best_index)
    for label in gold_labels:
        counts.fn[label] += 1
    return counts, matches


def _score_item(gold_item: Mapping[str, Any], predicted_item: Mapping[str, Any] | None) -> _ItemScore:
    gold_id, predicted_id = _item_id(gold_item), _item_id(predicted_item)
    if gold_id is not None and predicted_id is not None and gold_id != predicted_id:
        raise ValueError(f"gold item {gold_id!r} is paired with prediction {predicted_id!r}")
    gold = _gold_semantics(gold_item)
    predicted = None if predicted_item is None else _validated_semantics(predicted_item)
    malformed = predicted is None
    if predicted is None:
        predicted = _none_semantics()
    span, matched, extra, missed = _span_counts(gold["entities"], predicted["entities"])
    distance: dict[str, _Counts] = {}
    distance_matches: dict[str, list[_DistanceMatch]] = {}
    for name, function in DISTANCES.items():
        distance[name], distance_matches[name] = _distance_counts(gold["entities"], predicted["entities"], function)
    return _ItemScore(gold_id, malformed, gold, predicted, span, matched, extra, missed, distance, distance_matches)


def _score_items(
    gold: Sequence[Mapping[str, Any]], predicted: Sequence[Mapping[str, Any] | None]
) -> list[_ItemScore]:
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold items but {len(predicted)} predictions")
    return [_score_item(g, p) for g, p in zip(gold, predicted)]


def precision_recall_f1(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    """Precision, recall and F1 (fractions), each 0 where the evaluator's ``compute_metrics`` makes it 0."""
    precision = 0.0 if tp == 0 and fp == 0 else tp / (tp + fp)
    recall = 0.0 if tp == 0 and fn == 0 else tp / (tp + fn)
    f1 = 0.0 if precision == 0 and recall == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1


def _prf_entries(prefix: str, counts: _Counts) -> dict[str, float]:
    tp, fp, fn = counts.totals()
    precision, recall, f1 = precision_recall_f1(tp, fp, fn)
    return {
        f"{prefix}_precision": 100 * precision,
        f"{prefix}_recall": 100 * recall,
        f"{prefix}_f1": 100 * f1,
        f"{prefix}_tp": tp,
        f"{prefix}_fp": fp,
        f"{prefix}_fn": fn,
    }


def slurp_scores(
    gold: Sequence[Mapping[str, Any]], predicted: Sequence[Mapping[str, Any] | None]
) -> dict[str, float | int]:
    """SLURP's evaluation (``evaluate.py``, micro average) of aligned gold items and predictions.

    ``gold[i]`` and ``predicted[i]`` describe the same recording: ``{"file" or "id", "scenario",
    "action", "entities": [{"type", "filler"}]}``. A ``None`` prediction, or one without that
    structure, is a malformed output and is scored as SpeechBrain writes it: scenario and action
    ``"none"`` (so wrong) and no entities (so every gold entity is missed). When both sides carry a
    ``file``/``id`` they must agree (``ValueError`` otherwise). Unlike ``evaluate.py``, which silently
    skips gold recordings that have no prediction, every gold item here needs a prediction, ``None``
    for a missing one, so a missing output costs as much as a wrong one.

    Returns percentages and the counts behind them:

    ``items``, ``malformed``; ``{scenario,action,intent}_accuracy`` with ``_correct`` (with one label
    per recording these accuracies equal SLURP's micro-averaged F1 for that label);
    ``{span,word,char,slu}_{precision,recall,f1}`` with ``_tp``, ``_fp``, ``_fn`` (floats: the
    distance metrics add fractional errors). ``word_f1`` is the paper's Word-F1, ``char_f1`` its
    Char-F1, ``slu_f1`` its SLU-F1; ``gold_entities`` and ``predicted_entities`` count entities.
    """
    items = _score_items(gold, predicted)
    n = len(items)
    span, slu = _Counts(), _Counts()
    distance = {name: _Counts() for name in DISTANCES}
    correct = {"scenario": 0, "action": 0, "intent": 0}
    for item in items:
        correct["scenario"] += item.gold["scenario"] == item.predicted["scenario"]
        correct["action"] += item.gold["action"] == item.predicted["action"]
        correct["intent"] += item.gold_intent == item.predicted_intent
        span.add(item.span)
        for name in DISTANCES:
            distance[name].add(item.distance[name])
    # SLU-F1 pools the word- and char-distance counts per entity type.
    for name in DISTANCES:
        slu.add(distance[name])

    scores: dict[str, float | int] = {"items": n, "malformed": sum(item.malformed for item in items)}
    for label, count in correct.items():
        scores[f"{label}_accuracy"] = 100 * count / n if n else 0.0
        scores[f"{label}_correct"] = count
    scores.update(_prf_entries("span", span))
    for name in DISTANCES:
        scores.update(_prf_entries(name, distance[name]))
    scores.update(_prf_entries("slu", slu))
    scores["gold_entities"] = sum(len(item.gold["entities"]) for item in items)
    scores["predicted_entities"] = sum(len(item.predicted["entities"]) for item in items)
    return scores


def slurp_item_details(
    gold: Sequence[Mapping[str, Any]], predicted: Sequence[Mapping[str, Any] | None]
) -> list[dict[str, Any]]:
    """One JSON-ready row per recording: labels, correctness and how its entities were matched.

    Keys: ``id``, ``malformed``, ``{gold,pred}_{scenario,action,intent}``,
    ``{scenario,action,intent}_correct``, ``gold_entities``, ``pred_entities``; for span matching
    ``span_matched`` (exactly matched predictions), ``span_extra`` (unmatched predictions),
    ``span_missed`` (unmatched gold) and ``span_tp/fp/fn``; for each distance (``word``, ``char``)
    ``<d>_matches`` (``{"type", "gold", "pred", "distance"}`` per type-matched pair) and
    ``<d>_tp/fp/fn``. Summing the counts over the rows gives the totals of ``slurp_scores``.
    """
    rows: list[dict[str, Any]] = []
    for item in _score_items(gold, predicted):
        row: dict[str, Any] = {
            "id": item.id,
            "malformed": item.malformed,
            "gold_scenario": item.gold["scenario"],
            "pred_scenario": item.predicted["scenario"],
            "gold_action": item.gold["action"],
            "pred_action": item.predicted["action"],
            "gold_intent": item.gold_intent,
            "pred_intent": item.predicted_intent,
            "scenario_correct": item.gold["scenario"] == item.predicted["scenario"],
            "action_correct": item.gold["action"] == item.predicted["action"],
            "intent_correct": item.gold_intent == item.predicted_intent,
            "gold_entities": item.gold["entities"],
            "pred_entities": item.predicted["entities"],
            "span_matched": item.span_matched,
            "span_extra": item.span_extra,
            "span_missed": item.span_missed,
        }
        row.update(zip(("span_tp", "span_fp", "span_fn"), item.span.totals()))
        for name in DISTANCES:
            row[f"{name}_matches"] = [
                {"type": m.type, "gold": m.gold, "pred": m.predicted, "distance": m.distance}
                for m in item.distance_matches[name]
            ]
            row.update(zip((f"{name}_tp", f"{name}_fp", f"{name}_fn"), item.distance[name].totals()))
        rows.append(row)
    return rows

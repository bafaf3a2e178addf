"""SLURP semantics strings and SLURP's official SLU metrics, checked on hand-computed examples."""

from __future__ import annotations

import json
import random
from fractions import Fraction

import pytest

from summarymixing.tasks.slurp_metrics import (
    annotation_entities,
    char_distance,
    format_semantics,
    gold_items_from_record,
    levenshtein,
    parse_semantics,
    prediction_entry,
    slurp_item_details,
    slurp_scores,
    word_distance,
)


def ent(type_: str, filler: str) -> dict[str, str]:
    return {"type": type_, "filler": filler}


def item(id_: str, scenario: str, action: str, *entities: dict[str, str]) -> dict:
    return {"file": id_, "scenario": scenario, "action": action, "entities": list(entities)}


def pct(value: Fraction | float) -> float:
    return pytest.approx(100 * float(value), abs=1e-9)


# ---------------------------------------------------------------------------------------------
# Semantics strings


def test_format_semantics_is_speechbrains_target_string():
    assert (
        format_semantics("alarm", "set", [ent("time", "eight am")])
        == "{'scenario': 'alarm'| 'action': 'set'| 'entities': [{'type': 'time'| 'filler': 'eight am'}]}"
    )
    empty = "{'scenario': 'iot'| 'action': 'hue_lightoff'| 'entities': []}"
    assert format_semantics("iot", "hue_lightoff", []) == empty
    # repr quoting: an apostrophe switches to double quotes; the comma between entities becomes "|".
    assert (
        format_semantics("calendar", "set", [ent("person", "jessica's"), ent("date", "friday")])
        == "{'scenario': 'calendar'| 'action': 'set'| 'entities': "
        "[{'type': 'person'| 'filler': \"jessica's\"}| {'type': 'date'| 'filler': 'friday'}]}"
    )


@pytest.mark.parametrize(
    "scenario, action, entities",
    [
        ("alarm", "set", [ent("time", "eight am")]),
        ("iot", "hue_lightoff", []),
        ("calendar", "set", [ent("person", "jessica's"), ent("date", "this friday"), ent("time", "two")]),
        ("qa", "factoid", [ent("place_name", "paris, france")]),  # a comma survives the "|" round trip
        ("email", "query", [ent("person", 'say "hi"'), ent("event_name", "it's mom's")]),
    ],
)
def test_format_then_parse_round_trips(scenario, action, entities):
    text = format_semantics(scenario, action, entities)
    assert "," not in text
    assert parse_semantics(text) == {"scenario": scenario, "action": action, "entities": entities}


def test_parse_keeps_entity_keys_and_drops_unknown_top_level_keys():
    text = "{'scenario': 'a'| 'action': 'b'| 'entities': [{'type': 't'| 'filler': 'f'| 'x': 'y'}]| 'file': 'z'}"
    expected = {"scenario": "a", "action": "b", "entities": [{"type": "t", "filler": "f", "x": "y"}]}
    assert parse_semantics(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "alarm set time eight am",
        "{'scenario': 'alarm'| 'action': 'set'",  # unbalanced brace
        "{'scenario': 'alarm'| 'action': 'set'| 'entities': [{'type': 'time'| 'filler': 'eight am'}]",  # truncated
        "{'scenario': 'alarm'| 'action': 'set'| 'entities': [{'type': 'time'| 'filler': 'eight am'}}]}",  # crossed
        "{'scenario': 'alarm'| 'action': 'set'}",  # no entities
        "{'scenario': 'alarm'| 'entities': []}",  # no action
        "{'action': 'set'| 'entities': []}",  # no scenario
        "{'scenario': alarm| 'action': 'set'| 'entities': []}",  # bare name: ValueError in literal_eval
        "{'scenario': 1| 'action': 'set'| 'entities': []}",  # not a string
        "{'scenario': 'alarm'| 'action': 'set'| 'entities': 'time'}",  # entities not a list
        "{'scenario': 'alarm'| 'action': 'set'| 'entities': ['time']}",  # entity not a dict
        "{'scenario': 'alarm'| 'action': 'set'| 'entities': [{'type': 'time'}]}",  # entity without filler
        "{'scenario': 'alarm'| 'action': 'set'| 'entities': [{'type': 'time'| 'filler': 8}]}",
        "['scenario'| 'alarm']",  # a literal, but not a dict
        "{'scenario': 'a'| 'action': 'b'| 'entities': []} trailing",
        "__import__('os').system('true')",  # never executed
        "[" * 5000,  # nesting too deep for the parser
        "9" * 5000,  # over Python's int-string limit
    ],
)
def test_malformed_strings_parse_to_none(text):
    assert parse_semantics(text) is None


@pytest.mark.parametrize("value", [None, 3, b"{}", ["{}"]])
def test_parse_of_non_strings_is_none(value):
    assert parse_semantics(value) is None


def test_prediction_entry_writes_speechbrains_fallback():
    assert prediction_entry("<unk> garbage", "audio-1.flac") == {
        "scenario": "none",
        "action": "none",
        "entities": [],
        "file": "audio-1.flac",
    }
    good = format_semantics("alarm", "set", [ent("time", "eight am")])
    assert prediction_entry(good, "audio-2.flac") == item("audio-2.flac", "alarm", "set", ent("time", "eight am"))


# ---------------------------------------------------------------------------------------------
# Labels from jsonl records


def test_annotation_entities_follow_speechbrains_prepare():
    assert annotation_entities("wake me up at [time : eight] o'clock") == [ent("time", "eight")]
    assert annotation_entities("check list") == []
    assert annotation_entities("call [person : jessica's] on [date : this Friday]") == [
        ent("person", "jessica's"),
        ent("date", "this Friday"),  # case kept, unlike the evaluator's gold
    ]
    with pytest.raises(ValueError):
        annotation_entities("a [broken] annotation")


def test_gold_items_follow_the_evaluators_release2prediction():
    record = {
        "slurp_id": 1,
        "sentence": "call jessica's mom this Friday",
        "sentence_annotation": "call [person : jessica's] mom [date : this Friday]",
        "intent": "email_sendemail",  # deliberately not scenario_action: it must not be used
        "scenario": "calendar",
        "action": "set",
        "tokens": [
            {"surface": s, "id": i}
            for i, s in enumerate(["call", "jessica", "'s", "mom", "this", "Friday"])
        ],
        "recordings": [{"file": "audio-1.flac"}, {"file": "audio-1-headset.flac"}],
        "entities": [{"span": [1, 2], "type": "person"}, {"span": [4, 5], "type": "date"}],
    }
    expected_entities = [ent("person", "jessica 's"), ent("date", "this friday")]
    assert gold_items_from_record(record) == [
        item("audio-1.flac", "calendar", "set", *expected_entities),
        item("audio-1-headset.flac", "calendar", "set", *expected_entities),
    ]


# ---------------------------------------------------------------------------------------------
# Distances


def test_levenshtein():
    assert levenshtein("", "") == 0
    assert levenshtein("abc", "") == 3
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("two", "four") == 4  # no shared aligned letter cheaper than 4 edits
    assert levenshtein(["new", "york"], ["new", "yorks"]) == 1


def test_word_distance_is_wer_against_the_gold_filler():
    assert word_distance("new york", "new york") == 0.0
    assert word_distance("new york", "new yorks") == 0.5  # 1 substitution / 2 gold words
    assert word_distance("four pm", "four") == 0.5  # 1 deletion / 2
    assert word_distance("noon", "at noon today") == 2.0  # 2 insertions / 1: above 1
    assert word_distance("friday", "Friday") == 1.0  # case-sensitive
    assert word_distance("eight am", "") == 1.0  # 2 deletions / 2
    assert word_distance("  eight   am ", "eight am") == 0.0  # whitespace runs collapse
    # No gold words: the official jiwer raises; here 0 against nothing and 1 against anything.
    assert word_distance("", "") == 0.0
    assert word_distance(" ", "x") == 1.0


def test_char_distance_is_levenshtein_over_the_longer_length():
    assert char_distance("new york", "new yorks") == pytest.approx(1 / 9)
    assert char_distance("john", "jon") == pytest.approx(1 / 4)
    assert char_distance("noon", "at noon today") == pytest.approx(9 / 13)
    assert char_distance("friday", "Friday") == pytest.approx(1 / 6)
    assert char_distance("eight", "") == 1.0
    assert char_distance("same", "same") == 0.0
    assert char_distance("", "") == 1.0  # textdistance 4.1.5 returns 1 for a zero maximum


def test_distances_agree_with_jiwer_and_rapidfuzz():
    jiwer = pytest.importorskip("jiwer")
    rapidfuzz_levenshtein = pytest.importorskip("rapidfuzz.distance").Levenshtein
    rng = random.Random(0)
    words = ["eight", "am", "pm", "new", "york", "friday", "'s", "a"]
    for _ in range(200):
        gold = " ".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
        pred = (" " * rng.randint(1, 3)).join(rng.choice(words) for _ in range(rng.randint(0, 5)))
        assert word_distance(gold, pred) == pytest.approx(jiwer.wer(gold, pred))
        assert char_distance(gold, pred) == pytest.approx(rapidfuzz_levenshtein.normalized_distance(gold, pred))


# ---------------------------------------------------------------------------------------------
# Scenario, action and intent


def test_label_accuracies():
    gold = [
        item("a", "alarm", "set"),
        item("b", "iot", "hue_lightoff"),
        item("c", "play", "music"),
        item("d", "weather", "query"),
    ]
    predicted = [
        item("a", "alarm", "set"),  # all right
        item("b", "iot", "set"),  # scenario right, action wrong
        item("c", "audio", "music"),  # scenario wrong, action right
        None,  # malformed: "none"/"none", all wrong
    ]
    scores = slurp_scores(gold, predicted)
    # scenario 2/4, action 2/4, intent (scenario_action) 1/4
    assert (scores["scenario_correct"], scores["action_correct"], scores["intent_correct"]) == (2, 2, 1)
    assert scores["scenario_accuracy"] == 50.0
    assert scores["action_accuracy"] == 50.0
    assert scores["intent_accuracy"] == 25.0
    assert (scores["items"], scores["malformed"]) == (4, 1)
    # No entities anywhere: every entity metric is 0 with zero counts, as in the official compute_metrics.
    for key in ("span", "word", "char", "slu"):
        assert (scores[f"{key}_precision"], scores[f"{key}_recall"], scores[f"{key}_f1"]) == (0.0, 0.0, 0.0)
        assert (scores[f"{key}_tp"], scores[f"{key}_fp"], scores[f"{key}_fn"]) == (0, 0, 0)


def test_malformed_predictions_are_wrong_everywhere_and_never_raise():
    gold = [item("a", "alarm", "set", ent("time", "eight am")), item("b", "iot", "hue_lightoff")]
    texts = ["{'scenario': 'alarm'| 'action': 'set'", "garbage ]]"]
    predicted = [parse_semantics(t) for t in texts]
    assert predicted == [None, None]
    scores = slurp_scores(gold, predicted)
    assert scores["malformed"] == 2
    assert scores["scenario_accuracy"] == scores["action_accuracy"] == scores["intent_accuracy"] == 0.0
    # The single gold entity is a false negative everywhere.
    for key in ("span", "word", "char"):
        assert (scores[f"{key}_tp"], scores[f"{key}_fp"], scores[f"{key}_fn"]) == (0, 0, 1)
        assert scores[f"{key}_f1"] == 0.0
    assert (scores["slu_tp"], scores["slu_fp"], scores["slu_fn"]) == (0, 0, 2)
    # A structurally broken prediction dict counts as malformed too.
    broken = [
        {"file": "a", "scenario": "alarm"},
        {"file": "b", "scenario": "iot", "action": "hue_lightoff", "entities": "x"},
    ]
    assert slurp_scores(gold, broken)["malformed"] == 2


# ---------------------------------------------------------------------------------------------
# Entity metrics, one recording at a time

PARTIAL_GOLD = item("b", "travel", "query", ent("place_name", "new york"))
PARTIAL_PRED = item("b", "travel", "query", ent("place_name", "new yorks"))


def test_partial_filler_match():
    scores = slurp_scores([PARTIAL_GOLD], [PARTIAL_PRED])
    # span: the filler differs, so 1 FP and 1 FN -> P = R = F1 = 0.
    assert (scores["span_tp"], scores["span_fp"], scores["span_fn"]) == (0, 1, 1)
    assert scores["span_f1"] == 0.0
    # word: same type -> TP 1, WER("new york", "new yorks") = 1/2 added to FP and FN.
    # P = R = 1 / 1.5 = 2/3.
    assert (scores["word_tp"], scores["word_fp"], scores["word_fn"]) == (1, 0.5, 0.5)
    assert scores["word_precision"] == pct(Fraction(2, 3))
    assert scores["word_recall"] == pct(Fraction(2, 3))
    assert scores["word_f1"] == pct(Fraction(2, 3))
    # char: lev = 1 over max(8, 9) = 9 -> FP = FN = 1/9, P = R = 1 / (10/9) = 0.9.
    assert scores["char_fp"] == pytest.approx(1 / 9)
    assert scores["char_f1"] == pct(Fraction(9, 10))
    # SLU: TP 2, FP = FN = 1/2 + 1/9 = 11/18 -> P = R = 2 / (47/18) = 36/47.
    assert scores["slu_tp"] == 2
    assert scores["slu_fp"] == pytest.approx(11 / 18)
    assert scores["slu_f1"] == pct(Fraction(36, 47))


def test_word_distance_above_one_counts_as_more_than_one_error():
    gold = [item("g", "alarm", "set", ent("time", "noon"))]
    pred = [item("g", "alarm", "set", ent("time", "at noon today"))]
    scores = slurp_scores(gold, pred)
    # WER = 2 insertions / 1 word = 2 -> TP 1, FP 2, FN 2 -> P = R = 1/3.
    assert (scores["word_tp"], scores["word_fp"], scores["word_fn"]) == (1, 2.0, 2.0)
    assert scores["word_f1"] == pct(Fraction(1, 3))
    # char: 9 insertions over 13 -> P = R = 1 / (22/13) = 13/22.
    assert scores["char_f1"] == pct(Fraction(13, 22))


def test_missing_and_extra_entities():
    gold = [item("c", "calendar", "set", ent("person", "john"), ent("date", "today"))]
    pred = [item("c", "calendar", "set", ent("person", "jon"), ent("time", "nine"))]
    scores = slurp_scores(gold, pred)
    # span: "jon" and "nine" are FPs; "john" and "today" are FNs.
    assert (scores["span_tp"], scores["span_fp"], scores["span_fn"]) == (0, 2, 2)
    # word: person pairs with WER("john", "jon") = 1; time has no gold of its type -> FP 1;
    # date unpaired -> FN 1. TP 1, FP 2, FN 2 -> P = R = 1/3.
    assert (scores["word_tp"], scores["word_fp"], scores["word_fn"]) == (1, 2.0, 2.0)
    assert scores["word_f1"] == pct(Fraction(1, 3))
    # char: person distance 1/4 -> TP 1, FP 1.25, FN 1.25 -> P = R = 1/2.25 = 4/9.
    assert (scores["char_tp"], scores["char_fp"], scores["char_fn"]) == (1, 1.25, 1.25)
    assert scores["char_f1"] == pct(Fraction(4, 9))


def test_nearest_gold_entity_of_the_same_type_is_chosen():
    gold = [item("f", "alarm", "set", ent("time", "two"), ent("time", "four pm"))]
    pred = [item("f", "alarm", "set", ent("time", "four"))]
    scores = slurp_scores(gold, pred)
    # word: WER vs "two" = 1, vs "four pm" = 1/2 -> pairs with "four pm"; "two" is an FN.
    # TP 1, FP 1/2, FN 1/2 + 1 -> P = 2/3, R = 1/2.5 = 2/5, F1 = 2TP/(2TP+FP+FN) = 2/4 = 1/2.
    assert (scores["word_tp"], scores["word_fp"], scores["word_fn"]) == (1, 0.5, 1.5)
    assert scores["word_precision"] == pct(Fraction(2, 3))
    assert scores["word_recall"] == pct(Fraction(2, 5))
    assert scores["word_f1"] == pct(Fraction(1, 2))
    # char: vs "two" 4/4, vs "four pm" 3/7 -> "four pm". FP 3/7, FN 3/7 + 1.
    assert scores["char_fp"] == pytest.approx(3 / 7)
    assert scores["char_fn"] == pytest.approx(10 / 7)
    details = slurp_item_details(gold, pred)[0]
    assert details["word_matches"] == [{"type": "time", "gold": "four pm", "pred": "four", "distance": 0.5}]
    assert details["char_matches"][0]["gold"] == "four pm"


def test_ties_pair_with_the_first_gold_entity():
    gold = [item("t", "alarm", "set", ent("time", "one"), ent("time", "two"))]
    pred = [item("t", "alarm", "set", ent("time", "six"))]
    # WER is 1 against both: the first ("one") is taken, "two" is left as the FN.
    assert slurp_item_details(gold, pred)[0]["word_matches"][0]["gold"] == "one"


def test_exact_match_is_case_sensitive_and_needs_the_same_keys():
    gold = [item("h", "calendar", "query", ent("date", "friday"), ent("time", "noon"))]
    pred = [item("h", "calendar", "query", ent("date", "Friday"), {"type": "time", "filler": "noon", "x": "1"})]
    scores = slurp_scores(gold, pred)
    # Neither prediction equals a gold dict: 2 FP, 2 FN.
    assert (scores["span_tp"], scores["span_fp"], scores["span_fn"]) == (0, 2, 2)
    # The distance metrics only look at type and filler: WER 1 for the date, 0 for the time.
    assert (scores["word_tp"], scores["word_fp"], scores["word_fn"]) == (2, 1.0, 1.0)
    # char: 1/6 for the date.
    assert scores["char_fp"] == pytest.approx(1 / 6)


def test_recording_without_entities_on_either_side_adds_nothing():
    base_gold, base_pred = [PARTIAL_GOLD], [PARTIAL_PRED]
    empty_gold, empty_pred = item("d", "iot", "hue_lightoff"), item("d", "iot", "hue_lightoff")
    before = slurp_scores(base_gold, base_pred)
    after = slurp_scores(base_gold + [empty_gold], base_pred + [empty_pred])
    for key in ("span", "word", "char", "slu"):
        for metric in ("precision", "recall", "f1", "tp", "fp", "fn"):
            assert after[f"{key}_{metric}"] == before[f"{key}_{metric}"]


# ---------------------------------------------------------------------------------------------
# A whole test set

DATASET_GOLD = [
    item("A", "alarm", "set", ent("time", "eight am")),
    {**PARTIAL_GOLD, "file": "B"},
    item("C", "calendar", "set", ent("person", "john"), ent("date", "today")),
    item("D", "iot", "hue_lightoff"),
    item("E", "calendar", "query", ent("event_name", "dance class")),
    item("F", "alarm", "set", ent("time", "two"), ent("time", "four pm")),
    item("G", "alarm", "query", ent("time", "noon")),
]
DATASET_PRED = [
    item("A", "alarm", "set", ent("time", "eight am")),
    {**PARTIAL_PRED, "file": "B"},
    item("C", "calendar", "query", ent("person", "jon"), ent("time", "nine")),
    item("D", "iot", "hue_lightoff"),
    None,
    item("F", "alarm", "set", ent("time", "four")),
    item("G", "weather", "query", ent("time", "at noon today")),
]


def test_whole_set_micro_averages_the_counts():
    scores = slurp_scores(DATASET_GOLD, DATASET_PRED)
    # Labels: scenario right for A, B, C, D, F (5/7); action right for A, B, D, F, G (5/7);
    # intent right for A, B, D, F (4/7). E is malformed.
    assert scores["scenario_accuracy"] == pct(Fraction(5, 7))
    assert scores["action_accuracy"] == pct(Fraction(5, 7))
    assert scores["intent_accuracy"] == pct(Fraction(4, 7))
    assert (scores["items"], scores["malformed"]) == (7, 1)
    assert (scores["gold_entities"], scores["predicted_entities"]) == (8, 6)

    # span: A TP 1; B FP 1 FN 1; C FP 2 FN 2; E FN 1; F FP 1 FN 2; G FP 1 FN 1.
    # TP 1, FP 5, FN 7 -> P = 1/6, R = 1/8, F1 = 2/(2+5+7) = 1/7.
    assert (scores["span_tp"], scores["span_fp"], scores["span_fn"]) == (1, 5, 7)
    assert scores["span_precision"] == pct(Fraction(1, 6))
    assert scores["span_recall"] == pct(Fraction(1, 8))
    assert scores["span_f1"] == pct(Fraction(1, 7))

    # word: A TP 1; B TP 1 FP/FN 1/2; C TP 1 FP 2 FN 2; E FN 1; F TP 1 FP 1/2 FN 3/2; G TP 1 FP 2 FN 2.
    # TP 5, FP 5, FN 7 -> P = 1/2, R = 5/12, F1 = 10/(10+5+7) = 5/11 (Word-F1 = 45.45).
    assert (scores["word_tp"], scores["word_fp"], scores["word_fn"]) == (5, 5.0, 7.0)
    assert scores["word_precision"] == pct(Fraction(1, 2))
    assert scores["word_recall"] == pct(Fraction(5, 12))
    assert scores["word_f1"] == pct(Fraction(5, 11))

    # char: partial errors B 1/9, C 1/4 + 1 (time) on FP and + 1 (date) on FN, F 3/7 (+1 FN "two"),
    # G 9/13, E FN 1. Shared part d = 1/9 + 1/4 + 3/7 + 9/13 = (364 + 819 + 1404 + 2268)/3276 = 4855/3276.
    # TP 5, FP = d + 1, FN = d + 3 (date, "two", dance class).
    d = Fraction(1, 9) + Fraction(1, 4) + Fraction(3, 7) + Fraction(9, 13)
    assert d == Fraction(4855, 3276)
    char_fp, char_fn = d + 1, d + 3
    assert scores["char_tp"] == 5
    assert scores["char_fp"] == pytest.approx(float(char_fp))
    assert scores["char_fn"] == pytest.approx(float(char_fn))
    assert scores["char_precision"] == pct(5 / (5 + char_fp))  # 16380/24511 = 66.83
    assert scores["char_recall"] == pct(5 / (5 + char_fn))  # 16380/31063 = 52.73
    assert scores["char_f1"] == pct(10 / (10 + char_fp + char_fn))  # 32760/55574 = 58.95

    # SLU-F1 pools both: TP 10, FP = 5 + d + 1, FN = 7 + d + 3.
    slu_fp, slu_fn = 6 + d, 10 + d
    assert scores["slu_tp"] == 10
    assert scores["slu_precision"] == pct(10 / (10 + slu_fp))
    assert scores["slu_recall"] == pct(10 / (10 + slu_fn))
    assert scores["slu_f1"] == pct(20 / (20 + slu_fp + slu_fn))  # 65520/127646 = 51.33


def test_item_details_sum_to_the_totals_and_are_json_ready():
    rows = slurp_item_details(DATASET_GOLD, DATASET_PRED)
    json.dumps(rows)
    assert [row["id"] for row in rows] == ["A", "B", "C", "D", "E", "F", "G"]
    scores = slurp_scores(DATASET_GOLD, DATASET_PRED)
    for key in ("span", "word", "char"):
        for count in ("tp", "fp", "fn"):
            assert sum(row[f"{key}_{count}"] for row in rows) == pytest.approx(scores[f"{key}_{count}"])
    c = rows[2]
    assert (c["gold_intent"], c["pred_intent"]) == ("calendar_set", "calendar_query")
    assert (c["scenario_correct"], c["action_correct"], c["intent_correct"]) == (True, False, False)
    assert c["span_extra"] == [ent("person", "jon"), ent("time", "nine")]
    assert c["span_missed"] == [ent("person", "john"), ent("date", "today")]
    assert c["word_matches"] == [{"type": "person", "gold": "john", "pred": "jon", "distance": 1.0}]
    e = rows[4]
    assert e["malformed"] and (e["pred_scenario"], e["pred_action"], e["pred_entities"]) == ("none", "none", [])
    assert e["pred_intent"] == "none_none"
    assert rows[0]["span_matched"] == [ent("time", "eight am")]


def test_perfect_predictions_score_100_everywhere():
    gold = [g for g in DATASET_GOLD]
    pred = [parse_semantics(format_semantics(g["scenario"], g["action"], g["entities"])) for g in gold]
    scores = slurp_scores(gold, pred)
    for key in ("scenario_accuracy", "action_accuracy", "intent_accuracy"):
        assert scores[key] == 100.0
    for key in ("span", "word", "char", "slu"):
        assert scores[f"{key}_precision"] == scores[f"{key}_recall"] == scores[f"{key}_f1"] == 100.0
    assert scores["malformed"] == 0


def test_misaligned_inputs_are_rejected():
    with pytest.raises(ValueError):
        slurp_scores(DATASET_GOLD, DATASET_PRED[:-1])
    with pytest.raises(ValueError):
        slurp_scores([item("x", "a", "b")], [item("y", "a", "b")])
    with pytest.raises(ValueError):
        slurp_scores([{"file": "x", "scenario": "a"}], [None])
    empty = slurp_scores([], [])
    assert empty["items"] == 0 and empty["intent_accuracy"] == 0.0 and empty["slu_f1"] == 0.0

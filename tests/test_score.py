"""Scoring (jiwer) and aggregation into the paper-style table."""

import json
from argparse import Namespace

import pandas as pd
import pytest

from conftest import tiny_params, write_params
from summarymixing import paths
from summarymixing.stages import aggregate, score

DATASET, MODEL = "librispeech_replica", "conformer-summarymixing-tiny"


def write_hypotheses(rows):
    path = paths.hypotheses_path(DATASET, MODEL)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_wer_cer_and_alignments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_hypotheses([
        {"split": "test-clean", "decoder": "joint_beam", "id": "1-2-0001", "ref": "THE OLD MAN", "hyp": "the  old men"},
        {"split": "test-clean", "decoder": "joint_beam", "id": "1-2-0002", "ref": "DON'T GO", "hyp": "DON'T GO HOME"},
        {"split": "test-clean", "decoder": "joint_beam", "timing": {"seconds": 1.0, "audio_seconds": 4.0, "rtf": 0.25}},
    ])
    score.run(Namespace(dataset=DATASET, model=MODEL, params=None))
    result = json.loads(paths.scores_path(DATASET, MODEL).read_text())["results"][0]
    # 5 reference words: 1 substitution (MAN/MEN), 1 insertion (HOME); hypotheses upper-cased, spaces collapsed
    assert (result["substitutions"], result["deletions"], result["insertions"], result["words"]) == (1, 0, 1, 5)
    assert result["wer"] == pytest.approx(40.0)
    # characters: "THE OLD MAN" vs "THE OLD MEN" = 1 sub; "DON'T GO" vs "DON'T GO HOME" = 5 insertions; 19 ref chars
    assert result["cer"] == pytest.approx(100 * 6 / 19, abs=1e-3)
    assert result["rtf"] == 0.25 and result["sentence_errors"] == 2
    tsv = pd.read_csv(paths.alignments_dir(DATASET, MODEL) / "test-clean.joint_beam.tsv", sep="\t")
    assert tsv.set_index("id").loc["1-2-0002", ["S", "D", "I", "N"]].tolist() == [0, 0, 1, 2]
    assert "HOME" in (paths.alignments_dir(DATASET, MODEL) / "test-clean.joint_beam.txt").read_text()


def test_malformed_hypotheses_name_the_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_hypotheses([{"split": "test-clean", "decoder": "joint_beam", "id": "x", "ref": "A"}])
    with pytest.raises(ValueError, match=r"hypotheses.jsonl:1: malformed"):
        score.run(Namespace(dataset=DATASET, model=MODEL, params=None))


def test_aggregate_names_the_missing_result(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, tiny_params())
    with pytest.raises(FileNotFoundError, match=r"exp/librispeech_replica/conformer-mhsa-tiny/train_metrics.json: missing"):
        aggregate.run(Namespace(dataset=DATASET, params=None))
    assert not paths.table_paths(DATASET)[0].exists()  # nothing half-written

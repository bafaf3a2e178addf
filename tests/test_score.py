"""Scoring per task (ASR: jiwer WER/CER after the dataset's normaliser; KWS: accuracy) and aggregation
into the paper-style table."""

import json
from pathlib import Path
from argparse import Namespace

import pandas as pd
import pytest

from conftest import tiny_params, write_params
from summarymixing import paths
from summarymixing.stages import aggregate, score
from summarymixing.tasks.text import librispeech

EXPERIMENT = "asr/librispeech_replica/conformer-summarymixing-tiny"


def write_hypotheses(experiment, rows):
    path = paths.hypotheses_path(experiment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = tiny_params()
    write_params(tmp_path, params)
    return params


def test_librispeech_normaliser_folds_both_sides():
    assert librispeech("the  Old man's, hat.") == "THE OLD MAN'S HAT"
    assert librispeech("THE OLD MAN'S HAT") == "THE OLD MAN'S HAT"


def test_wer_cer_and_alignments(project):
    write_hypotheses(EXPERIMENT, [
        {"split": "test-clean", "decoder": "joint_beam", "id": "1-2-0001", "ref": "THE OLD MAN", "hyp": "the  old men"},
        {"split": "test-clean", "decoder": "joint_beam", "id": "1-2-0002", "ref": "DON'T GO", "hyp": "DON'T GO HOME"},
        {"split": "test-clean", "decoder": "joint_beam", "timing": {"seconds": 1.0, "audio_seconds": 4.0, "rtf": 0.25}},
    ])
    score.run(Namespace(experiment=EXPERIMENT, params=None))
    result = json.loads(paths.scores_path(EXPERIMENT).read_text())["results"][0]
    # 5 reference words: 1 substitution (MAN/MEN), 1 insertion (HOME); both sides normalised (case, spaces)
    assert (result["substitutions"], result["deletions"], result["insertions"], result["words"]) == (1, 0, 1, 5)
    assert result["wer"] == pytest.approx(40.0)
    # characters without spaces: "THEOLDMAN" vs "THEOLDMEN" = 1 sub; "DON'TGO" vs "DON'TGOHOME" = 4 insertions;
    # 9 + 7 = 16 reference characters
    assert result["cer"] == pytest.approx(100 * 5 / 16, abs=1e-3)
    assert result["rtf"] == 0.25 and result["sentence_errors"] == 2
    tsv = pd.read_csv(paths.details_dir(EXPERIMENT) / "test-clean.joint_beam.tsv", sep="\t")
    assert tsv.set_index("id").loc["1-2-0002", ["S", "D", "I", "N"]].tolist() == [0, 0, 1, 2]
    assert "HOME" in (paths.details_dir(EXPERIMENT) / "test-clean.joint_beam.txt").read_text()


def test_cer_may_count_spaces(project):
    params = project
    params["datasets"]["librispeech_replica"]["tasks"]["asr"]["cer_counts_spaces"] = True
    write_params(Path("."), params)
    write_hypotheses(EXPERIMENT, [
        {"split": "test-clean", "decoder": "joint_beam", "id": "1", "ref": "DON'T GO", "hyp": "DON'T GO HOME"},
    ])
    score.run(Namespace(experiment=EXPERIMENT, params=None))
    result = json.loads(paths.scores_path(EXPERIMENT).read_text())["results"][0]
    assert result["cer"] == pytest.approx(100 * 5 / 8)  # " HOME": 5 insertions over 8 reference characters


def test_malformed_hypotheses_name_the_line(project):
    write_hypotheses(EXPERIMENT, [{"split": "test-clean", "decoder": "joint_beam", "id": "x", "ref": "A"}])
    with pytest.raises(ValueError, match=r"hypotheses.jsonl:1: malformed"):
        score.run(Namespace(experiment=EXPERIMENT, params=None))


def test_unknown_experiment_is_named(project):
    with pytest.raises(ValueError, match="experiment 'asr/librispeech_replica/nope' is not in the grid"):
        score.run(Namespace(experiment="asr/librispeech_replica/nope", params=None))


def test_aggregate_names_the_missing_result(project):
    with pytest.raises(FileNotFoundError, match=r"exp/asr/librispeech_replica/conformer-mhsa-tiny/train_metrics.json: missing"):
        aggregate.run(Namespace(task="asr", dataset="librispeech_replica", params=None))
    assert not paths.table_paths("asr", "librispeech_replica")[0].exists()  # nothing half-written

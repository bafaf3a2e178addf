"""One plan, two orchestrators: Snakemake and DVC run the same commands with the same outputs, data and
code dependencies and tracked params; dvc.yaml is generated, never stale; jobs rerun only when what
they read changes."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dag_views import dvc_jobs, snakemake_jobs
from summarymixing import dag
from summarymixing.config import get_key, load_params, validate_params

REPO = Path(__file__).resolve().parents[1]


def repo_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def make_project(tmp_path: Path, params: dict) -> Path:
    """A scratch project: the params, and the dvc.yaml generated from them."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (tmp_path / "dvc.yaml").write_text(dag.dvc_yaml(dag.plan(load_params(tmp_path / "params.yaml"))))
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def assert_same_plan(workdir: Path) -> dict:
    smk, dvc = snakemake_jobs(workdir), dvc_jobs(workdir)
    assert set(smk) == set(dvc), f"only in Snakemake: {sorted(set(smk) - set(dvc))}\nonly in DVC: {sorted(set(dvc) - set(smk))}"
    for command, job in smk.items():
        other = dvc[command]
        assert job["outputs"] == other["outputs"], f"{command}: outputs {job['outputs']} vs {other['outputs']}"
        assert job["inputs"] == other["inputs"], f"{command}: inputs differ: {set(job['inputs']) ^ set(other['inputs'])}"
        assert job["params"] == other["params"], f"{command}: params {job['params']} vs {other['params']}"
    return dvc


def test_committed_dvc_yaml_is_generated_from_params():
    assert (REPO / "dvc.yaml").read_text() == dag.dvc_yaml(dag.plan(load_params(REPO / "params.yaml"))), (
        "dvc.yaml is stale: run `summarymixing dvc-yaml`")


def test_dvc_yaml_check_fails_when_stale(tmp_path):
    project = make_project(tmp_path, repo_params())
    run = lambda: subprocess.run([sys.executable, "-m", "summarymixing.cli", "dvc-yaml", "--check"], cwd=project,
                                 capture_output=True, text=True)
    assert run().returncode == 0
    params = repo_params()
    params["decoding"]["asr"]["small"]["beam_size"] += 1  # a decode job tracks it: its params entry is unchanged,
    params["grid"][0]["models"] = params["grid"][0]["models"][:3]  # but fewer models means fewer stages
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stale = run()
    assert stale.returncode == 1 and "dvc.yaml is stale" in stale.stderr


def test_default_grid_same_plan_in_snakemake_and_dvc(tmp_path):
    jobs = assert_same_plan(make_project(tmp_path, repo_params()))
    params = load_params(REPO / "params.yaml")
    n_exps = sum(1 for _ in dag.experiments(params))
    for stage in ("train", "decode", "score"):
        assert sum(c.startswith(f"summarymixing {stage} ") for c in jobs) == n_exps, stage
    assert sum(c.startswith("summarymixing aggregate ") for c in jobs) == 3  # asr, slu, kws tables
    train = jobs["summarymixing train --experiment asr/librispeech_replica/conformer-summarymixing-small"]
    assert "src/summarymixing/models/summary_mixing.py" in train["inputs"]
    assert "src/summarymixing/tasks/asr.py" in train["inputs"] and "src/summarymixing/tasks/kws.py" not in train["inputs"]
    assert {"mixers.summarymixing", "models.small.conformer", "training.asr.small"} <= set(train["params"])
    assert train["uncached"] == ["exp/asr/librispeech_replica/conformer-summarymixing-small/train_metrics.json"]
    table = jobs["summarymixing aggregate --task asr --dataset librispeech_replica"]
    assert table["outputs"] == ["reports/tables/asr/librispeech_replica.csv", "reports/tables/asr/librispeech_replica.md"]


def test_another_grid_same_plan_and_only_used_datasets(tmp_path):
    """Change the grid in params.yaml only: both orchestrators follow, and fetch the same corpora."""
    params = repo_params()
    params["grid"] = [
        {"task": "asr", "datasets": ["librispeech_replica", "librispeech"], "sizes": ["small", "paper"],
         "encoders": ["transformer"], "mixers": ["mha", "summarymixing_fast"], "seeds": [1, 2]},
    ]
    jobs = assert_same_plan(make_project(tmp_path, params))
    assert sum(c.startswith("summarymixing train ") for c in jobs) == 2 * 2 * 2 * 2
    assert "summarymixing train --experiment asr/librispeech/transformer-summarymixing_fast-paper+seed2" in jobs
    params["grid"][0]["datasets"] = ["librispeech_replica"]
    (tmp_path / "only_replica").mkdir()
    jobs = assert_same_plan(make_project(tmp_path / "only_replica", params))
    assert not any("--dataset librispeech " in c + " " for c in jobs), "a dataset no experiment uses is planned"


def job_fingerprints(params: dict) -> dict[str, tuple]:
    """What decides whether a job reruns: its command, inputs, code and the values of its tracked params."""
    return {j.name: (j.cmd, tuple(j.deps), tuple(j.code), tuple((k, repr(get_key(params, k))) for k in j.params))
            for j in dag.plan(params)}


def test_editing_a_description_changes_no_job():
    params = load_params(REPO / "params.yaml")
    before = job_fingerprints(params)
    edited = copy.deepcopy(params)
    for cfg in edited["datasets"].values():
        cfg["description"] = cfg.get("description", "") + " (edited)"
    validate_params(edited)
    assert job_fingerprints(edited) == before


def test_replica_worker_count_changes_no_job():
    params = load_params(REPO / "params.yaml")
    before = job_fingerprints(params)
    edited = copy.deepcopy(params)
    edited["datasets"]["librispeech_replica"]["replica"]["workers"] = 1
    after = job_fingerprints(edited)
    assert {k: v for k, v in after.items() if not k.startswith("source-")} == {k: v for k, v in before.items() if not k.startswith("source-")}
    assert after["source-librispeech_replica"][3] == before["source-librispeech_replica"][3]  # same tracked params


def test_adding_a_test_split_decodes_again_but_does_not_retrain():
    params = load_params(REPO / "params.yaml")
    params["datasets"]["librispeech_replica"]["test_splits"] = ["dev-clean", "test-clean"]
    before = job_fingerprints(params)
    params["datasets"]["librispeech_replica"]["test_splits"].append("test-other")
    after = job_fingerprints(params)
    changed = {name for name in after if before.get(name) != after[name]}
    assert {"prepare-librispeech_replica-test-other", "features-librispeech_replica-test-other",
            "download-librispeech_replica-test-other"} <= changed
    assert not any(name.startswith(("train-", "source-", "tokenizer-", "lm-")) for name in changed), sorted(changed)
    assert any(name.startswith("decode-asr-librispeech_replica") for name in changed)


def test_code_dependencies_are_the_import_closure():
    closure = dag.code_closure("summarymixing.stages.source", "summarymixing.corpora.librispeech")
    assert "src/summarymixing/stages/source.py" in closure and "src/summarymixing/corpora/fetch.py" in closure
    assert not any(path.startswith("src/summarymixing/models/") for path in closure)  # the source stage runs no model
    train = dag.code_closure("summarymixing.stages.train", "summarymixing.tasks.kws")
    assert "src/summarymixing/models/classifier.py" in train and "src/summarymixing/models/seq2seq.py" in train
    assert "src/summarymixing/tasks/asr.py" not in train


def test_snakemake_refuses_config_overrides_that_stage_commands_would_not_see(tmp_path):
    make_project(tmp_path, repo_params())
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n",
         "--cores", "1", "--config", "features={num_mel_bins: 40}"],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "SUMMARYMIXING_PARAMS" in result.stdout + result.stderr


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["grid"][0].update(datasets=["nope"]), "grid[0].datasets: 'nope' is not defined"),
    (lambda p: p["training"]["asr"]["small"].update(epochs=0), "training.asr.small.epochs"),
    (lambda p: p["grid"][0]["models"].append({"encoder": "mamba", "mixer": "mhsa"}), "models.small has no settings for encoder 'mamba'"),
    (lambda p: (p["grid"][0]["models"].append({"encoder": "mamba", "mixer": "mhsa"}),
                p["models"]["small"].update(mamba={"d_model": 8})), "unknown encoder 'mamba'"),
    (lambda p: p["grid"][1].update(task="diarisation"), "has no settings for task 'diarisation'"),
])
def test_invalid_params_fail_before_anything_runs(tmp_path, edit, message):
    params = repo_params()
    edit(params)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n", "--cores", "1"],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert "params.yaml" in result.stdout + result.stderr

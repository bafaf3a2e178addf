"""The whole DAG, end to end, on a tiny configuration: Snakemake, DVC, resuming, SLURM.

The tiny configuration (``conftest.tiny_params``) runs the same stages and code paths as the default
run, with tiny replicas and one-layer models, so that the DAG finishes in a few minutes. It checks that
the tables come out, that the models learn (validation loss falls, the error rate beats a bound),
that every command loaded only code the DAG declares, and that edits rerun only what they should.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, tiny_params, write_params

SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]
DATASET = "librispeech_replica"
MODELS = ["conformer-mhsa-tiny", "conformer-summarymixing-tiny"]
EXPERIMENTS = [f"asr/{DATASET}/{m}" for m in MODELS]
TEST_SPLITS = ["dev-clean", "test-clean", "test-other"]
DECODERS = ("ctc_greedy", "joint_beam", "joint_beam_lm")


def table_path(work: Path, suffix: str) -> Path:
    return work / "reports" / "tables" / "asr" / f"{DATASET}.{suffix}"


def env() -> dict[str, str]:
    """The test's environment, with the virtualenv's console scripts first on PATH."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def run(cmd: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def snakemake_project(tmp_path_factory):
    """A tiny project run once through `snakemake --cores 2`: (directory, params, process); every command
    records the package modules it loaded (``$SUMMARYMIXING_RECORD_IMPORTS``)."""
    work = tmp_path_factory.mktemp("snakemake")
    params = tiny_params()
    write_params(work, params)
    os.environ["SUMMARYMIXING_RECORD_IMPORTS"] = str(work / "imports.jsonl")
    try:
        proc = run([*SNAKEMAKE, "--directory", str(work), "--cores", "2"], cwd=work)
    finally:
        del os.environ["SUMMARYMIXING_RECORD_IMPORTS"]
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return work, params, proc


def check_table(work: Path, params: dict) -> pd.DataFrame:
    """The table of a finished tiny run has the grid's rows and values consistent with the runs."""
    df = pd.read_csv(table_path(work, "csv"))
    assert sorted(zip(df["mixer"], df["decoder"])) == sorted((m, d) for m in ("mhsa", "summarymixing") for d in DECODERS)
    assert set(df["encoder"]) == {"conformer"} and set(df["size"]) == {"tiny"} and set(df["source"]) == {"replica"}
    for experiment in EXPERIMENTS:
        mixer = experiment.split("/")[-1].split("-")[1]
        rows = df[df["mixer"] == mixer]
        metrics = json.loads((work / "exp" / experiment / "train_metrics.json").read_text())
        scores = json.loads((work / "exp" / experiment / "scores.json").read_text())
        assert (rows["parameters"] == metrics["parameters"]).all() and metrics["parameters"] > 10_000
        assert metrics["epochs"] == params["training"]["asr"]["tiny"]["epochs"]
        assert metrics["train_seconds"] > 0 and metrics["peak_memory_bytes"] > 0 and (rows["device_hours"] > 0).all()
        assert metrics["provenance"]["lock_hash"] and metrics["provenance"]["versions"]["torch"]
        for result in scores["results"]:  # every number in the table is the scored one
            row = rows[rows["decoder"] == result["decoder"]].iloc[0]
            assert row[f"{result['split']} wer"] == pytest.approx(result["wer"])
            assert row[f"{result['split']} cer"] == pytest.approx(result["cer"])
            assert result["utterances"] == 8
        for split in TEST_SPLITS:
            assert (work / "exp" / experiment / "details" / f"{split}.joint_beam.tsv").is_file()
    text = table_path(work, "md").read_text()
    assert "synthetic replica, NOT the real corpus" in text
    assert re.search(r"params hash `[0-9a-f]{12}`", text) and "git commit `" in text and "lock `" in text
    assert "## Published (for reference: real corpus" in text and "| Conformer | SummaryMixing | 2.8 | 2.1 | 5.1 | 98 | 21 |" in text
    assert "Joint CTC/attention beam search + language model" in text
    for split in TEST_SPLITS:
        assert f"{split} CER %" in text
    return df


def check_learning(work: Path) -> None:
    """The models learn: every experiment's validation loss falls; the ASR models' character error rate
    beats a bound far below what an untrained model scores (CER 100 %: it emits nothing useful); the
    language model's perplexity is far below a uniform guess's."""
    for metrics_file in (work / "exp").glob("*/*/*/train_metrics.json"):
        history = json.loads(metrics_file.read_text())["history"]
        assert history[-1]["valid_loss"] < history[0]["valid_loss"], (metrics_file, history)
    for task, dataset in (("slu", "slurp_replica"), ("kws", "speechcommands_replica")):
        assert (work / "reports" / "tables" / task / f"{dataset}.md").is_file(), (task, dataset)
    for experiment in EXPERIMENTS:
        scores = json.loads((work / "exp" / experiment / "scores.json").read_text())["results"]
        best = min(r["cer"] for r in scores if r["split"] == "test-clean")
        assert best < 90.0, (experiment, best)
    lm = json.loads((work / "exp" / "lm" / DATASET / "train_metrics.json").read_text())
    vocab = len((work / "data" / DATASET / "tokenizer" / "asr" / "tokenizer.vocab").read_text().splitlines())
    assert lm["valid_perplexity"] < vocab / 2, (lm["valid_perplexity"], vocab)  # far better than uniform


@pytest.mark.slow
def test_snakemake_runs_the_whole_dag(snakemake_project):
    work, params, proc = snakemake_project
    check_table(work, params)
    check_learning(work)
    out = proc.stdout + proc.stderr
    for stage in ("source", "download", "prepare", "tokenizer", "features", "lm", "train", "decode", "score", "aggregate"):
        assert f"rule {stage}:" in out or f"localrule {stage}:" in out, stage


@pytest.mark.slow
def test_every_command_loaded_only_declared_code(snakemake_project):
    """The code dependencies the DAG declares (derived from the source) cover what each command imported."""
    from summarymixing import dag
    from summarymixing.config import load_params

    work, _, _ = snakemake_project
    declared = {job.cmd.split(" ", 1)[1]: set(job.code) for job in dag.plan(load_params(work / "params.yaml"))}
    plumbing = {"summarymixing", "summarymixing.cli", "summarymixing.environment"}  # the dispatcher, not tracked
    records = [json.loads(line) for line in (work / "imports.jsonl").read_text().splitlines()]
    assert len(records) >= 10
    for record in records:
        command = " ".join(record["argv"])
        loaded = {dag.module_file(m).relative_to(REPO).as_posix() for m in record["modules"]
                  if m not in plumbing and dag.module_file(m) is not None}
        assert loaded <= declared[command], f"{command}: undeclared {sorted(loaded - declared[command])}"


@pytest.mark.slow
def test_edits_rerun_only_what_reads_them(snakemake_project):
    """A description edit plans no job; dropping a test split decodes and scores again but retrains nothing."""
    work, params, _ = snakemake_project
    edited = copy.deepcopy(params)
    edited["datasets"][DATASET]["description"] = "edited by a test"
    write_params(work, edited)
    try:
        proc = run([*SNAKEMAKE, "--directory", str(work), "--cores", "1", "-n"], cwd=work)
        assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]
        edited["datasets"][DATASET]["test_splits"] = ["dev-clean", "test-clean"]
        write_params(work, edited)
        proc = run([*SNAKEMAKE, "--directory", str(work), "--cores", "1", "-n", "--quiet", "rules"], cwd=work)
        planned = set(re.findall(r"^(\w+)\s+\d+$", proc.stdout, re.M))
        assert proc.returncode == 0 and {"decode", "score", "aggregate"} <= planned, proc.stdout
        assert not planned & {"train", "lm", "source", "download", "prepare", "features", "tokenizer"}, planned
    finally:
        write_params(work, params)


@pytest.mark.slow
def test_second_snakemake_run_does_nothing(snakemake_project):
    work, _, _ = snakemake_project
    proc = run([*SNAKEMAKE, "--directory", str(work), "--cores", "2"], cwd=work)
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_dvc_repro_builds_the_same_table(tmp_path, snakemake_project):
    smk_work, params, _ = snakemake_project
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    write_params(tmp_path, params)
    assert run([sys.executable, "-m", "summarymixing.cli", "dvc-yaml"], cwd=tmp_path).returncode == 0
    assert run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path).returncode == 0
    proc = run([sys.executable, "-m", "dvc", "repro", "--glob", "aggregate-*"], cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    dvc_df = check_table(tmp_path, params)
    smk_df = pd.read_csv(table_path(smk_work, "csv"))
    assert list(dvc_df.columns) == list(smk_df.columns)
    # Same data (the replica is deterministic) and the same models: same sizes, same scores' structure.
    assert sorted(dvc_df["parameters"]) == sorted(smk_df["parameters"])
    source = json.loads((tmp_path / "data" / DATASET / "source" / "source.json").read_text())
    smk_source = json.loads((smk_work / "data" / DATASET / "source" / "source.json").read_text())
    assert {n: a["checksum"] for n, a in source["archives"].items()} == {n: a["checksum"] for n, a in smk_source["archives"].items()}
    again = run([sys.executable, "-m", "dvc", "repro", "--glob", "aggregate-*"], cwd=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout[-2000:]

    # a description edit: DVC finds nothing to do either
    edited = copy.deepcopy(params)
    edited["datasets"][DATASET]["description"] = "edited by a test"
    write_params(tmp_path, edited)
    # (the efficiency stage is outside what this test reproduced, so the status is asked of the tables)
    aggregates = [name for name in yaml.safe_load((tmp_path / "dvc.yaml").read_text())["stages"] if name.startswith("aggregate-")]
    status = run([sys.executable, "-m", "dvc", "status", "--with-deps", *aggregates], cwd=tmp_path)
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout[-2000:]


def train_cmd() -> list[str]:
    return [sys.executable, "-m", "summarymixing.cli", "train", "--experiment", EXPERIMENTS[1]]


@pytest.mark.slow
def test_training_resumes_after_kill(tmp_path, snakemake_project):
    smk_work, params, _ = snakemake_project
    shutil.copytree(smk_work / "data", tmp_path / "data", symlinks=True)
    params = copy.deepcopy(params)
    params["training"]["asr"]["tiny"]["epochs"] = 6
    write_params(tmp_path, params)
    ckpt_dir = tmp_path / "checkpoints" / EXPERIMENTS[1]

    proc = subprocess.Popen(train_cmd(), cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while not list(ckpt_dir.glob("CKPT+*/complete.ckpt")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed:\n" + proc.stdout.read()[-3000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "exp" / EXPERIMENTS[1] / "model.pt").exists()
    complete = [p.parent for p in ckpt_dir.glob("CKPT+*/complete.ckpt")]
    first = json.loads((complete[-1] / "cost.ckpt").read_text())
    assert 1 <= len(first["history"]) < 6

    # A save cut short by a kill: SpeechBrain writes checkpoint files in place, so fake one whose
    # model file is truncated and which lacks the completion marker. It must be discarded, not loaded.
    cut_short = ckpt_dir / "CKPT+9999-12-31+23-59-59+00"
    shutil.copytree(complete[-1], cut_short)
    (cut_short / "complete.ckpt").unlink()
    model_file = cut_short / "model.ckpt"
    model_file.write_bytes(model_file.read_bytes()[: model_file.stat().st_size // 2])

    resumed = run(train_cmd(), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "Loading a checkpoint" in resumed.stdout + resumed.stderr
    assert "incomplete checkpoint" in resumed.stdout + resumed.stderr and not cut_short.exists()
    metrics = json.loads((tmp_path / "exp" / EXPERIMENTS[1] / "train_metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3, 4, 5, 6]
    assert metrics["history"][: len(first["history"])] == first["history"]  # the killed run's epochs are kept
    assert metrics["train_seconds"] >= first["seconds"]

    # Settings changed since: the old checkpoints must not be resumed.
    params["training"]["asr"]["tiny"]["lr"] = params["training"]["asr"]["tiny"]["lr"] / 2
    write_params(tmp_path, params)
    fresh = run(train_cmd(), cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert "checkpoints were made with other settings" in fresh.stdout + fresh.stderr
    assert "Loading a checkpoint" not in fresh.stdout + fresh.stderr


def test_stage_errors_name_the_missing_file(tmp_path):
    write_params(tmp_path, tiny_params())
    proc = run([sys.executable, "-m", "summarymixing.cli", "decode", "--experiment", EXPERIMENTS[0]], cwd=tmp_path)
    assert proc.returncode == 1
    assert f"data/{DATASET}/tokenizer/asr/tokenizer.model: missing; run `summarymixing tokenizer" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.slurm
def test_whole_dag_through_slurm_profile(tmp_path):
    """`snakemake --profile slurm`: every job of the tiny DAG is an sbatch job and the table comes out."""
    from test_slurm import OVERLAY_DIR, PROFILE_DIR, _require_cluster

    _require_cluster()
    params = tiny_params()
    params["grid"] = [entry for entry in params["grid"] if entry["task"] == "asr"]
    params["grid"][0]["mixers"] = ["summarymixing"]
    write_params(tmp_path, params)
    proc = run([*SNAKEMAKE, "--directory", str(tmp_path), "--profile", str(PROFILE_DIR), "--profile", str(OVERLAY_DIR),
                "--cores", "all"], cwd=tmp_path, timeout=1500)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert table_path(tmp_path, "md").is_file()
    logs = {p.parent.relative_to(tmp_path / "slurm-logs").parts[0] for p in (tmp_path / "slurm-logs").rglob("*.log")}
    assert {"rule_source", "rule_download", "rule_train", "rule_decode", "rule_score", "rule_aggregate"} <= logs, logs

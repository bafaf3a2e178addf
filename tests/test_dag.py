"""Snakemake and DVC enumerate the same jobs: the same commands, each declaring the same outputs.

Both read the grid from params.yaml; this test is what keeps the Snakefile and dvc.yaml in step.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
LOG_REDIRECT = re.compile(r"\s*>\s*\S+\s+2>&1\s*$")


def snakemake_jobs(workdir: Path, targets=("all", "efficiency")) -> dict[str, set[str]]:
    """command -> declared outputs, from a forced dry run of the repository's Snakefile in ``workdir``."""
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
         "-n", "-F", "-p", "--cores", "1", *targets],
        capture_output=True, text=True, check=True,
    ).stdout
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        outputs = re.search(r"^\s+output: (.+)$", block, re.M)
        command = re.search(r"^Shell command: (.+)$", block, re.M)
        if command and command.group(1) != "None":  # rule all has no command
            jobs[LOG_REDIRECT.sub("", command.group(1))] = set(outputs.group(1).split(", ")) if outputs else set()
    return jobs


def dvc_jobs(workdir: Path) -> dict[str, set[str]]:
    """command -> declared outs and metrics, from the repository's dvc.yaml evaluated in ``workdir``."""
    from dvc.repo import Repo

    with Repo(str(workdir)) as repo:
        return {stage.cmd: {str(Path(o.def_path)) for o in stage.outs} for stage in repo.index.stages}


def make_project(tmp_path: Path, params: dict) -> Path:
    """A scratch DVC project with the repository's dvc.yaml and the given params."""
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def repo_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def assert_same_jobs(workdir: Path):
    smk, dvc = snakemake_jobs(workdir), dvc_jobs(workdir)
    assert set(smk) == set(dvc), (
        f"only in Snakemake: {sorted(set(smk) - set(dvc))}\nonly in DVC: {sorted(set(dvc) - set(smk))}"
    )
    for command, outputs in smk.items():
        assert outputs == dvc[command], f"{command}: Snakemake declares {sorted(outputs)}, DVC {sorted(dvc[command])}"
    return smk


def test_default_grid_same_jobs_in_snakemake_and_dvc(tmp_path):
    jobs = assert_same_jobs(make_project(tmp_path, repo_params()))
    n_models = 2 * 3  # conformer, branchformer x mhsa, summarymixing, summarymixing_lite
    for stage, count in {"train": n_models, "decode": n_models, "score": n_models, "aggregate": 1, "source": 1}.items():
        assert sum(c.startswith(f"summarymixing {stage} ") for c in jobs) == count, stage
    assert "summarymixing aggregate --dataset librispeech_replica" in jobs
    assert {"reports/tables/librispeech_replica.md", "reports/tables/librispeech_replica.csv"} == jobs[
        "summarymixing aggregate --dataset librispeech_replica"]


def test_another_grid_same_jobs_in_snakemake_and_dvc(tmp_path):
    """Change the grid in params.yaml only: both DAGs follow."""
    params = repo_params()
    params["grid"] = {
        "datasets": ["librispeech_replica", "librispeech"],
        "asr": {"datasets": ["librispeech_replica", "librispeech"], "encoders": ["transformer"],
                "mixers": ["mha", "summarymixing_fast"], "sizes": ["small", "paper"]},
    }
    jobs = assert_same_jobs(make_project(tmp_path, params))
    assert sum(c.startswith("summarymixing train ") for c in jobs) == 2 * 1 * 2 * 2
    assert "summarymixing train --dataset librispeech --model transformer-summarymixing_fast-paper" in jobs


def test_snakemake_refuses_config_overrides_that_stage_commands_would_not_see(tmp_path):
    make_project(tmp_path, repo_params())
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n",
         "--cores", "1", "--config", "features={num_mel_bins: 40}"],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "SUMMARYMIXING_PARAMS" in result.stdout + result.stderr


@pytest.mark.parametrize("broken, message", [
    ({"grid": {"datasets": ["nope"]}}, "grid.datasets: 'nope' is not defined"),
    ({"training": {"small": {"epochs": 0}}}, "training.small.epochs"),
])
def test_invalid_params_fail_before_anything_runs(tmp_path, broken, message):
    params = repo_params()
    for key, value in broken.items():
        if key == "training":
            params["training"]["small"]["epochs"] = 0
        else:
            params[key] = {**params[key], **value}
    make_project(tmp_path, params)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n", "--cores", "1"],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert "params.yaml" in result.stdout + result.stderr

"""The repository's SLURM profile (slurm/): lookup, content, sbatch flags, and a real submission.

Fast tests (no cluster): `--profile slurm` from the repository root finds slurm/profile.yaml;
the profile asks for GPUs for `train`/`decode` only; a workflow default profile does not
silently replace its keys; the sbatch command lines it produces (captured by a fake sbatch).

Marked `slurm`: submits a tiny workflow to a real SLURM cluster through the profile (plus the
CPU-only test overlay tests/profiles/slurm-cpu/) and checks the jobs ran under SLURM. Start a
local one-node cluster with `sudo scripts/local_slurm.sh`. Without a usable cluster the test is
skipped, unless SUMMARYMIXING_REQUIRE_SLURM=1 (set in CI), where it fails instead.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILE_DIR = REPO / "slurm"
OVERLAY_DIR = REPO / "tests" / "profiles" / "slurm-cpu"
PROFILE_FILE_RE = re.compile(r"(profile|config)(\.v\d+\+)?\.yaml")

GPU_RULES = ("train", "decode", "lm")
CPU_RULES = ("source", "download", "prepare", "tokenizer", "features", "score", "aggregate", "efficiency")
# Keys under which resources select GPUs (sbatch --gpus / --gres).
GPU_KEYS = ("gpu", "gpus", "gpu_model", "gres", "cpus_per_gpu", "tasks_per_gpu")

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _env() -> dict[str, str]:
    """The test's environment, with this interpreter's bin/ first on PATH (the venv)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _profile_files(directory: Path) -> list[str]:
    return sorted(f.name for f in directory.iterdir() if PROFILE_FILE_RE.fullmatch(f.name)) if directory.is_dir() else []


def _load(directory: Path) -> dict:
    (name,) = _profile_files(directory)
    return yaml.safe_load((directory / name).read_text(encoding="utf-8"))


def _job_resources(snakemake_output: str) -> dict[str, list[dict[str, str]]]:
    """Resources of each job in a `snakemake -n` log, grouped by rule name."""
    jobs: dict[str, list[dict[str, str]]] = {}
    rule = None
    for line in snakemake_output.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line.strip())
        if m:
            rule = m.group(1)
            continue
        m = re.match(r"^resources: (.*)$", line.strip())
        if m and rule is not None:
            pairs = (item.split("=", 1) for item in m.group(1).split(", "))
            jobs.setdefault(rule, []).append({k: v for k, v in pairs})
            rule = None
    return jobs


# ---------------------------------------------------------------------------------------------
# Fast tests: no cluster needed.


def test_profile_slurm_resolves_to_repository_profile(monkeypatch):
    """`snakemake --profile slurm`, run from the repository root, loads slurm/<profile file>."""
    from snakemake.cli import get_profile_dir

    files = _profile_files(PROFILE_DIR)
    # With several candidate files Snakemake's choice depends on directory order: keep one.
    assert len(files) == 1, f"slurm/ must hold exactly one profile file, found {files}"
    monkeypatch.chdir(REPO)
    found = get_profile_dir("slurm")
    assert found is not None, "snakemake does not find a profile named 'slurm' from the repository root"
    _directory, profile_file = found
    assert profile_file.resolve() == (PROFILE_DIR / files[0]).resolve()


def test_profile_content():
    profile = _load(PROFILE_DIR)
    assert profile["executor"] == "slurm"
    for key in ("jobs", "latency-wait", "retries"):
        assert isinstance(profile[key], int) and profile[key] >= 1, key
    assert profile["rerun-incomplete"] is True
    assert profile["keep-going"] is True
    assert profile["printshellcmds"] is True

    # SLURM logs go to a git-ignored folder.
    logdir = profile["slurm-logdir"]
    ignored = subprocess.run(["git", "check-ignore", "-q", f"{logdir}/rule_train/1.log"], cwd=REPO)
    assert ignored.returncode == 0, f"slurm-logdir {logdir!r} is not git-ignored"

    # Status command: left to the plugin's detection (sacct when installed) on real clusters.
    assert profile.get("slurm-status-command") in (None, "sacct", "squeue")

    defaults = profile["default-resources"]
    for key in ("mem_mb", "runtime", "cpus_per_task"):
        assert isinstance(defaults[key], int) and defaults[key] >= 1, key
    assert not set(GPU_KEYS) & set(defaults), "default-resources must be CPU-only"

    per_rule = profile["set-resources"]
    for rule in GPU_RULES:
        res = per_rule[rule]
        assert res["gpu"] >= 1, rule
        assert res["cpus_per_gpu"] >= 1, rule
        # The plugin prefers cpus_per_task over cpus_per_gpu: the default must be switched off.
        assert not res.get("cpus_per_task"), f"{rule}: cpus_per_task would override cpus_per_gpu"
        assert res["mem_mb"] >= 1 and res["runtime"] >= 1, rule
    for rule in CPU_RULES:
        res = per_rule[rule]
        assert not set(GPU_KEYS) & set(res), f"{rule} is a CPU rule but asks for {set(GPU_KEYS) & set(res)}"
        # Explicit, so `threads` (capped by the submitting machine's cores) does not decide.
        assert res["cpus_per_task"] >= 1, rule
    assert set(per_rule) == set(GPU_RULES) | set(CPU_RULES), "unknown rule names in set-resources"


def test_profile_slurm_extra_is_valid():
    """No `slurm_extra` smuggles flags the plugin manages (it would reject them at submission)."""
    from snakemake_executor_plugin_slurm.validation import get_forbidden_slurm_options

    profile = _load(PROFILE_DIR)
    blocks = [profile["default-resources"], *profile["set-resources"].values()]
    for block in blocks:
        extra = block.get("slurm_extra")
        if extra:
            for pattern, name in get_forbidden_slurm_options().items():
                assert not re.search(pattern, extra), f"slurm_extra {extra!r} sets the {name}"


def test_overlay_replaces_gpu_resources():
    """The test overlay keeps the same rules but without GPUs, and uses squeue."""
    overlay = _load(OVERLAY_DIR)
    assert overlay["slurm-status-command"] == "squeue"
    assert set(GPU_RULES) <= set(overlay["set-resources"])
    for rule, res in overlay["set-resources"].items():
        assert not set(GPU_KEYS) & set(res), rule


def test_workflow_default_profile_does_not_override_slurm_profile():
    """A workflow profile (profiles/default/, workflow/profiles/default/) is applied automatically
    AFTER --profile and replaces whole top-level keys: its set-resources would silently drop the
    GPU requests of slurm/. If one exists, it must not set keys the SLURM profile sets."""
    # Snakemake also takes a directory named `default` in the working directory as the workflow
    # profile, and exits with an error when it holds no profile file.
    assert not (REPO / "default").is_dir() or _profile_files(REPO / "default"), (
        "a directory default/ in the repository root breaks `snakemake` (taken as workflow profile)"
    )
    slurm_keys = set(_load(PROFILE_DIR))
    for candidate in (REPO / "profiles" / "default", REPO / "workflow" / "profiles" / "default", REPO / "default"):
        if not _profile_files(candidate):
            continue
        clash = slurm_keys & set(_load(candidate))
        assert not clash, f"{candidate.relative_to(REPO)} overrides slurm/ keys {sorted(clash)}"


# Two train jobs (wildcards) feeding one aggregate job: each rule writes $SLURM_JOB_ID, which only
# SLURM sets, into its output.
TINY_WORKFLOW = textwrap.dedent(
    """
    rule all:
        input: "aggregate.txt"

    rule train:
        output: "train/{model}.txt"
        threads: 1
        resources:
            mem_mb=100
        shell: 'echo "$SLURM_JOB_ID" > {output}'

    rule aggregate:
        input: expand("train/{model}.txt", model=["a", "b"])
        output: "aggregate.txt"
        threads: 1
        shell: 'cat {input} > {output}; echo "$SLURM_JOB_ID" >> {output}'
    """
)
# For dry runs only: adds decode jobs.
TINY_WORKFLOW_WITH_DECODE = TINY_WORKFLOW.replace(
    'input: "aggregate.txt"', 'input: "aggregate.txt", expand("decode/{model}.txt", model=["a", "b"])'
) + textwrap.dedent(
    """
    rule decode:
        input: "train/{model}.txt"
        output: "decode/{model}.txt"
        shell: "cp {input} {output}"
    """
)


def test_dry_run_with_profile_slurm_from_repository_root(tmp_path):
    """`snakemake --profile slurm -n` from the repository root: the profile is found and the jobs
    get GPUs for train/decode only (this also catches a workflow profile in the repository root
    that replaces set-resources)."""
    (tmp_path / "Snakefile").write_text(TINY_WORKFLOW_WITH_DECODE, encoding="utf-8")
    cmd = [*SNAKEMAKE, "--profile", "slurm", "-n", "-s", str(tmp_path / "Snakefile"), "--directory", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Using profile slurm " in out, out[-4000:]
    jobs = _job_resources(out)
    assert len(jobs["train"]) == 2 and len(jobs["decode"]) == 2 and len(jobs["aggregate"]) == 1, jobs
    for rule in ("train", "decode"):
        for res in jobs[rule]:
            assert res.get("gpu") == "1", (rule, res)
            assert int(res["cpus_per_gpu"]) >= 1, (rule, res)
    assert "gpu" not in jobs["aggregate"][0], jobs["aggregate"]
    assert jobs["aggregate"][0]["cpus_per_task"] == "1", jobs["aggregate"]


def _write_fake_slurm(bin_dir: Path, calls: Path) -> None:
    """sbatch that records its command line and refuses the job; enough else for the plugin."""
    bin_dir.mkdir()
    scripts = {
        "sbatch": f'printf "%s\\n" "$*" >> {shlex.quote(str(calls))}\necho "sbatch: error: fake sbatch, job refused" >&2\nexit 1',
        "sinfo": 'echo "PARTITION"; echo "cpu*"; echo "gpu"',
        "sacct": 'echo "sacct: error: fake" >&2; exit 1',
        "scontrol": "exit 1",
        "squeue": "exit 0",
        "scancel": "exit 0",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
        path.chmod(0o755)


def test_sbatch_flags_of_repository_profile(tmp_path):
    """The sbatch command lines the repository profile produces, captured by a fake sbatch (no
    cluster needed): GPU rules ask for --gpus and --cpus-per-gpu (not the default
    --cpus-per-task), CPU rules for --cpus-per-task only."""
    calls = tmp_path / "sbatch_calls.txt"
    _write_fake_slurm(tmp_path / "bin", calls)
    workdir = tmp_path / "wf"
    workdir.mkdir()
    # Independent jobs, so each rule is submitted although every submission fails.
    (workdir / "Snakefile").write_text(
        textwrap.dedent(
            """
            rule all:
                input: "train.txt", "decode.txt", "aggregate.txt"
            rule train:
                output: "train.txt"
                shell: "touch {output}"
            rule decode:
                output: "decode.txt"
                shell: "touch {output}"
            rule aggregate:
                output: "aggregate.txt"
                shell: "touch {output}"
            """
        ),
        encoding="utf-8",
    )
    env = _env()
    env["PATH"] = os.pathsep.join([str(tmp_path / "bin"), env["PATH"]])
    # --retries 0 and a 1 s first status check only make the (failing) run quick; they do not
    # change the sbatch command lines.
    cmd = [
        *SNAKEMAKE, "--profile", str(PROFILE_DIR), "--cores", "all",
        "--retries", "0", "--slurm-init-seconds-before-status-checks", "1",
    ]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, "the fake sbatch refuses every job"
    assert calls.exists(), out[-4000:]
    by_rule: dict[str, str] = {}
    for line in calls.read_text(encoding="utf-8").splitlines():
        m = re.search(r"--comment '?rule_(\w+?)'? ", line)
        assert m, line
        by_rule[m.group(1)] = line
    assert set(by_rule) == {"train", "decode", "aggregate"}, (by_rule, out[-4000:])
    per_rule = _load(PROFILE_DIR)["set-resources"]
    for rule in ("train", "decode"):
        res, call = per_rule[rule], by_rule[rule]
        assert f"--gpus={res['gpu']}" in call and f"--cpus-per-gpu={res['cpus_per_gpu']}" in call, call
        assert "--cpus-per-task" not in call and "--ntasks-per-gpu" not in call, call
        assert f"--mem {res['mem_mb']}" in call and f"-t {res['runtime']}" in call, call
    res, aggregate = per_rule["aggregate"], by_rule["aggregate"]
    assert f"--cpus-per-task={res['cpus_per_task']}" in aggregate, aggregate
    assert f"--mem {res['mem_mb']}" in aggregate and f"-t {res['runtime']}" in aggregate, aggregate
    assert "--gpus" not in aggregate and "--gres" not in aggregate, aggregate
    # Default partition found through sinfo (no partition in the profile), no account guessed.
    assert " -p cpu" in aggregate and " -A " not in aggregate, aggregate


# ---------------------------------------------------------------------------------------------
# Real submission: needs a SLURM cluster (scripts/local_slurm.sh).


def _cluster_problem() -> str | None:
    """Why no usable SLURM cluster is here, or None."""
    missing = [tool for tool in ("sbatch", "squeue", "sinfo") if shutil.which(tool) is None]
    if missing:
        return f"SLURM client commands not on PATH: {', '.join(missing)} (run scripts/local_slurm.sh)"
    try:
        proc = subprocess.run(
            ["sinfo", "-h", "-t", "idle,mix", "-o", "%n"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return "sinfo timed out: slurmctld not answering"
    if proc.returncode != 0:
        return f"sinfo failed: {proc.stderr.strip()} (is slurmctld running? scripts/local_slurm.sh)"
    if not proc.stdout.strip():
        return "sinfo shows no idle node"
    return None


def _require_cluster() -> None:
    """Skip without a usable cluster; fail instead when SUMMARYMIXING_REQUIRE_SLURM=1 (CI)."""
    problem = _cluster_problem()
    if problem is None:
        return
    if os.environ.get("SUMMARYMIXING_REQUIRE_SLURM") == "1":
        pytest.fail(f"SUMMARYMIXING_REQUIRE_SLURM=1 but no usable SLURM cluster: {problem}")
    pytest.skip(problem)


@pytest.mark.slurm
def test_jobs_really_run_under_slurm(tmp_path):
    """`snakemake --profile slurm --profile tests/profiles/slurm-cpu --cores all` on a tiny
    workflow: every job is submitted with sbatch and completes under SLURM."""
    _require_cluster()
    (tmp_path / "Snakefile").write_text(TINY_WORKFLOW, encoding="utf-8")
    cmd = [*SNAKEMAKE, "--profile", str(PROFILE_DIR), "--profile", str(OVERLAY_DIR), "--cores", "all"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert re.search(r"Using profiles \S*slurm and \S*slurm-cpu", out), out[-2000:]

    job_ids: dict[str, str] = {}
    for model in ("a", "b"):
        train_id = (tmp_path / "train" / f"{model}.txt").read_text().split()
        assert len(train_id) == 1 and train_id[0].isdigit(), f"train {model}: SLURM_JOB_ID was {train_id}"
        job_ids[model] = train_id[0]
    aggregate_ids = (tmp_path / "aggregate.txt").read_text().split()
    assert aggregate_ids[:2] == [job_ids["a"], job_ids["b"]], aggregate_ids
    assert len(aggregate_ids) == 3 and aggregate_ids[2].isdigit(), f"aggregate: SLURM_JOB_ID was {aggregate_ids[2:]}"
    job_ids["aggregate"] = aggregate_ids[2]
    assert len(set(job_ids.values())) == 3, f"each job is its own SLURM job: {job_ids}"

    # The profile keeps successful jobs' logs in slurm-logs/ (relative to where snakemake ran),
    # named after the SLURM job ids: the jobs went through sbatch with this profile.
    logs = tmp_path / "slurm-logs"
    expected = [
        logs / "rule_train" / "a" / f"{job_ids['a']}.log",
        logs / "rule_train" / "b" / f"{job_ids['b']}.log",
        logs / "rule_aggregate" / f"{job_ids['aggregate']}.log",
    ]
    missing = [str(p.relative_to(tmp_path)) for p in expected if not p.is_file()]
    found = sorted(str(p.relative_to(tmp_path)) for p in logs.rglob("*.log")) if logs.exists() else []
    assert not missing, f"missing SLURM logs {missing}; found {found}"

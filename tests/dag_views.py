"""What each orchestrator plans, read from the orchestrator itself, for tests/test_dag.py.

    python tests/dag_views.py snakemake <workdir>    # Snakemake's jobs (forced), as JSON on stdout

``snakemake_jobs`` runs that in a subprocess (Snakemake keeps global state) and ``dvc_jobs`` asks DVC's
own Repo API: both return ``{command: {"outputs", "inputs", "params"}}`` with repository-relative paths.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _relative(path: str) -> str:
    p = Path(path)
    if p.is_absolute():
        try:
            return p.relative_to(REPO).as_posix()
        except ValueError:
            return p.as_posix()
    return p.as_posix()


def _snakemake_main(workdir: str) -> None:
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import DAGSettings, OutputSettings, Quietness, ResourceSettings

    os.chdir(workdir)
    jobs = {}
    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        workflow_api = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=REPO / "Snakefile",
                                    workdir=Path(workdir))
        workflow_api.dag(dag_settings=DAGSettings(forceall=True, targets={"all", "efficiency"}))
        workflow = workflow_api._workflow  # the DAG's jobs are not part of the public API
        workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True)
        workflow._build_dag()
        for job in workflow.dag.jobs:
            if job.rule.name == "all":
                continue
            params = dict(job.params.items())
            jobs[params["cmd"]] = {
                "rule": job.rule.name,
                "outputs": sorted(_relative(str(o)) for o in job.output),
                "inputs": sorted(_relative(str(i)) for i in job.input),
                "params": sorted(params["tracked"]),
                "log": [str(x) for x in job.log],
            }
    print(json.dumps(jobs))


def snakemake_jobs(workdir: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "snakemake", str(workdir)], capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"Snakemake could not plan the DAG:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def dvc_jobs(workdir: Path) -> dict:
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    jobs = {}
    with Repo(str(workdir)) as repo:
        for stage in repo.index.stages:
            params = [k for dep in stage.deps if isinstance(dep, ParamsDependency) for k in dep.params]
            inputs = [dep.def_path for dep in stage.deps if not isinstance(dep, ParamsDependency)]
            jobs[stage.cmd] = {
                "name": stage.name,
                "outputs": sorted(Path(o.def_path).as_posix() for o in stage.outs),
                "inputs": sorted(Path(i).as_posix() for i in inputs),
                "params": sorted(params),
                "uncached": sorted(Path(o.def_path).as_posix() for o in stage.outs if not o.use_cache),
            }
    return jobs


if __name__ == "__main__":
    if sys.argv[1] == "snakemake":
        _snakemake_main(sys.argv[2])

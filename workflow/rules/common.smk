# Shared wiring: params.yaml is validated and the DAG planned once, by the package (the same plan
# dvc.yaml is generated from); each rule finds its job by its wildcards and takes the job's inputs
# (data and code), tracked params and command from it.
import os
import re

from summarymixing import dag, paths
from summarymixing.config import load_params

PARAMS_FILE = os.environ.get("SUMMARYMIXING_PARAMS", "params.yaml")
if config != load_params(PARAMS_FILE):  # validates params.yaml, naming the key at fault
    raise WorkflowError(
        f"the Snakemake config differs from {PARAMS_FILE}: the stage commands read {PARAMS_FILE}, so pass "
        "another params file with SUMMARYMIXING_PARAMS=<file> rather than --config/--configfile"
    )

JOBS = dag.plan(config)
BY_STAGE = dag.jobs_by_stage(JOBS)


def one_of(values):
    """A wildcard constraint matching exactly these values."""
    return "|".join(re.escape(v) for v in sorted(set(values), key=len, reverse=True)) or "NONE"


wildcard_constraints:
    dataset=one_of(job.key["dataset"] for job in JOBS if "dataset" in job.key),
    archive=one_of(job.key["archive"] for job in JOBS if "archive" in job.key),
    split=one_of(job.key["split"] for job in JOBS if "split" in job.key),
    task=one_of(job.key["task"] for job in JOBS if "task" in job.key),
    experiment=one_of(job.key["experiment"] for job in JOBS if "experiment" in job.key),


def job(stage, wildcards):
    """The planned job of ``stage`` with these wildcards."""
    for key, found in BY_STAGE.get(stage, {}).items():
        if all(getattr(wildcards, name) == value for name, value in zip(found.key, key)):
            return found
    raise WorkflowError(f"no {stage} job for {dict(wildcards.items())} in the plan of {PARAMS_FILE}")


def inputs(stage):
    """Input function: the job's data, and its code (absolute, so --directory works)."""
    return lambda wc: [*job(stage, wc).deps, *(os.path.join(workflow.basedir, f) for f in job(stage, wc).code)]


def tracked(stage):
    """Params function: the values of the params.yaml keys the job reads (a change reruns it)."""
    return lambda wc: {key: dag_value(key) for key in job(stage, wc).params}


def dag_value(key):
    value = config
    for part in key.split("."):
        value = value[part]
    return value


def command(stage):
    return lambda wc: job(stage, wc).cmd


def job_threads(stage):
    return lambda wc: job(stage, wc).threads


def table_outputs():
    return [out for j in JOBS if j.stage == "aggregate" for out in j.outputs]

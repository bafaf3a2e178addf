# Shared wiring: the params are validated once, the grid is enumerated by the package (the same
# functions the stage commands use), and each rule's code and settings are listed so that a change
# to either reruns what depends on it (as DVC's deps/params do).
import glob
import os

from summarymixing import paths
from summarymixing.config import ModelSpec, asr_experiments, dataset_config, load_params, model_config

PARAMS_FILE = os.environ.get("SUMMARYMIXING_PARAMS", "params.yaml")
if config != load_params(PARAMS_FILE):  # validates params.yaml, naming the key at fault
    raise WorkflowError(
        f"the Snakemake config differs from {PARAMS_FILE}: the stage commands read {PARAMS_FILE}, so pass "
        "another params file with SUMMARYMIXING_PARAMS=<file> rather than --config/--configfile"
    )

DATASETS = config["grid"]["datasets"]
EXPERIMENTS = asr_experiments(config)


wildcard_constraints:
    dataset="|".join(DATASETS) or "NONE",
    model=r"[a-z0-9]+-[a-z0-9_]+-[a-z0-9_]+",


def code(*patterns):
    """Source files of the package that a rule's command runs (absolute, so --directory works)."""
    root = os.path.join(workflow.basedir, "src", "summarymixing")
    return sorted(f for p in patterns for f in glob.glob(os.path.join(root, p)))


def dataset_settings(wildcards):
    return dataset_config(config, wildcards.dataset)


def training_settings(wildcards):
    spec = ModelSpec.parse(wildcards.model)
    return {"arch": model_config(config, spec), "training": config["training"][spec.size]}


def decoding_settings(wildcards):
    return config["decoding"][ModelSpec.parse(wildcards.model).size]


def source_threads(wildcards):
    return dataset_settings(wildcards).get("replica", {}).get("workers", 1)


def dataset_models(dataset):
    return [spec.id for ds, spec in EXPERIMENTS if ds == dataset]


def asr_tables():
    return [str(p) for ds in dict.fromkeys(ds for ds, _ in EXPERIMENTS) for p in paths.table_paths(ds)]

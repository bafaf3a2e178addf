# summarymixing-repro: the whole DAG, from corpus download to the paper's tables.
#
#   snakemake --cores all                       every table of the grid in params.yaml (reports/tables/)
#   snakemake --cores all efficiency            Figure 2: time, RTF and memory against length
#   snakemake --cores all --profile slurm       the same, every job submitted to SLURM (./slurm/)
#
# Wiring only: the jobs (commands, inputs, tracked params, outputs) are planned from params.yaml by
# src/summarymixing/dag.py, which also generates dvc.yaml; each rule below looks its job up there.
# The grid and every setting live in params.yaml (or the file named by $SUMMARYMIXING_PARAMS).
import os

from snakemake.utils import min_version

min_version("9.19")


configfile: os.environ.get("SUMMARYMIXING_PARAMS", "params.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/efficiency.smk"


rule all:
    default_target: True
    input:
        table_outputs(),

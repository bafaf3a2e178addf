# summarymixing-repro: the whole DAG, from corpus download to the paper's tables.
#
#   snakemake --cores all                       accuracy tables of the grid in params.yaml (reports/tables/)
#   snakemake --cores all efficiency            Figure 2: time, RTF and memory against length
#   snakemake --cores all --profile slurm       the same, every job submitted to SLURM (./slurm/)
#
# Wiring only: every rule runs one `summarymixing <stage>` command (the same commands as dvc.yaml),
# and the grid and every setting live in params.yaml (or the file named by $SUMMARYMIXING_PARAMS).
import os

from snakemake.utils import min_version

min_version("9.19")


configfile: os.environ.get("SUMMARYMIXING_PARAMS", "params.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/asr.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/efficiency.smk"


rule all:
    default_target: True
    input:
        asr_tables(),

# Efficiency benchmark: the paper's Figure 2 and the GPU-hours / memory columns, regenerated on this
# hardware (src/summarymixing/efficiency, `summarymixing bench`). dvc.yaml's `efficiency` stage runs the
# same command. Everything it measures comes from params.yaml: efficiency (read again by the command);
# `config` (the Snakefile loads params.yaml) is used only for wiring: the output names and the resources.

EFFICIENCY = config["efficiency"]
EFFICIENCY_NAME = EFFICIENCY["device"]  # the CLI names its outputs after efficiency.device


rule efficiency:
    output:
        csv=f"reports/efficiency/{EFFICIENCY_NAME}.csv",
        figure=f"reports/figures/efficiency_{EFFICIENCY_NAME}.png",
        table="reports/tables/efficiency.md",
    params:
        # rerun when what is measured changes
        efficiency=EFFICIENCY,
        mixers={m: config["mixers"][m] for m in EFFICIENCY["mixers"]},
    log:
        "logs/efficiency.log",
    threads: EFFICIENCY.get("threads", 2)
    resources:
        # each point is capped at memory_limit_gib (+ ~2 GiB for the process itself); CPU only
        # (for efficiency.device: cuda, submit with a GPU, e.g. --set-resources efficiency:gpu=1)
        mem_mb=int((EFFICIENCY.get("memory_limit_gib", 16) + 3) * 1024),
        runtime=30,
    shell:
        "summarymixing bench > {log} 2>&1"

# Efficiency benchmark: the paper's Figure 2 and the GPU-hours / memory columns, regenerated on this
# hardware (src/summarymixing/efficiency, `summarymixing bench`); its outputs are committed reports.

EFFICIENCY = config["efficiency"]


rule efficiency:
    output:
        BY_STAGE["efficiency"][()].reports,
    input:
        [os.path.join(workflow.basedir, f) for f in BY_STAGE["efficiency"][()].code],
    params:
        tracked={key: dag_value(key) for key in BY_STAGE["efficiency"][()].params},
        cmd=BY_STAGE["efficiency"][()].cmd,
    log:
        "logs/efficiency.log",
    threads: BY_STAGE["efficiency"][()].threads
    resources:
        # each point is capped at memory_limit_gib (+ ~2 GiB for the process itself); CPU only
        # (for efficiency.device: cuda, submit with a GPU, e.g. --set-resources efficiency:gpu=1)
        mem_mb=int((EFFICIENCY.get("memory_limit_gib", 16) + 3) * 1024),
        runtime=30,
    shell:
        "{params.cmd} > {log} 2>&1"

# Reports: one table per (task, dataset), gathering every experiment of the grid on it.


rule aggregate:
    output:
        markdown=paths.table_paths("{task}", "{dataset}")[0],
        csv=paths.table_paths("{task}", "{dataset}")[1],
    input:
        inputs("aggregate"),
    params:
        tracked=tracked("aggregate"),
        cmd=command("aggregate"),
    log:
        "logs/{task}/{dataset}/aggregate.log",
    shell:
        "{params.cmd} > {log} 2>&1"

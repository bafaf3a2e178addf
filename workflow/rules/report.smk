# Reports: one table per dataset, gathering every model of the grid.


rule aggregate:
    output:
        markdown="reports/tables/{dataset}.md",
        csv="reports/tables/{dataset}.csv",
    input:
        lambda wc: expand("exp/{{dataset}}/{model}/scores.json", model=dataset_models(wc.dataset)),
        lambda wc: expand("exp/{{dataset}}/{model}/train_metrics.json", model=dataset_models(wc.dataset)),
        code("stages/aggregate.py", "published.py"),
    log:
        "logs/{dataset}/aggregate.log",
    shell:
        "summarymixing aggregate --dataset {wildcards.dataset} > {log} 2>&1"

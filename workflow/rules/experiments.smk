# Experiments: train -> decode -> score, once per experiment of the grid (<task>/<dataset>/<name>).


rule train:
    output:
        model=paths.model_path("{experiment}"),
        metrics=paths.train_metrics_path("{experiment}"),
    input:
        inputs("train"),
    params:
        tracked=tracked("train"),
        cmd=command("train"),
    threads: 1
    log:
        "logs/{experiment}/train.log",
    shell:
        "{params.cmd} > {log} 2>&1"


rule decode:
    output:
        paths.hypotheses_path("{experiment}"),
    input:
        inputs("decode"),
    params:
        tracked=tracked("decode"),
        cmd=command("decode"),
    threads: 1
    log:
        "logs/{experiment}/decode.log",
    shell:
        "{params.cmd} > {log} 2>&1"


rule score:
    output:
        scores=paths.scores_path("{experiment}"),
        details=directory(paths.details_dir("{experiment}")),
    input:
        inputs("score"),
    params:
        tracked=tracked("score"),
        cmd=command("score"),
    log:
        "logs/{experiment}/score.log",
    shell:
        "{params.cmd} > {log} 2>&1"

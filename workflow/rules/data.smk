# Data: source (per dataset) -> download (per archive) -> prepare, features (per split) -> tokenizer
# (per dataset and task) -> lm (per dataset, ASR only).


rule source:
    output:
        directory(paths.source_dir("{dataset}")),
    input:
        inputs("source"),
    params:
        tracked=tracked("source"),
        cmd=command("source"),
    threads: job_threads("source")
    log:
        "logs/{dataset}/source.log",
    shell:
        "{params.cmd} > {log} 2>&1"


rule download:
    output:
        directory(paths.corpus_dir("{dataset}", "{archive}")),
    input:
        inputs("download"),
    params:
        tracked=tracked("download"),
        cmd=command("download"),
    retries: 2
    log:
        "logs/{dataset}/{archive}/download.log",
    shell:
        "{params.cmd} > {log} 2>&1"


rule prepare:
    output:
        directory(paths.manifests_dir("{dataset}", "{split}")),
    input:
        inputs("prepare"),
    params:
        tracked=tracked("prepare"),
        cmd=command("prepare"),
    log:
        "logs/{dataset}/{split}/prepare.log",
    shell:
        "{params.cmd} > {log} 2>&1"


rule features:
    output:
        directory(paths.features_dir("{dataset}", "{split}")),
    input:
        inputs("features"),
    params:
        tracked=tracked("features"),
        cmd=command("features"),
    log:
        "logs/{dataset}/{split}/features.log",
    shell:
        "{params.cmd} > {log} 2>&1"


rule tokenizer:
    output:
        directory(paths.tokenizer_dir("{dataset}", "{task}")),
    input:
        inputs("tokenizer"),
    params:
        tracked=tracked("tokenizer"),
        cmd=command("tokenizer"),
    log:
        "logs/{dataset}/{task}/tokenizer.log",
    shell:
        "{params.cmd} > {log} 2>&1"


rule lm:
    output:
        model=paths.lm_model_path("{dataset}"),
        metrics=paths.lm_metrics_path("{dataset}"),
    input:
        inputs("lm"),
    params:
        tracked=tracked("lm"),
        cmd=command("lm"),
    log:
        "logs/{dataset}/lm.log",
    shell:
        "{params.cmd} > {log} 2>&1"

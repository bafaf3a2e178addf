# Data: source -> download -> prepare -> tokenizer -> features, once per dataset of grid.datasets.


rule source:
    output:
        directory("data/{dataset}/source"),
    input:
        code("stages/source.py", "corpora/librispeech.py", "corpora/replica/*.py"),
    params:
        settings=dataset_settings,
    threads: source_threads
    log:
        "logs/{dataset}/source.log",
    shell:
        "summarymixing source --dataset {wildcards.dataset} > {log} 2>&1"


rule download:
    output:
        directory("data/{dataset}/corpus"),
    input:
        "data/{dataset}/source",
        code("stages/download.py", "corpora/fetch.py", "corpora/librispeech.py"),
    retries: 2
    log:
        "logs/{dataset}/download.log",
    shell:
        "summarymixing download --dataset {wildcards.dataset} > {log} 2>&1"


rule prepare:
    output:
        directory("data/{dataset}/manifests"),
    input:
        "data/{dataset}/corpus",
        code("stages/prepare.py", "corpora/librispeech.py"),
    params:
        settings=dataset_settings,
    log:
        "logs/{dataset}/prepare.log",
    shell:
        "summarymixing prepare --dataset {wildcards.dataset} > {log} 2>&1"


rule tokenizer:
    output:
        directory("data/{dataset}/tokenizer"),
    input:
        "data/{dataset}/manifests",
        code("stages/tokenizer.py"),
    params:
        settings=lambda wc: dataset_settings(wc)["tokenizer"],
    log:
        "logs/{dataset}/tokenizer.log",
    shell:
        "summarymixing tokenizer --dataset {wildcards.dataset} > {log} 2>&1"


rule features:
    output:
        directory("data/{dataset}/features"),
    input:
        "data/{dataset}/manifests",
        code("stages/features.py"),
    params:
        settings=config["features"],
    log:
        "logs/{dataset}/features.log",
    shell:
        "summarymixing features --dataset {wildcards.dataset} > {log} 2>&1"

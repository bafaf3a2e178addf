# ASR: train -> decode -> score, once per (dataset, model) of grid.asr.


rule train:
    output:
        model="exp/{dataset}/{model}/model.pt",
        metrics="exp/{dataset}/{model}/train_metrics.json",
    input:
        "data/{dataset}/features",
        "data/{dataset}/tokenizer",
        code("stages/train.py", "brain.py", "data.py", "models/*.py"),
    params:
        settings=training_settings,
    threads: 1
    log:
        "logs/{dataset}/{model}/train.log",
    shell:
        "summarymixing train --dataset {wildcards.dataset} --model {wildcards.model} > {log} 2>&1"


rule decode:
    output:
        "exp/{dataset}/{model}/hypotheses.jsonl",
    input:
        "exp/{dataset}/{model}/model.pt",
        "data/{dataset}/features",
        "data/{dataset}/tokenizer",
        code("stages/decode.py", "data.py", "models/*.py"),
    params:
        settings=decoding_settings,
    threads: 1
    log:
        "logs/{dataset}/{model}/decode.log",
    shell:
        "summarymixing decode --dataset {wildcards.dataset} --model {wildcards.model} > {log} 2>&1"


rule score:
    output:
        scores="exp/{dataset}/{model}/scores.json",
        alignments=directory("exp/{dataset}/{model}/alignments"),
    input:
        "exp/{dataset}/{model}/hypotheses.jsonl",
        code("stages/score.py"),
    log:
        "logs/{dataset}/{model}/score.log",
    shell:
        "summarymixing score --dataset {wildcards.dataset} --model {wildcards.model} > {log} 2>&1"

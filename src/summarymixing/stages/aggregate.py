"""``summarymixing aggregate --task T --dataset X``: one table per (task, dataset) in ``reports/tables/``.

Rows are the grid's experiments of that task and dataset, in grid order (for LibriSpeech, Table 1's
order). Columns are the task's metrics (``Task.metrics``) on every test split, one block per decoder
(ASR: with and without the language model, CTC greedy), then the parameter count, the training cost
(device-hours on the device that trained it: the paper's "GPU hours") and the peak memory (its
"VRAM"). Every table says which data it comes from (a synthetic replica or the real corpus), how it
was decoded and scored, and its provenance: params hash, git commit, lock hash and package versions.
Where the paper published numbers (``published.py``) they follow, each beside our row; where it did
not, the table says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from typing import Any

from .. import paths
from ..config import Experiment, dataset_config, decoding_config, experiments, load_params, params_hash, task_config
from ..io import atomic_path, read_json, write_text
from ..published import published_for

log = logging.getLogger(__name__)


def table_experiments(params: dict[str, Any], task: str, dataset: str) -> list[Experiment]:
    found = [exp for exp in experiments(params) if exp.table == (task, dataset)]
    if not found:
        raise ValueError(f"params: the grid has no {task} experiment on dataset {dataset!r}")
    return found


def relevant_params(params: dict[str, Any], exps: list[Experiment]) -> dict[str, Any]:
    """The part of params.yaml that a table depends on (what its params hash covers)."""
    from ..config import model_config, training_config

    exp = exps[0]
    return {
        "dataset": params["datasets"][exp.dataset],
        "features": params["features"],
        "experiments": {
            e.id: {"arch": model_config(params, e), "training": training_config(params, e), "decoding": decoding_config(params, e)}
            for e in exps
        },
        "lms": params.get("lms"),
    }


def names(params: dict[str, Any], exp: Experiment) -> dict[str, str]:
    """Display names of an experiment's encoder, mixer and decoder (``title`` in params, else the key)."""
    mixer = (params["mixers"].get(exp.mixer) or {}).get("title", exp.mixer) if exp.mixer else "n.a."
    decoder = (params.get("decoders", {}).get(exp.decoder) or {}).get("title", exp.decoder) if exp.decoder else ""
    encoder = (params["models"][exp.size][exp.encoder] or {}).get("title") or exp.encoder.capitalize()
    return {"encoder": encoder, "mixer": mixer, "decoder": decoder}


def collect(params: dict[str, Any], task, exps: list[Experiment]):
    """One row per (experiment, decoder): metrics of every test split plus the training metrics."""
    import pandas as pd

    cfg = dataset_config(params, exps[0].dataset)
    rows = []
    for exp in exps:
        metrics = read_json(paths.train_metrics_path(exp.id))
        scores = read_json(paths.scores_path(exp.id))
        by_decoder: dict[str, dict[str, Any]] = {}
        for result in scores["results"]:
            row = by_decoder.setdefault(result["decoder"], {})
            for key, _, _ in task.metrics:
                row[f"{result['split']} {key}"] = result.get(key)
            row[f"{result['split']} rtf"] = result.get("rtf")
        for decoder, split_scores in by_decoder.items():
            missing = [s for s in cfg["test_splits"] if f"{s} {task.metrics[0][0]}" not in split_scores]
            if missing:
                raise ValueError(f"{paths.scores_path(exp.id)}: no {decoder} scores for {', '.join(missing)}; run score again")
            rows.append({
                "experiment": exp.id,
                "task": exp.task,
                "dataset": exp.dataset,
                "source": cfg["source"],
                "decoder": decoder,
                "encoder": exp.encoder,
                "mixer": exp.mixer or "",
                "decoder_variant": exp.decoder or "",
                "size": exp.size,
                **{f"{k}_name": v for k, v in names(params, exp).items()},
                "parameters": metrics["parameters"],
                **split_scores,
                "epochs": metrics["epochs"],
                "train_seconds": metrics["train_seconds"],
                "device": metrics["device"],
                "device_hours": metrics["device_hours"],
                "peak_memory_gb": round(metrics["peak_memory_bytes"] / 2**30, 2),
                "peak_memory_kind": metrics["peak_memory_kind"],
                "trained_at_commit": (metrics.get("provenance") or {}).get("git_commit"),
            })  # fmt: skip
    return pd.DataFrame(rows)


def markdown_table(df, task, splits: list[str], published: dict | None) -> str:
    """The human-facing table of one decoder (published numbers beside each row, where they exist)."""
    import pandas as pd

    table = pd.DataFrame({
        "Encoder": df["encoder_name"],
        "Mixer": df["mixer_name"] + df["decoder_name"].map(lambda d: f" + {d}" if d else ""),
        "Params (M)": (df["parameters"] / 1e6).map("{:.2f}".format),
    })  # fmt: skip
    for split in splits:
        for key, title, _ in task.metrics:
            table[f"{split} {title}"] = df[f"{split} {key}"].map(lambda v: "-" if v is None else f"{v:.2f}")
    table["Train device-hours"] = df["device_hours"].map("{:.3f}".format)  # the paper's "GPU hours"
    table["Train peak mem. (GB)"] = df["peak_memory_gb"].map("{:.2f}".format)  # the paper's "VRAM"
    if published:
        key_of = published["key"]
        rows = [published["rows"].get(key_of(r)) for _, r in df.iterrows()]
        for column in published["columns"]:
            table[f"paper: {column}"] = [("-" if row is None else row[column]) for row in rows]
    return table.to_markdown(index=False)


def decoding_line(task, decoding: dict[str, dict[str, Any]]) -> str:
    """The task's decoders, with each size's settings where it has any (a classifier's argmax has none)."""
    decoders = "; ".join(task.decoder_titles.get(d, d) for d in task.decoders)
    settings = [f"{size}: " + ", ".join(f"{k} {v}" for k, v in s.items()) for size, s in decoding.items() if s]
    return decoders + (f" ({'; '.join(settings)})" if settings else "")


def render(df, params: dict[str, Any], task, exps: list[Experiment]) -> str:
    from ..environment import provenance, provenance_line

    exp = exps[0]
    cfg = dataset_config(params, exp.dataset)
    task_cfg = task_config(params, exp.task, exp.dataset)
    splits = cfg["test_splits"]
    replica = cfg["source"] == "replica"
    published = published_for(exp.task, cfg["corpus"])
    title = f"{exp.task.upper()} results: {exp.dataset}" + (
        " (synthetic replica, NOT the real corpus)" if replica else f" ({cfg['corpus']}, real corpus)")
    devices = ", ".join(sorted(set(df["device"])))
    memory_kinds = ", ".join(sorted(set(df["peak_memory_kind"])))
    decoding = {e.size: decoding_config(params, e) for e in exps}
    lines = [
        f"# {title}",
        "",
        f"<!-- generated by `summarymixing aggregate --task {exp.task} --dataset {exp.dataset}`; do not edit by hand -->",
        "",
        f"- **Data**: `{exp.dataset}`: {cfg.get('description', cfg['corpus'])}; source: **{cfg['source']}**."
        + (" These numbers measure the pipeline on synthetic speech; they are not results on the real corpus and"
           " must not be compared with published numbers." if replica else ""),
        f"- **Provenance**: params hash `{params_hash(relevant_params(params, exps))}`, {provenance_line(provenance())}; "
        f"generated {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.",
        f"- **Decoding**: {decoding_line(task, decoding)}; final model = average of the best checkpoints by validation loss.",
        f"- **Scoring**: {task.describe_scoring(task_cfg)}. Per-utterance details in `exp/{exp.task}/{exp.dataset}/<model>/details/`.",
        f"- **Cost** (the paper's GPU-hours and VRAM columns): training wall time x devices on {devices}, "
        f"summed over resumed runs; peak memory = {memory_kinds} "
        "(CPU: peak resident set size of the training process; CUDA: peak allocated tensor memory).",
        "",
    ]
    for decoder in [d for d in task.decoders if d in set(df["decoder"])]:
        part = df[df["decoder"] == decoder]
        lines += [f"## {task.decoder_titles.get(decoder, decoder)}", "", markdown_table(part, task, splits, published), ""]
    if published:
        lines += [
            "## Published (for reference: real corpus, not produced by this pipeline)",
            "",
            f"Source: {published['source']}.",
            "",
            "| " + " | ".join(published["header"]) + " |",
            "|" + "---|" * len(published["header"]),
            *("| " + " | ".join(str(v) for v in row) + " |" for row in published["table"]),
            "",
        ]
    else:
        lines += ["## Published", "",
                  f"The paper's {exp.task.upper()} numbers on {cfg['corpus']} are not public (no source we could check "
                  "gives them), so none are shown.", ""]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    from ..tasks import get_task

    params = load_params(args.params)
    exps = table_experiments(params, args.task, args.dataset)
    task = get_task(args.task)
    df = collect(params, task, exps)
    md_path, csv_path = paths.table_paths(args.task, args.dataset)
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False)
    write_text(md_path, render(df, params, task, exps))
    log.info("wrote %s and %s (%d models)", md_path, csv_path, len(exps))

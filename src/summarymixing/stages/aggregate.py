"""Stage ``aggregate``: one table per dataset in ``reports/tables/``, Markdown and CSV, with provenance.

Rows are the dataset's models (encoder x mixer x size of ``grid.asr``); columns are WER and CER of every
test split for the joint CTC/attention beam search (the CTC greedy numbers follow in a second table),
the parameter count, the training cost (device-hours on the device that trained it) and the peak memory.
Every table states which data it comes from (a synthetic replica or the real corpus), the params hash
and the git commit; the paper's published rows, where they exist, follow in a block of their own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from importlib import metadata

from .. import paths
from ..config import asr_experiments, dataset_config, load_params, params_hash
from ..io import atomic_path, git_commit, read_json, write_text
from ..published import PUBLISHED

log = logging.getLogger(__name__)

MIXER_NAMES = {
    "mhsa": "MHSA (RelPosMHAXL)",
    "mha": "MHSA (regular)",
    "summarymixing": "SummaryMixing",
    "summarymixing_lite": "SummaryMixing-lite",
    "summarymixing_fast": "SummaryMixing-fast",
}
DECODER_TITLES = {
    "joint_beam": "Joint CTC/attention beam search",
    "ctc_greedy": "CTC greedy",
}


def relevant_params(params: dict, dataset: str) -> dict:
    """The part of params.yaml that the dataset's table depends on (what its params hash covers)."""
    asr = params["grid"]["asr"]
    return {
        "dataset": params["datasets"][dataset],
        "features": params["features"],
        "grid": asr,
        "models": {s: params["models"][s] for s in asr["sizes"]},
        "mixers": {m: params["mixers"][m] for m in asr["mixers"]},
        "training": {s: params["training"][s] for s in asr["sizes"]},
        "decoding": {s: params["decoding"][s] for s in asr["sizes"]},
    }


def collect(params: dict, dataset: str):
    """One row per (model, decoder): scores of every test split plus the training metrics."""
    import pandas as pd

    cfg = dataset_config(params, dataset)
    rows = []
    for ds, spec in asr_experiments(params):
        if ds != dataset:
            continue
        metrics = read_json(paths.train_metrics_path(dataset, spec.id))
        scores = read_json(paths.scores_path(dataset, spec.id))
        by_decoder: dict[str, dict] = {}
        for result in scores["results"]:
            row = by_decoder.setdefault(result["decoder"], {})
            row[f"{result['split']} WER"] = result["wer"]
            row[f"{result['split']} CER"] = result["cer"]
            row[f"{result['split']} RTF"] = result["rtf"]
        for decoder, split_scores in by_decoder.items():
            missing = [s for s in cfg["test_splits"] if f"{s} WER" not in split_scores]
            if missing:
                raise ValueError(f"{paths.scores_path(dataset, spec.id)}: no {decoder} scores for {', '.join(missing)}")
            rows.append({
                "dataset": dataset,
                "source": cfg["source"],
                "decoder": decoder,
                "encoder": spec.encoder,
                "mixer": spec.mixer,
                "size": spec.size,
                "parameters": metrics["parameters"],
                **split_scores,
                "epochs": metrics["epochs"],
                "train_seconds": metrics["train_seconds"],
                "device": metrics["device"],
                "device_hours": metrics["device_hours"],
                "peak_memory_gb": round(metrics["peak_memory_bytes"] / 2**30, 2),
                "peak_memory_kind": metrics["peak_memory_kind"],
            })
    if not rows:
        raise ValueError(f"params: grid.asr has no models for dataset {dataset!r}")
    return pd.DataFrame(rows)


def markdown_table(df, splits: list[str]) -> str:
    """The human-facing table of one decoder."""
    import pandas as pd

    table = pd.DataFrame({
        "Encoder": df["encoder"].str.capitalize(),
        "Mixer": df["mixer"].map(lambda m: MIXER_NAMES.get(m, m)),
        "Size": df["size"],
        "Params (M)": (df["parameters"] / 1e6).round(2),
    })
    for split in splits:
        table[f"{split} WER %"] = df[f"{split} WER"].map("{:.2f}".format)
        table[f"{split} CER %"] = df[f"{split} CER"].map("{:.2f}".format)
    table["Train device-hours"] = df["device_hours"].map("{:.3f}".format)  # the paper's "GPU hours"
    table["Train peak mem. (GB)"] = df["peak_memory_gb"].map("{:.2f}".format)  # the paper's "VRAM"
    table["Epochs"] = df["epochs"]
    return table.to_markdown(index=False)


def render(df, params: dict, dataset: str) -> str:
    cfg = dataset_config(params, dataset)
    splits = cfg["test_splits"]
    size = df["size"].iloc[0]
    dec = params["decoding"][size]
    replica = cfg["source"] == "replica"
    title = f"ASR results: {dataset}" + (" (synthetic replica, NOT the real corpus)" if replica else f" ({cfg['corpus']}, real corpus)")
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("torch", "speechbrain", "jiwer", "lhotse"))
    devices = ", ".join(sorted(set(df["device"])))
    memory_kinds = ", ".join(sorted(set(df["peak_memory_kind"])))
    lines = [
        f"# {title}",
        "",
        f"<!-- generated by `summarymixing aggregate --dataset {dataset}`; do not edit by hand -->",
        "",
        f"- **Data**: `{dataset}`: {cfg.get('description', cfg['corpus'])}; source: **{cfg['source']}**."
        + (" These numbers measure the pipeline on synthetic speech; they are not LibriSpeech results and"
           " must not be compared with the published numbers below." if replica else ""),
        f"- **Provenance**: params hash `{params_hash(relevant_params(params, dataset))}`, git commit `{git_commit()}`, "
        f"generated {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; {versions}.",
        f"- **Decoding**: joint CTC/attention beam search (beam {dec['beam_size']}, CTC weight {dec['ctc_weight']}, "
        "no language model) and CTC greedy; final model = average of the best checkpoints by validation loss.",
        "- **Scoring**: jiwer `process_words`/`process_characters`; references as distributed (upper case, "
        "apostrophes kept), hypotheses upper-cased with spaces collapsed. Per-utterance alignments in "
        f"`exp/{dataset}/<model>/alignments/`.",
        f"- **Cost** (the paper's GPU-hours and VRAM columns): training wall time x devices on {devices}, "
        f"summed over resumed runs; peak memory = {memory_kinds} "
        "(CPU: peak resident set size of the training process; CUDA: peak allocated tensor memory).",
        "",
    ]
    for decoder in ("joint_beam", "ctc_greedy"):
        part = df[df["decoder"] == decoder]
        if len(part):
            lines += [f"## {DECODER_TITLES[decoder]}", "", markdown_table(part, splits), ""]
    published = PUBLISHED.get(cfg["corpus"])
    if published:
        source, columns, rows = published
        lines += [
            "## Published (for reference: real corpus, not produced by this pipeline)",
            "",
            f"Source: {source}.",
            "",
            "| " + " | ".join(columns) + " |",
            "|" + "---|" * len(columns),
            *("| " + " | ".join(str(v) for v in row) + " |" for row in rows),
            "",
        ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    df = collect(params, args.dataset)
    md_path, csv_path = paths.table_paths(args.dataset)
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False)
    write_text(md_path, render(df, params, args.dataset))
    log.info("wrote %s and %s (%d models)", md_path, csv_path, df["encoder"].size // max(1, df["decoder"].nunique()))

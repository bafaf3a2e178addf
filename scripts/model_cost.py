"""Core-seconds per model of a finished run: training and decoding, from what the stages record.

    python scripts/model_cost.py                      # every experiment of ./params.yaml's grid
    python scripts/model_cost.py --baseline reports/tables/librispeech_replica.csv@538cf29

Training: ``train_cpu_seconds`` of ``exp/<experiment>/train_metrics.json`` (CPU time of every thread
of the training process, summed over resumed runs). Decoding: the ``timing`` lines of
``hypotheses.jsonl``: the encoder pass once per split plus each decoder's search (CPU time). With
``--baseline <csv>@<commit>``, a table of an older commit (its ``train_seconds`` on one thread and its
decoders' real-time factors) is read from git for comparison; its core-seconds are wall seconds x
threads. Machines differ from day to day: compare figures measured in the same hour, or scale them by
the efficiency bench's calibration point (README, "Cost per model").
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def decode_cpu_seconds(hypotheses: Path) -> float:
    encode: dict[str, float] = {}
    search = 0.0
    for line in hypotheses.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        timing = row.get("timing")
        if timing:
            encode[row["split"]] = timing.get("encode_cpu_seconds", 0.0)
            search += timing.get("search_cpu_seconds", 0.0)
    return sum(encode.values()) + search


def current(params_file: str) -> list[dict]:
    from summarymixing import paths
    from summarymixing.config import experiments, load_params

    rows = []
    for exp in experiments(load_params(params_file)):
        metrics_file, hypotheses = paths.train_metrics_path(exp.id), paths.hypotheses_path(exp.id)
        if not metrics_file.is_file() or not hypotheses.is_file():
            continue
        metrics = json.loads(metrics_file.read_text())
        scores_file = paths.scores_path(exp.id)
        cer = None
        if scores_file.is_file():
            best = [r for r in json.loads(scores_file.read_text())["results"] if r["split"].startswith("test-clean")]
            cer = {r["decoder"]: r.get("cer") for r in best}
        rows.append({"model": exp.id, "train": metrics.get("train_cpu_seconds"), "decode": decode_cpu_seconds(hypotheses),
                     "train_wall": metrics["train_seconds"], "threads": metrics.get("threads"), "cer": cer})
    return rows


def baseline(spec: str) -> list[dict]:
    """Rows of an older table (``<csv>@<commit>``): wall seconds on the thread count its device names."""
    import pandas as pd

    path, _, commit = spec.partition("@")
    text = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    df = pd.read_csv(io.StringIO(text))
    rows = []
    for (encoder, mixer, size), group in df.groupby(["encoder", "mixer", "size"], sort=False):
        first = group.iloc[0]
        threads = int(re.search(r"(\d+) threads", first["device"]).group(1)) if "threads" in first["device"] else 1
        # its joint beam search's RTF x audio = encoder + search seconds (the CTC greedy search shares that
        # encoder pass and adds a fraction of a second: not separable, left out)
        beam = group[group["decoder"] == "joint_beam"].iloc[0]
        decode = sum(float(beam[c]) * AUDIO_SECONDS.get(c.removesuffix(" RTF"), 0.0) for c in df.columns if c.endswith(" RTF"))
        cer = {row["decoder"]: row.get("test-clean CER") for _, row in group.iterrows()}
        rows.append({"model": f"{encoder}-{mixer}-{size} @ {commit}", "train": first["train_seconds"] * threads,
                     "decode": decode, "train_wall": first["train_seconds"], "threads": threads, "cer": cer})
    return rows


AUDIO_SECONDS: dict[str, float] = {}  # split -> seconds of audio (from the current run's timing lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--baseline", help="<table csv>@<commit> of an older run to compare with")
    args = parser.parse_args()
    rows = current(args.params)
    if args.baseline:
        from summarymixing import paths

        for row in rows:  # the replica's splits are the same: take their durations from this run
            for line in paths.hypotheses_path(row["model"]).read_text().splitlines():
                timing = json.loads(line).get("timing")
                if timing:
                    AUDIO_SECONDS[json.loads(line)["split"]] = timing["audio_seconds"]
            break
        rows = baseline(args.baseline) + rows
    print("| model | train core-s | decode core-s | total core-s | train wall s x threads | test-clean CER by decoder |")
    print("|---|---|---|---|---|---|")
    totals = defaultdict(list)
    for row in rows:
        total = (row["train"] or 0) + row["decode"]
        totals["@" in row["model"]].append(total)
        cer = ", ".join(f"{k} {v:.2f}" for k, v in (row["cer"] or {}).items() if v is not None)
        print(f"| {row['model']} | {row['train'] or float('nan'):.0f} | {row['decode']:.0f} | {total:.0f} | "
              f"{row['train_wall']:.0f} x {row['threads']} | {cer} |")
    for is_baseline, values in totals.items():
        print(f"\n{'baseline' if is_baseline else 'this run'}: mean {sum(values) / len(values):.0f} core-s per model "
              f"over {len(values)} models")
    return 0


if __name__ == "__main__":
    sys.exit(main())

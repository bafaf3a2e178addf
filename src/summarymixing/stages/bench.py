"""``summarymixing bench``: the efficiency benchmark (DAG stage ``efficiency``).

Regenerates the paper's Figure 2 on this hardware: for every size x encoder x mixer x scope of
``params.yaml: efficiency`` (the grid, and the explicit sets of ``efficiency.figures``) and every
length, the time of a full training step, the decoding real-time factor and the peak memory, each
point in a fresh process (``summarymixing.efficiency``). Writes

    reports/efficiency/<name>.csv          one row per point (raw numbers, statuses, OOM)
    reports/figures/efficiency_<name>.png  three panels like Figure 2
    reports/tables/efficiency.md           ratios to SummaryMixing, scaling exponents, the issue's targets

``<name>`` is ``efficiency.device`` (``cpu``), or ``--name``; a run under another name writes its table
to reports/efficiency/<name>.md, so only the DAG's run writes reports/tables/efficiency.md. Examples::

    summarymixing bench                                   # the DAG's command: params.yaml as is
    summarymixing bench --quick                           # tiny model, 1-2 s: reports/efficiency/cpu-quick.*
    summarymixing bench --figures figure2 --name cpu-figure2   # only efficiency.figures.figure2
    summarymixing bench --quick --figures figure2         # the same set on tiny models
    summarymixing bench --device cuda --name cuda-h100 --sizes paper --encoders conformer branchformer \\
        --scopes model encoder --lengths 1 5 10 20 40 60 80 100   # table: reports/efficiency/cuda-h100.md
    summarymixing bench --from-csv reports/efficiency/cpu.csv   # redraw figure and table only

No torch at import time: ``summarymixing --help`` stays instant.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import load_params, params_hash
from ..io import git_commit
from ..paths import REPORTS

log = logging.getLogger(__name__)

TABLE = REPORTS / "tables" / "efficiency.md"

# --quick: a model small enough for a smoke test in seconds (any encoder).
QUICK_SIZE = "tiny"
QUICK_ARCHITECTURE = {
    "d_model": 32, "nhead": 2, "num_encoder_layers": 2, "num_decoder_layers": 1, "d_ffn": 64,
    "kernel_size": 7, "csgu_linear_units": 64, "dropout": 0.1,
}  # fmt: skip
QUICK_CONTEXTNET = {
    "d_model": 32, "nhead": 2, "num_encoder_layers": 3, "num_decoder_layers": 1, "d_ffn": 64, "dropout": 0.1,
    "alpha": 0.125, "block_layers": 2, "kernel_size": 5, "widen_at": 1, "stride_blocks": [0, 1],
}  # fmt: skip
QUICK_OVERRIDES = {
    "lengths_s": (1.0, 2.0), "warmup": 0, "repeats": 1, "vocab_size": 32, "threads": 1, "fit_min_s": 1.0,
    "contended_retries": 0,  # a smoke test: never wait for a busy machine
}  # fmt: skip


def csv_path(name: str) -> Path:
    return REPORTS / "efficiency" / f"{name}.csv"


def table_path(name: str, dag_name: str) -> Path:
    """The DAG's run (``name`` = efficiency.device) writes reports/tables/efficiency.md; any other run
    (``--name``, ``--quick``, another device) writes its table next to its CSV, leaving the DAG's alone."""
    return TABLE if name == dag_name else REPORTS / "efficiency" / f"{name}.md"


def figure_path(name: str) -> Path:
    return REPORTS / "figures" / f"efficiency_{name}.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``summarymixing bench``; every one overrides the same key of ``params.yaml: efficiency``."""
    parser.add_argument("--device", choices=("cpu", "cuda"), help="where to run (efficiency.device)")
    parser.add_argument("--name", help="output name: reports/efficiency/<name>.csv ... (default: the device)")
    parser.add_argument("--sizes", nargs="+", help="efficiency.models.* or models.* sizes (efficiency.sizes)")
    parser.add_argument("--figures", nargs="+", metavar="NAME",
                        help="run only these sets: names of efficiency.figures, and grid for the encoders x mixers x "
                             "scopes grid (default: all of them; the grid alone when --encoders, --mixers or --scopes is given)")
    parser.add_argument("--encoders", nargs="+",
                        help="the grid's encoders: conformer, branchformer, transformer, contextnet (efficiency.encoders)")
    parser.add_argument("--mixers", nargs="+", help="the grid's mixers: mixers.* names (efficiency.mixers)")
    parser.add_argument("--scopes", nargs="+", choices=("mixer", "encoder", "model"), help="the grid's scopes (efficiency.scopes)")
    parser.add_argument("--lengths", nargs="+", type=float, dest="lengths_s",
                        help="seconds of audio, for every scope and figure (efficiency.lengths_s, efficiency.figures.*.lengths_s)")
    parser.add_argument("--threads", type=int, help="torch threads (efficiency.threads)")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), help="efficiency.precision")
    parser.add_argument("--batch-size", type=int, help="efficiency.batch_size")
    parser.add_argument("--warmup", type=int, help="untimed runs per phase (efficiency.warmup)")
    parser.add_argument("--repeats", type=int, help="timed runs per phase, at most (efficiency.repeats)")
    parser.add_argument("--phase-budget-s", type=float, help="stop repeating a phase after this long (efficiency.phase_budget_s)")
    parser.add_argument("--point-timeout-s", type=float, help="kill a point after this long (efficiency.point_timeout_s)")
    parser.add_argument("--memory-limit-gib", type=float, help="CPU memory cap per point (efficiency.memory_limit_gib)")
    parser.add_argument("--table", type=Path, default=None,
                        help=f"the Markdown table (default: {TABLE} for the DAG's run, else reports/efficiency/<name>.md)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: tiny model, lengths 1 and 2 s, one run; outputs named <device>-quick")
    parser.add_argument("--from-csv", type=Path, help="do not measure: redraw the figure and the table from this CSV")
    parser.add_argument("--inject-oom", action="append", metavar="CURVE@SECONDS",
                        help="tests: make CURVE's training step raise out-of-memory from SECONDS on "
                             "(a mixer, or the encoder of a mixer-less curve: contextnet)")


def resolve_settings(args: argparse.Namespace, params: dict[str, Any]):
    """``BenchSettings`` from params + command-line overrides (+ ``--quick``)."""
    from ..efficiency.settings import settings_from_params

    keys = ("device", "name", "sizes", "encoders", "mixers", "scopes", "lengths_s", "threads", "precision", "batch_size",
            "warmup", "repeats", "phase_budget_s", "point_timeout_s", "memory_limit_gib")  # fmt: skip
    overrides = {k: getattr(args, k, None) for k in keys}
    figures = getattr(args, "figures", None)
    device = args.device or (params.get("efficiency") or {}).get("device", "cpu")
    if not args.name:
        overrides["name"] = f"{device}-quick" if args.quick else device
    if args.inject_oom:
        overrides["inject_oom"] = tuple(args.inject_oom)
    if args.quick:
        params = dict(params)
        params["efficiency"] = dict(params.get("efficiency") or {})
        params["efficiency"]["models"] = {QUICK_SIZE: {
            **{enc: dict(QUICK_ARCHITECTURE) for enc in ("conformer", "branchformer", "transformer")},
            "contextnet": dict(QUICK_CONTEXTNET),
        }}  # fmt: skip
        overrides["sizes"] = overrides["sizes"] or [QUICK_SIZE]
        for key, value in QUICK_OVERRIDES.items():
            if overrides.get(key) is None:
                overrides[key] = value
    return settings_from_params(params, figures=figures, **overrides)


def read_csv(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such CSV (run `summarymixing bench` first)")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def command_line() -> str:
    """The command as typed (``summarymixing bench ...``); ``summarymixing bench`` when called from Python."""
    if sys.argv and Path(sys.argv[0]).name == "summarymixing":
        return shlex.join(["summarymixing", *sys.argv[1:]])
    return "summarymixing bench"


def provenance(settings, rows: list[dict[str, Any]], params: dict[str, Any], extra: dict[str, str]) -> dict[str, str]:
    """The lines that say where the numbers come from."""
    first = rows[0] if rows else {}
    device = f"{settings.device} ({first.get('device_name') or 'unknown'})"
    return {
        "device": device,
        "threads": str(settings.threads),
        "precision": settings.precision,
        "batch size": str(settings.batch_size),
        "torch": str(first.get("torch_version") or "unknown"),
        "git commit": git_commit(),
        "params hash": params_hash(params),
        "command": f"`{command_line()}`",
        **extra,
    }


def with_option_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` plus the default of every bench option it lacks (a parser built without ``add_arguments``)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    defaults = vars(parser.parse_args([]))
    return argparse.Namespace(**{**defaults, **vars(args)})


def run(args: argparse.Namespace) -> None:
    from ..efficiency import report
    from ..efficiency.runner import run_all, write_csv
    from ..efficiency.settings import iter_points

    args = with_option_defaults(args)
    params = load_params(args.params)
    settings = resolve_settings(args, params)
    table = args.table or table_path(settings.name, (params.get("efficiency") or {}).get("device", "cpu"))
    started = time.monotonic()
    extra: dict[str, str] = {}
    if args.from_csv:
        rows = read_csv(args.from_csv)
        extra["source"] = f"redrawn from `{args.from_csv}`"
    else:
        load_start = os.getloadavg()[0]
        log.info("bench: %d series, %d points on %s (%d threads) -> %s",
                 len(settings.series()), len(list(iter_points(settings))), settings.device, settings.threads, csv_path(settings.name))
        rows = run_all(settings)
        write_csv(csv_path(settings.name), rows)
        elapsed = time.monotonic() - started
        extra["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        extra["wall time"] = f"{elapsed / 60:.1f} min"
        others = sorted(float(r["others_cpu_pct"]) for r in rows if r.get("others_cpu_pct") not in ("", None))
        extra["machine load"] = (
            f"1-min load average {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end (on {os.cpu_count()} CPUs); "
            f"other processes used {others[len(others) // 2] if others else float('nan'):.0f} % of the CPUs during the "
            f"median point, {max(others, default=float('nan')):.0f} % at most (`others_cpu_pct` per point in the CSV)"
        )
        log.info("bench: measured in %.1f min", elapsed / 60)
    title = f"summarymixing bench on {settings.device} ({rows[0].get('device_name', '') if rows else ''}), {settings.threads} threads, {settings.precision}, batch {settings.batch_size}"
    report.render_figure(rows, figure_path(settings.name), title)
    report.write_table(table, rows, settings, provenance(settings, rows, params, extra))
    log.info("bench: wrote %s, %s, %s", csv_path(settings.name), figure_path(settings.name), table)

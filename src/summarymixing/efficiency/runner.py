"""Run every benchmark point in a fresh process and collect one CSV row per point.

Why a fresh process per point: the CPU allocator keeps freed memory, so a second point measured in the
same process would see a lower peak RSS; a fresh process also starts with cold caches for every mixer
alike. Processes come from a ``forkserver`` that has already imported torch and SpeechBrain (and never
ran a torch op, so forking it is safe), which makes a new process cost well under a second instead of
the several seconds of a cold ``import torch``.

Other processes on the machine distort timings (2 threads on 2 busy cores can run 5-10x slower, and
not uniformly: many small ops suffer more than a few big matmuls). Each row records ``others_cpu_pct``,
the CPU time other processes used while the point ran, as a share of all CPUs, so a contaminated
point can be seen; a point during which they used more than ``contended_cpu_pct`` is measured again
(up to ``contended_retries`` times, each after waiting up to ``quiet_wait_s`` for the machine to calm
down), keeping the least disturbed measurement.

Out of memory is a result, never a crash:
  * in the worker, the address space is capped (``RLIMIT_AS``) at its size after set-up +
    ``memory_limit_gib``: an allocation beyond fails and the phase is reported ``oom``;
  * here, a watchdog polls the worker's RSS and kills it past the cap (+5 %), or past ``point_timeout_s``;
  * a series that ran out of memory (or time) at one length is not run at longer lengths: those rows
    are recorded as ``oom`` (or ``timeout``) with the note ``not run: ...``;
  * the worker runs the training step first; where it ran out of memory, inference is not run at that
    length or longer ones (``skipped``): on CPU that inference would be the slowest point of the run.

A point that two sets share (the grid and a figure, or two figures: same size, encoder, mixer, scope
and length) is measured once; its row is repeated under each set's name (``figure`` column).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import multiprocessing
import os
import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from ..io import write_text
from .settings import BenchSettings, Point, iter_points

log = logging.getLogger(__name__)

GIB = 2**30
WATCHDOG_INTERVAL_S = 0.2
LARGE_POINT_GIB = 4.0  # after a point this large, wait for the machine to be quiet before the next

CSV_COLUMNS = (
    "device", "device_name", "threads", "precision", "torch_version",
    "figure", "size", "encoder", "mixer", "scope", "length_s", "fbank_frames", "encoder_frames", "tokens", "batch_size", "params_m",
    "infer_status", "infer_median_s", "infer_min_s", "rtf_median", "rtf_min", "infer_peak_gib", "infer_runs",
    "train_status", "train_median_s", "train_min_s", "train_peak_gib", "train_runs",
    "baseline_gib", "mem_limit_gib", "warmup", "load_1min", "others_cpu_pct", "attempts", "note",
)  # fmt: skip
STATUSES = ("ok", "oom", "timeout", "error", "skipped")
PHASES = ("train", "infer")  # the order the worker runs them


@dataclass
class Blocked:
    """Why a series' phase is not run at longer lengths: ``status`` (oom/timeout) at ``length_s``."""

    status: str
    length_s: float
    reason: str = ""  # default: the phase's own status


@dataclass
class PointResult:
    """What the worker reported (``events``) and how its process ended."""

    events: list[dict[str, Any]] = field(default_factory=list)
    killed: str | None = None  # "oom" or "timeout" when the watchdog killed the process
    exitcode: int | None = None
    max_rss_gib: float = 0.0
    load_1min: float = math.nan  # the machine's 1-minute load average when the point ended
    others_cpu_pct: float = math.nan  # CPU time used by other processes while the point ran, % of all CPUs

    def setup(self) -> dict[str, Any]:
        return next((e for e in self.events if e["event"] == "setup"), {})

    def phase(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e["event"] == "phase" and e["phase"] == name), None)

    def error(self) -> dict[str, Any] | None:
        return next((e for e in self.events if e["event"] == "error"), None)


def _context() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["summarymixing.efficiency.worker"])  # torch, SpeechBrain, the model code
    return ctx


def run_point(point: Point, ctx: multiprocessing.context.BaseContext | None = None) -> PointResult:
    """Measure ``point`` in a fresh process, enforcing the memory cap and the timeout from outside."""
    import psutil

    from .worker import child_main

    s = point.settings
    ctx = ctx or _context()
    busy_before, own_before, started = _machine_busy_seconds(), _own_cpu_seconds(), time.monotonic()
    worker_cpu_s = 0.0
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=child_main, args=(point.to_dict(), sender), daemon=True)
    process.start()
    sender.close()
    result = PointResult()
    deadline = time.monotonic() + s.point_timeout_s
    watched = psutil.Process(process.pid)
    while True:
        try:
            if receiver.poll(WATCHDOG_INTERVAL_S):
                result.events.append(receiver.recv())
                continue
        except EOFError:  # the worker closed its end: it is done
            break
        if not process.is_alive():
            break
        try:
            rss = watched.memory_info().rss
            cpu = watched.cpu_times()
            worker_cpu_s = cpu.user + cpu.system
        except psutil.Error:
            rss = 0
        result.max_rss_gib = max(result.max_rss_gib, rss / GIB)
        baseline = result.setup().get("baseline_gib")
        if s.device == "cpu" and baseline is not None and rss / GIB > baseline + 1.05 * s.memory_limit_gib + 0.25:
            result.killed = "oom"
        elif time.monotonic() > deadline:
            result.killed = "timeout"
        if result.killed:
            process.kill()
            break
    process.join(timeout=30)
    if process.is_alive():  # pragma: no cover - kill() does not fail on Linux
        process.kill()
        process.join()
    result.exitcode = process.exitcode
    result.load_1min = os.getloadavg()[0]
    elapsed = time.monotonic() - started
    own = _own_cpu_seconds(exclude=process.pid) - own_before + worker_cpu_s
    others = _machine_busy_seconds() - busy_before - own
    result.others_cpu_pct = max(0.0, 100 * others / (elapsed * (os.cpu_count() or 1)))
    receiver.close()
    return result


def _own_cpu_seconds(exclude: int | None = None) -> float:
    """CPU seconds used by this process and its live descendants (the forkserver), except pid ``exclude``."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        if proc.pid == exclude:
            continue
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def wait_for_quiet(max_wait_s: float, threshold_pct: float, window_s: float = 1.0) -> float:
    """Wait until other processes use less than ``threshold_pct`` of the CPUs over ``window_s``, at most
    ``max_wait_s``; returns the share they used in the last window."""
    deadline = time.monotonic() + max_wait_s
    while True:
        busy, own = _machine_busy_seconds(), _own_cpu_seconds()
        time.sleep(window_s)
        share = 100 * (_machine_busy_seconds() - busy - (_own_cpu_seconds() - own)) / (window_s * (os.cpu_count() or 1))
        if share < threshold_pct or time.monotonic() >= deadline:
            return share


def _machine_busy_seconds() -> float:
    """CPU seconds all processes have used since boot (/proc/stat), NaN where there is no /proc."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return math.nan
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _median(times: list[float]) -> float:
    return statistics.median(times) if times else math.nan


def row_for(point: Point, result: PointResult | None, blocked: dict[str, Blocked]) -> dict[str, Any]:
    """One CSV row; ``result`` None means not run at all (every phase blocked)."""
    s, series = point.settings, point.series
    setup = result.setup() if result else {}
    row: dict[str, Any] = {
        "device": s.device,
        "device_name": setup.get("device_name", ""),
        "threads": s.threads,
        "precision": s.precision,
        "torch_version": setup.get("torch_version", ""),
        "figure": series.figure,
        "size": series.size,
        "encoder": series.encoder,
        "mixer": series.mixer or "",  # none: an encoder without a token mixer (the curve is named after the encoder)
        "scope": series.scope,
        "length_s": point.length_s,
        "fbank_frames": setup.get("fbank_frames", s.fbank_frames(point.length_s)),
        "encoder_frames": setup.get("encoder_frames", ""),
        "tokens": s.tokens(point.length_s),
        "batch_size": s.batch_size,
        "params_m": round(setup["params_m"], 3) if "params_m" in setup else "",
        "baseline_gib": round(setup["baseline_gib"], 4) if "baseline_gib" in setup else "",
        "mem_limit_gib": round(setup.get("cap_gib", s.memory_limit_gib), 2),
        "warmup": s.warmup,
        "load_1min": round(result.load_1min, 2) if result is not None else "",
        "others_cpu_pct": round(result.others_cpu_pct, 1) if result is not None else "",
    }
    notes: list[str] = [setup["note"]] if setup.get("note") else []
    for phase in PHASES:
        status, times, peak = "error", [], math.nan
        if phase in blocked:
            b = blocked[phase]
            status = b.status
            notes.append(f"{phase} not run: {b.reason or b.status} at {b.length_s:g} s")
        elif result is not None:
            reported = result.phase(phase)
            if reported is not None:
                status, times, peak = reported["status"], reported.get("times", []), reported.get("peak_gib", math.nan)
                if reported.get("note"):
                    notes.append(f"{phase}: {reported['note']}")
            elif result.killed:
                status = result.killed
                notes.append(f"{phase}: killed by the watchdog ({result.killed}, max RSS {result.max_rss_gib:.1f} GiB)")
            elif result.error():
                status = result.error()["status"]
                notes.append(f"{phase}: {result.error()['note']}")
            else:
                notes.append(f"{phase}: worker died (exit code {result.exitcode})")
        per_utt = [t / s.batch_size for t in times]
        if phase == "infer":
            row.update(
                infer_status=status,
                infer_median_s=_median(per_utt),
                infer_min_s=min(per_utt) if per_utt else math.nan,
                rtf_median=_median(per_utt) / point.length_s,
                rtf_min=(min(per_utt) / point.length_s) if per_utt else math.nan,
                infer_peak_gib=peak,
                infer_runs=len(times),
            )
        else:
            row.update(
                train_status=status,
                train_median_s=_median(per_utt),
                train_min_s=min(per_utt) if per_utt else math.nan,
                train_peak_gib=peak,
                train_runs=len(times),
            )
    row["note"] = "; ".join(notes)
    return row


def run_all(settings: BenchSettings, points: Iterable[Point] | None = None) -> list[dict[str, Any]]:
    """Measure every point (series by series, lengths ascending) and return the CSV rows."""
    ctx = _context()
    rows: list[dict[str, Any]] = []
    # keyed by what is measured, not by set: a series shared by two sets is blocked and measured once
    blocked_by_series: dict[tuple[Any, ...], dict[str, Blocked]] = {}
    measured: dict[tuple[Any, ...], dict[str, Any]] = {}
    previous_rss_gib = 0.0
    for point in points if points is not None else iter_points(settings):
        key = (*point.series.measured, point.length_s)
        if key in measured:
            shared = measured[key]
            rows.append({**shared, "figure": point.series.figure,
                         "note": "; ".join(n for n in (shared["note"], f"measured once, for {shared['figure']}") if n)})
            continue
        blocked = blocked_by_series.setdefault(point.series.measured, {})
        started = time.monotonic()
        result = None
        attempts = 0
        if len(blocked) < len(PHASES):
            s = point.settings
            if previous_rss_gib > LARGE_POINT_GIB and s.contended_retries > 0:
                # the kernel reclaims many GiB after a large point (kswapd, compaction): let it finish first
                wait_for_quiet(s.quiet_wait_s, s.contended_cpu_pct)
            phases = tuple(p for p in PHASES if p not in blocked)
            result, attempts = run_point(replace(point, phases=phases), ctx), 1
            while result.others_cpu_pct > s.contended_cpu_pct and attempts <= s.contended_retries:
                log.info("%s %g s: other processes used %.0f %% of the CPUs; measuring again", point.series.label,
                         point.length_s, result.others_cpu_pct)
                wait_for_quiet(s.quiet_wait_s, s.contended_cpu_pct)
                again, attempts = run_point(replace(point, phases=phases), ctx), attempts + 1
                if again.others_cpu_pct < result.others_cpu_pct:  # keep the least disturbed measurement
                    result = again
        row = row_for(point, result, dict(blocked))
        row["attempts"] = attempts
        previous_rss_gib = result.max_rss_gib if result is not None else 0.0
        rows.append(row)
        measured[key] = row
        for phase in PHASES:
            status = row[f"{phase}_status"]
            if status in ("oom", "timeout") and phase not in blocked:
                blocked[phase] = Blocked(status, point.length_s)
        if row["train_status"] == "oom" and "infer" not in blocked:  # as the worker does at the same length
            blocked["infer"] = Blocked("skipped", point.length_s, "training ran out of memory")
        log.info(
            "%-45s %6.0f s  train %-7s %8.3f s  peak %6.2f GiB  infer %-7s %8.3f s (RTF %.4f)  [%.0f s, others %s %% CPU]",
            point.series.label, point.length_s, row["train_status"], row["train_median_s"], row["train_peak_gib"],
            row["infer_status"], row["infer_median_s"], row["rtf_median"], time.monotonic() - started, row["others_cpu_pct"],
        )
    return rows


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(row.get(k, "")) for k in CSV_COLUMNS})
    return buffer.getvalue()


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    write_text(path, rows_to_csv(rows))

"""The benchmark's figure (three panels like the paper's Figure 2) and its Markdown table.

Both are built from the CSV rows alone (``runner.CSV_COLUMNS``), so ``summarymixing bench --from-csv``
can redraw them without measuring again.

Scaling exponent: the least-squares slope of log(cost) against log(length) over the lengths
>= ``fit_min_s`` where the point completed (1 = linear, 2 = quadratic). Short lengths are left out
because fixed per-step costs (optimiser step, Python overhead) dominate there and flatten every curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..io import atomic_path, write_text
from .settings import ENCODER_FRAMES_PER_SECOND, BenchSettings

# --------------------------------------------------------------------------------------------------
# Paper values (paper.md section 2.2): READ OFF THE PLOT by eye, estimates, not published numbers.
# Branchformer, batch size and hardware not stated in the paper.
PAPER_FIG2_TRAIN_TIME_S = {  # training time per sentence (s) against length (s)
    "lengths_s": (1, 25, 50, 75, 100),
    "MHSA": (0.17, 0.19, 0.33, 0.53, 0.78),
    "SummaryMixing": (0.17, 0.19, 0.24, 0.29, 0.33),
    "SummaryMixing-lite": (0.13, 0.14, 0.19, 0.24, 0.28),
}
PAPER_FIG2_RTF_E5 = {  # decoding real-time factor (x 1e-5)
    "lengths_s": (10, 20, 30, 40, 50, 60),
    "MHSA": (6.3, 5.5, 5.85, 6.45, 7.2, 7.8),
    "SummaryMixing": (5.85, 4.6, 4.15, 4.1, 3.85, 3.8),
    "SummaryMixing-lite": (5.0, 3.8, 3.45, 3.45, 3.25, 3.2),
}
PAPER_FIG2_VRAM_GB = {  # peak training VRAM (GB)
    "lengths_s": (25, 50, 75, 90, 100),
    "MHSA": (7, 17, 32, 44, 52),
    "SummaryMixing": (4.5, 8, 11, 12.5, 13.5),
    "SummaryMixing-lite": (4, 7, 9.5, 11, 11.5),
}
# paper.md 2.1 (Table 1, CONFIRMED): full LibriSpeech training, MHSA -> SummaryMixing
PAPER_TABLE1 = (
    ("Conformer", "SummaryMixing", 137, 98, 46, 21),
    ("Branchformer", "SummaryMixing", 132, 105, 45, 26),
    ("Branchformer", "SummaryMixing-lite", 132, 98, 45, 23),
)

# Targets of the issue, stated for a 12-layer d_model=256 4-head Conformer, batch 1, fp32, 2 CPU threads.
TARGET_FRAMES = 4000  # 160 s
TARGET_LONG_FRAMES = 8000  # 320 s
TARGET_FLAT_FRAMES = (500, 8000)
TARGET_MHSA_TIME_RATIO = 10.0
TARGET_MHA_TIME_RATIO = 4.0
TARGET_MEMORY_RATIO = 2.5
TARGET_FLAT_TOLERANCE = 0.20
TARGET_MAX_EXPONENT = 1.1
TARGET_LONG_MEMORY_GIB = 24.0


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _ok(row: dict[str, Any], phase: str) -> bool:
    return row.get(f"{phase}_status") == "ok"


def fit_exponent(lengths: Sequence[float], costs: Sequence[float]) -> float:
    """Least-squares slope of log(cost) on log(length); NaN with fewer than two usable points."""
    pairs = [(math.log(x), math.log(y)) for x, y in zip(lengths, costs) if x > 0 and y > 0 and math.isfinite(y)]
    if len(pairs) < 2:
        return math.nan
    mx = sum(p[0] for p in pairs) / len(pairs)
    my = sum(p[1] for p in pairs) / len(pairs)
    sxx = sum((p[0] - mx) ** 2 for p in pairs)
    return sum((p[0] - mx) * (p[1] - my) for p in pairs) / sxx if sxx > 0 else math.nan


@dataclass(frozen=True)
class Group:
    """Rows of one size x encoder x scope: the mixers compared in one table."""

    size: str
    encoder: str
    scope: str


def _groups(rows: Sequence[dict[str, Any]]) -> list[Group]:
    seen: dict[Group, None] = {}
    for r in rows:
        seen.setdefault(Group(r["size"], r["encoder"], r["scope"]), None)
    return list(seen)


def _mixers(rows: Sequence[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["mixer"] for r in rows))


def _series(rows: Sequence[dict[str, Any]], group: Group, mixer: str) -> dict[float, dict[str, Any]]:
    return {
        _num(r["length_s"]): r
        for r in rows
        if (r["size"], r["encoder"], r["scope"], r["mixer"]) == (group.size, group.encoder, group.scope, mixer)
    }


def _oom_text(row: dict[str, Any]) -> str:
    return f"OOM at {_num(row['mem_limit_gib']):g} GiB"


CONTENDED_PCT = 10.0  # a point during which other processes used more than this share of the CPUs is marked
#                       (render_table sets it from efficiency.contended_cpu_pct)


def contended(row: dict[str, Any]) -> bool:
    """Other processes used more than ``CONTENDED_PCT`` of the CPUs while this point ran."""
    return _num(row.get("others_cpu_pct")) > CONTENDED_PCT


def _phase_cell(row: dict[str, Any] | None, phase: str, value_key: str, fmt: str) -> str:
    if row is None:
        return ""
    status = row.get(f"{phase}_status")
    if status == "ok":
        return fmt.format(_num(row[value_key])) + (" †" if contended(row) and value_key != "train_peak_gib" else "")
    if status == "oom":
        return _oom_text(row)
    return str(status)


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None, phase: str, key: str) -> str:
    if a is None or b is None:
        return ""
    if not _ok(b, phase):
        return "n/a"
    if a.get(f"{phase}_status") == "oom":
        return _oom_text(a)
    if not _ok(a, phase):
        return str(a.get(f"{phase}_status") or "n/a")
    den = _num(b[key])
    return f"{_num(a[key]) / den:.2f}" if den > 0 else "n/a"


def _md_table(header: Sequence[str], body: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return lines


# --------------------------------------------------------------------------------------------------
# Exponents and targets


def exponents(rows: Sequence[dict[str, Any]], group: Group, mixer: str, fit_min_s: float) -> dict[str, Any]:
    """Scaling exponents in T of training time, inference time and training memory of one series."""
    series = _series(rows, group, mixer)
    out: dict[str, Any] = {}
    for name, phase, key in (("train_time", "train", "train_median_s"), ("infer_time", "infer", "infer_median_s"),
                             ("train_memory", "train", "train_peak_gib")):  # fmt: skip
        pts = sorted((x, _num(r[key])) for x, r in series.items() if x >= fit_min_s and _ok(r, phase))
        out[name] = fit_exponent([p[0] for p in pts], [p[1] for p in pts])
        out[f"{name}_range"] = (pts[0][0], pts[-1][0]) if len(pts) >= 2 else None
    return out


def _row_at_frames(series: dict[float, dict[str, Any]], frames: int) -> dict[str, Any] | None:
    return series.get(frames / ENCODER_FRAMES_PER_SECOND)


def targets(rows: Sequence[dict[str, Any]], group: Group, reference: str) -> list[tuple[str, str, str]]:
    """The issue's targets, checked on one group: (target, measured, PASS/FAIL/n/a)."""
    sm, mhsa, mha = (_series(rows, group, m) for m in (reference, "mhsa", "mha"))
    results: list[tuple[str, str, str]] = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("PASS" if ok else "FAIL")

    def time_ratio(other: dict[float, dict[str, Any]], name: str, threshold: float) -> None:
        a, b = _row_at_frames(other, TARGET_FRAMES), _row_at_frames(sm, TARGET_FRAMES)
        label = f"training step {name} / {reference} >= {threshold:g}x at {TARGET_FRAMES} frames"
        if a is None or b is None or not (_ok(a, "train") and _ok(b, "train")):
            results.append((label, "not measured" if a is None or b is None else f"{a['train_status']} / {b['train_status']}", "n/a"))
            return
        r_med = _num(a["train_median_s"]) / _num(b["train_median_s"])
        r_min = _num(a["train_min_s"]) / _num(b["train_min_s"])
        dagger = " †" if contended(a) or contended(b) else ""
        results.append((label, f"{r_med:.1f}x median ({_num(a['train_median_s']):.2f} / {_num(b['train_median_s']):.2f} s), {r_min:.1f}x min{dagger}",
                        verdict(r_med >= threshold)))

    time_ratio(mhsa, "mhsa", TARGET_MHSA_TIME_RATIO)
    time_ratio(mha, "mha", TARGET_MHA_TIME_RATIO)

    lo, hi = (f / ENCODER_FRAMES_PER_SECOND for f in TARGET_FLAT_FRAMES)
    flat = sorted((x, _num(r["train_median_s"]) / _num(r["encoder_frames"])) for x, r in sm.items() if lo <= x <= hi and _ok(r, "train"))
    label = f"{reference} training time per frame flat within +-{TARGET_FLAT_TOLERANCE:.0%} from {TARGET_FLAT_FRAMES[0]} to {TARGET_FLAT_FRAMES[1]} frames (exponent <= {TARGET_MAX_EXPONENT:g})"
    if len(flat) >= 2 and flat[0][0] == lo and flat[-1][0] == hi:
        values = [v for _, v in flat]
        band = (max(values) - min(values)) / (max(values) + min(values))  # every value within +-band of the midrange
        mean = sum(values) / len(values)
        from_mean = max(abs(v / mean - 1) for v in values)
        exp = fit_exponent([x for x, _ in flat], [v * x for x, v in flat])
        per_frame = ", ".join(f"{x * ENCODER_FRAMES_PER_SECOND:.0f}: {v * 1e3:.2f}{' †' if contended(sm[x]) else ''}" for x, v in flat)
        results.append((label, f"ms/frame {per_frame}: all within +-{band:.0%} of their midrange "
                               f"(at most {from_mean:.0%} from their mean); exponent {exp:.2f}",
                        verdict(band <= TARGET_FLAT_TOLERANCE and exp <= TARGET_MAX_EXPONENT)))
    else:
        results.append((label, "not measured over the whole range", "n/a"))

    a, b = _row_at_frames(mhsa, TARGET_FRAMES), _row_at_frames(sm, TARGET_FRAMES)
    label = f"peak training memory mhsa / {reference} >= {TARGET_MEMORY_RATIO:g}x at {TARGET_FRAMES} frames"
    if a is not None and b is not None and _ok(a, "train") and _ok(b, "train"):
        r = _num(a["train_peak_gib"]) / _num(b["train_peak_gib"])
        results.append((label, f"{r:.1f}x ({_num(a['train_peak_gib']):.2f} / {_num(b['train_peak_gib']):.2f} GiB above baseline)", verdict(r >= TARGET_MEMORY_RATIO)))
    else:
        results.append((label, "not measured", "n/a"))

    a, b = _row_at_frames(mhsa, TARGET_LONG_FRAMES), _row_at_frames(sm, TARGET_LONG_FRAMES)
    label = f"{reference} completes a training step at {TARGET_LONG_FRAMES} frames within {TARGET_LONG_MEMORY_GIB:g} GiB; mhsa runs out of memory"
    if a is not None and b is not None:
        sm_total = _num(b["train_peak_gib"]) + _num(b["baseline_gib"])
        sm_ok = _ok(b, "train") and sm_total <= TARGET_LONG_MEMORY_GIB
        sm_text = f"{reference}: {sm_total:.2f} GiB total ({_num(b['train_peak_gib']):.2f} above baseline)" if _ok(b, "train") else f"{reference}: {b['train_status']}"
        mhsa_text = f"mhsa: {_oom_text(a)}" if a["train_status"] == "oom" else f"mhsa: {a['train_status']} ({_num(a['train_peak_gib']):.2f} GiB)"
        results.append((label, f"{sm_text}; {mhsa_text}", verdict(sm_ok and a["train_status"] == "oom")))
    else:
        results.append((label, "not measured", "n/a"))
    return results


# --------------------------------------------------------------------------------------------------
# Markdown table


def render_table(rows: Sequence[dict[str, Any]], settings: BenchSettings, provenance: dict[str, str]) -> str:
    """The whole ``reports/tables/efficiency.md``."""
    global CONTENDED_PCT
    CONTENDED_PCT = settings.contended_cpu_pct
    ref = settings.reference_mixer
    lines = [
        "# Efficiency: training step, decoding real-time factor and peak memory against utterance length",
        "",
        "Generated by `summarymixing bench` (src/summarymixing/efficiency); do not edit by hand. Raw numbers: "
        f"`reports/efficiency/{settings.name}.csv`; figure: `reports/figures/efficiency_{settings.name}.png`.",
        "",
    ]
    lines += [f"- **{k}**: {v}" for k, v in provenance.items()]
    lines += [
        "",
        "What is measured (one fresh process per size x encoder x mixer x scope x length; batch "
        f"{settings.batch_size}; synthetic fbank input, {settings.tokens_per_second:g} tokens per second of audio):",
        "",
        "- **scope `model`**: the whole `AttentionCTCModel` the DAG trains. *Training step* = fbank normalisation + "
        "CNN front-end + encoder + Transformer decoder + CTC/attention loss, backward, gradient clipping, AdamW step. "
        "*Inference* = normalisation + CNN + encoder + **CTC greedy decoding** (deterministic cost; no beam search).",
        "- **scope `encoder`**: the encoder alone (input projection + encoder layers) on random CNN-sized inputs: "
        "*training step* = forward, mean-square loss, backward, clipping, AdamW step; *inference* = forward. "
        "Leaves out the linear-cost CNN, decoder and output layers.",
        "- **scope `mixer`**: the encoder's token mixers alone, `x + mixer(LayerNorm(x))` per layer (same mixer "
        "modules, input projection and positional encoding; no feed-forward, convolution or cgMLP modules): what "
        "the token mixer itself costs. Same training step and inference as scope `encoder`.",
        f"- **time**: per utterance, median (and min) of up to {settings.repeats} timed runs after {settings.warmup} "
        f"warm-up run(s), fewer once a phase has spent {settings.phase_budget_s:g} s; a warm-up run of "
        f"{settings.single_run_s:g} s or more is kept as the one timed run (inflated by first-touch page faults; "
        "such points say so in the CSV's note). **RTF** = inference seconds / audio seconds. A point during which other processes used "
        f"more than {settings.contended_cpu_pct:g} % of the CPUs is measured again (up to {settings.contended_retries} "
        "times, the least disturbed kept); what remains disturbed is marked †.",
        "- **memory**: peak during the training step *above the baseline* taken after model construction "
        "(CPU: VmHWM - VmRSS, i.e. activations + gradients + optimiser state + workspace; CUDA: "
        "`max_memory_allocated` - `memory_allocated`). "
        f"Out of memory = an allocation beyond the cap ({settings.memory_limit_gib:g} GiB above the process's "
        "address space after set-up on CPU; device memory on CUDA): shown as *OOM at N GiB*; longer lengths "
        "of that series are not run and are shown as OOM too.",
        f"- **lengths**: L s of audio = {1000 / settings.frame_shift_ms:g} L fbank frames = "
        f"{ENCODER_FRAMES_PER_SECOND} L encoder frames (40 ms after 4x subsampling).",
        "",
    ]
    lines += ["Architectures:", ""]
    for size in settings.sizes:
        for enc in settings.encoders:
            arch = settings.architectures[size][enc]
            lines.append(f"- `{size}` {enc}: " + ", ".join(f"{k} {v}" for k, v in arch.items()))
    lines.append("")

    mixers = _mixers(rows)
    attention = [m for m in mixers if (settings.mixer_configs.get(m) or {}).get("type") == "attention"]
    checked = [g for g in _groups(rows) if ref in mixers and g.encoder == "conformer"]
    if checked:
        lines += [
            "## Targets of the issue, per scope",
            "",
            "Stated for a 12-layer d_model=256 4-head Conformer, batch 1, fp32, 2 CPU threads (size `bench`); "
            "ratios of median times, memory above baseline.",
            "",
        ]
        per_group = {g: targets(rows, g, ref) for g in checked}
        shown = [g for g, results in per_group.items() if any(verdict != "n/a" for *_, verdict in results)]
        body = [[f"`{g.size}` {g.scope}", *result] for g in shown for result in per_group[g]]
        skipped = [f"`{g.size}` {g.scope}" for g in checked if g not in shown]
        lines += _md_table(["size, scope", "target", "measured", "verdict"], body) + [""]
        if skipped:
            lines += [f"Not measured at the targets' lengths: {', '.join(skipped)}.", ""]

    for group in _groups(rows):
        by_mixer = {m: _series(rows, group, m) for m in mixers}
        lengths = sorted({x for s in by_mixer.values() for x in s})
        lines += [f"## {group.encoder} `{group.size}`, scope `{group.scope}`", ""]

        if attention and ref in by_mixer:
            lines += [f"### Self-attention / {ref} ratios (median times; peak memory above baseline)", ""]
            header = ["length s", "enc. frames"]
            for m in attention:
                header += [f"{m}/{ref} training time", f"{m}/{ref} training memory", f"{m}/{ref} inference time"]
            body = []
            for x in lengths:
                r_ref = by_mixer[ref].get(x)
                frames = next((str(s[x]["encoder_frames"]) for s in by_mixer.values() if x in s and s[x]["encoder_frames"] not in ("", None)), "")
                cells = [f"{x:g}", frames]
                for m in attention:
                    a = by_mixer[m].get(x)
                    cells += [_ratio(a, r_ref, "train", "train_median_s"), _ratio(a, r_ref, "train", "train_peak_gib"),
                              _ratio(a, r_ref, "infer", "infer_median_s")]  # fmt: skip
                body.append(cells)
            lines += _md_table(header, body) + [""]

        for title, phase, key, fmt in (
            ("Training step per utterance, median s", "train", "train_median_s", "{:.3g}"),
            ("Peak training memory, GiB above baseline", "train", "train_peak_gib", "{:.3g}"),
            ("Inference (decoding) real-time factor, median", "infer", "rtf_median", "{:.3g}"),
        ):
            lines += [f"### {title}", ""]
            body = [[f"{x:g}"] + [_phase_cell(by_mixer[m].get(x), phase, key, fmt) for m in mixers] for x in lengths]
            lines += _md_table(["length s", *mixers], body) + [""]
            if key != "train_peak_gib" and any(contended(r) for s in by_mixer.values() for r in s.values()):
                lines += [f"† other processes used more than {CONTENDED_PCT:g} % of the CPUs while this point ran "
                          "(`others_cpu_pct` in the CSV): its time is inflated.", ""]

        lines += [
            f"### Scaling exponents (slope of log cost against log length, completed lengths >= {settings.fit_min_s:g} s)",
            "",
        ]
        body = []
        for m in mixers:
            e = exponents(rows, group, m, settings.fit_min_s)
            cells = [m]
            for name in ("train_time", "infer_time", "train_memory"):
                rng = e[f"{name}_range"]
                cells.append("n/a" if rng is None else f"{e[name]:.2f} ({rng[0]:g}-{rng[1]:g} s)")
            body.append(cells)
        lines += _md_table(["mixer", "training time", "inference time", "training memory"], body) + [""]

    lines += _paper_section()
    return "\n".join(lines).rstrip() + "\n"


def _paper_section() -> list[str]:
    lines = [
        "## The paper, for comparison",
        "",
        "Table 1 (paper.md 2.1, confirmed): full LibriSpeech 960 h training, GPU type not stated.",
        "",
    ]
    body = [
        [enc, f"self-attention -> {sm}", f"{gh_a} -> {gh_b} ({gh_a / gh_b:.2f}x)", f"{v_a} -> {v_b} ({v_a / v_b:.2f}x)"]
        for enc, sm, gh_a, gh_b, v_a, v_b in PAPER_TABLE1
    ]
    lines += _md_table(["encoder", "mixer", "GPU hours", "peak VRAM GB"], body) + [""]
    lines += [
        "Figure 2 (paper.md 2.2): **values READ OFF THE PLOT by eye, estimates, not published numbers** "
        "(Branchformer; hardware and batch size not stated).",
        "",
    ]
    for title, table in (
        ("training time per sentence, s", PAPER_FIG2_TRAIN_TIME_S),
        ("decoding RTF, x 1e-5", PAPER_FIG2_RTF_E5),
        ("peak training VRAM, GB", PAPER_FIG2_VRAM_GB),
    ):
        models = [k for k in table if k != "lengths_s"]
        body = [[f"{x:g}"] + [f"{table[m][i]:g}" for m in models] for i, x in enumerate(table["lengths_s"])]
        last = len(table["lengths_s"]) - 1
        ratio = table["MHSA"][last] / table["SummaryMixing"][last]
        lines += [f"*{title}* (MHSA / SummaryMixing at {table['lengths_s'][last]:g} s: {ratio:.1f}x)", ""]
        lines += _md_table(["length s", *models], body) + [""]
    return lines


# --------------------------------------------------------------------------------------------------
# Figure


def render_figure(rows: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    """Figure 2's three panels (training time, decoding RTF, peak training memory against length), one row
    of panels per scope, one line per size x encoder x mixer.

    A cross marks out-of-memory at the length where it happened (memory panel: at the cap). Log-log axes,
    so a slope of 1 is linear and 2 quadratic.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda value, _: f"{value:g}")
    scopes = [s for s in ("model", "encoder", "mixer") if any(r["scope"] == s for r in rows)]
    panels = (
        ("training step per utterance (s)", "train", "train_median_s"),
        ("decoding real-time factor", "infer", "rtf_median"),
        ("peak training memory above baseline (GiB)", "train", "train_peak_gib"),
    )
    curves = list(dict.fromkeys((r["size"], r["encoder"], r["mixer"]) for r in rows))
    colours = plt.get_cmap("tab10")
    fig, axes = plt.subplots(len(scopes), 3, figsize=(16, 4.2 * len(scopes) + 1.2), squeeze=False)
    for row_axes, scope in zip(axes, scopes):
        for ax, (ylabel, phase, key) in zip(row_axes, panels):
            for i, (size, enc, mixer) in enumerate(curves):
                series = sorted(
                    (_num(r["length_s"]), r) for r in rows if (r["size"], r["encoder"], r["mixer"], r["scope"]) == (size, enc, mixer, scope)
                )
                ok = [(x, _num(r[key])) for x, r in series if _ok(r, phase)]
                if ok:
                    ax.plot([p[0] for p in ok], [p[1] for p in ok], "-", marker="o", ms=3.5, color=colours(i % 10),
                            label=f"{enc}-{mixer}-{size}")  # fmt: skip
                first_oom = next((r for _, r in series if r.get(f"{phase}_status") == "oom"), None)
                if first_oom is not None:
                    y = _num(first_oom["mem_limit_gib"]) if key == "train_peak_gib" else (ok[-1][1] if ok else math.nan)
                    x = _num(first_oom["length_s"]) * (1 + 0.04 * i)  # side by side where several run out together
                    ax.plot([x], [y], "x", ms=10, mew=2, color=colours(i % 10))
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(sorted({_num(r["length_s"]) for r in rows if r["scope"] == scope}))
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_formatter(plain)
                axis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("utterance length (s of audio)")
            ax.set_ylabel(ylabel)
            ax.set_title(f"scope: {scope}", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(5, max(1, len(handles))), fontsize=9, frameon=False)
    fig.suptitle(title + "   (x = out of memory)", fontsize=10)
    fig.tight_layout(rect=(0, 0.05 + 0.025 * (len(handles) // 5), 1, 0.97))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def write_table(path: Path, rows: Sequence[dict[str, Any]], settings: BenchSettings, provenance: dict[str, str]) -> None:
    write_text(path, render_table(rows, settings, provenance))

"""The benchmark's figure (three panels like the paper's Figure 2) and its Markdown table.

Both are built from the CSV rows alone (``runner.CSV_COLUMNS``), so ``summarymixing bench --from-csv``
can redraw them without measuring again.

Groups (one table section, one row of figure panels each): the grid's size x encoder x scope, whose
curves are its mixers; and each figure's size x scope (``efficiency.figures``), whose curves may have
different encoders, a mixer-less one named after its encoder (``contextnet``).

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
from .settings import ENCODER_FRAMES_PER_SECOND, GRID, BenchSettings, Curve

# --------------------------------------------------------------------------------------------------
# Paper values (paper.md section 2.2): READ OFF THE PLOT by eye, estimates, not published numbers.
# Branchformer, batch size and hardware not stated in the paper.
PAPER_FIG2_TRAIN_TIME_S: dict[str, tuple[float | str, ...]] = {  # training time per sentence (s) against length (s)
    "lengths_s": (1, 25, 50, 75, 100),
    "MHSA": (0.17, 0.19, 0.33, 0.53, 0.78),
    "SummaryMixing": (0.17, 0.19, 0.24, 0.29, 0.33),
    "SummaryMixing-lite": (0.13, 0.14, 0.19, 0.24, 0.28),
    "FastFormer": (0.17, 0.18, 0.23, 0.28, 0.33),
    "ContextNet": (0.33, 0.33, 0.39, 0.46, "0.54 (95 s)"),
}
PAPER_FIG2_RTF_E5: dict[str, tuple[float | str, ...]] = {  # decoding real-time factor (x 1e-5); no ContextNet curve
    "lengths_s": (10, 20, 30, 40, 50, 60),
    "MHSA": (6.3, 5.5, 5.85, 6.45, 7.2, 7.8),
    "SummaryMixing": (5.85, 4.6, 4.15, 4.1, 3.85, 3.8),
    "SummaryMixing-lite": (5.0, 3.8, 3.45, 3.45, 3.25, 3.2),
    "FastFormer": (5.9, 4.55, 4.25, 4.2, 4.1, 4.1),
}
PAPER_FIG2_VRAM_GB: dict[str, tuple[float | str, ...]] = {  # peak training VRAM (GB)
    "lengths_s": (25, 50, 75, 90, 100),
    "MHSA": (7, 17, 32, 44, 52),
    "SummaryMixing": (4.5, 8, 11, 12.5, 13.5),
    "SummaryMixing-lite": (4, 7, 9.5, 11, 11.5),
    "FastFormer / ContextNet": (4.5, 7.5, 10.5, 12, "12.5-13"),  # one curve for both in the plot
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
    """Rows compared in one table section and one row of figure panels.

    The grid's groups are one size x encoder x scope (curves: its mixers); a figure's are one size x
    scope (``encoder`` None: its curves' encoders may differ).
    """

    size: str
    encoder: str | None
    scope: str
    figure: str = GRID

    def title(self, encoders: Sequence[str]) -> str:
        if self.figure == GRID:
            return f"{self.encoder} `{self.size}`, scope `{self.scope}`"
        return f"{self.figure}: {', '.join(encoders)} `{self.size}`, scope `{self.scope}`"


def _figure_of(row: dict[str, Any]) -> str:
    return row.get("figure") or GRID  # CSVs written before figures existed hold the grid only


def _curve_of(row: dict[str, Any]) -> Curve:
    return Curve(row["encoder"], row.get("mixer") or None)


def _group_of(row: dict[str, Any]) -> Group:
    figure = _figure_of(row)
    return Group(row["size"], row["encoder"] if figure == GRID else None, row["scope"], figure)


def _groups(rows: Sequence[dict[str, Any]]) -> list[Group]:
    return list(dict.fromkeys(_group_of(r) for r in rows))


def _curves(rows: Sequence[dict[str, Any]], group: Group) -> list[Curve]:
    """The group's curves, in run order."""
    return list(dict.fromkeys(_curve_of(r) for r in rows if _group_of(r) == group))


def curve_label(curve: Curve, curves: Sequence[Curve]) -> str:
    """How a curve is named among ``curves``: its mixer, the encoder for a mixer-less one
    (``contextnet``), and ``<encoder> <mixer>`` where mixers of several encoders sit side by side."""
    if curve.mixer is None:
        return curve.encoder
    if len({c.encoder for c in curves if c.mixer is not None}) > 1:
        return f"{curve.encoder} {curve.mixer}"
    return curve.mixer


def _as_curve(group: Group, curve: Curve | str) -> Curve:
    """A mixer name stands for that mixer on the group's encoder (the grid's groups)."""
    if isinstance(curve, Curve):
        return curve
    if group.encoder is None:
        raise ValueError(f"group {group}: name a curve by Curve(encoder, mixer), not by the mixer {curve!r} alone")
    return Curve(group.encoder, curve)


def _series(rows: Sequence[dict[str, Any]], group: Group, curve: Curve | str) -> dict[float, dict[str, Any]]:
    curve = _as_curve(group, curve)
    return {_num(r["length_s"]): r for r in rows if _group_of(r) == group and _curve_of(r) == curve}


def reference_curve(curves: Sequence[Curve], reference_mixer: str) -> Curve | None:
    """The curve the group's ratios divide by: the first with the reference mixer."""
    return next((c for c in curves if c.mixer == reference_mixer), None)


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


def exponents(rows: Sequence[dict[str, Any]], group: Group, curve: Curve | str, fit_min_s: float) -> dict[str, Any]:
    """Scaling exponents in T of training time, inference time and training memory of one series."""
    series = _series(rows, group, curve)
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
        "- **scope `model`**: the whole `EncoderDecoderModel` the DAG trains. *Training step* = fbank normalisation + "
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
    figures = list(dict.fromkeys(_figure_of(r) for r in rows if _figure_of(r) != GRID))
    if figures:
        lines[-1:-1] = [
            "- **figures** (" + ", ".join(f"`{f}`" for f in figures) + "): explicit sets of curves "
            "(`efficiency.figures`), each in one scope at its own lengths; its curves may have different encoders, "
            "and an encoder without a token mixer is named after itself. A point also in another set is measured once.",
        ]
    lines += ["Architectures:", ""]
    for size, enc in dict.fromkeys((r["size"], r["encoder"]) for r in rows):
        arch = settings.architectures.get(size, {}).get(enc)
        if arch is not None:
            lines.append(f"- `{size}` {enc}: " + ", ".join(f"{k} {v}" for k, v in arch.items()))
    lines.append("")

    groups = _groups(rows)
    checked = [g for g in groups if g.figure == GRID and g.encoder == "conformer" and Curve("conformer", ref) in _curves(rows, g)]
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

    for group in groups:
        lines += _group_section(rows, group, settings)

    lines += _paper_section()
    return "\n".join(lines).rstrip() + "\n"


def _group_section(rows: Sequence[dict[str, Any]], group: Group, settings: BenchSettings) -> list[str]:
    """One group's tables: ratios to the reference mixer, the three measurements, scaling exponents.

    Ratios: in the grid, of the self-attention mixers (the targets' comparison); in a figure, of every
    curve, as the figure compares them all.
    """
    ref = settings.reference_mixer
    curves = _curves(rows, group)
    names = {c: curve_label(c, curves) for c in curves}
    by_curve = {c: _series(rows, group, c) for c in curves}
    lengths = sorted({x for s in by_curve.values() for x in s})
    lines = [f"## {group.title(list(dict.fromkeys(c.encoder for c in curves)))}", ""]

    reference = reference_curve(curves, ref)
    if reference is not None and group.figure == GRID:
        lines += _attention_ratios(by_curve, reference, curves, names, settings)
    elif reference is not None:
        lines += _ratios_to_reference(by_curve, reference, curves, names)

    for title, phase, key, fmt in (
        ("Training step per utterance, median s", "train", "train_median_s", "{:.3g}"),
        ("Peak training memory, GiB above baseline", "train", "train_peak_gib", "{:.3g}"),
        ("Inference (decoding) real-time factor, median", "infer", "rtf_median", "{:.3g}"),
    ):
        lines += [f"### {title}", ""]
        body = [[f"{x:g}"] + [_phase_cell(by_curve[c].get(x), phase, key, fmt) for c in curves] for x in lengths]
        lines += _md_table(["length s", *names.values()], body) + [""]
        if key != "train_peak_gib" and any(contended(r) for s in by_curve.values() for r in s.values()):
            lines += [f"† other processes used more than {CONTENDED_PCT:g} % of the CPUs while this point ran "
                      "(`others_cpu_pct` in the CSV): its time is inflated.", ""]

    lines += [
        f"### Scaling exponents (slope of log cost against log length, completed lengths >= {settings.fit_min_s:g} s)",
        "",
    ]
    body = []
    for c in curves:
        e = exponents(rows, group, c, settings.fit_min_s)
        cells = [names[c]]
        for name in ("train_time", "infer_time", "train_memory"):
            rng = e[f"{name}_range"]
            cells.append("n/a" if rng is None else f"{e[name]:.2f} ({rng[0]:g}-{rng[1]:g} s)")
        body.append(cells)
    lines += _md_table(["mixer" if group.figure == GRID else "curve", "training time", "inference time", "training memory"], body)
    return lines + [""]


def _frames(row: dict[str, Any] | None) -> str:
    return "" if row is None or row.get("encoder_frames") in ("", None) else str(row["encoder_frames"])


def _attention_ratios(
    by_curve: dict[Curve, dict[float, dict[str, Any]]], reference: Curve, curves: Sequence[Curve], names: dict[Curve, str],
    settings: BenchSettings,
) -> list[str]:
    """The grid's ratio table: each self-attention mixer / the reference, one row per length."""
    compared = [c for c in curves if c.mixer and (settings.mixer_configs.get(c.mixer) or {}).get("type") == "attention"]
    if not compared:
        return []
    r_name = names[reference]
    lines = [f"### Self-attention / {r_name} ratios (median times; peak memory above baseline)", ""]
    header = ["length s", "enc. frames"]
    for c in compared:
        header += [f"{names[c]}/{r_name} training time", f"{names[c]}/{r_name} training memory",
                   f"{names[c]}/{r_name} inference time"]  # fmt: skip
    body = []
    for x in sorted({x for s in by_curve.values() for x in s}):
        r_ref = by_curve[reference].get(x)
        cells = [f"{x:g}", next((f for f in (_frames(s.get(x)) for s in by_curve.values()) if f), "")]
        for c in compared:
            a = by_curve[c].get(x)
            cells += [_ratio(a, r_ref, "train", "train_median_s"), _ratio(a, r_ref, "train", "train_peak_gib"),
                      _ratio(a, r_ref, "infer", "infer_median_s")]  # fmt: skip
        body.append(cells)
    return lines + _md_table(header, body) + [""]


def _ratios_to_reference(
    by_curve: dict[Curve, dict[float, dict[str, Any]]], reference: Curve, curves: Sequence[Curve], names: dict[Curve, str]
) -> list[str]:
    """A figure's ratio table: every other curve / the reference, one row per curve and length (encoder
    frames per curve: encoders that subsample differently have different numbers)."""
    r_name = names[reference]
    body = []
    for c in curves:
        if c == reference:
            continue
        for x, a in sorted(by_curve[c].items()):
            r_ref = by_curve[reference].get(x)
            body.append([names[c], f"{x:g}", _frames(a), _ratio(a, r_ref, "train", "train_median_s"),
                         _ratio(a, r_ref, "train", "train_peak_gib"), _ratio(a, r_ref, "infer", "infer_median_s")])  # fmt: skip
    if not body:
        return []
    lines = [f"### Ratios to {r_name} (median times; peak memory above baseline)", ""]
    return lines + _md_table(["curve", "length s", "enc. frames", "training time", "training memory", "inference time"], body) + [""]


def _paper_cell(value: float | str) -> str:
    """A read-off value; text where the plot gives a range or another length."""
    return value if isinstance(value, str) else f"{value:g}"


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
        "(Branchformer with each token mixer, and ContextNet; hardware and batch size not stated).",
        "",
    ]
    for title, table in (
        ("training time per sentence, s", PAPER_FIG2_TRAIN_TIME_S),
        ("decoding RTF, x 1e-5", PAPER_FIG2_RTF_E5),
        ("peak training VRAM, GB", PAPER_FIG2_VRAM_GB),
    ):
        models = [k for k in table if k != "lengths_s"]
        body = [[f"{x:g}"] + [_paper_cell(table[m][i]) for m in models] for i, x in enumerate(table["lengths_s"])]
        last = len(table["lengths_s"]) - 1
        ratio = float(table["MHSA"][last]) / float(table["SummaryMixing"][last])
        lines += [f"*{title}* (MHSA / SummaryMixing at {table['lengths_s'][last]:g} s: {ratio:.1f}x)", ""]
        lines += _md_table(["length s", *models], body) + [""]
    return lines


# --------------------------------------------------------------------------------------------------
# Figure


@dataclass(frozen=True)
class _Line:
    """One curve of a panel row: its label, its rows (length -> row), colour and line style indices."""

    label: str
    series: dict[float, dict[str, Any]]
    colour: int
    style: int


def _panel_rows(rows: Sequence[dict[str, Any]]) -> list[tuple[str, list[_Line]]]:
    """(title, lines) per row of panels: one per grid scope (every grid curve in it, named
    encoder-mixer-size), then one per figure and scope (its curves named as in its table).

    A curve's colour follows its name (mixer, or encoder without one), the same in every row; curves of
    one row sharing a name (other encoders or sizes) differ by line style.
    """
    colour_of: dict[str, int] = {}
    for r in rows:
        colour_of.setdefault(_curve_of(r).name, len(colour_of))
    panel_rows: list[tuple[str, list[_Line]]] = []
    scopes = [s for s in ("model", "encoder", "mixer") if any(r["scope"] == s for r in rows)]
    keys = [(GRID, scope) for scope in scopes]
    keys += list(dict.fromkeys((_figure_of(r), r["scope"]) for r in rows if _figure_of(r) != GRID))
    for figure, scope in keys:
        in_row = [r for r in rows if _figure_of(r) == figure and r["scope"] == scope]
        if not in_row:
            continue
        members = list(dict.fromkeys((r["size"], _curve_of(r)) for r in in_row))
        curves = list(dict.fromkeys(c for _, c in members))
        several_sizes = len({size for size, _ in members}) > 1
        lines, styles = [], {}
        for size, curve in members:
            if figure == GRID:
                label = "-".join(part for part in (curve.encoder, curve.mixer, size) if part)
            else:
                label = curve_label(curve, curves) + (f" ({size})" if several_sizes else "")
            series = {_num(r["length_s"]): r for r in in_row if r["size"] == size and _curve_of(r) == curve}
            style = styles.setdefault(curve.name, 0)
            styles[curve.name] += 1
            lines.append(_Line(label, series, colour_of[curve.name], style))
        title = f"scope: {scope}" if figure == GRID else f"{figure} (scope: {scope})"
        panel_rows.append((title, lines))
    return panel_rows


def render_figure(rows: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    """Figure 2's three panels (training time, decoding RTF, peak training memory against length), one row
    of panels per grid scope and one per figure (``_panel_rows``), each with its legend.

    A cross marks out-of-memory at the length where it happened (memory panel: at the cap). Log-log axes,
    so a slope of 1 is linear and 2 quadratic.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda value, _: f"{value:g}")
    panels = (
        ("training step per utterance (s)", "train", "train_median_s"),
        ("decoding real-time factor", "infer", "rtf_median"),
        ("peak training memory above baseline (GiB)", "train", "train_peak_gib"),
    )
    colours = plt.get_cmap("tab10")
    styles = ("-", "--", ":", "-.")
    panel_rows = _panel_rows(rows)
    fig, axes = plt.subplots(len(panel_rows), 3, figsize=(18, 4.2 * len(panel_rows) + 0.8), squeeze=False)
    for row_axes, (row_title, lines) in zip(axes, panel_rows):
        for ax, (ylabel, phase, key) in zip(row_axes, panels):
            for i, line in enumerate(lines):
                colour = colours(line.colour % 10)
                series = sorted(line.series.items())
                ok = [(x, _num(r[key])) for x, r in series if _ok(r, phase)]
                if ok:
                    ax.plot([p[0] for p in ok], [p[1] for p in ok], styles[line.style % len(styles)], marker="o", ms=3.5,
                            color=colour, label=line.label)  # fmt: skip
                first_oom = next((r for _, r in series if r.get(f"{phase}_status") == "oom"), None)
                if first_oom is not None:
                    y = _num(first_oom["mem_limit_gib"]) if key == "train_peak_gib" else (ok[-1][1] if ok else math.nan)
                    x = _num(first_oom["length_s"]) * (1 + 0.04 * i)  # side by side where several run out together
                    ax.plot([x], [y], "x", ms=10, mew=2, color=colour)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(sorted({x for line in lines for x in line.series}))
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_formatter(plain)
                axis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("utterance length (s of audio)")
            ax.set_ylabel(ylabel)
            ax.set_title(row_title, fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
        if row_axes[-1].get_legend_handles_labels()[0] or row_axes[0].get_legend_handles_labels()[0]:
            handles: dict[str, Any] = {}
            for ax in row_axes:
                for h, lab in zip(*ax.get_legend_handles_labels()):
                    handles.setdefault(lab, h)
            row_axes[-1].legend(list(handles.values()), list(handles), loc="upper left", bbox_to_anchor=(1.02, 1.0),
                                fontsize=8, frameon=False)  # fmt: skip
    fig.suptitle(title + "   (x = out of memory)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def write_table(path: Path, rows: Sequence[dict[str, Any]], settings: BenchSettings, provenance: dict[str, str]) -> None:
    write_text(path, render_table(rows, settings, provenance))

"""The benchmark's settings (``params.yaml: efficiency``, overridable from the CLI) and its points.

A *series* is one curve of the figure: size x encoder x mixer x scope (mixer None for an encoder
without a token mixer, ContextNet). A *point* is a series at one utterance length. Lengths are in
seconds of audio: L s = 100 L fbank frames (10 ms shift) = 25 L encoder frames after the 4x CNN
subsampling (40 ms per encoder frame).

Series come from two places, both run by default:
    the grid     ``efficiency.encoders`` x ``mixers`` x ``scopes``, lengths from ``lengths_s``; tables
                and figure rows per size x encoder x scope, one curve per mixer (set name ``grid``).
    figures     ``efficiency.figures.<name>``: explicit curves, each an encoder with a list of mixers
                or none, in one scope, at the figure's own lengths; one table and one figure row per
                size, whatever the encoders of its curves (the paper's Figure 2 puts ContextNet beside
                the Branchformer's mixers).
A series belongs to one set (``Series.figure``); the runner measures a point that two sets share once.

Scopes (what one point times), from the widest to the narrowest:
    model    the whole ``EncoderDecoderModel`` the DAG trains. Training step: fbank normalisation, CNN
             front-end, encoder, Transformer decoder, CTC + attention (KL-divergence) loss, backward,
             gradient clipping, AdamW step. Inference: normalisation, CNN, encoder, CTC greedy decoding.
    encoder  the encoder alone: input projection + encoder layers on random CNN-sized inputs; training
             step with a mean-square loss on its output, backward and AdamW step. This isolates the token
             mixer's scaling from the linear-cost parts (CNN, decoder, output layers).
    mixer    the encoder's token mixers alone (``worker.MixerStack``): per layer x + mixer(LayerNorm(x)),
             the same mixer modules, input projection and positional encoding, without the FFN,
             convolution or cgMLP modules. The cost of the token mixer itself.
An encoder without a token mixer (``models.encoders.MIXERLESS_ENCODERS``) has neither a separate
encoder stack behind a CNN nor mixers: it is timed in scope ``model`` only.

No torch here: the stage module imports this at CLI start-up.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Sequence

from ..config import Experiment, ParamsError, with_overrides

SCOPES = ("mixer", "encoder", "model")
DEVICES = ("cpu", "cuda")
PRECISIONS = ("fp32", "bf16", "fp16")
ENCODER_FRAMES_PER_SECOND = 25  # 40 ms per encoder frame after 4x subsampling of 10 ms fbank frames
GRID = "grid"  # the set name of the encoders x mixers x scopes grid (``--figures grid``)
MIXERLESS_SCOPES = ("model",)  # where an encoder without a token mixer can be timed

# Loss and optimiser of a training step, as in training.small; the cost of a step does not depend on them.
CTC_WEIGHT = 0.3
LABEL_SMOOTHING = 0.1
LEARNING_RATE = 1e-4
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 5.0


@dataclass(frozen=True)
class Curve:
    """An encoder with one token mixer, or a mixer-less encoder (``mixer`` None)."""

    encoder: str
    mixer: str | None = None

    @property
    def name(self) -> str:
        """The mixer, or the encoder where there is none (``contextnet``)."""
        return self.mixer or self.encoder


@dataclass(frozen=True)
class FigureSpec:
    """``efficiency.figures.<name>``: explicit curves measured in one scope, one group per size."""

    name: str
    scope: str
    sizes: tuple[str, ...]
    curves: tuple[Curve, ...]
    lengths_s: tuple[float, ...]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FigureSpec":
        return cls(d["name"], d["scope"], tuple(d["sizes"]), tuple(Curve(**c) for c in d["curves"]),
                   tuple(float(x) for x in d["lengths_s"]))  # fmt: skip


@dataclass(frozen=True)
class BenchSettings:
    """Everything one ``summarymixing bench`` run needs (see params.yaml ``efficiency`` for the meaning)."""

    device: str = "cpu"
    name: str = "cpu"  # output name: reports/efficiency/<name>.csv, reports/figures/efficiency_<name>.png
    threads: int = 2
    precision: str = "fp32"
    batch_size: int = 1
    sizes: tuple[str, ...] = ("bench",)
    encoders: tuple[str, ...] = ("conformer",)
    mixers: tuple[str, ...] = ("mhsa", "summarymixing")
    scopes: tuple[str, ...] = SCOPES
    lengths_s: dict[str, tuple[float, ...]] = field(default_factory=lambda: {scope: (1, 5, 10, 20, 40, 80, 160, 320) for scope in SCOPES})
    grid: bool = True  # run the encoders x mixers x scopes grid
    figures: tuple[FigureSpec, ...] = ()  # the explicit sets to run (efficiency.figures, or those --figures names)
    vocab_size: int = 256
    tokens_per_second: float = 2.5
    warmup: int = 1
    repeats: int = 3
    phase_budget_s: float = 2.0
    single_run_s: float = 60.0  # a warm-up run at least this long is kept as the one timed run
    point_timeout_s: float = 300.0
    memory_limit_gib: float = 16.0  # CPU: address space allowed above the worker's size after set-up
    cuda_memory_limit_gib: float | None = None  # CUDA: None = the whole device
    fit_min_s: float = 20.0
    contended_cpu_pct: float = 10.0  # other processes above this share of the CPUs during a point: measure again
    contended_retries: int = 2
    quiet_wait_s: float = 60.0  # before measuring again, wait up to this long for the machine to calm down
    reference_mixer: str = "summarymixing"
    frame_shift_ms: float = 10.0
    n_mels: int = 80
    seed: int = 0
    inject_oom: tuple[str, ...] = ()  # tests: "<curve>@<seconds>" makes that curve's training step raise OOM from that length
    architectures: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, compare=False, repr=False)
    mixer_configs: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def grid_series(self) -> list["Series"]:
        """The grid's curves (cheap mixers first within a size x encoder x scope); a mixer-less encoder
        gives one curve per scope."""
        if not self.grid:
            return []
        return [
            Series(size, encoder, mixer, scope)
            for size in self.sizes
            for encoder in self.encoders
            for scope in self.scopes
            for mixer in (self.mixers if self.takes_mixer(encoder) else (None,))
        ]

    def series(self) -> list["Series"]:
        """Every curve, in run order: the grid, then each figure size by size, curves as listed."""
        found = self.grid_series()
        for fig in self.figures:
            found += [Series(size, c.encoder, c.mixer, fig.scope, fig.name) for size in fig.sizes for c in fig.curves]
        return found

    def figure(self, name: str) -> FigureSpec | None:
        return next((f for f in self.figures if f.name == name), None)

    def lengths_for(self, series: "Series") -> tuple[float, ...]:
        """The lengths of ``series``: its figure's, or the grid's for its scope."""
        fig = self.figure(series.figure)
        return fig.lengths_s if fig is not None else self.lengths_s[series.scope]

    @staticmethod
    def takes_mixer(encoder: str) -> bool:
        """Whether ``encoder`` has token mixers (ContextNet has none)."""
        from ..models.encoders import MIXERLESS_ENCODERS  # here, not at import: the CLI imports this module without torch

        return encoder not in MIXERLESS_ENCODERS

    def architecture(self, series: "Series") -> dict[str, Any]:
        """``config.model_config``-style dict: the size's encoder settings (with the overrides that apply
        to this encoder and mixer, as the ASR grid applies them), ``encoder``, ``mixer`` and ``decoder``."""
        exp = Experiment(task="asr", dataset="", encoder=series.encoder, mixer=series.mixer, size=series.size)
        arch = with_overrides(self.architectures[series.size][series.encoder], exp)
        arch["encoder"] = series.encoder
        arch["mixer"] = dict(self.mixer_configs[series.mixer]) if series.mixer else None
        arch["decoder"] = None
        return arch

    def fbank_frames(self, length_s: float) -> int:
        return max(1, round(length_s * 1000.0 / self.frame_shift_ms))

    def tokens(self, length_s: float) -> int:
        return max(1, math.ceil(length_s * self.tokens_per_second))

    def oom_injected(self, curve: str, length_s: float) -> bool:
        for entry in self.inject_oom:
            name, _, at = entry.partition("@")
            if name == curve and length_s >= float(at):
                return True
        return False


@dataclass(frozen=True)
class Series:
    """One curve of the figure, in the set ``figure`` (``grid`` or an ``efficiency.figures`` name)."""

    size: str
    encoder: str
    mixer: str | None
    scope: str
    figure: str = GRID

    @property
    def curve(self) -> Curve:
        return Curve(self.encoder, self.mixer)

    @property
    def measured(self) -> tuple[str, str, str | None, str]:
        """What a point of this series measures, whichever set it belongs to."""
        return (self.size, self.encoder, self.mixer, self.scope)

    @property
    def label(self) -> str:
        name = "-".join(part for part in (self.encoder, self.mixer, self.size) if part)
        return f"{name} ({self.scope})" if self.figure == GRID else f"{name} ({self.figure}, {self.scope})"


@dataclass(frozen=True)
class Point:
    """One measurement: a series at one length; ``settings`` travels with it into the worker process."""

    series: Series
    length_s: float
    settings: BenchSettings
    phases: tuple[str, ...] = ("train", "infer")  # the runner drops a phase that ran out of memory earlier

    def to_dict(self) -> dict[str, Any]:
        return {"series": asdict(self.series), "length_s": self.length_s, "settings": self.settings.to_dict(),
                "phases": list(self.phases)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Point":
        s = dict(d["settings"])
        for key in ("sizes", "encoders", "mixers", "scopes", "inject_oom"):
            s[key] = tuple(s[key])
        s["lengths_s"] = {scope: tuple(v) for scope, v in s["lengths_s"].items()}
        s["figures"] = tuple(FigureSpec.from_dict(f) for f in s.get("figures", ()))
        return cls(Series(**d["series"]), d["length_s"], BenchSettings(**s), tuple(d.get("phases", ("train", "infer"))))


def settings_from_params(params: dict[str, Any], figures: Sequence[str] | None = None, **overrides: Any) -> BenchSettings:
    """Resolve ``params['efficiency']`` plus CLI overrides (``None`` = keep) into ``BenchSettings``.

    ``figures``: the sets to run, ``grid`` and names of ``efficiency.figures``; None = the grid and
    every figure, or the grid alone where ``encoders``, ``mixers`` or ``scopes`` are overridden (they
    describe the grid wanted). ``sizes`` and ``lengths_s`` overrides apply to the figures too (a
    figure's own ``sizes`` default to ``efficiency.sizes``, its ``lengths_s`` to ``efficiency.lengths_s``
    of its scope).

    Sizes are looked up in ``efficiency.models`` first, then in ``models`` (so ``small`` and ``paper``
    work as in the ASR grid). ``name`` defaults to ``device``.
    """
    eff = dict(params.get("efficiency") or {})
    eff.pop("models", None)
    declared = eff.pop("figures", None) or {}
    values: dict[str, Any] = {k: v for k, v in eff.items() if k in BenchSettings.__dataclass_fields__}
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("sizes", "encoders", "mixers", "scopes", "inject_oom"):
        if key in values:
            values[key] = tuple(values[key])
    scopes = values.get("scopes", SCOPES)
    lengths = values.get("lengths_s", BenchSettings().lengths_s)
    if not isinstance(lengths, dict):  # one list for every scope
        lengths = {scope: lengths for scope in SCOPES}
    if figures is None:
        grid_only = any(overrides.get(key) is not None for key in ("encoders", "mixers", "scopes"))
        figures = [GRID] if grid_only else [GRID, *declared]
    wanted = list(dict.fromkeys(figures))
    unknown = [name for name in wanted if name != GRID and name not in declared]
    if unknown:
        raise ParamsError(f"efficiency.figures: no figure {', '.join(map(repr, unknown))} (declared: {', '.join([GRID, *declared])})")
    values["grid"] = GRID in wanted
    sizes = values.get("sizes", BenchSettings.sizes)
    values["figures"] = tuple(
        _figure_spec(name, declared[name], sizes, overrides.get("sizes") is not None, overrides.get("lengths_s"), lengths)
        for name in wanted if name != GRID
    )
    grid_scopes = scopes if values["grid"] else ()
    missing = [scope for scope in grid_scopes if scope not in lengths]
    if missing:
        raise ParamsError(f"efficiency.lengths_s: no lengths for scope(s) {', '.join(missing)}")
    values["lengths_s"] = {scope: tuple(float(x) for x in lengths[scope]) for scope in scopes if scope in lengths}
    values.setdefault("name", values.get("device", "cpu"))
    features = params.get("features") or {}
    values.setdefault("frame_shift_ms", features.get("frame_shift_ms", 10.0))
    values.setdefault("n_mels", features.get("num_mel_bins", 80))

    bench_models = (params.get("efficiency") or {}).get("models") or {}
    architectures: dict[str, dict[str, dict[str, Any]]] = {}
    for size in dict.fromkeys([*sizes, *(s for fig in values["figures"] for s in fig.sizes)]):
        block = bench_models.get(size) or params.get("models", {}).get(size)
        if block is None:
            raise ParamsError(f"efficiency.sizes: size {size!r} is defined neither under efficiency.models nor under models")
        architectures[size] = block
    settings = BenchSettings(**values, architectures=architectures, mixer_configs=dict(params.get("mixers") or {}))
    check_settings(settings)
    return settings


def _figure_spec(
    name: str, block: dict[str, Any], sizes: Sequence[str], sizes_overridden: bool, lengths: Sequence[float] | None,
    grid_lengths: dict[str, Sequence[float]],
) -> FigureSpec:
    """``efficiency.figures.<name>`` resolved. ``sizes``: the run's sizes, which replace the figure's own
    when given on the command line (``sizes_overridden``) and stand in for them when it has none;
    ``lengths``: the command line's lengths, which replace the figure's own."""
    scope = block.get("scope", "model")
    if isinstance(lengths, dict):  # per scope, as efficiency.lengths_s may be
        lengths = lengths.get(scope)
    if lengths is None:
        lengths = block.get("lengths_s") or grid_lengths.get(scope)
    if not lengths:
        raise ParamsError(f"efficiency.figures.{name}: no lengths_s, and efficiency.lengths_s has none for scope {scope!r}")
    if not sizes_overridden and block.get("sizes"):
        sizes = block["sizes"]
    curves: list[Curve] = []
    for entry in block.get("curves") or []:
        mixers = entry.get("mixers")
        curves += [Curve(entry["encoder"], m) for m in mixers] if mixers else [Curve(entry["encoder"], None)]
    if not curves:
        raise ParamsError(f"efficiency.figures.{name}: no curves")
    if len(set(curves)) != len(curves):
        raise ParamsError(f"efficiency.figures.{name}: a curve is listed twice")
    return FigureSpec(name, scope, tuple(sizes), tuple(curves), tuple(float(x) for x in lengths))


def check_settings(s: BenchSettings) -> None:
    """Cross-checks the schema cannot express; raises ``ParamsError`` naming the key."""
    from ..models.encoders import ENCODERS, MIXERLESS_ENCODERS  # here, not at import: the CLI imports this module without torch
    from ..models.mixers import mixer_type

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ParamsError(f"efficiency: {msg}")

    need(s.device in DEVICES, f"device {s.device!r} is not one of {', '.join(DEVICES)}")
    need(s.precision in PRECISIONS, f"precision {s.precision!r} is not one of {', '.join(PRECISIONS)}")
    need(bool(s.name) and all(c.isalnum() or c in "-_." for c in s.name), f"name {s.name!r}: use letters, digits, - _ .")
    need(s.grid or bool(s.figures), "nothing to run: no grid and no figure")
    for scope in s.scopes:
        need(scope in SCOPES, f"scopes: unknown scope {scope!r} (known: {', '.join(SCOPES)})")
    for encoder in s.encoders:
        need(encoder in ENCODERS, f"encoders: unknown encoder {encoder!r} (known: {', '.join(ENCODERS)})")
    for mixer in s.mixers:
        need(mixer in s.mixer_configs, f"mixers: {mixer!r} is not defined under mixers")
    if s.grid:
        for scope in s.scopes:
            lengths = s.lengths_s.get(scope, ())
            need(len(lengths) > 0 and all(x > 0 for x in lengths), f"lengths_s.{scope}: give at least one positive length")
    for fig in s.figures:
        need(fig.name != GRID and all(c.isalnum() or c in "-_." for c in fig.name),
             f"figures: name {fig.name!r}: use letters, digits, - _ . (and not {GRID!r})")
        need(fig.scope in SCOPES, f"figures.{fig.name}.scope: unknown scope {fig.scope!r} (known: {', '.join(SCOPES)})")
        need(len(fig.lengths_s) > 0 and all(x > 0 for x in fig.lengths_s),
             f"figures.{fig.name}.lengths_s: give at least one positive length")
        for curve in fig.curves:
            need(curve.encoder in ENCODERS, f"figures.{fig.name}: unknown encoder {curve.encoder!r} (known: {', '.join(ENCODERS)})")
            if curve.encoder in MIXERLESS_ENCODERS:
                need(curve.mixer is None, f"figures.{fig.name}: {curve.encoder} takes no token mixer; list it without mixers")
            else:
                need(curve.mixer is not None, f"figures.{fig.name}: {curve.encoder} needs mixers")
    for series in s.series():
        where = "encoders" if series.figure == GRID else f"figures.{series.figure}"
        need(series.size in s.architectures and series.encoder in s.architectures[series.size],
             f"size {series.size!r} has no settings for encoder {series.encoder!r}")
        if series.mixer is None:
            need(series.scope in MIXERLESS_SCOPES, f"{where}: {series.encoder} has no token mixer: it can be timed in "
                 f"scope {', '.join(MIXERLESS_SCOPES)} only, not {series.scope!r}")  # fmt: skip
            continue
        need(series.mixer in s.mixer_configs, f"{where}: mixer {series.mixer!r} is not defined under mixers")
        try:
            mixer_type(s.mixer_configs[series.mixer], series.encoder)
        except ValueError as error:
            raise ParamsError(f"efficiency: {where}: mixer {series.mixer!r}: {error}") from None
    need(s.repeats >= 1 and s.warmup >= 0 and s.batch_size >= 1 and s.threads >= 1, "repeats, batch_size, threads >= 1; warmup >= 0")


def iter_points(settings: BenchSettings) -> Iterator[Point]:
    """Every point, series by series, lengths ascending (so an OOM can skip the longer ones)."""
    for series in settings.series():
        for length_s in sorted(settings.lengths_for(series)):
            yield Point(series, float(length_s), settings)

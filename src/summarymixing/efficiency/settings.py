"""The benchmark's settings (``params.yaml: efficiency``, overridable from the CLI) and its points.

A *series* is one curve of the figure: size x encoder x mixer x scope. A *point* is a series at one
utterance length. Lengths are in seconds of audio: L s = 100 L fbank frames (10 ms shift) = 25 L
encoder frames after the 4x CNN subsampling (40 ms per encoder frame).

Scopes (what one point times), from the widest to the narrowest:
    model    the whole ``AttentionCTCModel`` the DAG trains. Training step: fbank normalisation, CNN
             front-end, encoder, Transformer decoder, CTC + attention (KL-divergence) loss, backward,
             gradient clipping, AdamW step. Inference: normalisation, CNN, encoder, CTC greedy decoding.
    encoder  the encoder alone: input projection + encoder layers on random CNN-sized inputs; training
             step with a mean-square loss on its output, backward and AdamW step. This isolates the token
             mixer's scaling from the linear-cost parts (CNN, decoder, output layers).
    mixer    the encoder's token mixers alone (``worker.MixerStack``): per layer x + mixer(LayerNorm(x)),
             the same mixer modules, input projection and positional encoding, without the FFN,
             convolution or cgMLP modules. The cost of the token mixer itself.

No torch here: the stage module imports this at CLI start-up.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

from ..config import ENCODERS, ParamsError

SCOPES = ("mixer", "encoder", "model")
DEVICES = ("cpu", "cuda")
PRECISIONS = ("fp32", "bf16", "fp16")
ENCODER_FRAMES_PER_SECOND = 25  # 40 ms per encoder frame after 4x subsampling of 10 ms fbank frames

# Loss and optimiser of a training step, as in training.small; the cost of a step does not depend on them.
CTC_WEIGHT = 0.3
LABEL_SMOOTHING = 0.1
LEARNING_RATE = 1e-4
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 5.0


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
    inject_oom: tuple[str, ...] = ()  # tests: "<mixer>@<seconds>" makes that series' training step raise OOM from that length
    architectures: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, compare=False, repr=False)
    mixer_configs: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def series(self) -> list["Series"]:
        """Every curve, in run order (cheap mixers first within a size x encoder x scope)."""
        return [
            Series(size, encoder, mixer, scope)
            for size in self.sizes
            for encoder in self.encoders
            for scope in self.scopes
            for mixer in self.mixers
        ]

    def architecture(self, series: "Series") -> dict[str, Any]:
        """``config.model_config``-style dict: the size's encoder settings, ``encoder`` and ``mixer``."""
        arch = dict(self.architectures[series.size][series.encoder])
        arch["encoder"] = series.encoder
        arch["mixer"] = dict(self.mixer_configs[series.mixer])
        return arch

    def fbank_frames(self, length_s: float) -> int:
        return max(1, round(length_s * 1000.0 / self.frame_shift_ms))

    def tokens(self, length_s: float) -> int:
        return max(1, math.ceil(length_s * self.tokens_per_second))

    def oom_injected(self, mixer: str, length_s: float) -> bool:
        for entry in self.inject_oom:
            name, _, at = entry.partition("@")
            if name == mixer and length_s >= float(at):
                return True
        return False


@dataclass(frozen=True)
class Series:
    """One curve of the figure."""

    size: str
    encoder: str
    mixer: str
    scope: str

    @property
    def label(self) -> str:
        return f"{self.encoder}-{self.mixer}-{self.size} ({self.scope})"


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
        return cls(Series(**d["series"]), d["length_s"], BenchSettings(**s), tuple(d.get("phases", ("train", "infer"))))


def settings_from_params(params: dict[str, Any], **overrides: Any) -> BenchSettings:
    """Resolve ``params['efficiency']`` plus CLI overrides (``None`` = keep) into ``BenchSettings``.

    Sizes are looked up in ``efficiency.models`` first, then in ``models`` (so ``small`` and ``paper``
    work as in the ASR grid). ``name`` defaults to ``device``.
    """
    eff = dict(params.get("efficiency") or {})
    eff.pop("models", None)
    values: dict[str, Any] = {k: v for k, v in eff.items() if k in BenchSettings.__dataclass_fields__}
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("sizes", "encoders", "mixers", "scopes", "inject_oom"):
        if key in values:
            values[key] = tuple(values[key])
    scopes = values.get("scopes", SCOPES)
    lengths = values.get("lengths_s", BenchSettings().lengths_s)
    if not isinstance(lengths, dict):  # one list for every scope
        lengths = {scope: lengths for scope in scopes}
    missing = [scope for scope in scopes if scope not in lengths]
    if missing:
        raise ParamsError(f"efficiency.lengths_s: no lengths for scope(s) {', '.join(missing)}")
    values["lengths_s"] = {scope: tuple(float(x) for x in lengths[scope]) for scope in scopes}
    values.setdefault("name", values.get("device", "cpu"))
    features = params.get("features") or {}
    values.setdefault("frame_shift_ms", features.get("frame_shift_ms", 10.0))
    values.setdefault("n_mels", features.get("num_mel_bins", 80))

    bench_models = (params.get("efficiency") or {}).get("models") or {}
    architectures: dict[str, dict[str, dict[str, Any]]] = {}
    for size in values.get("sizes", BenchSettings.sizes):
        block = bench_models.get(size) or params.get("models", {}).get(size)
        if block is None:
            raise ParamsError(f"efficiency.sizes: size {size!r} is defined neither under efficiency.models nor under models")
        architectures[size] = block
    settings = BenchSettings(**values, architectures=architectures, mixer_configs=dict(params.get("mixers") or {}))
    check_settings(settings)
    return settings


def check_settings(s: BenchSettings) -> None:
    """Cross-checks the schema cannot express; raises ``ParamsError`` naming the key."""

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ParamsError(f"efficiency: {msg}")

    need(s.device in DEVICES, f"device {s.device!r} is not one of {', '.join(DEVICES)}")
    need(s.precision in PRECISIONS, f"precision {s.precision!r} is not one of {', '.join(PRECISIONS)}")
    need(bool(s.name) and all(c.isalnum() or c in "-_." for c in s.name), f"name {s.name!r}: use letters, digits, - _ .")
    for scope in s.scopes:
        need(scope in SCOPES, f"scopes: unknown scope {scope!r} (known: {', '.join(SCOPES)})")
    for encoder in s.encoders:
        need(encoder in ENCODERS, f"encoders: unknown encoder {encoder!r} (known: {', '.join(ENCODERS)})")
    for mixer in s.mixers:
        need(mixer in s.mixer_configs, f"mixers: {mixer!r} is not defined under mixers")
    for size in s.sizes:
        for encoder in s.encoders:
            need(encoder in s.architectures[size], f"size {size!r} has no settings for encoder {encoder!r}")
    for scope in s.scopes:
        lengths = s.lengths_s.get(scope, ())
        need(len(lengths) > 0 and all(x > 0 for x in lengths), f"lengths_s.{scope}: give at least one positive length")
    need(s.repeats >= 1 and s.warmup >= 0 and s.batch_size >= 1 and s.threads >= 1, "repeats, batch_size, threads >= 1; warmup >= 0")


def iter_points(settings: BenchSettings) -> Iterator[Point]:
    """Every point, series by series, lengths ascending (so an OOM can skip the longer ones)."""
    for series in settings.series():
        for length_s in sorted(settings.lengths_s[series.scope]):
            yield Point(series, float(length_s), settings)


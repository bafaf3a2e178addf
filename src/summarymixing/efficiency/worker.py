"""Measure one benchmark point in a fresh process: inference, then one full training step, repeated.

The runner starts one process per point (``runner.py``); this module runs inside it:

1. build the model (``EncoderDecoderModel``, as the DAG trains it) and the synthetic inputs, then take the
   memory baseline: on CPU the resident set size after ``malloc_trim`` (VmRSS), on CUDA
   ``torch.cuda.memory_allocated``. Peak memory is reported *above* that baseline: activations,
   gradients, optimiser state and workspace, not the weights.
2. training step (train mode, dropout on): forward, loss, backward, gradient clipping, AdamW step;
   ``warmup`` untimed runs, then up to ``repeats`` timed runs, stopping early once ``phase_budget_s`` is
   spent (at least one timed run; a warm-up run longer than ``single_run_s`` is kept as the one timed
   run). Peak memory over those steps.
3. inference (``inference_mode``, eval), the same way; not run where the training step ran out of memory.

Timing: CPU ``time.perf_counter``; CUDA events around each run (after a synchronize). Peak memory: CPU
VmHWM from /proc/self/status, reset between phases by writing 5 to /proc/self/clear_refs; CUDA
``reset_peak_memory_stats`` / ``max_memory_allocated``.

Out of memory is a result: on CPU the process is capped with ``RLIMIT_AS`` (its address space after
set-up + ``memory_limit_gib``) so an allocation beyond the cap fails with a RuntimeError instead of taking
the machine down; on CUDA the device memory is the cap. Either way the phase is reported as ``oom``.

Each phase result is sent to the runner as soon as it is known (a dict over a pipe), so a later crash
or a kill by the runner's watchdog does not lose the earlier phase.
"""

from __future__ import annotations

import ctypes
import gc
import math
import os
import re
import resource
import time
import traceback
import warnings
from contextlib import nullcontext
from typing import Any, Callable

import speechbrain as sb
import speechbrain.decoders  # noqa: F401 - imported here so the forkserver preloads them
import speechbrain.nnet.losses  # noqa: F401
import torch

from ..models.seq2seq import EncoderDecoderModel, count_parameters
from ..models.mixers import MIXER_ATTRIBUTES
from .settings import (
    CTC_WEIGHT,
    LABEL_SMOOTHING,
    LEARNING_RATE,
    MAX_GRAD_NORM,
    WEIGHT_DECAY,
    Point,
)

GIB = 2**30
Send = Callable[[dict[str, Any]], None]


# --------------------------------------------------------------------------------------------------
# Memory accounting


def _proc_status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        match = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def release_freed_memory() -> None:
    """Collect garbage and hand the allocator's free memory back to the OS (glibc ``malloc_trim``)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the baseline is then slightly higher, nothing breaks
        pass


class CpuMemory:
    """Peak resident set size above a baseline, from /proc/self/status."""

    def __init__(self) -> None:
        self.can_reset = os.access("/proc/self/clear_refs", os.W_OK)
        self.baseline = 0
        self.cap_bytes = 0

    def set_baseline(self) -> None:
        release_freed_memory()
        self.baseline = _proc_status_kib("VmRSS") * 1024

    def reset_peak(self) -> None:
        """Reset VmHWM to the current RSS (Linux >= 4.0); without it the peak is the process's lifetime peak."""
        release_freed_memory()
        if self.can_reset:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")

    def peak_above_baseline(self) -> float:
        return max(0, _proc_status_kib("VmHWM") * 1024 - self.baseline) / GIB

    def baseline_gib(self) -> float:
        return self.baseline / GIB

    def cap(self, limit_gib: float) -> float:
        """Cap the address space at its current size + ``limit_gib``: larger allocations then fail cleanly."""
        current = _proc_status_kib("VmSize") * 1024
        self.cap_bytes = int(limit_gib * GIB)
        resource.setrlimit(resource.RLIMIT_AS, (current + self.cap_bytes, resource.RLIM_INFINITY))
        return limit_gib

    def reached_cap(self) -> bool:
        """Whether the address space has come within 5 % (at least 64 MiB) of the cap.

        Not every failed allocation says so: oneDNN, failing to allocate its scratchpad under the cap,
        raises "could not create a primitive". Any failure at the cap is counted as out of memory.
        """
        limit, _ = resource.getrlimit(resource.RLIMIT_AS)
        if limit == resource.RLIM_INFINITY:
            return False
        peak = _proc_status_kib("VmPeak") * 1024
        return peak >= limit - max(64 * 2**20, 0.05 * self.cap_bytes)


class CudaMemory:
    """Peak ``memory_allocated`` above a baseline (the caching allocator's own accounting)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.baseline = 0

    def set_baseline(self) -> None:
        gc.collect()
        torch.cuda.synchronize(self.device)
        torch.cuda.empty_cache()
        self.baseline = torch.cuda.memory_allocated(self.device)

    def reset_peak(self) -> None:
        gc.collect()
        torch.cuda.synchronize(self.device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(self.device)

    def peak_above_baseline(self) -> float:
        return max(0, torch.cuda.max_memory_allocated(self.device) - self.baseline) / GIB

    def baseline_gib(self) -> float:
        return self.baseline / GIB

    def reached_cap(self) -> bool:
        return False  # torch.OutOfMemoryError says so itself

    def cap(self, limit_gib: float | None) -> float:
        """The device's memory is the cap; a smaller ``limit_gib`` is enforced as a per-process fraction."""
        total = torch.cuda.get_device_properties(self.device).total_memory
        if limit_gib is not None and limit_gib * GIB < total:
            torch.cuda.set_per_process_memory_fraction(limit_gib * GIB / total, self.device)
            return limit_gib
        return total / GIB


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA OOM, Python MemoryError, or the CPU allocator failing under the address-space cap."""
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text.lower() or "Cannot allocate memory" in text
    )


# --------------------------------------------------------------------------------------------------
# Timing


class CpuTimer:
    def time(self, fn: Callable[[], Any]) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start


class CudaTimer:
    def __init__(self, device: torch.device) -> None:
        self.device = device

    def time(self, fn: Callable[[], Any]) -> float:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(self.device)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize(self.device)
        return start.elapsed_time(end) / 1000.0


def repeat_timed(
    timer: CpuTimer | CudaTimer, fn: Callable[[], Any], warmup: int, repeats: int, budget_s: float, single_run_s: float
) -> tuple[list[float], str]:
    """``warmup`` untimed calls, then up to ``repeats`` timed ones, stopping past ``budget_s`` (>= 1 timed).

    A warm-up call that alone takes ``single_run_s`` or more is kept as the one timed run, so that the
    longest points do not cost twice. Such a run includes the one-time costs a warm-up excludes, mostly
    first-touch page faults on the step's memory, and how much they weigh depends on the model: measured
    here, a SummaryMixing encoder step at 8,000 frames takes 17.5 s cold and 9.9 s warm (its buffers are
    reused from step to step), while an MHSA encoder step at 4,000 frames took 62-71 s cold and 77 s
    warm (its T x T buffers are too large to be kept: every step maps them afresh). The default, 60 s,
    only lets the latter run once.
    Returns the times and a note saying so (empty otherwise).
    """
    for _ in range(warmup):
        elapsed = timer.time(fn)
        if elapsed >= single_run_s:
            return [elapsed], f"one run (the warm-up run took {elapsed:.0f} s)"
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < repeats:
        times.append(timer.time(fn))
        if time.perf_counter() - started >= budget_s:
            break
    return times, ""


# --------------------------------------------------------------------------------------------------
# The measurement


class MixerStack(torch.nn.Module):
    """Scope ``mixer``: the encoder's token mixers alone, ``x + mixer(LayerNorm(x))`` per layer.

    Takes the very mixer modules of a built encoder (and its input projection and positional encoding,
    as the encoder uses them) but none of the FFN, convolution or cgMLP modules: the cost of the token
    mixer itself, the quantity whose scaling in T differs.
    """

    def __init__(self, encoder: torch.nn.Module, d_model: int):
        super().__init__()
        if not hasattr(encoder, "layers") or not hasattr(encoder, "positions"):
            raise ValueError(f"scope 'mixer': {type(encoder).__name__} has no token mixers to time")
        self.input_projection = encoder.input_proj
        self.positions = encoder.positions
        self.positional_encoding = getattr(encoder, "positional_encoding", None)
        self.mixers = torch.nn.ModuleList(
            next(getattr(layer, name) for name in MIXER_ATTRIBUTES if hasattr(layer, name)) for layer in encoder.layers.layers
        )
        self.norms = torch.nn.ModuleList(torch.nn.LayerNorm(d_model) for _ in self.mixers)

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        x = self.input_projection(src)
        pos_embs = None
        if self.positions == "relative":
            pos_embs = self.positional_encoding(x)
        elif self.positions == "absolute":
            x = x + self.positional_encoding(x)
        padding = torch.zeros(x.shape[:2], dtype=torch.bool, device=x.device)  # what the encoder passes at full length
        for norm, mixer in zip(self.norms, self.mixers):
            h = norm(x)
            x = x + mixer(h, h, h, attn_mask=None, key_padding_mask=padding, pos_embs=pos_embs)[0]
        return x


class InjectedOutOfMemory(torch.OutOfMemoryError):
    """Raised by ``--inject-oom`` (tests): exercises the out-of-memory path without using the memory."""


def extend_absolute_positions(model: EncoderDecoderModel, frames: int) -> bool:
    """Lengthen the encoder's sinusoidal position table (absolute positions) to ``frames`` if it is shorter.

    SpeechBrain's ``PositionalEncoding`` precomputes ``max_length`` = 2500 positions (100 s of audio),
    so a regularMHA encoder cannot take longer inputs at all. The same sinusoids, computed further, cost
    the same per frame: the bench extends the table rather than leave the long lengths out.
    """
    from speechbrain.lobes.models.transformer.Transformer import PositionalEncoding

    encoder = model.encoder
    table = getattr(encoder, "positional_encoding", None)
    if getattr(encoder, "positions", None) != "absolute" or not isinstance(table, PositionalEncoding):
        return False
    if table.max_len >= frames:
        return False
    encoder.positional_encoding = PositionalEncoding(table.pe.shape[-1], max_len=frames).to(table.pe.device)
    return True


def scope_parts(model: EncoderDecoderModel, scope: str, d_model: int) -> tuple[torch.nn.Module, Callable[..., torch.Tensor]]:
    """What a training step of ``scope`` updates, and its forward on CNN-output-sized input ``(x, rel_lens)``.

    ``model``: the whole model (its forward is ``model`` itself, called in ``measure_point``);
    ``encoder``: input projection + encoder layers; ``mixer``: ``MixerStack``.
    """
    from ..models.encoders import padding_mask

    if scope == "model":
        return model, model.encode
    encoder = model.encoder
    if not hasattr(encoder, "forward_layers"):
        raise ValueError(f"scope {scope!r}: the {type(encoder).__name__} has no separate front-end; time it in scope 'model'")
    if scope == "encoder":

        def encode(x: torch.Tensor, rel_lens: torch.Tensor) -> torch.Tensor:
            h = encoder.input_proj(x)
            return encoder.forward_layers(h, padding_mask(h, rel_lens))

        return torch.nn.ModuleList([encoder.input_proj, encoder.layers]), encode
    stack = MixerStack(encoder, d_model).to(next(model.parameters()).device)
    return stack, lambda x, rel_lens: stack(x)


def measure_point(point: Point, send: Send) -> None:
    """Measure ``point`` and ``send`` one dict per event: ``setup``, then ``phase`` for infer and train."""
    s, series = point.settings, point.series
    warnings.filterwarnings("ignore", message="Support for mismatched key_padding_mask")  # torch MHA, every call
    torch.set_num_threads(s.threads)
    torch.manual_seed(s.seed)
    device = torch.device(s.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
        torch.backends.cudnn.allow_tf32 = False
    memory = CudaMemory(device) if device.type == "cuda" else CpuMemory()
    timer = CudaTimer(device) if device.type == "cuda" else CpuTimer()
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(s.precision)
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype else nullcontext

    arch = s.architecture(series)
    model = EncoderDecoderModel(arch, n_tokens=s.vocab_size, n_mels=s.n_mels).to(device)
    encoder_frames_needed = s.fbank_frames(point.length_s) // 4 + 1
    extended = extend_absolute_positions(model, encoder_frames_needed)
    timed, encode = scope_parts(model, series.scope, arch["d_model"])
    optimizer = torch.optim.AdamW(timed.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    B, T = s.batch_size, s.fbank_frames(point.length_s)
    n_tok = s.tokens(point.length_s)
    feats = torch.randn(B, T, s.n_mels, device=device)
    rel_lens = torch.ones(B, device=device)
    tokens = torch.randint(1, s.vocab_size, (B, n_tok), device=device)
    zeros = torch.zeros(B, 1, dtype=torch.long, device=device)
    tokens_bos, tokens_eos = torch.cat([zeros, tokens], 1), torch.cat([tokens, zeros], 1)
    token_rel_lens = torch.ones(B, device=device)
    with torch.no_grad():
        model.train()
        model.normalize(feats, rel_lens, epoch=0)  # global mean/variance statistics, as a trained model has
        if hasattr(model.encoder, "cnn"):
            cnn_out = model.encoder.cnn(feats[:1])  # its size is the encoder-scope input
            encoder_frames = cnn_out.shape[1]
            encoder_in = torch.randn(B, encoder_frames, math.prod(cnn_out.shape[2:]), device=device)
            del cnn_out
        else:  # an encoder that subsamples by itself (ContextNet): timed in scope model only, on feats
            encoder_frames = math.ceil(T / getattr(model.encoder, "subsampling", 1))
            encoder_in = feats
    inject = s.oom_injected(series.curve.name, point.length_s)

    def infer() -> None:
        with torch.inference_mode(), autocast():
            if series.scope == "model":
                enc = model.encode(feats, rel_lens)
                log_probs = model.ctc_lin(enc).log_softmax(-1)
                sb.decoders.ctc_greedy_decode(log_probs, rel_lens, blank_id=0)  # returns Python lists: synchronises
            else:
                encode(encoder_in, rel_lens).sum().item()

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            if series.scope == "model":
                _, p_ctc, p_seq = model(feats, rel_lens, tokens_bos)
                loss_ctc = sb.nnet.losses.ctc_loss(p_ctc.float(), tokens, rel_lens, token_rel_lens, blank_index=0, reduction="batchmean")
                loss_att = sb.nnet.losses.kldiv_loss(
                    p_seq.float(), tokens_eos, length=token_rel_lens, label_smoothing=LABEL_SMOOTHING, reduction="batchmean"
                )
                loss = CTC_WEIGHT * loss_ctc + (1 - CTC_WEIGHT) * loss_att
            else:
                loss = encode(encoder_in, rel_lens).float().pow(2).mean()
        if inject:
            raise InjectedOutOfMemory(f"injected out-of-memory at {point.length_s:g} s (--inject-oom)")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(timed.parameters(), MAX_GRAD_NORM)
        optimizer.step()

    memory.set_baseline()
    cap_gib = memory.cap(s.cuda_memory_limit_gib if device.type == "cuda" else s.memory_limit_gib)
    send(
        {
            "event": "setup",
            "params_m": count_parameters(timed) / 1e6,
            "fbank_frames": T,
            "encoder_frames": encoder_frames,
            "tokens": n_tok,
            "baseline_gib": memory.baseline_gib(),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
            "torch_version": torch.__version__,
            "clear_refs": getattr(memory, "can_reset", True),
            "cap_gib": cap_gib,
            "note": "absolute position table extended beyond SpeechBrain's 2500 frames" if extended else "",
        }
    )

    train_status = None
    for phase, mode, fn in (("train", True, train_step), ("infer", False, infer)):
        if phase not in point.phases:
            continue
        result: dict[str, Any] = {"event": "phase", "phase": phase}
        if phase == "infer" and train_status == "oom":
            result.update(status="skipped", note="not run: the training step ran out of memory at this length")
            send(result)
            continue
        model.train(mode)
        timed.train(mode)  # (MixerStack's own LayerNorms)
        memory.reset_peak()
        try:
            times, note = repeat_timed(timer, fn, s.warmup, s.repeats, s.phase_budget_s, s.single_run_s)
            result.update(status="ok", times=times, peak_gib=memory.peak_above_baseline(), note=note)
        except Exception as error:  # noqa: BLE001 - every failure becomes a recorded result
            oom = is_out_of_memory(error) or (isinstance(error, RuntimeError) and memory.reached_cap())
            result.update(status="oom" if oom else "error", note=f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
            if not oom:
                result["traceback"] = traceback.format_exc()
            del error
        if phase == "train":
            train_status = result["status"]
            optimizer.zero_grad(set_to_none=True)
            optimizer.state.clear()  # inference's peak is then measured against the same baseline
        if device.type == "cuda":
            torch.cuda.empty_cache()
        send(result)


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (``unknown CPU`` if not Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def child_main(point_dict: dict[str, Any], conn: Any) -> None:
    """Entry point of the per-point process (``multiprocessing`` target): results go to ``conn``."""
    try:
        measure_point(Point.from_dict(point_dict), conn.send)
    except Exception as error:  # noqa: BLE001 - set-up failure: report it, the runner records it
        conn.send({"event": "error", "status": "oom" if is_out_of_memory(error) else "error",
                   "note": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}", "traceback": traceback.format_exc()})
    finally:
        conn.close()

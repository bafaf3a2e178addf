"""The efficiency benchmark: scaling by FLOP counting (no timing), the settings (the grid and the explicit
figures, Figure 2's mixer-less ContextNet included), the bench end to end on tiny models, the
out-of-memory path, the report's arithmetic, and the DAG rule."""

from __future__ import annotations

import argparse
import copy
import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from summarymixing.config import ParamsError, load_params
from summarymixing.efficiency import report, runner
from summarymixing.efficiency.worker import scope_parts
from summarymixing.efficiency.settings import GRID, Curve, Point, Series, iter_points, settings_from_params
from summarymixing.models.seq2seq import EncoderDecoderModel
from summarymixing.models.summary_mixing import SummaryMixing
from summarymixing.stages import bench

REPO = Path(__file__).resolve().parents[1]
PARAMS = REPO / "params.yaml"


# --------------------------------------------------------------------------------------------------
# Scaling, counted in FLOPs (no timing)


def flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def tiny_arch(mixer: str, encoder: str = "conformer") -> dict:
    params = load_params(PARAMS)
    return {**bench.QUICK_ARCHITECTURE, "encoder": encoder, "mixer": params["mixers"][mixer]}


@pytest.mark.parametrize("mode", ["SummaryMixing", "SummaryMixing-lite", "SummaryMixing-fast"])
def test_summary_mixing_flops_double_when_t_doubles(mode):
    module = SummaryMixing(32, nhead=4, mode=mode)
    counts = [flops(lambda T=T: module(torch.randn(1, T, 32))[0].sum().backward()) for T in (256, 512)]
    assert counts[1] / counts[0] == pytest.approx(2.0, rel=0.02)


def test_speechbrain_attention_flops_grow_faster_than_3x():
    from speechbrain.nnet.attention import MultiheadAttention, RelPosEncXL, RelPosMHAXL

    d = 32
    relpos, mha, pos = RelPosMHAXL(d, 4), MultiheadAttention(4, d), RelPosEncXL(d)
    for name, call in (
        ("RelPosMHAXL", lambda x: relpos(x, x, x, pos_embs=pos(x))[0]),
        ("MultiheadAttention", lambda x: mha(x, x, x)[0]),
    ):
        counts = [flops(lambda T=T: call(torch.randn(1, T, d)).sum().backward()) for T in (256, 512)]
        assert counts[1] / counts[0] > 3.0, name


@pytest.mark.parametrize("encoder", ["conformer", "branchformer"])
def test_encoder_training_step_flops_linear_for_summary_mixing_superlinear_for_mhsa(encoder):
    """The whole encoder (FFN, convolution, mixer), forward and backward: linear in T only with SummaryMixing."""
    ratios = {}
    for mixer in ("mhsa", "mha", "summarymixing", "summarymixing_lite", "summarymixing_fast"):
        torch.manual_seed(0)
        model = EncoderDecoderModel(tiny_arch(mixer, encoder), n_tokens=16)
        counts = []
        for T in (512, 1024):
            x = torch.randn(1, T, 640)
            _, encode = scope_parts(model, "encoder", 32)
            counts.append(flops(lambda: encode(x, torch.ones(1)).sum().backward()))
        ratios[mixer] = counts[1] / counts[0]
    for mixer in ("summarymixing", "summarymixing_lite", "summarymixing_fast"):
        assert ratios[mixer] == pytest.approx(2.0, rel=0.02), ratios
    assert ratios["mhsa"] > 3.0 and ratios["mha"] > 3.0, ratios


class QuadraticTensorProbe(TorchDispatchMode):
    """Records every shape an op produces with two or more dimensions of size >= T (a T x T-like tensor)."""

    def __init__(self, T: int):
        super().__init__()
        self.T, self.found = T, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and sum(d >= self.T for d in t.shape) >= 2:
                self.found.append((str(func), tuple(t.shape)))
        return out


@pytest.mark.parametrize("mixer,quadratic", [("summarymixing", False), ("summarymixing_fast", False), ("mhsa", True)])
def test_no_t_by_t_tensor_on_the_summary_mixing_path(mixer, quadratic):
    """No op of a SummaryMixing encoder's training step makes a T x T tensor (the detector finds MHSA's)."""
    T = 1000  # longer than every per-frame width (640 input features), so only a T x T tensor has two dims >= T
    model = EncoderDecoderModel(tiny_arch(mixer), n_tokens=16)
    x = torch.randn(1, T, 640)
    with QuadraticTensorProbe(T) as probe:
        scope_parts(model, "encoder", 32)[1](x, torch.ones(1)).sum().backward()
    assert bool(probe.found) == quadratic, probe.found[:5]


# --------------------------------------------------------------------------------------------------
# Settings


def test_settings_from_params_defaults_and_sizes():
    params = load_params(PARAMS)
    s = settings_from_params(params)
    assert s.name == s.device == params["efficiency"]["device"]
    assert s.architectures["bench"]["conformer"]["d_model"] == 256
    # sizes of the ASR grid resolve too
    s = settings_from_params(params, sizes=["small", "paper"], encoders=["conformer", "branchformer"])
    assert s.architecture(Series("paper", "branchformer", "mhsa", "model"))["num_encoder_layers"] == 18
    points = list(iter_points(s))
    assert len(points) == 2 * 2 * len(s.mixers) * sum(len(s.lengths_s[scope]) for scope in s.scopes)
    assert settings_from_params(params, lengths_s=[3, 1]).lengths_s == {scope: (3.0, 1.0) for scope in s.scopes}
    with pytest.raises(ParamsError, match="mixers"):
        settings_from_params(params, mixers=["nope"])
    with pytest.raises(ParamsError, match="size"):
        settings_from_params(params, sizes=["huge"])


FIGURE2 = (Curve("branchformer", "mhsa"), Curve("branchformer", "summarymixing"), Curve("branchformer", "summarymixing_lite"),
           Curve("branchformer", "fastformer"), Curve("contextnet", None))  # fmt: skip


def test_settings_resolve_figure2_next_to_the_grid():
    s = settings_from_params(load_params(PARAMS))
    # the grid as before: the Conformer's targets in scope encoder, and scope model
    grid = [x for x in s.series() if x.figure == GRID]
    assert {(x.encoder, x.scope) for x in grid} == {("conformer", "encoder"), ("conformer", "model")}
    assert {x.mixer for x in grid} == {"mhsa", "mha", "summarymixing", "summarymixing_lite"}
    assert s.lengths_s["encoder"] == (20.0, 40.0, 160.0, 320.0)
    # Figure 2: the Branchformer's four mixers and the mixer-less ContextNet, one set in scope model
    fig = s.figure("figure2")
    assert fig is not None and fig.scope == "model" and fig.curves == FIGURE2
    figure2 = [x for x in s.series() if x.figure == "figure2"]
    assert [x.curve for x in figure2] == list(FIGURE2) and {x.scope for x in figure2} == {"model"}
    contextnet = figure2[-1]
    assert contextnet.mixer is None and contextnet.curve.name == "contextnet" and contextnet.label == "contextnet-bench (figure2, model)"
    arch = s.architecture(contextnet)
    assert arch["encoder"] == "contextnet" and arch["mixer"] is None and arch["d_model"] == 256
    assert s.architecture(figure2[3])["mixer"]["type"] == "fastformer"
    assert [p.length_s for p in iter_points(s) if p.series == contextnet] == sorted(fig.lengths_s)
    # settings travel into the worker process and back
    point = next(p for p in iter_points(s) if p.series == contextnet)
    assert Point.from_dict(point.to_dict()) == point


def test_settings_select_sets_and_reject_what_cannot_be_timed():
    params = load_params(PARAMS)
    only = settings_from_params(params, figures=["figure2"])
    assert not only.grid and {x.figure for x in only.series()} == {"figure2"} and len(only.series()) == 5
    assert {x.figure for x in settings_from_params(params, figures=["grid"]).series()} == {GRID}
    # options that describe the grid ask for the grid alone
    assert {x.figure for x in settings_from_params(params, mixers=["summarymixing"]).series()} == {GRID}
    # sizes and lengths from the command line apply to the figures too
    s = settings_from_params(params, figures=["figure2"], sizes=["small"], lengths_s=[2, 4])
    assert s.figure("figure2").sizes == ("small",) and s.figure("figure2").lengths_s == (2.0, 4.0)
    assert s.architecture(Series("small", "contextnet", None, "model", "figure2"))["stride_blocks"] == [0, 1]
    with pytest.raises(ParamsError, match="no figure 'nope'"):
        settings_from_params(params, figures=["nope"])
    with pytest.raises(ParamsError, match="scope model only"):
        settings_from_params(params, encoders=["contextnet"], scopes=["encoder"])
    broken = copy.deepcopy(params)
    broken["efficiency"]["figures"]["figure2"]["curves"][1]["mixers"] = ["mhsa"]
    with pytest.raises(ParamsError, match="contextnet takes no token mixer"):
        settings_from_params(broken)
    broken = copy.deepcopy(params)
    broken["efficiency"]["figures"]["figure2"]["scope"] = "encoder"
    with pytest.raises(ParamsError, match="scope model only"):
        settings_from_params(broken)
    broken = copy.deepcopy(params)
    broken["efficiency"]["figures"]["figure2"]["curves"][0]["mixers"] = ["cnnonly"]
    broken["efficiency"]["figures"]["figure2"]["curves"][0]["encoder"] = "conformer"
    with pytest.raises(ParamsError, match="cnnonly"):
        settings_from_params(broken)


def test_quick_settings_shrink_the_figures():
    args = bench.with_option_defaults(argparse.Namespace(quick=True, figures=["figure2"]))
    s = bench.resolve_settings(args, load_params(PARAMS))
    assert s.name == "cpu-quick" and not s.grid
    assert s.figure("figure2").sizes == (bench.QUICK_SIZE,) and s.figure("figure2").lengths_s == (1.0, 2.0)
    assert s.architecture(Series(bench.QUICK_SIZE, "contextnet", None, "model", "figure2"))["d_model"] == 32


def test_frames_and_tokens():
    s = settings_from_params(load_params(PARAMS))
    assert s.fbank_frames(160) == 16000  # 10 ms frames; 4,000 encoder frames after 4x subsampling
    assert s.tokens(1) >= 1 and s.tokens(100) == math.ceil(100 * s.tokens_per_second)


def test_output_names():
    assert bench.csv_path("cpu") == Path("reports/efficiency/cpu.csv")
    assert bench.figure_path("cpu") == Path("reports/figures/efficiency_cpu.png")
    assert bench.table_path("cpu", dag_name="cpu") == Path("reports/tables/efficiency.md")
    assert bench.table_path("cuda-h100", dag_name="cpu") == Path("reports/efficiency/cuda-h100.md")


def test_stage_module_does_not_import_torch():
    code = "import sys, summarymixing.stages.bench; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------------------
# The bench end to end, on a tiny model


def run_bench(tmp_path: Path, monkeypatch, *argv: str) -> None:
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    parser.add_argument("--params", default=str(PARAMS))
    parser.add_argument("-v", "--verbose", action="store_true")
    bench.add_arguments(parser)
    bench.run(parser.parse_args(list(argv)))


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == runner.CSV_COLUMNS
        return list(reader)


def test_bench_quick_writes_csv_figure_table_and_records_oom(tmp_path, monkeypatch):
    # mhsa's training step fails with out-of-memory from 2 s on (injected): recorded, and the run goes on.
    run_bench(tmp_path, monkeypatch, "--quick", "--mixers", "mhsa", "summarymixing", "--scopes", "mixer", "encoder", "model",
              "--inject-oom", "mhsa@2")  # fmt: skip
    rows = read_rows(tmp_path / "reports/efficiency/cpu-quick.csv")  # --quick never overwrites the DAG's outputs
    assert len(rows) == 3 * 2 * 2  # scopes x mixers x lengths
    by_key = {(r["scope"], r["mixer"], float(r["length_s"])): r for r in rows}
    for scope in ("mixer", "encoder", "model"):
        for mixer in ("mhsa", "summarymixing"):
            r = by_key[(scope, mixer, 1.0)]
            assert r["infer_status"] == r["train_status"] == "ok", r
            assert float(r["train_median_s"]) > 0 and float(r["rtf_median"]) > 0 and float(r["train_peak_gib"]) >= 0
            assert int(r["encoder_frames"]) == 25 and int(r["fbank_frames"]) == 100
        oom = by_key[(scope, "mhsa", 2.0)]
        assert oom["train_status"] == "oom" and "injected" in oom["note"]
        assert oom["infer_status"] == "skipped"  # not run where training ran out of memory
        assert by_key[(scope, "summarymixing", 2.0)]["train_status"] == "ok"  # the run went on

    png = tmp_path / "reports/figures/efficiency_cpu-quick.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    assert matplotlib.image.imread(png).shape[0] > 100
    assert not (tmp_path / "reports/tables/efficiency.md").exists()  # the DAG's table: only its own run writes it
    table = (tmp_path / "reports/efficiency/cpu-quick.md").read_text()
    assert "OOM at 16 GiB" in table
    assert "Scaling exponents" in table and "READ OFF THE PLOT" in table
    assert "`summarymixing" in table and "git commit" in table

    # redraw from the CSV alone
    (tmp_path / "reports/efficiency/cpu-quick.md").unlink()
    run_bench(tmp_path, monkeypatch, "--quick", "--mixers", "mhsa", "summarymixing", "--scopes", "mixer", "encoder", "model",
              "--from-csv", "reports/efficiency/cpu-quick.csv")  # fmt: skip
    assert "OOM at 16 GiB" in (tmp_path / "reports/efficiency/cpu-quick.md").read_text()


def test_bench_quick_figure2_writes_five_curves_in_one_group(tmp_path, monkeypatch):
    # Figure 2 on tiny models; the mixer-less ContextNet runs out of memory from 2 s on (injected)
    run_bench(tmp_path, monkeypatch, "--quick", "--figures", "figure2", "--inject-oom", "contextnet@2")
    rows = read_rows(tmp_path / "reports/efficiency/cpu-quick.csv")
    assert len(rows) == 5 * 2 and {r["figure"] for r in rows} == {"figure2"} and {r["scope"] for r in rows} == {"model"}
    assert [Curve(r["encoder"], r["mixer"] or None) for r in rows[::2]] == list(FIGURE2)
    by_key = {(r["encoder"], r["mixer"], float(r["length_s"])): r for r in rows}
    for curve in FIGURE2:
        r = by_key[(curve.encoder, curve.mixer or "", 1.0)]
        assert r["train_status"] == r["infer_status"] == "ok", r
        assert float(r["train_median_s"]) > 0 and float(r["rtf_median"]) > 0 and float(r["params_m"]) > 0
    assert int(by_key[("contextnet", "", 1.0)]["encoder_frames"]) == 25  # the tiny ContextNet subsamples 4x
    oom = by_key[("contextnet", "", 2.0)]
    assert oom["train_status"] == "oom" and oom["infer_status"] == "skipped" and "injected" in oom["note"]

    table = (tmp_path / "reports/efficiency/cpu-quick.md").read_text()
    sections = [line for line in table.splitlines() if line.startswith("## ")]
    assert sections[0] == "## figure2: branchformer, contextnet `tiny`, scope `model`"
    assert not any(line.startswith("## conformer") for line in sections) and "## Targets" not in table
    group = table.split(sections[0])[1].split("\n## ")[0]
    assert group.count("| length s | mhsa | summarymixing | summarymixing_lite | fastformer | contextnet |") == 3
    assert "### Ratios to summarymixing" in group and "| contextnet | 2 | 50 | OOM at 16 GiB |" in group
    assert "| contextnet | 1 | 25 |" in group and "Scaling exponents" in group
    assert "ContextNet" in table and "FastFormer" in table  # the paper's read-off curves
    assert (tmp_path / "reports/figures/efficiency_cpu-quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_real_allocation_failure_under_the_cap_is_recorded_not_raised():
    """With a cap far below what a training step needs, the allocator fails and the point reads ``oom``."""
    params = load_params(PARAMS)
    args = argparse.Namespace(**{k: None for k in ("device", "name", "sizes", "encoders", "mixers", "scopes", "lengths_s",
                                                   "threads", "precision", "batch_size", "warmup", "repeats",
                                                   "phase_budget_s", "point_timeout_s", "memory_limit_gib")},
                              quick=True, inject_oom=None)  # fmt: skip
    args.memory_limit_gib = 0.01
    settings = bench.resolve_settings(args, params)
    # 2,000 frames: every attention score tensor alone is 2 heads x 2000 x 3999 floats = 61 MiB
    point = Point(Series("tiny", "conformer", "mhsa", "encoder"), 80.0, settings)
    row = runner.row_for(point, runner.run_point(point), {})
    assert row["train_status"] == "oom", row["note"]
    assert row["infer_status"] == "skipped"
    assert "OOM at 0.01 GiB" in report._phase_cell(row, "train", "train_median_s", "{:.3g}")


def fake_worker(train_oom_from: float, infer_timeout_from: float, ran: list):
    """A ``run_point`` stand-in: training runs out of memory, inference times out, from given lengths."""

    def run_point(point, ctx=None):
        ran.append((point.length_s, point.phases))
        events = [{"event": "setup", "baseline_gib": 0.5, "cap_gib": 16}]
        train_oom = point.length_s >= train_oom_from
        for phase in point.phases:
            if phase == "train":
                result = {"status": "oom", "note": "x"} if train_oom else {"status": "ok", "times": [1.0], "peak_gib": 1.0}
            elif train_oom and "train" in point.phases:
                result = {"status": "skipped", "note": "not run"}
            elif point.length_s >= infer_timeout_from:
                return runner.PointResult(events=events, killed="timeout")
            else:
                result = {"status": "ok", "times": [0.5], "peak_gib": 0.1}
            events.append({"event": "phase", "phase": phase, **result})
        return runner.PointResult(events=events)

    return run_point


def run_fake(monkeypatch, lengths, **kw):
    settings = settings_from_params(load_params(PARAMS), mixers=["mhsa"], scopes=["mixer"], lengths_s=lengths)
    ran: list = []
    monkeypatch.setattr(runner, "run_point", fake_worker(ran=ran, **kw))
    monkeypatch.setattr(runner, "_context", lambda: None)
    return runner.run_all(settings), ran


def test_phases_are_not_run_past_their_first_oom_or_timeout(monkeypatch):
    rows, ran = run_fake(monkeypatch, [1, 2, 3, 4], train_oom_from=3, infer_timeout_from=2)
    assert ran == [(1.0, ("train", "infer")), (2.0, ("train", "infer")), (3.0, ("train",))]  # 4 s: not run at all
    assert [r["train_status"] for r in rows] == ["ok", "ok", "oom", "oom"]
    assert [r["infer_status"] for r in rows] == ["ok", "timeout", "timeout", "timeout"]
    assert "train not run: oom at 3 s" in rows[3]["note"] and "infer not run: timeout at 2 s" in rows[3]["note"]


def test_inference_is_skipped_where_training_ran_out_of_memory(monkeypatch):
    rows, ran = run_fake(monkeypatch, [1, 2, 3], train_oom_from=2, infer_timeout_from=99)
    assert ran == [(1.0, ("train", "infer")), (2.0, ("train", "infer"))]
    assert [(r["train_status"], r["infer_status"]) for r in rows] == [("ok", "ok"), ("oom", "skipped"), ("oom", "skipped")]
    assert "infer not run: training ran out of memory at 2 s" in rows[2]["note"]


def test_a_point_shared_by_the_grid_and_a_figure_is_measured_once(monkeypatch):
    params = load_params(PARAMS)
    params["efficiency"]["figures"] = {"same": {"scope": "mixer", "curves": [{"encoder": "conformer", "mixers": ["mhsa"]}]}}
    settings = settings_from_params(params, figures=["grid", "same"], mixers=["mhsa"], scopes=["mixer"], lengths_s=[1, 2, 3])
    ran: list = []
    monkeypatch.setattr(runner, "run_point", fake_worker(train_oom_from=3, infer_timeout_from=99, ran=ran))
    monkeypatch.setattr(runner, "_context", lambda: None)
    rows = runner.run_all(settings)
    assert [length for length, _ in ran] == [1.0, 2.0, 3.0]
    assert [(r["figure"], r["train_status"]) for r in rows] == [
        ("grid", "ok"), ("grid", "ok"), ("grid", "oom"), ("same", "ok"), ("same", "ok"), ("same", "oom")]
    assert "measured once, for grid" in rows[4]["note"]


# --------------------------------------------------------------------------------------------------
# Report arithmetic


def test_fit_exponent():
    xs = [20, 40, 80, 160]
    assert report.fit_exponent(xs, [3 * x**2 for x in xs]) == pytest.approx(2.0)
    assert report.fit_exponent(xs, [0.1 * x for x in xs]) == pytest.approx(1.0)
    assert math.isnan(report.fit_exponent([20], [1.0]))


def synthetic_rows() -> list[dict]:
    """A Conformer where mhsa costs T^2 and runs out of memory at 320 s, and summarymixing costs T."""
    rows = []
    # at 4,000 frames: time mhsa/sm = 2e-3 * 8 / 1e-3 = 16, mha/sm = 2e-4 * 8 / 1e-3 = 1.6; memory mhsa/sm = 8
    for mixer, time_per_frame, mem_per_frame in (("mhsa", 2e-3, 2e-4), ("mha", 2e-4, 1e-4), ("summarymixing", 1e-3, 2e-4)):
        for length in (20, 40, 80, 160, 320):
            frames = 25 * length
            quadratic = mixer != "summarymixing"
            t = time_per_frame * frames * (frames / 500 if quadratic else 1)
            m = mem_per_frame * frames * (frames / 500 if quadratic else 1)
            oom = mixer == "mhsa" and length == 320
            rows.append({
                "device": "cpu", "size": "bench", "encoder": "conformer", "mixer": mixer, "scope": "encoder",
                "length_s": length, "encoder_frames": frames, "mem_limit_gib": 16, "baseline_gib": 0.5,
                "train_status": "oom" if oom else "ok", "train_median_s": t, "train_min_s": t, "train_peak_gib": m,
                "infer_status": "ok", "infer_median_s": t / 3, "rtf_median": t / 3 / length,
            })  # fmt: skip
    return rows


def test_exponents_and_targets_on_synthetic_rows():
    rows = synthetic_rows()
    group = report.Group("bench", "conformer", "encoder")
    assert report.exponents(rows, group, "summarymixing", 20)["train_time"] == pytest.approx(1.0)
    e = report.exponents(rows, group, "mhsa", 20)
    assert e["train_time"] == pytest.approx(2.0) and e["train_time_range"] == (20, 160)  # the OOM point is left out
    verdicts = [verdict for _, _, verdict in report.targets(rows, group, "summarymixing")]
    # mhsa time >= 10x, mha time >= 4x (1.6x: FAIL), flat per-frame time, memory >= 2.5x, 8,000 frames
    assert verdicts == ["PASS", "FAIL", "PASS", "PASS", "PASS"]


def test_table_marks_oom_and_ratios():
    settings = settings_from_params(load_params(PARAMS), mixers=["mhsa", "mha", "summarymixing"], scopes=["encoder"])
    text = report.render_table(synthetic_rows(), settings, {"command": "`summarymixing bench`"})
    assert "OOM at 16 GiB" in text
    assert "| 160 | 4000 |" in text  # ratio row at 4,000 frames


def figure_rows() -> list[dict]:
    """Figure 2's five curves in one figure set: mhsa costs T^2, the others T; ContextNet has no mixer."""
    rows = []
    for encoder, mixer, scale, quadratic in (("branchformer", "mhsa", 1.0, True), ("branchformer", "summarymixing", 1.0, False),
                                             ("branchformer", "summarymixing_lite", 0.8, False),
                                             ("branchformer", "fastformer", 1.0, False), ("contextnet", "", 1.5, False)):  # fmt: skip
        for length in (10, 20, 40):
            t = scale * 1e-2 * length * (length / 10 if quadratic else 1)
            rows.append({"figure": "figure2", "device": "cpu", "size": "bench", "encoder": encoder, "mixer": mixer,
                         "scope": "model", "length_s": length, "encoder_frames": 25 * length // (2 if encoder == "contextnet" else 1),
                         "mem_limit_gib": 16, "baseline_gib": 0.5, "train_status": "ok", "train_median_s": t, "train_min_s": t,
                         "train_peak_gib": t, "infer_status": "ok", "infer_median_s": t / 4, "rtf_median": t / 4 / length})  # fmt: skip
    return rows


def test_figure_group_holds_curves_of_several_encoders():
    rows = figure_rows() + synthetic_rows()  # beside the grid's rows (no figure column: CSVs written before figures)
    groups = report._groups(rows)
    assert groups == [report.Group("bench", None, "model", "figure2"), report.Group("bench", "conformer", "encoder")]
    curves = report._curves(rows, groups[0])
    assert [report.curve_label(c, curves) for c in curves] == ["mhsa", "summarymixing", "summarymixing_lite", "fastformer", "contextnet"]
    assert report.curve_label(Curve("conformer", "mhsa"), [Curve("conformer", "mhsa"), Curve("branchformer", "mhsa")]) == "conformer mhsa"
    assert report.exponents(rows, groups[0], Curve("branchformer", "mhsa"), 10)["train_time"] == pytest.approx(2.0)
    assert report.exponents(rows, groups[0], Curve("contextnet"), 10)["train_time"] == pytest.approx(1.0)
    settings = settings_from_params(load_params(PARAMS))
    text = report.render_table(rows, settings, {"command": "`summarymixing bench`"})
    section = text.split("## figure2: branchformer, contextnet `bench`, scope `model`")[1].split("\n## ")[0]
    assert "| contextnet | 40 | 500 | 1.50 | 1.50 | 1.50 |" in section  # ratios to summarymixing, its own frames
    assert "| mhsa | 40 | 1000 | 4.00 |" in section
    assert "| contextnet | 1.00 (10-40 s) |" in section
    assert "## Targets of the issue" in text and "## conformer `bench`, scope `encoder`" in text
    assert "### Self-attention / summarymixing ratios" in text  # the grid's groups keep their own ratio table


# --------------------------------------------------------------------------------------------------
# The DAG


def test_the_dag_declares_what_the_bench_writes():
    from summarymixing import dag

    params = load_params(PARAMS)
    (job,) = [j for j in dag.plan(params) if j.stage == "efficiency"]
    name = params["efficiency"]["device"]
    assert job.cmd == "summarymixing bench"
    assert set(job.reports) == {str(bench.csv_path(name)), str(bench.figure_path(name)), str(bench.TABLE)}
    assert "src/summarymixing/efficiency/worker.py" in job.code and "efficiency" in job.params

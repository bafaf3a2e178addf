"""The DAG, planned once from params.yaml, for both orchestrators.

``plan(params)`` lists every job: its stage, its key (the Snakemake wildcards), its command, the data
it reads, the code it runs, the params it depends on and what it writes. The Snakefile's rules look
their inputs, params and commands up here (``workflow/rules/common.smk``), and ``dvc.yaml`` is
generated from the same list (``summarymixing dvc-yaml``; a test fails when the committed file is
stale), so the two orchestrators cannot drift apart.

A job reruns only when what it reads changes:

* data: a split's manifests, features and tokenizer are separate jobs, so a model depends on its
  training and validation splits only (adding a test split decodes again, it does not retrain), and a
  split on the archives it is made from only (``SPLITS`` of the corpus recipe);
* params: each job tracks the keys its command reads (a dataset's description or a replica's worker
  count is read by no job);
* code: the import closure of the stage's module, of the task, corpus and replica modules it loads by
  name, computed from the source (``code_closure``), not listed by hand. The command-line dispatcher
  (``cli.py``) is shared plumbing and is not tracked.

Only the datasets some experiment uses are planned: both orchestrators fetch the same corpora.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from . import paths
from .config import (
    Experiment,
    ParamsError,
    dataset_config,
    experiments,
    existing_keys,
    grid_models,
    tables,
)

PACKAGE = "summarymixing"
PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIR.parent  # src/
REPO_ROOT = SOURCE_ROOT.parent


@dataclass
class Job:
    stage: str
    key: dict[str, str]  # the Snakemake wildcards of the job
    cmd: str
    deps: list[str]  # data the job reads (paths relative to the repository root)
    code: list[str]  # source files the job runs (relative to the repository root)
    params: list[str]  # dotted params.yaml keys the job depends on
    outs: list[str]  # what it writes, cached by DVC
    metrics: list[str] = field(default_factory=list)  # small JSON outputs, kept out of DVC's cache
    reports: list[str] = field(default_factory=list)  # committed outputs (reports/), kept out of the cache
    threads: int = 1

    @property
    def name(self) -> str:
        """A DVC stage name (letters, digits, '-', '_'): the stage and its key."""
        return "-".join([self.stage, *(re.sub(r"[^A-Za-z0-9_-]+", "-", v) for v in self.key.values())])

    @property
    def log(self) -> str:
        return "/".join(["logs", *self.key.values(), f"{self.stage}.log"])

    @property
    def outputs(self) -> list[str]:
        return [*self.outs, *self.metrics, *self.reports]


# -------------------------------------------------------------------------------------------------
# Code dependencies: the import closure, from the source


def module_file(module: str) -> Path | None:
    """The source file of a module of this package (None outside it)."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    base = SOURCE_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=None)
def direct_imports(module: str) -> frozenset[str]:
    """Modules of this package that ``module`` imports anywhere in its source (lazy imports included)."""
    path = module_file(module)
    if path is None:
        return frozenset()
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return frozenset(m for m in found if module_file(m) is not None)


def code_closure(*modules: str) -> list[str]:
    """Source files (relative to the repository root) of ``modules``, their imports and parent packages."""
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module in seen or module_file(module) is None:
            continue
        seen.add(module)
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # importing a.b.c runs a and a.b
        todo.extend(direct_imports(module))
    return sorted(module_file(m).relative_to(REPO_ROOT).as_posix() for m in seen)


def stage_module(stage: str) -> str:
    return f"{PACKAGE}.stages.{stage}"


# -------------------------------------------------------------------------------------------------
# The plan


def check_registries(params: dict[str, Any]) -> None:
    """The grid names tasks, encoders and decoders that the code knows (params.yaml is validated already)."""
    from .models.encoders import ENCODERS, MIXERLESS_ENCODERS
    from .models.mixers import MIXER_TYPES
    from .tasks import TASKS

    for index, entry in enumerate(params["grid"]):
        where = f"params.yaml: grid[{index}]"
        task = entry["task"]
        if task not in TASKS:
            raise ParamsError(f"{where}.task: unknown task {task!r} (known: {', '.join(TASKS)})")
        for size in entry["sizes"]:
            if TASKS[task].decodes_sequences and size not in (params.get("decoding") or {}).get(task, {}):
                raise ParamsError(f"{where}.sizes: no decoding.{task}.{size}")
        for model in grid_models(entry):
            encoder, mixer = model["encoder"], model.get("mixer")
            if encoder not in ENCODERS:
                raise ParamsError(f"{where}: unknown encoder {encoder!r} (known: {', '.join(sorted(ENCODERS))})")
            if encoder in MIXERLESS_ENCODERS and mixer is not None:
                raise ParamsError(f"{where}: encoder {encoder!r} takes no token mixer; remove mixer {mixer!r}")
            if encoder not in MIXERLESS_ENCODERS and mixer is None:
                raise ParamsError(f"{where}: encoder {encoder!r} needs a mixer")
    for name, mixer in params["mixers"].items():
        if mixer["type"] not in MIXER_TYPES:
            raise ParamsError(f"params.yaml: mixers.{name}.type: unknown {mixer['type']!r} (known: {', '.join(sorted(MIXER_TYPES))})")


def summarymixing(*args: str) -> str:
    return " ".join(["summarymixing", *args])


def _dataset_jobs(params: dict[str, Any], dataset: str, splits: list[str], task_names: list[str],
                  with_lm: bool) -> list[Job]:
    from .corpora import recipe, replica_module
    from .tasks import TASKS

    cfg = dataset_config(params, dataset)
    corpus = cfg["corpus"]
    module = recipe(corpus)
    recipe_module = f"{PACKAGE}.corpora.{corpus}"
    jobs: list[Job] = []

    source_code = [stage_module("source"), recipe_module]
    source_params = [f"datasets.{dataset}.{key}" for key in ("corpus", "source", "url")]
    threads = 1
    if cfg["source"] == "replica":
        replica = replica_module(corpus)
        source_code.append(replica.__name__)
        ignored = set(getattr(replica, "WORKER_KEYS", ()))
        source_params += [f"datasets.{dataset}.replica.{key}" for key in (cfg.get("replica") or {}) if key not in ignored]
        threads = int((cfg.get("replica") or {}).get("workers") or 1)
    source_out = paths.source_dir(dataset).as_posix()
    jobs.append(Job("source", {"dataset": dataset}, summarymixing("source", "--dataset", dataset), [],
                    code_closure(*source_code), existing_keys(params, source_params), [source_out], threads=threads))

    for split in splits:
        if split not in module.SPLITS:
            raise ParamsError(f"params.yaml: datasets.{dataset}: corpus {corpus!r} has no split {split!r} "
                              f"(known: {', '.join(module.SPLITS)})")
    lm_text = list(getattr(module, "LM_ARCHIVES", ())) if with_lm else []
    needed = [name for name in module.ARCHIVES if any(name in module.SPLITS[s] for s in splits) or name in lm_text]
    for archive in needed:
        jobs.append(Job("download", {"dataset": dataset, "archive": archive},
                        summarymixing("download", "--dataset", dataset, "--archive", archive), [source_out],
                        code_closure(stage_module("download"), recipe_module), [],
                        [paths.corpus_dir(dataset, archive).as_posix()]))
    for split in splits:
        jobs.append(Job("prepare", {"dataset": dataset, "split": split},
                        summarymixing("prepare", "--dataset", dataset, "--split", split),
                        [paths.corpus_dir(dataset, a).as_posix() for a in module.SPLITS[split]],
                        code_closure(stage_module("prepare"), recipe_module),
                        existing_keys(params, [f"datasets.{dataset}.prepare"]),
                        [paths.manifests_dir(dataset, split).as_posix()]))
        jobs.append(Job("features", {"dataset": dataset, "split": split},
                        summarymixing("features", "--dataset", dataset, "--split", split),
                        [paths.manifests_dir(dataset, split).as_posix()], code_closure(stage_module("features")),
                        ["features"], [paths.features_dir(dataset, split).as_posix()]))
    for task in task_names:
        if not TASKS[task].uses_tokenizer:
            continue
        jobs.append(Job("tokenizer", {"dataset": dataset, "task": task},
                        summarymixing("tokenizer", "--dataset", dataset, "--task", task),
                        [paths.manifests_dir(dataset, s).as_posix() for s in cfg["train_splits"]],
                        code_closure(stage_module("tokenizer"), TASKS[task].module),
                        existing_keys(params, [f"datasets.{dataset}.tasks.{task}.tokenizer", f"datasets.{dataset}.train_splits"]),
                        [paths.tokenizer_dir(dataset, task).as_posix()]))
    return jobs


def lm_job(params: dict[str, Any], dataset: str) -> Job | None:
    """The language model of ``dataset`` (``datasets.<d>.tasks.asr.lm``: an ``lms.<name>`` block), if any."""
    cfg = dataset_config(params, dataset)
    lm = ((cfg.get("tasks") or {}).get("asr") or {}).get("lm")
    if not lm:
        return None
    from .corpora import recipe

    module = recipe(cfg["corpus"])
    text_archives = list(getattr(module, "LM_ARCHIVES", ()))
    return Job("lm", {"dataset": dataset}, summarymixing("lm", "--dataset", dataset),
               [*(paths.corpus_dir(dataset, a).as_posix() for a in text_archives),
                *(paths.manifests_dir(dataset, s).as_posix() for s in [*cfg["train_splits"], cfg["valid_split"]]),
                paths.tokenizer_dir(dataset, "asr").as_posix()],
               code_closure(stage_module("lm"), f"{PACKAGE}.corpora.{cfg['corpus']}"),
               existing_keys(params, [f"datasets.{dataset}.tasks.asr.lm", f"lms.{lm}", f"datasets.{dataset}.train_splits",
                                      f"datasets.{dataset}.valid_split", f"datasets.{dataset}.tasks.asr.tokenizer"]),
               [paths.lm_model_path(dataset).as_posix()], metrics=[paths.lm_metrics_path(dataset).as_posix()])


def _experiment_jobs(params: dict[str, Any], exp: Experiment) -> list[Job]:
    from .tasks import TASKS

    info = TASKS[exp.task]
    cfg = dataset_config(params, exp.dataset)
    task_keys = f"datasets.{exp.dataset}.tasks.{exp.task}"
    tokenizer = [paths.tokenizer_dir(exp.dataset, exp.task).as_posix()] if info.uses_tokenizer else []
    model_code = [info.module]  # the task builds the model: its closure has the encoders and mixers
    key = {"experiment": exp.id}
    model = paths.model_path(exp.id).as_posix()

    train_params = [f"models.{exp.size}.{exp.encoder}", f"training.{exp.task}.{exp.size}",
                    f"datasets.{exp.dataset}.train_splits", f"datasets.{exp.dataset}.valid_split",
                    *(f"{task_keys}.{k}" for k in info.train_keys)]
    if exp.mixer:
        train_params.append(f"mixers.{exp.mixer}")
    if exp.decoder:
        train_params.append(f"decoders.{exp.decoder}")
    train = Job("train", key, summarymixing("train", "--experiment", exp.id),
                [*(paths.features_dir(exp.dataset, s).as_posix() for s in [*cfg["train_splits"], cfg["valid_split"]]), *tokenizer],
                code_closure(stage_module("train"), *model_code), existing_keys(params, train_params),
                [model], metrics=[paths.train_metrics_path(exp.id).as_posix()])

    lm = lm_job(params, exp.dataset) if info.uses_lm else None
    decode_code = [stage_module("decode"), *model_code] + ([stage_module("lm")] if lm else [])
    decode = Job("decode", key, summarymixing("decode", "--experiment", exp.id),
                 [model, *(paths.features_dir(exp.dataset, s).as_posix() for s in cfg["test_splits"]), *tokenizer,
                  *(lm.outs if lm else [])],
                 code_closure(*decode_code),
                 existing_keys(params, [f"decoding.{exp.task}.{exp.size}", f"datasets.{exp.dataset}.test_splits",
                                        *(f"{task_keys}.{k}" for k in info.decode_keys)]),
                 [paths.hypotheses_path(exp.id).as_posix()])
    score = Job("score", key, summarymixing("score", "--experiment", exp.id), [paths.hypotheses_path(exp.id).as_posix()],
                code_closure(stage_module("score"), info.module),
                existing_keys(params, [f"{task_keys}.{k}" for k in info.score_keys]),
                [paths.details_dir(exp.id).as_posix()], metrics=[paths.scores_path(exp.id).as_posix()])
    return [train, decode, score]


def plan(params: dict[str, Any], targets: Iterable[str] = ("tables", "efficiency")) -> list[Job]:
    """Every job of the DAG (the tables of the grid, and the efficiency benchmark), in dependency order."""
    from .tasks import TASKS

    check_registries(params)
    exps = experiments(params)
    jobs: list[Job] = []
    for dataset in dict.fromkeys(exp.dataset for exp in exps):
        cfg = dataset_config(params, dataset)
        splits = list(dict.fromkeys([*cfg["train_splits"], cfg["valid_split"], *cfg["test_splits"]]))
        task_names = list(dict.fromkeys(exp.task for exp in exps if exp.dataset == dataset))
        lm = lm_job(params, dataset) if any(TASKS[t].uses_lm for t in task_names) else None
        jobs += _dataset_jobs(params, dataset, splits, task_names, with_lm=lm is not None)
        if lm is not None:
            jobs.append(lm)
    for exp in exps:
        jobs += _experiment_jobs(params, exp)
    for task, dataset in tables(params):
        members = [exp for exp in exps if exp.table == (task, dataset)]
        md, csv = (p.as_posix() for p in paths.table_paths(task, dataset))
        tracked = ["grid", f"datasets.{dataset}.corpus", f"datasets.{dataset}.source", f"datasets.{dataset}.test_splits"]
        for exp in members:
            tracked += [f"models.{exp.size}.{exp.encoder}", f"training.{exp.task}.{exp.size}", f"decoding.{exp.task}.{exp.size}"]
            tracked += [f"mixers.{exp.mixer}"] if exp.mixer else []
            tracked += [f"decoders.{exp.decoder}"] if exp.decoder else []
        jobs.append(Job("aggregate", {"task": task, "dataset": dataset},
                        summarymixing("aggregate", "--task", task, "--dataset", dataset),
                        [p for exp in members for p in (paths.scores_path(exp.id).as_posix(),
                                                        paths.train_metrics_path(exp.id).as_posix())],
                        code_closure(stage_module("aggregate"), TASKS[task].module, f"{PACKAGE}.published"),
                        existing_keys(params, list(dict.fromkeys(tracked))), [], reports=[md, csv]))
    if "efficiency" in targets and params.get("efficiency"):
        jobs.append(efficiency_job(params))
    return jobs


def efficiency_job(params: dict[str, Any]) -> Job:
    eff = params["efficiency"]
    name = eff["device"]
    figure_mixers = [m for figure in (eff.get("figures") or {}).values() for curve in figure.get("curves", [])
                     for m in curve.get("mixers") or []]
    mixers = sorted({m for m in [*eff["mixers"], *figure_mixers] if m})
    return Job("efficiency", {}, summarymixing("bench"), [],
               code_closure(stage_module("bench"), f"{PACKAGE}.efficiency.runner", f"{PACKAGE}.efficiency.worker",
                            f"{PACKAGE}.efficiency.report", f"{PACKAGE}.models.seq2seq"),
               existing_keys(params, ["efficiency", *(f"mixers.{m}" for m in mixers)]), [],
               reports=[f"reports/efficiency/{name}.csv", f"reports/figures/efficiency_{name}.png",
                        "reports/tables/efficiency.md"], threads=int(eff.get("threads", 2)))


def jobs_by_stage(jobs: list[Job]) -> dict[str, dict[tuple[str, ...], Job]]:
    """``{stage: {key values: job}}``: how a Snakemake rule finds its job from its wildcards."""
    found: dict[str, dict[tuple[str, ...], Job]] = {}
    for job in jobs:
        found.setdefault(job.stage, {})[tuple(job.key.values())] = job
    return found


# -------------------------------------------------------------------------------------------------
# dvc.yaml


DVC_HEADER = """\
# GENERATED from params.yaml by `summarymixing dvc-yaml` (the same plan as the Snakefile: src/summarymixing/dag.py).
# Do not edit by hand: change params.yaml and run `summarymixing dvc-yaml` (tests/test_dag.py fails when this
# file is stale). `dvc repro` regenerates reports/tables/; `dvc repro efficiency` the efficiency figures.
"""


def dvc_yaml(jobs: list[Job]) -> str:
    """The text of ``dvc.yaml`` for ``jobs``."""
    import yaml

    stages: dict[str, Any] = {}
    for job in jobs:
        stage: dict[str, Any] = {"cmd": job.cmd}
        deps = [*job.deps, *job.code]
        if deps:
            stage["deps"] = deps
        if job.params:
            stage["params"] = job.params
        if job.outs:
            stage["outs"] = list(job.outs)
        cached_off = [{path: {"cache": False}} for path in job.reports]
        if cached_off:
            stage.setdefault("outs", []).extend(cached_off)
        if job.metrics:
            stage["metrics"] = [{path: {"cache": False}} for path in job.metrics]
        if job.name in stages:
            raise ValueError(f"two jobs map to the DVC stage name {job.name!r}")
        stages[job.name] = stage
    return DVC_HEADER + yaml.safe_dump({"stages": stages}, sort_keys=False, width=200)

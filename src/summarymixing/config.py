"""``params.yaml``: loading, validation, the experiment record and the grid.

``params.yaml`` is the one source of truth. ``summarymixing.dag`` plans every job from it (the
Snakefile and the generated ``dvc.yaml`` both come from that plan) and every ``summarymixing <stage>``
command reads it again for its settings. The file is validated against ``schemas/params.schema.yaml``
and the cross-references below before anything runs; errors name the file and the key.

An experiment is one trained model: ``Experiment(task, dataset, encoder, mixer, size, decoder, seed)``.
Its id, ``<task>/<dataset>/<name>`` with ``name = <encoder>[-<mixer>]-<size>[+<decoder>][+seed<N>]``,
is defined here and nowhere else: it is the experiment's directory under ``exp/`` and
``checkpoints/``, the ``--experiment`` argument of the stage commands, and the key of its jobs in both
orchestrators. Nothing parses it: ids are looked up among the grid's experiments.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml

DEFAULT_PARAMS = "params.yaml"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "params.schema.yaml"
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True)
class Experiment:
    """One model of the grid: a task on a dataset, an encoder with a token mixer, a size; optionally a
    decoder variant (``decoders.<name>``) and a seed (default: the training settings' seed)."""

    task: str
    dataset: str
    encoder: str
    mixer: str | None
    size: str
    decoder: str | None = None
    seed: int | None = None

    @property
    def name(self) -> str:
        name = "-".join(part for part in (self.encoder, self.mixer, self.size) if part)
        if self.decoder:
            name += f"+{self.decoder}"
        if self.seed is not None:
            name += f"+seed{self.seed}"
        return name

    @property
    def id(self) -> str:
        return f"{self.task}/{self.dataset}/{self.name}"

    @property
    def table(self) -> tuple[str, str]:
        """The (task, dataset) table this experiment is a row of."""
        return self.task, self.dataset


class ParamsError(ValueError):
    """``params.yaml`` is malformed; the message names the file and the key."""


def params_path(path: str | os.PathLike | None = None) -> Path:
    """The params file: ``path``, else ``$SUMMARYMIXING_PARAMS``, else ``./params.yaml``."""
    return Path(path or os.environ.get("SUMMARYMIXING_PARAMS") or DEFAULT_PARAMS)


def load_params(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Load and validate ``params.yaml``; the result is a fresh dict the caller may modify."""
    resolved = params_path(path).resolve()
    mtime = resolved.stat().st_mtime_ns if resolved.is_file() else 0
    return copy.deepcopy(_load_cached(str(resolved), mtime))


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> dict[str, Any]:  # the file's mtime: an edited file is read again
    p = Path(path)
    if not p.is_file():
        raise ParamsError(f"{p}: params file not found (run from the repository root, or set SUMMARYMIXING_PARAMS)")
    try:
        params = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ParamsError(f"{p}: not valid YAML: {e}") from e
    validate_params(params, source=p)
    return params


def validate_params(params: Any, source: str | os.PathLike = "params.yaml") -> None:
    """Check ``params`` against the JSON schema and the cross-references the schema cannot express.

    Names the code must know (tasks, encoders, mixer types) are checked where the DAG is planned
    (``dag.check_registries``), so that this module imports no model code.
    """
    import jsonschema

    schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(params), key=lambda e: list(e.path))
    if errors:
        lines = [f"{source}: {'.'.join(map(str, e.path)) or '<top>'}: {e.message}" for e in errors[:10]]
        raise ParamsError("invalid params:\n  " + "\n  ".join(lines))

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ParamsError(f"{source}: {msg}")

    for section in ("datasets", "mixers", "models", "decoders"):
        for name in params.get(section) or {}:
            need(set(name) <= NAME_CHARS, f"{section}.{name}: names use a-z, 0-9 and '_' only (they make up experiment ids)")
    for name, ds in params["datasets"].items():
        need(ds["valid_split"] not in ds["train_splits"], f"datasets.{name}: valid_split is also a training split")
        if ds["source"] == "replica":
            need("replica" in ds, f"datasets.{name}: source is 'replica' but there is no 'replica' block")
    for index, entry in enumerate(params["grid"]):
        where = f"grid[{index}]"
        task = entry["task"]
        for ds in entry["datasets"]:
            need(ds in params["datasets"], f"{where}.datasets: {ds!r} is not defined under datasets")
            need(task in (params["datasets"][ds].get("tasks") or {}),
                 f"{where}: dataset {ds!r} has no settings for task {task!r} (datasets.{ds}.tasks.{task})")
        for size in entry["sizes"]:
            need(size in params["models"], f"{where}.sizes: {size!r} is not defined under models")
            need(size in (params["training"].get(task) or {}), f"{where}.sizes: no training.{task}.{size}")
        for model in grid_models(entry):
            encoder, mixer, decoder = model["encoder"], model.get("mixer"), model.get("decoder")
            if mixer is not None:
                need(mixer in params["mixers"], f"{where}: mixer {mixer!r} is not defined under mixers")
            if decoder is not None:
                need(decoder in (params.get("decoders") or {}), f"{where}: decoder {decoder!r} is not defined under decoders")
            for size in entry["sizes"]:
                need(encoder in params["models"][size], f"{where}: models.{size} has no settings for encoder {encoder!r}")
    ids = [exp.id for exp in experiments(params)]
    need(len(ids) == len(set(ids)), f"grid: some experiments are listed twice ({sorted({i for i in ids if ids.count(i) > 1})})")


def grid_models(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The models of one grid entry: its ``models`` list, or ``encoders`` x ``mixers``."""
    if entry.get("models"):
        return [dict(model) for model in entry["models"]]
    return [{"encoder": e, "mixer": m} for e in entry.get("encoders", []) for m in entry.get("mixers", [])]


def experiments(params: dict[str, Any]) -> list[Experiment]:
    """Every experiment of the grid, in grid order (the order of the tables' rows)."""
    found: list[Experiment] = []
    for entry in params["grid"]:
        for dataset in entry["datasets"]:
            for size in entry["sizes"]:
                for model in grid_models(entry):
                    for seed in entry.get("seeds") or [None]:
                        found.append(Experiment(entry["task"], dataset, model["encoder"], model.get("mixer"), size,
                                                model.get("decoder"), seed))
    return found


def find_experiment(params: dict[str, Any], experiment_id: str) -> Experiment:
    """The grid's experiment with this id; the error lists the known ones."""
    for exp in experiments(params):
        if exp.id == experiment_id:
            return exp
    known = "\n  ".join(exp.id for exp in experiments(params))
    raise ParamsError(f"experiment {experiment_id!r} is not in the grid of params.yaml; known:\n  {known}")


def tables(params: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (task, dataset) table of the grid, in grid order."""
    return list(dict.fromkeys(exp.table for exp in experiments(params)))


def dataset_config(params: dict[str, Any], dataset: str) -> dict[str, Any]:
    """The ``datasets.<dataset>`` block, with a clear error if it does not exist."""
    try:
        return params["datasets"][dataset]
    except KeyError:
        known = ", ".join(params["datasets"])
        raise ParamsError(f"dataset {dataset!r} is not defined in params (known: {known})") from None


def task_config(params: dict[str, Any], task: str, dataset: str) -> dict[str, Any]:
    """``datasets.<dataset>.tasks.<task>``: the task's labels, tokenizer, normaliser and metrics on it."""
    cfg = dataset_config(params, dataset).get("tasks") or {}
    if task not in cfg:
        raise ParamsError(f"datasets.{dataset}.tasks has no {task!r} block")
    return cfg[task]


def dataset_splits(cfg: dict[str, Any]) -> list[str]:
    """Training, validation and test splits of a ``datasets.<name>`` block, each once, in that order."""
    return list(dict.fromkeys([*cfg["train_splits"], cfg["valid_split"], *cfg["test_splits"]]))


def datasets_in_grid(params: dict[str, Any]) -> list[str]:
    """The datasets some experiment uses: the only ones either orchestrator fetches and prepares."""
    return list(dict.fromkeys(exp.dataset for exp in experiments(params)))


def applies(when: dict[str, Any], exp: Experiment) -> bool:
    """Whether an override's ``when`` block (lists of encoders, mixers, decoders, tasks) matches ``exp``."""
    values = {"encoders": exp.encoder, "mixers": exp.mixer, "decoders": exp.decoder, "tasks": exp.task}
    return all(values[key] in allowed for key, allowed in when.items())


def with_overrides(block: dict[str, Any], exp: Experiment) -> dict[str, Any]:
    """``block`` minus its ``overrides`` list, with every matching override's ``set`` applied in order."""
    result = {k: v for k, v in block.items() if k != "overrides"}
    for override in block.get("overrides") or []:
        if applies(override["when"], exp):
            result.update(override["set"])
    return result


def model_config(params: dict[str, Any], exp: Experiment) -> dict[str, Any]:
    """Architecture of ``exp``: ``models.<size>.<encoder>`` (with its overrides for this mixer/decoder),
    plus ``encoder``, the ``mixers.<mixer>`` block (None without a mixer) and the ``decoders.<decoder>``
    block (None: the regular Transformer decoder)."""
    try:
        arch = with_overrides(params["models"][exp.size][exp.encoder], exp)
        mixer = dict(params["mixers"][exp.mixer]) if exp.mixer else None
        decoder = dict(params["decoders"][exp.decoder]) if exp.decoder else None
    except KeyError as e:
        raise ParamsError(f"experiment {exp.id}: no params for {e.args[0]!r} (see models, mixers, decoders)") from None
    arch["encoder"] = exp.encoder
    arch["mixer"] = mixer
    arch["decoder"] = decoder
    return arch


def training_config(params: dict[str, Any], exp: Experiment) -> dict[str, Any]:
    """``training.<task>.<size>`` with its overrides for this experiment, and the experiment's seed."""
    try:
        hp = with_overrides(params["training"][exp.task][exp.size], exp)
    except KeyError:
        raise ParamsError(f"experiment {exp.id}: no training.{exp.task}.{exp.size}") from None
    if exp.seed is not None:
        hp["seed"] = exp.seed
    return hp


def decoding_config(params: dict[str, Any], exp: Experiment) -> dict[str, Any]:
    """``decoding.<task>.<size>`` (empty for tasks that decode by classification)."""
    return dict((params.get("decoding") or {}).get(exp.task, {}).get(exp.size, {}))


def params_hash(params: Any) -> str:
    """A short, order-independent hash of (part of) the params, quoted in every table's provenance."""
    blob = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def get_key(params: dict[str, Any], dotted: str) -> Any:
    """``params['a']['b']`` for ``'a.b'``."""
    value: Any = params
    for part in dotted.split("."):
        value = value[part]
    return value


def existing_keys(params: dict[str, Any], keys: Iterable[str]) -> list[str]:
    """The dotted keys that exist in ``params`` (optional blocks are tracked only when present)."""
    found = []
    for key in keys:
        try:
            get_key(params, key)
        except (KeyError, TypeError):
            continue
        found.append(key)
    return found

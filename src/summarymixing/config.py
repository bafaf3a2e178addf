"""``params.yaml``: loading, validation and the experiment grid.

``params.yaml`` is the one source of truth. Snakemake (``Snakefile``) and DVC (``dvc.yaml``) read it to
enumerate jobs, and every ``summarymixing <stage>`` command reads it again for its hyperparameters, so
the three can never disagree. The file is validated against ``schemas/params.schema.yaml`` before
anything runs, and errors name the file and the offending key.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PARAMS = "params.yaml"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "params.schema.yaml"

ENCODERS = ("conformer", "branchformer", "transformer")


@dataclass(frozen=True)
class ModelSpec:
    """One model of the grid, named ``<encoder>-<mixer>-<size>`` (e.g. ``conformer-summarymixing-small``)."""

    encoder: str
    mixer: str
    size: str

    @property
    def id(self) -> str:
        return f"{self.encoder}-{self.mixer}-{self.size}"

    @classmethod
    def parse(cls, model_id: str) -> "ModelSpec":
        parts = model_id.split("-")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"model id {model_id!r}: expected <encoder>-<mixer>-<size>, e.g. conformer-summarymixing-small")
        return cls(*parts)


class ParamsError(ValueError):
    """``params.yaml`` is malformed; the message names the file and the key."""


def params_path(path: str | os.PathLike | None = None) -> Path:
    """The params file: ``path``, else ``$SUMMARYMIXING_PARAMS``, else ``./params.yaml``."""
    return Path(path or os.environ.get("SUMMARYMIXING_PARAMS") or DEFAULT_PARAMS)


def load_params(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Load and validate ``params.yaml``; the result is a fresh dict the caller may modify."""
    return copy.deepcopy(_load_cached(str(params_path(path).resolve())))


@lru_cache(maxsize=8)
def _load_cached(path: str) -> dict[str, Any]:
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
    """Check ``params`` against the JSON schema and the cross-references the schema cannot express."""
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

    grid = params["grid"]
    for ds in grid["datasets"]:
        need(ds in params["datasets"], f"grid.datasets: {ds!r} is not defined under datasets")
    asr = grid.get("asr") or {}
    for ds in asr.get("datasets", []):
        need(ds in grid["datasets"], f"grid.asr.datasets: {ds!r} must also be listed in grid.datasets")
    for enc in asr.get("encoders", []):
        need(enc in ENCODERS, f"grid.asr.encoders: unknown encoder {enc!r} (known: {', '.join(ENCODERS)})")
    for mixer in asr.get("mixers", []):
        need(mixer in params["mixers"], f"grid.asr.mixers: {mixer!r} is not defined under mixers")
        need("-" not in mixer, f"mixers: name {mixer!r} may not contain '-' (model ids are <encoder>-<mixer>-<size>)")
    for size in asr.get("sizes", []):
        need(size in params["models"], f"grid.asr.sizes: {size!r} is not defined under models")
        need(size in params["training"], f"grid.asr.sizes: {size!r} is not defined under training")
        need(size in params["decoding"], f"grid.asr.sizes: {size!r} is not defined under decoding")
        for enc in asr.get("encoders", []):
            need(enc in params["models"][size], f"models.{size}: no settings for encoder {enc!r}")
    for name, ds in params["datasets"].items():
        need(ds["valid_split"] not in ds["train_splits"], f"datasets.{name}: valid_split is also a training split")
        if ds["source"] == "replica":
            need("replica" in ds, f"datasets.{name}: source is 'replica' but there is no 'replica' block")


def asr_experiments(params: dict[str, Any]) -> list[tuple[str, ModelSpec]]:
    """Every (dataset, model) pair of the ASR grid, in a stable order."""
    asr = params["grid"].get("asr") or {}
    return [
        (ds, ModelSpec(enc, mixer, size))
        for ds in asr.get("datasets", [])
        for enc in asr.get("encoders", [])
        for mixer in asr.get("mixers", [])
        for size in asr.get("sizes", [])
    ]


def dataset_config(params: dict[str, Any], dataset: str) -> dict[str, Any]:
    """The ``datasets.<dataset>`` block, with a clear error if it does not exist."""
    try:
        return params["datasets"][dataset]
    except KeyError:
        known = ", ".join(params["datasets"])
        raise ParamsError(f"dataset {dataset!r} is not defined in params (known: {known})") from None


def dataset_splits(cfg: dict[str, Any]) -> list[str]:
    """Training, validation and test splits of a ``datasets.<name>`` block, each once, in that order."""
    return list(dict.fromkeys([*cfg["train_splits"], cfg["valid_split"], *cfg["test_splits"]]))


def model_config(params: dict[str, Any], spec: ModelSpec) -> dict[str, Any]:
    """Architecture of ``spec``: ``models.<size>.<encoder>``, plus ``encoder`` and the ``mixers.<mixer>`` block."""
    try:
        arch = dict(params["models"][spec.size][spec.encoder])
        mixer = dict(params["mixers"][spec.mixer])
    except KeyError as e:
        raise ParamsError(f"model {spec.id}: no params for {e.args[0]!r} (see models.* and mixers.*)") from None
    arch["encoder"] = spec.encoder
    arch["mixer"] = mixer
    return arch


def params_hash(params: dict[str, Any]) -> str:
    """A short, order-independent hash of the params, quoted in every table's provenance line."""
    blob = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]

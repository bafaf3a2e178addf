"""The locked environment: pyproject.toml and requirements.lock agree; a broken torch/torchaudio pair
stops every command with one clear line; results carry the lock's hash and the core versions."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from summarymixing import environment

REPO = Path(__file__).resolve().parents[1]


def direct_requirements(pyproject: dict) -> list[Requirement]:
    project = pyproject["project"]
    deps = list(project["dependencies"]) + list(project.get("optional-dependencies", {}).get("test", []))
    return [Requirement(d) for d in deps]


def lock_disagreements(pyproject: dict, locked: dict[str, list[str]]) -> list[str]:
    """Every direct dependency of pyproject.toml must be in the lock, at versions its range allows."""
    problems = []
    for req in direct_requirements(pyproject):
        name = environment.normalise_name(req.name)
        versions = locked.get(name)
        if not versions:
            problems.append(f"{req.name}: in pyproject.toml but not in requirements.lock (run `make lock`)")
            continue
        outside = [v for v in versions if not req.specifier.contains(v, prereleases=True)]
        if outside:
            problems.append(f"{req.name}: locked {', '.join(outside)} is outside pyproject.toml's {req.specifier}")
    return problems


def load_pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_lock_covers_pyproject():
    assert lock_disagreements(load_pyproject(), environment.read_lock(REPO / "requirements.lock")) == []


def test_lock_check_fails_when_they_disagree():
    pyproject = load_pyproject()
    locked = environment.read_lock(REPO / "requirements.lock")
    missing = {k: v for k, v in locked.items() if k != "jiwer"}
    assert any("jiwer: in pyproject.toml but not in requirements.lock" in p for p in lock_disagreements(pyproject, missing))
    drifted = {**locked, "torchaudio": ["2.11.1"]}
    assert any("torchaudio: locked 2.11.1 is outside" in p for p in lock_disagreements(pyproject, drifted))


def test_torch_and_torchaudio_are_pinned_as_a_pair():
    reqs = {r.name: r for r in direct_requirements(load_pyproject())}
    for name in ("torch", "torchaudio"):
        (spec,) = reqs[name].specifier
        assert spec.operator == "==" and "*" not in spec.version, f"{name} must be pinned exactly, got {spec}"
    assert str(reqs["torch"].specifier).split("==")[1].split(".")[:2] == str(reqs["torchaudio"].specifier).split("==")[1].split(".")[:2]


def test_lock_pins_every_package_with_hashes():
    text = (REPO / "requirements.lock").read_text(encoding="utf-8")
    entries = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert len(entries) > 50
    assert all("==" in line for line in entries), [line for line in entries if "==" not in line][:3]
    assert text.count("--hash=sha256:") >= len(entries)


def fake_broken_torchaudio(tmp_path: Path, version: str = "2.11.1") -> dict[str, str]:
    """An environment whose torchaudio fails to load as an ABI-mismatched wheel does."""
    pkg = tmp_path / "shadow" / "torchaudio"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "raise OSError('Could not load this library: /venv/lib/python3.11/site-packages/torchaudio/lib/"
        "libtorchaudio.so: undefined symbol: torch_exception_get_what_without_backtrace')\n"
    )
    dist = tmp_path / "shadow" / f"torchaudio-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torchaudio\nVersion: {version}\n")
    return {**os.environ, "PYTHONPATH": str(tmp_path / "shadow")}


@pytest.mark.parametrize("argv", [
    ["features", "--dataset", "librispeech_replica", "--split", "dev-clean"],
    ["bench", "--quick"],
])
def test_broken_torchaudio_stops_every_command_with_one_line(tmp_path, argv):
    proc = subprocess.run([sys.executable, "-m", "summarymixing.cli", *argv], cwd=REPO,
                          env=fake_broken_torchaudio(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert "importing torchaudio failed" in line and "torchaudio 2.11.1" in line
    assert f"torch {environment.installed_version('torch')}" in line
    assert "requirements.lock pins: torch 2.11.0, torchaudio 2.11.0, speechbrain 1.1.2" in line
    assert "make install" in line and "undefined symbol" in line


def test_environment_check_passes_in_the_locked_environment():
    proc = subprocess.run([sys.executable, "-m", "summarymixing.environment"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "torch 2.11.0" in proc.stdout and "speechbrain 1.1.2" in proc.stdout


def test_provenance_names_lock_and_versions():
    prov = environment.provenance()
    assert prov["lock_hash"] == environment.file_hash(REPO / "requirements.lock") and len(prov["lock_hash"]) == 12
    assert prov["versions"]["torch"] == environment.installed_version("torch")
    assert prov["versions"]["speechbrain"] == "1.1.2"
    line = environment.provenance_line(prov)
    assert f"lock `{prov['lock_hash']}`" in line and "torchaudio" in line

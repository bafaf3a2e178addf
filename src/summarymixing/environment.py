"""The software environment: the lock file, the versions that made a result, and a clear error when
torch, torchaudio and SpeechBrain do not work together.

``requirements.lock`` (repository root) pins the whole dependency closure with hashes; ``make install``
installs exactly that and records the lock's hash in the virtualenv (``INSTALLED_LOCK_FILE`` under
``sys.prefix``). Every table, metrics file and efficiency report carries ``provenance()``: git commit,
the lock's hash, the hash of the lock the environment was installed from, and the versions of the
packages that compute the numbers.

A mismatched pair of torch and torchaudio (e.g. a torchaudio wheel built against another torch)
fails when ``speechbrain`` is imported, deep inside its import chain. ``require_core()`` imports the
three first and turns any failure into one ``BrokenEnvironment`` message that names the packages,
their installed and locked versions, and the fix.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

LOCK_FILE = Path("requirements.lock")
INSTALLED_LOCK_FILE = "summarymixing-lock.sha256"  # in sys.prefix, written by `make install`
CORE_PACKAGES = ("torch", "torchaudio", "speechbrain")
REPORTED_PACKAGES = (*CORE_PACKAGES, "lhotse", "jiwer", "sentencepiece", "numpy")
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]

_LOCK_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


class BrokenEnvironment(RuntimeError):
    """torch, torchaudio and speechbrain cannot be imported together; the message says what to do."""


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def lock_path() -> Path:
    """The lock file: ``./requirements.lock`` (stages run from the repository root), else the package's checkout."""
    return LOCK_FILE if LOCK_FILE.is_file() else REPOSITORY_ROOT / LOCK_FILE


def file_hash(path: Path) -> str | None:
    """First 12 hex digits of the file's sha256, or None if it does not exist."""
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def read_lock(path: Path | None = None) -> dict[str, list[str]]:
    """``name -> [versions]`` of a ``uv pip compile`` lock (a name has several versions under markers)."""
    path = path or lock_path()
    locked: dict[str, list[str]] = {}
    if not path.is_file():
        return locked
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _LOCK_LINE.match(line)
        if match:
            locked.setdefault(normalise_name(match.group(1)), []).append(match.group(2))
    return locked


def normalise_name(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_lock_hash() -> str | None:
    """Hash of the lock this environment was installed from (``make install``), if recorded."""
    path = Path(sys.prefix) / INSTALLED_LOCK_FILE
    return path.read_text(encoding="utf-8").strip() or None if path.is_file() else None


def provenance() -> dict[str, object]:
    """Where a result comes from: code, lock and package versions (params hashes are added by callers)."""
    from .io import git_commit

    lock = file_hash(lock_path())
    installed = installed_lock_hash()
    return {
        "git_commit": git_commit(),
        "lock_hash": lock,
        # None when the environment was not made by `make install` (a user's own environment)
        "installed_lock_hash": installed,
        "environment_matches_lock": installed == lock if installed and lock else None,
        "python": platform.python_version(),
        "versions": {package: installed_version(package) for package in REPORTED_PACKAGES},
    }


def provenance_line(prov: dict[str, object]) -> str:
    """One Markdown line for a report: commit, lock hash and the core versions."""
    versions = prov["versions"]
    matches = prov.get("environment_matches_lock")
    state = "" if matches is None else ("" if matches else " (**environment installed from another lock**)")
    return (
        f"git commit `{prov['git_commit']}`, lock `{prov['lock_hash']}`{state}; "
        + ", ".join(f"{p} {versions.get(p)}" for p in REPORTED_PACKAGES if versions.get(p))
        + f"; Python {prov['python']}"
    )


def require_core() -> None:
    """Import torch, torchaudio and speechbrain; raise ``BrokenEnvironment`` (one line) if they do not import."""
    failure = None
    for package in CORE_PACKAGES:
        try:
            __import__(package)
        except Exception as e:  # noqa: BLE001 - an ABI mismatch surfaces as OSError, ImportError, RuntimeError...
            failure = (package, e)
            break
    if failure is None:
        return
    package, error = failure
    raise BrokenEnvironment(broken_message(package, error))


def broken_message(package: str, error: BaseException) -> str:
    locked = read_lock()
    installed = ", ".join(f"{p} {installed_version(p) or 'not installed'}" for p in CORE_PACKAGES)
    wanted = ", ".join(f"{p} {'/'.join(locked.get(p, ['?']))}" for p in CORE_PACKAGES)
    detail = " ".join(f"{type(error).__name__}: {error}".split())
    if len(detail) > 300:
        detail = detail[:297] + "..."
    return (
        f"the Python environment is broken: importing {package} failed, so torch, torchaudio and speechbrain "
        f"do not work together (installed: {installed}; {lock_path().name} pins: {wanted}). "
        f"Reinstall the locked environment with `make install` (or `pip install --require-hashes --no-deps -r "
        f"requirements.lock` in your own virtualenv). Cause: {detail}"
    )


def main() -> int:
    """``python -m summarymixing.environment``: check the core imports; print the provenance."""
    try:
        require_core()
    except BrokenEnvironment as e:
        print(f"summarymixing: {e}", file=sys.stderr)
        return 1
    prov = provenance()
    print(provenance_line(prov))
    if prov["environment_matches_lock"] is False:
        print(f"warning: this environment was installed from another {LOCK_FILE}: run `make install`", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())

"""Corpus-independent download and extraction: resumable, verified, safe.

``fetch`` downloads one archive into ``<dest>.part``, resuming a partial file with an HTTP
``Range: bytes=N-`` request and retrying transient network errors, then checks its checksum
(``md5:<hex>`` or ``sha256:<hex>``, as the corpus publishes it) and only then renames the ``.part``
onto ``dest``. So a file under its final name is always complete and verified,
and a killed download resumes where it stopped. Local paths and ``file://`` URLs are copied the same
way (through ``.part`` and the checksum check).

``fetch_archive`` is what a recipe's ``download_<corpus>`` calls for one of its ``Archive``s: fetch,
then extract a tarball (or place a plain file) into the archive's own directory, once (``.completed``).

``extract_tar`` extracts with Python's ``tarfile`` ``"data"`` filter (no absolute paths, no ``..``,
no links leaving the tree, no device files) into a temporary directory next to the destination and
moves the result into place only once extraction has completed.

Why not ``lhotse.utils.resumable_download``: it writes straight to the final name and verifies
nothing, so a truncated or corrupt file looks finished; when a server ignores ``Range`` and answers
``200`` with the whole body it appends that body after the bytes already there (a corrupt file); it
does not retry transient errors; and a 404 surfaces as a bare ``HTTPError``. Wrapping it could fix
the first point only, hence the small urllib loop below.
"""

from __future__ import annotations

import gzip
import http.client
import logging
import os
import re
import shutil
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path
from typing import BinaryIO

from tqdm.auto import tqdm

from summarymixing.io import file_checksum

log = logging.getLogger(__name__)

RETRIES = 5  # attempts per call for transient network errors, each resuming the partial file
BACKOFF_S = 2.0  # wait before retry k (k = 1, 2, ...): BACKOFF_S * 2 ** (k - 1) seconds
TIMEOUT_S = 60.0  # socket timeout of one HTTP request
CHUNK_BYTES = 1 << 20
USER_AGENT = "summarymixing-repro (python urllib)"
# HTTP statuses worth retrying; any other 4xx/5xx is permanent.
TRANSIENT_HTTP_STATUSES = {408, 425, 429, 500, 502, 503, 504}


def part_path(dest: Path) -> Path:
    """Where ``fetch`` keeps the partial download of ``dest``."""
    return dest.with_name(dest.name + ".part")


def fetch(
    url: str,
    dest: Path,
    checksum: str,
    expected_bytes: int | None = None,
    *,
    retries: int = RETRIES,
    backoff_s: float = BACKOFF_S,
) -> Path:
    """Download ``url`` (``http(s)://``, ``file://`` or a local path) to ``dest`` and verify it.

    ``checksum`` is ``md5:<hex>`` or ``sha256:<hex>`` (a bare hex string is an md5). Skips the download
    if ``dest`` already exists with the right checksum. Otherwise downloads into ``dest.part``
    (resuming it if present), checks the checksum and renames it onto ``dest``.

    Raises ``ValueError`` on a checksum mismatch (the corrupt partial file is deleted, so the next attempt
    starts clean), ``FileNotFoundError`` if the URL or path does not exist (HTTP 404/410: not retried),
    ``ConnectionError`` if transient errors persist after ``retries`` attempts (the partial file is
    kept and the next call resumes it).
    """
    dest = Path(dest)
    algorithm, expected = split_checksum(checksum)
    if dest.is_file():
        actual = file_checksum(dest, algorithm)
        if checksum_matches(actual, expected):
            log.info("%s: already downloaded, %s ok, skipping", dest, algorithm)
            return dest
        log.warning("%s: exists but its %s is %s, not %s: downloading it again", dest, algorithm, actual, expected)
        dest.unlink()

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("http", "https"):
        _download_http(url, part, expected_bytes, retries=retries, backoff_s=backoff_s)
    elif parsed.scheme == "file":
        _copy_local(Path(urllib.request.url2pathname(parsed.path)), part, url)
    elif parsed.scheme == "":
        _copy_local(Path(url), part, url)
    else:
        raise ValueError(f"{url}: unsupported URL scheme {parsed.scheme!r} (expected http, https, file or a path)")

    actual = file_checksum(part, algorithm)
    if not checksum_matches(actual, expected):
        size = part.stat().st_size
        part.unlink()
        expected_size = f" (expected {expected_bytes} bytes)" if expected_bytes is not None else ""
        raise ValueError(
            f"{algorithm} mismatch for {url}: expected {expected}, got {actual} in {part} ({size} bytes{expected_size}); "
            f"the corrupt file was deleted and nothing was extracted, so the next run downloads it again"
        )
    os.replace(part, dest)
    log.info("%s: downloaded from %s, %s ok", dest, url, algorithm)
    return dest


DIGEST_HEX_DIGITS = {"md5": 32, "sha256": 64, "gitsha1": 40}
MIN_PREFIX_DIGITS = 12  # a published prefix this long (48 bits) still catches any corrupted download


def split_checksum(checksum: str) -> tuple[str, str]:
    """``"sha256:<hex>"`` -> ``("sha256", "<hex>")``; a bare hex string is an md5.

    Algorithms: ``md5``, ``sha256`` and ``gitsha1`` (a file's git blob id, for files pinned by the
    commit of the repository that publishes them). Where only a prefix of a digest is public (at least
    ``MIN_PREFIX_DIGITS`` hex digits), the prefix is what is checked (``checksum_matches``).
    """
    algorithm, _, value = checksum.rpartition(":")
    algorithm = algorithm.lower() or "md5"
    full = DIGEST_HEX_DIGITS.get(algorithm)
    if full is None or not re.fullmatch(r"[0-9a-fA-F]+", value) or not MIN_PREFIX_DIGITS <= len(value) <= full:
        raise ValueError(f"checksum {checksum!r}: expected 'md5:<hex>', 'sha256:<hex>' or 'gitsha1:<hex>'")
    return algorithm, value.lower()


def checksum_matches(actual: str, expected: str) -> bool:
    """``actual`` (a full digest) is ``expected``, or begins with it when only a prefix is published."""
    return actual.startswith(expected)


COMPLETED_MARKER = ".completed"  # in each unpacked archive directory (the lhotse/icefall convention)


def fetch_archive(entry: dict, archives_dir: Path, target_dir: Path, extract_to: str = ".", required: str | None = None) -> Path:
    """Fetch one archive of ``source.json`` and unpack it into ``target_dir`` (once).

    ``entry`` holds ``file``, ``url``, ``checksum`` and ``bytes`` (may be null). A ``.tar.gz``/``.tgz``/``.tar``
    is extracted into ``target_dir/extract_to`` (all or nothing, see ``extract_tar``; ``required``: a path
    the archive must contain, relative to ``extract_to``); any other file is copied into ``target_dir``.
    ``target_dir/.completed`` marks the work done: a second call returns at once. Returns ``target_dir``.
    """
    target_dir, archives_dir = Path(target_dir), Path(archives_dir)
    marker = target_dir / COMPLETED_MARKER
    if marker.is_file():
        log.info("%s: already downloaded and unpacked (%s exists), skipping", entry["file"], marker)
        return target_dir
    archive = fetch(entry["url"], archives_dir / entry["file"], entry["checksum"], entry.get("bytes"))
    # A directory without its marker is a leftover of an older, interrupted unpacking: replace it.
    shutil.rmtree(target_dir, ignore_errors=True)
    target_dir.mkdir(parents=True)
    if is_tarball(entry["file"]):
        extract_tar(archive, target_dir / extract_to, required=required)
    else:
        shutil.copyfile(archive, target_dir / entry["file"])
    marker.touch()
    log.info("%s: unpacked into %s", entry["file"], target_dir)
    return target_dir


def is_tarball(name: str) -> bool:
    return name.endswith((".tar.gz", ".tgz", ".tar"))


def _copy_local(src: Path, part: Path, url: str) -> None:
    """Copy a local archive into ``part`` (from scratch: a local copy is fast and cannot be cut off)."""
    if not src.is_file():
        raise FileNotFoundError(f"{url}: no such file ({src})")
    log.info("copying %s -> %s", src, part)
    with open(src, "rb") as source, open(part, "wb") as target:
        _copy_stream(source, target, total=src.stat().st_size, initial=0, desc=src.name)


def _copy_stream(source: BinaryIO, target: BinaryIO, total: int | None, initial: int, desc: str) -> int:
    """Copy ``source`` to ``target`` in chunks under a progress bar; returns the bytes copied."""
    copied = 0
    # disable=None: a bar on a terminal, nothing in log files (Snakemake/SLURM logs).
    with tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, disable=None) as bar:
        while chunk := source.read(CHUNK_BYTES):
            target.write(chunk)
            copied += len(chunk)
            bar.update(len(chunk))
    return copied


def _download_http(url: str, part: Path, expected_bytes: int | None, *, retries: int, backoff_s: float) -> None:
    """Download ``url`` into ``part``, resuming it; retry transient errors up to ``retries`` attempts."""
    last_error: Exception | None = None
    for attempt in range(1, retries + 1):
        if last_error is not None:
            delay = backoff_s * 2 ** (attempt - 2)
            log.warning("%s: %s; retrying in %.1f s (attempt %d/%d)", url, last_error, delay, attempt, retries)
            time.sleep(delay)
        try:
            _download_http_once(url, part, expected_bytes)
            return
        except urllib.error.HTTPError as e:
            if e.code in (404, 410):
                raise FileNotFoundError(f"{url}: not found (HTTP {e.code})") from None
            if e.code not in TRANSIENT_HTTP_STATUSES:
                raise ConnectionError(f"{url}: HTTP {e.code} {e.reason}") from None
            last_error = e
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as e:
            # connection refused or reset, a timeout, a body cut off before its Content-Length, ...
            last_error = e
    size = part.stat().st_size if part.exists() else 0
    raise ConnectionError(
        f"{url}: download failed after {retries} attempts ({last_error}); "
        f"{part} keeps the {size} bytes received so far and the next run resumes from there"
    )


def _download_http_once(url: str, part: Path, expected_bytes: int | None) -> None:
    """One request (two if the partial file proves unusable): append the missing bytes to ``part``."""
    offset = part.stat().st_size if part.exists() else 0
    if expected_bytes is not None and offset > expected_bytes:
        log.warning("%s: %d bytes, more than the expected %d: starting over", part, offset, expected_bytes)
        part.unlink()
        offset = 0
    if expected_bytes is not None and offset == expected_bytes:
        return  # complete already; the md5 check decides

    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        if e.code != 416 or not offset:
            raise
        # Range not satisfiable: the partial file is complete already, or longer than the remote file.
        remote_size = _content_range_total(e.headers.get("Content-Range", ""))
        if remote_size == offset:
            return
        log.warning("%s: server refused range %d- (remote size %s): starting over", url, offset, remote_size)
        part.unlink()
        return _download_http_once(url, part, expected_bytes)  # offset 0 now: no Range, no recursion

    with response:
        if response.status == 206:
            start = _content_range_start(response.headers.get("Content-Range", ""))
            if start != offset:
                log.warning("%s: asked for bytes %d-, got a range starting at %s: starting over", url, offset, start)
                part.unlink()
                return _download_http_once(url, part, expected_bytes)
            log.info("%s: resuming at byte %d", url, offset)
            mode = "ab"
        else:
            if offset:
                log.warning("%s: server ignored the range request (HTTP %d): starting over", url, response.status)
            offset, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        remaining = int(length) if length is not None else None
        total = offset + remaining if remaining is not None else expected_bytes
        with open(part, mode) as target:
            received = _copy_stream(response, target, total=total, initial=offset, desc=part.name.removesuffix(".part"))
    if remaining is not None and received < remaining:
        raise ConnectionError(f"connection closed after {received} of {remaining} bytes")


def _content_range_start(header: str) -> int | None:
    """First byte of ``Content-Range: bytes START-END/TOTAL``."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(?:\d+|\*)\s*", header)
    return int(match.group(1)) if match else None


def _content_range_total(header: str) -> int | None:
    """TOTAL of ``Content-Range: bytes */TOTAL`` (as sent with HTTP 416)."""
    match = re.fullmatch(r"\s*bytes\s+(?:\*|\d+-\d+)/(\d+)\s*", header)
    return int(match.group(1)) if match else None


def _strict_data_filter(member: tarfile.TarInfo, dest_path: str) -> tarfile.TarInfo:
    """``tarfile.data_filter``, but an absolute member name is an error rather than made relative."""
    if member.name.startswith(("/", os.sep)) or os.path.isabs(member.name):
        raise tarfile.AbsolutePathError(member)
    return tarfile.data_filter(member, dest_path)


def extract_tar(archive: Path, dest_dir: Path, required: str | None = None) -> None:
    """Safely extract ``archive`` into ``dest_dir``, all or nothing.

    Members go into ``dest_dir/.<archive>.extracting`` first; only after the whole archive has been
    extracted (and ``required``, a path relative to the archive root, if given, is found in it) are
    they moved into ``dest_dir``: each top-level entry absent from ``dest_dir`` by one rename,
    directories present in both merged entry by entry. A kill therefore never leaves a half-extracted
    tree under the final names; the next call deletes the leftover temporary directory.

    Raises ``ValueError`` naming the archive and the member if a member would escape the destination
    (absolute path, ``..``, a link pointing outside, a device file), and naming the archive if
    ``required`` is missing.
    """
    if not hasattr(tarfile, "data_filter"):
        raise RuntimeError("safe extraction needs tarfile extraction filters (Python >= 3.11.4)")
    archive, dest_dir = Path(archive), Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    staging = dest_dir / f".{archive.name}.extracting"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        log.info("extracting %s into %s", archive, dest_dir)
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(staging, filter=_strict_data_filter)
        except tarfile.FilterError as e:
            raise ValueError(f"{archive}: refusing to extract unsafe member {e.tarinfo.name!r}: {e}") from None
        except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as e:
            raise ValueError(f"{archive}: not a readable tar archive ({e})") from None
        if required is not None and not (staging / required).exists():
            found = ", ".join(sorted(p.name for p in staging.iterdir())) or "nothing"
            raise ValueError(f"{archive}: has no {required} (found at the top: {found}); is it the right archive?")
        _merge_into(staging, dest_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _merge_into(src_dir: Path, dest_dir: Path) -> None:
    """Move the entries of ``src_dir`` into ``dest_dir``; directories present in both are merged."""
    for entry in sorted(src_dir.iterdir()):
        target = dest_dir / entry.name
        if entry.is_dir() and not entry.is_symlink() and target.is_dir() and not target.is_symlink():
            _merge_into(entry, target)
        elif target.is_dir() and not target.is_symlink():
            raise ValueError(f"cannot replace directory {target} with the file {entry.name} from the archive")
        else:
            os.replace(entry, target)

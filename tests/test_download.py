"""Download, verification and extraction against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import tarfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from conftest import write_librispeech_split
from summarymixing.corpora.fetch import extract_tar, fetch, part_path, split_checksum
from summarymixing.corpora.librispeech import download_librispeech
from summarymixing.io import file_checksum, md5sum
from summarymixing.stages import download as download_stage

REPO = Path(__file__).resolve().parents[1]
TRANSCRIPTS = {"19-198-0000": "HELLO WORLD", "19-198-0001": "IT'S A TEST", "26-495-0000": "ANOTHER ONE"}


class ArchiveServer(ThreadingHTTPServer):
    """Serves the files of ``root``; records every request's path and Range header.

    ``support_range``: answer ``Range: bytes=N-`` with 206 (else ignore it and answer 200).
    ``truncate_responses``: that many next responses declare the full Content-Length but send only
    half of the body, then close the connection.
    """

    def __init__(self, root: Path, support_range: bool = True) -> None:
        super().__init__(("127.0.0.1", 0), ArchiveHandler)
        self.root = root
        self.support_range = support_range
        self.truncate_responses = 0
        self.requests: list[tuple[str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ArchiveHandler(BaseHTTPRequestHandler):
    server: ArchiveServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        range_header = self.headers.get("Range")
        self.server.requests.append((self.path, range_header))
        path = self.server.root / urllib.parse.unquote(self.path.lstrip("/"))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if self.server.support_range and range_header:
            start = int(re.fullmatch(r"bytes=(\d+)-", range_header).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.truncate_responses > 0:
            self.server.truncate_responses -= 1
            body = body[: len(body) // 2]  # HTTP/1.0: the connection closes when we return
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ArchiveServer]]:
    """Start an ``ArchiveServer`` in a thread; all are shut down after the test."""
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    servers: list[ArchiveServer] = []

    def start(root: Path, support_range: bool = True) -> ArchiveServer:
        server = ArchiveServer(root, support_range)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def make_archive(archive_dir: Path, split: str, build_dir: Path, content_split: str | None = None,
                 base_url: str | None = None) -> dict[str, Any]:
    """An openslr-style ``<split>.tar.gz`` (members under ``LibriSpeech/<content_split or split>/``) and its
    ``source.json`` entry (``url`` = ``base_url/<file>``, else the local path)."""
    tree = build_dir / split / "LibriSpeech"
    write_librispeech_split(tree, content_split or split, TRANSCRIPTS)
    (tree / "README.TXT").write_text("a tiny LibriSpeech lookalike\n")
    archive_dir.mkdir(parents=True, exist_ok=True)
    archive = archive_dir / f"{split}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, arcname="LibriSpeech")
    url = f"{base_url}/{archive.name}" if base_url else str(archive)
    return {"file": archive.name, "url": url, "checksum": f"md5:{md5sum(archive)}", "bytes": archive.stat().st_size}


def md5_of(entry: dict[str, Any]) -> str:
    return entry["checksum"].removeprefix("md5:")


def assert_split_extracted(archive_dir: Path, split: str) -> None:
    split_dir = archive_dir / "LibriSpeech" / split
    assert (archive_dir / ".completed").is_file()
    assert (split_dir / "19" / "198" / "19-198-0000.flac").is_file()
    assert (split_dir / "26" / "495" / "26-495.trans.txt").read_text().startswith("26-495-0000 ANOTHER ONE")


def test_download_verify_extract_then_skip(tmp_path: Path, serve: Callable[..., ArchiveServer]) -> None:
    remote = tmp_path / "remote"
    server = serve(remote)
    archives = {split: make_archive(remote, split, tmp_path / "build", base_url=server.url) for split in ("dev-clean", "test-clean")}
    archives["test-clean"]["bytes"] = None  # source.json may not know the size
    archives_dir = tmp_path / "archives"

    for split, entry in archives.items():
        target = tmp_path / "corpus" / split
        assert download_librispeech(entry, archives_dir, target) == target
        assert_split_extracted(target, split)
        assert (target / "LibriSpeech" / "README.TXT").is_file()
        assert md5sum(archives_dir / entry["file"]) == md5_of(entry)
        assert not part_path(archives_dir / entry["file"]).exists()
        assert not [p for p in target.rglob("*.extracting")]
    requests_after_first_run = len(server.requests)

    for split, entry in archives.items():
        download_librispeech(entry, archives_dir, tmp_path / "corpus" / split)
    assert len(server.requests) == requests_after_first_run


def test_corrupted_archive_is_rejected_and_deleted(tmp_path: Path, serve: Callable[..., ArchiveServer]) -> None:
    remote = tmp_path / "remote"
    server = serve(remote)
    entry = make_archive(remote, "dev-clean", tmp_path / "build", base_url=server.url)
    served = remote / entry["file"]
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0xFF
    served.write_bytes(bytes(data))
    target, archives_dir = tmp_path / "corpus" / "dev-clean", tmp_path / "archives"

    with pytest.raises(ValueError, match=rf"md5 mismatch for {re.escape(entry['url'])}") as excinfo:
        download_librispeech(entry, archives_dir, target)

    assert md5_of(entry) in str(excinfo.value) and md5sum(served) in str(excinfo.value)
    assert not (target / "LibriSpeech" / "dev-clean").exists()
    assert not (archives_dir / entry["file"]).exists()
    assert not part_path(archives_dir / entry["file"]).exists()


def test_interrupted_download_resumes_with_range(tmp_path: Path, serve: Callable[..., ArchiveServer]) -> None:
    entry = make_archive(tmp_path / "remote", "dev-clean", tmp_path / "build")
    server = serve(tmp_path / "remote")
    server.truncate_responses = 1
    dest = tmp_path / "archives" / entry["file"]

    fetch(f"{server.url}/{entry['file']}", dest, entry["checksum"], entry["bytes"], backoff_s=0)

    assert md5sum(dest) == md5_of(entry)
    assert [r for _, r in server.requests] == [None, f"bytes={entry['bytes'] // 2}-"]


def test_partial_file_is_resumed_by_the_next_call(tmp_path: Path, serve: Callable[..., ArchiveServer]) -> None:
    entry = make_archive(tmp_path / "remote", "dev-clean", tmp_path / "build")
    server = serve(tmp_path / "remote")
    server.truncate_responses = 1
    url, dest = f"{server.url}/{entry['file']}", tmp_path / "archives" / entry["file"]

    with pytest.raises(ConnectionError, match="resumes"):
        fetch(url, dest, entry["checksum"], retries=1)
    half = entry["bytes"] // 2
    assert part_path(dest).stat().st_size == half and not dest.exists()

    fetch(url, dest, entry["checksum"])

    assert md5sum(dest) == md5_of(entry)
    assert server.requests[-1][1] == f"bytes={half}-"
    assert not part_path(dest).exists()


def test_server_ignoring_range_restarts_from_scratch(tmp_path: Path, serve: Callable[..., ArchiveServer]) -> None:
    entry = make_archive(tmp_path / "remote", "dev-clean", tmp_path / "build")
    server = serve(tmp_path / "remote", support_range=False)
    dest = tmp_path / "archives" / entry["file"]
    dest.parent.mkdir()
    part_path(dest).write_bytes(b"garbage from an older attempt")

    fetch(f"{server.url}/{entry['file']}", dest, entry["checksum"])

    assert md5sum(dest) == md5_of(entry)
    assert server.requests[0][1] == "bytes=29-"


def test_complete_partial_file_is_not_downloaded_again(tmp_path: Path, serve: Callable[..., ArchiveServer]) -> None:
    entry = make_archive(tmp_path / "remote", "dev-clean", tmp_path / "build")
    server = serve(tmp_path / "remote")
    url, dest = f"{server.url}/{entry['file']}", tmp_path / "archives" / entry["file"]
    dest.parent.mkdir()
    part_path(dest).write_bytes((tmp_path / "remote" / entry["file"]).read_bytes())

    fetch(url, dest, entry["checksum"])  # size unknown: the server answers 416 with the total size
    assert md5sum(dest) == md5_of(entry)
    assert [r for _, r in server.requests] == [f"bytes={entry['bytes']}-"]


def test_missing_url_is_not_retried(tmp_path: Path, serve: Callable[..., ArchiveServer]) -> None:
    (tmp_path / "remote").mkdir()
    server = serve(tmp_path / "remote")
    url = f"{server.url}/nope.tar.gz"
    with pytest.raises(FileNotFoundError, match=re.escape(url)):
        fetch(url, tmp_path / "nope.tar.gz", "0" * 32)
    assert len(server.requests) == 1


def _malicious_archive(path: Path, bad: tarfile.TarInfo) -> None:
    with tarfile.open(path, "w:gz") as tar:
        good = tarfile.TarInfo("LibriSpeech/dev-clean/ok.txt")
        good.size = 3
        tar.addfile(good, io.BytesIO(b"ok\n"))
        bad.size = 0 if bad.type == tarfile.SYMTYPE else 5
        tar.addfile(bad, io.BytesIO(b"evil\n") if bad.size else None)


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize(
    "bad",
    [tarfile.TarInfo("../evil"), tarfile.TarInfo("LibriSpeech/../../evil"), tarfile.TarInfo("/tmp/evil"),
     _symlink("LibriSpeech/dev-clean/evil", "../../../../evil")],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-outside"],
)
def test_malicious_archive_is_rejected(tmp_path: Path, bad: tarfile.TarInfo) -> None:
    archive = tmp_path / "malicious.tar.gz"
    _malicious_archive(archive, bad)
    dest = tmp_path / "out" / "corpus"

    with pytest.raises(ValueError, match=rf"malicious\.tar\.gz.*{re.escape(repr(bad.name))}"):
        extract_tar(archive, dest)

    assert list(dest.iterdir()) == []  # not even the good member, nor the staging directory
    assert not [p for p in tmp_path.rglob("*evil*") if p != archive]


def test_malicious_archive_via_download(tmp_path: Path, serve: Callable[..., ArchiveServer]) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    _malicious_archive(remote / "dev-clean.tar.gz", tarfile.TarInfo("../evil"))
    server = serve(remote)
    entry = {"file": "dev-clean.tar.gz", "url": f"{server.url}/dev-clean.tar.gz",
             "checksum": f"md5:{md5sum(remote / 'dev-clean.tar.gz')}", "bytes": None}
    target = tmp_path / "corpus" / "dev-clean"
    with pytest.raises(ValueError, match=r"dev-clean\.tar\.gz.*'\.\./evil'"):
        download_librispeech(entry, tmp_path / "archives", target)
    assert not (target / "LibriSpeech").exists() and not (tmp_path / "evil").exists()


def test_archive_of_the_wrong_split_is_an_error(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    entry = make_archive(remote, "test-clean", tmp_path / "build", content_split="dev-clean")
    target = tmp_path / "corpus" / "test-clean"
    with pytest.raises(ValueError, match=r"test-clean\.tar\.gz: has no LibriSpeech/test-clean"):
        download_librispeech(entry, tmp_path / "archives", target)
    assert not (target / "LibriSpeech").exists()


@pytest.mark.parametrize("kind", ["absolute-path", "relative-path", "file-url"])
def test_local_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.chdir(tmp_path)
    remote = tmp_path / "data" / "source"
    entry = make_archive(remote, "dev-clean", tmp_path / "build")
    entry["url"] = {"absolute-path": str(remote), "relative-path": "data/source", "file-url": remote.as_uri()}[kind] + "/dev-clean.tar.gz"
    archives_dir = tmp_path / "archives"

    target = download_librispeech(entry, archives_dir, tmp_path / "corpus" / "dev-clean")

    assert_split_extracted(target, "dev-clean")
    assert md5sum(archives_dir / entry["file"]) == md5_of(entry)
    assert not part_path(archives_dir / entry["file"]).exists()


def test_missing_local_archive(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.tar.gz"):
        fetch(str(tmp_path / "nope.tar.gz"), tmp_path / "archives" / "nope.tar.gz", "0" * 32)


def test_download_stage_is_rerunnable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    dataset = "librispeech_replica"
    args = argparse.Namespace(dataset=dataset, archive="dev-clean", params=str(REPO / "params.yaml"))
    with pytest.raises(FileNotFoundError, match=f"summarymixing source --dataset {dataset}"):
        download_stage.run(args)

    source_dir = Path("data", dataset, "source")
    splits = ["train-clean-100", "dev-clean"]
    archives = {split: make_archive(source_dir, split, tmp_path / "build") for split in splits}
    (source_dir / "source.json").write_text(json.dumps(
        {"dataset": dataset, "corpus": "librispeech", "source": "replica", "archives": archives}
    ))
    caplog.set_level("INFO")
    download_stage.run(args)
    assert_split_extracted(Path("data", dataset, "corpus", "dev-clean"), "dev-clean")
    assert not Path("data", dataset, "corpus", "train-clean-100").exists()  # one archive per job

    caplog.clear()
    download_stage.run(args)
    assert "skipping" in caplog.text
    with pytest.raises(ValueError, match="no archive 'dev-other'"):
        download_stage.run(argparse.Namespace(dataset=dataset, archive="dev-other", params=str(REPO / "params.yaml")))


def test_checksum_formats() -> None:
    assert split_checksum("sha256:" + "AB" * 32) == ("sha256", "ab" * 32)
    assert split_checksum("0123abcd" * 4) == ("md5", "0123abcd" * 4)
    with pytest.raises(ValueError, match="expected 'md5:<hex>', 'sha256:<hex>' or 'gitsha1:<hex>'"):
        split_checksum("crc32:12345678abcd")


def test_git_blob_ids_and_published_prefixes_verify_files(tmp_path: Path) -> None:
    """A file pinned by its git blob id (``git hash-object``) or by a published digest prefix."""
    path = tmp_path / "devel.jsonl"
    path.write_bytes(b'{"slurp_id": 1}\n')
    blob = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True).stdout.strip()
    assert file_checksum(path, "gitsha1") == blob
    fetch(str(path), tmp_path / "a" / "devel.jsonl", f"gitsha1:{blob}")
    prefix = md5sum(path)[:12]
    fetch(str(path), tmp_path / "b" / "devel.jsonl", f"md5:{prefix}")
    with pytest.raises(ValueError, match="md5 mismatch"):
        fetch(str(path), tmp_path / "c" / "devel.jsonl", "md5:" + ("0" if prefix[0] != "0" else "1") + prefix[1:])
    with pytest.raises(ValueError, match="expected 'md5:<hex>'"):
        split_checksum("md5:0123")  # too short a prefix to check anything

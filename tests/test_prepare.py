"""lhotse manifests of a tiny LibriSpeech-layout tree, transcript validation and the prepare stage."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import pytest

from summarymixing.corpora import MANIFEST_KINDS, manifest_file
from summarymixing.corpora.librispeech import prepare_librispeech
from summarymixing.stages import prepare as prepare_stage

REPO = Path(__file__).resolve().parents[1]
DEV = {"19-198-0000": "HELLO WORLD", "19-198-0001": "IT'S A TEST", "26-495-0000": "ANOTHER ONE", "26-495-0001": "AND MORE"}
TEST = {"61-70968-0000": "HE BEGAN A CONFUSED COMPLAINT", "121-121726-0000": "ALSO A POPULAR CONTRIVANCE"}

WriteSplit = Callable[[Path, str, dict[str, str]], None]


def test_prepare_writes_recordings_supervisions_cuts(tmp_path: Path, librispeech_split: WriteSplit) -> None:
    from lhotse import load_manifest

    archives = {"dev-clean": tmp_path / "corpus" / "dev-clean", "test-clean": tmp_path / "corpus" / "test-clean"}
    librispeech_split(archives["dev-clean"] / "LibriSpeech", "dev-clean", DEV)
    librispeech_split(archives["test-clean"] / "LibriSpeech", "test-clean", TEST)

    for split, expected in (("dev-clean", DEV), ("test-clean", TEST)):
        output_dir = tmp_path / "manifests" / split
        cuts = prepare_librispeech(archives, split, output_dir)
        recordings, supervisions = load_manifest(manifest_file(output_dir, "recordings")), load_manifest(manifest_file(output_dir, "supervisions"))
        assert sorted(recordings.ids) == sorted(expected)
        assert all(r.sampling_rate == 16_000 and r.duration > 0 for r in recordings)
        assert {s.id: s.text for s in supervisions} == expected
        assert {s.id: s.speaker for s in supervisions} == {u: u.split("-")[0] for u in expected}
        assert sorted(cuts.ids) == sorted(expected)
        assert all(len(c.supervisions) == 1 and c.supervisions[0].recording_id == c.recording_id for c in cuts)
        for kind in MANIFEST_KINDS:
            assert len(load_manifest(manifest_file(output_dir, kind))) == len(expected), kind
    assert sorted(p.name for p in (tmp_path / "manifests").iterdir()) == ["dev-clean", "test-clean"]  # no temporary left


@pytest.mark.parametrize("bad_text", ["hello world", "HELLO, WORLD", "HELLO WORLD.", "ROOM 101", ""])
def test_transcript_breaking_conventions_names_file_and_line(
    tmp_path: Path, librispeech_split: WriteSplit, bad_text: str
) -> None:
    librispeech_split(tmp_path / "dev-clean" / "LibriSpeech", "dev-clean", {**DEV, "26-495-0001": bad_text})
    with pytest.raises(ValueError, match=r"26-495\.trans\.txt:2: transcript"):
        prepare_librispeech({"dev-clean": tmp_path / "dev-clean"}, "dev-clean", tmp_path / "manifests")
    assert not (tmp_path / "manifests").exists()


def test_missing_audio_and_empty_split_are_errors(tmp_path: Path, librispeech_split: WriteSplit) -> None:
    archives = {split: tmp_path / split for split in ("dev-clean", "test-clean", "test-other")}
    librispeech_split(archives["dev-clean"] / "LibriSpeech", "dev-clean", DEV)
    (archives["dev-clean"] / "LibriSpeech" / "dev-clean" / "19" / "198" / "19-198-0001.flac").unlink()
    with pytest.raises(ValueError, match=r"19-198\.trans\.txt:2: no audio file"):
        prepare_librispeech(archives, "dev-clean", tmp_path / "manifests")

    (archives["test-clean"] / "LibriSpeech" / "test-clean").mkdir(parents=True)
    with pytest.raises(ValueError, match="no utterances"):
        prepare_librispeech(archives, "test-clean", tmp_path / "manifests")
    with pytest.raises(FileNotFoundError, match="test-other"):
        prepare_librispeech(archives, "test-other", tmp_path / "manifests")


def test_failed_prepare_leaves_no_manifest(tmp_path: Path, librispeech_split: WriteSplit, monkeypatch: pytest.MonkeyPatch) -> None:
    from lhotse import CutSet

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    librispeech_split(tmp_path / "dev-clean" / "LibriSpeech", "dev-clean", DEV)
    monkeypatch.setattr(CutSet, "from_manifests", killed)
    with pytest.raises(KeyboardInterrupt):
        prepare_librispeech({"dev-clean": tmp_path / "dev-clean"}, "dev-clean", tmp_path / "manifests")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev-clean"]


def test_prepare_stage_is_rerunnable(
    tmp_path: Path, librispeech_split: WriteSplit, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    dataset = "librispeech_replica"
    args = argparse.Namespace(dataset=dataset, split="dev-clean", params=str(REPO / "params.yaml"))
    with pytest.raises(FileNotFoundError, match=f"summarymixing download --dataset {dataset} --archive dev-clean"):
        prepare_stage.run(args)

    librispeech_split(Path("data", dataset, "corpus", "dev-clean", "LibriSpeech"), "dev-clean", DEV)
    caplog.set_level("INFO")
    prepare_stage.run(args)
    assert all(manifest_file(Path("data", dataset, "manifests", "dev-clean"), kind).is_file() for kind in MANIFEST_KINDS)

    caplog.clear()
    prepare_stage.run(args)
    assert "nothing to do" in caplog.text
    with pytest.raises(ValueError, match="has no split 'dev-noisy'"):
        prepare_stage.run(argparse.Namespace(dataset=dataset, split="dev-noisy", params=str(REPO / "params.yaml")))

"""lhotse manifests of a tiny LibriSpeech-layout tree, transcript validation and the prepare stage."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import pytest

from summarymixing.corpora.librispeech import manifest_paths, prepare_librispeech
from summarymixing.stages import prepare as prepare_stage

REPO = Path(__file__).resolve().parents[1]
DEV = {"19-198-0000": "HELLO WORLD", "19-198-0001": "IT'S A TEST", "26-495-0000": "ANOTHER ONE", "26-495-0001": "AND MORE"}
TEST = {"61-70968-0000": "HE BEGAN A CONFUSED COMPLAINT", "121-121726-0000": "ALSO A POPULAR CONTRIVANCE"}

WriteSplit = Callable[[Path, str, dict[str, str]], None]


def test_prepare_writes_recordings_supervisions_cuts(tmp_path: Path, librispeech_split: WriteSplit) -> None:
    from lhotse import load_manifest

    corpus = tmp_path / "LibriSpeech"
    librispeech_split(corpus, "dev-clean", DEV)
    librispeech_split(corpus, "test-clean", TEST)
    output_dir = tmp_path / "manifests"

    manifests = prepare_librispeech(corpus, output_dir, ["dev-clean", "test-clean"])

    for split, expected in (("dev-clean", DEV), ("test-clean", TEST)):
        recordings, supervisions, cuts = (manifests[split][k] for k in ("recordings", "supervisions", "cuts"))
        assert sorted(recordings.ids) == sorted(expected)
        assert all(r.sampling_rate == 16_000 and r.duration > 0 for r in recordings)
        assert {s.id: s.text for s in supervisions} == expected
        assert {s.id: s.speaker for s in supervisions} == {u: u.split("-")[0] for u in expected}
        assert sorted(cuts.ids) == sorted(expected)
        assert all(len(c.supervisions) == 1 and c.supervisions[0].recording_id == c.recording_id for c in cuts)
        for kind, path in manifest_paths(output_dir, split).items():
            assert len(load_manifest(path)) == len(expected), kind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LibriSpeech", "manifests"]  # no temporary left


@pytest.mark.parametrize("bad_text", ["hello world", "HELLO, WORLD", "HELLO WORLD.", "ROOM 101", ""])
def test_transcript_breaking_conventions_names_file_and_line(
    tmp_path: Path, librispeech_split: WriteSplit, bad_text: str
) -> None:
    corpus = tmp_path / "LibriSpeech"
    librispeech_split(corpus, "dev-clean", {**DEV, "26-495-0001": bad_text})
    with pytest.raises(ValueError, match=r"26-495\.trans\.txt:2: transcript"):
        prepare_librispeech(corpus, tmp_path / "manifests", ["dev-clean"])
    assert not (tmp_path / "manifests").exists()


def test_missing_audio_and_empty_split_are_errors(tmp_path: Path, librispeech_split: WriteSplit) -> None:
    corpus = tmp_path / "LibriSpeech"
    librispeech_split(corpus, "dev-clean", DEV)
    (corpus / "dev-clean" / "19" / "198" / "19-198-0001.flac").unlink()
    with pytest.raises(ValueError, match=r"19-198\.trans\.txt:2: no audio file"):
        prepare_librispeech(corpus, tmp_path / "manifests", ["dev-clean"])

    (corpus / "test-clean").mkdir()
    with pytest.raises(ValueError, match="no utterances"):
        prepare_librispeech(corpus, tmp_path / "manifests", ["test-clean"])
    with pytest.raises(FileNotFoundError, match="test-other"):
        prepare_librispeech(corpus, tmp_path / "manifests", ["test-other"])


def test_failed_prepare_leaves_no_manifest(tmp_path: Path, librispeech_split: WriteSplit, monkeypatch: pytest.MonkeyPatch) -> None:
    from lhotse import CutSet

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    corpus = tmp_path / "LibriSpeech"
    librispeech_split(corpus, "dev-clean", DEV)
    monkeypatch.setattr(CutSet, "from_manifests", killed)
    with pytest.raises(KeyboardInterrupt):
        prepare_librispeech(corpus, tmp_path / "manifests", ["dev-clean"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LibriSpeech"]


def test_prepare_stage_is_rerunnable(
    tmp_path: Path, librispeech_split: WriteSplit, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    dataset = "librispeech_replica"
    args = argparse.Namespace(dataset=dataset, params=str(REPO / "params.yaml"))
    with pytest.raises(FileNotFoundError, match=f"summarymixing download --dataset {dataset}"):
        prepare_stage.run(args)

    splits = ["train-clean-100", "dev-clean", "test-clean", "test-other"]
    for split in splits:
        librispeech_split(Path("data", dataset, "corpus", "LibriSpeech"), split, DEV)
    caplog.set_level("INFO")
    prepare_stage.run(args)
    for split in splits:
        assert all(p.is_file() for p in manifest_paths(Path("data", dataset, "manifests"), split).values())

    caplog.clear()
    prepare_stage.run(args)
    assert "nothing to do" in caplog.text

"""Google Speech Commands v0.02: the recipe (download, 12-class preparation) and its synthetic replica.

A tiny replica (9 speakers, 157 clips, a few seconds of each background noise) is synthesised once per
module and checked for the real layout and formats, list files that agree with TensorFlow's
``which_set``, unseen voices outside training and byte-identical regeneration. The recipe then
downloads it from a 127.0.0.1 HTTP server (sha256-verified, no top-level directory) and prepares the
three splits of the 12-class task; broken copies must fail naming the file.
"""

from __future__ import annotations

import copy
import io
import re
import shutil
import tarfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import soundfile as sf
import yaml

from summarymixing.corpora import Archive, manifest_file, recipe, replica_module
from summarymixing.corpora import speechcommands as sc
from summarymixing.corpora.replica import speechcommands as replica
from summarymixing.io import file_checksum
from test_download import ArchiveServer

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 16_000
TWELVE_CLASSES = (*sc.KEYWORDS, sc.UNKNOWN, sc.SILENCE)
HEX_CLIP_RE = re.compile(r"^(?P<word>[a-z]+)/(?P<speaker>[0-9a-f]{8})_nohash_(?P<n>\d+)\.wav$")
TEST_UNKNOWN_RE = re.compile(r"^_unknown_/(?P<word>[a-z]+)_(?P<speaker>[0-9a-f]{8})_nohash_0\.wav\.wav$")


def tiny_replica_config() -> dict[str, Any]:
    """A replica block with a handful of speakers: 133 clips in the main archive, 24 in the test set."""
    voices = yaml.safe_load((REPO / "params.yaml").read_text())["datasets"]["librispeech_replica"]["replica"]
    return {
        "seed": 11,
        "speakers": {"training": 3, "validation": 2, "testing": 2, "test_set": 2},
        "keyword_clips": 1,
        "other_words": 9,
        "seen_voices": list(voices["seen_voices"]),
        "unseen_voices": list(voices["unseen_voices"]),
        "variants": list(voices["variants"]),
        "rate_wpm": [120, 190],
        "pitch": [25, 75],
        "snr_db": [15, 40],
        "background_seconds": [3, 4],
        "workers": 2,
    }


@pytest.fixture(scope="module")
def tiny_replica(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out_dir = tmp_path_factory.mktemp("replica")
    return out_dir, replica.synthesize(out_dir, tiny_replica_config())


def archive_members(archive: Path) -> dict[str, tuple[tarfile.TarInfo, bytes | None]]:
    """Every member of ``archive`` in order, with the content of regular files."""
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: (m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}


def read_wav(data: bytes) -> tuple[np.ndarray, Any]:
    info = sf.info(io.BytesIO(data))
    audio, _ = sf.read(io.BytesIO(data), dtype="int16")
    return audio, info


def entries(out_dir: Path, summary: dict[str, Any], base_url: str | None = None) -> dict[str, dict[str, Any]]:
    """source.json-style entries of the replica's archives (served from ``base_url``, else local paths)."""
    return {
        name: {**archive, "url": f"{base_url}/{archive['file']}" if base_url else str(out_dir / archive["file"])}
        for name, archive in summary["archives"].items()
    }


@pytest.fixture(scope="module")
def tiny_corpus(tiny_replica: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny replica downloaded (from local paths) and unpacked: archive name -> its directory."""
    out_dir, summary = tiny_replica
    work = tmp_path_factory.mktemp("corpus")
    return {
        name: sc.download_speechcommands(entry, work / "archives", work / "corpus" / name)
        for name, entry in entries(out_dir, summary).items()
    }


def prepare(archive_dirs: dict[str, Path], split: str, output_dir: Path, **options: Any):
    return sc.prepare_speechcommands({name: archive_dirs[name] for name in sc.SPLITS[split]}, split, output_dir, **options)


def labels_of(cuts) -> Counter:
    return Counter(cut.supervisions[0].custom["label"] for cut in cuts)


# ---------------------------------------------------------------------------------------------------
# The recipe's constants


def test_recipe_constants_follow_the_contract() -> None:
    assert recipe("speechcommands") is sc and replica_module("speechcommands") is replica
    assert replica.WORKER_KEYS == ("workers",)
    main, test = sc.ARCHIVES["speech_commands_v0.02"], sc.ARCHIVES["speech_commands_test_set_v0.02"]
    assert main == Archive(
        "speech_commands_v0.02.tar.gz", "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
        "sha256:af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58", 2_428_923_189,
    )  # fmt: skip
    assert test == Archive(
        "speech_commands_test_set_v0.02.tar.gz", "http://download.tensorflow.org/data/speech_commands_test_set_v0.02.tar.gz",
        "sha256:cc2a00c1147c2254e9be3fa0f779d8c17421dc349b86366567a8edfa9acd51df", 112_563_277,
    )  # fmt: skip
    assert sc.SPLITS == {
        "train": ("speech_commands_v0.02",), "valid": ("speech_commands_v0.02",), "test": ("speech_commands_test_set_v0.02",)
    }  # fmt: skip
    assert len(sc.WORDS) == len(set(sc.WORDS)) == 35 and sc.WORDS[:10] == sc.KEYWORDS


def test_which_set_reproduces_the_official_lists() -> None:
    # entries of the real validation_list.txt and testing_list.txt
    for name in ("cat/8b775397_nohash_0.wav", "go/6a27a9bf_nohash_0.wav", "four/fd32732a_nohash_1.wav"):
        assert sc.which_set(name) == "validation", name
    for name in ("cat/2aa787cf_nohash_0.wav", "go/0ea0e2f4_nohash_1.wav", "four/27c30960_nohash_0.wav"):
        assert sc.which_set(name) == "testing", name
    # a speaker's clips share a partition, whatever the word and repetition
    assert {sc.which_set(f"{w}/8b775397_nohash_{n}.wav") for w in ("tree", "yes") for n in range(3)} == {"validation"}
    partitions = Counter(sc.which_set(f"x/{i:08x}_nohash_0.wav") for i in range(0, 2**32, 2**32 // 4000))
    assert 0.08 < partitions["validation"] / 4000 < 0.12 and 0.08 < partitions["testing"] / 4000 < 0.12


# ---------------------------------------------------------------------------------------------------
# The replica


def test_replica_has_the_real_layout(tiny_replica: tuple[Path, dict[str, Any]]) -> None:
    out_dir, summary = tiny_replica
    cfg = tiny_replica_config()
    assert set(summary["archives"]) == set(sc.ARCHIVES)
    for name, archive in summary["archives"].items():
        path = out_dir / archive["file"]
        assert archive["file"] == sc.ARCHIVES[name].file
        assert archive["checksum"] == f"sha256:{file_checksum(path, 'sha256')}" and archive["bytes"] == path.stat().st_size
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(a.file for a in sc.ARCHIVES.values()), "leftovers"

    main = archive_members(out_dir / "speech_commands_v0.02.tar.gz")
    assert list(main) == sorted(main), "members are not sorted"
    for info, _ in main.values():
        assert info.mtime == 0 and info.uid == info.gid == 0 and (info.isfile() or info.isdir())
    top = {name.split("/")[0] for name in main}
    assert top == {*sc.WORDS, "_background_noise_", "LICENSE", "README.md", "validation_list.txt", "testing_list.txt"}
    assert "SYNTHETIC REPLICA" in main["README.md"][1].decode() and "synthetic" in main["LICENSE"][1].decode()
    background = {n.split("/", 1)[1] for n in main if n.startswith("_background_noise_/")}
    assert background == {*sc.BACKGROUND_NOISE_FILES, "README.md"}
    levels = []
    for file_name in sc.BACKGROUND_NOISE_FILES:
        audio, info = read_wav(main[f"_background_noise_/{file_name}"][1])
        assert info.samplerate == SAMPLE_RATE and info.channels == 1 and info.subtype == "PCM_16"
        assert cfg["background_seconds"][0] <= len(audio) / SAMPLE_RATE <= cfg["background_seconds"][1]
        levels.append(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert len(set(np.round(levels))) == 6 and min(levels) > 10, "the six noises should differ and be audible"

    clips = [n for n in main if n.endswith(".wav") and not n.startswith("_background_noise_/")]
    assert len(clips) == 7 * (10 * cfg["keyword_clips"] + cfg["other_words"])
    assert all(HEX_CLIP_RE.match(n) for n in clips), [n for n in clips if not HEX_CLIP_RE.match(n)]
    assert {HEX_CLIP_RE.match(n)["word"] for n in clips} == set(sc.WORDS)
    short = 0
    for name in clips:
        audio, info = read_wav(main[name][1])
        assert info.samplerate == SAMPLE_RATE and info.channels == 1 and info.subtype == "PCM_16" and info.format == "WAV"
        assert 0.1 < len(audio) / SAMPLE_RATE <= 1.0 and np.abs(audio).max() > 0.03 * 32767, name
        short += len(audio) < SAMPLE_RATE
    assert 0 < short < len(clips) / 3, "most clips last one second, some are shorter"

    test = archive_members(out_dir / "speech_commands_test_set_v0.02.tar.gz")
    assert list(test) == sorted(test)
    assert {name.split("/")[0] for name in test} == {*TWELVE_CLASSES, "LICENSE", "README.md"}
    by_class = Counter(name.split("/")[0] for name in test if name.endswith(".wav"))
    assert by_class == {label: cfg["speakers"]["test_set"] for label in TWELVE_CLASSES}, "the test set is balanced"
    for name, (info, data) in test.items():
        if not info.isfile() or name in ("LICENSE", "README.md"):
            continue
        folder = name.split("/")[0]
        if folder == sc.UNKNOWN:
            assert TEST_UNKNOWN_RE.match(name) and TEST_UNKNOWN_RE.match(name)["word"] not in sc.KEYWORDS, name
        elif folder == sc.SILENCE:
            assert re.fullmatch(r"_silence_/\d+\.wav", name), name
        else:
            assert HEX_CLIP_RE.match(name), name
        audio, wav = read_wav(data)
        assert wav.samplerate == SAMPLE_RATE and wav.channels == 1 and len(audio) <= SAMPLE_RATE


def test_list_files_agree_with_which_set(tiny_replica: tuple[Path, dict[str, Any]]) -> None:
    out_dir, _ = tiny_replica
    main = archive_members(out_dir / "speech_commands_v0.02.tar.gz")
    clips = [n for n in main if HEX_CLIP_RE.match(n)]
    lists = {
        partition: main[file_name][1].decode().splitlines()
        for partition, file_name in (("validation", "validation_list.txt"), ("testing", "testing_list.txt"))
    }
    for partition, listed in lists.items():
        assert listed == sorted(n for n in clips if sc.which_set(n) == partition)
    speakers = {p: {HEX_CLIP_RE.match(n)["speaker"] for n in clips if sc.which_set(n) == p} for p in ("training", *lists)}
    assert {p: len(s) for p, s in speakers.items()} == {"training": 3, "validation": 2, "testing": 2}

    test = archive_members(out_dir / "speech_commands_test_set_v0.02.tar.gz")
    test_speakers = {HEX_CLIP_RE.match(n)["speaker"] for n in test if HEX_CLIP_RE.match(n)}
    assert len(test_speakers) == 2 and not test_speakers & set().union(*speakers.values())
    assert {sc.which_set(f"{s}_nohash_0.wav") for s in test_speakers} == {"testing"}, "test-set speakers are testing speakers"


def test_unseen_voices_outside_training(tiny_replica: tuple[Path, dict[str, Any]]) -> None:
    out_dir, _ = tiny_replica
    cfg = tiny_replica_config()
    plan = replica.plan_replica(cfg)
    for speaker in plan.speakers:
        expected = cfg["seen_voices"] if speaker.partition == "training" else cfg["unseen_voices"]
        assert speaker.voice in expected, speaker
    # the plan's speakers are the archives' speakers, in the partitions which_set gives them
    main = archive_members(out_dir / "speech_commands_v0.02.tar.gz")
    by_id = {s.speaker_id: s for s in plan.speakers}
    for name in main:
        if HEX_CLIP_RE.match(name):
            assert by_id[HEX_CLIP_RE.match(name)["speaker"]].partition == sc.which_set(name)
    assert sum(s.partition == "test_set" for s in plan.speakers) == 2


def test_synthesis_is_byte_identical(tiny_replica: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out_dir, summary = tiny_replica
    cfg = tiny_replica_config()
    cfg["workers"] = 1  # the number of processes must not change the output
    again = replica.synthesize(tmp_path, cfg)
    assert again["archives"] == summary["archives"]
    for archive in summary["archives"].values():
        assert (tmp_path / archive["file"]).read_bytes() == (out_dir / archive["file"]).read_bytes()


def test_plan_depends_on_the_seed() -> None:
    cfg = tiny_replica_config()
    assert replica.plan_replica(cfg) == replica.plan_replica(cfg)
    ids = [s.speaker_id for s in replica.plan_replica(cfg).speakers]
    cfg["seed"] += 1
    assert [s.speaker_id for s in replica.plan_replica(cfg).speakers] != ids


def test_a_word_is_placed_in_a_one_second_window() -> None:
    speaker = replica.ReplicaSpeaker("0123abcd", "training", "en", "m1", 150, 50)
    t = np.arange(4000) / SAMPLE_RATE
    speech = np.concatenate([np.zeros(3000), 0.5 * np.sin(2 * np.pi * 300 * t), np.zeros(6000)])  # espeak-like padding
    clip = replica.ReplicaClip(
        "speech_commands_v0.02", "yes/0123abcd_nohash_0.wav", "yes", speaker, 150, 50,
        seed=3, level=0.4, position=1.0, end=None, snr_db=100.0, noise="pink",
    )  # fmt: skip
    audio = replica.render_clip(speech, clip).astype(np.float64) / 32767
    assert len(audio) == SAMPLE_RATE and abs(np.abs(audio).max() - 0.4) < 0.01
    loud = np.flatnonzero(np.abs(audio) > 0.1)
    assert loud[-1] > SAMPLE_RATE - 400 and loud[0] > SAMPLE_RATE - 4400, "position 1.0: the word ends the window"
    early = replica.render_clip(speech, replica.ReplicaClip(**{**clip.__dict__, "position": 0.0, "end": 0.0}))
    assert abs(len(early) - (4000 + 2 * replica.MARGIN_SAMPLES)) <= 2, "end 0.0: the clip stops after the word"
    noisy = replica.render_clip(speech, replica.ReplicaClip(**{**clip.__dict__, "snr_db": 10.0}))
    noise_rms = np.sqrt(np.mean((noisy[: SAMPLE_RATE - 5000].astype(np.float64) / 32767) ** 2))
    word_power = 0.4**2 / 2 * 4000 / (4000 + 2 * replica.MARGIN_SAMPLES)  # the tone, over the trimmed word
    assert abs(noise_rms / np.sqrt(word_power / 10) - 1) < 0.3, "noise at 10 dB below the word"


def test_vocal_tract_warp_scales_frequencies_and_duration() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    warped = replica.warp_formants(np.sin(2 * np.pi * 1000 * t), 1.1)
    assert abs(len(warped) - SAMPLE_RATE / 1.1) <= 1
    peak_hz = np.argmax(np.abs(np.fft.rfft(warped))) * SAMPLE_RATE / len(warped)
    assert abs(peak_hz - 1100) < 5


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.pop("speakers"), "missing speakers"),
        (lambda c: c.update(colour="red"), "unknown key.*colour"),
        (lambda c: c["speakers"].pop("test_set"), "speakers must give a count"),
        (lambda c: c["speakers"].update(validation=0), "speakers.validation"),
        (lambda c: c.update(keyword_clips=0), "keyword_clips"),
        (lambda c: c.update(other_words=26), "other_words"),
        (lambda c: c.update(other_words=2), "other_words.*cannot cover"),
        (lambda c: c.update(unseen_voices=["en-us-nyc", "xx-nowhere"]), "unseen_voices.*xx-nowhere"),
        (lambda c: c.update(unseen_voices=["en"]), "both seen and unseen: en"),
        (lambda c: c.update(variants=["q9"]), "variants.*q9"),
        (lambda c: c.update(rate_wpm=[190, 120]), "rate_wpm"),
        (lambda c: c.update(background_seconds=[0.5, 1]), "background_seconds"),
        (lambda c: c.update(workers=0), "workers"),
    ],
)
def test_replica_config_errors_name_the_key(change: Callable[[dict[str, Any]], Any], message: str) -> None:
    cfg = copy.deepcopy(tiny_replica_config())
    change(cfg)
    with pytest.raises(ValueError, match=f"replica config: .*{message}"):
        replica.plan_replica(cfg)


# ---------------------------------------------------------------------------------------------------
# prepare_speechcommands on the replica


def test_prepare_builds_the_twelve_class_task(tiny_corpus: dict[str, Path], tmp_path: Path) -> None:
    from lhotse import CutSet, RecordingSet, SupervisionSet

    root = tiny_corpus["speech_commands_v0.02"] / "speech_commands_v0.02"
    validation = set((root / "validation_list.txt").read_text().split())
    testing = set((root / "testing_list.txt").read_text().split())
    cuts = {split: prepare(tiny_corpus, split, tmp_path / split, seed=5) for split in sc.SPLITS}

    # train: 3 speakers x 10 keywords; unknown and silence are 10 % of that; valid: 2 speakers
    assert labels_of(cuts["train"]) == {**{kw: 3 for kw in sc.KEYWORDS}, sc.UNKNOWN: 3, sc.SILENCE: 3}
    assert labels_of(cuts["valid"]) == {**{kw: 2 for kw in sc.KEYWORDS}, sc.UNKNOWN: 2, sc.SILENCE: 2}
    assert labels_of(cuts["test"]) == {label: 2 for label in TWELVE_CLASSES}
    for split, split_cuts in cuts.items():
        assert [c.id for c in split_cuts] == sorted(c.id for c in split_cuts)
        for kind in ("recordings", "supervisions", "cuts"):
            assert manifest_file(tmp_path / split, kind).is_file()
        assert [c.id for c in CutSet.from_file(manifest_file(tmp_path / split, "cuts"))] == [c.id for c in split_cuts]
        assert len(SupervisionSet.from_file(manifest_file(tmp_path / split, "supervisions"))) == len(split_cuts)
        for cut in split_cuts:
            (supervision,) = cut.supervisions
            label, word = supervision.custom["label"], supervision.custom["word"]
            assert label in TWELVE_CLASSES and supervision.text == word and supervision.start == 0
            assert cut.duration <= 1.0
            if label == sc.SILENCE:
                assert word == sc.SILENCE and supervision.speaker is None
                continue
            assert label == (word if word in sc.KEYWORDS else sc.UNKNOWN) and re.fullmatch(r"[0-9a-f]{8}", supervision.speaker)
            if split != "test" or label != sc.UNKNOWN:  # the test set's unknown clips are checked below
                assert cut.id == f"{word}/{supervision.speaker}_nohash_0"

    # train and valid follow the list files; train has no listed clip, valid every listed keyword clip
    clip_ids = {split: {c.id for c in cuts[split] if c.supervisions[0].custom["label"] != sc.SILENCE} for split in cuts}
    assert not {f"{i}.wav" for i in clip_ids["train"]} & (validation | testing)
    assert {f"{i}.wav" for i in clip_ids["valid"]} <= validation
    assert {v for v in validation if v.split("/")[0] in sc.KEYWORDS} <= {f"{i}.wav" for i in clip_ids["valid"]}

    # silence: distinct one-second crops, running_tap for valid and the other noises for train
    for split, noises in (("train", set(sc.BACKGROUND_NOISE_FILES) - {"running_tap.wav"}), ("valid", {"running_tap.wav"})):
        crops = [c for c in cuts[split] if c.supervisions[0].custom["label"] == sc.SILENCE]
        assert len({c.id for c in crops}) == len(crops)
        for crop in crops:
            assert crop.id == f"{crop.recording.id}/{round(crop.start * SAMPLE_RATE)}" and crop.duration == 1.0
            assert f"{crop.recording.id.split('/')[1]}.wav" in noises
            assert crop.end <= crop.recording.duration and crop.load_audio().shape == (1, SAMPLE_RATE)
    recordings = RecordingSet.from_file(manifest_file(tmp_path / "train", "recordings"))
    assert {r.id for r in recordings if r.id.startswith("_background")} == {
        f"_background_noise_/{n.removesuffix('.wav')}" for n in sc.BACKGROUND_NOISE_FILES if n != "running_tap.wav"
    }
    supervisions = {s.id: s for s in SupervisionSet.from_file(manifest_file(tmp_path / "train", "supervisions"))}
    crop = next(c for c in cuts["train"] if c.supervisions[0].custom["label"] == sc.SILENCE)
    assert supervisions[crop.id].start == crop.start, "supervisions.jsonl.gz times a crop within its noise recording"

    # test: unknown words parsed from <word>_<speaker>_nohash_<n>.wav.wav; silence ids are the file names
    for cut in cuts["test"]:
        supervision = cut.supervisions[0]
        if supervision.custom["label"] == sc.UNKNOWN:
            assert cut.id == f"_unknown_/{supervision.text}_{supervision.speaker}_nohash_0"
            assert supervision.text in sc.WORDS and supervision.text not in sc.KEYWORDS
        elif supervision.custom["label"] == sc.SILENCE:
            assert re.fullmatch(r"_silence_/\d+", cut.id)


def test_unknown_subset_and_crops_are_deterministic(tiny_corpus: dict[str, Path], tmp_path: Path) -> None:
    def chosen(seed: int, run: str) -> tuple[list[str], list[str]]:
        cuts = prepare(tiny_corpus, "train", tmp_path / run, seed=seed, unknown_fraction=0.5, silence_fraction=0.5)
        by_label = lambda label: [c.id for c in cuts if c.supervisions[0].custom["label"] == label]  # noqa: E731
        return by_label(sc.UNKNOWN), by_label(sc.SILENCE)

    unknown, silence = chosen(1, "a")
    assert len(unknown) == len(silence) == 15
    assert chosen(1, "b") == (unknown, silence)
    other_unknown, other_silence = chosen(2, "c")
    assert other_unknown != unknown and other_silence != silence
    # more unknown clips than there are: all of them
    cuts = prepare(tiny_corpus, "train", tmp_path / "d", unknown_fraction=10.0, silence_fraction=0.0)
    assert labels_of(cuts) == {**{kw: 3 for kw in sc.KEYWORDS}, sc.UNKNOWN: 27}


# ---------------------------------------------------------------------------------------------------
# Bad input


@pytest.fixture
def broken_copy(tiny_corpus: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    """A writable copy of the unpacked tiny corpus."""
    copies = {}
    for name, directory in tiny_corpus.items():
        copies[name] = tmp_path / "copy" / name
        shutil.copytree(directory, copies[name])
    return copies


def test_missing_list_file_is_named(broken_copy: dict[str, Path], tmp_path: Path) -> None:
    lists = broken_copy["speech_commands_v0.02"] / "speech_commands_v0.02" / "testing_list.txt"
    lists.unlink()
    with pytest.raises(ValueError, match=re.escape(f"{lists}: list file not found")):
        prepare(broken_copy, "train", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_list_entry_without_a_file_is_named(broken_copy: dict[str, Path], tmp_path: Path) -> None:
    root = broken_copy["speech_commands_v0.02"] / "speech_commands_v0.02"
    listed = (root / "validation_list.txt").read_text().splitlines()
    (root / listed[1]).unlink()
    with pytest.raises(ValueError, match=re.escape(f"{root / 'validation_list.txt'}:2: {listed[1]} is listed but")):
        prepare(broken_copy, "valid", tmp_path / "out")


def test_wrong_sample_rate_is_named(broken_copy: dict[str, Path], tmp_path: Path) -> None:
    root = broken_copy["speech_commands_v0.02"] / "speech_commands_v0.02"
    listed = (root / "validation_list.txt").read_text().splitlines()
    clip = root / next(name for name in listed if name.split("/")[0] in sc.KEYWORDS)  # keyword clips are all read
    sf.write(clip, np.zeros(8000, dtype=np.int16), 8000, subtype="PCM_16")
    with pytest.raises(ValueError, match=re.escape(f"{clip}: 8000 Hz")):
        prepare(broken_copy, "valid", tmp_path / "out")
    noise = root / "_background_noise_" / "running_tap.wav"
    noise.unlink()
    with pytest.raises(ValueError, match=re.escape(f"{noise}: background noise file not found")):
        prepare(broken_copy, "valid", tmp_path / "out")


def test_test_set_folders_must_match_the_keywords(broken_copy: dict[str, Path], tmp_path: Path) -> None:
    root = broken_copy["speech_commands_test_set_v0.02"] / "speech_commands_test_set_v0.02"
    with pytest.raises(ValueError, match=re.escape(f"{root}: folders") + ".*expected"):
        prepare(broken_copy, "test", tmp_path / "out", keywords=["yes", "no"])
    odd = root / "_unknown_" / "not-a-clip.wav"
    shutil.copy(next((root / "yes").glob("*.wav")), odd)
    with pytest.raises(ValueError, match=re.escape(str(odd))):
        prepare(broken_copy, "test", tmp_path / "out")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"keywords": "yes"}, "keywords='yes'"),
        ({"keywords": ["yes", "yes"]}, "yes listed more than once"),
        ({"keywords": ["yes", "_silence_"]}, "_silence_ is not a word folder"),
        ({"keywords": ["yes", "maybe"]}, "no folder for keyword.*maybe"),
        ({"unknown_fraction": -0.1}, "unknown_fraction=-0.1"),
        ({"silence_fraction": "lots"}, "silence_fraction='lots'"),
        ({"unknown_fractoin": 0.2}, "unknown prepare option.*unknown_fractoin"),
    ],
)
def test_bad_options_are_named(tiny_corpus: dict[str, Path], tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        prepare(tiny_corpus, "train", tmp_path / "out", **options)


def test_unknown_split_and_missing_archive_are_named(tiny_corpus: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no split 'dev'"):
        sc.prepare_speechcommands(tiny_corpus, "dev", tmp_path / "out")
    with pytest.raises(ValueError, match="speech_commands_test_set_v0.02.*not given"):
        sc.prepare_speechcommands({}, "test", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="speech_commands_v0.02: corpus directory not found"):
        sc.prepare_speechcommands({"speech_commands_v0.02": tmp_path}, "train", tmp_path / "out")


# ---------------------------------------------------------------------------------------------------
# The real download path, against a local HTTP server


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], ArchiveServer]]:
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    servers: list[ArchiveServer] = []

    def start(root: Path) -> ArchiveServer:
        servers.append(ArchiveServer(root))
        threading.Thread(target=servers[-1].serve_forever, daemon=True).start()
        return servers[-1]

    yield start
    for running in servers:
        running.shutdown()
        running.server_close()


def serve_as_official(monkeypatch: pytest.MonkeyPatch, url: str, summary: dict[str, Any]) -> None:
    """Point the recipe's ARCHIVES at the served replica (its checksums and sizes)."""
    for name, archive in summary["archives"].items():
        served = Archive(archive["file"], f"{url}/{archive['file']}", archive["checksum"], archive["bytes"])
        monkeypatch.setitem(sc.ARCHIVES, name, served)


def test_download_verifies_and_unpacks_without_a_top_directory(
    tiny_replica: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    server: Callable[[Path], ArchiveServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out_dir, summary = tiny_replica
    http = server(out_dir)
    serve_as_official(monkeypatch, http.url, summary)
    archives_dir = tmp_path / "archives"
    for name in sc.ARCHIVES:
        target = tmp_path / "corpus" / name
        assert sc.download_speechcommands(sc.ARCHIVES[name].to_dict(), archives_dir, target) == target
        assert (target / ".completed").is_file() and sorted(p.name for p in target.iterdir()) == [".completed", name]
        assert file_checksum(archives_dir / sc.ARCHIVES[name].file, "sha256") == sc.ARCHIVES[name].checksum.split(":")[1]
    assert (tmp_path / "corpus/speech_commands_v0.02/speech_commands_v0.02/validation_list.txt").is_file()
    assert (tmp_path / "corpus/speech_commands_test_set_v0.02/speech_commands_test_set_v0.02/_silence_").is_dir()
    requests = len(http.requests)
    for name in sc.ARCHIVES:
        sc.download_speechcommands(sc.ARCHIVES[name].to_dict(), archives_dir, tmp_path / "corpus" / name)
    assert len(http.requests) == requests, "a second download must not fetch again"


def test_corrupted_archive_fails_naming_the_url(
    tiny_replica: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    server: Callable[[Path], ArchiveServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out_dir, summary = tiny_replica
    remote = tmp_path / "remote"
    remote.mkdir()
    data = bytearray((out_dir / "speech_commands_test_set_v0.02.tar.gz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (remote / "speech_commands_test_set_v0.02.tar.gz").write_bytes(bytes(data))
    http = server(remote)
    serve_as_official(monkeypatch, http.url, summary)
    entry = sc.ARCHIVES["speech_commands_test_set_v0.02"].to_dict()
    target = tmp_path / "corpus" / "speech_commands_test_set_v0.02"
    with pytest.raises(ValueError, match=re.escape(f"sha256 mismatch for {entry['url']}")):
        sc.download_speechcommands(entry, tmp_path / "archives", target)
    assert not target.exists() and not list((tmp_path / "archives").iterdir())


def test_wrong_archive_or_layout_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="speech_commands_v0.01.tar.gz: not a Speech Commands archive"):
        entry = {"file": "speech_commands_v0.01.tar.gz", "url": "", "checksum": "", "bytes": None}
        sc.download_speechcommands(entry, tmp_path, tmp_path)
    # a tarball with a top-level directory: validation_list.txt is one level too deep
    tree = tmp_path / "tree" / "speech_commands_v0.02"
    tree.mkdir(parents=True)
    (tree / "validation_list.txt").write_text("")
    archive = tmp_path / "remote" / "speech_commands_v0.02.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, arcname="speech_commands_v0.02")
    entry = {"file": archive.name, "url": str(archive), "checksum": f"sha256:{file_checksum(archive, 'sha256')}", "bytes": None}
    with pytest.raises(ValueError, match="has no validation_list.txt"):
        sc.download_speechcommands(entry, tmp_path / "archives", tmp_path / "corpus" / "speech_commands_v0.02")

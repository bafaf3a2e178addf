"""The SLURP recipe (``corpora.slurp``) and its synthetic replica (``corpora.replica.slurp``).

A tiny replica (16 prompts, 49 recordings) is synthesised once per module and checked for SLURP's files,
layout and jsonl format, byte-identical regeneration and unseen voices in devel and test. The recipe then
downloads it (from local paths, and from a 127.0.0.1 HTTP server with the recipe's URLs and checksums
pointed at it) and prepares it: labels, intents derived from scenario and action, headset and far-field
cuts, entities. Bad input must raise one error naming the file and line.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import tarfile
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from summarymixing.corpora import MANIFEST_KINDS, Archive, manifest_file, split_archives
from summarymixing.corpora import slurp
from summarymixing.corpora.fetch import COMPLETED_MARKER
from summarymixing.corpora.replica import slurp as replica
from summarymixing.corpora.replica import slurp_templates as templates
from summarymixing.io import file_checksum
from test_download import ArchiveServer, serve  # noqa: F401 (serve is a fixture)

SAMPLE_RATE = 16_000
TINY_CFG: dict[str, Any] = {
    "seed": 11,
    "records": {"train": 6, "train_synthetic": 3, "devel": 3, "test": 4},
    "sessions": {"train": 2, "train_synthetic": 1, "devel": 1, "test": 2},
    "speakers": {"train": 3, "train_synthetic": 2, "devel": 2, "test": 2},
    "seen_voices": ["en", "en-us", "en-gb-x-rp"],
    "unseen_voices": ["en-us-nyc", "en-gb-x-gbclan"],
    "variants": ["m3", "f2"],
    "rate_wpm": [150, 180],
    "pitch": [40, 60],
    "far_field_snr_db": [10, 15],
    "far_field_lowpass_hz": [3000, 4000],
    "inconsistent_intent": 0.5,  # many, so that the tiny replica surely has some
    "workers": 2,
}
TEXT_FILES = ("train", "train_synthetic", "devel", "test")
REAL_FLAC_RE = re.compile(r"^slurp_real/audio-(\d{10})(-headset)?\.flac$")
SYNTH_FLAC_RE = re.compile(r"^slurp_synth/audio-\d{10}\.flac$")


def tiny_cfg(**changes: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(TINY_CFG)
    cfg.update(changes)
    return cfg


@pytest.fixture(scope="module")
def tiny_replica(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out_dir = tmp_path_factory.mktemp("slurp_replica")
    return out_dir, replica.synthesize(out_dir, tiny_cfg())


@pytest.fixture(scope="module")
def archive_dirs(
    tiny_replica: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The tiny replica downloaded (from its local paths, as the pipeline does) and unpacked."""
    out_dir, summary = tiny_replica
    data = tmp_path_factory.mktemp("slurp_data")
    dirs = {}
    for name, entry in summary["archives"].items():
        entry = {**entry, "url": str(out_dir / entry["file"])}
        dirs[name] = slurp.download_slurp(entry, data / "archives", data / "corpus" / name)
    return dirs


@pytest.fixture(scope="module")
def prepared(archive_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    manifests = tmp_path_factory.mktemp("slurp_manifests")
    return {split: slurp.prepare_slurp(archive_dirs, split, manifests / split) for split in slurp.SPLITS} | {
        "dir": manifests
    }


def jsonl_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def archive_members(archive: Path) -> dict[str, tuple[tarfile.TarInfo, bytes | None]]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: (m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}


# ---------------------------------------------------------------------------------------------------
# The recipe's constants


def test_archives_are_pinned_to_a_commit_and_checksums() -> None:
    for name in TEXT_FILES:
        archive = slurp.ARCHIVES[name]
        assert archive.file == f"{name}.jsonl"
        assert archive.url == (
            f"https://raw.githubusercontent.com/pswietojanski/slurp/{slurp.REPO_COMMIT}/dataset/slurp/{name}.jsonl"
        )
        assert re.fullmatch(r"[0-9a-f]{40}", slurp.REPO_COMMIT) and "master" not in archive.url
    for name in ("slurp_real", "slurp_synth"):
        assert slurp.ARCHIVES[name].url == f"https://zenodo.org/record/4274930/files/{name}.tar.gz"
    for archive in slurp.ARCHIVES.values():
        assert re.fullmatch(r"md5:[0-9a-f]{32}|sha256:[0-9a-f]{64}|gitsha1:[0-9a-f]{40}", archive.checksum) or (
            archive.file == "slurp_synth.tar.gz" and archive.checksum == "md5:6186b4d2475a"), archive
    assert slurp.ARCHIVES["devel"].bytes == 2_221_203 and slurp.ARCHIVES["test"].bytes == 3_267_569
    assert slurp.ARCHIVES["slurp_real"].checksum == "md5:9efc0f058ced47bf5131c7cb2cade513"

    assert slurp.SPLITS["train"] == ("train", "train_synthetic", "slurp_real", "slurp_synth")
    assert slurp.SPLITS["devel"] == ("devel", "slurp_real") and slurp.SPLITS["test"] == ("test", "slurp_real")
    for split, names in slurp.SPLITS.items():
        assert set(names) <= set(slurp.ARCHIVES)
        assert all(slurp.AUDIO_OF_TEXT[n] in names for n in names if n in slurp.AUDIO_OF_TEXT), split
    assert split_archives("slurp", ["devel", "test"]) == ["devel", "test", "slurp_real"]


def test_parse_annotation() -> None:
    assert slurp.parse_annotation("check list") == []
    assert slurp.parse_annotation("wake me up at [time : eight] o'clock [date : this Friday]") == [
        {"type": "time", "filler": "eight"},
        {"type": "date", "filler": "this friday"},
    ]
    assert slurp.parse_annotation("[place_name :  new   york ]") == [{"type": "place_name", "filler": "new york"}]
    for bad, problem in [
        ("at [time : five", "never closed"),
        ("at time : five]", "without a '\\['"),
        ("at [time : [five]", "inside the bracket"),
        ("at [five]", "not '\\[type : filler\\]'"),
        ("at [time : ]", "not '\\[type : filler\\]'"),
        ("at [ : five]", "not '\\[type : filler\\]'"),
    ]:
        with pytest.raises(ValueError, match=problem):
            slurp.parse_annotation(bad)


# ---------------------------------------------------------------------------------------------------
# The replica: plan and configuration


def test_templates_cover_slurp_scenarios_with_enough_sentences() -> None:
    scenarios = {scenario for scenario, _ in templates.INTENTS}
    assert scenarios == set(
        "alarm audio calendar cooking datetime email general iot lists music news play qa recommendation "
        "social takeaway transport weather".split()
    )
    assert 20 <= len(templates.INTENTS) <= 40
    for (scenario, action), intent_templates in templates.INTENTS.items():
        assert len(intent_templates) >= 4, (scenario, action)
        assert all(slot in templates.SLOTS for t in intent_templates for slot in templates.slots_of(t))
        assert templates.distinct_sentences(scenario, action) >= 80, (scenario, action)
    assert templates.tokenize("what's") == ["what", "'s"] and templates.tokenize("can't") == ["ca", "n't"]
    assert templates.tokenize("o'clock") == ["o'clock"] and templates.tokenize("i'm") == ["i", "'m"]


def test_plan_is_deterministic_balanced_and_uses_unseen_voices_in_devel_and_test() -> None:
    plan = replica.plan_replica(tiny_cfg())
    assert plan == replica.plan_replica(tiny_cfg())
    assert replica.plan_replica(tiny_cfg(seed=12)).records != plan.records

    seen, unseen = set(TINY_CFG["seen_voices"]), set(TINY_CFG["unseen_voices"])
    for speaker in plan.speakers:
        assert speaker.voice in (unseen if speaker.text_file in ("devel", "test") else seen), speaker
    identities = [(s.voice, s.variant, s.rate_wpm, s.pitch) for s in plan.speakers]
    assert len(set(identities)) == len(identities) == sum(TINY_CFG["speakers"].values())
    for record in plan.records:
        readers = [s.speaker for s in plan.sessions if s.slurp_id == record.slurp_id]
        assert len(readers) == len(set(readers)) == TINY_CFG["sessions"][record.text_file]
        assert all(reader.text_file == record.text_file for reader in readers)
    # every prompt its own sentence and id; intents as balanced as the counts allow
    assert len({r.sentence.text for r in plan.records}) == len({r.slurp_id for r in plan.records}) == len(plan.records)
    big = replica.plan_replica(tiny_cfg(records={"train": 70, "train_synthetic": 3, "devel": 3, "test": 4}))
    train = [(r.scenario, r.action) for r in big.records if r.text_file == "train"]
    counts = [train.count(intent) for intent in templates.INTENTS]
    assert max(counts) - min(counts) <= 1
    assert any(r.intent_field != f"{r.scenario}_{r.action}" for r in plan.records)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"seed": None}, "seed must be an integer"),
        ({"record": 3}, "unknown key.*record"),
        ({"records": {"train": 3, "devel": 1, "test": 1}}, "records must give a count for each of train, train_synt"),
        ({"speakers": {"train": 3, "train_synthetic": 0, "devel": 2, "test": 2}}, "speakers: counts must be integers"),
        ({"sessions": {"train": 4, "train_synthetic": 1, "devel": 1, "test": 2}}, "train: sessions \\(4\\) > speakers"),
        ({"unseen_voices": ["en-us-nyc", "xx-nowhere"]}, "unseen_voices: unknown espeak-ng voice.*xx-nowhere"),
        ({"unseen_voices": ["en-us"]}, "both seen and unseen: en-us"),
        ({"variants": ["m3", "q9"]}, "unknown espeak-ng variant.*q9"),
        ({"rate_wpm": [190, 150]}, "rate_wpm: \\[190, 150\\] is not a range"),
        ({"far_field_lowpass_hz": [3000, 9000]}, "far_field_lowpass_hz"),
        ({"far_field_snr_db": 10}, "far_field_snr_db must be a range"),
        ({"inconsistent_intent": 1.5}, "inconsistent_intent must be a fraction"),
        ({"workers": 0}, "workers must be an integer >= 1"),
    ],
)
def test_bad_replica_config_is_named(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=f"replica config: .*{problem}"):
        replica.plan_replica(tiny_cfg(**change))
    cfg = tiny_cfg()
    del cfg["far_field_snr_db"]
    with pytest.raises(ValueError, match="replica config: missing far_field_snr_db"):
        replica.plan_replica(cfg)


def test_far_field_copy_is_degraded_and_headset_copy_clean() -> None:
    plan = replica.plan_replica(tiny_cfg())
    session = next(s for s in plan.sessions if s.far_field is not None)
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    speech = (0.4 * np.sin(2 * np.pi * 300 * t) + 0.2 * np.sin(2 * np.pi * 6500 * t)).astype(np.float32)
    copies = replica.render_session(speech, session)
    headset, far = (copies[name].astype(np.float64) / 32767 for name in session.files)
    assert session.files[0].endswith("-headset.flac") and len(headset) == len(far)
    lead = round(session.lead_s * SAMPLE_RATE)
    assert not headset[:lead].any() and far[:lead].std() > 0, "silence is clean on the headset, noisy far away"
    assert abs(np.abs(headset).max() - session.speaker.peak) < 1e-3

    def high_band_share(x: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(x)) ** 2
        return spectrum[np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE) > 6000].sum() / spectrum.sum()

    assert high_band_share(far) < 0.1 * high_band_share(headset), "the far-field copy is low-passed"
    assert np.array_equal(replica.render_session(speech, session)[session.files[1]], copies[session.files[1]])


# ---------------------------------------------------------------------------------------------------
# The tiny replica: files, layout, format, determinism


def test_replica_has_slurps_files_and_layout(tiny_replica: tuple[Path, dict[str, Any]]) -> None:
    out_dir, summary = tiny_replica
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(a.file for a in slurp.ARCHIVES.values())
    assert set(summary["archives"]) == set(slurp.ARCHIVES)
    for name, entry in summary["archives"].items():
        path = out_dir / entry["file"]
        algorithm, digest = entry["checksum"].split(":")
        assert algorithm == ("md5" if name.startswith("slurp_") else "sha256")
        assert digest == file_checksum(path, algorithm) and entry["bytes"] == path.stat().st_size

    listed = {name: set() for name in ("slurp_real", "slurp_synth")}
    for name in TEXT_FILES:
        for record in jsonl_records(out_dir / f"{name}.jsonl"):
            listed[slurp.AUDIO_OF_TEXT[name]].update(r["file"] for r in record["recordings"])
    for audio_dir, flac_re in (("slurp_real", REAL_FLAC_RE), ("slurp_synth", SYNTH_FLAC_RE)):
        members = archive_members(out_dir / f"{audio_dir}.tar.gz")
        names = list(members)
        assert names[:2] == ["README.txt", audio_dir] and names == sorted(names)
        assert "NOT SLURP" in members["README.txt"][1].decode()
        for info, _ in members.values():
            assert info.mtime == 0 and info.uid == info.gid == 0 and (info.isfile() or info.isdir())
        flacs = names[2:]
        assert all(flac_re.match(n) for n in flacs), flacs
        assert {n.split("/", 1)[1] for n in flacs} == listed[audio_dir], "the jsonl files list exactly these"
        for name in flacs:
            audio, rate = sf.read(io.BytesIO(members[name][1]), dtype="float32")
            info = sf.info(io.BytesIO(members[name][1]))
            assert rate == SAMPLE_RATE and audio.ndim == 1 and info.subtype == "PCM_16" and info.format == "FLAC"
            assert 0.8 < len(audio) / rate < 8.0 and np.abs(audio).max() > 0.05
    # every real reading has its close-talk and far-field copies
    ids = [REAL_FLAC_RE.match(n) for n in archive_members(out_dir / "slurp_real.tar.gz") if REAL_FLAC_RE.match(n)]
    assert sorted(m[1] for m in ids if m[2]) == sorted(m[1] for m in ids if not m[2])
    assert summary["recordings"] == {"train": 24, "train_synthetic": 3, "devel": 6, "test": 16}


def test_jsonl_is_in_slurps_format(tiny_replica: tuple[Path, dict[str, Any]]) -> None:
    out_dir, _ = tiny_replica
    all_ids, all_sentences, inconsistent = [], [], 0
    for name in TEXT_FILES:
        lines = (out_dir / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == TINY_CFG["records"][name]
        for line in lines:
            record = json.loads(line)
            assert json.dumps(record) == line, "written as json.dumps writes the real files"
            assert tuple(record) == slurp.RECORD_KEYS
            assert isinstance(record["slurp_id"], int) and record["scenario"] and record["action"]
            assert re.fullmatch(r"[a-z' ]+", record["sentence"]), record["sentence"]
            tokens = record["tokens"]
            assert [t["id"] for t in tokens] == list(range(len(tokens)))
            assert all(set(t) == {"surface", "id", "lemma", "pos"} for t in tokens)
            assert "".join(t["surface"] for t in tokens) == record["sentence"].replace(" ", "")
            entities = slurp.parse_annotation(record["sentence_annotation"])
            assert [e["type"] for e in entities] == [e["type"] for e in record["entities"]]
            for entity, span in zip(entities, record["entities"]):
                assert " ".join(tokens[i]["surface"] for i in span["span"]).replace(" '", "'") == entity["filler"]
            recordings = record["recordings"]
            assert all(list(r) == ["file", "wer", "ent_wer", "status"] for r in recordings)
            if slurp.AUDIO_OF_TEXT[name] == "slurp_real":
                files = [r["file"] for r in recordings]
                assert files[0::2] == [f.replace(".flac", "-headset.flac") for f in files[1::2]], "headset copy first"
            inconsistent += record["intent"] != f"{record['scenario']}_{record['action']}"
            all_ids.append(record["slurp_id"])
            all_sentences.append(record["sentence"])
    assert len(set(all_ids)) == len(all_ids) and len(set(all_sentences)) == len(all_sentences)
    assert inconsistent > 0, "some intent fields must disagree with scenario_action, as in SLURP"


def test_synthesis_is_byte_identical(tiny_replica: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out_dir, summary = tiny_replica
    again = replica.synthesize(tmp_path, tiny_cfg(workers=1))  # the process count must not change the output
    assert again["archives"] == summary["archives"]
    for archive in slurp.ARCHIVES.values():
        assert (tmp_path / archive.file).read_bytes() == (out_dir / archive.file).read_bytes(), archive.file


# ---------------------------------------------------------------------------------------------------
# prepare_slurp on the replica


def test_download_places_files_in_slurps_layout(archive_dirs: dict[str, Path]) -> None:
    for name, directory in archive_dirs.items():
        assert (directory / COMPLETED_MARKER).is_file()
        if name in slurp.AUDIO_OF_TEXT:
            assert (directory / f"{name}.jsonl").is_file()
        else:
            assert list((directory / name).glob("audio-*.flac")), name


def test_prepare_slurp_labels_every_recording(
    tiny_replica: tuple[Path, dict[str, Any]], prepared: dict[str, Any]
) -> None:
    out_dir, _ = tiny_replica
    plan = replica.plan_replica(tiny_cfg())
    planned = {r.slurp_id: r for r in plan.records}
    for split in slurp.SPLITS:
        cuts = prepared[split]
        text_files = [n for n in slurp.SPLITS[split] if n in slurp.AUDIO_OF_TEXT]
        records = [r for n in text_files for r in jsonl_records(out_dir / f"{n}.jsonl")]
        expected_ids = {f"{r['slurp_id']}-{f['file'][:-5]}" for r in records for f in r["recordings"]}
        assert [c.id for c in cuts] == sorted(expected_ids)
        for kind in MANIFEST_KINDS:
            assert manifest_file(prepared["dir"] / split, kind).is_file()
        written = sorted(p.name for p in (prepared["dir"] / split).iterdir())
        assert written == sorted(f"{kind}.jsonl.gz" for kind in MANIFEST_KINDS)

        microphones = {"headset": 0, "far_field": 0, "synthetic": 0}
        for cut in cuts:
            (supervision,) = cut.supervisions
            custom = supervision.custom
            record = planned[custom["slurp_id"]]
            assert cut.recording.sampling_rate == SAMPLE_RATE and cut.recording.num_channels == 1
            assert cut.duration == cut.recording.duration > 0.8 and supervision.duration == cut.duration
            assert supervision.text == record.sentence.text
            assert (custom["scenario"], custom["action"]) == (record.scenario, record.action)
            assert custom["intent"] == f"{record.scenario}_{record.action}", "derived, whatever the intent field says"
            assert custom["entities"] == [{"type": t, "filler": f} for t, f, _ in record.sentence.entities]
            microphone = custom["microphone"]
            microphones[microphone] += 1
            assert (microphone == "synthetic") == (record.text_file == "train_synthetic")
            assert cut.id.endswith("-headset") == (microphone == "headset")
        if split == "train":
            assert microphones == {"headset": 12, "far_field": 12, "synthetic": 3}
        else:
            assert microphones["headset"] == microphones["far_field"] > 0 and microphones["synthetic"] == 0
    # the prompts whose intent field is wrong are there, and were labelled by scenario and action
    assert any(r.intent_field != f"{r.scenario}_{r.action}" for r in plan.records if r.text_file in ("train", "test"))


# ---------------------------------------------------------------------------------------------------
# Bad input: one clear error, nothing written


def write_tone(path: Path, seconds: float = 0.5, rate: int = SAMPLE_RATE) -> None:
    t = np.arange(int(seconds * rate)) / rate
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.sin(2 * np.pi * 220 * t), rate, format="FLAC", subtype="PCM_16")


def record(slurp_id: int, files: list[str], annotation: str = "wake me up at [time : seven am]") -> dict[str, Any]:
    """A devel.jsonl record in SLURP's format (alarm_set, with the given annotation and recordings)."""
    sentence = re.sub(r"\[\w+ : ([^\]]*)\]", r"\1", annotation)
    tokens = sentence.split()
    entities = [{"span": [tokens.index(f.split()[0]) + i for i in range(len(f.split()))], "type": t}
                for t, f in re.findall(r"\[(\w+) : ([^\]]*)\]", annotation)]  # fmt: skip
    return {
        "slurp_id": slurp_id, "sentence": sentence, "sentence_annotation": annotation, "intent": "set",
        "action": "set", "tokens": [{"surface": w, "id": i, "lemma": w, "pos": "NN"} for i, w in enumerate(tokens)],
        "scenario": "alarm",
        "recordings": [{"file": f, "wer": 0.0, "ent_wer": 0.0, "status": "correct"} for f in files],
        "entities": entities,
    }  # fmt: skip


@pytest.fixture
def small_devel(tmp_path: Path) -> Callable[[list[str]], tuple[dict[str, Path], Path]]:
    """``make(lines)``: a devel split from raw jsonl lines, with 16 kHz tones for audio-1..3 (+ -headset)."""

    def make(lines: list[str]) -> tuple[dict[str, Path], Path]:
        dirs = {"devel": tmp_path / "corpus" / "devel", "slurp_real": tmp_path / "corpus" / "slurp_real"}
        dirs["devel"].mkdir(parents=True)
        (dirs["devel"] / "devel.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        for i in range(1, 4):
            for suffix in ("", "-headset"):
                write_tone(dirs["slurp_real"] / "slurp_real" / f"audio-100000000{i}{suffix}.flac")
        return dirs, tmp_path / "manifests" / "devel"

    return make


def good_lines() -> list[str]:
    return [
        json.dumps(record(7, ["audio-1000000001-headset.flac", "audio-1000000001.flac"])),
        json.dumps(record(8, ["audio-1000000002.flac"], "set an alarm for [time : six] [date : tomorrow]")),
    ]


def test_prepare_slurp_on_a_hand_written_split(small_devel: Callable[..., tuple[dict[str, Path], Path]]) -> None:
    dirs, output_dir = small_devel(good_lines())
    cuts = slurp.prepare_slurp(dirs, "devel", output_dir)
    assert [c.id for c in cuts] == ["7-audio-1000000001", "7-audio-1000000001-headset", "8-audio-1000000002"]
    custom = cuts[2].supervisions[0].custom
    assert custom["intent"] == "alarm_set" and custom["slurp_id"] == 8 and custom["microphone"] == "far_field"
    assert custom["entities"] == [{"type": "time", "filler": "six"}, {"type": "date", "filler": "tomorrow"}]


def mutated(index: int, **changes: Any) -> list[str]:
    lines = good_lines()
    obj = json.loads(lines[index])
    obj.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del obj[key]
    lines[index] = json.dumps(obj)
    return lines


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (good_lines()[:1] + ['{"slurp_id": 8, "sentence": '], r"devel\.jsonl:2: not valid JSON"),
        (good_lines() + [""], r"devel\.jsonl:3: empty line"),
        (mutated(1, scenario=None), r"devel\.jsonl:2: missing key\(s\) scenario"),
        (mutated(0, slurp_id="7"), r"devel\.jsonl:1: slurp_id '7' is not an integer"),
        (mutated(0, action=""), r"devel\.jsonl:1: action '' is not a non-empty string"),
        (mutated(1, sentence_annotation="alarm at [time : six [date : today]"), r"devel\.jsonl:2: .*inside the bracket"),
        (mutated(1, sentence_annotation="alarm at [time : six] today]"), r"devel\.jsonl:2: .*without a '\['"),
        (mutated(1, sentence_annotation="alarm at [time six] [date : today]"), r"devel\.jsonl:2: .*type : filler"),
        (mutated(0, entities=[{"span": [4], "type": "date"}]), r"devel\.jsonl:1: .*\['time'\] but the entities .*\['date'\]"),
        (mutated(0, entities=[{"span": [9], "type": "time"}]), r"devel\.jsonl:1: entity 'time' has span \[9\]"),
        (mutated(0, recordings=[]), r"devel\.jsonl:1: recordings must be a non-empty list"),
        (mutated(0, recordings=[{"file": "../secret.flac"}]), r"devel\.jsonl:1: bad recording"),
        (mutated(1, recordings=[{"file": "audio-1000000009.flac"}]), r"devel\.jsonl:2: recording audio-1000000009\.flac not"),
        (mutated(1, recordings=[{"file": "audio-1000000001.flac"}], slurp_id=7), r"devel\.jsonl:2: .* listed twice"),
    ],
)
def test_bad_jsonl_is_named_with_its_line(
    small_devel: Callable[..., tuple[dict[str, Path], Path]], lines: list[str], problem: str
) -> None:
    dirs, output_dir = small_devel(lines)
    with pytest.raises(ValueError, match=problem):
        slurp.prepare_slurp(dirs, "devel", output_dir)
    assert not output_dir.exists() and not list(output_dir.parent.glob(".*")), "nothing written"


def test_bad_audio_or_layout_is_named(small_devel: Callable[..., tuple[dict[str, Path], Path]]) -> None:
    dirs, output_dir = small_devel(good_lines())
    write_tone(dirs["slurp_real"] / "slurp_real" / "audio-1000000002.flac", rate=8000)
    with pytest.raises(ValueError, match=r"devel\.jsonl:2: .*audio-1000000002\.flac is 8000 Hz .* expected 16 kHz"):
        slurp.prepare_slurp(dirs, "devel", output_dir)
    (dirs["slurp_real"] / "slurp_real" / "audio-1000000002.flac").write_bytes(b"not audio")
    with pytest.raises(ValueError, match=r"devel\.jsonl:2: cannot read .*audio-1000000002\.flac"):
        slurp.prepare_slurp(dirs, "devel", output_dir)
    with pytest.raises(ValueError, match="SLURP has no split 'dev'"):
        slurp.prepare_slurp(dirs, "dev", output_dir)
    with pytest.raises(ValueError, match="no directory given for archive.*slurp_real"):
        slurp.prepare_slurp({"devel": dirs["devel"]}, "devel", output_dir)
    (dirs["devel"] / "devel.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match=r"devel\.jsonl: missing"):
        slurp.prepare_slurp(dirs, "devel", output_dir)
    assert not output_dir.exists()


# ---------------------------------------------------------------------------------------------------
# The real download path, against a local HTTP server


def serve_replica(
    tiny_replica: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    serve: Callable[..., ArchiveServer],
    monkeypatch: pytest.MonkeyPatch,
) -> ArchiveServer:
    """Serve a copy of the replica's files and point the recipe's URLs and checksums at them."""
    out_dir, summary = tiny_replica
    remote = tmp_path / "remote"
    shutil.copytree(out_dir, remote)
    server = serve(remote)
    archives = {
        name: Archive(archive.file, f"{server.url}/{archive.file}", summary["archives"][name]["checksum"], None)
        for name, archive in slurp.ARCHIVES.items()
    }
    monkeypatch.setattr(slurp, "ARCHIVES", archives)
    return server


def test_download_from_http_then_skip(
    tiny_replica: tuple[Path, dict[str, Any]], tmp_path: Path, serve: Callable[..., ArchiveServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    server = serve_replica(tiny_replica, tmp_path, serve, monkeypatch)
    archives_dir, corpus_dir = tmp_path / "archives", tmp_path / "corpus"
    dirs = {}
    for name in slurp.SPLITS["devel"]:
        dirs[name] = slurp.download_slurp(slurp.ARCHIVES[name].to_dict(), archives_dir, corpus_dir / name)
    assert (dirs["devel"] / "devel.jsonl").read_bytes() == (tiny_replica[0] / "devel.jsonl").read_bytes()
    assert len(list((dirs["slurp_real"] / "slurp_real").glob("audio-*.flac"))) == 46
    assert sorted(path for path, _ in server.requests) == ["/devel.jsonl", "/slurp_real.tar.gz"]
    cuts = slurp.prepare_slurp(dirs, "devel", tmp_path / "manifests")
    assert len(cuts) == 6

    for name in slurp.SPLITS["devel"]:
        slurp.download_slurp(slurp.ARCHIVES[name].to_dict(), archives_dir, corpus_dir / name)
    assert len(server.requests) == 2, "a second download fetches nothing"


def test_corrupted_archive_fails_with_a_checksum_error_naming_the_url(
    tiny_replica: tuple[Path, dict[str, Any]], tmp_path: Path, serve: Callable[..., ArchiveServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    server = serve_replica(tiny_replica, tmp_path, serve, monkeypatch)
    served = tmp_path / "remote" / "slurp_synth.tar.gz"
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0xFF
    served.write_bytes(bytes(data))

    entry = slurp.ARCHIVES["slurp_synth"].to_dict()
    with pytest.raises(ValueError, match=rf"md5 mismatch for {re.escape(server.url)}/slurp_synth\.tar\.gz"):
        slurp.download_slurp(entry, tmp_path / "archives", tmp_path / "corpus" / "slurp_synth")
    assert not (tmp_path / "corpus" / "slurp_synth").exists()
    assert not list((tmp_path / "archives").iterdir()), "the corrupt download is deleted"


def test_unknown_files_are_refused_before_any_request(
    tmp_path: Path, serve: Callable[..., ArchiveServer]
) -> None:
    server = serve(tmp_path)
    entry = {"file": "metadata.json", "url": f"{server.url}/metadata.json", "checksum": "md5:00", "bytes": None}
    with pytest.raises(ValueError, match="'metadata.json' is not a SLURP file"):
        slurp.download_slurp(entry, tmp_path / "archives", tmp_path / "corpus" / "metadata")
    assert server.requests == []

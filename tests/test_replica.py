"""The synthetic LibriSpeech replica (espeak-ng through ctypes) and the ``source`` stage.

A tiny replica (6/3/3/3 utterances, 2 speakers per split) is synthesised once per module and checked
for LibriSpeech's exact layout and text conventions, speaker disjointness, unseen voices in
test-other, md5s, byte-identical regeneration and compatibility with lhotse's LibriSpeech preparer.
"""

from __future__ import annotations

import copy
import io
import re
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import yaml

from summarymixing import paths
from summarymixing.cli import main
from summarymixing.config import load_params
from summarymixing.corpora.replica import grammar
from summarymixing.corpora.replica.espeak import SAMPLE_RATE, EspeakError, EspeakSynthesizer
from summarymixing.corpora.replica.librispeech import (
    ReplicaSpeaker,
    ReplicaUtterance,
    plan_replica,
    render_utterance,
    synthesize_librispeech_replica,
)
from summarymixing.io import md5sum

REPO = Path(__file__).resolve().parents[1]
DATASET = "librispeech_replica"
TINY_UTTERANCES = {"train-clean-100": 6, "dev-clean": 3, "test-clean": 3, "test-other": 3}
SPLITS = list(TINY_UTTERANCES)
TRANSCRIPT_RE = re.compile(r"^[A-Z' ]+$")
FLAC_RE = re.compile(r"^LibriSpeech/(?P<split>[a-z0-9-]+)/(?P<spk>\d+)/(?P<chap>\d+)/(?P=spk)-(?P=chap)-\d{4}\.flac$")
TRANS_RE = re.compile(r"^LibriSpeech/(?P<split>[a-z0-9-]+)/(?P<spk>\d+)/(?P<chap>\d+)/(?P=spk)-(?P=chap)\.trans\.txt$")


def tiny_replica_config() -> dict[str, Any]:
    """params.yaml's replica block with a handful of utterances."""
    cfg = copy.deepcopy(load_params(REPO / "params.yaml")["datasets"][DATASET]["replica"])
    cfg["utterances"] = dict(TINY_UTTERANCES)
    cfg["speakers"] = {split: 2 for split in TINY_UTTERANCES}
    cfg["lm_sentences"] = 50
    return cfg


@pytest.fixture(scope="module")
def synthesizer() -> EspeakSynthesizer:
    return EspeakSynthesizer()


@pytest.fixture(scope="module")
def tiny_replica(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out_dir = tmp_path_factory.mktemp("replica")
    return out_dir, synthesize_librispeech_replica(out_dir, tiny_replica_config())


def archive_members(archive: Path) -> dict[str, tuple[tarfile.TarInfo, bytes | None]]:
    """Every member of ``archive`` in order, with the content of regular files."""
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: (m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}


def speakers_table(text: str) -> dict[str, tuple[str, str, str]]:
    """SPEAKERS.TXT -> {id: (sex, subset, name)}."""
    rows = {}
    for line in text.splitlines():
        if line.startswith(";"):
            continue
        speaker_id, sex, subset, _minutes, name = (field.strip() for field in line.split("|"))
        rows[speaker_id] = (sex, subset, name)
    return rows


# ---------------------------------------------------------------------------------------------------
# espeak-ng


def test_espeak_speaks_a_sentence_at_16khz(synthesizer: EspeakSynthesizer) -> None:
    audio = synthesizer.synthesize("the old man walked slowly to the river", "en", "m3", rate_wpm=160, pitch=50)
    assert audio.dtype == np.float32 and audio.ndim == 1
    seconds = len(audio) / SAMPLE_RATE
    assert 1.5 < seconds < 6.0, seconds
    assert np.sqrt(np.mean(audio**2)) > 0.01, "silent output"
    assert np.abs(audio).max() <= 1.0
    # a faster speaking rate gives shorter audio
    fast = synthesizer.synthesize("the old man walked slowly to the river", "en", "m3", rate_wpm=300, pitch=50)
    assert len(fast) < 0.8 * len(audio)


def test_espeak_voices_and_variants_differ(synthesizer: EspeakSynthesizer) -> None:
    text = "she said it's a fine day"
    outputs = {
        key: synthesizer.synthesize(text, voice, variant, rate_wpm=160, pitch=pitch)
        for key, (voice, variant, pitch) in {
            "en+m3": ("en", "m3", 50),
            "en+f3": ("en", "f3", 50),
            "en-us+m3": ("en-us", "m3", 50),
            "en-gb-scotland+m3": ("en-gb-scotland", "m3", 50),
            "en+m3 high pitch": ("en", "m3", 90),
        }.items()
    }
    keys = list(outputs)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            x, y = outputs[a], outputs[b]
            assert len(x) != len(y) or not np.allclose(x, y, atol=1e-3), f"{a} and {b} sound the same"


def test_espeak_unknown_voice_or_variant_is_named(synthesizer: EspeakSynthesizer) -> None:
    with pytest.raises(EspeakError, match="en-xx-nowhere"):
        synthesizer.synthesize("hello", "en-xx-nowhere")
    with pytest.raises(EspeakError, match="q9"):
        synthesizer.synthesize("hello", "en", "q9")


# ---------------------------------------------------------------------------------------------------
# grammar and plan


def test_grammar_follows_librispeech_text_conventions() -> None:
    rng = np.random.default_rng(0)
    sentences = [grammar.random_sentence(rng, 4, 12) for _ in range(2000)]
    assert all(TRANSCRIPT_RE.match(s) and "  " not in s and s == s.strip() for s in sentences)
    assert all(4 <= len(s.split()) <= 12 for s in sentences)
    words = {w for s in sentences for w in s.split()}
    assert {"DON'T", "IT'S"} <= words and any(w.endswith("'S") and w[:-2] in grammar.NAMES for w in words)
    assert words <= grammar.vocabulary() and 200 <= len(grammar.vocabulary()) <= 500
    assert len(set(sentences)) > 1900


def test_plan_is_deterministic_and_has_unique_texts() -> None:
    cfg = tiny_replica_config()
    assert plan_replica(cfg) == plan_replica(cfg)
    texts = [utt.text for utt in plan_replica(cfg)]
    assert len(texts) == len(set(texts)) == sum(TINY_UTTERANCES.values())
    cfg["seed"] += 1
    assert [utt.text for utt in plan_replica(cfg)] != texts


def test_plan_rejects_unknown_voices() -> None:
    cfg = tiny_replica_config()
    cfg["unseen_voices"] = ["en-us-nyc", "xx-nowhere"]
    with pytest.raises(ValueError, match="xx-nowhere"):
        plan_replica(cfg)


def test_noise_is_added_at_the_requested_snr() -> None:
    speaker = ReplicaSpeaker(19, "test-other", "en", "m1", 150, 50, peak=0.5)
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    speech = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    clean = render_utterance(speech, ReplicaUtterance(speaker, 198, 0, "HELLO", seed=1, snr_db=None))
    assert abs(np.abs(clean).max() / 32767 - 0.5) < 1e-3
    noisy = render_utterance(speech, ReplicaUtterance(speaker, 198, 0, "HELLO", seed=1, snr_db=10.0))
    noise = noisy.astype(np.float64) - clean
    snr = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2))
    assert abs(snr - 10.0) < 0.5, snr


def test_a_failing_chapter_process_is_reported(tmp_path: Path) -> None:
    from summarymixing.corpora.replica.librispeech import _synthesize_all

    speaker = ReplicaSpeaker(19, "dev-clean", "xx-nowhere", "m1", 150, 50, peak=0.5)
    utterances = [ReplicaUtterance(speaker, 198, i, "HELLO THERE", seed=i, snr_db=None) for i in range(2)]
    with pytest.raises(RuntimeError, match="(?s)LibriSpeech/dev-clean/19/198.*xx-nowhere"):
        _synthesize_all(utterances, tmp_path, workers=2)


# ---------------------------------------------------------------------------------------------------
# the tiny replica


def test_archives_have_the_exact_librispeech_layout(tiny_replica: tuple[Path, dict[str, Any]]) -> None:
    out_dir, summary = tiny_replica
    assert [a["split"] for a in summary["archives"]] == SPLITS
    for split in SPLITS:
        members = archive_members(out_dir / f"{split}.tar.gz")
        names = list(members)
        assert all(name == "LibriSpeech" or name.startswith("LibriSpeech/") for name in names)
        assert {"LibriSpeech/SPEAKERS.TXT", "LibriSpeech/README.TXT"} <= set(names)
        assert "SYNTHETIC REPLICA" in members["LibriSpeech/README.TXT"][1].decode()
        for info, _ in members.values():
            assert info.mtime == 0 and info.uid == 0 and info.gid == 0 and (info.isfile() or info.isdir())

        flacs = [n for n in names if n.endswith(".flac")]
        transcripts = [n for n in names if n.endswith(".trans.txt")]
        assert len(flacs) == TINY_UTTERANCES[split]
        assert all(FLAC_RE.match(n) and FLAC_RE.match(n)["split"] == split for n in flacs), flacs
        assert all(TRANS_RE.match(n) and TRANS_RE.match(n)["split"] == split for n in transcripts), transcripts
        others = set(names) - set(flacs) - set(transcripts) - {"LibriSpeech/SPEAKERS.TXT", "LibriSpeech/README.TXT"}
        assert all(members[n][0].isdir() for n in others)

        speakers = {FLAC_RE.match(n)["spk"] for n in flacs}
        assert len(speakers) == 2
        # each chapter's trans.txt lists exactly the chapter's FLAC files, in order, with 4-digit indices
        flac_ids = {}
        for name in flacs:
            flac_ids.setdefault(name.rsplit("/", 1)[0], []).append(name.rsplit("/", 1)[1][: -len(".flac")])
        for name in transcripts:
            lines = members[name][1].decode().splitlines()
            ids = [line.split(" ", 1)[0] for line in lines]
            assert ids == sorted(flac_ids[name.rsplit("/", 1)[0]])
            assert [int(i.rsplit("-", 1)[1]) for i in ids] == list(range(len(ids)))
            for line in lines:
                text = line.split(" ", 1)[1]
                assert TRANSCRIPT_RE.match(text) and "  " not in text and 4 <= len(text.split()) <= 12
        for name in flacs:
            audio, rate = sf.read(io.BytesIO(members[name][1]), dtype="float32")
            assert rate == SAMPLE_RATE and audio.ndim == 1
            assert 0.8 < len(audio) / rate < 8.0 and np.abs(audio).max() > 0.1


def test_speakers_are_disjoint_and_test_other_uses_its_voices(tiny_replica: tuple[Path, dict[str, Any]]) -> None:
    out_dir, _ = tiny_replica
    cfg = tiny_replica_config()
    speakers_by_split, speakers_txts = {}, set()
    for split in SPLITS:
        members = archive_members(out_dir / f"{split}.tar.gz")
        speakers_by_split[split] = {FLAC_RE.match(n)["spk"] for n in members if n.endswith(".flac")}
        speakers_txts.add(members["LibriSpeech/SPEAKERS.TXT"][1].decode())
    assert len(speakers_txts) == 1, "SPEAKERS.TXT differs between archives"
    table = speakers_table(speakers_txts.pop())
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1 :]:
            assert not speakers_by_split[a] & speakers_by_split[b], (a, b)

    # SPEAKERS.TXT lists every speaker with its subset, sex and voice
    assert set(table) == set().union(*speakers_by_split.values())
    for split, speaker_ids in speakers_by_split.items():
        for speaker_id in speaker_ids:
            sex, subset, name = table[speaker_id]
            voice, variant = name.split()[1].split("+")
            assert subset == split and sex == ("F" if variant.startswith("f") else "M")
            family = cfg.get("other_voices", "unseen") if split == "test-other" else "seen"
            assert voice in cfg[f"{family}_voices"], (split, voice)


@pytest.mark.parametrize("other_voices", ["seen", "unseen"])
def test_test_other_voices_are_configurable(other_voices: str) -> None:
    cfg = {**tiny_replica_config(), "other_voices": other_voices}
    utterances = plan_replica(cfg)
    other = {u.speaker for u in utterances if u.speaker.split == "test-other"}
    training = {u.speaker for u in utterances if u.speaker.split == "train-clean-100"}
    assert {s.voice for s in other} <= set(cfg[f"{other_voices}_voices"])
    assert not {(s.voice, s.variant, s.rate_wpm, s.pitch) for s in other} & {
        (s.voice, s.variant, s.rate_wpm, s.pitch) for s in training}, "test-other speakers are new speakers"
    with pytest.raises(ValueError, match="other_voices must be 'seen' or 'unseen'"):
        plan_replica({**cfg, "other_voices": "both"})


def test_md5sum_txt_matches_the_archives(tiny_replica: tuple[Path, dict[str, Any]]) -> None:
    out_dir, summary = tiny_replica
    lines = (out_dir / "md5sum.txt").read_text().splitlines()
    assert lines == [f"{md5sum(out_dir / f'{split}.tar.gz')}  {split}.tar.gz" for split in SPLITS]
    assert [(a["md5"], a["bytes"]) for a in summary["archives"]] == [
        (md5sum(out_dir / a["file"]), (out_dir / a["file"]).stat().st_size) for a in summary["archives"]
    ]
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".")], "staging or temporary files left behind"


def test_synthesis_is_byte_identical(tiny_replica: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out_dir, _ = tiny_replica
    cfg = tiny_replica_config()
    cfg["workers"] = 1  # the number of processes must not change the output
    synthesize_librispeech_replica(tmp_path, cfg)
    assert (tmp_path / "md5sum.txt").read_text() == (out_dir / "md5sum.txt").read_text()
    for split in SPLITS:
        assert (tmp_path / f"{split}.tar.gz").read_bytes() == (out_dir / f"{split}.tar.gz").read_bytes()


def test_lhotse_prepares_the_replica(tiny_replica: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    from lhotse.recipes.librispeech import prepare_librispeech

    out_dir, _ = tiny_replica
    expected_texts = {}
    for split in SPLITS:
        with tarfile.open(out_dir / f"{split}.tar.gz", "r:gz") as tar:
            tar.extractall(tmp_path, filter="data")
            for member in tar.getmembers():
                if member.name.endswith(".trans.txt"):
                    for line in tar.extractfile(member).read().decode().splitlines():
                        utterance_id, text = line.split(" ", 1)
                        expected_texts[utterance_id] = text

    manifests = prepare_librispeech(tmp_path / "LibriSpeech", dataset_parts=SPLITS)
    assert set(manifests) == set(SPLITS)
    for split in SPLITS:
        recordings, supervisions = manifests[split]["recordings"], manifests[split]["supervisions"]
        assert len(recordings) == len(supervisions) == TINY_UTTERANCES[split]
        for recording in recordings:
            assert recording.sampling_rate == SAMPLE_RATE and recording.num_channels == 1
            assert recording.duration > 0.8
        for supervision in supervisions:
            assert supervision.text == expected_texts[supervision.recording_id]
            assert supervision.speaker == supervision.recording_id.split("-")[0]


# ---------------------------------------------------------------------------------------------------
# the source stage


def write_tiny_params(tmp_path: Path) -> Path:
    params = load_params(REPO / "params.yaml")
    params["datasets"][DATASET]["replica"] = tiny_replica_config()
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    return params_file


def test_source_stage_replica(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    params_file = write_tiny_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["--params", str(params_file), "source", "--dataset", DATASET]) == 0

    source_dir = paths.source_dir(DATASET)
    source = yaml.safe_load((source_dir / "source.json").read_text())
    assert source["dataset"] == DATASET and source["corpus"] == "librispeech" and source["source"] == "replica"
    # every archive of the replica, whichever splits the dataset uses, plus its LM text
    assert list(source["archives"]) == [*TINY_UTTERANCES, "lm-norm"]
    for name, archive in source["archives"].items():
        path = source_dir / archive["file"]
        assert archive["checksum"] == f"md5:{md5sum(path)}" and archive["bytes"] == path.stat().st_size
        assert archive["url"] == f"{source_dir.as_posix()}/{archive['file']}"
    assert (source_dir / "md5sum.txt").is_file()
    assert [p.name for p in source_dir.parent.iterdir()] == ["source"], "temporary directories left behind"

    # a second run with the same settings does nothing, nor does one with another worker count
    stamp = (source_dir / "source.json").stat().st_mtime_ns
    params = yaml.safe_load(params_file.read_text())
    params["datasets"][DATASET]["replica"]["workers"] = 1
    params["datasets"][DATASET]["description"] = "edited"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    caplog.clear()
    with caplog.at_level("INFO"):
        assert main(["--params", str(params_file), "source", "--dataset", DATASET]) == 0
    assert "up to date" in caplog.text
    assert (source_dir / "source.json").stat().st_mtime_ns == stamp


def test_replica_lm_text_excludes_held_out_sentences(tiny_replica: tuple[Path, dict[str, Any]]) -> None:

    from summarymixing.corpora.replica.librispeech import lm_text_sentences, plan_replica

    cfg = {**tiny_replica_config(), "lm_sentences": 400}
    utterances = plan_replica(cfg)
    sentences = lm_text_sentences(cfg, utterances)
    held_out = {u.text for u in utterances if not u.speaker.split.startswith("train")}
    training = {u.text for u in utterances if u.speaker.split.startswith("train")}
    assert 300 < len(sentences) <= 400 and not held_out & set(sentences)
    assert len(set(sentences)) > len(training), "the LM text must be larger than the training transcripts"
    assert all(TRANSCRIPT_RE.match(s) for s in sentences)
    assert lm_text_sentences(cfg, utterances) == sentences  # deterministic


def test_source_stage_real_corpus_pins_the_recipe_checksums(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from summarymixing.corpora import librispeech

    params_file = write_tiny_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["--params", str(params_file), "source", "--dataset", "librispeech"]) == 0

    source_dir = paths.source_dir("librispeech")
    source = yaml.safe_load((source_dir / "source.json").read_text())
    assert source["source"] == "real"
    assert list(source["archives"]) == list(librispeech.ARCHIVES)
    assert {name: (a["file"], a["checksum"]) for name, a in source["archives"].items()} == {
        name: (a.file, a.checksum) for name, a in librispeech.ARCHIVES.items()}
    assert source["archives"]["dev-clean"] == {
        "file": "dev-clean.tar.gz", "url": "https://www.openslr.org/resources/12/dev-clean.tar.gz",
        "checksum": "md5:42e2234ba48799c1f50f24a7926300a1", "bytes": 337_926_286,
    }  # fmt: skip
    assert source["archives"]["lm-norm"]["checksum"] == "md5:c83c64c726a1aedfe65f80aa311de402"
    assert not list(source_dir.glob("*.tar.gz")), "a real corpus must not be synthesised"

"""A synthetic, deterministic replica of SLURP, in the real corpus's files and formats.

``synthesize(out_dir, cfg)`` writes what SLURP is distributed as (``corpora.slurp.ARCHIVES``), so the real
download and preparation code (``download_slurp``, ``prepare_slurp``) runs on it unchanged:

* ``train.jsonl``, ``train_synthetic.jsonl``, ``devel.jsonl``, ``test.jsonl``: one prompt per line with
  SLURP's keys in SLURP's order (``slurp_id, sentence, sentence_annotation, intent, action, tokens,
  scenario, recordings, entities``), spaCy-like tokens (``what 's``), entity spans over them and
  ``[type : filler]`` annotations. A fraction ``inconsistent_intent`` of the prompts has an ``intent``
  field that is not ``<scenario>_<action>`` (mostly the bare action), as in the real files.
* ``slurp_real.tar.gz``: ``slurp_real/audio-<10 digits>-headset.flac`` and ``slurp_real/audio-<same
  digits>.flac`` for every reading of a train, devel or test prompt: one synthesis, kept clean as the
  close-talk copy and degraded as the far-field one (low-passed, attenuated, pink noise at an SNR
  drawn from ``far_field_snr_db``).
* ``slurp_synth.tar.gz``: ``slurp_synth/audio-<10 digits>.flac``, clean, for train_synthetic.

Text: the templates of ``slurp_templates`` (24 intents over SLURP's 18 scenarios, real entity types),
each prompt a sentence never used by another prompt, intents balanced within each file. Speakers are
espeak-ng voices: voice x variant x speaking rate x pitch, every speaker of one file only; devel and test
use ``unseen_voices``, never heard in training (like LibriSpeech's test-other in that replica). Each
prompt is read by ``sessions[file]`` different speakers of its file. Both archives also hold a
``README.txt`` saying the audio is synthetic, with the speakers.

``cfg`` is the dataset's ``replica`` block of params.yaml (``validate_replica_config`` names what is wrong):

    seed                   the plan's random generator
    records                prompts per jsonl: {train: n, train_synthetic: n, devel: n, test: n}
    sessions               readers per prompt, per jsonl (a real reading gives a headset and a far-field file)
    speakers               speakers per jsonl (at least ``sessions``)
    seen_voices            espeak-ng voices of train and train_synthetic
    unseen_voices          espeak-ng voices of devel and test
    variants               espeak-ng voice variants (m1-m7, f1-f5, ...)
    rate_wpm, pitch        [low, high] ranges, drawn per speaker
    far_field_snr_db       [low, high] SNR of the far-field copies, drawn per reading
    far_field_lowpass_hz   [low, high] their low-pass cutoff, drawn per reading
    inconsistent_intent    share of prompts whose intent field is not scenario_action
    workers                synthesis processes (speed only; null: one per CPU)

Determinism: the same ``cfg`` gives byte-identical files. The plan (texts, ids, speakers, seeds) comes
from one seeded RNG; each group of ``SESSIONS_PER_PROCESS`` readings is synthesised by a fresh process
(espeak-ng carries state from one utterance to the next) with espeak's random generator seeded per
reading; noise is seeded per reading; tar members are sorted, with mtime 0 and uid/gid 0; the gzip
header has mtime 0 and no file name. ``workers`` changes the speed only.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

from summarymixing.corpora.replica import slurp_templates as templates
from summarymixing.corpora.replica.espeak import (
    SAMPLE_RATE,
)
from summarymixing.corpora.replica.librispeech import pink_noise
from summarymixing.corpora.replica.speakers import Identity, check_voices, deterministic_tar, new_identity, voice_cycles
from summarymixing.corpora.replica.synthesis import run_in_fresh_processes
from summarymixing.corpora.slurp import ARCHIVES, AUDIO_OF_TEXT, HEADSET_SUFFIX
from summarymixing.io import atomic_path, file_checksum

log = logging.getLogger(__name__)

WORKER_KEYS = ("workers",)  # replica settings that do not change the output

TEXT_FILES = tuple(AUDIO_OF_TEXT)  # train, train_synthetic, devel, test: the keys of records/sessions/speakers
UNSEEN_VOICE_FILES = ("devel", "test")  # read by unseen_voices; the others by seen_voices
REQUIRED_KEYS = (
    "seed", "records", "sessions", "speakers", "seen_voices", "unseen_voices", "variants", "rate_wpm", "pitch",
    "far_field_snr_db", "far_field_lowpass_hz", "inconsistent_intent",
)  # fmt: skip
OPTIONAL_KEYS = WORKER_KEYS

SLURP_ID_RANGE = (1, 20_000)  # half-open; real slurp_ids run up to about 18,000
SESSION_ID_RANGE = (1_434_000_000, 1_510_000_000)  # real file names are epochs from mid 2015 to late 2017
SESSIONS_PER_PROCESS = 16  # readings synthesised by one fresh process; part of the output's definition
PEAK_RANGE = (0.3, 0.9)  # peak amplitude of a speaker's headset copies, drawn per speaker
SILENCE_S = (0.1, 0.5)  # silence before and after the speech, drawn per reading
FAR_FIELD_GAIN = (0.25, 0.6)  # the far-field microphone hears the speaker this much quieter
FAR_FIELD_FILTER_ORDER = 4
WRONG_ACTION_SHARE = 0.1  # of the inconsistent intent fields: another action of the scenario, else the bare action

README = """\
THIS IS NOT SLURP. THIS IS A SYNTHETIC REPLICA.
===============================================

Every recording in this archive was synthesised offline by espeak-ng (a formant speech synthesiser)
from sentence templates (summarymixing.corpora.replica.slurp_templates), by the summarymixing-repro
pipeline (summarymixing.corpora.replica.slurp). No human speech, no SLURP recording and no SLURP
prompt is in it.

It copies SLURP's files, layout and label formats only, so that the real download and preparation
code runs on it unchanged:

    {train,train_synthetic,devel,test}.jsonl       one prompt per line, SLURP's keys and formats
    slurp_real/audio-<id>-headset.flac             close-talk copy of a reading (clean)
    slurp_real/audio-<id>.flac                     far-field copy (low-passed, attenuated, noisy)
    slurp_synth/audio-<id>.flac                    readings of train_synthetic (clean)

16 kHz mono FLAC. A "speaker" is an espeak-ng voice, voice variant, speaking rate and pitch (below);
devel and test use voices never used in training.

Accuracies measured on this replica say nothing about SLURP. They only show that the pipeline runs
end to end and that models learn.

Speakers (id | file | espeak-ng voice+variant, words per minute, pitch):
"""


@dataclass(frozen=True)
class ReplicaSpeaker:
    """One synthetic speaker: an espeak-ng voice and variant at a given speaking rate and pitch."""

    speaker_id: int
    text_file: str  # the jsonl whose prompts this speaker reads (train, train_synthetic, devel, test)
    voice: str
    variant: str
    rate_wpm: int
    pitch: int
    peak: float

    @property
    def name(self) -> str:
        return f"{self.voice}+{self.variant}, {self.rate_wpm} wpm, pitch {self.pitch}"


@dataclass(frozen=True)
class ReplicaRecord:
    """One prompt (one jsonl line), with the value its ``intent`` field is written with."""

    text_file: str
    slurp_id: int
    scenario: str
    action: str
    intent_field: str  # f"{scenario}_{action}", or an inconsistent value like the real files have
    sentence: templates.Sentence


@dataclass(frozen=True)
class FarField:
    """How the far-field copy of one reading is degraded."""

    lowpass_hz: float
    gain: float
    snr_db: float


@dataclass(frozen=True)
class ReplicaSession:
    """One reading of a prompt by one speaker: one synthesis, one or two files."""

    slurp_id: int
    speaker: ReplicaSpeaker
    session_id: int  # the 10 digits of audio-<id>.flac
    text: str
    seed: int
    lead_s: float
    trail_s: float
    far_field: FarField | None  # None: a train_synthetic reading (slurp_synth, one clean file)

    @property
    def audio_dir(self) -> str:
        return AUDIO_OF_TEXT[self.speaker.text_file]

    @property
    def files(self) -> tuple[str, ...]:
        """File names, headset copy first (the order of the real jsonl's ``recordings``)."""
        if self.far_field is None:
            return (f"audio-{self.session_id}.flac",)
        return (f"audio-{self.session_id}{HEADSET_SUFFIX}.flac", f"audio-{self.session_id}.flac")


@dataclass(frozen=True)
class ReplicaPlan:
    speakers: list[ReplicaSpeaker]
    records: list[ReplicaRecord]  # in jsonl order, file by file
    sessions: list[ReplicaSession]  # in synthesis order: record by record


# ---------------------------------------------------------------------------------------------------
# Configuration and plan


def validate_replica_config(cfg: dict[str, Any]) -> None:
    """Check the ``replica`` block; raise ``ValueError`` naming the key and what is wrong with it."""
    if not isinstance(cfg, dict):
        raise ValueError(f"replica config: expected a mapping, got {type(cfg).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in cfg]
    if missing:
        raise ValueError(f"replica config: missing {', '.join(missing)}")
    unknown = [key for key in cfg if key not in REQUIRED_KEYS + OPTIONAL_KEYS]
    if unknown:
        known = ", ".join(REQUIRED_KEYS + OPTIONAL_KEYS)
        raise ValueError(f"replica config: unknown key(s) {', '.join(unknown)} (known: {known})")
    if not _is_int(cfg["seed"]):
        raise ValueError(f"replica config: seed must be an integer, got {cfg['seed']!r}")
    for key in ("records", "sessions", "speakers"):
        counts = cfg[key]
        if not isinstance(counts, dict) or set(counts) != set(TEXT_FILES):
            got = sorted(counts) if isinstance(counts, dict) else counts
            raise ValueError(
                f"replica config: {key} must give a count for each of {', '.join(TEXT_FILES)}, got {got!r}"
            )
        bad = {name: n for name, n in counts.items() if not _is_int(n) or n < 1}
        if bad:
            raise ValueError(f"replica config: {key}: counts must be integers >= 1, got {bad}")
    for name in TEXT_FILES:
        if cfg["sessions"][name] > cfg["speakers"][name]:
            raise ValueError(
                f"replica config: {name}: sessions ({cfg['sessions'][name]}) > speakers ({cfg['speakers'][name]}); "
                "each prompt is read by different speakers"
            )
    total_records = sum(cfg["records"].values())
    if total_records > SLURP_ID_RANGE[1] - SLURP_ID_RANGE[0]:
        raise ValueError(f"replica config: records: {total_records} prompts in all, more than SLURP ids allow")

    check_voices(cfg)
    limits = {
        "far_field_snr_db": (-20, 80),
        "far_field_lowpass_hz": (100, SAMPLE_RATE / 2 - 1),  # a low-pass below the Nyquist frequency
    }
    for key, (lowest, highest) in limits.items():
        value = cfg[key]
        if not isinstance(value, list) or len(value) != 2 or not all(_is_number(v) for v in value):
            raise ValueError(f"replica config: {key} must be a range [low, high], got {value!r}")
        low, high = value
        if not lowest <= low <= high <= highest:
            raise ValueError(f"replica config: {key}: [{low}, {high}] is not a range within [{lowest}, {highest}]")
    if not _is_number(cfg["inconsistent_intent"]) or not 0 <= cfg["inconsistent_intent"] <= 1:
        raise ValueError(
            f"replica config: inconsistent_intent must be a fraction in [0, 1], got {cfg['inconsistent_intent']!r}"
        )
    workers = cfg.get("workers")
    if workers is not None and (not _is_int(workers) or workers < 1):
        raise ValueError(f"replica config: workers must be an integer >= 1 or null, got {workers!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def plan_replica(cfg: dict[str, Any]) -> ReplicaPlan:
    """Every speaker, prompt and reading of the replica; the same ``cfg`` gives the same plan."""
    validate_replica_config(cfg)
    rng = np.random.default_rng(cfg["seed"])
    speakers = _draw_speakers(cfg, rng)
    n_records = sum(cfg["records"].values())
    slurp_ids = iter(int(i) for i in rng.choice(np.arange(*SLURP_ID_RANGE), size=n_records, replace=False))
    used_sentences: set[str] = set()
    used_session_ids: set[int] = set()
    records, sessions = [], []
    for text_file in TEXT_FILES:
        file_speakers = [spk for spk in speakers if spk.text_file == text_file]
        for scenario, action in _balanced_intents(cfg["records"][text_file], rng):
            sentence = _unique_sentence(rng, scenario, action, used_sentences)
            record = ReplicaRecord(
                text_file, next(slurp_ids), scenario, action, _intent_field(scenario, action, cfg, rng), sentence
            )
            records.append(record)
            readers = rng.choice(len(file_speakers), size=cfg["sessions"][text_file], replace=False)
            for reader in readers:
                session_id = _draw_session_id(rng, used_session_ids)
                far_field = None
                if AUDIO_OF_TEXT[text_file] == "slurp_real":
                    far_field = FarField(
                        lowpass_hz=round(float(rng.uniform(*cfg["far_field_lowpass_hz"])), 1),
                        gain=round(float(rng.uniform(*FAR_FIELD_GAIN)), 3),
                        snr_db=round(float(rng.uniform(*cfg["far_field_snr_db"])), 2),
                    )
                sessions.append(
                    ReplicaSession(
                        slurp_id=record.slurp_id,
                        speaker=file_speakers[int(reader)],
                        session_id=session_id,
                        text=sentence.text,
                        seed=int(rng.integers(0, 2**31 - 1)),
                        lead_s=round(float(rng.uniform(*SILENCE_S)), 3),
                        trail_s=round(float(rng.uniform(*SILENCE_S)), 3),
                        far_field=far_field,
                    )
                )
    return ReplicaPlan(speakers, records, sessions)


def _draw_speakers(cfg: dict[str, Any], rng: np.random.Generator) -> list[ReplicaSpeaker]:
    """Every file's speakers, all different; a voice family's voice x variant pairs are used in turn."""
    pairs = voice_cycles(cfg, rng)
    used: set[Identity] = set()
    speakers = []
    for text_file in TEXT_FILES:
        family = "unseen_voices" if text_file in UNSEEN_VOICE_FILES else "seen_voices"
        for _ in range(cfg["speakers"][text_file]):
            voice, variant, rate_wpm, pitch = new_identity(cfg, rng, pairs[family], used)
            peak = round(float(rng.uniform(*PEAK_RANGE)), 3)
            speakers.append(ReplicaSpeaker(len(speakers) + 1, text_file, voice, variant, rate_wpm, pitch, peak))
    return speakers


def _share(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal counts, the larger ones first."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def _balanced_intents(n_records: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """The intents of ``n_records`` prompts: as equal counts as possible, in random order."""
    intents = list(templates.INTENTS)
    order = [intents[i] for i in rng.permutation(len(intents))]
    assigned = [intent for intent, n in zip(order, _share(n_records, len(order)), strict=True) for _ in range(n)]
    return [assigned[i] for i in rng.permutation(len(assigned))]


def _unique_sentence(rng: np.random.Generator, scenario: str, action: str, used: set[str]) -> templates.Sentence:
    for _ in range(1000):
        sentence = templates.random_sentence(rng, scenario, action)
        if sentence.text not in used:
            used.add(sentence.text)
            return sentence
    raise ValueError(
        f"replica config: records: the templates of {scenario}_{action} ran out of distinct sentences; "
        "ask for fewer prompts"
    )


def _intent_field(scenario: str, action: str, cfg: dict[str, Any], rng: np.random.Generator) -> str:
    """``scenario_action``, or with probability ``inconsistent_intent`` a wrong value as the real files have."""
    if rng.random() >= cfg["inconsistent_intent"]:
        return f"{scenario}_{action}"
    siblings = [other for (s, other) in templates.INTENTS if s == scenario and other != action]
    if siblings and rng.random() < WRONG_ACTION_SHARE:
        return f"{scenario}_{siblings[int(rng.integers(len(siblings)))]}"
    return action


def _draw_session_id(rng: np.random.Generator, used: set[int]) -> int:
    while True:
        candidate = int(rng.integers(*SESSION_ID_RANGE))
        if candidate not in used:
            used.add(candidate)
            return candidate


# ---------------------------------------------------------------------------------------------------
# jsonl


def record_json(record: ReplicaRecord, sessions: list[ReplicaSession]) -> dict[str, Any]:
    """The jsonl object of one prompt, keys in SLURP's order."""
    sentence = record.sentence
    ent_wer = 0.0 if sentence.entities else None
    return {
        "slurp_id": record.slurp_id,
        "sentence": sentence.text,
        "sentence_annotation": sentence.annotation,
        "intent": record.intent_field,
        "action": record.action,
        # no tagger here: the lemma is the surface form and the tag spaCy's "XX" (unknown)
        "tokens": [{"surface": token, "id": i, "lemma": token, "pos": "XX"} for i, token in enumerate(sentence.tokens)],
        "scenario": record.scenario,
        "recordings": [
            {"file": name, "wer": 0.0, "ent_wer": ent_wer, "status": "correct"}
            for session in sessions
            for name in session.files
        ],
        "entities": [{"span": list(span), "type": entity_type} for entity_type, _, span in sentence.entities],
    }


def jsonl_text(plan: ReplicaPlan, text_file: str) -> str:
    """The whole ``<text_file>.jsonl``: one line per prompt, as ``json.dumps`` writes the real files."""
    sessions_of: dict[int, list[ReplicaSession]] = {}
    for session in plan.sessions:
        sessions_of.setdefault(session.slurp_id, []).append(session)
    return "".join(
        json.dumps(record_json(record, sessions_of[record.slurp_id])) + "\n"
        for record in plan.records
        if record.text_file == text_file
    )


# ---------------------------------------------------------------------------------------------------
# Audio, one fresh process per group of readings


def render_session(speech: np.ndarray, session: ReplicaSession) -> dict[str, np.ndarray]:
    """The int16 samples of each file of one reading: padded with silence, scaled to the speaker's peak.

    The headset (or synthetic) copy is that clean signal; the far-field copy is it low-passed,
    attenuated by ``gain`` and with seeded pink noise at ``snr_db`` (relative to the attenuated speech).
    """
    from scipy.signal import butter, sosfilt

    audio = speech.astype(np.float64)
    peak = np.abs(audio).max()
    if peak > 0:
        audio *= session.speaker.peak / peak
    audio = np.concatenate(
        [np.zeros(round(session.lead_s * SAMPLE_RATE)), audio, np.zeros(round(session.trail_s * SAMPLE_RATE))]
    )
    clean = _to_int16(audio)
    if session.far_field is None:
        return {session.files[0]: clean}

    far = session.far_field
    sos = butter(FAR_FIELD_FILTER_ORDER, far.lowpass_hz, btype="lowpass", fs=SAMPLE_RATE, output="sos")
    distant = sosfilt(sos, audio) * far.gain
    noise = pink_noise(len(distant), np.random.default_rng(session.seed))
    speech_power = np.mean(distant**2)
    if speech_power > 0:
        noise *= np.sqrt(speech_power / (np.mean(noise**2) * 10 ** (far.snr_db / 10)))
    distant = distant + noise
    loudest = np.abs(distant).max()
    if loudest > 0.99:
        distant *= 0.99 / loudest
    headset_file, far_file = session.files
    return {headset_file: clean, far_file: _to_int16(distant)}


def _to_int16(audio: np.ndarray) -> np.ndarray:
    return np.round(np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)


def _synthesize_group(staging: Path, group: list[ReplicaSession]) -> list[int]:
    """Synthesise one group of readings to FLAC under ``staging``; return their lengths in samples."""
    import soundfile

    from summarymixing.corpora.replica.espeak import EspeakSynthesizer

    synthesizer = EspeakSynthesizer()
    lengths = []
    for session in group:
        speaker = session.speaker
        speech = synthesizer.synthesize(
            session.text, speaker.voice, speaker.variant, speaker.rate_wpm, speaker.pitch, seed=session.seed
        )
        copies = render_session(speech, session)  # headset and far-field copies have the same length
        for name, samples in copies.items():
            path = staging / session.audio_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(path, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        lengths.append(len(next(iter(copies.values()))))
    return lengths


def _synthesize_all(sessions: list[ReplicaSession], staging: Path, workers: int) -> list[int]:
    """Synthesise every reading into ``staging``, a fresh process per group; return samples per reading."""
    groups = [sessions[i : i + SESSIONS_PER_PROCESS] for i in range(0, len(sessions), SESSIONS_PER_PROCESS)]
    results = run_in_fresh_processes(
        groups, _synthesize_group, staging, workers,
        describe=lambda group: f"SLURP replica readings {group[0].session_id}..{group[-1].session_id}",
        preload=[__name__],
    )  # fmt: skip
    return [n for lengths in results for n in lengths]


# ---------------------------------------------------------------------------------------------------
# Packing


def readme_text(speakers: list[ReplicaSpeaker]) -> str:
    rows = "".join(f"{spk.speaker_id:>4} | {spk.text_file:<15} | {spk.name}\n" for spk in speakers)
    return README + rows


def _pack_audio(archive: Path, audio_dir: str, staging: Path, readme: str) -> None:
    """Write ``archive`` (atomically): ``README.txt``, then ``<audio_dir>/`` and its FLAC files, sorted."""
    files = sorted(path.name for path in (staging / audio_dir).iterdir())
    with deterministic_tar(archive) as tar:
        tar.add_bytes("README.txt", readme.encode("utf-8"))
        tar.add_dir(audio_dir)
        for name in files:
            tar.add_file(f"{audio_dir}/{name}", staging / audio_dir / name)


def synthesize(out_dir: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """Synthesise the replica described by ``cfg`` into ``out_dir``, one file per ``corpora.slurp.ARCHIVES``.

    Returns the replica contract (``corpora.replica``) and a summary::

        {"archives": {name: {"file", "checksum", "bytes"}}, "records": {jsonl: n}, "recordings": {jsonl: n},
         "hours": audio in all, "seconds": wall time}

    Checksums are those the real corpus is pinned with: sha256 for the jsonl files, md5 for the tarballs.
    """
    start = time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_replica(cfg)
    workers = cfg.get("workers") or os.cpu_count() or 1
    log.info(
        "SLURP replica: %d prompts, %d readings by %d speakers, synthesised in %d processes",
        len(plan.records), len(plan.sessions), len(plan.speakers), workers,
    )  # fmt: skip

    archives: dict[str, dict[str, Any]] = {}
    recordings: dict[str, int] = {}
    for text_file in TEXT_FILES:
        path = out_dir / ARCHIVES[text_file].file
        with atomic_path(path) as tmp:
            tmp.write_text(jsonl_text(plan, text_file), encoding="utf-8")
        archives[text_file] = _archive_entry(path, "sha256")
        recordings[text_file] = sum(len(s.files) for s in plan.sessions if s.speaker.text_file == text_file)

    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".staging-") as staging_dir:
        staging = Path(staging_dir)
        lengths = _synthesize_all(plan.sessions, staging, workers)
        readme = readme_text(plan.speakers)
        for audio_dir in ("slurp_real", "slurp_synth"):
            path = out_dir / ARCHIVES[audio_dir].file
            _pack_audio(path, audio_dir, staging, readme)
            archives[audio_dir] = _archive_entry(path, "md5")
    hours = sum(n * len(s.files) for n, s in zip(lengths, plan.sessions, strict=True)) / SAMPLE_RATE / 3600
    seconds = round(time.monotonic() - start, 1)
    log.info(
        "SLURP replica: %s recordings, %.2f h of audio, written to %s in %.0f s",
        ", ".join(f"{name} {n}" for name, n in recordings.items()), hours, out_dir, seconds,
    )  # fmt: skip
    return {
        "archives": archives,
        "records": {name: cfg["records"][name] for name in TEXT_FILES},
        "recordings": recordings,
        "hours": round(hours, 4),
        "seconds": seconds,
    }


def _archive_entry(path: Path, algorithm: str) -> dict[str, Any]:
    checksum = f"{algorithm}:{file_checksum(path, algorithm)}"
    return {"file": path.name, "checksum": checksum, "bytes": path.stat().st_size}

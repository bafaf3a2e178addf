"""A synthetic, deterministic replica of Google Speech Commands v0.02, laid out and packed like the real one.

``synthesize(out_dir, cfg)`` writes ``speech_commands_v0.02.tar.gz`` and
``speech_commands_test_set_v0.02.tar.gz`` (no top-level directory, like the real tarballs), so the real
download and preparation code (``corpora.speechcommands``) runs on them unchanged. ``cfg`` is the
``datasets.<name>.replica`` block of ``params.yaml`` (``validate_replica_config`` lists its keys).

What is in it:

* Speakers are espeak-ng voices: voice x variant (``m3``, ``f2``, ...) x speaking rate x pitch, drawn
  with the seeded RNG, with a vocal tract length of their own (all frequencies scaled by 0.9-1.1),
  named by 8 hex digits like the real ones. The ids are drawn until TensorFlow's ``which_set`` puts
  ``cfg["speakers"][p]`` of them into each partition ``p`` (training, validation, testing), so
  ``validation_list.txt`` and ``testing_list.txt`` list exactly the validation and testing speakers'
  clips. The test-set archive has its own speakers (ids that also hash to testing).
  Validation, testing and the test-set archive use ``unseen_voices``, never heard in training.
* Main archive: every speaker says each of the ten keywords ``keyword_clips`` times and
  ``other_words`` of the 25 other words once (the least used words first, so all 35 word folders are
  filled): ``<word>/<speaker>_nohash_<n>.wav``. ``_background_noise_/`` holds the six real file
  names, each ``background_seconds`` long, with the character of its name (white, pink, running water,
  dishes, a pedalling exercise bike, a miaowing cat) and a slowly wandering level.
* Test-set archive, class-balanced like the real one: every speaker says each keyword once
  (``<keyword>/<speaker>_nohash_0.wav``) and one other word (``_unknown_/<word>_<speaker>_nohash_0.wav.wav``,
  with the real files' double extension), and there are as many ``_silence_/<n>.wav`` noise clips as
  speakers.
* Each spoken clip: the word trimmed of espeak's silences, at a random peak level, placed at a random
  time in a one-second window (about one clip in ten ends early, as in the real data), with white,
  pink or brown noise at an SNR drawn from ``snr_db``; the speaking rate and pitch vary a little
  around the speaker's, and the word is said as a statement, an exclamation or a question. WAV,
  16 kHz, 16-bit, mono, at most one second.
* ``README.md`` and ``LICENSE`` at the top of both archives say that it is synthetic.

Determinism: the same ``cfg`` gives byte-identical archives. The plan (speakers, words, seeds, levels)
comes from one seeded RNG; each speaker's clips are synthesised in a fresh process
(``synthesis.run_in_fresh_processes``: espeak-ng carries state from one utterance to the next) with
espeak's random generator and the clip's noise seeded per clip; tar members are sorted with mtime 0
and uid/gid 0; the gzip header has mtime 0 and no file name. The number of workers does not change
the output.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from summarymixing.corpora.replica.espeak import MAX_RATE_WPM, MIN_RATE_WPM, SAMPLE_RATE
from summarymixing.corpora.replica.speakers import Identity, check_voices, deterministic_tar, new_identity, voice_cycles
from summarymixing.corpora.replica.synthesis import run_in_fresh_processes
from summarymixing.corpora.speechcommands import (
    ARCHIVES,
    BACKGROUND_NOISE,
    BACKGROUND_NOISE_FILES,
    KEYWORDS,
    MAIN_ARCHIVE,
    SILENCE,
    TEST_ARCHIVE,
    TESTING_LIST,
    UNKNOWN,
    VALIDATION_LIST,
    WORDS,
    which_set,
)
from summarymixing.io import file_checksum

log = logging.getLogger(__name__)

WORKER_KEYS = ("workers",)  # replica settings that do not change the output

PARTITIONS = ("training", "validation", "testing", "test_set")  # which_set's three, then the test-set archive
UNSEEN_PARTITIONS = ("validation", "testing", "test_set")
OTHER_WORDS = tuple(word for word in WORDS if word not in KEYWORDS)
REQUIRED_KEYS = (
    "seed", "speakers", "keyword_clips", "other_words", "seen_voices", "unseen_voices", "variants",
    "rate_wpm", "pitch", "snr_db", "background_seconds",
)  # fmt: skip
OPTIONAL_KEYS = ("workers",)

CLIP_SAMPLES = SAMPLE_RATE  # one second
SHORT_CLIP_FRACTION = 0.1  # real clips are one second long except when the recording ended early
PEAK_RANGE = (0.15, 0.9)  # peak level of a clip, log-uniform: microphones and distances vary
RATE_JITTER = 0.05  # a clip's speaking rate: the speaker's +- this fraction (repetitions differ)
PITCH_JITTER = 4  # a clip's pitch: the speaker's +- this many espeak pitch units
# A speaker's vocal tract length relative to the espeak variant's: formants (and pitch and tempo) scale by
# it. Adults differ by about this much, and a continuum of formant scales, rather than espeak's dozen
# variants, is what lets a model trained on a few voices recognise unseen ones.
WARP_RANGE = (0.9, 1.1)
TRIM_THRESHOLD = 0.02  # of the peak: where espeak's word starts and ends (its output has long silences)
MARGIN_SAMPLES = 320  # 20 ms kept around the trimmed word, so onsets and releases are not cut
FADE_SAMPLES = 160  # fade-out where a word too long for the window is cut
INTONATIONS = (".", "!", "?")  # a word said as a statement, an exclamation or a question: espeak's pitch contours
UNDER_WORD_NOISES = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # spectral slope exponent of the noise under a word
LEVEL_WANDER_DB = 10.0  # background noise level wanders this many dB below its nominal level
SILENCE_ID_RANGE = (100, 10_000)  # the real test set names its silence clips _silence_/<n>.wav

README = """\
THIS IS NOT THE SPEECH COMMANDS DATASET. THIS IS A SYNTHETIC REPLICA.
=====================================================================

Every clip in this archive was synthesised offline by espeak-ng (a formant speech synthesiser), and
every noise was generated by a program, by the summarymixing-repro pipeline
(summarymixing.corpora.replica.speechcommands). No human speech and no recording of the Speech
Commands dataset (Warden, 2018) is in it.

It copies the layout and formats of Speech Commands v0.02 only, so that the real download and
preparation code runs on it unchanged: 16 kHz 16-bit mono WAV clips of at most one second,
<word>/<speaker>_nohash_<n>.wav, _background_noise_/, validation_list.txt and testing_list.txt made
by TensorFlow's which_set hashing, and a separate test-set archive with <keyword>/, _unknown_/ and
_silence_/. A "speaker" is an espeak-ng voice, voice variant, speaking rate and pitch; validation,
testing and the test-set archive use voices never used in training.

Accuracies measured on this replica say nothing about Speech Commands. They only show that the
pipeline runs end to end and that models learn.
"""
LICENSE = """\
This archive is a synthetic replica generated by summarymixing-repro. It contains no audio and no
text from the Speech Commands dataset (which is distributed under the Creative Commons BY 4.0 licence,
https://creativecommons.org/licenses/by/4.0/); every clip was synthesised by espeak-ng or generated
as noise by a program.
"""
BACKGROUND_README = """\
Synthetic background noise, generated by summarymixing.corpora.replica.speechcommands (not recordings):

* white_noise.wav, pink_noise.wav: white and 1/f noise.
* running_tap.wav: band-limited hiss with a bubbling, fluctuating level.
* doing_the_dishes.wav: low rumble with random clinks (decaying high-pitched partials).
* exercise_bike.wav: a whoosh and a mechanical hum pulsing at a pedalling rate, with squeaks.
* dude_miaowing.wav: quiet room tone with occasional miaows (gliding harmonic tones).

The level of each wanders slowly, so that one-second crops have different loudness.
"""


@dataclass(frozen=True)
class ReplicaSpeaker:
    """One synthetic speaker: an espeak-ng voice and variant at a given speaking rate and pitch."""

    speaker_id: str  # 8 hex digits
    partition: str  # one of PARTITIONS
    voice: str
    variant: str
    rate_wpm: int
    pitch: int
    warp: float = 1.0  # formant scale (WARP_RANGE): > 1 a shorter vocal tract

    @property
    def name(self) -> str:
        return f"espeak-ng {self.voice}+{self.variant} {self.rate_wpm} wpm pitch {self.pitch} warp {self.warp}"


@dataclass(frozen=True)
class ReplicaClip:
    """One clip of the plan: where it goes, who says what (nothing for a silence clip), and its variation."""

    archive: str  # an archive name of the recipe's ARCHIVES
    member: str  # path inside the archive
    word: str | None  # None: a test-set silence clip (noise only)
    speaker: ReplicaSpeaker | None
    rate_wpm: int
    pitch: int
    seed: int  # espeak's random generator and the clip's noise
    level: float  # a word's peak level; a silence clip's gain
    position: float  # where the word sits in the free part of its window: 0 (start) to 1 (end)
    end: float | None  # None: a full second; else where the clip ends, 0 (word end) to 1 (one second)
    snr_db: float
    noise: str  # UNDER_WORD_NOISES key for a word, a background noise file name for a silence clip
    intonation: str = "."  # the punctuation espeak reads after the word (INTONATIONS)


@dataclass(frozen=True)
class BackgroundNoise:
    """One ``_background_noise_/<name>`` recording of the plan."""

    name: str
    seconds: float
    seed: int


@dataclass(frozen=True)
class ReplicaPlan:
    speakers: list[ReplicaSpeaker]
    clips: list[ReplicaClip]
    background: list[BackgroundNoise]


# ---------------------------------------------------------------------------------------------------
# Configuration and plan.


def validate_replica_config(cfg: dict[str, Any]) -> None:
    """Check the replica block; raise ``ValueError`` naming the key and the problem."""
    missing = [key for key in REQUIRED_KEYS if key not in cfg]
    if missing:
        raise ValueError(f"replica config: missing {', '.join(missing)}")
    unknown = [key for key in cfg if key not in REQUIRED_KEYS + OPTIONAL_KEYS]
    if unknown:
        known = ", ".join(REQUIRED_KEYS + OPTIONAL_KEYS)
        raise ValueError(f"replica config: unknown key(s) {', '.join(map(str, unknown))} (known: {known})")
    _check_int("seed", cfg["seed"], 0)
    speakers = cfg["speakers"]
    if not isinstance(speakers, dict) or sorted(speakers) != sorted(PARTITIONS):
        raise ValueError(f"replica config: speakers must give a count for each of {', '.join(PARTITIONS)}, got {speakers!r}")
    for partition in PARTITIONS:
        _check_int(f"speakers.{partition}", speakers[partition], 1)
    _check_int("keyword_clips", cfg["keyword_clips"], 1)
    _check_int("other_words", cfg["other_words"], 0, len(OTHER_WORDS))
    main_speakers = sum(speakers[p] for p in PARTITIONS if p != "test_set")
    if main_speakers * cfg["other_words"] < len(OTHER_WORDS):
        raise ValueError(
            f"replica config: other_words: {main_speakers} speakers x {cfg['other_words']} other words cannot cover "
            f"the {len(OTHER_WORDS)} non-keyword words (every word folder must have clips)"
        )
    check_voices(cfg)
    _check_range("snr_db", cfg["snr_db"], -20, 100)
    _check_range("background_seconds", cfg["background_seconds"], 2, 600)
    if cfg.get("workers") is not None:
        _check_int("workers", cfg["workers"], 1)


def _check_int(key: str, value: Any, low: int, high: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"replica config: {key}: expected an integer {bounds}, got {value!r}")


def _check_range(key: str, value: Any, low: float, high: float) -> None:
    valid = (
        isinstance(value, (list, tuple)) and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and low <= value[0] <= value[1] <= high
    )  # fmt: skip
    if not valid:
        raise ValueError(f"replica config: {key}: expected [low, high] with {low} <= low <= high <= {high}, got {value!r}")


def plan_replica(cfg: dict[str, Any]) -> ReplicaPlan:
    """Every speaker, clip and background noise of the replica, in a fixed order; deterministic."""
    validate_replica_config(cfg)
    rng = np.random.default_rng(cfg["seed"])
    speakers = _draw_speakers(cfg, rng)
    clips: list[ReplicaClip] = []
    word_counts = {word: 0 for word in OTHER_WORDS}  # the main archive's, so that every folder fills
    test_word_counts = {word: 0 for word in OTHER_WORDS}
    for speaker in speakers:
        if speaker.partition == "test_set":
            for word in KEYWORDS:
                clips.append(_plan_clip(rng, cfg, TEST_ARCHIVE, f"{word}/{speaker.speaker_id}_nohash_0.wav", word, speaker))
            for word in _least_used(rng, test_word_counts, 1):
                member = f"{UNKNOWN}/{word}_{speaker.speaker_id}_nohash_0.wav.wav"
                clips.append(_plan_clip(rng, cfg, TEST_ARCHIVE, member, word, speaker))
        else:
            for word in KEYWORDS:
                for n in range(cfg["keyword_clips"]):
                    member = f"{word}/{speaker.speaker_id}_nohash_{n}.wav"
                    clips.append(_plan_clip(rng, cfg, MAIN_ARCHIVE, member, word, speaker))
            for word in sorted(_least_used(rng, word_counts, cfg["other_words"])):
                clips.append(_plan_clip(rng, cfg, MAIN_ARCHIVE, f"{word}/{speaker.speaker_id}_nohash_0.wav", word, speaker))
    n_silence = cfg["speakers"]["test_set"]  # as many as each keyword's clips: the real test set is balanced
    silence_ids = sorted(_distinct_integers(rng, SILENCE_ID_RANGE, n_silence))
    for silence_id in silence_ids:
        clips.append(
            ReplicaClip(
                TEST_ARCHIVE, f"{SILENCE}/{silence_id}.wav", None, None, 0, 0,
                seed=int(rng.integers(0, 2**31 - 1)),
                level=float(10 ** (-rng.uniform(0, LEVEL_WANDER_DB) / 20)),
                position=0.0, end=None, snr_db=0.0,
                noise=BACKGROUND_NOISE_FILES[int(rng.integers(len(BACKGROUND_NOISE_FILES)))],
            )  # fmt: skip
        )
    background = [
        BackgroundNoise(name, round(float(rng.uniform(*cfg["background_seconds"])), 2), int(rng.integers(0, 2**31 - 1)))
        for name in BACKGROUND_NOISE_FILES
    ]
    return ReplicaPlan(speakers, clips, background)


def _draw_speakers(cfg: dict[str, Any], rng: np.random.Generator) -> list[ReplicaSpeaker]:
    """Speaker ids drawn until ``which_set`` has filled every partition; then a voice for each."""
    wanted = cfg["speakers"]
    ids: dict[str, list[str]] = {partition: [] for partition in PARTITIONS}
    drawn: set[str] = set()
    # which_set sends 10 % of the ids to validation and 10 % to testing: a few hundred draws suffice.
    for _ in range(1000 * sum(wanted.values())):
        if all(len(ids[p]) >= wanted[p] for p in PARTITIONS):
            break
        speaker_id = f"{int(rng.integers(0, 2**32)):08x}"
        if speaker_id in drawn:
            continue
        drawn.add(speaker_id)
        partition = which_set(f"{speaker_id}_nohash_0.wav")
        if partition == "testing" and len(ids["testing"]) >= wanted["testing"]:
            partition = "test_set"  # the test-set archive's speakers are testing speakers too
        if len(ids[partition]) < wanted[partition]:
            ids[partition].append(speaker_id)
    if not all(len(ids[p]) >= wanted[p] for p in PARTITIONS):
        raise ValueError("replica config: speakers: could not draw enough speaker ids")

    voice_pairs = voice_cycles(cfg, rng)
    used: set[Identity] = set()
    speakers = []
    for partition in PARTITIONS:
        family = "unseen_voices" if partition in UNSEEN_PARTITIONS else "seen_voices"
        for speaker_id in sorted(ids[partition]):
            voice, variant, rate_wpm, pitch = new_identity(cfg, rng, voice_pairs[family], used)
            warp = round(float(rng.uniform(*WARP_RANGE)), 3)
            speakers.append(ReplicaSpeaker(speaker_id, partition, voice, variant, rate_wpm, pitch, warp))
    return speakers


def _least_used(rng: np.random.Generator, counts: dict[str, int], n: int) -> list[str]:
    """``n`` distinct words, the least used so far first (ties broken at random); updates ``counts``."""
    tiebreak = rng.permutation(len(counts))
    chosen = [word for _, _, word in sorted(zip(counts.values(), tiebreak, counts))[:n]]
    for word in chosen:
        counts[word] += 1
    return chosen


def _distinct_integers(rng: np.random.Generator, value_range: tuple[int, int], n: int) -> list[int]:
    """``n`` distinct integers drawn from ``value_range`` (half-open), in the order drawn."""
    values: list[int] = []
    while len(values) < n:
        value = int(rng.integers(*value_range))
        if value not in values:
            values.append(value)
    return values


def _plan_clip(
    rng: np.random.Generator, cfg: dict[str, Any], archive: str, member: str, word: str, speaker: ReplicaSpeaker
) -> ReplicaClip:
    """A spoken clip: the speaker's rate and pitch varied a little; intonation, level, timing and noise drawn."""
    rate = round(speaker.rate_wpm * (1 + rng.uniform(-RATE_JITTER, RATE_JITTER)))
    pitch = speaker.pitch + int(rng.integers(-PITCH_JITTER, PITCH_JITTER + 1))
    low, high = np.log(PEAK_RANGE[0]), np.log(PEAK_RANGE[1])
    return ReplicaClip(
        archive=archive,
        member=member,
        word=word,
        speaker=speaker,
        rate_wpm=int(np.clip(rate, MIN_RATE_WPM, MAX_RATE_WPM)),
        pitch=int(np.clip(pitch, 0, 100)),
        seed=int(rng.integers(0, 2**31 - 1)),
        level=round(float(np.exp(rng.uniform(low, high))), 4),
        position=round(float(rng.uniform(0, 1)), 4),
        end=round(float(rng.uniform(0, 1)), 4) if rng.uniform() < SHORT_CLIP_FRACTION else None,
        snr_db=round(float(rng.uniform(*cfg["snr_db"])), 2),
        noise=list(UNDER_WORD_NOISES)[int(rng.integers(len(UNDER_WORD_NOISES)))],
        intonation=INTONATIONS[int(rng.integers(len(INTONATIONS)))],
    )


# ---------------------------------------------------------------------------------------------------
# Noise.


def coloured_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """``n`` samples of noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequencies = np.arange(len(spectrum), dtype=np.float64)
    frequencies[0] = 1.0
    noise = np.fft.irfft(spectrum / frequencies ** (exponent / 2), n)
    return _unit_rms(noise - noise.mean())


def band_noise(n: int, rng: np.random.Generator, low_hz: float, high_hz: float) -> np.ndarray:
    """``n`` samples of white noise limited to ``[low_hz, high_hz]``, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequencies = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum[(frequencies < low_hz) | (frequencies > high_hz)] = 0
    return _unit_rms(np.fft.irfft(spectrum, n))


def _unit_rms(x: np.ndarray) -> np.ndarray:
    rms = np.sqrt(np.mean(x**2))
    return x / rms if rms > 0 else x


def _smooth(n: int, rng: np.random.Generator, rate_hz: float) -> np.ndarray:
    """A random curve in [0, 1] that changes about ``rate_hz`` times a second."""
    points = max(2, int(n / SAMPLE_RATE * rate_hz) + 2)
    return np.interp(np.arange(n), np.linspace(0, n, points), rng.uniform(0, 1, points))


def _decaying_partials(rng: np.random.Generator, low_hz: float, high_hz: float, decay_s: tuple[float, float]) -> np.ndarray:
    """A clink: two or three exponentially decaying sine partials."""
    decay = rng.uniform(*decay_s)
    t = np.arange(int(decay * 5 * SAMPLE_RATE)) / SAMPLE_RATE
    partials = sum(
        rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * rng.uniform(low_hz, high_hz) * t + rng.uniform(0, 2 * np.pi))
        for _ in range(int(rng.integers(2, 4)))
    )
    return partials * np.exp(-t / decay)


def _add_events(signal: np.ndarray, rng: np.random.Generator, per_second: float, make: Callable[[], np.ndarray]) -> None:
    """Add ``make()`` at Poisson-distributed times (``per_second`` on average), cut at the end."""
    position = int(rng.exponential(SAMPLE_RATE / per_second))
    while position < len(signal):
        event = make()[: len(signal) - position]
        signal[position : position + len(event)] += event
        position += len(event) + int(rng.exponential(SAMPLE_RATE / per_second))


def _miaow(rng: np.random.Generator) -> np.ndarray:
    """A gliding harmonic tone: pitch rises then falls, with vibrato and a smooth envelope."""
    seconds = rng.uniform(0.4, 1.0)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    start, top, stop = rng.uniform(380, 520), rng.uniform(700, 950), rng.uniform(350, 500)
    f0 = np.interp(t, [0, seconds * 0.35, seconds], [start, top, stop]) * (1 + 0.02 * np.sin(2 * np.pi * 6 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 7))
    return 0.25 * tone * np.sin(np.pi * t / seconds) ** 2


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return 0.1 * coloured_noise(n, rng, 0.0)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return 0.1 * coloured_noise(n, rng, 1.0)


def running_tap(n: int, rng: np.random.Generator) -> np.ndarray:
    hiss = band_noise(n, rng, 700, 7000)
    bubbles = 0.6 + 0.4 * _smooth(n, rng, 12.0)
    return 0.06 * hiss * bubbles


def doing_the_dishes(n: int, rng: np.random.Generator) -> np.ndarray:
    signal = 0.01 * coloured_noise(n, rng, 2.0)
    _add_events(signal, rng, 1.5, lambda: rng.uniform(0.05, 0.35) * _decaying_partials(rng, 1500, 6000, (0.02, 0.08)))
    return signal


def exercise_bike(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    cadence = rng.uniform(1.0, 1.5)  # pedal turns per second
    pulse = (0.5 + 0.5 * np.sin(2 * np.pi * cadence * t + rng.uniform(0, 2 * np.pi))) ** 2
    whoosh = band_noise(n, rng, 80, 1500) * (0.3 + 0.7 * pulse)
    hum_hz = rng.uniform(45, 65)
    hum = sum(np.sin(2 * np.pi * k * hum_hz * t) / k for k in range(1, 5))
    signal = 0.05 * whoosh + 0.01 * hum * (0.5 + 0.5 * pulse)
    _add_events(signal, rng, cadence / 2, lambda: rng.uniform(0.02, 0.08) * _decaying_partials(rng, 1800, 3200, (0.05, 0.12)))
    return signal


def dude_miaowing(n: int, rng: np.random.Generator) -> np.ndarray:
    signal = 0.004 * coloured_noise(n, rng, 1.0)
    _add_events(signal, rng, 0.2, lambda: _miaow(rng))
    return signal


BACKGROUND_GENERATORS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "doing_the_dishes.wav": doing_the_dishes,
    "dude_miaowing.wav": dude_miaowing,
    "exercise_bike.wav": exercise_bike,
    "pink_noise.wav": pink_noise,
    "running_tap.wav": running_tap,
    "white_noise.wav": white_noise,
}


def render_background(noise: BackgroundNoise) -> np.ndarray:
    """One background noise recording, its level wandering over ``LEVEL_WANDER_DB``; int16 samples."""
    rng = np.random.default_rng(noise.seed)
    n = round(noise.seconds * SAMPLE_RATE)
    signal = BACKGROUND_GENERATORS[noise.name](n, rng)
    signal = signal * 10 ** (-LEVEL_WANDER_DB * _smooth(n, rng, 0.3) / 20)
    return _to_int16(signal)


# ---------------------------------------------------------------------------------------------------
# Clips, synthesised one speaker per fresh process.


def trim_word(speech: np.ndarray) -> np.ndarray:
    """The word without espeak's leading and trailing silence (``MARGIN_SAMPLES`` kept on each side)."""
    loud = np.flatnonzero(np.abs(speech) > TRIM_THRESHOLD * np.abs(speech).max()) if len(speech) else []
    if len(loud) == 0:
        raise ValueError("espeak-ng returned silence")
    return speech[max(0, loud[0] - MARGIN_SAMPLES) : loud[-1] + MARGIN_SAMPLES + 1]


def warp_formants(speech: np.ndarray, factor: float) -> np.ndarray:
    """``speech`` played ``factor`` times faster: every frequency (formants, pitch) scales by ``factor``."""
    positions = np.arange(0, len(speech) - 1, factor)
    return np.interp(positions, np.arange(len(speech)), speech)


def render_clip(speech: np.ndarray, clip: ReplicaClip) -> np.ndarray:
    """Place a synthesised word, warped to the speaker's vocal tract, in its window at the clip's level,
    timing and noise; int16 samples."""
    word = trim_word(warp_formants(speech.astype(np.float64), clip.speaker.warp))
    if len(word) > CLIP_SAMPLES:  # only at the slowest rates; a real clip would be cut too
        word = word[:CLIP_SAMPLES]
        word[-FADE_SAMPLES:] *= np.linspace(1, 0, FADE_SAMPLES)
    word *= clip.level / np.abs(word).max()
    free = CLIP_SAMPLES - len(word)
    length = CLIP_SAMPLES if clip.end is None else len(word) + round(clip.end * free)
    start = round(clip.position * (length - len(word)))
    audio = np.zeros(length)
    audio[start : start + len(word)] = word
    rng = np.random.default_rng(clip.seed)
    noise = coloured_noise(length, rng, UNDER_WORD_NOISES[clip.noise])
    audio += noise * np.sqrt(np.mean(word**2) / 10 ** (clip.snr_db / 10))
    return _to_int16(audio)


def render_silence(clip: ReplicaClip) -> np.ndarray:
    """A test-set silence clip: one second of a background noise kind (freshly generated), int16."""
    signal = BACKGROUND_GENERATORS[clip.noise](CLIP_SAMPLES, np.random.default_rng(clip.seed))
    return _to_int16(signal * clip.level)


def _to_int16(audio: np.ndarray) -> np.ndarray:
    loudest = np.abs(audio).max() if len(audio) else 0.0
    if loudest > 0.99:
        audio = audio * (0.99 / loudest)
    return np.round(audio * 32767).astype(np.int16)


def _write_wav(path: Path, samples: np.ndarray) -> None:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, SAMPLE_RATE, format="WAV", subtype="PCM_16")


def _synthesize_group(staging: Path, clips: list[ReplicaClip]) -> list[int]:
    """Synthesise a group of clips (one speaker's, or silence) under ``staging``; return their lengths."""
    synthesizer = None
    lengths = []
    for clip in clips:
        if clip.word is None:
            samples = render_silence(clip)
        else:
            if synthesizer is None:
                from summarymixing.corpora.replica.espeak import EspeakSynthesizer

                synthesizer = EspeakSynthesizer()
            speaker = clip.speaker
            text = clip.word + clip.intonation
            speech = synthesizer.synthesize(text, speaker.voice, speaker.variant, clip.rate_wpm, clip.pitch, seed=clip.seed)
            samples = render_clip(speech, clip)
        _write_wav(staging / clip.archive / clip.member, samples)
        lengths.append(len(samples))
    return lengths


def _group_name(clips: list[ReplicaClip]) -> str:
    speaker = clips[0].speaker
    return f"speaker {speaker.speaker_id} ({speaker.name})" if speaker else f"{TEST_ARCHIVE}/{SILENCE}"


def _synthesize_all(plan: ReplicaPlan, staging: Path, workers: int) -> None:
    """Every clip into ``staging/<archive>/<member>``, a fresh process per speaker; the noise here."""
    for noise in plan.background:
        _write_wav(staging / MAIN_ARCHIVE / BACKGROUND_NOISE / noise.name, render_background(noise))
    groups = [list(group) for _, group in itertools.groupby(plan.clips, key=lambda clip: (clip.archive, clip.speaker))]
    run_in_fresh_processes(groups, _synthesize_group, staging, workers, describe=_group_name, preload=[__name__])


# ---------------------------------------------------------------------------------------------------
# Packing, like the real tarballs (no top-level directory).


def _pack(archive: Path, tree: Path) -> None:
    """Write ``archive`` (atomically) from the files under ``tree``: sorted members, no top directory."""
    members = sorted(path.relative_to(tree).as_posix() for path in tree.rglob("*"))
    with deterministic_tar(archive) as tar:
        for name in members:
            if (tree / name).is_dir():
                tar.add_dir(name)
            else:
                tar.add_file(name, tree / name)


def _write_text_files(plan: ReplicaPlan, staging: Path) -> None:
    """README.md and LICENSE in both archives, the background README, and the two list files."""
    main, test = staging / MAIN_ARCHIVE, staging / TEST_ARCHIVE
    for tree in (main, test):
        tree.mkdir(parents=True, exist_ok=True)
        (tree / "README.md").write_text(README, encoding="utf-8")
        (tree / "LICENSE").write_text(LICENSE, encoding="utf-8")
    (main / BACKGROUND_NOISE / "README.md").write_text(BACKGROUND_README, encoding="utf-8")
    listed: dict[str, list[str]] = {"validation": [], "testing": []}
    for clip in plan.clips:
        if clip.archive == MAIN_ARCHIVE:
            partition = which_set(clip.member)
            if partition in listed:
                listed[partition].append(clip.member)
    for name, partition in ((VALIDATION_LIST, "validation"), (TESTING_LIST, "testing")):
        (main / name).write_text("".join(f"{member}\n" for member in sorted(listed[partition])), encoding="utf-8")


def synthesize_speechcommands_replica(out_dir: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """Synthesise the replica described by ``cfg`` into ``out_dir``: the two ``.tar.gz`` archives.

    Returns ``{"archives": {name: {"file", "checksum", "bytes", "clips"}}, "speakers": {partition: n},
    "seconds": wall time}``.
    """
    start = time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_replica(cfg)
    workers = max(1, int(cfg.get("workers") or os.cpu_count() or 1))
    log.info(
        "synthesising %d clips of %d speakers with espeak-ng in %d worker processes",
        len(plan.clips), len(plan.speakers), workers,
    )  # fmt: skip
    archives = {}
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".staging-") as staging_dir:
        staging = Path(staging_dir)
        _synthesize_all(plan, staging, workers)
        _write_text_files(plan, staging)
        for name in (MAIN_ARCHIVE, TEST_ARCHIVE):
            archive = out_dir / ARCHIVES[name].file
            _pack(archive, staging / name)
            archives[name] = {
                "file": archive.name,
                "checksum": f"sha256:{file_checksum(archive, 'sha256')}",
                "bytes": archive.stat().st_size,
                "clips": sum(clip.archive == name for clip in plan.clips),
            }
            log.info("%s: %d clips, %.1f MB", archive.name, archives[name]["clips"], archives[name]["bytes"] / 1e6)
    speakers = {partition: sum(s.partition == partition for s in plan.speakers) for partition in PARTITIONS}
    seconds = round(time.monotonic() - start, 1)
    log.info("replica packed in %.0f s", seconds)
    return {"archives": archives, "speakers": speakers, "seconds": seconds}


def synthesize(out_dir: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """The replica contract (``corpora.replica``): archives by name, with their checksums and sizes."""
    summary = synthesize_speechcommands_replica(out_dir, cfg)
    return {
        "archives": {
            name: {key: archive[key] for key in ("file", "checksum", "bytes")} for name, archive in summary["archives"].items()
        },
        "seconds": summary["seconds"],
    }

"""A synthetic, deterministic replica of LibriSpeech, laid out and packed exactly like the real corpus.

``synthesize_librispeech_replica(out_dir, cfg)`` writes ``<split>.tar.gz`` archives and an
``md5sum.txt`` like openslr's (SLR12), so the real download and preparation code (lhotse's LibriSpeech
preparer) runs on it unchanged. ``cfg`` is the ``datasets.<name>.replica`` block of ``params.yaml``.

What is in it:

* Speakers are espeak-ng voices: voice x variant (``m3``, ``f2``, ...) x speaking rate x pitch, drawn
  with the seeded RNG. Every split has its own speakers (numeric ids, disjoint across splits, several
  chapters each), as in LibriSpeech. ``*-other`` splits (``test-other``) add pink noise at an SNR drawn
  from ``noise_snr_db``, and are read by ``unseen_voices`` (never heard in training) or, with
  ``other_voices: seen``, by new speakers of the training voices: the harder set.
* Transcripts come from the small grammar in ``grammar.py``, in LibriSpeech's text conventions, and
  are unique across the whole replica (no test sentence is a training sentence).
* Layout: ``LibriSpeech/<split>/<spk>/<chapter>/<spk>-<chapter>-<utt:04d>.flac`` (16 kHz mono, 16 bit)
  and ``<spk>-<chapter>.trans.txt`` per chapter; each archive also holds ``LibriSpeech/SPEAKERS.TXT``
  (all splits' speakers, like the real file) and a ``LibriSpeech/README.TXT`` saying it is synthetic.

Determinism: the same ``cfg`` gives byte-identical archives. The plan (speakers, texts, seeds) comes
from one seeded RNG; each chapter is synthesised in a fresh process (espeak-ng's waveform generator
carries state from one utterance to the next) with espeak's random generator seeded per utterance; the
noise is seeded per utterance; tar members have a fixed order, mtime 0 and uid/gid 0; the gzip header
has mtime 0 and no file name. The number of worker processes does not change the output.
"""

from __future__ import annotations

import gzip
import itertools
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from summarymixing.corpora.replica import grammar
from summarymixing.corpora.replica.espeak import SAMPLE_RATE
from summarymixing.corpora.replica.speakers import Identity, check_voices, deterministic_tar, new_identity, voice_cycles
from summarymixing.corpora.replica.synthesis import run_in_fresh_processes
from summarymixing.io import atomic_path, md5sum, write_text

log = logging.getLogger(__name__)

WORKER_KEYS = ("workers",)  # replica settings that do not change the output

ROOT = "LibriSpeech"
SPEAKER_ID_RANGE = (10, 10_000)  # LibriSpeech's speaker ids run from 14 to 8,975
CHAPTER_ID_RANGE = (1_000, 300_000)
CHAPTERS_PER_SPEAKER = (2, 4)  # inclusive; fewer if a speaker has fewer utterances
PEAK_RANGE = (0.3, 0.9)  # peak amplitude of a speaker's utterances, drawn per speaker

README = """\
THIS IS NOT LIBRISPEECH. THIS IS A SYNTHETIC REPLICA.
=====================================================

Every recording in this archive was synthesised offline by espeak-ng (a formant speech synthesiser)
from sentences of a small fixed grammar (summarymixing.corpora.replica.grammar), by the
summarymixing-repro pipeline (summarymixing.corpora.replica.librispeech). No human speech, no
LibriVox recording and no LibriSpeech text is in it.

It copies LibriSpeech's layout and text conventions only, so that the real download and preparation
code runs on it unchanged:

    LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utterance>.flac   16 kHz mono FLAC
    LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt          UPPER-CASE text
    LibriSpeech/SPEAKERS.TXT                                                       the "speakers"

A "speaker" is an espeak-ng voice, voice variant, speaking rate and pitch (see NAME in SPEAKERS.TXT).
"-other" splits use voices never used in training and added noise.

Word error rates measured on this replica say nothing about LibriSpeech. They only show that the
pipeline runs end to end and that models learn.
"""


@dataclass(frozen=True)
class ReplicaSpeaker:
    """One synthetic speaker: an espeak-ng voice and variant at a given speaking rate and pitch."""

    speaker_id: int
    split: str
    voice: str
    variant: str
    rate_wpm: int
    pitch: int
    peak: float

    @property
    def sex(self) -> str:
        return "F" if self.variant.lower().startswith("f") else "M"

    @property
    def name(self) -> str:
        return f"espeak-ng {self.voice}+{self.variant} {self.rate_wpm} wpm pitch {self.pitch}"


@dataclass(frozen=True)
class ReplicaUtterance:
    """One utterance of the plan: who says what, where it goes, and its seeds."""

    speaker: ReplicaSpeaker
    chapter_id: int
    index: int
    text: str
    seed: int
    snr_db: float | None  # None: clean

    @property
    def utterance_id(self) -> str:
        return f"{self.speaker.speaker_id}-{self.chapter_id}-{self.index:04d}"

    @property
    def chapter_dir(self) -> str:
        return f"{ROOT}/{self.speaker.split}/{self.speaker.speaker_id}/{self.chapter_id}"

    @property
    def audio_member(self) -> str:
        return f"{self.chapter_dir}/{self.utterance_id}.flac"


def is_other_split(split: str) -> bool:
    """``*-other`` splits (``test-other``) get unseen voices and noise, like LibriSpeech's harder sets."""
    return split.endswith("-other")


def validate_replica_config(cfg: dict[str, Any]) -> None:
    """Check the replica block; raise ``ValueError`` naming the key or the unknown voice."""
    required = (
        "seed", "utterances", "speakers", "seen_voices", "unseen_voices", "variants", "rate_wpm", "pitch", "words",
    )  # fmt: skip
    missing = [key for key in required if key not in cfg]
    if missing:
        raise ValueError(f"replica config: missing {', '.join(missing)}")
    if list(cfg["utterances"]) != list(cfg["speakers"]):
        raise ValueError("replica config: utterances and speakers must list the same splits in the same order")
    for split, n_speakers in cfg["speakers"].items():
        n_utterances = cfg["utterances"][split]
        if not 1 <= n_speakers <= n_utterances:
            raise ValueError(
                f"replica config: {split}: need 1 <= speakers ({n_speakers}) <= utterances ({n_utterances})"
            )
    if any(is_other_split(split) for split in cfg["utterances"]) and "noise_snr_db" not in cfg:
        raise ValueError("replica config: noise_snr_db is needed for the -other splits")
    if cfg.get("other_voices", "unseen") not in ("seen", "unseen"):
        raise ValueError(f"replica config: other_voices must be 'seen' or 'unseen', got {cfg['other_voices']!r}")
    check_voices(cfg)
    for key in ("rate_wpm", "pitch", "words") + (("noise_snr_db",) if "noise_snr_db" in cfg else ()):
        low, high = cfg[key]
        if low > high:
            raise ValueError(f"replica config: {key}: empty range [{low}, {high}]")


def plan_replica(cfg: dict[str, Any]) -> list[ReplicaUtterance]:
    """Every utterance of the replica, in archive order (split, speaker, chapter, index); deterministic."""
    validate_replica_config(cfg)
    rng = np.random.default_rng(cfg["seed"])
    speakers = _draw_speakers(cfg, rng)
    min_words, max_words = cfg["words"]
    used_texts: set[str] = set()
    used_chapter_ids: set[int] = set()
    utterances: list[ReplicaUtterance] = []
    for split, n_utterances in cfg["utterances"].items():
        split_speakers = [spk for spk in speakers if spk.split == split]
        for speaker, n_speaker_utterances in zip(split_speakers, _share(n_utterances, len(split_speakers))):
            min_chapters, max_chapters = CHAPTERS_PER_SPEAKER
            n_chapters = min(n_speaker_utterances, int(rng.integers(min_chapters, max_chapters + 1)))
            chapter_ids = sorted(_draw_ids(rng, CHAPTER_ID_RANGE, n_chapters, exclude=used_chapter_ids))
            used_chapter_ids.update(chapter_ids)
            for chapter_id, n_chapter_utterances in zip(chapter_ids, _share(n_speaker_utterances, n_chapters)):
                for index in range(n_chapter_utterances):
                    text = _unique_sentence(rng, min_words, max_words, used_texts)
                    snr_db = float(rng.uniform(*cfg["noise_snr_db"])) if is_other_split(split) else None
                    seed = int(rng.integers(0, 2**31 - 1))
                    utterances.append(ReplicaUtterance(speaker, chapter_id, index, text, seed, snr_db))
    return utterances


def _share(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal counts, the larger ones first."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def _draw_speakers(cfg: dict[str, Any], rng: np.random.Generator) -> list[ReplicaSpeaker]:
    """Speakers of every split with disjoint ids; a voice family's voice x variant pairs are used in turn."""
    speaker_ids = iter(_draw_ids(rng, SPEAKER_ID_RANGE, sum(cfg["speakers"].values()), exclude=set()))
    voice_pairs = voice_cycles(cfg, rng)
    used: set[Identity] = set()
    speakers = []
    for split, n_speakers in cfg["speakers"].items():
        family = f"{cfg.get('other_voices', 'unseen')}_voices" if is_other_split(split) else "seen_voices"
        for speaker_id in sorted(next(speaker_ids) for _ in range(n_speakers)):
            voice, variant, rate_wpm, pitch = new_identity(cfg, rng, voice_pairs[family], used)
            peak = round(float(rng.uniform(*PEAK_RANGE)), 3)
            speakers.append(ReplicaSpeaker(speaker_id, split, voice, variant, rate_wpm, pitch, peak))
    return speakers


def _draw_ids(rng: np.random.Generator, id_range: tuple[int, int], n: int, exclude: set[int]) -> list[int]:
    """``n`` distinct random ids in ``id_range`` (half-open) that are not in ``exclude``."""
    ids: list[int] = []
    while len(ids) < n:
        candidate = int(rng.integers(*id_range))
        if candidate not in exclude and candidate not in ids:
            ids.append(candidate)
    return ids


def _unique_sentence(rng: np.random.Generator, min_words: int, max_words: int, seen: set[str]) -> str:
    for _ in range(1000):
        text = grammar.random_sentence(rng, min_words, max_words)
        if text not in seen:
            seen.add(text)
            return text
    raise ValueError(f"the grammar ran out of distinct sentences of {min_words}-{max_words} words")


# ---------------------------------------------------------------------------------------------------
# Synthesis, one fresh process per chapter.


def render_utterance(audio: np.ndarray, utterance: ReplicaUtterance) -> np.ndarray:
    """Scale synthesised speech to the speaker's peak and, for noisy splits, add seeded pink noise.

    The SNR is relative to the mean power of the whole utterance. Returns int16 samples.
    """
    audio = audio.astype(np.float64)
    peak = np.abs(audio).max()
    if peak > 0:
        audio *= utterance.speaker.peak / peak
    if utterance.snr_db is not None:
        noise = pink_noise(len(audio), np.random.default_rng(utterance.seed))
        speech_power = np.mean(audio**2)
        noise *= np.sqrt(speech_power / (np.mean(noise**2) * 10 ** (utterance.snr_db / 10)))
        audio = audio + noise
        loudest = np.abs(audio).max()
        if loudest > 0.99:
            audio *= 0.99 / loudest
    return np.round(audio * 32767).astype(np.int16)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of 1/f noise (white noise shaped in the frequency domain), zero mean."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequencies = np.arange(len(spectrum), dtype=np.float64)
    frequencies[0] = 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(frequencies), n)
    return noise - noise.mean()


def _synthesize_chapter(staging: Path, chapter: list[ReplicaUtterance]) -> list[int]:
    """Synthesise one chapter's utterances to FLAC under ``staging``; return their lengths in samples."""
    import soundfile

    from summarymixing.corpora.replica.espeak import EspeakSynthesizer

    synthesizer = EspeakSynthesizer()
    lengths = []
    for utterance in chapter:
        speaker = utterance.speaker
        speech = synthesizer.synthesize(
            utterance.text.lower(),  # espeak spells out some all-capital words (US -> U S)
            speaker.voice,
            speaker.variant,
            speaker.rate_wpm,
            speaker.pitch,
            seed=utterance.seed,
        )
        samples = render_utterance(speech, utterance)
        path = staging / utterance.audio_member
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        lengths.append(len(samples))
    return lengths


def _synthesize_all(utterances: list[ReplicaUtterance], staging: Path, workers: int) -> dict[str, int]:
    """Synthesise every utterance into ``staging``, a fresh process per chapter; return samples per utterance id."""
    chapters = [list(group) for _, group in itertools.groupby(utterances, key=lambda utt: utt.chapter_dir)]
    results = run_in_fresh_processes(
        chapters, _synthesize_chapter, staging, workers,
        describe=lambda chapter: chapter[0].chapter_dir, preload=[__name__],
    )  # fmt: skip
    return {utt.utterance_id: n for chapter, lengths in zip(chapters, results) for utt, n in zip(chapter, lengths)}


# ---------------------------------------------------------------------------------------------------
# Packing, like openslr's archives.


def speakers_txt(speakers: list[ReplicaSpeaker], minutes: dict[int, float]) -> str:
    """``SPEAKERS.TXT`` in LibriSpeech's ``ID|SEX|SUBSET|MINUTES|NAME`` format."""
    lines = [
        "; Synthetic LibriSpeech replica: every speaker is an espeak-ng voice, NOT a LibriVox reader.",
        "; NAME gives the espeak-ng voice+variant, speaking rate and pitch.",
        ";ID  |SEX| SUBSET           |MINUTES| NAME",
    ]
    for spk in sorted(speakers, key=lambda s: s.speaker_id):
        lines.append(f"{spk.speaker_id:<5}| {spk.sex} | {spk.split:<17}| {minutes[spk.speaker_id]:5.2f} | {spk.name}")
    return "\n".join(lines) + "\n"


def _pack_split(
    archive: Path, split: str, utterances: list[ReplicaUtterance], staging: Path, extra_files: dict[str, str]
) -> None:
    """Write ``archive`` (atomically): ``LibriSpeech/`` with ``extra_files`` and the split's tree."""
    with deterministic_tar(archive) as tar:
        added_dirs: set[str] = set()

        def add_dirs(path: str) -> None:
            parts = path.split("/")
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory not in added_dirs:
                    tar.add_dir(directory)
                    added_dirs.add(directory)

        add_dirs(ROOT)
        for name, text in extra_files.items():
            tar.add_bytes(f"{ROOT}/{name}", text.encode("utf-8"))
        add_dirs(f"{ROOT}/{split}")
        for chapter_dir, group in itertools.groupby(utterances, key=lambda utt: utt.chapter_dir):
            chapter = list(group)
            add_dirs(chapter_dir)
            speaker_id, chapter_id = chapter[0].speaker.speaker_id, chapter[0].chapter_id
            transcript = "".join(f"{utt.utterance_id} {utt.text}\n" for utt in chapter)
            tar.add_bytes(f"{chapter_dir}/{speaker_id}-{chapter_id}.trans.txt", transcript.encode("utf-8"))
            for utt in chapter:
                tar.add_file(utt.audio_member, staging / utt.audio_member)


def synthesize_librispeech_replica(out_dir: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """Synthesise the replica described by ``cfg`` into ``out_dir``: ``<split>.tar.gz`` + ``md5sum.txt``.

    ``cfg`` is a ``datasets.<name>.replica`` block of params.yaml (seed, utterances and speakers per
    split, voices, variants, rate/pitch/words/SNR ranges, workers). Returns a summary::

        {"archives": [{"split", "file", "md5", "bytes", "utterances", "speakers", "hours"}, ...],
         "hours": total, "seconds": wall time}
    """
    start = time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    utterances = plan_replica(cfg)
    speakers = list({utt.speaker.speaker_id: utt.speaker for utt in utterances}.values())
    workers = max(1, int(cfg.get("workers") or os.cpu_count() or 1))
    splits = list(cfg["utterances"])
    for split in splits:
        n_speakers = sum(spk.split == split for spk in speakers)
        n_utterances = sum(utt.speaker.split == split for utt in utterances)
        log.info("%s: %d speakers, %d utterances to synthesise", split, n_speakers, n_utterances)
    log.info("synthesising %d utterances with espeak-ng in %d worker processes", len(utterances), workers)

    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".staging-") as staging_dir:
        staging = Path(staging_dir)
        lengths = _synthesize_all(utterances, staging, workers)
        minutes = {spk.speaker_id: 0.0 for spk in speakers}
        for utt in utterances:
            minutes[utt.speaker.speaker_id] += lengths[utt.utterance_id] / SAMPLE_RATE / 60
        extra_files = {"README.TXT": README, "SPEAKERS.TXT": speakers_txt(speakers, minutes)}

        archives = []
        for split in splits:
            split_utterances = [utt for utt in utterances if utt.speaker.split == split]
            archive = out_dir / f"{split}.tar.gz"
            _pack_split(archive, split, split_utterances, staging, extra_files)
            hours = sum(lengths[utt.utterance_id] for utt in split_utterances) / SAMPLE_RATE / 3600
            archives.append(
                {
                    "split": split,
                    "file": archive.name,
                    "md5": md5sum(archive),
                    "bytes": archive.stat().st_size,
                    "utterances": len(split_utterances),
                    "speakers": len({utt.speaker.speaker_id for utt in split_utterances}),
                    "hours": round(hours, 4),
                }
            )
            log.info(
                "%s: %d utterances, %.2f h of audio, %s (%.1f MB)",
                split, len(split_utterances), hours, archive.name, archive.stat().st_size / 1e6,
            )  # fmt: skip

    write_text(out_dir / "md5sum.txt", "".join(f"{a['md5']}  {a['file']}\n" for a in archives))
    total_hours = round(sum(a["hours"] for a in archives), 4)
    seconds = round(time.monotonic() - start, 1)
    log.info("replica packed: %d archives, %.2f h of audio, %.0f s", len(archives), total_hours, seconds)
    return {"archives": archives, "hours": total_hours, "seconds": seconds}


LM_TEXT = "librispeech-lm-norm.txt.gz"  # the name of openslr 11's LM text, which the replica's stands in for


def lm_text_sentences(cfg: dict[str, Any], utterances: list[ReplicaUtterance]) -> list[str]:
    """``cfg["lm_sentences"]`` sentences of the replica's grammar for its language model: drawn from
    their own seeded generator, never a sentence of a non-training split (so an LM cannot have seen
    the test transcripts, as LibriSpeech's LM text excludes its test books), in the transcripts' form."""
    held_out = {utt.text for utt in utterances if not utt.speaker.split.startswith("train")}
    rng = np.random.default_rng([cfg["seed"], 11])  # openslr 11: a generator of its own, not the plan's
    min_words, max_words = cfg["words"]
    sentences: list[str] = []
    for _ in range(int(cfg.get("lm_sentences") or 0)):
        text = grammar.random_sentence(rng, min_words, max_words)
        if text not in held_out:
            sentences.append(text)  # repeats are kept: a text corpus repeats its frequent sentences
    return sentences


def write_lm_text(path: Path, sentences: list[str]) -> None:
    """A gzip file of one sentence per line, byte-identical for the same sentences (no name, mtime 0)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write("".join(f"{s}\n" for s in sentences).encode("utf-8"))


def synthesize(out_dir: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """The replica contract (``corpora.replica``): archives by name, with their checksums and sizes;
    with ``lm_sentences``, also the LM text (``lm-norm``, as openslr 11's ``librispeech-lm-norm.txt.gz``)."""
    summary = synthesize_librispeech_replica(out_dir, cfg)
    archives = {a["split"]: {"file": a["file"], "checksum": f"md5:{a['md5']}", "bytes": a["bytes"]} for a in summary["archives"]}
    if cfg.get("lm_sentences"):
        sentences = lm_text_sentences(cfg, plan_replica(cfg))
        path = Path(out_dir) / LM_TEXT
        write_lm_text(path, sentences)
        archives["lm-norm"] = {"file": LM_TEXT, "checksum": f"md5:{md5sum(path)}", "bytes": path.stat().st_size}
        log.info("LM text: %d sentences of the grammar in %s", len(sentences), LM_TEXT)
    return {
        "archives": archives,
        "hours": summary["hours"],
        "seconds": summary["seconds"],
    }

"""Google Speech Commands v0.02: one-second clips of single spoken English words (Warden, 2018).

About 105,800 utterances of 35 words by 2,618 speakers, recorded by volunteers through a web page on
their own microphones, cut to one second around the loudest part and converted to 16 kHz 16-bit mono
WAV (https://arxiv.org/abs/1804.03209). Licence: Creative Commons BY 4.0. Version 0.01 (2017-08-03,
30 words, 64,727 clips) is superseded by v0.02 (2018-04-11), the version used here. The words::

    yes no up down left right on off stop go            the ten commands ("keywords")
    zero one two three four five six seven eight nine
    bed bird cat dog happy house marvin sheila tree wow
    backward forward follow learn visual                 (new in v0.02)

The standard 12-class task ("keyword spotting") is the ten commands, ``_unknown_`` (any other word)
and ``_silence_`` (no speech: one-second crops of background noise), scored by accuracy on the
separate, class-balanced test-set archive. The corpus comes as two tarballs, neither with a top-level
directory (each is unpacked into a directory named after it, as lhotse and torchaudio do)::

    speech_commands_v0.02/<word>/<speaker>_nohash_<n>.wav        e.g. tree/8b775397_nohash_0.wav
    speech_commands_v0.02/_background_noise_/{doing_the_dishes,dude_miaowing,exercise_bike,
                          pink_noise,running_tap,white_noise}.wav   (about a minute each) + README.md
    speech_commands_v0.02/validation_list.txt, testing_list.txt   one relative path per line
    speech_commands_v0.02/LICENSE, README.md
    speech_commands_test_set_v0.02/<keyword>/<speaker>_nohash_<n>.wav
    speech_commands_test_set_v0.02/_unknown_/<word>_<speaker>_nohash_<n>.wav.wav
    speech_commands_test_set_v0.02/_silence_/<n>.wav

``<speaker>`` is 8 hex digits (a hash of the contributor), ``<n>`` the repetition. The list files were
made by TensorFlow's ``which_set`` (reproduced below): the SHA-1 of the file name up to ``_nohash_``,
so a speaker's clips all fall into one partition (10 % validation, 10 % testing). Training is every
clip in neither list, without ``_background_noise_``.

Quirks: many clips are shorter than one second (the task pads them); the test set's ``_unknown_``
files end in ``.wav.wav``; the test set's ``_silence_`` clips have no speaker; the SHA-256s below are
TensorFlow Datasets' (the server publishes none).

``corpora.replica.speechcommands`` synthesises a replica with the same layout and formats, so the same
two functions below download and prepare both.
"""

from __future__ import annotations

import hashlib
import logging
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from summarymixing.corpora import Archive, save_manifests, utterance_cuts
from summarymixing.corpora.fetch import fetch_archive
from summarymixing.io import atomic_dir

if TYPE_CHECKING:  # lhotse is imported where it is used: importing this module stays cheap
    from lhotse import CutSet, Recording

log = logging.getLogger(__name__)

BASE_URL = "http://download.tensorflow.org/data"
MAIN_ARCHIVE = "speech_commands_v0.02"
TEST_ARCHIVE = "speech_commands_test_set_v0.02"
ARCHIVES: dict[str, Archive] = {
    MAIN_ARCHIVE: Archive(
        f"{MAIN_ARCHIVE}.tar.gz",
        f"{BASE_URL}/{MAIN_ARCHIVE}.tar.gz",
        "sha256:af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
        2_428_923_189,
    ),
    TEST_ARCHIVE: Archive(
        f"{TEST_ARCHIVE}.tar.gz",
        f"{BASE_URL}/{TEST_ARCHIVE}.tar.gz",
        "sha256:cc2a00c1147c2254e9be3fa0f779d8c17421dc349b86366567a8edfa9acd51df",
        112_563_277,
    ),
}
SPLITS: dict[str, tuple[str, ...]] = {
    "train": (MAIN_ARCHIVE,),
    "valid": (MAIN_ARCHIVE,),
    "test": (TEST_ARCHIVE,),  # the canonical 12-class test set
}
# A member each archive must contain: proof that the right tarball was unpacked at the right depth.
REQUIRED_MEMBERS = {MAIN_ARCHIVE: "validation_list.txt", TEST_ARCHIVE: "_silence_"}

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
WORDS = KEYWORDS + (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
    "backward", "forward", "follow", "learn", "visual",
)  # fmt: skip
UNKNOWN = "_unknown_"
SILENCE = "_silence_"
BACKGROUND_NOISE = "_background_noise_"
BACKGROUND_NOISE_FILES = (
    "doing_the_dishes.wav", "dude_miaowing.wav", "exercise_bike.wav", "pink_noise.wav", "running_tap.wav", "white_noise.wav",
)  # fmt: skip
# lhotse's convention: validation silence comes from running_tap.wav, training silence from the others.
VALID_NOISE_FILES = ("running_tap.wav",)
VALIDATION_LIST = "validation_list.txt"
TESTING_LIST = "testing_list.txt"

SAMPLE_RATE = 16_000
SILENCE_SECONDS = 1.0
VALIDATION_PERCENTAGE = 10  # of the speakers, as the list files were made
TESTING_PERCENTAGE = 10
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1  # TensorFlow's constant in which_set

CLIP_RE = re.compile(r"^(?P<speaker>[^_/]+)_nohash_(?P<n>\d+)\.wav$")
TEST_UNKNOWN_RE = re.compile(r"^(?P<word>[a-z]+)_(?P<speaker>[^_/]+)_nohash_(?P<n>\d+)(?:\.wav)+$")


def which_set(
    filename: str, validation_percentage: float = VALIDATION_PERCENTAGE, testing_percentage: float = TESTING_PERCENTAGE
) -> str:
    """TensorFlow's partition of a clip: ``"validation"``, ``"testing"`` or ``"training"``.

    The hash covers the file name up to ``_nohash_`` (the speaker), so a speaker's clips share a
    partition, and a clip keeps its partition when others are added.
    """
    hash_name = re.sub(r"_nohash_.*$", "", Path(filename).name)
    hashed = int(hashlib.sha1(hash_name.encode("utf-8")).hexdigest(), 16)
    percentage = (hashed % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if percentage < validation_percentage:
        return "validation"
    if percentage < validation_percentage + testing_percentage:
        return "testing"
    return "training"


def _archive_root(archive_dirs: dict[str, Path], name: str) -> Path:
    """Where ``download_speechcommands`` unpacked archive ``name``: ``<its directory>/<name>``."""
    if name not in archive_dirs:
        raise ValueError(f"archive {name!r} is needed but not given (given: {', '.join(archive_dirs) or 'none'})")
    root = Path(archive_dirs[name]) / name
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: corpus directory not found (was `download` run for {name}?)")
    return root


def download_speechcommands(entry: dict[str, Any], archives_dir: Path, target_dir: Path) -> Path:
    """Fetch, verify and extract one archive so that ``target_dir/<archive name>/`` holds its files.

    The tarballs have no top-level directory, so each is unpacked into a directory named after it
    (``speech_commands_v0.02/``, ``speech_commands_test_set_v0.02/``), which must then contain
    ``validation_list.txt`` or ``_silence_`` respectively.
    """
    names = {archive.file: name for name, archive in ARCHIVES.items()}
    if entry["file"] not in names:
        raise ValueError(f"{entry['file']}: not a Speech Commands archive (expected one of {', '.join(names)})")
    name = names[entry["file"]]
    return fetch_archive(entry, archives_dir, target_dir, extract_to=name, required=REQUIRED_MEMBERS[name])


@dataclass(frozen=True)
class Clip:
    """One audio file of a split and its labels."""

    path: Path
    utterance_id: str  # the path relative to the archive root, without ".wav"
    word: str  # the spoken word, or "_silence_"
    label: str  # a keyword, "_unknown_" or "_silence_"
    speaker: str | None  # None for silence


def prepare_speechcommands(
    archive_dirs: dict[str, Path],
    split: str,
    output_dir: Path,
    keywords: Sequence[str] = KEYWORDS,
    unknown_fraction: float = 0.1,
    silence_fraction: float = 0.1,
    seed: int = 0,
    num_jobs: int = 1,
    **unknown_options: Any,
) -> "CutSet":
    """Write the lhotse manifests of ``split`` (``train``, ``valid`` or ``test``) of the 12-class task.

    * ``test``: every clip of the test-set archive (``<keyword>/``, ``_unknown_/``, ``_silence_/``), whose
      folders must be exactly ``keywords`` plus ``_unknown_`` and ``_silence_``.
    * ``valid``: the clips of ``validation_list.txt``; ``train``: every clip of a word folder in neither
      list. Both keep every keyword clip, relabel ``round(unknown_fraction x keyword clips)`` of the other
      words' clips as ``_unknown_`` (those whose SHA-1 of ``<seed>:<path>`` is lowest: a stable choice,
      independent of any random generator's state) and add ``round(silence_fraction x keyword clips)``
      one-second crops of the background noise, spread evenly over ``running_tap.wav`` (valid) or the
      other noise files (train), at offsets drawn from ``seed``.

    One cut per clip or crop: id = path in the archive without ``.wav`` (a crop: ``_background_noise_/
    <noise>/<first sample>``); one supervision with ``text`` = the spoken word (``_silence_`` for
    silence), ``speaker`` = the hash in the file name (None for silence) and ``custom`` =
    ``{"label": keyword | "_unknown_" | "_silence_", "word": text}``. Clips shorter than one second stay
    as they are. ``num_jobs`` threads read the audio headers.

    Raises ``FileNotFoundError`` for a missing archive directory, and ``ValueError`` naming the file
    for a missing list or noise file, a list entry without a file, an unexpected file name, or audio
    that is not 16 kHz mono (and naming the option for a bad or unknown option). Writes ``output_dir``
    all at once (``io.atomic_dir``); returns the cuts.
    """
    from lhotse import CutSet, RecordingSet, SupervisionSet

    if split not in SPLITS:
        raise ValueError(f"Speech Commands has no split {split!r} (known: {', '.join(SPLITS)})")
    if unknown_options:
        known = "keywords, unknown_fraction, silence_fraction, seed, num_jobs"
        raise ValueError(f"unknown prepare option(s) {', '.join(unknown_options)} for Speech Commands (known: {known})")
    keywords = _check_options(keywords, unknown_fraction, silence_fraction)
    root = _archive_root(archive_dirs, SPLITS[split][0])
    if split == "test":
        clips = _test_clips(root, keywords)
        noise_files: list[Path] = []
    else:
        clips = _twelve_class_subset(_list_split_clips(root, split, keywords), unknown_fraction, seed)
        noise_files = _noise_files(root, split) if silence_fraction > 0 else []

    recordings = _read_recordings([(clip.utterance_id, clip.path) for clip in clips], num_jobs)
    supervisions = [_supervision(clip, recordings[clip.utterance_id]) for clip in clips]
    cut_list = list(utterance_cuts(RecordingSet.from_recordings(recordings.values()), SupervisionSet.from_segments(supervisions)))
    if noise_files:
        # A crop's supervision in supervisions.jsonl.gz is timed within the noise recording, in its cut from 0.
        n_keyword_clips = sum(clip.label in keywords for clip in clips)
        noise = _read_recordings([(_noise_id(path), path) for path in noise_files], num_jobs)
        crops = _silence_crops(noise, round(silence_fraction * n_keyword_clips), seed, split)
        recordings.update(noise)
        supervisions += [crop.supervisions[0].with_offset(crop.start) for crop in crops]
        cut_list += crops

    cuts = CutSet.from_cuts(sorted(cut_list, key=lambda cut: cut.id))
    with atomic_dir(output_dir) as staging:
        save_manifests(
            staging,
            RecordingSet.from_recordings(sorted(recordings.values(), key=lambda r: r.id)),
            SupervisionSet.from_segments(sorted(supervisions, key=lambda s: s.id)),
            cuts,
        )
    labels = Counter(cut.supervisions[0].custom["label"] for cut in cuts)
    log.info(
        "%s: %d cuts, %.2f h (%s)", split, len(cuts), sum(c.duration for c in cuts) / 3600,
        ", ".join(f"{label} {labels[label]}" for label in (*keywords, UNKNOWN, SILENCE)),
    )  # fmt: skip
    return cuts


def _check_options(keywords: Sequence[str], unknown_fraction: float, silence_fraction: float) -> tuple[str, ...]:
    """The keywords as a tuple, after checking the prepare options; ``ValueError`` names a bad one."""
    if isinstance(keywords, str) or not keywords:
        raise ValueError(f"prepare option keywords={keywords!r}: expected a non-empty list of words")
    keywords = tuple(keywords)
    duplicates = sorted(word for word, count in Counter(keywords).items() if count > 1)
    if duplicates:
        raise ValueError(f"prepare option keywords: {', '.join(duplicates)} listed more than once")
    reserved = [word for word in keywords if word.startswith("_")]
    if reserved:
        raise ValueError(f"prepare option keywords: {', '.join(reserved)} is not a word folder")
    for key, value in (("unknown_fraction", unknown_fraction), ("silence_fraction", silence_fraction)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"prepare option {key}={value!r}: expected a number >= 0")
    return keywords


def _strip_wav(relative: str) -> str:
    """``yes/x_nohash_0.wav`` -> ``yes/x_nohash_0``; also ``.wav.wav`` (the test set's unknown clips)."""
    while relative.endswith(".wav"):
        relative = relative.removesuffix(".wav")
    return relative


def _word_dirs(root: Path) -> list[Path]:
    """The word folders of the main archive (not ``_background_noise_``), sorted."""
    return sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith((".", "_")))


def _read_list(root: Path, name: str) -> list[str]:
    """The relative paths of a list file, checked: ``<word>/<speaker>_nohash_<n>.wav``, file present."""
    list_path = root / name
    if not list_path.is_file():
        raise ValueError(f"{list_path}: list file not found (is {root} an unpacked {MAIN_ARCHIVE}?)")
    entries = []
    with open(list_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            relative = line.strip()
            if not relative:
                continue
            word, _, file_name = relative.partition("/")
            if not word or word.startswith("_") or not CLIP_RE.match(file_name):
                raise ValueError(f"{list_path}:{lineno}: expected '<word>/<speaker>_nohash_<n>.wav', got {relative!r}")
            if not (root / relative).is_file():
                raise ValueError(f"{list_path}:{lineno}: {relative} is listed but {root / relative} does not exist")
            entries.append(relative)
    return entries


def _list_split_clips(root: Path, split: str, keywords: tuple[str, ...]) -> list[Clip]:
    """Every clip of ``train`` or ``valid`` (the list files decide), labelled as keyword or unknown."""
    validation, testing = set(_read_list(root, VALIDATION_LIST)), set(_read_list(root, TESTING_LIST))
    word_dirs = _word_dirs(root)
    missing = [word for word in keywords if not (root / word).is_dir()]
    if missing:
        folders = ", ".join(d.name for d in word_dirs)
        raise ValueError(f"{root}: no folder for keyword(s) {', '.join(missing)} (word folders: {folders})")
    if split == "valid":
        relatives = sorted(validation)
    else:
        relatives = []
        for word_dir in word_dirs:
            for path in sorted(word_dir.glob("*.wav")):
                if not CLIP_RE.match(path.name):
                    raise ValueError(f"{path}: expected a clip named '<speaker>_nohash_<n>.wav'")
                relative = f"{word_dir.name}/{path.name}"
                if relative not in validation and relative not in testing:
                    relatives.append(relative)
    clips = []
    for relative in relatives:
        word, file_name = relative.split("/")
        speaker = CLIP_RE.match(file_name)["speaker"]
        label = word if word in keywords else UNKNOWN
        clips.append(Clip(root / relative, _strip_wav(relative), word, label, speaker))
    return clips


def _subset_rank(seed: int, utterance_id: str) -> str:
    return hashlib.sha1(f"{seed}:{utterance_id}".encode("utf-8")).hexdigest()


def _twelve_class_subset(clips: list[Clip], unknown_fraction: float, seed: int) -> list[Clip]:
    """All keyword clips and the ``round(unknown_fraction x keyword clips)`` lowest-hash other clips."""
    keyword_clips = [clip for clip in clips if clip.label != UNKNOWN]
    others = sorted((clip for clip in clips if clip.label == UNKNOWN), key=lambda clip: _subset_rank(seed, clip.utterance_id))
    n_unknown = min(len(others), round(unknown_fraction * len(keyword_clips)))
    return keyword_clips + others[:n_unknown]


def _test_clips(root: Path, keywords: tuple[str, ...]) -> list[Clip]:
    """Every clip of the test-set archive, labelled by its folder."""
    folders = sorted(path.name for path in root.iterdir() if path.is_dir() and not path.name.startswith("."))
    expected = sorted((*keywords, UNKNOWN, SILENCE))
    if folders != expected:
        raise ValueError(
            f"{root}: folders {', '.join(folders)} do not match the 12-class task of keywords "
            f"{', '.join(keywords)} (expected {', '.join(expected)})"
        )
    clips = []
    for folder in folders:
        for path in sorted((root / folder).glob("*.wav")):
            utterance_id = _strip_wav(f"{folder}/{path.name}")
            if folder == SILENCE:
                clips.append(Clip(path, utterance_id, SILENCE, SILENCE, None))
            elif folder == UNKNOWN:
                match = TEST_UNKNOWN_RE.match(path.name)
                if not match:
                    raise ValueError(f"{path}: expected an unknown-word clip named '<word>_<speaker>_nohash_<n>.wav'")
                if match["word"] in keywords:
                    raise ValueError(f"{path}: keyword {match['word']!r} in {UNKNOWN}")
                clips.append(Clip(path, utterance_id, match["word"], UNKNOWN, match["speaker"]))
            else:
                match = CLIP_RE.match(path.name)
                if not match:
                    raise ValueError(f"{path}: expected a clip named '<speaker>_nohash_<n>.wav'")
                clips.append(Clip(path, utterance_id, folder, folder, match["speaker"]))
    ids = Counter(clip.utterance_id for clip in clips)
    duplicated = sorted(utterance_id for utterance_id, count in ids.items() if count > 1)
    if duplicated:
        raise ValueError(f"{root}: several files named {duplicated[0]}(.wav...)")
    return clips


def _noise_files(root: Path, split: str) -> list[Path]:
    """The background noise recordings whose crops are ``split``'s silence."""
    noise_dir = root / BACKGROUND_NOISE
    if split == "valid":
        paths = [noise_dir / name for name in VALID_NOISE_FILES]
        missing = [path for path in paths if not path.is_file()]
        if missing:
            raise ValueError(f"{missing[0]}: background noise file not found (the validation silence comes from it)")
        return paths
    paths = sorted(path for path in noise_dir.glob("*.wav") if path.name not in VALID_NOISE_FILES)
    if not paths:
        raise ValueError(f"{noise_dir}: no background noise files for the training silence")
    return paths


def _noise_id(path: Path) -> str:
    return f"{BACKGROUND_NOISE}/{_strip_wav(path.name)}"


def _read_recordings(items: list[tuple[str, Path]], num_jobs: int) -> dict[str, "Recording"]:
    """Recordings from the WAV headers, checked: 16 kHz, mono, not empty."""
    with ThreadPoolExecutor(max(1, num_jobs)) as pool:
        recordings = list(
            tqdm(pool.map(lambda item: _recording(*item), items), total=len(items), desc="reading audio headers", disable=None)
        )
    return {recording.id: recording for recording in recordings}


def _recording(recording_id: str, path: Path) -> "Recording":
    import soundfile
    from lhotse import AudioSource, Recording

    try:
        info = soundfile.info(str(path))
    except RuntimeError as e:  # soundfile's error for an unreadable file
        raise ValueError(f"{path}: not a readable audio file ({e})") from None
    if info.samplerate != SAMPLE_RATE or info.channels != 1 or info.frames == 0:
        raise ValueError(
            f"{path}: {info.samplerate} Hz, {info.channels} channel(s), {info.frames} samples; "
            f"Speech Commands audio is {SAMPLE_RATE} Hz mono"
        )
    return Recording(
        id=recording_id,
        sources=[AudioSource(type="file", channels=[0], source=str(path))],
        sampling_rate=info.samplerate,
        num_samples=info.frames,
        duration=info.frames / info.samplerate,
    )


def _supervision(clip: Clip, recording: "Recording") -> Any:
    from lhotse import SupervisionSegment

    return SupervisionSegment(
        id=clip.utterance_id,
        recording_id=clip.utterance_id,
        start=0.0,
        duration=recording.duration,
        channel=0,
        text=clip.word,
        language="English",
        speaker=clip.speaker,
        custom={"label": clip.label, "word": clip.word},
    )


def _silence_crops(noise: dict[str, "Recording"], count: int, seed: int, split: str) -> list[Any]:
    """``count`` one-second cuts of the ``noise`` recordings, spread evenly over them, labelled silence.

    The offsets are distinct within a recording and drawn from a generator seeded by ``seed`` and
    ``split``. Raises ``ValueError`` naming a recording too short for its crops.
    """
    import numpy as np
    from lhotse import MonoCut, SupervisionSegment

    rng = np.random.default_rng([seed, zlib.crc32(split.encode("utf-8"))])
    crop_samples = round(SILENCE_SECONDS * SAMPLE_RATE)
    names = sorted(noise)
    crops = []
    for index, name in enumerate(names):
        recording = noise[name]
        n_crops = count // len(names) + (index < count % len(names))
        positions = recording.num_samples - crop_samples + 1
        if n_crops > max(0, positions):
            raise ValueError(
                f"{recording.sources[0].source}: {recording.duration:.2f} s of noise cannot give {n_crops} "
                f"distinct {SILENCE_SECONDS:g}-second crops"
            )
        for offset in sorted(int(x) for x in rng.choice(positions, size=n_crops, replace=False)):
            cut_id = f"{name}/{offset}"
            supervision = SupervisionSegment(
                id=cut_id, recording_id=recording.id, start=0.0, duration=SILENCE_SECONDS, channel=0,
                text=SILENCE, language="English", speaker=None, custom={"label": SILENCE, "word": SILENCE},
            )  # fmt: skip
            crops.append(
                MonoCut(
                    id=cut_id, start=offset / SAMPLE_RATE, duration=SILENCE_SECONDS, channel=0,
                    recording=recording, supervisions=[supervision],
                )  # fmt: skip
            )
    return crops

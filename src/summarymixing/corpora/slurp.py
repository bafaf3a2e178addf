"""SLURP: a Spoken Language Understanding Resource Package (Bastianelli et al., EMNLP 2020).

English commands and questions to a home assistant, in 18 scenarios (alarm, audio, calendar, cooking,
datetime, email, general, iot, lists, music, news, play, qa, recommendation, social, takeaway, transport,
weather). Each text prompt (a ``slurp_id``) is labelled with a scenario, an action and entities, and was
read by several people in a room with two microphones: a close-talk headset and a far-field device, so
most readings exist twice (``audio-<epoch>-headset.flac`` and ``audio-<epoch>.flac``). The training set
is completed by ``train_synthetic``: the prompts read by a text-to-speech system. About 72,000 real and
69,000 synthetic recordings (3.9 GB and 2.8 GB of 16 kHz mono FLAC); devel has 2,033 prompts and 8,690
recordings, test 2,974 and 13,078.

Where it comes from and under which licence:

* text (CC BY 4.0): ``dataset/slurp/{train,train_synthetic,devel,test}.jsonl`` in the git repository
  https://github.com/pswietojanski/slurp, fetched here at a pinned commit (``REPO_COMMIT``), never from
  ``master``;
* audio (CC BY-NC 4.0, non-commercial): ``slurp_real.tar.gz`` (headset and far-field readings of every
  split) and ``slurp_synth.tar.gz`` (train_synthetic) from Zenodo record 4274930, unpacked to
  ``slurp_real/*.flac`` and ``slurp_synth/*.flac``.

A jsonl line is one prompt, with the keys (in this order) ``slurp_id, sentence, sentence_annotation,
intent, action, tokens, scenario, recordings, entities``::

    {"slurp_id": 3843, "sentence": "order me chinese food",
     "sentence_annotation": "order me [food_type : chinese] food", "intent": "takeaway_order",
     "action": "order", "tokens": [{"surface": "order", "id": 0, "lemma": "order", "pos": "VB"}, ...],
     "scenario": "takeaway", "recordings": [{"file": "audio-1490201253-headset.flac", "wer": 0.0,
     "ent_wer": 0.0, "status": "correct"}, ...], "entities": [{"span": [2], "type": "food_type"}]}

Quirks:

* The ``intent`` field is not always ``<scenario>_<action>`` (30 devel and 37 test prompts: ``music``
  for scenario ``play`` and action ``music``, ``email_sendemail`` for action ``query``, ...). The
  official evaluator, SpeechBrain and ESPnet all define the intent as ``f"{scenario}_{action}"``; so
  does this recipe, which never reads the field.
* Entities appear twice: bracketed in ``sentence_annotation`` (``[type : filler]``) and as token
  spans in ``entities``. The fillers are taken from the annotation, as SpeechBrain does; the spans
  are checked against them (number and types must agree; a filler that differs from its tokens, e.g.
  ``i can't`` against the tokens ``i ca n't``, is only counted).
* ``sentence_annotation`` sometimes differs from ``sentence`` in case (``this Friday``); fillers are
  lower-cased, like the sentence and the evaluator's reference.
* A few far-field names have a double dash (``audio--1504194195.flac``); names are used as given.

``prepare_slurp`` makes one cut per recording, headset and far-field both (as SpeechBrain's recipe), so
a prompt with three readers gives six cuts. ``corpora.replica.slurp`` synthesises an offline replica in
the same files and formats, which the same two functions download and prepare.
"""

from __future__ import annotations

import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarymixing.corpora import Archive, save_manifests, utterance_cuts
from summarymixing.corpora.fetch import fetch_archive, is_tarball
from summarymixing.io import atomic_dir

if TYPE_CHECKING:  # lhotse is imported where it is used: importing this module stays cheap
    from lhotse import CutSet, Recording

log = logging.getLogger(__name__)

REPO_COMMIT = "8eb16545762be97ace75334109d73824217311f1"  # pswietojanski/slurp HEAD, 2022-04-20
TEXT_URL = f"https://raw.githubusercontent.com/pswietojanski/slurp/{REPO_COMMIT}/dataset/slurp"
AUDIO_URL = "https://zenodo.org/record/4274930/files"

# train.jsonl and train_synthetic.jsonl (over 4 MiB: absent from every public index we could read) are
# pinned by their git blob ids at REPO_COMMIT, which is what `git hash-object <file>` prints; the
# smaller devel/test files by sha256. slurp_synth.tar.gz: the Zenodo record shows its md5, of which a
# public download report gives only the first 12 digits (48 bits, ample to catch a corrupted download):
# that prefix is what the download is checked against.
TRAIN_JSONL_GITSHA1 = "c7568b5661ea802c9e41204af3d30ef892dcd5c9"
TRAIN_SYNTHETIC_JSONL_GITSHA1 = "42a7c199979dcbceb3a83603dff1d3aaa14c70a4"
SLURP_SYNTH_MD5_PREFIX = "6186b4d2475a"


# slurp_real.tar.gz: md5 as published on the Zenodo record, quoted in full (with the size) by public
# reports that verified their download against it. devel/test.jsonl: sha256 and size computed from the
# blobs at REPO_COMMIT.
ARCHIVES: dict[str, Archive] = {
    "train": Archive("train.jsonl", f"{TEXT_URL}/train.jsonl", f"gitsha1:{TRAIN_JSONL_GITSHA1}"),
    "train_synthetic": Archive(
        "train_synthetic.jsonl", f"{TEXT_URL}/train_synthetic.jsonl", f"gitsha1:{TRAIN_SYNTHETIC_JSONL_GITSHA1}"
    ),
    "devel": Archive(
        "devel.jsonl", f"{TEXT_URL}/devel.jsonl",
        "sha256:00d346b183ecc2d160853cd3dc20e8ccd207d9e1809cf6e2c05182076bd0ecc9", 2_221_203,
    ),  # fmt: skip
    "test": Archive(
        "test.jsonl", f"{TEXT_URL}/test.jsonl",
        "sha256:fe3449af69b42fda7163345482556066c35a80f7e552a6d67e212a0e2f0783cc", 3_267_569,
    ),  # fmt: skip
    "slurp_real": Archive(
        "slurp_real.tar.gz", f"{AUDIO_URL}/slurp_real.tar.gz", "md5:9efc0f058ced47bf5131c7cb2cade513", 3_918_185_662
    ),
    "slurp_synth": Archive("slurp_synth.tar.gz", f"{AUDIO_URL}/slurp_synth.tar.gz", f"md5:{SLURP_SYNTH_MD5_PREFIX}"),
}
# The text file of each jsonl archive, and the audio archive its recordings are in.
AUDIO_OF_TEXT: dict[str, str] = {
    "train": "slurp_real",
    "train_synthetic": "slurp_synth",
    "devel": "slurp_real",
    "test": "slurp_real",
}
# train as SpeechBrain's direct recipe (train_real + train_synthetic); train_real without the TTS prompts.
SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("train", "train_synthetic", "slurp_real", "slurp_synth"),
    "train_real": ("train", "slurp_real"),
    "devel": ("devel", "slurp_real"),
    "test": ("test", "slurp_real"),
}

RECORD_KEYS = (
    "slurp_id", "sentence", "sentence_annotation", "intent", "action", "tokens", "scenario", "recordings", "entities",
)  # fmt: skip
HEADSET_SUFFIX = "-headset"  # audio-<epoch>-headset.flac: the close-talk copy of audio-<epoch>.flac
SAMPLE_RATE = 16_000
ENTITY_TYPE_RE = re.compile(r"^\w+$")


def download_slurp(entry: dict[str, Any], archives_dir: Path, target_dir: Path) -> Path:
    """Fetch and verify one SLURP file into ``archives_dir`` and unpack it into ``target_dir``.

    An audio tarball is extracted so that ``target_dir/slurp_real/*.flac`` (``slurp_synth``) exists; a
    jsonl is copied to ``target_dir/<name>.jsonl``. Raises ``ValueError`` for a file that is not one of
    ``ARCHIVES`` (before any download).
    """
    known = {archive.file: name for name, archive in ARCHIVES.items()}
    name = known.get(entry.get("file", ""))
    if name is None:
        raise ValueError(f"{entry.get('file')!r} is not a SLURP file (expected one of {', '.join(known)})")
    if is_tarball(entry["file"]):
        return fetch_archive(entry, archives_dir, target_dir, required=name)
    return fetch_archive(entry, archives_dir, target_dir)


@dataclass(frozen=True)
class _Utterance:
    """One recording of one prompt, as read from a jsonl line (before its audio is looked at)."""

    cut_id: str
    audio: Path
    where: str  # "<jsonl>:<line>"
    microphone: str  # "headset" | "far_field" | "synthetic"
    text: str
    labels: dict[str, Any]


def prepare_slurp(archive_dirs: dict[str, Path], split: str, output_dir: Path, num_jobs: int = 1) -> "CutSet":
    """Write the lhotse manifests of ``split`` (``SPLITS``) into ``output_dir`` and return its cuts.

    ``archive_dirs`` maps each archive of ``SPLITS[split]`` to its unpacked directory (``<dir>/<name>.jsonl``
    for a text file, ``<dir>/slurp_real/`` or ``<dir>/slurp_synth/`` for audio). One cut per recording,
    named ``<slurp_id>-<file stem>`` (e.g. ``3843-audio-1490201253-headset``), with one supervision:
    ``text`` is the sentence, ``custom`` holds ``slurp_id``, ``scenario``, ``action``, ``intent``
    (``<scenario>_<action>``), ``entities`` (``[{"type", "filler"}]``, from the annotation) and
    ``microphone`` (``headset``, ``far_field`` or ``synthetic``). ``num_jobs`` threads read the FLAC
    headers (16 kHz mono required).

    A malformed line, bad annotation brackets, entities that disagree with the annotation, a recording
    missing on disk or a cut id seen twice raises one ``ValueError`` naming ``<jsonl>:<line>``. The
    manifests appear in ``output_dir`` all at once, or not at all.
    """
    if split not in SPLITS:
        raise ValueError(f"SLURP has no split {split!r} (known: {', '.join(SPLITS)})")
    missing = [name for name in SPLITS[split] if name not in archive_dirs]
    if missing:
        raise ValueError(
            f"SLURP {split}: no directory given for archive(s) {', '.join(missing)} (needs {', '.join(SPLITS[split])})"
        )

    utterances: list[_Utterance] = []
    for text_name in (name for name in SPLITS[split] if name in AUDIO_OF_TEXT):
        jsonl = Path(archive_dirs[text_name]) / ARCHIVES[text_name].file
        audio_name = AUDIO_OF_TEXT[text_name]
        audio_dir = Path(archive_dirs[audio_name]) / audio_name
        if not jsonl.is_file():
            raise FileNotFoundError(f"{jsonl}: missing (was `download` run for {ARCHIVES[text_name].file}?)")
        if not audio_dir.is_dir():
            raise FileNotFoundError(
                f"{audio_dir}: audio directory missing (was `download` run for {ARCHIVES[audio_name].file}?)"
            )
        utterances.extend(_read_jsonl(jsonl, audio_dir, synthetic=audio_name == "slurp_synth"))
    if not utterances:
        raise ValueError(f"SLURP {split}: no recordings in {', '.join(n for n in SPLITS[split] if n in AUDIO_OF_TEXT)}")
    _check_unique_ids(utterances)
    _check_audio_exists(utterances)

    from lhotse import RecordingSet, SupervisionSegment, SupervisionSet

    # reading FLAC headers mostly waits on the disk, which threads overlap
    with ThreadPoolExecutor(max_workers=max(1, num_jobs)) as pool:
        recordings = list(pool.map(_recording, utterances))
    supervisions = [
        SupervisionSegment(
            id=utt.cut_id, recording_id=utt.cut_id, start=0.0, duration=recording.duration, channel=0,
            text=utt.text, language="English", custom={**utt.labels, "microphone": utt.microphone},
        )
        for utt, recording in zip(utterances, recordings, strict=True)
    ]  # fmt: skip
    recording_set = RecordingSet.from_recordings(sorted(recordings, key=lambda r: r.id))
    supervision_set = SupervisionSet.from_segments(sorted(supervisions, key=lambda s: s.id))
    with atomic_dir(output_dir) as staging:
        cuts = utterance_cuts(recording_set, supervision_set)
        save_manifests(staging, recording_set, supervision_set, cuts)
    log.info(
        "SLURP %s: %d cuts (%d headset, %d far-field, %d synthetic), %d intents, %.2f h",
        split, len(cuts), *(sum(u.microphone == m for u in utterances) for m in ("headset", "far_field", "synthetic")),
        len({u.labels["intent"] for u in utterances}), sum(r.duration for r in recordings) / 3600,
    )  # fmt: skip
    return cuts


def _read_jsonl(jsonl: Path, audio_dir: Path, synthetic: bool = False) -> list[_Utterance]:
    """Every recording listed in one SLURP jsonl file, with its prompt's labels; errors name file:line."""
    utterances: list[_Utterance] = []
    inconsistent_intents = 0
    filler_mismatches: list[str] = []
    with open(jsonl, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            where = f"{jsonl}:{lineno}"
            if not line.strip():
                raise ValueError(f"{where}: empty line (expected one JSON record per line)")
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{where}: not valid JSON ({e})") from None
            labels, mismatch = _record_labels(record, where)
            inconsistent_intents += record["intent"] != labels["intent"]
            if mismatch:
                filler_mismatches.append(f"{where}: {mismatch}")
            for recording in record["recordings"]:
                name = recording["file"]
                stem = name.removesuffix(".flac")
                microphone = "synthetic" if synthetic else "headset" if stem.endswith(HEADSET_SUFFIX) else "far_field"
                cut_id = f"{labels['slurp_id']}-{stem}"
                utterances.append(_Utterance(cut_id, audio_dir / name, where, microphone, record["sentence"], labels))
    if inconsistent_intents:
        log.info("%s: %d prompts whose 'intent' field is not scenario_action (ignored)", jsonl, inconsistent_intents)
    if filler_mismatches:
        log.warning(
            "%s: %d entity fillers differ from their token spans (the annotation's filler is kept), e.g. %s",
            jsonl, len(filler_mismatches), filler_mismatches[0],
        )  # fmt: skip
    return utterances


def _record_labels(record: Any, where: str) -> tuple[dict[str, Any], str | None]:
    """The labels of one jsonl record, and a note if an entity filler differs from its token span."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [key for key in RECORD_KEYS if key not in record]
    if missing:
        raise ValueError(f"{where}: missing key(s) {', '.join(missing)}")
    slurp_id = record["slurp_id"]
    if not isinstance(slurp_id, int) or isinstance(slurp_id, bool):
        raise ValueError(f"{where}: slurp_id {slurp_id!r} is not an integer")
    for key in ("sentence", "scenario", "action"):
        if not isinstance(record[key], str) or not record[key].strip():
            raise ValueError(f"{where}: {key} {record[key]!r} is not a non-empty string")
    for key in ("sentence_annotation", "intent"):
        if not isinstance(record[key], str):
            raise ValueError(f"{where}: {key} {record[key]!r} is not a string")
    recordings = record["recordings"]
    if not isinstance(recordings, list) or not recordings:
        raise ValueError(f"{where}: recordings must be a non-empty list")
    for recording in recordings:
        name = recording.get("file") if isinstance(recording, dict) else None
        # a plain file name: the jsonl must not point outside the audio directory
        plain = isinstance(name, str) and not any(sep in name for sep in ("/", "\\")) and not name.startswith(".")
        if not plain or not name.endswith(".flac"):
            raise ValueError(f"{where}: bad recording {recording!r} (expected {{\"file\": \"audio-<id>.flac\", ...}})")
    tokens = record["tokens"]
    if not isinstance(tokens, list) or not all(
        isinstance(t, dict) and isinstance(t.get("surface"), str) for t in tokens
    ):
        raise ValueError(f"{where}: tokens must be a list of {{\"surface\": ..., ...}} objects")

    try:
        entities = parse_annotation(record["sentence_annotation"])
    except ValueError as e:
        raise ValueError(f"{where}: sentence_annotation {record['sentence_annotation']!r}: {e}") from None
    mismatch = _check_entity_spans(entities, record["entities"], [t["surface"] for t in tokens], where)
    scenario, action = record["scenario"].strip(), record["action"].strip()
    labels = {
        "slurp_id": slurp_id,
        "scenario": scenario,
        "action": action,
        "intent": f"{scenario}_{action}",
        "entities": entities,
    }
    return labels, mismatch


def parse_annotation(annotation: str) -> list[dict[str, str]]:
    """``"wake me up at [time : eight] o'clock"`` -> ``[{"type": "time", "filler": "eight"}]``.

    Fillers are lower-cased with single spaces. Raises ``ValueError`` saying what is wrong: a nested or
    unclosed ``[``, a ``]`` without ``[``, a bracket without ``type : filler``, an empty type or filler.
    """
    entities = []
    start = None
    for position, char in enumerate(annotation):
        if char == "[":
            if start is not None:
                raise ValueError(f"'[' at character {position} inside the bracket opened at {start}")
            start = position
        elif char == "]":
            if start is None:
                raise ValueError(f"']' at character {position} without a '['")
            entity_type, colon, filler = annotation[start + 1 : position].partition(":")
            entity_type, filler = entity_type.strip(), " ".join(filler.lower().split())
            if not colon or not ENTITY_TYPE_RE.match(entity_type) or not filler:
                raise ValueError(f"bracket at character {start} is not '[type : filler]'")
            entities.append({"type": entity_type, "filler": filler})
            start = None
    if start is not None:
        raise ValueError(f"'[' at character {start} is never closed")
    return entities


def _check_entity_spans(entities: list[dict[str, str]], spans: Any, tokens: list[str], where: str) -> str | None:
    """Check the ``entities`` field against the annotation; return a note if a filler differs from its tokens."""
    if not isinstance(spans, list) or not all(
        isinstance(e, dict) and isinstance(e.get("type"), str) and isinstance(e.get("span"), list) for e in spans
    ):
        raise ValueError(f"{where}: entities must be a list of {{\"span\": [token ids], \"type\": ...}} objects")
    annotated, listed = [e["type"] for e in entities], [e["type"] for e in spans]
    if annotated != listed:
        raise ValueError(f"{where}: sentence_annotation has entities {annotated} but the entities field lists {listed}")
    note = None
    for entity, span in zip(entities, spans, strict=True):
        ids = span["span"]
        if not ids or not all(isinstance(i, int) and 0 <= i < len(tokens) for i in ids):
            raise ValueError(f"{where}: entity {span['type']!r} has span {ids}, not ids of the {len(tokens)} tokens")
        span_text = " ".join(tokens[i] for i in ids)
        if note is None and _letters(span_text) != _letters(entity["filler"]):
            note = f"{entity['type']} {entity['filler']!r} vs tokens {span_text!r}"
    return note


def _letters(text: str) -> str:
    """Lower-case letters and digits only: "ca n't" and "can't" compare equal."""
    return "".join(char for char in text.lower() if char.isalnum())


def _check_unique_ids(utterances: list[_Utterance]) -> None:
    seen: dict[str, str] = {}
    for utt in utterances:
        if utt.cut_id in seen:
            raise ValueError(
                f"{utt.where}: recording {utt.audio.name} of prompt {utt.labels['slurp_id']} is listed twice "
                f"(first at {seen[utt.cut_id]})"
            )
        seen[utt.cut_id] = utt.where


def _check_audio_exists(utterances: list[_Utterance]) -> None:
    missing = [utt for utt in utterances if not utt.audio.is_file()]
    if missing:
        first = missing[0]
        raise ValueError(
            f"{first.where}: recording {first.audio.name} not found in {first.audio.parent} "
            f"({len(missing)} of {len(utterances)} recordings of the split are missing; "
            "was the audio archive fully extracted?)"
        )


def _recording(utt: _Utterance) -> "Recording":
    """The lhotse recording of one FLAC file (path as given), which must be 16 kHz mono."""
    import soundfile
    from lhotse import AudioSource, Recording

    try:
        info = soundfile.info(str(utt.audio))
    except RuntimeError as e:  # libsndfile's errors (soundfile.LibsndfileError) derive from it
        raise ValueError(f"{utt.where}: cannot read {utt.audio} ({e})") from None
    if info.samplerate != SAMPLE_RATE or info.channels != 1:
        raise ValueError(
            f"{utt.where}: {utt.audio} is {info.samplerate} Hz with {info.channels} channel(s), expected 16 kHz mono"
        )
    if info.frames == 0:
        raise ValueError(f"{utt.where}: {utt.audio} has no samples")
    return Recording(
        id=utt.cut_id,
        sources=[AudioSource(type="file", channels=[0], source=str(utt.audio))],
        sampling_rate=info.samplerate,
        num_samples=info.frames,
        duration=info.frames / info.samplerate,
    )

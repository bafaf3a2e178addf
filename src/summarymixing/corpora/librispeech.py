"""LibriSpeech: about 1000 hours of read English speech (openslr SLR12, https://www.openslr.org/12).

Audiobooks from the LibriVox project read by 2,484 speakers, segmented and aligned by Panayotov et al.
(ICASSP 2015), distributed as 16 kHz mono FLAC under CC BY 4.0. The splits (hours):

    train-clean-100 (100.6)  train-clean-360 (363.6)  train-other-500 (496.7)
    dev-clean (5.4)  dev-other (5.3)  test-clean (5.4)  test-other (5.1)

"clean" speakers had lower WER with a baseline system than "other" ones; speakers of the dev and test
splits do not appear in training. Each split is one archive ``<split>.tar.gz`` whose members are::

    LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac
    LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt

(plus ``LibriSpeech/{README,LICENSE,SPEAKERS,CHAPTERS,BOOKS}.TXT``). A ``.trans.txt`` line is
``<speaker>-<chapter>-<utt> TRANSCRIPT``; transcripts are UPPER-CASE words and apostrophes separated by
single spaces, without punctuation or digits (numbers are spelled out).

``corpora.replica`` synthesises a replica with the same layout and text conventions, so the same
two functions below download and prepare both (the replica's archives come from a local directory).
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarymixing.corpora.fetch import extract_tar, fetch
from summarymixing.io import atomic_dir

if TYPE_CHECKING:  # lhotse is imported where it is used: importing this module stays cheap
    from lhotse import CutSet, RecordingSet, SupervisionSet

log = logging.getLogger(__name__)

BASE_URL = "https://www.openslr.org/resources/12"

# split -> (archive, md5). The md5s are those of openslr's md5sum.txt, cross-checked against two
# public sources: PaddlePaddle/PaddleSpeech data/librispeech/librispeech.py (MD5_* constants, all
# seven) and the git-annex keys (MD5E-s<bytes>--<md5>) of the datasets-mila/datasets--librispeech
# mirror (all seven; ARCHIVE_BYTES below comes from the same keys).
ARCHIVES: dict[str, tuple[str, str]] = {
    "dev-clean": ("dev-clean.tar.gz", "42e2234ba48799c1f50f24a7926300a1"),
    "dev-other": ("dev-other.tar.gz", "c8d0bcc9cca99d4f8b62fcc847357931"),
    "test-clean": ("test-clean.tar.gz", "32fa31d27d2e1cad72775fee3f4849a9"),
    "test-other": ("test-other.tar.gz", "fb5a50374b501bb3bac4815ee91d3135"),
    "train-clean-100": ("train-clean-100.tar.gz", "2a93770f6d5c6c964bc36631d331a522"),
    "train-clean-360": ("train-clean-360.tar.gz", "c0e676e450a7ff2f54aeade5171606fa"),
    "train-other-500": ("train-other-500.tar.gz", "d1a0fd59409feb2c614ce4d30c387708"),
}
ARCHIVE_BYTES: dict[str, int] = {
    "dev-clean": 337_926_286,
    "dev-other": 314_305_928,
    "test-clean": 346_663_984,
    "test-other": 328_757_843,
    "train-clean-100": 6_387_309_499,
    "train-clean-360": 23_049_477_885,
    "train-other-500": 30_593_501_606,
}

CORPUS_DIRNAME = "LibriSpeech"  # the archives' top-level directory, under the download target_dir
COMPLETED_MARKER = ".completed"  # in each extracted split directory (the lhotse/icefall convention)
TRANSCRIPT_RE = re.compile(r"^[A-Z' ]+$")
UTTERANCE_ID_RE = re.compile(r"^\d+-\d+-\d+$")


def download_librispeech(target_dir: Path, archives: list[dict[str, Any]], base_url: str, archives_dir: Path) -> Path:
    """Fetch, verify and extract every archive so that ``target_dir/LibriSpeech/<split>/`` exists.

    ``archives`` holds one ``{"split", "file", "md5", "bytes"}`` entry per split (``bytes`` may be
    null); an archive's URL is ``base_url + "/" + file`` (``base_url``: http(s) URL, file:// URL or
    local directory). Archives are kept in ``archives_dir``. A split whose
    ``LibriSpeech/<split>/.completed`` marker exists is skipped. Returns ``target_dir/LibriSpeech``.
    """
    target_dir, archives_dir = Path(target_dir), Path(archives_dir)
    corpus_root = target_dir / CORPUS_DIRNAME
    skipped = 0
    for entry in archives:
        split, file = entry["split"], entry["file"]
        split_dir = corpus_root / split
        marker = split_dir / COMPLETED_MARKER
        if marker.is_file():
            log.info("%s: already downloaded and extracted (%s exists), skipping", split, marker)
            skipped += 1
            continue
        url = f"{base_url.rstrip('/')}/{file}"
        log.info("%s: fetching %s", split, url)
        archive = fetch(url, archives_dir / file, entry["md5"], entry.get("bytes"))
        # A directory without its marker is a leftover of an older extraction: replace it.
        shutil.rmtree(split_dir, ignore_errors=True)
        extract_tar(archive, target_dir, required=f"{CORPUS_DIRNAME}/{split}")
        marker.touch()
        log.info("%s: extracted into %s", split, split_dir)
    if archives and skipped == len(archives):
        log.info("all %d splits already in %s: nothing to do", skipped, corpus_root)
    return corpus_root


def manifest_paths(output_dir: Path, split: str) -> dict[str, Path]:
    """The manifests ``prepare_librispeech`` writes for ``split``: recordings, supervisions, cuts."""
    output_dir = Path(output_dir)
    return {
        "recordings": output_dir / f"librispeech_recordings_{split}.jsonl.gz",
        "supervisions": output_dir / f"librispeech_supervisions_{split}.jsonl.gz",
        "cuts": output_dir / f"cuts_{split}.jsonl.gz",
    }


def prepare_librispeech(corpus_dir: Path, output_dir: Path, splits: list[str], num_jobs: int = 1) -> dict[str, dict[str, Any]]:
    """Write lhotse manifests of ``splits`` from ``corpus_dir`` (the ``LibriSpeech`` directory).

    Uses ``lhotse.recipes.librispeech.prepare_librispeech`` for recordings and supervisions, and adds
    ``cuts_<split>.jsonl.gz``: one cut per utterance, named by the utterance id, with its one
    supervision, sorted by id (file names: ``manifest_paths``). The transcripts are validated first
    (every split has utterances, every line is ``<spk>-<chapter>-<utt> TRANSCRIPT`` with an upper-case
    transcript and an existing FLAC file); a violation raises ``ValueError`` naming the ``.trans.txt``
    file and the line. Audio paths in the manifests are ``corpus_dir``-based, as given (relative
    stays relative).

    Everything is written into a temporary directory that replaces ``output_dir`` only when all splits
    are done, so a killed run never leaves a manifest that looks finished. Returns
    ``{split: {"recordings": RecordingSet, "supervisions": SupervisionSet, "cuts": CutSet}}``.
    """
    from lhotse.recipes.librispeech import prepare_librispeech as lhotse_prepare_librispeech

    corpus_dir, output_dir = Path(corpus_dir), Path(output_dir)
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"{corpus_dir}: corpus directory not found (was `download` run?)")
    utterance_counts = {split: _validate_split(corpus_dir / split) for split in splits}

    with atomic_dir(output_dir) as staging:
        manifests = lhotse_prepare_librispeech(corpus_dir, dataset_parts=list(splits), output_dir=staging, num_jobs=num_jobs)
        for split in splits:
            recordings, supervisions = manifests[split]["recordings"], manifests[split]["supervisions"]
            if len(recordings) != utterance_counts[split] or len(supervisions) != utterance_counts[split]:
                raise ValueError(
                    f"{corpus_dir / split}: {utterance_counts[split]} transcript lines but lhotse prepared "
                    f"{len(recordings)} recordings and {len(supervisions)} supervisions"
                )
            cuts = _utterance_cuts(recordings, supervisions)
            cuts.to_file(manifest_paths(staging, split)["cuts"])
            manifests[split]["cuts"] = cuts
            log.info("%s: %d utterances, %.2f h", split, len(cuts), sum(c.duration for c in cuts) / 3600)
    return manifests


def _utterance_cuts(recordings: RecordingSet, supervisions: SupervisionSet) -> CutSet:
    """One cut per recording, named after its utterance (lhotse would append a loop index), sorted by id."""
    from lhotse import CutSet
    from lhotse.utils import fastcopy

    cuts = sorted(
        (fastcopy(cut, id=cut.recording_id) for cut in CutSet.from_manifests(recordings=recordings, supervisions=supervisions)),
        key=lambda cut: cut.id,
    )
    for cut in cuts:
        if len(cut.supervisions) != 1:
            raise ValueError(f"utterance {cut.id}: {len(cut.supervisions)} supervisions, expected exactly one")
    return CutSet.from_cuts(cuts)


def _validate_split(split_dir: Path) -> int:
    """Check every transcript line of one split; return the number of utterances."""
    if not split_dir.is_dir():
        raise FileNotFoundError(f"{split_dir}: split directory not found (was `download` run for it?)")
    utterances = 0
    for trans_path in sorted(split_dir.rglob("*.trans.txt")):
        chapter_prefix = trans_path.name.removesuffix(".trans.txt") + "-"
        with open(trans_path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                where = f"{trans_path}:{lineno}"
                utterance_id, _, text = line.rstrip("\n").partition(" ")
                if not UTTERANCE_ID_RE.match(utterance_id) or not utterance_id.startswith(chapter_prefix):
                    raise ValueError(f"{where}: expected '{chapter_prefix}<utt> TRANSCRIPT', got {line.rstrip()!r}")
                if not TRANSCRIPT_RE.match(text):
                    raise ValueError(
                        f"{where}: transcript {text!r} breaks LibriSpeech conventions "
                        f"(upper-case letters, apostrophes and spaces only)"
                    )
                audio = trans_path.parent / f"{utterance_id}.flac"
                if not audio.is_file():
                    raise ValueError(f"{where}: no audio file {audio} for utterance {utterance_id}")
                utterances += 1
    if utterances == 0:
        raise ValueError(f"{split_dir}: no utterances (no lines in any *.trans.txt)")
    return utterances

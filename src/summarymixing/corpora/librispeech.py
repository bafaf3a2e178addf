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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarymixing.corpora import Archive, save_manifests, utterance_cuts
from summarymixing.corpora.fetch import fetch_archive
from summarymixing.io import atomic_dir

if TYPE_CHECKING:  # lhotse is imported where it is used: importing this module stays cheap
    from lhotse import CutSet

log = logging.getLogger(__name__)

BASE_URL = "https://www.openslr.org/resources/12"
SPLIT_NAMES = ("dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100", "train-clean-360", "train-other-500")

# The md5s are those of openslr's md5sum.txt, cross-checked against two public sources:
# PaddlePaddle/PaddleSpeech data/librispeech/librispeech.py (MD5_* constants, all seven) and the
# git-annex keys (MD5E-s<bytes>--<md5>) of the datasets-mila/datasets--librispeech mirror (all seven;
# the sizes come from the same keys).
_MD5_AND_BYTES: dict[str, tuple[str, int]] = {
    "dev-clean": ("42e2234ba48799c1f50f24a7926300a1", 337_926_286),
    "dev-other": ("c8d0bcc9cca99d4f8b62fcc847357931", 314_305_928),
    "test-clean": ("32fa31d27d2e1cad72775fee3f4849a9", 346_663_984),
    "test-other": ("fb5a50374b501bb3bac4815ee91d3135", 328_757_843),
    "train-clean-100": ("2a93770f6d5c6c964bc36631d331a522", 6_387_309_499),
    "train-clean-360": ("c0e676e450a7ff2f54aeade5171606fa", 23_049_477_885),
    "train-other-500": ("d1a0fd59409feb2c614ce4d30c387708", 30_593_501_606),
}
ARCHIVES: dict[str, Archive] = {
    split: Archive(f"{split}.tar.gz", f"{BASE_URL}/{split}.tar.gz", f"md5:{md5}", size)
    for split, (md5, size) in _MD5_AND_BYTES.items()
}
# The normalised LM training text of openslr 11 (40 M sentences from 14,500 public-domain books, in the
# transcripts' conventions), which the recipes' Transformer LM is trained on. openslr publishes no
# checksum for it; this md5 is given by two independent public pipelines that download it.
ARCHIVES["lm-norm"] = Archive(
    "librispeech-lm-norm.txt.gz", "https://www.openslr.org/resources/11/librispeech-lm-norm.txt.gz",
    "md5:c83c64c726a1aedfe65f80aa311de402",
)
LM_ARCHIVES = ("lm-norm",)  # the text the dataset's language model learns from (stage `lm`)
SPLITS: dict[str, tuple[str, ...]] = {split: (split,) for split in SPLIT_NAMES}  # one archive per split

CORPUS_DIRNAME = "LibriSpeech"  # the archives' top-level directory
TRANSCRIPT_RE = re.compile(r"^[A-Z' ]+$")
UTTERANCE_ID_RE = re.compile(r"^\d+-\d+-\d+$")


def download_librispeech(entry: dict[str, Any], archives_dir: Path, target_dir: Path) -> Path:
    """Fetch, verify and extract one ``<split>.tar.gz`` so that ``target_dir/LibriSpeech/<split>/`` exists
    (the LM text is placed as it is: ``target_dir/librispeech-lm-norm.txt.gz``)."""
    if not entry["file"].endswith(".tar.gz"):
        return fetch_archive(entry, archives_dir, target_dir)
    split = entry["file"].removesuffix(".tar.gz")
    return fetch_archive(entry, archives_dir, target_dir, required=f"{CORPUS_DIRNAME}/{split}")


def prepare_librispeech(archive_dirs: dict[str, Path], split: str, output_dir: Path, num_jobs: int = 1) -> "CutSet":
    """Write lhotse manifests of ``split`` from its unpacked archive (``<dir>/LibriSpeech/<split>``).

    Uses ``lhotse.recipes.librispeech.prepare_librispeech`` for recordings and supervisions, and adds
    the cuts: one per utterance, named by the utterance id, sorted by id. The transcripts are validated
    first (the split has utterances, every line is ``<spk>-<chapter>-<utt> TRANSCRIPT`` with an
    upper-case transcript and an existing FLAC file); a violation raises ``ValueError`` naming the
    ``.trans.txt`` file and the line. Audio paths in the manifests are as given (relative stays
    relative). Everything is written into a temporary directory that replaces ``output_dir`` only when
    complete, so a killed run never leaves a manifest that looks finished.
    """
    from lhotse.recipes.librispeech import prepare_librispeech as lhotse_prepare_librispeech

    corpus_dir = Path(archive_dirs[split]) / CORPUS_DIRNAME
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"{corpus_dir}: corpus directory not found (was `download` run?)")
    utterance_count = _validate_split(corpus_dir / split)

    with atomic_dir(output_dir) as staging:
        manifests = lhotse_prepare_librispeech(corpus_dir, dataset_parts=[split], output_dir=None, num_jobs=num_jobs)
        recordings, supervisions = manifests[split]["recordings"], manifests[split]["supervisions"]
        if len(recordings) != utterance_count or len(supervisions) != utterance_count:
            raise ValueError(
                f"{corpus_dir / split}: {utterance_count} transcript lines but lhotse prepared "
                f"{len(recordings)} recordings and {len(supervisions)} supervisions"
            )
        cuts = utterance_cuts(recordings, supervisions)
        save_manifests(staging, recordings, supervisions, cuts)
        log.info("%s: %d utterances, %.2f h", split, len(cuts), sum(c.duration for c in cuts) / 3600)
    return cuts


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

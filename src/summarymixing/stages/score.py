"""Stage ``score``: WER and CER of every (split, decoder) with jiwer, and per-utterance alignments.

Text normalisation: LibriSpeech convention (upper case, apostrophes kept, single spaces); the
references are used as they are, the hypotheses are upper-cased and their spaces collapsed. Nothing
else is folded. CER counts characters including the spaces between words (jiwer's ``cer_default``).

Writes ``exp/<dataset>/<model>/scores.json`` and, per (split, decoder), in ``alignments/``:
``<split>.<decoder>.tsv`` (id, ref, hyp, S, D, I, N per utterance, sclite-like) and
``<split>.<decoder>.txt`` (jiwer's REF/HYP alignment of every utterance with errors).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections import defaultdict

from .. import paths
from ..config import ModelSpec
from ..io import atomic_dir, write_json

log = logging.getLogger(__name__)

NORMALISATION = "LibriSpeech: references as is; hypotheses upper-cased, spaces collapsed; apostrophes kept"


def normalise_hypothesis(text: str) -> str:
    return re.sub(r"\s+", " ", text.upper()).strip()


def read_hypotheses(path) -> tuple[dict, dict]:
    """Utterances and timings of a ``hypotheses.jsonl``, grouped by (split, decoder)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run `summarymixing decode` for this model first")
    utterances, timings = defaultdict(list), {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
            key = (row["split"], row["decoder"])
            if "timing" in row:
                timings[key] = row["timing"]
            else:
                utterances[key].append((row["id"], row["ref"], normalise_hypothesis(row["hyp"])))
        except (json.JSONDecodeError, KeyError) as e:
            raise ValueError(f"{path}:{number}: malformed hypothesis line ({e})") from None
    return utterances, timings


def score_utterances(utts: list[tuple[str, str, str]]) -> tuple[dict, str, str]:
    """Corpus-level WER/CER of (id, ref, hyp) triples, a per-utterance TSV and an alignment dump."""
    import jiwer

    ids, refs, hyps = zip(*utts)
    words = jiwer.process_words(list(refs), list(hyps))
    chars = jiwer.process_characters(list(refs), list(hyps))
    n_words = words.hits + words.substitutions + words.deletions
    n_chars = chars.hits + chars.substitutions + chars.deletions
    summary = {
        "utterances": len(ids),
        "wer": round(100 * words.wer, 3),
        "cer": round(100 * chars.cer, 3),
        "words": n_words,
        "substitutions": words.substitutions,
        "deletions": words.deletions,
        "insertions": words.insertions,
        "chars": n_chars,
        "char_errors": chars.substitutions + chars.deletions + chars.insertions,
        "sentence_errors": sum(r != h for r, h in zip(refs, hyps)),
    }
    rows = ["id\tref\thyp\tS\tD\tI\tN"]
    for utt, ref, hyp, chunks in zip(ids, refs, hyps, words.alignments):
        count = defaultdict(int)
        for chunk in chunks:
            span = max(chunk.ref_end_idx - chunk.ref_start_idx, chunk.hyp_end_idx - chunk.hyp_start_idx)
            count[chunk.type] += span
        rows.append(f"{utt}\t{ref}\t{hyp}\t{count['substitute']}\t{count['delete']}\t{count['insert']}\t{len(ref.split())}")
    alignment = jiwer.visualize_alignment(words, show_measures=True, skip_correct=True)
    return summary, "\n".join(rows) + "\n", alignment


def run(args: argparse.Namespace) -> None:
    spec = ModelSpec.parse(args.model)
    utterances, timings = read_hypotheses(paths.hypotheses_path(args.dataset, spec.id))
    results = []
    with atomic_dir(paths.alignments_dir(args.dataset, spec.id)) as align_dir:
        for (split, decoder), utts in sorted(utterances.items()):
            summary, tsv, alignment = score_utterances(utts)
            (align_dir / f"{split}.{decoder}.tsv").write_text(tsv, encoding="utf-8")
            (align_dir / f"{split}.{decoder}.txt").write_text(alignment, encoding="utf-8")
            timing = timings.get((split, decoder), {})
            results.append({"split": split, "decoder": decoder, **summary,
                            "decode_seconds": timing.get("seconds"), "rtf": timing.get("rtf")})
            log.info("%s %s %s: WER %.2f %%, CER %.2f %% (%d utterances)", spec.id, split, decoder,
                     summary["wer"], summary["cer"], summary["utterances"])
    write_json(paths.scores_path(args.dataset, spec.id),
               {"dataset": args.dataset, "model": spec.id, "normalisation": NORMALISATION, "results": results})

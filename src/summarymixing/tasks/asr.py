"""Task ``asr``: speech recognition with the attention + CTC encoder-decoder (paper Table 1).

Targets are the transcripts, tokenized by the dataset's sentencepiece model. Decoders:

    joint_beam_lm  joint CTC/attention beam search with shallow fusion of the dataset's language
                   model (``datasets.<d>.tasks.asr.lm``), as the paper's test numbers
    joint_beam     the same search without a language model
    ctc_greedy     best path of the CTC head

Scoring: WER and CER (jiwer) after the dataset's normaliser (``tasks.text``) on both sides; CER on
characters without spaces unless ``cer_counts_spaces``. Details per (split, decoder): a per-utterance
TSV (id, ref, hyp, S, D, I, N) and jiwer's alignment of every utterance with errors.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..stages.tokenizer import PAD_ID
from .base import TaskContext, group_lines
from .seq2seq import Seq2SeqTask
from .text import normaliser


class AsrTask(Seq2SeqTask):
    name = "asr"
    metrics = (("wer", "WER %", False), ("cer", "CER %", False))
    decoders = ("joint_beam_lm", "joint_beam", "ctc_greedy")
    decoder_titles = {
        "joint_beam_lm": "Joint CTC/attention beam search + language model",
        "joint_beam": "Joint CTC/attention beam search, no language model",
        "ctc_greedy": "CTC greedy",
    }

    def target_text(self, supervision) -> str:
        return supervision.text

    def valid_start(self) -> dict[str, Any]:
        return {**super().valid_start(), "refs": [], "hyps": []}

    def valid_update(self, state, outputs, batch, ctx: TaskContext) -> None:
        """Token accuracy, and the CTC greedy CER (a cheap accuracy check each epoch)."""
        import speechbrain as sb

        super().valid_update(state, outputs, batch, ctx)
        p_ctc, _, rel_lens = outputs
        if p_ctc is not None:
            hyps = sb.decoders.ctc_greedy_decode(p_ctc, rel_lens, blank_id=PAD_ID)
            state["refs"] += batch["texts"]
            state["hyps"] += [ctx.tokenizer.decode(h) for h in hyps]

    def valid_summary(self, state) -> dict[str, float]:
        import jiwer

        summary = super().valid_summary(state)
        if state["refs"]:
            summary["valid_cer_ctc_greedy"] = 100 * jiwer.cer(state["refs"], state["hyps"])
        return summary

    def searchers(self, model, settings: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
        from .search import ctc_greedy_search, joint_beam_search

        found = {}
        lm = extras.get("lm")
        if lm is not None:
            found["joint_beam_lm"] = joint_beam_search(model, settings, lm=lm, lm_weight=settings["lm_weight"])
        found["joint_beam"] = joint_beam_search(model, settings)
        found["ctc_greedy"] = ctc_greedy_search(model)
        return found

    def score(self, lines, ctx: TaskContext):
        normalise = normaliser(ctx.task_cfg.get("normaliser", "whitespace"))
        keep_spaces = ctx.task_cfg.get("cer_counts_spaces", False)
        utterances, timings = group_lines(lines)
        results, details = [], {}
        for (split, decoder), utts in sorted(utterances.items()):
            triples = [(u["id"], normalise(u["ref"]), normalise(u["hyp"])) for u in utts]
            summary, tsv, alignment = score_transcripts(triples, keep_spaces)
            details[f"{split}.{decoder}.tsv"] = tsv
            details[f"{split}.{decoder}.txt"] = alignment
            timing = timings.get((split, decoder), {})
            results.append({"split": split, "decoder": decoder, **summary,
                            "decode_seconds": timing.get("seconds"), "rtf": timing.get("rtf")})
        return results, details

    def describe_scoring(self, task_cfg: dict[str, Any]) -> str:
        spaces = "with" if task_cfg.get("cer_counts_spaces", False) else "without"
        return (f"jiwer WER and CER after the `{task_cfg.get('normaliser', 'whitespace')}` normaliser on references "
                f"and hypotheses alike; CER on characters {spaces} spaces")


def score_transcripts(utts: list[tuple[str, str, str]], cer_counts_spaces: bool = False) -> tuple[dict, str, str]:
    """Corpus-level WER/CER of (id, ref, hyp) triples, a per-utterance TSV and an alignment dump."""
    import jiwer

    ids, refs, hyps = zip(*utts)
    words = jiwer.process_words(list(refs), list(hyps))
    strip = (lambda s: s) if cer_counts_spaces else (lambda s: s.replace(" ", ""))
    chars = jiwer.process_characters([strip(r) for r in refs], [strip(h) for h in hyps])
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
        count: dict[str, int] = defaultdict(int)
        for chunk in chunks:
            span = max(chunk.ref_end_idx - chunk.ref_start_idx, chunk.hyp_end_idx - chunk.hyp_start_idx)
            count[chunk.type] += span
        rows.append(f"{utt}\t{ref}\t{hyp}\t{count['substitute']}\t{count['delete']}\t{count['insert']}\t{len(ref.split())}")
    alignment = jiwer.visualize_alignment(words, show_measures=True, skip_correct=True)
    return summary, "\n".join(rows) + "\n", alignment


TASK = AsrTask()

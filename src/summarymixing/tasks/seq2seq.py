"""What the sequence tasks (``asr``, ``slu``) share: token batches, the encoder-decoder, its loss,
its per-epoch check and beam-search decoding. A subclass says what the target text is and how
hypotheses are scored.

Loss (paper.md 5.1): ``(1 - w) * KLdiv(attention decoder, label smoothing) + w * CTC`` with
``w = training.<task>.<size>.ctc_weight``; with ``w = 0`` the model has no CTC head.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable

import torch
from torch.nn.utils.rnn import pad_sequence

from ..stages.tokenizer import BOS_ID, EOS_ID, PAD_ID
from .base import Task, TaskContext, timing_line

log = logging.getLogger(__name__)


def pad_targets(ids: list[list[int]]) -> dict[str, torch.Tensor]:
    """Token id lists -> tokens (B, L) without bos/eos, tokens_bos and tokens_eos (B, L+1), padded with 0,
    and their relative lengths (SpeechBrain's convention)."""
    tensors = [torch.tensor(t, dtype=torch.long) for t in ids]
    bos, eos = torch.tensor([BOS_ID]), torch.tensor([EOS_ID])
    token_lens = torch.tensor([len(t) for t in tensors], dtype=torch.float)
    return {
        "tokens": pad_sequence(tensors, batch_first=True, padding_value=PAD_ID),
        "token_rel_lens": token_lens / token_lens.max().clamp(min=1),
        "tokens_bos": pad_sequence([torch.cat([bos, t]) for t in tensors], batch_first=True, padding_value=PAD_ID),
        "tokens_eos": pad_sequence([torch.cat([t, eos]) for t in tensors], batch_first=True, padding_value=PAD_ID),
        "token_eos_rel_lens": (token_lens + 1) / (token_lens.max() + 1),
    }


class TokenBatches(torch.utils.data.Dataset):
    """Map a ``CutSet`` (one batch) to padded tensors, longest first.

    feats (B, T, F), feat_rel_lens (B,) relative lengths in (0, 1] as SpeechBrain expects, tokens (B, L)
    without bos/eos, tokens_bos (B, L+1), tokens_eos (B, L+1), token_rel_lens and token_eos_rel_lens,
    plus the cut ids, the target texts, the cuts and the durations.
    """

    def __init__(self, tokenizer, target_text: Callable[[Any], str], ctc_text: Callable[[Any], str] | None = None):
        self.tokenizer = tokenizer
        self.target_text = target_text
        self.ctc_text = ctc_text  # a different target for the CTC head (else the decoder's)

    def __getitem__(self, cuts) -> dict[str, Any]:
        from lhotse.dataset.collation import collate_features

        cuts = cuts.sort_by_duration(ascending=False)
        feats, feat_lens = collate_features(cuts)
        texts = [self.target_text(cut.supervisions[0]) for cut in cuts]
        batch = {
            "ids": [cut.id for cut in cuts],
            "texts": texts,
            "cuts": list(cuts),
            "durations": [cut.duration for cut in cuts],
            "feats": feats,
            "feat_rel_lens": feat_lens.float() / feat_lens.max(),
            **pad_targets([self.tokenizer.encode(t) for t in texts]),
        }
        if self.ctc_text is not None:
            ctc = pad_targets([self.tokenizer.encode(self.ctc_text(cut.supervisions[0])) for cut in cuts])
            batch["ctc_tokens"], batch["ctc_token_rel_lens"] = ctc["tokens"], ctc["token_rel_lens"]
        return batch


class Seq2SeqTask(Task):
    """Encoder-decoder tasks; subclasses define ``target_text``, ``score`` and their decoders."""

    # the CTC head's target, a method of the supervision where it differs from the decoder's (None: the same)
    ctc_text: Callable[[Any], str] | None = None

    def batches(self, ctx: TaskContext) -> TokenBatches:
        return TokenBatches(ctx.tokenizer, self.target_text, self.ctc_text)

    def build_model(self, arch: dict[str, Any], ctx: TaskContext, hp: dict[str, Any]):
        from ..models.seq2seq import EncoderDecoderModel

        return EncoderDecoderModel(arch, n_tokens=ctx.n_outputs, n_mels=ctx.n_mels, ctc=hp.get("ctc_weight", 0) > 0)

    def forward(self, model, batch: dict[str, Any], training: bool, epoch: int | None):
        _, p_ctc, p_seq = model(batch["feats"], batch["feat_rel_lens"], batch["tokens_bos"], epoch=epoch)
        return p_ctc, p_seq, batch["feat_rel_lens"]

    def loss(self, outputs, batch: dict[str, Any], hp: dict[str, Any]):
        import speechbrain as sb

        p_ctc, p_seq, rel_lens = outputs
        loss = sb.nnet.losses.kldiv_loss(
            p_seq, batch["tokens_eos"], length=batch["token_eos_rel_lens"],
            label_smoothing=hp.get("label_smoothing", 0.0), reduction="batchmean",
        )  # fmt: skip
        w = hp.get("ctc_weight", 0.0)
        if w > 0:
            tokens, lens = batch.get("ctc_tokens", batch["tokens"]), batch.get("ctc_token_rel_lens", batch["token_rel_lens"])
            loss_ctc = sb.nnet.losses.ctc_loss(p_ctc, tokens, rel_lens, lens, blank_index=PAD_ID, reduction="batchmean")
            loss = w * loss_ctc + (1 - w) * loss
        return loss

    def valid_start(self) -> dict[str, Any]:
        return {"correct": 0, "total": 0}

    def valid_update(self, state, outputs, batch, ctx) -> None:
        """Teacher-forced next-token accuracy: a cheap check that needs no search."""
        _, p_seq, _ = outputs
        target = batch["tokens_eos"]
        valid = target != PAD_ID
        state["correct"] += int(((p_seq.argmax(-1) == target) & valid).sum())
        state["total"] += int(valid.sum())

    def valid_summary(self, state) -> dict[str, float]:
        return {"valid_token_accuracy": 100.0 * state["correct"] / max(1, state["total"])}

    # ---------------------------------------------------------------------------------------------
    # decoding

    def searchers(self, model, settings: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
        """``{decoder name: searcher}``; a searcher maps (enc, rel_lens) to token id lists."""
        raise NotImplementedError

    def hypothesis_line(self, split: str, decoder: str, cut, reference: str, hypothesis: str) -> dict[str, Any]:
        return {"split": split, "decoder": decoder, "id": cut.id, "ref": reference, "hyp": hypothesis}

    def decode(self, model, splits, settings, ctx, device, extras) -> Iterable[dict[str, Any]]:
        from ..data import make_loader

        searchers = self.searchers(model, settings, extras)
        with torch.no_grad():
            for split, cuts in splits.items():
                # Batches of similar durations: a beam search runs every hypothesis of a batch until the
                # longest one ends, so padding costs decoder steps.
                cuts = cuts.sort_by_duration(ascending=True)
                loader, _ = make_loader(cuts, self.batches(ctx), settings.get("max_batch_duration", 200), train=False)
                wall = {name: 0.0 for name in searchers}
                cpu = {name: 0.0 for name in searchers}
                encode_wall = encode_cpu = audio_seconds = 0.0
                count = 0
                for batch in loader:
                    feats, rel_lens = batch["feats"].to(device), batch["feat_rel_lens"].to(device)
                    audio_seconds += sum(batch["durations"])
                    count += len(batch["ids"])
                    start, start_cpu = time.perf_counter(), time.process_time()
                    enc = model.encode(feats, rel_lens)
                    encode_wall += time.perf_counter() - start
                    encode_cpu += time.process_time() - start_cpu
                    for name, search in searchers.items():
                        start, start_cpu = time.perf_counter(), time.process_time()
                        hyps = search(enc, rel_lens)
                        wall[name] += time.perf_counter() - start
                        cpu[name] += time.process_time() - start_cpu
                        for cut, ref, hyp in zip(batch["cuts"], batch["texts"], hyps):
                            yield self.hypothesis_line(split, name, cut, ref, ctx.tokenizer.decode([int(t) for t in hyp]))
                for name in searchers:
                    yield timing_line(split, name, encode_wall + wall[name], audio_seconds, device,
                                      encode_cpu_seconds=encode_cpu, search_cpu_seconds=cpu[name])
                log.info("%s: %d utterances, RTF %s", split, count,
                         ", ".join(f"{n} {(encode_wall + wall[n]) / max(audio_seconds, 1e-9):.4f}" for n in searchers))

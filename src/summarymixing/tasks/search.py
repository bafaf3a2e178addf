"""Searchers of the sequence tasks: ``search(enc (B, T', D), rel_lens (B,)) -> list of token id lists``."""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..stages.tokenizer import PAD_ID

Searcher = Callable[[torch.Tensor, torch.Tensor], list[list[int]]]


def ctc_greedy_search(model) -> Searcher:
    """Best path of the CTC head, repeats merged and blanks removed (SpeechBrain)."""
    from speechbrain.decoders import ctc_greedy_decode

    def search(enc, rel_lens):
        return ctc_greedy_decode(model.ctc_lin(enc).log_softmax(-1), rel_lens, blank_id=PAD_ID)

    return search


def joint_beam_search(model, settings: dict[str, Any], lm=None, lm_weight: float = 0.0) -> Searcher:
    """Beam search over the decoder's incremental states, rescored with the CTC prefix score (weight
    ``ctc_weight``; none without a CTC head) and, with ``lm``, shallow fusion of the language model
    (``lm_weight``); ``temperature`` on the decoder and the LM, as the recipes (``decoding.<task>.<size>``)."""
    from ..decoding import build_beam_searcher

    temperature = settings.get("temperature", 1.0)
    searcher = build_beam_searcher(
        model.decoder, model.seq_lin, settings["beam_size"], ctc_lin=model.ctc_lin,
        ctc_weight=settings.get("ctc_weight", 0.0), lm=lm, lm_weight=lm_weight, temperature=temperature,
        lm_temperature=temperature, max_decode_ratio=settings.get("max_decode_ratio", 1.0),
    )  # fmt: skip

    def search(enc, rel_lens):
        hyps, _, _, _ = searcher(enc, rel_lens)
        return hyps

    return search

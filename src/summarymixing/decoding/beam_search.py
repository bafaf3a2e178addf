"""Joint CTC/attention beam search with Transformer-LM shallow fusion, on incremental decoder states.

SpeechBrain's ``S2SBeamSearcher`` does the search (batched over utterances x beams); only the memory
changes. ``S2STransformerBeamSearcher`` keeps the token prefix as memory and re-runs the whole decoder
on it at every step; here the memory is the decoder's incremental state (``AttentionDecoder.init_state``,
``step``, ``reorder_state``): the cross-attention keys/values are computed once per utterance and each
step adds one position. The score of a candidate token y after prefix g, as in SpeechBrain:

    score(g + y) = score(g) + (1 - w_ctc) log p_att(y | g, X)^(1/T_att)
                            + w_ctc  [log p_ctc(g + y | X) - log p_ctc(g | X)]
                            + w_lm   log p_lm(y | g)^(1/T_lm)

with p^(1/T) standing for softmax(logits / T); the CTC prefix score is SpeechBrain's ``CTCScorer``, the
weighting SpeechBrain's ``ScorerBuilder``, the LM term ``TransformerLMScorer`` below (an LM with
incremental state). Without a CTC head (spoken language understanding) the search is attention-only.
``S2SIncrementalGreedySearcher`` is greedy decoding on the same states.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from speechbrain.dataio.dataio import length_to_mask
from speechbrain.decoders import scorer as sb_scorer
from speechbrain.decoders.scorer import CTCScorer, ScorerBuilder
from speechbrain.decoders.seq2seq import S2SBeamSearcher, S2SGreedySearcher
from torch import nn

from ..models.decoder import AttentionDecoder, DecoderState
from ..models.lm import IncrementalTransformerLM, LMState
from ..stages.tokenizer import BOS_ID, EOS_ID, PAD_ID


def enc_padding_mask(enc_lens: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, T) True at padded frames, from absolute lengths enc_lens (B,)."""
    return ~length_to_mask(enc_lens, max_len=max_len).bool()


class TransformerLMScorer(sb_scorer.TransformerLMScorer):
    """SpeechBrain's Transformer-LM scorer on an incremental LM state instead of the token prefix.

    ``ScorerBuilder`` keys a scorer's weight on its class name: this one keeps SpeechBrain's name, so its
    weight is ``weights["transformerlm"]`` as in the recipes. log p_lm = log_softmax(logits / temperature).
    """

    lm: IncrementalTransformerLM

    @torch.no_grad()
    def score(self, inp_tokens: torch.Tensor, memory: Optional[LMState], candidates, attn):
        state = memory if memory is not None else self.lm.init_state()
        logits, state = self.lm.step(inp_tokens, state)  # (N, V)
        return self.softmax(logits / self.temperature), state

    def permute_mem(self, memory: LMState, index: torch.Tensor) -> LMState:
        return self.lm.reorder_state(memory, index)

    def reset_mem(self, x: torch.Tensor, enc_lens: torch.Tensor) -> None:
        return None  # the state is made at the first step, when the number of hypotheses is known


class S2SIncrementalBeamSearcher(S2SBeamSearcher):
    """``S2SBeamSearcher`` whose memory is the decoder's incremental state.

    Arguments
    ---------
    decoder: an ``AttentionDecoder`` (MHA or Summary Decoder).
    seq_lin: decoder states -> token logits.
    temperature: T_att of the decoder's softmax.
    pad_index: a token the decoder never emits (the padding id), blocked like the CTC scorer blocks its
        blank; None leaves every token open, as SpeechBrain does.
    **kwargs: ``S2SBeamSearcher``'s (bos_index, eos_index, beam_size, scorer, length_normalization, ...).
    """

    def __init__(
        self,
        decoder: AttentionDecoder,
        seq_lin: nn.Module,
        temperature: float = 1.0,
        pad_index: Optional[int] = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.decoder = decoder
        self.fc = seq_lin
        self.softmax = nn.LogSoftmax(dim=-1)
        self.temperature = temperature
        self.pad_index = pad_index

    @torch.no_grad()
    def forward(self, enc_states: torch.Tensor, wav_len: torch.Tensor):
        """enc_states (B, T, D), wav_len (B,) relative lengths -> (hyps, lengths, scores, log_probs)."""
        return super().forward(enc_states, wav_len)

    def _update_reset_memory(self, enc_states: torch.Tensor, enc_lens: torch.Tensor):
        """Called once per batch, before the beams are inflated: the cross-attention keys/values."""
        memory = self.decoder.init_state(enc_states, enc_padding_mask(enc_lens, enc_states.shape[1]))
        scorer_memory = self.scorer.reset_scorer_mem(enc_states, enc_lens) if self.scorer is not None else None
        return memory, scorer_memory

    def forward_step(self, inp_tokens: torch.Tensor, memory: DecoderState, enc_states, enc_lens):
        """log p_att(. | prefix) (N, V) for the N = B x beam hypotheses, after feeding inp_tokens (N,)."""
        out, memory = self.decoder.step(inp_tokens, memory)
        log_probs = self.softmax(self.fc(out) / self.temperature)
        if self.pad_index is not None:
            log_probs[:, self.pad_index] = self.minus_inf
        return log_probs, memory, memory.attn

    def permute_mem(self, memory: DecoderState, index: torch.Tensor) -> DecoderState:
        return self.decoder.reorder_state(memory, index)


class S2SIncrementalGreedySearcher(S2SGreedySearcher):
    """Greedy decoding (``temperature`` 0: argmax; > 0: sampling) on the decoder's incremental state."""

    def __init__(self, decoder: AttentionDecoder, seq_lin: nn.Module, temperature: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.decoder = decoder
        self.fc = seq_lin
        self.temperature = temperature

    def reset_mem(self, batch_size: int, device: torch.device) -> None:
        return None  # made at the first step, which sees the encoder states

    def forward_step(self, inp_tokens, memory: Optional[DecoderState], enc_states, enc_lens, attention_mask=None):
        """Logits (B, V) of the next token after inp_tokens (B,)."""
        if memory is None:
            memory = self.decoder.init_state(enc_states, enc_padding_mask(enc_lens, enc_states.shape[1]))
        out, memory = self.decoder.step(inp_tokens, memory)
        return self.fc(out), memory, memory.attn


def build_beam_searcher(
    decoder: AttentionDecoder,
    seq_lin: nn.Module,
    beam_size: int,
    ctc_lin: Optional[nn.Module] = None,
    ctc_weight: float = 0.0,
    lm: Optional[IncrementalTransformerLM] = None,
    lm_weight: float = 0.0,
    temperature: float = 1.0,
    lm_temperature: float = 1.0,
    length_normalization: bool = True,
    min_decode_ratio: float = 0.0,
    max_decode_ratio: float = 1.0,
) -> S2SIncrementalBeamSearcher:
    """Joint CTC/attention (+ LM) beam search as the recipes configure it (paper.md 5.1).

    The paper's test search: beam 66, ctc_weight 0.4, lm_weight 0.6, temperature = lm_temperature = 1.15.
    Without ``ctc_lin`` (or with ctc_weight 0) the search is attention-only and never emits padding.
    """
    scorers: list[Any] = []
    weights: dict[str, float] = {}
    if lm is not None and lm_weight > 0:
        scorers.append(TransformerLMScorer(lm, temperature=lm_temperature))
        weights["transformerlm"] = lm_weight
    use_ctc = ctc_lin is not None and ctc_weight > 0
    if use_ctc:
        scorers.append(CTCScorer(ctc_fc=ctc_lin, blank_index=PAD_ID, eos_index=EOS_ID))
        weights["ctc"] = ctc_weight
    return S2SIncrementalBeamSearcher(
        decoder, seq_lin, temperature=temperature, pad_index=None if use_ctc else PAD_ID,
        bos_index=BOS_ID, eos_index=EOS_ID, min_decode_ratio=min_decode_ratio, max_decode_ratio=max_decode_ratio,
        beam_size=beam_size, using_eos_threshold=False, length_normalization=length_normalization,
        scorer=ScorerBuilder(full_scorers=scorers, weights=weights) if scorers else None,
    )  # fmt: skip

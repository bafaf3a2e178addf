"""Search over the attention decoder's incremental states: joint CTC/attention beam search, LM shallow
fusion, attention-only and greedy decoding (``beam_search``)."""

from .beam_search import (
    S2SIncrementalBeamSearcher,
    S2SIncrementalGreedySearcher,
    TransformerLMScorer,
    build_beam_searcher,
)

__all__ = ["S2SIncrementalBeamSearcher", "S2SIncrementalGreedySearcher", "TransformerLMScorer", "build_beam_searcher"]

"""Published numbers of the paper, for the tables to show beside ours.

Source: Parcollet, van Dalen, Zhang, Bhattacharya, "SummaryMixing: A Linear-Complexity Alternative to
Self-Attention for Speech Recognition and Understanding", Interspeech 2024, Table 1, as given in the
README of github.com/SamsungLabs/SummaryMixing (branch speechbrain_v0.5, commit 55cb037), which states
that it holds the paper's numbers (see shared reference paper.md section 2.1). LibriSpeech 960 h,
attention + CTC encoder-decoder; test sets decoded with a Transformer LM (beam 66, per the recipes).
The other corpora's tables (CommonVoice, AISHELL-1, TED-LIUM 2, SLURP, Speech Commands) have no public
numbers in any source we could check: ``published_for`` returns None for them.
"""

from __future__ import annotations

from typing import Any

TABLE1_SOURCE = (
    "Parcollet et al., Interspeech 2024, Table 1 (via github.com/SamsungLabs/SummaryMixing README, "
    "branch speechbrain_v0.5 @ 55cb037); real LibriSpeech 960 h, joint CTC/attention decoding with a Transformer LM"
)

# encoder, token mixer, dev-clean WER, test-clean WER, test-other WER, GPU hours, peak VRAM (GB)
TABLE1 = [
    ("ContextNet", "n.a.", 3.3, 2.3, 5.9, 160, 25),
    ("Transformer", "self-attention", 3.3, 2.3, 5.5, 129, 40),
    ("Conformer", "self-attention", 2.8, 2.3, 5.4, 137, 46),
    ("Branchformer", "self-attention", 2.9, 2.2, 5.1, 132, 45),
    ("Branchformer", "CNN only", 3.1, 2.4, 5.7, 83, 22),
    ("Branchformer", "HyperMixer", 3.1, 2.3, 5.6, 126, 30),
    ("Branchformer", "FastFormer", 3.0, 2.2, 5.4, 96, 23),
    ("Conformer", "SummaryMixing", 2.8, 2.1, 5.1, 98, 21),
    ("Branchformer", "SummaryMixing-lite", 3.0, 2.2, 5.2, 98, 23),
    ("Branchformer", "SummaryMixing", 2.9, 2.2, 5.1, 105, 26),
    ("Branchformer", "+ Summary Decoder", 3.1, 2.3, 5.3, 104, 26),
]
TABLE1_COLUMNS = ["Encoder", "Token mixer", "dev-clean WER", "test-clean WER", "test-other WER", "GPU hours", "peak VRAM (GB)"]

# our (encoder, mixer, decoder variant) -> the Table 1 row it reproduces
TABLE1_ROWS: dict[tuple[str, str, str], int] = {
    ("contextnet", "", ""): 0,
    ("transformer", "mha", ""): 1,
    ("transformer", "mhsa", ""): 1,
    ("conformer", "mhsa", ""): 2,
    ("branchformer", "mhsa", ""): 3,
    ("branchformer", "cnnonly", ""): 4,
    ("branchformer", "hypermixer", ""): 5,
    ("branchformer", "fastformer", ""): 6,
    ("conformer", "summarymixing", ""): 7,
    ("branchformer", "summarymixing_lite", ""): 8,
    ("branchformer", "summarymixing", ""): 9,
    ("branchformer", "summarymixing", "summary_decoder"): 10,
}


def _table1_key(row) -> tuple[str, str, str]:
    return row["encoder"], row["mixer"] or "", row["decoder_variant"] or ""


def published_for(task: str, corpus: str) -> dict[str, Any] | None:
    """The published table of ``task`` on ``corpus`` (None if the paper's numbers are not public).

    ``rows`` maps a table key (``key(row)`` of one of our rows) to the published values by column.
    """
    if (task, corpus) != ("asr", "librispeech"):
        return None
    shown = TABLE1_COLUMNS[2:]
    return {
        "source": TABLE1_SOURCE,
        "header": TABLE1_COLUMNS,
        "table": TABLE1,
        "columns": shown,
        "key": _table1_key,
        "rows": {key: dict(zip(TABLE1_COLUMNS, TABLE1[index]))for key, index in TABLE1_ROWS.items()},
    }

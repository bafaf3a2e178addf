"""Text normalisers and error rates for scoring transcripts.

Every dataset names its normaliser in params.yaml (``datasets.<d>.tasks.asr.normaliser``); it is
applied to references and hypotheses alike, so a table's WER never depends on which side happened
to be cleaner. ``NORMALISERS`` maps names to functions; adding a corpus's convention is one entry.

    librispeech   upper case; letters, digits, apostrophes and single spaces (LibriSpeech's reference
                  conventions: published WERs are computed on that form; apostrophes are kept)
    whitespace    single spaces, nothing else folded

CER is computed on characters with the spaces removed (``cer_counts_spaces: false``, the default):
word boundaries are already scored by the WER, and counting them again as characters makes the CER
of a language without spaces incomparable with one that has them.
"""

from __future__ import annotations

import re
from typing import Callable


def whitespace(text: str) -> str:
    return " ".join(text.split())


def librispeech(text: str) -> str:
    return " ".join(re.sub(r"[^A-Z0-9' ]+", " ", text.upper()).split())


NORMALISERS: dict[str, Callable[[str], str]] = {"librispeech": librispeech, "whitespace": whitespace}


def normaliser(name: str) -> Callable[[str], str]:
    try:
        return NORMALISERS[name]
    except KeyError:
        raise ValueError(f"unknown text normaliser {name!r} (known: {', '.join(NORMALISERS)})") from None

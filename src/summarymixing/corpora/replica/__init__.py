"""Synthetic replicas of the corpora, generated offline and deterministically with espeak-ng.

A replica copies a corpus's archive layout and text conventions (not its content), so the real
download and preparation code runs on it unchanged: ``librispeech.synthesize_librispeech_replica``.
"""

from __future__ import annotations

from summarymixing.corpora.replica.librispeech import synthesize_librispeech_replica

__all__ = ["synthesize_librispeech_replica"]

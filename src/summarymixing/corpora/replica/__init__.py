"""Synthetic replicas of the corpora, generated offline and deterministically with espeak-ng.

A replica copies a corpus's files, layout and text conventions (not its content), so the real download
and preparation code runs on it unchanged. A replica module ``corpora.replica.<corpus>`` defines

* ``synthesize(out_dir: Path, cfg: dict) -> dict``: write the replica's files into ``out_dir``, named as
  the recipe's ``ARCHIVES[name].file``, and return ``{"archives": {name: {"file", "checksum", "bytes"}},
  ...}`` (``checksum`` as ``md5:<hex>`` or ``sha256:<hex>``). ``cfg`` is the dataset's ``replica`` block
  of params.yaml. The same ``cfg`` gives byte-identical files (``synthesis.run_in_fresh_processes``).
* ``WORKER_KEYS``: keys of ``cfg`` that change how fast, not what, it synthesises (not tracked as params).
"""

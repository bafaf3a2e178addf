"""summarymixing-repro: a reproducibility pipeline for SummaryMixing (Parcollet et al., Interspeech 2024).

The package holds one module per DAG stage (``summarymixing.stages``), one file per corpus
(``summarymixing.corpora``) and the model code (``summarymixing.models``). Every stage is a
subcommand of the ``summarymixing`` console script, which Snakemake and DVC both call.
"""

__version__ = "0.1.0"

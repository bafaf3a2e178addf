"""The ``summarymixing`` command: one subcommand per DAG stage.

Snakemake rules and DVC stages call exactly these commands, so a stage can also be run by hand::

    summarymixing source    --dataset librispeech_replica
    summarymixing download  --dataset librispeech_replica
    summarymixing prepare   --dataset librispeech_replica
    summarymixing tokenizer --dataset librispeech_replica
    summarymixing features  --dataset librispeech_replica
    summarymixing train     --dataset librispeech_replica --model conformer-summarymixing-small
    summarymixing decode    --dataset librispeech_replica --model conformer-summarymixing-small
    summarymixing score     --dataset librispeech_replica --model conformer-summarymixing-small
    summarymixing aggregate --dataset librispeech_replica
    summarymixing bench

Every stage reads ``params.yaml`` (or ``--params``/``$SUMMARYMIXING_PARAMS``), writes its outputs
atomically and skips work that is already done. Heavy imports (torch, speechbrain) happen inside the
stages, so ``summarymixing --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

STAGES = {
    "source": "Pin a corpus's archives and md5s; for a synthetic replica, synthesise and pack it first.",
    "download": "Download (resumable), verify md5 and safely extract a corpus's archives.",
    "prepare": "Write lhotse manifests (recordings, supervisions, cuts) for every split.",
    "tokenizer": "Train the sentencepiece tokenizer on the training transcripts.",
    "features": "Compute 80-dim fbank once per split, shared by every model.",
    "train": "Train one encoder x mixer x size model with SpeechBrain (resumes after a kill).",
    "decode": "Decode every test split: CTC greedy and joint CTC/attention beam search.",
    "score": "Score hypotheses with jiwer: WER and CER per split, per-utterance alignments.",
    "aggregate": "Gather scores and training costs of a dataset into reports/tables/.",
    "bench": "Efficiency benchmark: time, real-time factor and peak memory against length.",
}

NEEDS_DATASET = {"source", "download", "prepare", "tokenizer", "features", "train", "decode", "score", "aggregate"}
NEEDS_MODEL = {"train", "decode", "score"}
EXTRA_ARGUMENTS = {"bench"}  # stages whose module defines add_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="summarymixing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default=None, help="params file (default: $SUMMARYMIXING_PARAMS or ./params.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="<stage>")
    for name, help_text in STAGES.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name in NEEDS_DATASET:
            p.add_argument("--dataset", required=True, help="a dataset defined in params.yaml (datasets.*)")
        if name in NEEDS_MODEL:
            p.add_argument("--model", required=True, help="<encoder>-<mixer>-<size>, e.g. conformer-summarymixing-small")
        if name in EXTRA_ARGUMENTS:
            importlib.import_module(f"summarymixing.stages.{name}").add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    from .environment import BrokenEnvironment, require_core

    try:
        # before anything else: a torch/torchaudio mismatch would otherwise surface as a traceback
        # from deep inside SpeechBrain's imports
        require_core()
    except BrokenEnvironment as e:
        print(f"summarymixing: {e}", file=sys.stderr)
        return 1
    module = importlib.import_module(f"summarymixing.stages.{args.stage}")
    try:
        module.run(args)
    except (OSError, ValueError) as e:
        # Bad input: one clear line naming the file and the problem (the traceback with --verbose).
        logging.getLogger("summarymixing").error("%s failed: %s", args.stage, e)
        if args.verbose:
            raise
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

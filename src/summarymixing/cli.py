"""The ``summarymixing`` command: one subcommand per DAG stage, plus two helpers.

Snakemake rules and DVC stages call exactly these commands (both from ``summarymixing.dag``), so a
stage can also be run by hand::

    summarymixing source     --dataset librispeech_replica
    summarymixing download   --dataset librispeech_replica --archive train-clean-100
    summarymixing prepare    --dataset librispeech_replica --split train-clean-100
    summarymixing features   --dataset librispeech_replica --split train-clean-100
    summarymixing tokenizer  --dataset librispeech_replica --task asr
    summarymixing lm         --dataset librispeech_replica
    summarymixing train      --experiment asr/librispeech_replica/conformer-summarymixing-small
    summarymixing decode     --experiment asr/librispeech_replica/conformer-summarymixing-small
    summarymixing score      --experiment asr/librispeech_replica/conformer-summarymixing-small
    summarymixing aggregate  --task asr --dataset librispeech_replica
    summarymixing bench
    summarymixing describe                  # parameter counts of every configured model, by module
    summarymixing dvc-yaml [--check]        # (re)generate dvc.yaml from params.yaml

Every stage reads ``params.yaml`` (or ``--params``/``$SUMMARYMIXING_PARAMS``), writes its outputs
atomically and skips work that is already done. Heavy imports (torch, speechbrain) happen inside the
stages, so ``summarymixing --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys

ARGUMENTS = {
    "dataset": "a dataset defined in params.yaml (datasets.*)",
    "archive": "an archive of the dataset's corpus (its recipe's ARCHIVES)",
    "split": "a split of the dataset's corpus (its recipe's SPLITS)",
    "task": "a task: asr, slu or kws",
    "experiment": "<task>/<dataset>/<name>, an experiment of the grid (e.g. asr/librispeech_replica/conformer-summarymixing-small)",
}
# stage -> (help, required arguments)
STAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "source": ("Pin a corpus's archives and checksums; for a synthetic replica, synthesise it first.", ("dataset",)),
    "download": ("Download (resumable), verify and unpack one archive of a corpus.", ("dataset", "archive")),
    "prepare": ("Write the lhotse manifests (recordings, supervisions, cuts) of one split.", ("dataset", "split")),
    "features": ("Compute the 80-dim fbank of one split, shared by every model.", ("dataset", "split")),
    "tokenizer": ("Train the sentencepiece tokenizer of a task's targets.", ("dataset", "task")),
    "lm": ("Train the language model of a dataset (shallow fusion in ASR decoding).", ("dataset",)),
    "train": ("Train one experiment with SpeechBrain (resumes after a kill).", ("experiment",)),
    "decode": ("Decode every test split with a trained experiment.", ("experiment",)),
    "score": ("Score an experiment's hypotheses with its task's metrics.", ("experiment",)),
    "aggregate": ("Gather a task's scores and training costs on a dataset into reports/tables/.", ("task", "dataset")),
    "bench": ("Efficiency benchmark: time, real-time factor and peak memory against length.", ()),
    "describe": ("Print every configured model's parameter count by module.", ()),
    "dvc-yaml": ("Generate dvc.yaml from params.yaml (the same plan as the Snakefile).", ()),
}
EXTRA_ARGUMENTS = {"bench", "describe", "dvc-yaml"}  # modules that define add_arguments(parser)
NEEDS_CORE = set(STAGES) - {"dvc-yaml"}  # commands that run torch/torchaudio/speechbrain code


def stage_module(name: str) -> str:
    return f"summarymixing.stages.{name.replace('-', '_')}"


def requested_stage(argv: list[str]) -> str | None:
    """The stage named on the command line, if any (the first word that is not an option or its value)."""
    words = iter(argv)
    for word in words:
        if word == "--params":
            next(words, None)
        elif not word.startswith("-"):
            return word if word in STAGES else None
    return None


def build_parser(stage: str | None = None) -> argparse.ArgumentParser:
    """The command's parser; only ``stage``'s own options module is imported, so that a command loads
    no other stage's code (the DAG tracks each command's import closure)."""
    parser = argparse.ArgumentParser(prog="summarymixing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default=None, help="params file (default: $SUMMARYMIXING_PARAMS or ./params.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="<stage>")
    for name, (help_text, required) in STAGES.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        for argument in required:
            p.add_argument(f"--{argument}", required=True, help=ARGUMENTS[argument])
        if name in EXTRA_ARGUMENTS and name == stage:
            importlib.import_module(stage_module(name)).add_arguments(p)
    return parser


def record_imports() -> None:
    """With ``$SUMMARYMIXING_RECORD_IMPORTS`` set, append the package modules this command loaded (tests
    check them against the code dependencies the DAG declares)."""
    target = os.environ.get("SUMMARYMIXING_RECORD_IMPORTS")
    if not target:
        return
    modules = sorted(name for name in sys.modules if name == "summarymixing" or name.startswith("summarymixing."))
    with open(target, "a", encoding="utf-8") as f:
        f.write(json.dumps({"argv": sys.argv[1:], "modules": modules}) + "\n")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(requested_stage(argv)).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    from .environment import BrokenEnvironment, require_core

    if args.stage in NEEDS_CORE:
        try:
            # before anything else: a torch/torchaudio mismatch would otherwise surface as a traceback
            # from deep inside SpeechBrain's imports
            require_core()
        except BrokenEnvironment as e:
            print(f"summarymixing: {e}", file=sys.stderr)
            return 1
    module = importlib.import_module(stage_module(args.stage))
    try:
        module.run(args)
    except (OSError, ValueError) as e:
        # Bad input: one clear line naming the file and the problem (the traceback with --verbose).
        logging.getLogger("summarymixing").error("%s failed: %s", args.stage, e)
        if args.verbose:
            raise
        return 1
    finally:
        record_imports()
    return 0


if __name__ == "__main__":
    sys.exit(main())

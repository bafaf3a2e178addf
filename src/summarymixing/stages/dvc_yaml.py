"""``summarymixing dvc-yaml [--check]``: write ``dvc.yaml`` from params.yaml.

The stages are ``summarymixing.dag.plan``'s jobs, the very list the Snakefile's rules look up, so both
orchestrators run the same commands with the same dependencies, params and outputs. ``--check``
writes nothing and fails if the committed ``dvc.yaml`` differs from what params.yaml gives.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..config import load_params
from ..dag import dvc_yaml, plan
from ..io import write_text

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default="dvc.yaml", help="where to write (default: dvc.yaml)")
    parser.add_argument("--check", action="store_true", help="fail if the file is not what params.yaml gives")


def run(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    text = dvc_yaml(plan(params))
    output = Path(args.output)
    if args.check:
        current = output.read_text(encoding="utf-8") if output.is_file() else ""
        if current != text:
            raise ValueError(f"{output} is stale: it does not match params.yaml; run `summarymixing dvc-yaml`")
        log.info("%s is up to date", output)
        return
    write_text(output, text)
    log.info("wrote %s", output)

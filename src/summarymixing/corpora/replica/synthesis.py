"""Run synthesis work in fresh processes, a few at a time, for byte-identical replicas.

espeak-ng keeps global state that carries over from one utterance to the next (see ``espeak``), so a
replica is deterministic only if every group of utterances (a LibriSpeech chapter, a batch of clips)
is synthesised by a fresh process, in a fixed order. ``run_in_fresh_processes`` does that: each group
runs in its own process, forked from a forkserver that has the heavy modules preloaded, at most
``workers`` at a time; results come back in the order of the groups, whatever the worker count.

Unlike ``multiprocessing.Pool(maxtasksperchild=1)``, a worker that dies (a crash in the C library) is
reported instead of hanging the run; and ``ProcessPoolExecutor(max_tasks_per_child=1)`` deadlocks on
Python 3.11 (CPython gh-115634).
"""

from __future__ import annotations

import collections
import multiprocessing
import traceback
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
PRELOAD = ["__main__", "summarymixing.corpora.replica.espeak", "scipy.signal", "soundfile"]


def _group_process(result: Connection, work: Callable[[Path, Any], Any], staging: Path, group: Any) -> None:
    """Body of a group's process: send ``("ok", work(staging, group))`` or ``("error", traceback)``."""
    try:
        result.send(("ok", work(staging, group)))
    except BaseException:
        result.send(("error", traceback.format_exc()))
    finally:
        result.close()


def run_in_fresh_processes(
    groups: Sequence[Sequence[T]],
    work: Callable[[Path, Sequence[T]], Any],
    staging: Path,
    workers: int,
    describe: Callable[[Sequence[T]], str],
    preload: Sequence[str] = (),
) -> list[Any]:
    """``[work(staging, group) for group in groups]``, each call in a fresh process.

    ``work`` must be a module-level function (it is pickled by reference); ``describe(group)`` names a
    group in errors; ``preload`` lists modules the forkserver imports once (``work``'s module).
    Raises ``RuntimeError`` naming the group if a process fails or dies.
    """
    start_method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload([*PRELOAD, *preload])

    results: list[Any] = [None] * len(groups)
    waiting = collections.deque(enumerate(groups))
    running: dict[Connection, tuple[int, Any]] = {}
    try:
        with tqdm(total=sum(len(g) for g in groups), unit="utt", desc="synthesising", smoothing=0.1) as progress:
            while waiting or running:
                while waiting and len(running) < workers:
                    index, group = waiting.popleft()
                    receiver, sender = context.Pipe(duplex=False)
                    process = context.Process(target=_group_process, args=(sender, work, staging, group), daemon=True)
                    process.start()
                    sender.close()
                    running[receiver] = (index, process)
                for receiver in wait(list(running)):
                    index, process = running.pop(receiver)
                    try:
                        status, payload = receiver.recv()
                    except EOFError:
                        process.join()
                        raise RuntimeError(f"synthesis of {describe(groups[index])} died (exit code {process.exitcode})") from None
                    finally:
                        receiver.close()
                    process.join()
                    if status != "ok":
                        raise RuntimeError(f"synthesis of {describe(groups[index])} failed:\n{payload}")
                    results[index] = payload
                    progress.update(len(groups[index]))
    finally:
        for _, process in running.values():
            process.terminate()
            process.join()
    return results

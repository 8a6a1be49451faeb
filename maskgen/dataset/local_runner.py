"""The local runner: the per-image job in this process, or in a pool of worker processes.

Workers are forked from a ``forkserver`` process (``spawn`` where there is none) that has
imported the heavy modules and loaded the dlib models once, so they start at once and share the
models' memory. At most ``4 × workers`` sources are in flight.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver
from typing import Iterator

import cv2

from maskgen.dataset import worker

_WARM_ENV = "MASKGEN_FORKSERVER_MODELS"


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def prestart_workers(workers: int | None = None, detector: str = "hog", augment=None) -> None:
    """Start loading the worker processes' modules and models now, in the background.

    Optional: :func:`maskgen.build_dataset` does it itself; a caller with slow work of its own to
    do first (imports, option checks) can call this earlier to overlap the two. ``augment``: the
    run's augmentation (``'none'`` leaves imgaug unloaded).
    """
    workers = default_workers() if workers is None else int(workers)
    if workers > 1:
        mp_context(str(detector), augment)


def mp_context(detector: str, augment=None):
    """The multiprocessing context for workers: forkserver (started now, see below), else spawn."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    _start_forkserver(ctx, detector, augment)
    return ctx


def preload_modules(augment=None) -> list[str]:
    """The modules a worker needs, imported once by the fork server (imgaug's pipeline unless ``'none'``)."""
    modules = ["maskgen.detect.faces", "maskgen.mask.masker", "maskgen.dataset.build", "maskgen.dataset.local_runner"]
    return modules if augment == "none" else modules[:2] + ["maskgen.augment.pipeline"] + modules[2:]


def _start_forkserver(ctx, detector: str, augment=None) -> None:
    """Start the fork server with the heavy modules and the dlib models already loaded.

    Workers forked from it share the imports and the models (copy-on-write) instead of each
    loading them: start-up costs about what one process costs. A fork server already running
    (an earlier call in this process) is reused as it is.
    """
    ctx.set_forkserver_preload(preload_modules(augment))
    server_env = {_WARM_ENV: detector,  # read by this module when the fork server imports it
                  "PYTHONPATH": os.pathsep.join(_import_path())}
    saved = {key: os.environ.get(key) for key in server_env}
    os.environ.update(server_env)
    try:
        forkserver.ensure_running()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _import_path() -> list[str]:
    """This process's ``sys.path``, for the fork server to import from.

    Python 3.11's fork server is started with the interpreter's default path and ignores the one it is
    sent, so a process whose ``sys.path`` differs (a source tree put first, as the benchmarks do to run
    another checkout) would get workers that import another copy of maskgen: other code, other bytes.
    """
    return [os.path.abspath(entry) if entry else os.getcwd() for entry in sys.path]


def pool_results(tasks: Iterator, workers: int, state: dict) -> Iterator[dict]:
    """Reports as sources finish; at most ``4 × workers`` tasks in flight (flat memory).

    Completion order only affects the order of messages: everything written is keyed by source.
    """
    if workers <= 1:
        threads = cv2.getNumThreads()
        worker.single_threaded()
        try:
            worker.init_worker(state, in_process=True)
            for task in tasks:
                yield worker.run(task)
        finally:
            cv2.setNumThreads(threads)
        return
    ctx = mp_context(state["config"]["detector"], state["config"]["augment"])
    window = 4 * workers
    executor = ProcessPoolExecutor(workers, mp_context=ctx, initializer=worker.init_worker, initargs=(state,))
    futures: dict = {}

    def finished(block_until: int):
        while len(futures) > block_until:
            done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for f in sorted(done, key=lambda f: futures[f]):
                source = futures.pop(f)
                try:
                    yield f.result()
                except BrokenProcessPool:
                    raise RuntimeError(
                        f"a worker process died while processing {source} or another image in flight: "
                        "out of memory (try fewer workers or a lower max_pixels), or, when build_dataset "
                        "is called from a script, a missing `if __name__ == '__main__':` guard (worker "
                        "processes import the main script); finished images are kept: rerun to resume"
                    ) from None

    try:
        for task in tasks:
            futures[executor.submit(worker.run, task)] = task[0]
            yield from finished(window - 1)
        yield from finished(0)
    except BaseException:
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        executor.shutdown(wait=True)


if os.environ.get(_WARM_ENV):  # imported by the fork server: load the models
    worker.load_models(os.environ[_WARM_ENV])

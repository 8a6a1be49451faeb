"""The Dask runner: the per-image job as tasks on a ``dask.distributed`` cluster.

Imported only for ``runner="dask"`` (``maskgen augment --runner dask``): ``import maskgen`` and
local runs never import dask. Each task is :func:`run_task` on one source, the same job as a
local worker's (:func:`maskgen.dataset.job.process`), writing the same images and the same part
file; the client merges the part files with the same code as a local run, so the result is
byte-identical.

* **Bounded streaming.** Sources are submitted in batches as results come back: at most
  ``4 ×`` the cluster's worker threads are in flight, so the scheduler never holds millions of
  futures and the client's memory stays flat.
* **Worker loss.** A task whose worker dies is rescheduled by the scheduler on another worker
  (the nanny of a local cluster starts a replacement); a task that raised (an I/O error on the
  shared file system, say) is retried ``retries`` times. Finished sources have their part
  files, so a lost worker costs only the images it had in hand. A source whose task took down
  ``distributed.scheduler.allowed-failures`` workers is recorded as an ``error`` skip, which a
  rerun tries again.
* **Models** are loaded once per worker process, by its first task (see :func:`run_task`).
"""
from __future__ import annotations

import importlib.util
import itertools
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable, Iterator

try:
    import distributed
    from distributed import Client, LocalCluster, as_completed
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("the dask runner needs dask.distributed: pip install 'maskgen[dask]' "
                      "(or 'dask[distributed]')") from exc

from maskgen import __version__
from maskgen.dataset import worker
from maskgen.dataset.job import process
from maskgen.dataset.layout import DatasetError
from maskgen.dataset.parts import write_part
from maskgen.detect.model_files import CNN_DETECTOR, LANDMARKS_68, model_path

__all__ = ["DaskRunner", "run_task", "check_worker"]

_STATES: dict[str, dict] = {}  # prepared states by key (one per run) in a dask worker process
_STATES_LOCK = threading.Lock()


def run_task(task: tuple[str, str | None, str], state: dict) -> dict:
    """A task on a dask worker: :func:`~maskgen.dataset.job.process` with ``state`` prepared once per
    worker process (and the models loaded then).

    An exception here (an I/O error writing the part file on a shared file system, say) fails
    the task, and dask retries it; everything else is recorded in the part file as for a local run.
    """
    key = state.get("key") or worker.state_key(state)
    st = _STATES.get(key)
    if st is None:
        with _STATES_LOCK:
            st = _STATES.get(key)
            if st is None:
                worker.single_threaded()
                st = worker.prepare_state(state)
                worker.load_models(st["config"].detector)
                if len(_STATES) >= 8:
                    _STATES.clear()
                _STATES[key] = st
    return process(task, st)


def check_worker(src_root: str, out: str, version: str, detector: str = "hog") -> str | None:
    """Run on each dask worker before a run: None, or what this worker lacks."""
    problems = []
    if __version__ != version:
        problems.append(f"maskgen {__version__} installed, the client has {version}")
    if not os.path.exists(src_root):
        problems.append(f"SRC {src_root} not found (SRC and OUT must be on a file system shared at the same paths)")
    if not os.path.isdir(out):
        problems.append(f"OUT {out} not found (SRC and OUT must be on a file system shared at the same paths)")
    try:
        model_path(LANDMARKS_68)
        if detector == "cnn":
            model_path(CNN_DETECTOR)
    except Exception as e:
        problems.append(f"dlib models: {e}")
    return "; ".join(problems) or None


class DaskRunner:
    """A connection to a dask cluster for one run (a context manager).

    ``scheduler``: None for a local cluster of ``workers`` processes with one thread each; an
    address (``tcp://host:8786``) to connect to a running scheduler; or a
    :class:`distributed.Client` (left open at the end).
    """

    def __init__(self, workers: int = 2, scheduler=None, log: Callable[[str], None] = print, retries: int = 3):
        self.workers = max(1, int(workers))
        self.scheduler = scheduler
        self.log = log
        self.retries = int(retries)
        self.cluster = None
        self.client = None
        self._owned = False
        self._slots = (0, 0.0)

    # ------------------------------------------------------------------ connection

    def __enter__(self) -> "DaskRunner":
        scheduler = self.scheduler
        if scheduler is None:
            # the scheduler's HTTP server (and dashboard, with bokeh) on a free local port
            self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                        dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
            self.client = Client(self.cluster, set_as_default=False)
            self._owned = True
            if importlib.util.find_spec("bokeh") is not None:
                self.log(f"dask dashboard: {self.client.dashboard_link}")
        elif isinstance(scheduler, str):
            try:
                # waits up to distributed.comm.timeouts.connect (dask config, default 30 s)
                self.client = Client(scheduler, set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise DatasetError(f"cannot reach the dask scheduler at {scheduler}: {e}") from None
            self._owned = True
        else:
            self.client = scheduler
        try:
            if not self.client.nthreads():
                self.log(f"waiting for a dask worker to join {self.address} …")
                self.client.wait_for_workers(1)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._owned and self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    @property
    def address(self) -> str:
        if self.client is not None:
            try:
                return self.client.scheduler.address
            except AttributeError:
                pass
        return str(self.scheduler or "a local cluster")

    @property
    def worker_count(self) -> int:
        """Worker processes (threads) now in the cluster."""
        return max(1, sum(self.client.nthreads().values()))

    def slots(self) -> int:
        """Worker threads in the cluster (asked of the scheduler at most every 5 s)."""
        n, when = self._slots
        now = time.monotonic()
        if now - when > 5:
            n = sum(self.client.nthreads().values())
            self._slots = (n, now)
        return max(1, n)

    def check_workers(self, state: dict) -> None:
        """Every worker has this maskgen version, the models, and SRC and OUT at the same paths."""
        found = self.client.run(check_worker, state["src_root"], state["out"], __version__,
                                state["config"]["detector"])
        problems = {w: p for w, p in found.items() if p}
        if problems:
            raise DatasetError("dask workers cannot run this job (each needs the same maskgen version and "
                               "models, and SRC and OUT on a shared file system at the same paths):\n"
                               + "\n".join(f"  {w}: {p}" for w, p in sorted(problems.items())))

    # ------------------------------------------------------------------ the run

    def results(self, tasks: Iterable[tuple], state: dict) -> Iterator[dict]:
        """Reports as sources finish (as :func:`maskgen.dataset.local_runner.pool_results`)."""
        state = dict(state, key=worker.state_key(state))
        self.check_workers(state)
        client = self.client
        todo = iter(tasks)
        token = uuid.uuid4().hex[:8]
        counter = itertools.count()
        in_flight: dict = {}
        done = as_completed(loop=client.loop)

        def submit(n: int) -> None:
            batch = list(itertools.islice(todo, max(0, n)))
            if not batch:
                return
            keys = [f"maskgen-augment-{token}-{next(counter)}" for _ in batch]
            futures = client.map(run_task, batch, state=state, key=keys, retries=self.retries, pure=False)
            for future, task in zip(futures, batch):
                in_flight[future] = task
            done.update(futures)

        try:
            submit(4 * self.slots())
            for future in done:
                task = in_flight.pop(future)
                report = self._report(future, task, state)
                del future  # the scheduler forgets a task once no client holds its future
                yield report
                window = 4 * self.slots()
                if len(in_flight) <= window - max(1, window // 4):
                    submit(window - len(in_flight))
        finally:
            if in_flight:  # interrupted: stop what has not started (finished sources are recorded)
                try:
                    client.cancel(list(in_flight), force=True)
                except Exception:
                    pass

    def _report(self, future, task: tuple, state: dict) -> dict:
        if future.status == "finished":
            return future.result()
        source = task[0]
        error = future.exception() if future.status == "error" else None
        if isinstance(error, distributed.KilledWorker):
            # the source took down several workers (out of memory?): an error skip a rerun retries
            skip = [source, "", "", "error", "internal error: the dask workers processing this image died "
                                             f"{error.allowed_failures + 1} times (out of memory?)"]
            tmp = Path(state["tmp"])
            tmp.mkdir(parents=True, exist_ok=True)
            write_part(Path(state["parts"]), source, True, [], [skip], tmp_dir=tmp)
            return {"source": source, "labels": {}, "skips": [skip], "timings": {}, "seconds": 0.0, "retry": True}
        raise RuntimeError(
            f"the dask task for {source} failed after {self.retries} retries: "
            f"{type(error).__name__ if error else future.status}: {error} (workers need the same maskgen "
            "version and models, and SRC and OUT on a shared file system at the same paths); "
            "finished images are kept: rerun to resume") from error

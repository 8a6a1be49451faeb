"""A worker process's side of a run, shared by both runners: its state, its models, its jobs.

A run's state (``src_root``, ``out``, ``parts``, ``tmp``, ``config``) travels to workers as a
small dict of plain values; :func:`prepare_state` turns it into what :func:`maskgen.dataset.job.process`
needs, once per worker process. A local worker is prepared by the pool's initializer
(:func:`init_worker`) and runs :func:`run`; a dask worker keeps its prepared states by key
(:mod:`maskgen.dataset.dask_runner`).
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import time
from pathlib import Path

import cv2

from maskgen.dataset.config import DatasetConfig
from maskgen.dataset.job import process

_STATE: dict | None = None  # the state of this process (local runner)


def state_key(state: dict) -> str:
    """A key naming a run's state (its content), so a dask worker prepares it once."""
    text = json.dumps({k: v for k, v in state.items() if k != "key"}, sort_keys=True, default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def prepare_state(state: dict) -> dict:
    """The state with its config as a :class:`~maskgen.dataset.config.DatasetConfig` and this process's
    own temporary folder (a per-host, per-process subfolder: file names never collide on a
    shared file system, whatever the process ids on other machines)."""
    st = dict(state)
    st["config"] = DatasetConfig(**state["config"])
    token = hashlib.sha1(f"{_hostname()}/{os.getpid()}/{time.time_ns()}".encode()).hexdigest()[:12]
    st["tmp"] = str(Path(state["tmp"]) / f"w{os.getpid()}-{token}")
    return st


def _hostname() -> str:
    try:
        return socket.gethostname()
    except OSError:
        return "localhost"


def single_threaded() -> None:
    """One OpenCV thread per worker: the workers are the parallelism."""
    cv2.setNumThreads(1)


def load_models(detector: str) -> None:
    """Load the landmark model and ``detector``'s dlib model now (once per process), not on the first image."""
    try:
        from maskgen.detect import faces  # dlib: heavy

        faces.load_models(detector, with_torch=False)  # torch's MTCNN loads in each worker itself
    except Exception:
        pass  # the first image reports the problem with its file name


def init_worker(state: dict, in_process: bool = False) -> None:
    """Prepare this process for jobs (pool initializer; ``in_process`` for ``workers=1``)."""
    global _STATE
    _STATE = prepare_state(state)
    if not in_process:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
        single_threaded()
        load_models(_STATE["config"].detector)


def run(task: tuple[str, str | None, str]) -> dict:
    """One job with this process's state (set by :func:`init_worker`)."""
    return process(task, _STATE)

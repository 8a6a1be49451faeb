"""From a folder of face photos to a labelled masked-face dataset: :func:`build_dataset`.

Per source image: read → find faces → mask (``--variants`` times) → augment → (crop) → write,
plus unmasked negatives augmented the same way. See ``docs/dataset.md`` for the layout, the
manifest columns, splits, determinism and resume, and ``docs/scale.md`` for clusters and shards.

The data flow, one module per step:

* :mod:`maskgen.dataset.config` checks the settings (:class:`~maskgen.dataset.config.DatasetConfig`);
* :mod:`maskgen.dataset.sources` walks SRC and gives each source its seed and split, and
  :mod:`maskgen.dataset.shards` its shard;
* :mod:`maskgen.dataset.layout` checks OUT (``settings.json``, the lock, shard folders);
* :mod:`maskgen.dataset.job` is the per-image job, run by a runner: :mod:`maskgen.dataset.local_runner`
  (this process or local worker processes) or :mod:`maskgen.dataset.dask_runner` (a dask cluster,
  imported only when asked), both through :mod:`maskgen.dataset.worker`;
* :mod:`maskgen.dataset.parts` keeps the part files (the record of a run in progress, what resume
  reads) and merges them in source order into the manifest (:mod:`maskgen.dataset.manifest`);
  :mod:`maskgen.dataset.merge` joins array-job shards; :mod:`maskgen.dataset.summary` tells the result.

How the guarantees are kept:

* **Determinism.** Every random choice for a source comes from generators seeded by the
  source's own seed (a hash of the run seed and the source's path relative to SRC) and a fixed
  purpose key, never from processing order; so any runner, worker count or sharding gives the
  same bytes.
* **Streaming.** SRC is walked lazily in sorted order; a bounded number of sources is in
  flight; per-source results go to small part files, and the final manifest is a streaming
  merge. Memory does not grow with the number of images.
* **Resume.** A source is finished when its part file (``OUT/.parts/``) exists, or when it is
  listed in ``metadata.csv`` / ``skipped.csv``. Images are written atomically before the part
  file, so a killed run leaves no half-finished source behind, and a rerun ends with the same
  bytes as an uninterrupted run.
"""
from __future__ import annotations

import itertools
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Iterator

from tqdm import tqdm

from maskgen.atomic import write_json_atomic
from maskgen.dataset import manifest as mf
from maskgen.dataset.config import RUN_OPTION, RUNNERS, DatasetConfig
from maskgen.dataset.layout import DatasetError, Target, check, check_paths, locked, prepare, settings_record
from maskgen.dataset.local_runner import default_workers, mp_context, pool_results
from maskgen.dataset.parts import PARTS_DIR, combine, manifest_records, part_records, pending, write_manifest
from maskgen.dataset.shards import SHARD_FILE, marker, parse_shard, shard_name, walk_shard
from maskgen.dataset.summary import Summary
from maskgen.images import SUPPORTED_EXTENSIONS

__all__ = ["DatasetConfig", "DatasetError", "Summary", "build_dataset", "RUNNERS", "PARTS_DIR"]


def _message(report_skip) -> str:
    source, face, variant, _, reason = report_skip
    where = source
    if face:
        where += f" (face {face}" + (f", variant {variant}" if variant else "") + ")"
    return f"skipped {where}: {reason}"


def _merge(src: Path, target: Target, summary: Summary) -> None:
    """Merge the manifest already in the target and the part files into the target's manifest.

    A streaming merge by source order: a source's part file wins over its old rows. A whole run
    also writes each split's ``metadata.csv``; a shard writes only its own partial manifest.
    """
    records = combine([part_records(src, target.parts, target.shard)], [manifest_records(target.root)])
    summary.set_dataset(write_manifest(target.root, records, tmp_dir=target.tmp, split_files=target.shard is None))


def _runner_results(runner: str, tasks, workers: int, total: int, scheduler, state: dict, summary: Summary,
                    log) -> Iterator[dict]:
    """The reports of the chosen runner; sets ``summary.workers`` to the workers it uses."""
    if runner == "local" or total == 0:
        summary.workers = max(1, min(workers, total))  # no idle workers for a short run
        yield from pool_results(tasks, summary.workers, state)
        return
    from maskgen.dataset.dask_runner import DaskRunner  # dask: imported only when asked

    with DaskRunner(max(1, min(workers, total)), scheduler, log=log) as cluster:
        summary.workers = cluster.worker_count
        yield from cluster.results(tasks, state)


def _choose_runner(runner: str | None, engine: str | None, scheduler) -> str:
    """The runner asked for (``engine`` is the old name of ``runner``); DatasetError if unknown."""
    if engine is not None:
        warnings.warn("build_dataset(engine=...) is deprecated: use runner=", DeprecationWarning, stacklevel=3)
        if runner is not None and str(engine).lower() != str(runner).lower():
            raise DatasetError(f"runner={runner!r} and engine={engine!r} disagree (engine is the old name of runner)")
    name = "engine" if runner is None and engine is not None else "runner"
    value = str(runner if runner is not None else engine if engine is not None else RUN_OPTION["runner"].default)
    value = value.lower()
    if value not in RUNNERS:
        old = " (engine= is the old name of runner=)" if name == "engine" else ""
        raise DatasetError(f"unknown {name} {value!r}{old}; choose from {', '.join(RUNNERS)}")
    if scheduler is not None and value != "dask":
        raise DatasetError("a scheduler address is for the dask runner (runner='dask', --runner dask; "
                           "the dask engine of earlier versions)")
    return value


def _run_options(workers, limit, shard) -> tuple[int, int | None, tuple[int, int] | None]:
    """``workers`` (default: all cores), ``limit`` and ``shard`` checked; DatasetError if one is wrong."""
    try:
        shard = parse_shard(shard)
        workers = RUN_OPTION["workers"].check(workers)
        limit = RUN_OPTION["limit"].check(limit)
    except ValueError as e:
        raise DatasetError(str(e)) from None
    return (default_workers() if workers is None else workers), limit, shard


def _checked_config(config: DatasetConfig | None, runner: str, workers: int) -> DatasetConfig:
    if runner == "local" and workers > 1:  # the fork server loads modules and models while this process gets ready
        mp_context(str((config or DatasetConfig()).detector), (config or DatasetConfig()).augment)
    try:
        cfg = (config or DatasetConfig()).validated()
    except ValueError as e:
        raise DatasetError(str(e)) from None
    if runner == "dask":
        try:
            from maskgen.dataset import dask_runner  # noqa: F401  (fails early when dask is not installed)
        except ImportError as e:
            raise DatasetError(str(e)) from None
    return cfg


def _stderr_log(line: str) -> None:
    tqdm.write(line, file=sys.stderr)


def _process(runner: str, rsrc: Path, target: Target, cfg: DatasetConfig, summary: Summary, run: dict) -> int:
    """Run the pending sources (at most ``run['limit']``) through the runner; returns how many were pending."""
    shard, log = target.shard, run["log"]
    candidates = sum(1 for _ in walk_shard(rsrc, shard))
    pending_n = sum(1 for _ in pending(walk_shard(rsrc, shard), target.parts, target.manifests))
    summary.already_done = candidates - pending_n
    total = pending_n if run["limit"] is None else min(pending_n, run["limit"])
    state = {"src_root": str(rsrc.parent if rsrc.is_file() else rsrc), "out": str(target.out),
             "parts": str(target.parts), "tmp": str(target.tmp), "config": cfg.to_dict()}
    tasks = itertools.islice(pending(walk_shard(rsrc, shard), target.parts, target.manifests), total)
    bar = tqdm(total=total, unit="img", desc="maskgen augment", file=sys.stderr, disable=not run["progress"],
               dynamic_ncols=True, mininterval=0.5, smoothing=0.05)
    try:
        for report in _runner_results(runner, tasks, run["workers"], total, run["scheduler"], state, summary, log):
            summary.add_report(report)
            if run["messages"]:
                for s in report["skips"]:
                    log(_message(s))
            bar.update(1)
    except KeyboardInterrupt:
        summary.interrupted = True
        raise
    finally:
        bar.close()
        summary.wall_seconds = time.perf_counter() - run["t_start"]
    return pending_n


def _finish(rsrc: Path, target: Target, cfg: DatasetConfig, summary: Summary, pending_n: int) -> None:
    """The manifest, then COCO files (a whole run) or the shard's marker, then the part files go."""
    _merge(rsrc, target, summary)
    if target.shard is None:
        if cfg.crop == "full":
            summary.coco = mf.write_coco(target.out, cfg.split_names, tmp_dir=target.tmp)
    else:
        left = pending_n - summary.processed
        write_json_atomic(target.root / SHARD_FILE, marker(target.shard, left, summary.sources_total), target.tmp)
    shutil.rmtree(target.parts, ignore_errors=True)
    shutil.rmtree(target.tmp, ignore_errors=True)


def build_dataset(src, out, config: DatasetConfig | None = None, workers: int | None = None,
                  progress: bool = True, limit: int | None = None, overwrite: bool = False,
                  messages: bool = True, log: Callable[[str], None] | None = None, runner: str | None = None,
                  scheduler=None, shard=None, engine: str | None = None) -> Summary:
    """Build (or resume) a labelled masked-face dataset from the photos under ``src`` into ``out``.

    ``workers`` processes (default: all cores; 1 runs in this process). ``limit`` processes at
    most that many new sources (a trial run; a later run carries on). ``overwrite`` deletes a
    previous dataset in ``out`` first; without it, finished sources are skipped and OUT's
    settings must match ``config``. ``progress`` shows a tqdm bar on stderr; ``messages``
    prints one line per skip (through ``log``, default stderr). Raises :class:`DatasetError`
    for usage problems; a KeyboardInterrupt leaves OUT resumable.

    ``runner``: ``'local'`` (the default: this machine's cores) or ``'dask'`` (tasks on a
    dask.distributed cluster: a local cluster of ``workers`` processes, or the one whose scheduler
    is ``scheduler``, an address or a ``distributed.Client``). Both write the same bytes.
    ``engine`` is the old name of ``runner``, still accepted.

    ``shard``: ``'I/N'`` (or ``(I, N)``) processes only the sources of shard I of N (a hash of
    each source's path) and records them in ``OUT/shards/I-of-N/`` without the final merge;
    :func:`maskgen.dataset.merge.merge_shards` (``maskgen merge OUT``) joins the N shards into the
    dataset a whole run would have written.
    """
    t_start = time.perf_counter()
    runner = _choose_runner(runner, engine, scheduler)
    workers, limit, shard = _run_options(workers, limit, shard)
    src, out = Path(src), Path(out)
    rsrc, rout = check_paths(src, out)
    cfg = _checked_config(config, runner, workers)
    if next(iter(walk_shard(rsrc)), None) is None and not (rout / mf.METADATA).is_file():
        raise DatasetError(f"no images found in {src} (extensions: {' '.join(SUPPORTED_EXTENSIONS)})")
    target = Target(rout, shard)
    record = settings_record(cfg, rsrc)
    check(target, record, overwrite)  # before anything is written in OUT
    out.mkdir(parents=True, exist_ok=True)
    summary = Summary(out=out, workers=workers, runner=runner, shard=shard)
    run = {"t_start": t_start, "workers": workers, "limit": limit, "scheduler": scheduler, "progress": progress,
           "messages": messages, "log": log or _stderr_log}
    with locked(target.root, str(out) if shard is None else f"shard {shard_name(shard)} of {out}"):
        prepare(target, record, overwrite)
        pending_n = _process(runner, rsrc, target, cfg, summary, run)
        _finish(rsrc, target, cfg, summary, pending_n)
    summary.wall_seconds = time.perf_counter() - t_start
    return summary

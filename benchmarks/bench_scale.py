"""Benchmark and identity check of the runners (local, dask) and shards on a folder of real photos.

Runs ``maskgen augment`` on the same photos with the same seed as

1. a local run with 1 worker (the reference),
2. a local run with 2 worker processes,
3. ``--runner dask`` on a local cluster of 2 worker processes, started by the run, and on one
   started and warmed up (imports, models) before timing,
4. 3 array-job shards (``--shard 0/3``, ``1/3``, ``2/3``) joined by ``maskgen merge``,
5. ``--runner dask`` on a 2-worker cluster whose busy worker is killed (SIGKILL) midway,

and prints images/s for 1-3 and whether 2-5 wrote byte-identical images and manifests
(``settings.json``, ``metadata.csv``, ``skipped.csv``, the split manifests and COCO files) to 1.

Run 1 works in this process, whose imports and models are loaded before timing; runs 2 and 3
include starting their worker processes (the fork server, once per benchmark process, or the
dask cluster, every run, but for the "already running" one). ``--repeat R`` interleaves R rounds
of runs 1-3 (so that drifting load from other work hits them alike) and reports medians.

    .venv/bin/python benchmarks/bench_scale.py                 # ../shared/data/unmasked_faces
    .venv/bin/python benchmarks/bench_scale.py --limit 30 --skip kill
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dataset import DEFAULT_SRC, cpu_headroom, digest, limited_src  # noqa: E402

RUNS = ("local1", "local2", "dask2", "shards3", "kill")  # dask2: cold and warm cluster


def count_parts(out: Path) -> int:
    parts = out / ".parts"
    return sum(1 for _ in parts.rglob("*.json")) if parts.is_dir() else 0


def _warm_worker(detector: str) -> int:
    """Import what the per-image job uses and load the models (what the local fork server does)."""
    import importlib

    from maskgen.dataset import worker

    for name in ("maskgen.detect.faces", "maskgen.mask.masker", "maskgen.augment", "maskgen.dataset.build"):
        importlib.import_module(name)
    worker.load_models(detector)
    return os.getpid()


def warm_cluster(workers: int, detector: str, stack) -> str:
    """A local cluster started and warmed up before timing; its scheduler's address."""
    from distributed import Client, LocalCluster

    cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                               dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR))
    client = stack.enter_context(Client(cluster, set_as_default=False))
    client.run(_warm_worker, detector)
    return cluster.scheduler_address


def killed_run(src: Path, out: Path, config, workers: int, at: float) -> tuple[object, tuple[int, int] | None]:
    """A dask run on its own local cluster; the first busy worker is killed once ``at`` of the sources are done."""
    from distributed import Client, LocalCluster

    from maskgen import build_dataset
    from maskgen.dataset.sources import walk_sources

    total = sum(1 for _ in walk_sources(src))
    killed = []
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster, set_as_default=False) as client:
        stop = threading.Event()

        def killer():
            while not stop.is_set():
                done = count_parts(out)
                if done >= at * total:
                    busy = [w for w, keys in client.processing().items() if keys]
                    if busy:
                        pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                        os.kill(pid, signal.SIGKILL)
                        killed.append((done, total))
                        return
                time.sleep(0.05)

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        try:
            summary = build_dataset(src, out, config, runner="dask", scheduler=cluster.scheduler_address,
                                    progress=False, messages=False)
        finally:
            stop.set()
            thread.join(10)
    return summary, (killed[0] if killed else None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC, help="folder of photos [%(default)s]")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="workers of the parallel runs [%(default)s]")
    ap.add_argument("--skip", default="", help=f"comma list of runs to leave out ({', '.join(RUNS[1:])})")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the timed runs (1-3) this many times and take the median [%(default)s]")
    ap.add_argument("--keep", type=Path, default=None, help="keep the outputs in this folder")
    args = ap.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if not args.src.is_dir():
        print(f"no photos at {args.src} (set MASKGEN_SHARED_DATA or pass --src)", file=sys.stderr)
        return 2
    from maskgen import DatasetConfig, build_dataset
    from maskgen.dataset.merge import merge_shards
    from maskgen.dataset.sources import walk_sources

    config = DatasetConfig(seed=args.seed)
    w = args.workers
    tmp = Path(tempfile.mkdtemp(prefix="maskgen-bench-scale-"))
    base = args.keep or tmp
    quiet = dict(progress=False, messages=False)
    ok = True
    stack = contextlib.ExitStack()
    try:
        src = limited_src(args.src, args.limit, tmp)
        n = sum(1 for _ in walk_sources(src))
        print(f"source: {args.src} ({n} images), cpu cores available: {len(os.sched_getaffinity(0))}, "
              f"load average {os.getloadavg()[0]:.1f}")

        def fresh(name: str) -> Path:
            out = base / name
            if out.exists():
                shutil.rmtree(out)
            return out

        from maskgen import augment  # noqa: F401  (the 1-worker run works in this process:
        from maskgen.mask import masker  # noqa: F401
        from maskgen.dataset import worker
        worker.load_models(config.detector)        # its imports and models are loaded before timing)
        timed = [("local1", "local, 1 worker:", dict(workers=1))]
        if "local2" not in skip:
            timed.append(("local2", f"local, {w} workers:", dict(workers=w)))
        if "dask2" not in skip:
            timed.append(("dask2", f"dask, local cluster of {w} workers:", dict(runner="dask", workers=w)))
            address = warm_cluster(w, config.detector, stack)
            timed.append(("dask2warm", f"dask, {w} workers already running:", dict(runner="dask", scheduler=address)))
        walls = {name: [] for name, _, _ in timed}
        summaries, results = {}, {}
        for _ in range(args.repeat):  # rounds interleave the runs: drifting load hits them alike
            for name, _, kwargs in timed:
                out = fresh(name)
                t0 = time.perf_counter()
                summaries[name] = build_dataset(src, out, config, **quiet, **kwargs)
                walls[name].append(time.perf_counter() - t0)
                results.setdefault(name, set()).add(digest(out))
        wall = {name: statistics.median(v) for name, v in walls.items()}
        for name, label, _ in timed:
            s = summaries[name]
            rounds = f" (median of {', '.join(f'{x:.1f}' for x in walls[name])} s)" if args.repeat > 1 else ""
            print(f"{label:<34} {s.processed} images in {wall[name]:6.1f} s = {s.processed / wall[name]:5.2f} "
                  f"images/s ({s.outputs} outputs, {sum(s.skips.values())} skips){rounds}")
            if name != "local1":
                print(f"  speed-up over 1 local worker: {wall['local1'] / wall[name]:.2f}x")
        firsts = results.pop("local1")
        reference = min(firsts)
        ok &= len(firsts) == 1
        if "shards3" not in skip:
            out = fresh("shards3")
            t0 = time.perf_counter()
            per = []
            for i in range(3):
                s = build_dataset(src, out, config, workers=w, shard=f"{i}/3", **quiet)
                per.append(s.processed)
            merged = merge_shards(out)
            seconds = time.perf_counter() - t0
            results["shards3"] = {digest(out)}
            print(f"3 shards ({w} workers each, one after the other) + merge: {'+'.join(map(str, per))} images "
                  f"in {seconds:.1f} s (merge {merged.wall_seconds:.2f} s)")
        if "kill" not in skip:
            out = fresh("kill")
            t0 = time.perf_counter()
            s, killed = killed_run(src, out, config, w, 0.5)
            seconds = time.perf_counter() - t0
            results["kill"] = {digest(out)}
            where = f"after {killed[0]} of {killed[1]} sources" if killed else "NOT (finished first)"
            print(f"dask, {w} workers, one killed (SIGKILL) {where}: {s.processed} images in {seconds:.1f} s, "
                  f"complete: {'yes' if s.processed == n else 'NO'}")
            ok &= killed is not None and s.processed == n
        if len(results):
            headroom = cpu_headroom(w)
            print(f"CPU check: {w} busy loops in parallel ran {headroom:.2f}x as fast as one "
                  f"(below {w} means other load shares the cores)")
        print(f"reference (local, 1 worker): {reference}")
        for name, found in results.items():
            same = found == {reference}
            ok &= same
            print(f"  {name:<8} {', '.join(sorted(found))}  identical: {'yes' if same else 'NO'}")
    finally:
        stack.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of ``maskgen augment`` (the dataset builder) on a folder of real photos.

Prints images/s at 1 and 2 workers (or the counts given), the speed-up, peak memory, the time
per stage, and checks that the runs wrote byte-identical datasets. With ``--check-resume`` it
also kills a run midway (SIGKILL), reruns it, and checks the result is identical too.

    .venv/bin/python benchmarks/bench_dataset.py                      # ../shared/data/unmasked_faces
    .venv/bin/python benchmarks/bench_dataset.py --limit 40 --workers 1,2 --check-resume
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SRC = Path(os.environ.get("MASKGEN_SHARED_DATA") or REPO.parent / "shared" / "data") / "unmasked_faces"


class PeakMemory:
    """Samples the memory of this process and its children (psutil, else getrusage).

    Totals add up PSS (proportional set size: shared pages such as the dlib models, which the
    workers share with the fork server, are split between the processes sharing them) where the
    system reports it, else RSS.
    """

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.peak_total = 0
        self.peak_main = 0
        self.peak_child = 0
        self._stop = threading.Event()
        self._thread = None
        try:
            import psutil

            self._proc = psutil.Process()
        except ImportError:
            self._proc = None

    def _sample(self):
        import psutil

        def size(p):
            try:
                return p.memory_full_info().pss
            except (AttributeError, psutil.AccessDenied):
                return p.memory_info().rss

        while not self._stop.is_set():
            try:
                main = size(self._proc)
                kids = []
                for c in self._proc.children(recursive=True):
                    try:
                        kids.append(size(c))
                    except psutil.Error:
                        pass
                self.peak_main = max(self.peak_main, main)
                self.peak_child = max([self.peak_child] + kids)
                self.peak_total = max(self.peak_total, main + sum(kids))
            except psutil.Error:
                pass
            self._stop.wait(self.interval)

    def __enter__(self):
        if self._proc is not None:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        else:  # no psutil: the largest single process only
            import resource

            self.peak_main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            self.peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
            self.peak_total = self.peak_main + self.peak_child


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not any(part.startswith(".") for part in rel.split("/")):
            h.update(rel.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:16]


def limited_src(src: Path, limit: int | None, tmp: Path) -> Path:
    """``src`` itself, or a folder of symlinks to its first ``limit`` images (never copies)."""
    if not limit:
        return src
    from maskgen.dataset.sources import iter_sources

    sub = tmp / "src"
    for rel, _ in iter_sources(src):
        if limit <= 0:
            break
        target = sub / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to((src / rel).resolve())
        limit -= 1
    return sub


def _burn(n: int = 4_000_000) -> float:
    t = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - t


def cpu_headroom(workers: int) -> float:
    """How many busy loops run at once at full speed here (other load on the machine shows up)."""
    import multiprocessing as mp

    one = min(_burn() for _ in range(2))
    with mp.get_context("spawn").Pool(workers) as pool:
        pool.map(_burn, [1000] * workers)  # start-up
        t = time.perf_counter()
        pool.map(_burn, [4_000_000] * workers)
        many = time.perf_counter() - t
    return workers * one / many


def mib(n: int) -> str:
    return f"{n / 2 ** 20:.0f} MiB"


def check_resume(src: Path, out: Path, args, reference: str) -> None:
    cmd = [sys.executable, "-c", "from maskgen.cli.main import main; main()", "augment", str(src), str(out),
           "--workers", str(max(args.workers)), "--no-progress", "-q", "--seed", str(args.seed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from maskgen.dataset.sources import iter_sources

    total = sum(1 for _ in iter_sources(src))
    while proc.poll() is None:
        parts = out / ".parts"
        n = sum(1 for _ in parts.rglob("*.json")) if parts.is_dir() else 0
        if n >= total // 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    killed_after = sum(1 for _ in (out / ".parts").rglob("*.json")) if (out / ".parts").is_dir() else 0
    from maskgen import DatasetConfig, build_dataset

    summary = build_dataset(src, out, DatasetConfig(seed=args.seed), workers=max(args.workers), progress=False,
                            messages=False)
    same = digest(out) == reference
    print(f"resume: killed (SIGKILL) after {killed_after} of {total} sources, rerun processed "
          f"{summary.processed}; final dataset identical to the uninterrupted run: {'yes' if same else 'NO'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC, help="folder of photos [%(default)s]")
    ap.add_argument("--workers", default="1,2", help="worker counts to compare [%(default)s]")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check-resume", action="store_true", help="also kill a run midway and rerun it")
    ap.add_argument("--keep", type=Path, default=None, help="keep the outputs in this folder")
    args = ap.parse_args()
    args.workers = [int(w) for w in args.workers.split(",")]
    if not args.src.is_dir():
        print(f"no photos at {args.src} (set MASKGEN_SHARED_DATA or pass --src)", file=sys.stderr)
        return 2
    from maskgen import DatasetConfig, build_dataset
    from maskgen.dataset.sources import iter_sources

    tmp = Path(tempfile.mkdtemp(prefix="maskgen-bench-"))
    base = args.keep or tmp
    try:
        src = limited_src(args.src, args.limit, tmp)
        n = sum(1 for _ in iter_sources(src))
        print(f"source: {args.src} ({n} images), cpu cores available: {len(os.sched_getaffinity(0))}, "
              f"load average {os.getloadavg()[0]:.1f}")
        results = {}
        for w in args.workers:
            out = base / f"out_w{w}"
            if out.exists():
                shutil.rmtree(out)
            with PeakMemory() as mem:
                t0 = time.perf_counter()
                s = build_dataset(src, out, DatasetConfig(seed=args.seed), workers=w, progress=False,
                                  messages=False)
                wall = time.perf_counter() - t0
            results[w] = (wall, s, digest(out), mem)
            per = {k: 1000 * v / max(s.processed, 1) for k, v in s.timings.items()}
            print(f"workers={w}: {s.processed} images in {wall:.1f} s = {s.processed / wall:.2f} images/s "
                  f"({s.outputs} outputs, {sum(s.skips.values())} skips); peak memory: total "
                  f"{mib(mem.peak_total)}, main process {mib(mem.peak_main)}, largest worker {mib(mem.peak_child)}")
            print("  ms per image: " + ", ".join(f"{k} {v:.0f}" for k, v in per.items()))
        if len(args.workers) > 1:
            w0, w1 = args.workers[0], args.workers[-1]
            speed = results[w0][0] / results[w1][0]
            headroom = cpu_headroom(w1)
            print(f"speed-up {w0} -> {w1} workers: {speed:.2f}x (CPU check: {w1} busy loops in parallel ran "
                  f"{headroom:.2f}x as fast as one; below {w1} means other load shares the cores)")
        digests = {w: r[2] for w, r in results.items()}
        print("identical outputs across worker counts: "
              f"{'yes' if len(set(digests.values())) == 1 else 'NO'} ({', '.join(f'{w}: {d}' for w, d in digests.items())})")
        if args.check_resume:
            check_resume(src, base / "out_resumed", args, results[args.workers[0]][2])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

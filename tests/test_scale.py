"""Cluster scale: the dask engine, array-job shards and ``maskgen merge`` give the bytes of a local run.

The references are a local ``workers=1`` run on the small astronaut tree (5 sources, 3 splits).
Dask clusters here are local clusters of two worker processes (each starts in a few seconds).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import make_src_tree, save, tree_digest
from maskgen import DatasetConfig, build_dataset, read_manifest
from maskgen.dataset.layout import DatasetError
from maskgen.dataset.manifest import read_skipped
from maskgen.dataset.merge import merge_shards
from maskgen.dataset.shards import parse_shard, shard_of
from maskgen.dataset.sources import walk_sources

OPTS = dict(seed=5, split="0.5,0.25,0.25", variants=1, negatives=1, wear="correct=0.7,nose=0.3")
CLI_OPTS = ["--seed", "5", "--split", "0.5,0.25,0.25", "--variants", "1", "--negatives", "1",
            "--wear", "correct=0.7,nose=0.3", "--no-progress", "-q"]


def build(src, out, **kwargs):
    opts = {k: kwargs.pop(k) for k in list(kwargs) if k in DatasetConfig.__dataclass_fields__}
    return build_dataset(src, out, DatasetConfig(**{**OPTS, **opts}), progress=False, messages=False, **kwargs)


def cli(*args):
    from maskgen.cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def src(tmp_path_factory, small_astronaut) -> Path:
    return make_src_tree(tmp_path_factory.mktemp("scale"), small_astronaut)


@pytest.fixture(scope="module")
def reference(src, tmp_path_factory):
    """A local run with one worker: (OUT, its digest, its summary)."""
    out = tmp_path_factory.mktemp("ref") / "out"
    summary = build(src, out, workers=1)
    assert {r["split"] for r in read_manifest(out)} == {"train", "val", "test"}
    return out, tree_digest(out), summary


@pytest.fixture(scope="module")
def shards(src, tmp_path_factory):
    """OUT holding the 3 finished, unmerged shards of the same settings."""
    out = tmp_path_factory.mktemp("shards") / "out"
    for i in range(3):
        s = build(src, out, workers=1, shard=f"{i}/3")
        assert s.shard == (i, 3)
    return out


def copy(out: Path, to: Path) -> Path:
    shutil.copytree(out, to, symlinks=True)
    return to


def same_summary(a, b) -> None:
    assert (a.processed, a.outputs, a.sources_total, a.sources_with_output) == \
           (b.processed, b.outputs, b.sources_total, b.sources_with_output)
    assert {k: dict(v) for k, v in a.counts.items()} == {k: dict(v) for k, v in b.counts.items()}
    assert dict(a.skips) == dict(b.skips) and dict(a.run_skips) == dict(b.run_skips)
    assert a.run_outputs == b.run_outputs


# --------------------------------------------------------------------------- shards


def test_shard_assignment_is_a_stable_partition():
    names = [f"person{i // 7}/img_{i:04d}.jpg" for i in range(600)]
    for n in (1, 2, 3, 7):
        owners = [shard_of(s, n) for s in names]
        assert all(0 <= o < n for o in owners)
        counts = [owners.count(i) for i in range(n)]
        assert min(counts) > 0.6 * len(names) / n  # roughly even
    # a hash of the path only: independent of order, neighbours, seed; never changes between versions
    assert [shard_of(s, 3) for s in reversed(names)] == [shard_of(s, 3) for s in names][::-1]
    assert [shard_of(s, 3) for s in ("alice/a1.jpg", "alice/trip/a2.png", "bob/b1.jpg", "carol/c1.webp",
                                     "loose.jpg")] == [1, 1, 1, 2, 2]
    assert parse_shard("2/3") == (2, 3) and parse_shard((0, 1)) == (0, 1) and parse_shard(None) is None
    for bad in ("3/3", "-1/3", "1", "a/b", "0/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_shards_merged_equal_a_local_run(src, reference, shards, tmp_path):
    ref_out, ref_digest, ref_summary = reference
    out = copy(shards, tmp_path / "merged")
    sources = [t[0] for t in walk_sources(src)]
    for i in range(3):
        folder = out / "shards" / f"{i}-of-3"
        marker = json.loads((folder / "shard.json").read_text())
        assert marker["complete"] and marker["of"] == 3
        assert not (folder / ".parts").exists() and not (folder / ".tmp").exists()
        mine = {r["source"] for r in read_manifest(folder)} | {r["source"] for r in read_skipped(folder)}
        assert mine == {s for s in sources if shard_of(s, 3) == i}
    assert not (out / "metadata.csv").exists() and not (out / "settings.json").exists()
    r = cli("merge", out)
    assert r.exit_code == 0, r.output
    assert "maskgen merge: 3 shards joined" in r.output and "COCO train" in r.output
    assert not (out / "shards").exists()
    assert tree_digest(out) == ref_digest
    assert read_manifest(out) == read_manifest(ref_out)
    # merging again: nothing to merge, clear message, non-zero exit
    r = cli("merge", out)
    assert r.exit_code == 2 and "no shards to merge" in r.output and "merged already" in r.output


def test_shard_rerun_after_new_images(tmp_path, small_astronaut):
    """Images added after a merge: rerunning the shards processes only them, and merging again
    gives what a whole run on the grown SRC gives."""
    src = make_src_tree(tmp_path, small_astronaut)
    fast = dict(negatives=0, augment="none")
    out, local = tmp_path / "sharded", tmp_path / "local"
    for i in range(2):
        build(src, out, workers=1, shard=f"{i}/2", **fast)
    merge_shards(out)
    save(src / "dave" / "d1.jpg", small_astronaut[:, ::-1], quality=90)
    processed = sum(build(src, out, workers=1, shard=f"{i}/2", **fast).processed for i in range(2))
    assert processed == 1
    merged = merge_shards(out)
    assert merged.sources_total == 6 and merged.processed == 0
    build(src, local, workers=1, **fast)
    assert tree_digest(out) == tree_digest(local)


def test_merge_refuses_different_settings(shards, tmp_path):
    out = copy(shards, tmp_path / "mixed")
    path = out / "shards" / "2-of-3" / "settings.json"
    rec = json.loads(path.read_text())
    rec["config"]["seed"] = 6
    path.write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
    r = cli("merge", out)
    assert r.exit_code == 2
    assert "different settings" in r.output and "2-of-3" in r.output and "seed: 5 → 6" in r.output
    assert not (out / "metadata.csv").exists() and (out / "shards").is_dir()  # nothing changed
    rec["config"]["seed"] = 5
    rec["maskgen_version"] = "0.0.1"
    path.write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
    with pytest.raises(DatasetError, match="maskgen version"):
        merge_shards(out)


def test_merge_reports_missing_and_duplicated_shards(shards, tmp_path):
    out = copy(shards, tmp_path / "broken")
    root = out / "shards"
    shutil.rmtree(root / "1-of-3")
    (root / "2-of-3" / "shard.json").unlink()  # killed before it finished
    with pytest.raises(DatasetError) as e:
        merge_shards(out)
    msg = str(e.value)
    assert "missing shards (2 of 3)" in msg and "1-of-3 (never run)" in msg and "2-of-3 (not finished" in msg
    # an unfinished --limit run
    marker = json.loads((shards / "shards" / "2-of-3" / "shard.json").read_text())
    (root / "2-of-3" / "shard.json").write_text(json.dumps(dict(marker, complete=False, pending=1)))
    copy(shards / "shards" / "1-of-3", root / "1-of-3")
    with pytest.raises(DatasetError, match=r"2-of-3 \(not finished: 1 source left"):
        merge_shards(out)
    (root / "2-of-3" / "shard.json").write_text(json.dumps(marker))
    # a shard folder copied under another shard's name
    shutil.rmtree(root / "2-of-3")
    copy(root / "1-of-3", root / "2-of-3")
    r = cli("merge", out)
    assert r.exit_code == 2 and "duplicated or misplaced shards" in r.output
    assert "2-of-3 holds 3 sources of shard 1-of-3" in r.output
    # shards of two different splits
    shutil.rmtree(root / "2-of-3")
    copy(shards / "shards" / "2-of-3", root / "2-of-3")
    (root / "0-of-2").mkdir()
    with pytest.raises(DatasetError, match=r"duplicated shards: .*into 2: 0-of-2; into 3: 0-of-3, 1-of-3, 2-of-3"):
        merge_shards(out)
    shutil.rmtree(root / "0-of-2")
    assert merge_shards(out).outputs > 0  # once repaired, it merges
    assert not (out / "shards").exists()


def test_shard_runs_guard_out(src, shards, tmp_path):
    out = copy(shards, tmp_path / "guard")
    with pytest.raises(DatasetError, match="shards not merged yet"):
        build(src, out, workers=1)  # a whole run would ignore the shards
    with pytest.raises(DatasetError, match="split into 3 parts; this run splits into 4"):
        build(src, out, workers=1, shard="0/4")
    assert not (out / "shards" / "0-of-4").exists()
    with pytest.raises(DatasetError, match="--overwrite cannot be used with --shard"):
        build(src, out, workers=1, shard="0/3", overwrite=True)
    with pytest.raises(DatasetError, match="different settings"):
        build(src, out, workers=1, shard="1/3", seed=6)
    r = cli("augment", src, out, "--shard", "3/3")
    assert r.exit_code == 2 and "counts from 0" in r.output
    r = cli("augment", src, out, "--scheduler", "tcp://127.0.0.1:1")
    assert r.exit_code == 2 and "--engine dask" in r.output
    # a finished shard rerun does nothing and stays finished
    s = build(src, out, workers=1, shard="1/3")
    assert s.processed == 0 and s.already_done == 3
    assert json.loads((out / "shards" / "1-of-3" / "shard.json").read_text())["complete"]


def test_local_run_never_imports_dask(src, tmp_path):
    code = (
        "import sys, maskgen, maskgen.cli.main, maskgen.cli.dataset, maskgen.dataset.merge\n"
        "from maskgen import DatasetConfig, build_dataset\n"
        f"build_dataset({str(src)!r}, {str(tmp_path / 'out')!r}, DatasetConfig(detector='none', augment='none'),"
        " workers=1, progress=False, messages=False, limit=1)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'torch'))\n"
        "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


# --------------------------------------------------------------------------- dask

distributed = pytest.importorskip("distributed")


def test_dask_local_cluster_equals_local_run(src, reference, tmp_path):
    ref_out, ref_digest, ref_summary = reference
    out = tmp_path / "dask"
    r = cli("augment", src, out, "--engine", "dask", "--workers", "2", *CLI_OPTS)
    assert r.exit_code == 0, r.output
    assert "2 dask workers" in r.output and "COCO train" in r.output
    assert tree_digest(out) == ref_digest
    assert read_manifest(out) == read_manifest(ref_out) and read_skipped(out) == read_skipped(ref_out)
    # the closing summary holds what a local run's does (but for timings and paths)
    lines = r.output.strip().splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("maskgen augment:")):]

    def content(lines, out):
        return [line.replace(str(out), "OUT") for line in lines[1:] if not line.startswith("time per stage")]

    assert lines[0].startswith("maskgen augment: 5 source images processed")
    assert content(lines, out) == content(ref_summary.format().splitlines(), ref_out)


def test_dask_worker_killed_midway(src, reference, tmp_path):
    """A worker process killed (SIGKILL) while it holds an image: the run still ends complete and
    identical; the image it had is redone elsewhere, finished images are not lost."""
    from distributed import Client, LocalCluster

    out = tmp_path / "killed"
    killed = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster, set_as_default=False) as client:
        stop = threading.Event()

        def killer():
            while not stop.is_set() and not killed:
                parts = out / ".parts"
                done = sum(1 for _ in parts.rglob("*.json")) if parts.is_dir() else 0
                busy = [w for w, keys in client.processing().items() if keys] if done >= 1 else []
                if busy:
                    pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.append((done, pid))
                    return
                time.sleep(0.05)

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        try:  # through the scheduler's address, as `--scheduler` does
            summary = build(src, out, engine="dask", scheduler=cluster.scheduler_address)
        finally:
            stop.set()
            thread.join(10)
    assert killed, "no worker was killed: the run finished before the killer saw a busy worker"
    assert killed[0][0] < 5
    assert summary.processed == 5 and summary.engine == "dask"
    same_summary(summary, reference[2])
    assert tree_digest(out) == reference[1]


def test_dask_engine_errors(src, tmp_path):
    with pytest.raises(DatasetError, match="unknown engine"):
        build(src, tmp_path / "x", engine="spark")
    with pytest.raises(DatasetError, match="dask engine"):
        build(src, tmp_path / "x", scheduler="tcp://127.0.0.1:1")
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(DatasetError, match="cannot reach the dask scheduler"):
            build(src, tmp_path / "x", engine="dask", scheduler="tcp://127.0.0.1:9")


def test_worker_check_names_what_is_missing(src, tmp_path):
    from maskgen import __version__
    from maskgen.dataset.dask_runner import check_worker

    assert check_worker(str(src), str(tmp_path), __version__) is None
    problem = check_worker(str(tmp_path / "nowhere"), str(tmp_path / "out"), "0.0.0")
    assert "maskgen " + __version__ in problem and "client has 0.0.0" in problem
    assert "SRC" in problem and "OUT" in problem and "shared" in problem

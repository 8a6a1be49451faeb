"""OUT's layout and guards: what maskgen writes there, ``settings.json``, the lock, shard folders.

A run works in a *target*: OUT itself for a whole run, or ``OUT/shards/I-of-N/`` for one shard of
an array job (``--shard I/N``). The target holds the run's ``settings.json``, its lock, its part
files (``.parts/``), its temporary files (``.tmp/``) and, at the end, its manifest. Images always
go to their final place in OUT (``OUT/<split>/<label>/...``): shards write disjoint sets of files.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from maskgen import __version__
from maskgen.atomic import write_json_atomic
from maskgen.dataset import manifest as mf
from maskgen.dataset.parts import PARTS_DIR, TMP_DIR
from maskgen.dataset.shards import SHARD_FILE, SHARDS_DIR, shard_folder, shard_name
from maskgen.dataset.sources import SPLIT_NAMES

LOCK_FILE = ".lock"


class DatasetError(ValueError):
    """A usage problem: bad paths, bad settings, settings that differ from OUT's, no images,
    shards that cannot be merged."""


@dataclass(frozen=True)
class Target:
    """Where a run keeps its records: OUT, or OUT's folder for one shard."""

    out: Path
    shard: tuple[int, int] | None = None

    @property
    def root(self) -> Path:
        return self.out if self.shard is None else shard_folder(self.out, self.shard)

    @property
    def parts(self) -> Path:
        return self.root / PARTS_DIR

    @property
    def tmp(self) -> Path:
        return self.root / TMP_DIR

    @property
    def manifests(self) -> list[Path]:
        """Folders whose manifests record finished sources, newest first."""
        return [self.root] if self.shard is None else [self.root, self.out]


def inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def managed_paths(out: Path) -> list[Path]:
    """Everything maskgen writes in OUT (what ``--overwrite`` deletes)."""
    return ([out / s for s in SPLIT_NAMES] + [out / PARTS_DIR, out / TMP_DIR, out / mf.METADATA,
                                              out / mf.SKIPPED, out / mf.SETTINGS, out / SHARDS_DIR]
            + [out / f"coco_{s}.json" for s in SPLIT_NAMES])


def check_paths(src: Path, out: Path) -> tuple[Path, Path]:
    if not src.exists():
        raise DatasetError(f"SRC does not exist: {src}")
    rsrc, rout = src.resolve(), out.resolve()
    if src.is_file():
        if rout == rsrc:
            raise DatasetError("OUT must not be the source file")
    elif inside(rout, rsrc):
        raise DatasetError(f"OUT ({out}) is inside SRC ({src}): choose an OUT outside SRC; "
                           "nothing is ever written into SRC")
    if any(inside(rsrc, p.resolve()) for p in managed_paths(out)):
        raise DatasetError(f"SRC ({src}) lies inside a folder that maskgen writes in OUT ({out})")
    if rout.exists() and not rout.is_dir():
        raise DatasetError(f"OUT exists and is not a folder: {out}")
    return rsrc, rout


def _flock(f) -> bool:
    """Try to lock an open file; False when another process holds it (True without fcntl)."""
    try:
        import fcntl
    except ImportError:  # no fcntl (Windows): no lock
        return True
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


@contextlib.contextmanager
def locked(folder: Path, what: str | None = None):
    """Keep two runs from writing to one OUT (or one shard) at the same time (creates ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    f = open(path, "a+")
    try:
        if not _flock(f):
            raise DatasetError(f"another maskgen run is writing to {what or folder}")
        yield
    finally:
        f.close()
        with contextlib.suppress(OSError):
            path.unlink()


def is_locked(folder: Path) -> bool:
    """Whether a run holds ``folder``'s lock now."""
    path = folder / LOCK_FILE
    if not path.is_file():
        return False
    with open(path, "a+") as f:
        return not _flock(f)


def settings_record(cfg, src: Path) -> dict:
    return {"format": "maskgen-dataset/1", "maskgen_version": __version__, "source": str(src),
            "splits": list(cfg.split_names), "config": cfg.to_dict()}


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def same_settings(old: dict | None, new: dict, strict: bool = False) -> bool:
    """Whether two settings records make the same dataset (``strict``: the same version too)."""
    if old is None:
        return False
    keys = ("config", "source") + (("format", "maskgen_version") if strict else ())
    return all(old.get(k) == new.get(k) for k in keys)


def describe_difference(old: dict | None, new: dict, strict: bool = False) -> str:
    if old is None:
        return f"{mf.SETTINGS} is unreadable"
    diffs = []
    if strict and old.get("maskgen_version") != new.get("maskgen_version"):
        diffs.append(f"maskgen version {old.get('maskgen_version')} → {new.get('maskgen_version')}")
    if old.get("source") != new.get("source"):
        diffs.append(f"source {old.get('source')} → {new.get('source')}")
    a, b = old.get("config") or {}, new.get("config") or {}
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            diffs.append(f"{k}: {a.get(k)!r} → {b.get(k)!r}")
    return "; ".join(diffs[:5]) + (" …" if len(diffs) > 5 else "")


def _visible(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if not n.startswith(".")) if folder.is_dir() else []


def shard_folders(out: Path) -> list[str]:
    """Names of the folders in ``OUT/shards`` (visible ones)."""
    return _visible(out / SHARDS_DIR)


def check(target: Target, record: dict, overwrite: bool) -> None:
    """Refuse a run that OUT does not allow (changes nothing): other settings, a folder that is not
    a maskgen dataset, unmerged shards for a whole run, shards of another split for a shard run."""
    out = target.out
    if target.shard is None:
        _check_out(out, record, overwrite)
        return
    if overwrite:
        raise DatasetError("--overwrite cannot be used with --shard (shards of one dataset run at the "
                           f"same time): delete {out} first, then start all the shards")
    _check_out_for_shard(out, record, target.shard)
    settings = target.root / mf.SETTINGS
    if settings.is_file():
        old = read_json(settings)
        if not same_settings(old, record):
            raise DatasetError(
                f"{target.root} holds shard {shard_name(target.shard)} built with different settings "
                f"({describe_difference(old, record)}); use the same settings for every shard, or delete "
                f"{target.root} to redo it")


def prepare(target: Target, record: dict, overwrite: bool) -> None:
    """:func:`check`, then get the target ready: ``--overwrite`` deletes what maskgen wrote in OUT;
    ``settings.json`` is written, ``.tmp`` emptied, a shard's ``shard.json`` removed."""
    check(target, record, overwrite)
    out, root = target.out, target.root
    if overwrite and target.shard is None:
        for p in managed_paths(out):
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    settings = root / mf.SETTINGS
    root.mkdir(parents=True, exist_ok=True)
    target.parts.mkdir(exist_ok=True)
    if target.tmp.is_dir():
        shutil.rmtree(target.tmp)  # leftovers of a killed run
    target.tmp.mkdir()
    if target.shard is not None:
        with contextlib.suppress(FileNotFoundError):
            (root / SHARD_FILE).unlink()  # the shard is in progress again until this run finishes
    if not settings.is_file():
        write_json_atomic(settings, record, target.tmp)


def _check_out(out: Path, record: dict, overwrite: bool) -> None:
    settings = out / mf.SETTINGS
    visible = _visible(out)
    if overwrite:
        if settings.is_file() or set(visible) <= {SHARDS_DIR, *SPLIT_NAMES}:
            return  # a maskgen dataset (or shards never merged): deleted and rebuilt
        raise DatasetError(f"OUT ({out}) is not empty and is not a maskgen dataset (no {mf.SETTINGS}); "
                           "--overwrite deletes only maskgen datasets: choose an empty or new folder")
    if shard_folders(out):
        raise DatasetError(f"OUT ({out}) holds shards not merged yet ({out / SHARDS_DIR}): run "
                           f"`maskgen merge {out}` first (or --overwrite to rebuild from scratch)")
    if settings.is_file():
        _require_same_settings(out, record, "use --overwrite to rebuild it, or another OUT")
    elif visible:
        raise DatasetError(f"OUT ({out}) is not empty and is not a maskgen dataset (no {mf.SETTINGS}); "
                           "choose an empty or new folder")


def _require_same_settings(out: Path, record: dict, advice: str) -> None:
    """Refuse to add to a dataset in ``out`` built with settings other than ``record``."""
    old = read_json(out / mf.SETTINGS)
    if not same_settings(old, record):
        raise DatasetError(f"{out} already holds a dataset built with different settings "
                           f"({describe_difference(old, record)}); {advice}")


def _check_out_for_shard(out: Path, record: dict, shard: tuple[int, int]) -> None:
    settings = out / mf.SETTINGS
    if settings.is_file():
        _require_same_settings(out, record, "use the same settings, or another OUT")
    else:
        extra = sorted(set(_visible(out)) - {SHARDS_DIR, *SPLIT_NAMES})
        if extra:
            raise DatasetError(f"OUT ({out}) is not empty and is not a maskgen dataset (no {mf.SETTINGS}; "
                               f"it holds {', '.join(extra[:3])}{' …' if len(extra) > 3 else ''}); "
                               "choose an empty or new folder")
    others = sorted({n.split("-of-", 1)[1] for n in shard_folders(out) if "-of-" in n} - {str(shard[1])})
    if others:
        raise DatasetError(f"{out / SHARDS_DIR} holds shards of a split into {' and '.join(others)} parts; "
                           f"this run splits into {shard[1]}: merge or delete those first")

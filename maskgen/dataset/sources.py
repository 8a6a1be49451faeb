"""The SRC side of a dataset run: walking the sources, identities, per-image seeds, splits.

Everything here depends only on a source's path relative to SRC (POSIX) and the run seed, never
on the order or number of images, so any runner, worker count or shard sees the same values.
Which shard a source belongs to is :mod:`maskgen.dataset.shards`.
"""
from __future__ import annotations

import collections
import hashlib
import math
import os
from pathlib import Path, PurePosixPath
from typing import Iterator

from maskgen.images import is_supported

SPLIT_NAMES = ("train", "val", "test")


# --------------------------------------------------------------------------- seeds and splits


def parse_split(value) -> tuple[float, ...]:
    """``'0.8,0.1,0.1'`` (or a sequence) to 1-3 fractions summing to 1 (train, val, test)."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"bad split {value!r}: expected numbers like 0.8,0.1,0.1") from None
    else:
        numbers = [float(v) for v in value]
    if not 1 <= len(numbers) <= 3:
        raise ValueError(f"bad split {value!r}: give 1 to 3 fractions (train, val, test)")
    if any(not math.isfinite(v) or v < 0 for v in numbers) or sum(numbers) <= 0:
        raise ValueError(f"bad split {value!r}: fractions must be non-negative with a positive sum")
    total = sum(numbers)
    return tuple(v / total for v in numbers)


def hash_int(text: str) -> int:
    """A stable 63-bit hash of ``text`` (sha256; never Python's salted ``hash``)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") >> 1


def source_seed(seed: int, source: str) -> int:
    """The per-image seed (63-bit) from the run seed and the source's relative POSIX path."""
    return hash_int(f"maskgen/source/{int(seed)}/{source}")


def identity_of(source: str) -> str:
    """The identity a source belongs to: its first-level subfolder, else the image itself."""
    parts = source.split("/")
    return parts[0] if len(parts) > 1 else source


def split_of(source: str, seed: int, fractions) -> str:
    """The split of a source: a hash of the seed and its identity, bucketed by ``fractions``."""
    fractions = parse_split(fractions)
    u = hash_int(f"maskgen/split/{int(seed)}/{identity_of(source)}") / 2.0 ** 63
    cumulative = 0.0
    last = max(i for i, f in enumerate(fractions) if f > 0)
    for i, f in enumerate(fractions):
        cumulative += f
        if f > 0 and (u < cumulative or i == last):
            return SPLIT_NAMES[i]
    return SPLIT_NAMES[last]


# --------------------------------------------------------------------------- walking


def sort_key(source: str) -> tuple[str, ...]:
    """The order of sources everywhere (walk, part files, manifests): path components."""
    return tuple(source.split("/"))


def iter_sources(src) -> Iterator[tuple[str, str | None]]:
    """``(relative POSIX path, error)`` for every candidate image under ``src``, in sorted order.

    Lazy: one folder listing at a time. Hidden files and folders (names starting with '.') are
    left out, directory symlinks are not followed, file symlinks are. A folder that cannot be
    listed is yielded with the error text. A single file yields its own name.
    """
    for source, error, _ in walk_sources(src):
        yield source, error


def walk_sources(src) -> Iterator[tuple[str, str | None, str]]:
    """:func:`iter_sources` plus each source's output stem: its file stem, with the extension
    appended (``photo_png``) when a sibling image shares the stem (``photo.jpg``, ``photo.png``).

    These triples are the tasks of a run (:func:`maskgen.dataset.shards.walk_shard` for one shard's).
    """
    src = Path(src)
    if src.is_file():
        yield src.name, None, src.stem
        return

    def walk(folder: str, prefix: str):
        try:
            with os.scandir(folder) as it:
                entries = []
                for e in it:
                    if e.name.startswith("."):
                        continue
                    try:
                        if e.is_dir(follow_symlinks=False):
                            entries.append((e.name, True))
                        elif e.is_file() and is_supported(e.name):
                            entries.append((e.name, False))
                    except OSError:
                        continue
        except OSError as e:
            if prefix:
                yield prefix.rstrip("/"), f"cannot list folder ({e.strerror or e})", ""
                return
            raise
        entries.sort()
        stems = collections.Counter(PurePosixPath(n).stem for n, is_dir in entries if not is_dir)
        for name, is_dir in entries:
            rel = prefix + name
            if is_dir:
                yield from walk(os.path.join(folder, name), rel + "/")
            else:
                p = PurePosixPath(name)
                stem = f"{p.stem}_{p.suffix.lstrip('.').lower()}" if stems[p.stem] > 1 else p.stem
                yield rel, None, stem

    yield from walk(str(src), "")


def would_walk(src: Path, source: str) -> bool:
    """Whether ``source`` is (still) something the walk of ``src`` yields."""
    if src.is_file():
        return source == src.name
    parts = source.split("/")
    if any(p.startswith(".") for p in parts):
        return False
    p = src / source
    return (p.is_file() and is_supported(p.name)) or p.is_dir()

"""Array-job shards: which shard a source belongs to, and what a shard's folder is called.

``maskgen augment --shard I/N`` processes the sources whose path hashes to shard I of N
(:func:`shard_of`; independent of the seed, the settings and the other sources), writes their
images to their final place in OUT and records them in ``OUT/shards/I-of-N/`` (:func:`shard_name`),
with a ``shard.json`` marker (:func:`marker`) once it has no source left to do.
``maskgen merge OUT`` (:mod:`maskgen.dataset.merge`) joins the N shards.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from maskgen.dataset.sources import hash_int, walk_sources

SHARDS_DIR = "shards"
SHARD_FILE = "shard.json"

_NAME = re.compile(r"(\d+)-of-(\d+)")


def parse_shard(value) -> tuple[int, int] | None:
    """``'I/N'`` (or ``(I, N)``) to ``(I, N)`` with ``0 <= I < N``; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        index, sep, count = value.strip().partition("/")
        try:
            if not sep:
                raise ValueError
            i, n = int(index), int(count)
        except ValueError:
            raise ValueError(f"bad shard {value!r}: expected I/N, e.g. 0/3 (shards 0/3, 1/3, 2/3)") from None
    else:
        i, n = (int(v) for v in value)
    if n < 1:
        raise ValueError(f"bad shard {value!r}: the number of shards must be at least 1")
    if not 0 <= i < n:
        raise ValueError(f"bad shard {value!r}: the index counts from 0, so it must be 0..{n - 1} "
                         f"(the shards of {n} are {', '.join(f'{k}/{n}' for k in range(min(n, 3)))}"
                         f"{', …' if n > 3 else ''})")
    return i, n


def shard_of(source: str, count: int) -> int:
    """The shard (0..count-1) a source belongs to: a hash of its relative path only.

    Independent of the seed, the settings and the other sources: adding images to SRC never
    moves a source to another shard.
    """
    return hash_int(f"maskgen/shard/{source}") % int(count)


def in_shard(source: str, shard: tuple[int, int] | None) -> bool:
    """Whether ``source`` belongs to ``shard`` (every source belongs to ``None``, a whole run)."""
    return shard is None or shard_of(source, shard[1]) == shard[0]


def walk_shard(src, shard: tuple[int, int] | None = None) -> Iterator[tuple[str, str | None, str]]:
    """The tasks of :func:`maskgen.dataset.sources.walk_sources` that belong to ``shard``."""
    for task in walk_sources(src):
        if in_shard(task[0], shard):
            yield task


def shard_name(shard: tuple[int, int]) -> str:
    """The folder name of a shard: ``I-of-N``."""
    return f"{shard[0]}-of-{shard[1]}"


def parse_shard_name(name: str) -> tuple[int, int] | None:
    """The shard a folder name ``I-of-N`` names, or None for any other name."""
    m = _NAME.fullmatch(name)
    return (int(m[1]), int(m[2])) if m and 0 <= int(m[1]) < int(m[2]) else None


def shard_folder(out: Path, shard: tuple[int, int]) -> Path:
    """Where a shard run keeps its records: ``OUT/shards/I-of-N``."""
    return Path(out) / SHARDS_DIR / shard_name(shard)


def marker(shard: tuple[int, int], pending: int, sources: int) -> dict:
    """The ``shard.json`` record a shard run leaves: finished (``complete``) when nothing is pending."""
    return {"format": "maskgen-shard/1", "shard": shard[0], "of": shard[1], "complete": pending == 0,
            "pending": pending, "sources": sources}

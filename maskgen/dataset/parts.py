"""Part files, the resume index, and the ordered merge into ``metadata.csv`` / ``skipped.csv``.

Every finished source leaves a small part file (``<parts>/<sha1[:2]>/<sha1>.json``: its manifest
rows and skips, already formatted as CSV cells), written atomically after all its images. The
part files are the record of a run in progress: a rerun skips the sources that have one.

At the end the part files, the manifest already in OUT (an earlier run's) and, for
``maskgen merge``, the shards' partial manifests are joined by a streaming merge in source order
(:func:`combine`, :func:`write_manifest`): the same records always give the same bytes, however
many workers, runners or shards made them, and memory stays flat.

A *record* is ``(source, rows, skips)``: one source's manifest rows and skip rows (CSV cells).
"""
from __future__ import annotations

import collections
import contextlib
import hashlib
import heapq
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from maskgen.atomic import atomic_open
from maskgen.dataset import manifest as mf
from maskgen.dataset.shards import in_shard
from maskgen.dataset.sources import iter_sources, sort_key, would_walk

PARTS_DIR = ".parts"
TMP_DIR = ".tmp"
RETRY_KINDS = ("error", "io_error")  # skips that a rerun tries again

Record = tuple  # (source, rows: list[list[str]], skips: list[list[str]])


# --------------------------------------------------------------------------- part files


def part_path(parts: Path, source: str) -> Path:
    h = hashlib.sha1(source.encode("utf-8")).hexdigest()
    return Path(parts) / h[:2] / f"{h}.json"


def write_part(parts: Path, source: str, retry: bool, rows: list[list[str]], skips: list[list[str]],
               tmp_dir: Path) -> Path:
    """Record a finished source (atomically: a part file is whole or absent)."""
    path = part_path(parts, source)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w", tmp_dir=tmp_dir) as f:
        f.write(mf.dumps({"source": source, "retry": bool(retry), "rows": rows, "skipped": skips}))
    return path


def read_part(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def iter_part_files(parts: Path) -> Iterator[Path]:
    root = Path(parts)
    if not root.is_dir():
        return
    for sub in sorted(os.listdir(root)):
        folder = root / sub
        if folder.is_dir():
            for name in sorted(os.listdir(folder)):
                if name.endswith(".json"):
                    yield folder / name


# --------------------------------------------------------------------------- manifests as record streams


def grouped(path: Path, source_col: str = "source") -> Iterator[tuple[str, list[list[str]]]]:
    """(source, cell rows) groups of a manifest CSV, in file order (sorted by source)."""
    current, group, idx = None, [], None
    for header, cells in mf.iter_csv_cells(path):
        if idx is None:
            idx = header.index(source_col)
        s = cells[idx]
        if s != current:
            if group:
                yield current, group
            current, group = s, []
        group.append(cells)
    if group:
        yield current, group


def manifest_records(folder: Path) -> Iterator[Record]:
    """The records of the ``metadata.csv`` and ``skipped.csv`` in ``folder``, in source order."""
    folder = Path(folder)
    meta = ((sort_key(s), 0, s, g) for s, g in grouped(folder / mf.METADATA))
    skip = ((sort_key(s), 1, s, g) for s, g in grouped(folder / mf.SKIPPED))
    for _, group in itertools.groupby(heapq.merge(meta, skip, key=lambda t: t[:2]), key=lambda t: t[0]):
        rows, skips, source = [], [], None
        for _, tag, source, cells in group:
            (rows if tag == 0 else skips).extend(cells)
        yield source, rows, skips


def part_records(src: Path, parts: Path, shard: tuple[int, int] | None = None) -> Iterator[Record]:
    """The records of the part files under ``parts``, in source order.

    Found by walking ``src`` (no listing of the part files held in memory); parts of sources no
    longer under SRC (moved away between runs, rare) are looked for only when the part files
    outnumber the walked sources that have one.
    """
    def walked():
        return (source for source, _ in iter_sources(src) if in_shard(source, shard))

    def from_walk():
        for source in walked():
            path = part_path(parts, source)
            if path.is_file():
                part = read_part(path)
                if part is not None and part.get("source") == source:
                    yield source, part["rows"], part["skipped"]

    total_parts = sum(1 for _ in iter_part_files(parts))
    leftovers = []
    if total_parts and total_parts > sum(1 for s in walked() if part_path(parts, s).is_file()):
        for path in iter_part_files(parts):
            part = read_part(path)
            if part is not None and not would_walk(src, part.get("source", "")) and in_shard(part["source"], shard):
                leftovers.append((part["source"], part["rows"], part["skipped"]))
        leftovers.sort(key=lambda t: sort_key(t[0]))
    if not leftovers:
        yield from from_walk()
        return
    yield from heapq.merge(from_walk(), iter(leftovers), key=lambda t: sort_key(t[0]))


def combine(new: Iterable[Iterator[Record]], old: Iterable[Iterator[Record]] = (),
            duplicate: Callable[[str, list[int]], None] | None = None) -> Iterator[Record]:
    """One record per source, in source order: a source's record from a ``new`` stream wins
    over ``old`` ones (the first old stream over later ones). ``duplicate(source, streams)`` is
    called when two new streams hold the same source (the first one is kept)."""
    streams = [((sort_key(r[0]), 0, i, r) for r in s) for i, s in enumerate(new)]
    streams += [((sort_key(r[0]), 1 + i, 0, r) for r in s) for i, s in enumerate(old)]
    for _, group in itertools.groupby(heapq.merge(*streams, key=lambda t: t[:3]), key=lambda t: t[0]):
        group = list(group)
        if duplicate is not None:
            fresh = [t[2] for t in group if t[1] == 0]
            if len(fresh) > 1:
                duplicate(group[0][3][0], fresh)
        yield group[0][3]


@dataclass
class Tally:
    """What a manifest holds: ``counts[split][label]``, ``outputs`` (rows), ``skips[kind]``, and
    the sources it lists (``sources_total``) and those with at least one output."""

    counts: dict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    outputs: int = 0
    skips: collections.Counter = field(default_factory=collections.Counter)
    sources_total: int = 0
    sources_with_output: int = 0

    def add(self, rows: list[list[str]], skips: list[list[str]]) -> None:
        split_i, label_i = mf.COLUMNS.index("split"), mf.COLUMNS.index("label")
        kind_i = mf.SKIP_COLUMNS.index("kind")
        for cells in rows:
            self.counts[cells[split_i]][cells[label_i]] += 1
        for cells in skips:
            self.skips[cells[kind_i]] += 1
        self.outputs += len(rows)
        self.sources_total += 1
        self.sources_with_output += bool(rows)


def write_manifest(folder: Path, records: Iterable[Record], tmp_dir: Path, split_files: bool = True) -> Tally:
    """Write ``metadata.csv`` and ``skipped.csv`` in ``folder`` from ``records`` (in source order);
    returns what they hold.

    ``split_files``: also ``<folder>/<split>/metadata.csv`` (``file_name`` relative to the split
    folder: what Hugging Face ``datasets`` reads per split). Atomic: an exception leaves the old
    files as they were.
    """
    folder = Path(folder)
    split_i, file_i = mf.COLUMNS.index("split"), mf.COLUMNS.index("file_name")
    tally = Tally()
    with contextlib.ExitStack() as stack:
        fm = stack.enter_context(atomic_open(folder / mf.METADATA, "w", tmp_dir=tmp_dir))
        fs = stack.enter_context(atomic_open(folder / mf.SKIPPED, "w", tmp_dir=tmp_dir))
        wm, ws = mf.csv_writer(fm), mf.csv_writer(fs)
        wm.writerow(mf.COLUMNS)
        ws.writerow(mf.SKIP_COLUMNS)
        split_writers = {}

        def split_writer(split):
            if split not in split_writers:
                (folder / split).mkdir(exist_ok=True)
                f = stack.enter_context(atomic_open(folder / split / mf.METADATA, "w", tmp_dir=tmp_dir))
                split_writers[split] = mf.csv_writer(f)
                split_writers[split].writerow(mf.COLUMNS)
            return split_writers[split]

        for _source, rows, skips in records:
            for cells in rows:
                wm.writerow(cells)
                if split_files:
                    split = cells[split_i]
                    local = list(cells)
                    local[file_i] = cells[file_i][len(split) + 1:]
                    split_writer(split).writerow(local)
            ws.writerows(skips)
            tally.add(rows, skips)
    return tally


# --------------------------------------------------------------------------- finished sources


class _Cursor:
    """Sorted (source, payload) stream with look-ups in increasing source order."""

    def __init__(self, stream):
        self.stream = iter(stream)
        self.head = next(self.stream, None)

    def take(self, source: str):
        key = sort_key(source)
        while self.head is not None and sort_key(self.head[0]) < key:
            self.head = next(self.stream, None)
        if self.head is not None and self.head[0] == source:
            return self.head
        return None


class DoneIndex:
    """Whether a source is finished: a part file without retry, else the newest manifest that
    lists it (``manifests``: folders, newest first) has rows for it or only skips that a rerun
    does not retry. Look-ups must come in increasing source order."""

    def __init__(self, parts: Path, manifests: Iterable[Path]):
        self.parts = Path(parts)
        self.cursors = [_Cursor(manifest_records(m)) for m in manifests]
        self.kind_col = mf.SKIP_COLUMNS.index("kind")

    def done(self, source: str) -> bool:
        found = [c.take(source) for c in self.cursors]
        part = part_path(self.parts, source)
        if part.is_file():
            try:
                return not json.loads(part.read_text(encoding="utf-8")).get("retry", False)
            except (OSError, ValueError):
                return False
        for record in found:
            if record is not None:
                _, rows, skips = record
                if rows:
                    return True
                return not any(s[self.kind_col] in RETRY_KINDS for s in skips)
        return False


def pending(tasks: Iterable[tuple], parts: Path, manifests: Iterable[Path]) -> Iterator[tuple]:
    """The tasks (in walk order) whose source is not finished."""
    done = DoneIndex(parts, manifests)
    for task in tasks:
        if not done.done(task[0]):
            yield task

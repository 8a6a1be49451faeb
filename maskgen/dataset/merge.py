"""``maskgen merge OUT``: the shards of an array job (``maskgen augment --shard I/N``) joined into one dataset.

A shard run processes the sources whose path hashes to shard I of N
(:func:`maskgen.dataset.shards.shard_of`), writes their images to their final place in OUT, and records
them in ``OUT/shards/I-of-N/`` (``settings.json``, ``metadata.csv``, ``skipped.csv`` and, once the
shard has no source left to do, ``shard.json``). :func:`merge_shards` checks that the N shards
are all there, finished, made with the same settings and holding only their own sources, then
joins their manifests (and the manifest of an earlier merge, if any) in source order into
``OUT/metadata.csv``, ``skipped.csv``, each split's ``metadata.csv`` and the COCO files: the
bytes a whole run with the same settings writes. The shard folders are removed afterwards.
"""
from __future__ import annotations

import collections
import shutil
import time
from pathlib import Path

from maskgen.atomic import write_json_atomic
from maskgen.dataset import manifest as mf
from maskgen.dataset.layout import (DatasetError, describe_difference, is_locked, locked, read_json, same_settings,
                                    shard_folders)
from maskgen.dataset.parts import TMP_DIR, combine, manifest_records, write_manifest
from maskgen.dataset.shards import SHARD_FILE, SHARDS_DIR, parse_shard_name, shard_name, shard_of
from maskgen.dataset.summary import Summary


def merge_shards(out):
    """Join the finished shards in ``OUT/shards/`` into OUT's manifest and COCO files.

    Raises :class:`~maskgen.dataset.layout.DatasetError` (and changes nothing) when there are no shards,
    when shards are missing, unfinished or still running, made with different settings, of
    different splits (``0-of-3`` next to ``0-of-4``), or holding sources of another shard
    (a duplicated or renamed shard folder).
    """
    t0 = time.perf_counter()
    out = Path(out)
    if not out.is_dir():
        raise DatasetError(f"OUT does not exist: {out}")
    rout = out.resolve()
    summary = Summary(out=out, workers=0)
    with locked(rout, str(out)):
        shards, count = _find(rout, out)
        reference = _check_settings(rout, shards)
        _check_complete(rout, shards, count)
        _check_membership(shards, count)
        tmp = rout / TMP_DIR
        if tmp.is_dir():
            shutil.rmtree(tmp)
        tmp.mkdir()
        ordered = sorted(shards)

        def duplicate(source, streams):  # cannot happen after the membership check: a safety net
            raise DatasetError(f"source {source!r} is in more than one shard "
                               f"({', '.join(shard_name(ordered[i]) for i in streams)})")

        records = combine([manifest_records(shards[s]) for s in ordered], [manifest_records(rout)], duplicate)
        summary.set_dataset(write_manifest(rout, records, tmp_dir=tmp, split_files=True))
        if not (rout / mf.SETTINGS).is_file():
            write_json_atomic(rout / mf.SETTINGS, reference, tmp)
        if (reference.get("config") or {}).get("crop", "full") == "full":
            summary.coco = mf.write_coco(rout, reference.get("splits") or ["train", "val", "test"], tmp_dir=tmp)
        shutil.rmtree(rout / SHARDS_DIR, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    summary.merged_shards = count
    summary.wall_seconds = time.perf_counter() - t0
    return summary


def _find(rout: Path, out: Path) -> tuple[dict[tuple[int, int], Path], int]:
    names = shard_folders(rout)
    if not names:
        merged = (rout / mf.METADATA).is_file()
        raise DatasetError(f"no shards to merge in {out} (no {SHARDS_DIR}/I-of-N folders)"
                           + ("; its manifest is there: merged already?" if merged else ""))
    shards, bad = {}, []
    for name in names:
        shard = parse_shard_name(name)
        if shard is not None:
            shards[shard] = rout / SHARDS_DIR / name
        else:
            bad.append(name)
    if bad:
        raise DatasetError(f"unexpected folders in {out / SHARDS_DIR}: {', '.join(bad)} "
                           "(only the I-of-N folders of shard runs belong there)")
    counts = collections.defaultdict(list)
    for i, n in sorted(shards):
        counts[n].append(shard_name((i, n)))
    if len(counts) > 1:
        raise DatasetError(
            "duplicated shards: shards of different splits cover the same sources ("
            + "; ".join(f"into {n}: {', '.join(names)}" for n, names in sorted(counts.items()))
            + "); keep the shards of one split and delete the other folders")
    return shards, next(iter(counts))


def _check_settings(rout: Path, shards: dict) -> dict:
    records = {s: read_json(path / mf.SETTINGS) for s, path in sorted(shards.items())}
    reference = read_json(rout / mf.SETTINGS)
    if reference is None:
        reference = next((r for r in records.values() if r is not None), None)
    if reference is None:
        raise DatasetError(f"no shard in {rout / SHARDS_DIR} has a readable {mf.SETTINGS}")
    different = {s: r for s, r in records.items() if not same_settings(r, reference, strict=True)}
    if different:
        against = "the dataset in OUT" if (rout / mf.SETTINGS).is_file() else shard_name(
            next(s for s, r in records.items() if r is reference))
        raise DatasetError(
            "shards made with different settings cannot be merged: "
            + "; ".join(f"{shard_name(s)} differs from {against} ({describe_difference(reference, r, strict=True)})"
                        for s, r in different.items())
            + "; rerun those shards with the same settings (delete their folders first)")
    return reference


def _check_complete(rout: Path, shards: dict, count: int) -> None:
    running = [shard_name(s) for s, path in sorted(shards.items()) if is_locked(path)]
    if running:
        raise DatasetError(f"shards still running: {', '.join(running)}; merge when they have finished")
    problems = []
    for i in range(count):
        s = (i, count)
        if s not in shards:
            problems.append(f"{shard_name(s)} (never run)")
            continue
        marker = read_json(shards[s] / SHARD_FILE)
        if marker is None:
            problems.append(f"{shard_name(s)} (not finished: interrupted or failed; run it again)")
        elif not marker.get("complete"):
            left = marker.get("pending", "?")
            problems.append(f"{shard_name(s)} (not finished: {left} source{'' if left == 1 else 's'} left; "
                            "run it again without --limit)")
    if problems:
        raise DatasetError(f"missing shards ({len(problems)} of {count}): " + ", ".join(problems)
                           + f"; run them (--shard I/{count}), then merge again")


def _check_membership(shards: dict, count: int) -> None:
    """Every source in a shard's manifest hashes to that shard (else a folder was copied or renamed)."""
    wrong = []
    for s, path in sorted(shards.items()):
        owners = collections.Counter()
        for source, _, _ in manifest_records(path):
            owner = shard_of(source, count)
            if owner != s[0]:
                owners[owner] += 1
        if owners:
            wrong.append(f"{shard_name(s)} holds " + ", ".join(
                f"{n} source{'s' if n != 1 else ''} of shard {shard_name((o, count))}" for o, n in sorted(owners.items())))
    if wrong:
        raise DatasetError("duplicated or misplaced shards: " + "; ".join(wrong)
                           + " (a shard folder copied or renamed?); delete those folders and rerun the shards")

"""From a folder of face photos to a labelled masked-face dataset: :func:`build_dataset`.

Per source image: read → find faces → mask (``--variants`` times) → augment → (crop) → write,
plus unmasked negatives augmented the same way. See ``docs/dataset.md`` for the layout, the
manifest columns, splits, determinism and resume, and ``docs/scale.md`` for clusters and shards.

The data flow, one module per step:

* :mod:`maskgen.dataset.sources` walks SRC and gives each source its seed, split and shard;
* :mod:`maskgen.dataset.layout` checks OUT (``settings.json``, the lock, shard folders);
* :mod:`maskgen.dataset.job` is the per-image job, run by an engine: :mod:`maskgen.dataset.local_runner` (this process
  or local worker processes) or :mod:`maskgen.dataset.dask_runner` (a dask cluster, imported only when asked);
* :mod:`maskgen.dataset.parts` keeps the part files (the record of a run in progress, what resume reads)
  and merges them in source order into the manifest; :mod:`maskgen.dataset.shards` joins array-job shards.

How the guarantees are kept:

* **Determinism.** Every random choice for a source comes from generators seeded by the
  source's own seed (a hash of the run seed and the source's path relative to SRC) and a fixed
  purpose key, never from processing order; so any engine, worker count or sharding gives the
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

import collections
import dataclasses
import itertools
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from maskgen.dataset import manifest as mf
from maskgen.images import DEFAULT_MAX_PIXELS, SUPPORTED_EXTENSIONS
from maskgen.dataset.layout import (SHARD_FILE, DatasetError, Target, check, check_paths, locked, prepare, settings_record,
                     write_json)
from maskgen.dataset.parts import (PARTS_DIR, RETRY_KINDS, TMP_DIR, combine, manifest_records, part_records, pending,
                    write_manifest)
from maskgen.dataset.local_runner import default_workers, mp_context, pool_results, prestart_workers
from maskgen.dataset.sources import (SPLIT_NAMES, identity_of, iter_sources, parse_shard, parse_split, shard_name,
                      source_seed, split_of, walk_sources)
from maskgen.dataset.job import STAGES

__all__ = ["DatasetConfig", "DatasetError", "Summary", "build_dataset", "parse_split", "resolve_augment",
           "source_seed", "identity_of", "split_of", "iter_sources", "prestart_workers", "default_workers",
           "ENGINES"]

LABELS = mf.LABELS
CROP_MODES = ("full", "face")
OUTPUT_FORMATS = ("jpg", "png", "webp")
ENGINES = ("local", "dask")


# --------------------------------------------------------------------------- configuration


@dataclass
class DatasetConfig:
    """Everything that decides a dataset's content (``OUT/settings.json`` keeps it).

    mask_type, color, texture, texture_strength, wear, shape_jitter: as in
    :class:`maskgen.MaskOptions` (``wear`` may be a mix such as ``'correct=0.7,nose=0.2,chin=0.1'``).
    seed: the run seed; each source's seed derives from it and the source's relative path.
    detector, upsample: face detection (``hog``, ``cnn`` or ``none`` for face crops).
    crop: ``'full'`` (whole images, every face masked; COCO export) or ``'face'`` (one square
    crop per face with a random margin, resized to ``crop_size``).
    variants: masked variants per source image (full) or per face (face).
    negatives: unmasked (``without_mask``) outputs per masked variant; fractions are drawn
    per source, e.g. 0.5 gives a negative for about half the sources.
    split: train/val/test fractions, assigned by identity (first-level subfolder, else the image).
    augment: ``'none'``, ``'light'``, ``'heavy'``, a config file path, or a spec dict.
    min_visible: a face whose box keeps less than this fraction inside the frame after
    augmentation is dropped (and listed in skipped.csv).
    image_format, quality: output encoding (``jpg``, ``png`` or ``webp``; quality for jpg/webp).
    max_pixels: larger sources are skipped before decoding (None: no limit).
    """

    mask_type: str = "random"
    color: str | None = None
    texture: str | None = None
    texture_strength: float | None = None
    wear: str | dict = "correct"
    shape_jitter: float = 1.0
    seed: int = 0
    detector: str = "hog"
    upsample: int = 1
    crop: str = "full"
    crop_size: int = 224
    variants: int = 1
    negatives: float = 1.0
    split: tuple[float, ...] | str = (0.8, 0.1, 0.1)
    augment: str | dict = "light"
    min_visible: float = 0.5
    image_format: str = "jpg"
    quality: int = 95
    max_pixels: int | None = DEFAULT_MAX_PIXELS

    def validated(self) -> "DatasetConfig":
        """A checked copy with normalised values; ValueError with a clear message if something is wrong."""
        from maskgen.detect.faces import DETECTORS
        from maskgen.mask.options import parse_wear, sample_attributes

        c = dataclasses.replace(self)
        if not isinstance(c.mask_type, str):
            c.mask_type = ",".join(c.mask_type)
        c.mask_type = ",".join(t.strip() for t in c.mask_type.split(",") if t.strip()) or "random"
        if isinstance(c.wear, dict):
            c.wear = ",".join(f"{k}={v}" for k, v in c.wear.items())
        weights = parse_wear(c.wear)
        c.wear = ",".join(f"{k}={round(v, 6):g}" for k, v in weights.items())
        if c.texture not in (None, "none", "random") and os.path.isfile(str(c.texture)):
            c.texture = str(Path(c.texture).resolve())
        if c.texture_strength is not None:
            c.texture_strength = float(c.texture_strength)
            if not 0 <= c.texture_strength <= 1:
                raise ValueError(f"texture strength must be in 0..1, got {c.texture_strength}")
        # mask type, colour, texture and wear are checked by sampling once
        sample_attributes(c.mask_options(c.wear), np.random.default_rng(0))
        c.seed = int(c.seed)
        if c.detector not in DETECTORS:
            raise ValueError(f"unknown detector {c.detector!r}; choose from {', '.join(DETECTORS)}")
        c.upsample = int(c.upsample)
        if not 0 <= c.upsample <= 4:
            raise ValueError(f"upsample must be 0..4, got {c.upsample}")
        if c.crop not in CROP_MODES:
            raise ValueError(f"unknown crop mode {c.crop!r}; choose from {', '.join(CROP_MODES)}")
        c.crop_size = int(c.crop_size)
        if not 16 <= c.crop_size <= 4096:
            raise ValueError(f"crop size must be 16..4096, got {c.crop_size}")
        c.variants = int(c.variants)
        if c.variants < 1:
            raise ValueError(f"variants must be at least 1, got {c.variants}")
        c.negatives = float(c.negatives)
        if not (math.isfinite(c.negatives) and 0 <= c.negatives <= 100):
            raise ValueError(f"negatives ratio must be 0..100, got {c.negatives}")
        c.split = parse_split(c.split)
        c.augment = resolve_augment(c.augment)
        c.min_visible = float(c.min_visible)
        if not 0 <= c.min_visible <= 1:
            raise ValueError(f"min_visible must be in 0..1, got {c.min_visible}")
        c.image_format = str(c.image_format).lower().lstrip(".")
        if c.image_format == "jpeg":
            c.image_format = "jpg"
        if c.image_format not in OUTPUT_FORMATS:
            raise ValueError(f"unknown output format {c.image_format!r}; choose from {', '.join(OUTPUT_FORMATS)}")
        c.quality = int(c.quality)
        if not 1 <= c.quality <= 100:
            raise ValueError(f"quality must be 1..100, got {c.quality}")
        if c.max_pixels is not None:
            c.max_pixels = int(c.max_pixels)
            if c.max_pixels <= 0:
                c.max_pixels = None
        return c

    def mask_options(self, wear=None):
        """The :class:`maskgen.MaskOptions` for one mask call (``wear`` overrides the mix)."""
        from maskgen.mask.options import MaskOptions

        return MaskOptions(mask_type=self.mask_type, color=self.color, texture=self.texture,
                           texture_strength=self.texture_strength, wear=self.wear if wear is None else wear,
                           shape_jitter=self.shape_jitter)

    @property
    def split_names(self) -> tuple[str, ...]:
        return SPLIT_NAMES[:len(parse_split(self.split))]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["split"] = list(d["split"]) if not isinstance(d["split"], str) else d["split"]
        return d


def resolve_augment(value):
    """A preset name stays a name; a file path becomes its checked spec dict; a dict is checked."""
    from maskgen.augment import PRESETS, load_augment_config, validate_spec

    if isinstance(value, dict):
        return validate_spec(value)
    value = str(value)
    if value in PRESETS:
        return value
    if os.path.isfile(value):
        return load_augment_config(value)
    raise ValueError(f"augmentation {value!r} is neither a preset ({', '.join(PRESETS)}) nor a file")


# --------------------------------------------------------------------------- summary


@dataclass
class Summary:
    """What a run did and what the dataset now holds.

    ``counts[split][label]``, ``outputs``, ``skips[kind]`` and ``sources_*`` describe the whole
    dataset in OUT after the run (the merged manifest; for a shard run, the shard's part of it);
    ``processed``, ``run_*`` and ``timings`` (seconds summed over workers, per stage) describe
    this run only. ``engine`` is ``'local'`` or ``'dask'``; ``shard`` is ``(I, N)`` for a shard
    run; ``merged_shards`` is N for ``maskgen merge``.
    """

    out: Path
    workers: int = 1
    processed: int = 0
    already_done: int = 0
    run_outputs: int = 0
    run_skips: dict = field(default_factory=collections.Counter)
    timings: dict = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    wall_seconds: float = 0.0
    sources_total: int = 0
    sources_with_output: int = 0
    outputs: int = 0
    counts: dict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    skips: dict = field(default_factory=collections.Counter)
    coco: dict = field(default_factory=dict)
    interrupted: bool = False
    engine: str = "local"
    shard: tuple[int, int] | None = None
    merged_shards: int = 0

    @property
    def images_per_second(self) -> float:
        return self.processed / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def format(self) -> str:
        if self.merged_shards:
            lines = [f"maskgen merge: {self.merged_shards} shard{'s' if self.merged_shards != 1 else ''} "
                     f"joined in {self.wall_seconds:.1f} s"]
        else:
            kind = " dask" if self.engine == "dask" else ""
            lines = [f"maskgen augment: {self.processed} source images processed in {self.wall_seconds:.1f} s "
                     f"({self.images_per_second:.2f} images/s, {self.workers}{kind} worker"
                     f"{'s' if self.workers != 1 else ''}); {self.already_done} already done before this run"]
        if self.shard is not None:
            i, n = self.shard
            lines.append(f"shard {i}/{n} in {Path(self.out) / 'shards' / shard_name(self.shard)}: {self.outputs} "
                         f"images from {self.sources_with_output} of {self.sources_total} sources "
                         f"(`maskgen merge {self.out}` joins the shards once all {n} are done)")
        else:
            lines.append(f"dataset in {self.out}: {self.outputs} images from {self.sources_with_output} of "
                         f"{self.sources_total} sources")
        if self.counts:
            header = f"  {'split':<8}" + "".join(f"{lab:>16}" for lab in LABELS) + f"{'total':>8}"
            lines.append(header)
            for split in [s for s in SPLIT_NAMES if s in self.counts]:
                c = self.counts[split]
                lines.append(f"  {split:<8}" + "".join(f"{c.get(lab, 0):>16}" for lab in LABELS)
                             + f"{sum(c.values()):>8}")
        if self.skips:
            lines.append("skipped (see skipped.csv): " + ", ".join(
                f"{kind} {n}" for kind, n in sorted(self.skips.items(), key=lambda t: (-t[1], t[0]))))
        else:
            lines.append("skipped: none")
        if self.processed:
            total = sum(self.timings.values()) or 1.0
            lines.append("time per stage, this run (s summed over workers, ms per source, share): " + ", ".join(
                f"{s} {self.timings[s]:.1f} ({1000 * self.timings[s] / self.processed:.0f}, "
                f"{100 * self.timings[s] / total:.0f}%)" for s in STAGES))
        for split, path in self.coco.items():
            lines.append(f"COCO {split}: {path}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- the run


def _message(report_skip) -> str:
    source, face, variant, _, reason = report_skip
    where = source
    if face:
        where += f" (face {face}" + (f", variant {variant}" if variant else "") + ")"
    return f"skipped {where}: {reason}"


def _merge(src: Path, target: Target, stats: Summary) -> None:
    """Merge the manifest already in the target and the part files into the target's manifest.

    A streaming merge by source order: a source's part file wins over its old rows. A whole run
    also writes each split's ``metadata.csv``; a shard writes only its own partial manifest.
    """
    records = combine([part_records(src, target.parts, target.shard)], [manifest_records(target.root)])
    write_manifest(target.root, records, stats, tmp_dir=target.tmp, split_files=target.shard is None)


def _engine_results(engine: str, tasks, workers: int, total: int, scheduler, state: dict, summary: Summary,
                    log) -> Iterator[dict]:
    """The reports of the chosen engine; sets ``summary.workers`` to the workers it uses."""
    if engine == "local" or total == 0:
        summary.workers = max(1, min(workers, total))  # no idle workers for a short run
        yield from pool_results(tasks, summary.workers, state)
        return
    from maskgen.dataset.dask_runner import DaskEngine

    with DaskEngine(max(1, min(workers, total)), scheduler, log=log) as cluster:
        summary.workers = cluster.worker_count
        yield from cluster.results(tasks, state)


def build_dataset(src, out, config: DatasetConfig | None = None, workers: int | None = None,
                  progress: bool = True, limit: int | None = None, overwrite: bool = False,
                  messages: bool = True, log: Callable[[str], None] | None = None, engine: str = "local",
                  scheduler=None, shard=None) -> Summary:
    """Build (or resume) a labelled masked-face dataset from the photos under ``src`` into ``out``.

    ``workers`` processes (default: all cores; 1 runs in this process). ``limit`` processes at
    most that many new sources (a trial run; a later run carries on). ``overwrite`` deletes a
    previous dataset in ``out`` first; without it, finished sources are skipped and OUT's
    settings must match ``config``. ``progress`` shows a tqdm bar on stderr; ``messages``
    prints one line per skip (through ``log``, default stderr). Raises :class:`DatasetError`
    for usage problems; a KeyboardInterrupt leaves OUT resumable.

    ``engine``: ``'local'`` (this machine's cores) or ``'dask'`` (tasks on a dask.distributed
    cluster: a local cluster of ``workers`` processes, or the one whose scheduler is
    ``scheduler``, an address or a ``distributed.Client``). Both write the same bytes.

    ``shard``: ``'I/N'`` (or ``(I, N)``) processes only the sources of shard I of N (a hash of
    each source's path) and records them in ``OUT/shards/I-of-N/`` without the final merge;
    :func:`maskgen.dataset.shards.merge_shards` (``maskgen merge OUT``) joins the N shards into the
    dataset a whole run would have written.
    """
    t_start = time.perf_counter()
    engine = str(engine).lower()
    if engine not in ENGINES:
        raise DatasetError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if scheduler is not None and engine != "dask":
        raise DatasetError("a scheduler address is for the dask engine (engine='dask', --engine dask)")
    try:
        shard = parse_shard(shard)
    except ValueError as e:
        raise DatasetError(str(e)) from None
    workers = default_workers() if workers is None else max(1, int(workers))
    if limit is not None and int(limit) < 0:
        raise DatasetError(f"limit must be 0 or more, got {limit}")
    src, out = Path(src), Path(out)
    rsrc, rout = check_paths(src, out)
    if engine == "local" and workers > 1:  # the fork server loads modules and models while this process gets ready
        mp_context(str((config or DatasetConfig()).detector))
    try:
        cfg = (config or DatasetConfig()).validated()
    except ValueError as e:
        raise DatasetError(str(e)) from None
    if engine == "dask":
        try:
            from maskgen.dataset import dask_runner as scale  # noqa: F401  (fails early when dask is not installed)
        except ImportError as e:
            raise DatasetError(str(e)) from None
    if log is None:
        from tqdm import tqdm

        def log(line):
            tqdm.write(line, file=sys.stderr)

    if next(iter(walk_sources(rsrc)), None) is None and not (rout / mf.METADATA).is_file():
        raise DatasetError(f"no images found in {src} (extensions: {' '.join(SUPPORTED_EXTENSIONS)})")
    target = Target(rout, shard)
    record = settings_record(cfg, rsrc)
    check(target, record, overwrite)  # before anything is written in OUT
    out.mkdir(parents=True, exist_ok=True)
    summary = Summary(out=out, workers=workers, engine=engine, shard=shard)
    what = str(out) if shard is None else f"shard {shard_name(shard)} of {out}"
    with locked(target.root, what):
        prepare(target, record, overwrite)
        src_root = rsrc.parent if rsrc.is_file() else rsrc
        candidates = sum(1 for _ in walk_sources(rsrc, shard))
        pending_n = sum(1 for _ in pending(walk_sources(rsrc, shard), target.parts, target.manifests))
        summary.already_done = candidates - pending_n
        total = pending_n if limit is None else min(pending_n, int(limit))
        state = {"src_root": str(src_root), "out": str(rout), "parts": str(target.parts), "tmp": str(target.tmp),
                 "config": cfg.to_dict()}
        tasks = itertools.islice(pending(walk_sources(rsrc, shard), target.parts, target.manifests), total)
        from tqdm import tqdm

        bar = tqdm(total=total, unit="img", desc="maskgen augment", file=sys.stderr, disable=not progress,
                   dynamic_ncols=True, mininterval=0.5, smoothing=0.05)
        try:
            for report in _engine_results(engine, tasks, workers, total, scheduler, state, summary, log):
                summary.processed += 1
                summary.run_outputs += sum(report["labels"].values())
                for key, seconds in report["timings"].items():
                    summary.timings[key] += seconds
                for s in report["skips"]:
                    summary.run_skips[s[3]] += 1
                    if messages:
                        log(_message(s))
                bar.update(1)
        except KeyboardInterrupt:
            summary.interrupted = True
            raise
        finally:
            bar.close()
            summary.wall_seconds = time.perf_counter() - t_start
        _merge(rsrc, target, summary)
        if shard is None:
            if cfg.crop == "full":
                summary.coco = mf.write_coco(rout, cfg.split_names, tmp_dir=target.tmp)
        else:
            left = pending_n - summary.processed
            write_json(target.root / SHARD_FILE, {"format": "maskgen-shard/1", "shard": shard[0], "of": shard[1],
                                                  "complete": left == 0, "pending": left,
                                                  "sources": summary.sources_total}, target.tmp)
        shutil.rmtree(target.parts, ignore_errors=True)
        shutil.rmtree(target.tmp, ignore_errors=True)
    summary.wall_seconds = time.perf_counter() - t_start
    return summary

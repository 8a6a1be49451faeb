"""From a folder of face photos to a labelled masked-face dataset: :func:`build_dataset`.

Per source image: read → find faces → mask (``--variants`` times) → augment → (crop) → write,
plus unmasked negatives augmented the same way. See ``docs/dataset.md`` for the layout, the
manifest columns, splits, determinism and resume.

How the guarantees are kept:

* **Determinism.** Every random choice for a source comes from generators seeded by the
  source's own seed (a hash of the run seed and the source's path relative to SRC) and a fixed
  purpose key, never from processing order; so any ``workers`` gives the same bytes.
* **Streaming.** SRC is walked lazily in sorted order; at most ``2 × workers`` sources are in
  flight; per-source results go to small part files, and the final manifest is a streaming
  merge. Memory does not grow with the number of images.
* **Resume.** A source is finished when its part file (``OUT/.parts/``) exists, or when it is
  listed in ``metadata.csv`` / ``skipped.csv``. Images are written atomically before the part
  file, so a killed run leaves no half-finished source behind, and a rerun ends with the same
  bytes as an uninterrupted run.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import heapq
import itertools
import json
import math
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

import numpy as np

from . import manifest as mf
from .imageio import DEFAULT_MAX_PIXELS, SUPPORTED_EXTENSIONS, ImageReadError, atomic_open, is_supported

SPLIT_NAMES = ("train", "val", "test")
LABELS = mf.LABELS
CROP_MODES = ("full", "face")
OUTPUT_FORMATS = ("jpg", "png", "webp")
STAGES = ("read", "detect", "mask", "augment", "write")
PARTS_DIR = ".parts"
TMP_DIR = ".tmp"
LOCK_FILE = ".lock"
RETRY_KINDS = ("error", "io_error")  # skips that a rerun tries again

# purpose keys of the per-source random streams (never renumber: outputs depend on them)
_WEAR, _MASK, _AUG, _CROP, _NEG, _NEG_AUG, _NEG_CROP = range(1, 8)


class DatasetError(ValueError):
    """A usage problem: bad paths, bad settings, settings that differ from OUT's, no images."""


# --------------------------------------------------------------------------- configuration


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
        from .faces import DETECTORS
        from .options import parse_wear, sample_attributes

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
        from .options import MaskOptions

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
    from .augment import PRESETS, load_augment_config, validate_spec

    if isinstance(value, dict):
        return validate_spec(value)
    value = str(value)
    if value in PRESETS:
        return value
    if os.path.isfile(value):
        return load_augment_config(value)
    raise ValueError(f"augmentation {value!r} is neither a preset ({', '.join(PRESETS)}) nor a file")


# --------------------------------------------------------------------------- seeds and splits


def _hash_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") >> 1


def source_seed(seed: int, source: str) -> int:
    """The per-image seed (63-bit) from the run seed and the source's relative POSIX path."""
    return _hash_int(f"maskgen/source/{int(seed)}/{source}")


def identity_of(source: str) -> str:
    """The identity a source belongs to: its first-level subfolder, else the image itself."""
    parts = source.split("/")
    return parts[0] if len(parts) > 1 else source


def split_of(source: str, seed: int, fractions) -> str:
    """The split of a source: a hash of the seed and its identity, bucketed by ``fractions``."""
    fractions = parse_split(fractions)
    u = _hash_int(f"maskgen/split/{int(seed)}/{identity_of(source)}") / 2.0 ** 63
    cumulative = 0.0
    last = max(i for i, f in enumerate(fractions) if f > 0)
    for i, f in enumerate(fractions):
        cumulative += f
        if f > 0 and (u < cumulative or i == last):
            return SPLIT_NAMES[i]
    return SPLIT_NAMES[last]


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


# --------------------------------------------------------------------------- walking


def _sort_key(source: str) -> tuple[str, ...]:
    return tuple(source.split("/"))


def iter_sources(src) -> Iterator[tuple[str, str | None]]:
    """``(relative POSIX path, error)`` for every candidate image under ``src``, in sorted order.

    Lazy: one folder listing at a time. Hidden files and folders (names starting with '.') are
    left out, directory symlinks are not followed, file symlinks are. A folder that cannot be
    listed is yielded with the error text. A single file yields its own name.
    """
    for source, error, _ in _walk(src):
        yield source, error


def _walk(src) -> Iterator[tuple[str, str | None, str]]:
    """:func:`iter_sources` plus each source's output stem: its file stem, with the extension
    appended (``photo_png``) when a sibling image shares the stem (``photo.jpg``, ``photo.png``)."""
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


# --------------------------------------------------------------------------- per-source work

_STATE: dict | None = None


def _init_worker(state: dict, in_process: bool = False) -> None:
    global _STATE
    _STATE = dict(state)
    _STATE["config"] = DatasetConfig(**state["config"])
    if not in_process:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
        import cv2

        cv2.setNumThreads(1)
        _warm_up(_STATE["config"])


def _warm_up(cfg: DatasetConfig) -> None:
    """Load the models once per worker, before the first image (keeps stage timings honest)."""
    _load_models(cfg.detector)


def _load_models(detector: str) -> None:
    try:
        from . import faces

        faces._load("landmarks")
        if detector in ("hog", "cnn"):
            faces._load(detector)
    except Exception:
        pass  # the first image reports the problem with its file name


def _part_path(out: Path, source: str) -> Path:
    h = hashlib.sha1(source.encode("utf-8")).hexdigest()
    return out / PARTS_DIR / h[:2] / f"{h}.json"


def _out_path(split: str, label: str, source: str, name: str) -> str:
    parent = PurePosixPath(source).parent
    parts = [split, label] + ([str(parent)] if str(parent) != "." else []) + [name]
    return "/".join(parts)


def _negative_count(cfg: DatasetConfig, seed: int) -> int:
    expected = cfg.negatives * cfg.variants
    whole = int(math.floor(expected))
    frac = expected - whole
    draw = float(_rng(seed, _NEG).random())
    return whole + (1 if draw < frac else 0)


def _pick_wear(cfg: DatasetConfig, rng: np.random.Generator) -> str:
    from .options import parse_wear

    weights = parse_wear(cfg.wear)
    names = list(weights)
    return names[int(rng.choice(len(names), p=np.array([weights[n] for n in names])))]


def _crop_face(image, box, landmarks, rng, size):
    from .crops import crop_square, sample_square

    square = sample_square(box, rng)
    crop = crop_square(image, square, size)
    x0, y0, x1, y1 = (float(v) for v in square)
    side = max(1, int(round(x1 - x0)))
    scale = size / side
    lm = (np.asarray(landmarks, np.float64) - [x0, y0]) * scale
    lm = np.clip(lm, 0, size - 1)
    b = (np.asarray(box, np.float64) - [x0, y0, x0, y0]) * scale
    b = np.clip(b, 0, size)
    return crop, b, lm


class _Work:
    """Processing of one source (inside a worker process)."""

    def __init__(self, source: str, stem: str):
        st = _STATE
        self.cfg: DatasetConfig = st["config"]
        self.out = Path(st["out"])
        self.tmp = self.out / TMP_DIR
        self.source = source
        self.seed = source_seed(self.cfg.seed, source)
        self.split = split_of(source, self.cfg.seed, self.cfg.split)
        self.stem = stem
        self.rows: list[dict] = []
        self.skips: list[list] = []
        self.timings = dict.fromkeys(STAGES, 0.0)
        self.retry = False

    @contextlib.contextmanager
    def stage(self, name):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] += time.perf_counter() - t0

    def skip(self, kind: str, reason: str, face_index=None, variant=None):
        self.skips.append([self.source, "" if face_index is None else str(face_index),
                           "" if variant is None else str(variant), kind, reason])

    def write(self, label: str, name: str, image: np.ndarray) -> str:
        from .imageio import write_image_atomic

        rel = _out_path(self.split, label, self.source, f"{name}.{self.cfg.image_format}")
        path = self.out / rel
        with self.stage("write"):
            path.parent.mkdir(parents=True, exist_ok=True)
            write_image_atomic(path, image, quality=self.cfg.quality, tmp_dir=self.tmp)
        return rel

    def row(self, rel, label, variant, image, face_index, box, landmarks, attrs, applied) -> dict:
        """A manifest row; per-face arguments are lists in full mode, single values in crop mode."""
        h, w = image.shape[:2]
        full = self.cfg.crop == "full"

        def attr(name):
            if attrs is None:  # a negative: "none" rather than empty, so column types never change
                none = 0.0 if name == "texture_strength" else "none"
                return [none] * len(box) if full else none
            return [getattr(a, name) for a in attrs] if full else getattr(attrs, name)

        return {
            "file_name": rel, "label": label, "split": self.split, "source": self.source,
            "face_index": face_index, "variant": variant, "width": w, "height": h,
            "box": [mf.box_json(b) for b in box] if full else mf.box_json(box),
            "landmarks": [mf.points_json(p) for p in landmarks] if full else mf.points_json(landmarks),
            "mask_type": attr("mask_type"), "color": attr("color"), "color_name": attr("color_name"),
            "texture": attr("texture"), "texture_strength": attr("texture_strength"), "wear": attr("wear"),
            "seed": self.seed, "augment": list(applied),
        }

    def run(self, walk_error: str | None) -> None:
        from .imageio import read_image

        cfg = self.cfg
        if walk_error:
            self.retry = True
            self.skip("io_error", walk_error)
            return
        path = Path(_STATE["src_root"]) / self.source
        with self.stage("read"):
            try:
                image = read_image(path, max_pixels=cfg.max_pixels)
            except ImageReadError as e:
                self.retry = e.kind in RETRY_KINDS
                self.skip(e.kind, e.reason)
                return
        from .faces import find_faces

        with self.stage("detect"):
            faces = find_faces(image, detector=cfg.detector, upsample=cfg.upsample)
        if not faces:
            self.skip("no_face", f"no face found (detector {cfg.detector}, upsample {cfg.upsample})")
            return
        good = []
        for i, face in enumerate(faces):
            if face.rejected:
                self.skip("face_rejected", face.rejected, face_index=i)
            else:
                good.append((i, face))
        if not good:
            return
        for k in range(cfg.variants):
            self.masked_variant(image, good, k)
        for j in range(_negative_count(cfg, self.seed)):
            self.negative(image, good, j)

    def _augment(self, image, landmarks, boxes, rng):
        from .augment import augment

        with self.stage("augment"):
            return augment(image, landmarks, boxes, preset=self.cfg.augment, rng=rng)

    def masked_variant(self, image, good, k: int) -> None:
        from .engine import mask_faces
        from .options import WEAR_LABELS

        cfg = self.cfg
        full = cfg.crop == "full"
        wear = _pick_wear(cfg, _rng(self.seed, _WEAR, k)) if full else cfg.wear
        with self.stage("mask"):
            result = mask_faces(image, faces=[f for _, f in good], options=cfg.mask_options(wear),
                                rng=_rng(self.seed, _MASK, k))
        index = {id(f): i for i, f in good}
        for face, reason in result.skipped:
            self.skip("mask_failed", reason, face_index=index.get(id(face), _match(face, good)), variant=k)
        masked = [(index.get(id(m.face), _match(m.face, good)), m) for m in result.faces]
        if not masked:
            return
        aug = self._augment(result.image, [m.face.landmarks for _, m in masked],
                            [m.face.box for _, m in masked], _rng(self.seed, _AUG, k))
        keep = []
        for j, (i, m) in enumerate(masked):
            if aug.visible[j] < cfg.min_visible:
                self.skip("out_of_frame", f"face pushed out of frame by augmentation "
                                          f"({100 * aug.visible[j]:.0f}% visible)", face_index=i, variant=k)
            else:
                keep.append(j)
        if not keep:
            return
        if full:
            label = WEAR_LABELS[wear]
            rel = self.write(label, f"{self.stem}_v{k}", aug.image)
            self.rows.append(self.row(rel, label, k, aug.image, [masked[j][0] for j in keep],
                                      [aug.boxes[j] for j in keep], [aug.landmarks[j] for j in keep],
                                      [masked[j][1].attributes for j in keep], aug.applied))
            return
        for j in keep:
            i, m = masked[j]
            label = WEAR_LABELS[m.attributes.wear]
            with self.stage("write"):
                crop, box, lm = _crop_face(aug.image, aug.boxes[j], aug.landmarks[j],
                                           _rng(self.seed, _CROP, k, i), cfg.crop_size)
            rel = self.write(label, f"{self.stem}_f{i}_v{k}", crop)
            self.rows.append(self.row(rel, label, k, crop, i, box, lm, m.attributes, aug.applied))

    def negative(self, image, good, j: int) -> None:
        cfg = self.cfg
        label = "without_mask"
        aug = self._augment(image, [f.landmarks for _, f in good], [f.box for _, f in good],
                            _rng(self.seed, _NEG_AUG, j))
        keep = []
        for n, (i, _) in enumerate(good):
            if aug.visible[n] < cfg.min_visible:
                self.skip("out_of_frame", f"face pushed out of frame by augmentation "
                                          f"({100 * aug.visible[n]:.0f}% visible, negative {j})", face_index=i)
            else:
                keep.append(n)
        if not keep:
            return
        if cfg.crop == "full":
            rel = self.write(label, f"{self.stem}_n{j}", aug.image)
            self.rows.append(self.row(rel, label, j, aug.image, [good[n][0] for n in keep],
                                      [aug.boxes[n] for n in keep], [aug.landmarks[n] for n in keep],
                                      None, aug.applied))
            return
        for n in keep:
            i = good[n][0]
            with self.stage("write"):
                crop, box, lm = _crop_face(aug.image, aug.boxes[n], aug.landmarks[n],
                                           _rng(self.seed, _NEG_CROP, j, i), cfg.crop_size)
            rel = self.write(label, f"{self.stem}_f{i}_n{j}", crop)
            self.rows.append(self.row(rel, label, j, crop, i, box, lm, None, aug.applied))


def _match(face, good) -> int | None:
    for i, f in good:
        if np.allclose(np.asarray(f.box), np.asarray(face.box)):
            return i
    return None


def _process(task: tuple[str, str | None, str]) -> dict:
    """Process one source and record it in its part file; returns a small report for the parent."""
    source, walk_error, stem = task
    work = _Work(source, stem)
    t0 = time.perf_counter()
    try:
        work.run(walk_error)
    except MemoryError:
        work.rows, work.skips, work.retry = [], [], True
        work.skip("error", "out of memory")
    except Exception as e:  # a bug or an unexpected input: record it, carry on, retry next run
        if os.environ.get("MASKGEN_DEBUG"):
            traceback.print_exc()
        work.rows, work.skips, work.retry = [], [], True
        text = " ".join(str(e).split()) or type(e).__name__
        work.skip("error", f"internal error: {type(e).__name__}: {text}")
    part = {"source": source, "retry": work.retry,
            "rows": [mf.format_row(r) for r in work.rows], "skipped": work.skips}
    path = _part_path(Path(_STATE["out"]), source)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w", tmp_dir=Path(_STATE["out"]) / TMP_DIR) as f:
        f.write(mf.dumps(part))
    labels = collections.Counter(r["label"] for r in work.rows)
    return {"source": source, "split": work.split, "labels": dict(labels), "skips": work.skips,
            "timings": work.timings, "seconds": time.perf_counter() - t0, "retry": work.retry}


# --------------------------------------------------------------------------- finished sources


def _grouped(path: Path, source_col: str = "source") -> Iterator[tuple[str, list[list[str]]]]:
    """(source, cell rows) groups of a manifest CSV, in file order (sorted by source)."""
    rows = mf.iter_csv_cells(path)
    current, group, idx = None, [], None
    for header, cells in rows:
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


class _Cursor:
    """Sorted (source, rows) stream with look-ups in increasing source order."""

    def __init__(self, stream):
        self.stream = iter(stream)
        self.head = next(self.stream, None)

    def take(self, source: str):
        key = _sort_key(source)
        while self.head is not None and _sort_key(self.head[0]) < key:
            self.head = next(self.stream, None)
        if self.head is not None and self.head[0] == source:
            return self.head[1]
        return None


class _DoneIndex:
    """Whether a source is finished: a part file without retry, or listed in the old manifest."""

    def __init__(self, out: Path):
        self.out = out
        self.meta = _Cursor(_grouped(out / mf.METADATA))
        self.skip = _Cursor(_grouped(out / mf.SKIPPED))
        self.kind_col = mf.SKIP_COLUMNS.index("kind")

    def done(self, source: str) -> bool:
        rows = self.meta.take(source)
        skips = self.skip.take(source)
        part = _part_path(self.out, source)
        if part.is_file():
            try:
                return not json.loads(part.read_text(encoding="utf-8")).get("retry", False)
            except (OSError, ValueError):
                return False
        if rows:
            return True
        if skips:
            return not any(s[self.kind_col] in RETRY_KINDS for s in skips)
        return False


def _pending(src: Path, out: Path) -> Iterator[tuple[str, str | None, str]]:
    done = _DoneIndex(out)
    for task in _walk(src):
        if not done.done(task[0]):
            yield task


# --------------------------------------------------------------------------- merging


def _iter_parts(out: Path) -> Iterator[Path]:
    root = out / PARTS_DIR
    if not root.is_dir():
        return
    for sub in sorted(os.listdir(root)):
        folder = root / sub
        if folder.is_dir():
            for name in sorted(os.listdir(folder)):
                if name.endswith(".json"):
                    yield folder / name


def _read_part(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _would_walk(src: Path, source: str) -> bool:
    if src.is_file():
        return source == src.name
    parts = source.split("/")
    if any(p.startswith(".") for p in parts):
        return False
    p = src / source
    return (p.is_file() and is_supported(p.name)) or p.is_dir()


def _merge(src: Path, out: Path, stats: "Summary") -> None:
    """Merge the old manifest and the part files into ``metadata.csv`` and ``skipped.csv``.

    A streaming merge by source order: a source's part file wins over its old rows.
    """

    def from_parts():
        for source, _ in iter_sources(src):
            path = _part_path(out, source)
            if path.is_file():
                part = _read_part(path)
                if part is not None and part.get("source") == source:
                    yield source, part

    def tagged(stream, tag):
        for source, payload in stream:
            yield _sort_key(source), tag, source, payload

    # parts of sources no longer under SRC (moved away between runs) are rare: look for them
    # only when the part files outnumber the sources that have one
    leftovers = []
    total_parts = sum(1 for _ in _iter_parts(out))
    if total_parts and total_parts > sum(1 for s, _ in iter_sources(src) if _part_path(out, s).is_file()):
        for path in _iter_parts(out):
            part = _read_part(path)
            if part is not None and not _would_walk(src, part.get("source", "")):
                leftovers.append((part["source"], part))
        leftovers.sort(key=lambda t: _sort_key(t[0]))
    streams = heapq.merge(
        tagged(from_parts(), 0), tagged(iter(leftovers), 0),
        tagged(_grouped(out / mf.METADATA), 1), tagged(_grouped(out / mf.SKIPPED), 2),
        key=lambda t: (t[0], t[1]))
    tmp = out / TMP_DIR
    split_i, label_i = mf.COLUMNS.index("split"), mf.COLUMNS.index("label")
    file_i = mf.COLUMNS.index("file_name")
    kind_i = mf.SKIP_COLUMNS.index("kind")
    with contextlib.ExitStack() as stack:
        fm = stack.enter_context(atomic_open(out / mf.METADATA, "w", tmp_dir=tmp))
        fs = stack.enter_context(atomic_open(out / mf.SKIPPED, "w", tmp_dir=tmp))
        wm, ws = mf.csv_writer(fm), mf.csv_writer(fs)
        wm.writerow(mf.COLUMNS)
        ws.writerow(mf.SKIP_COLUMNS)
        split_writers = {}

        def split_writer(split):
            # OUT/<split>/metadata.csv, file_name relative to the split folder: what Hugging Face
            # `datasets` (imagefolder, data_dir=OUT) reads for each split
            if split not in split_writers:
                (out / split).mkdir(exist_ok=True)
                f = stack.enter_context(atomic_open(out / split / mf.METADATA, "w", tmp_dir=tmp))
                split_writers[split] = mf.csv_writer(f)
                split_writers[split].writerow(mf.COLUMNS)
            return split_writers[split]
        for _, group in itertools.groupby(streams, key=lambda t: t[0]):
            group = list(group)
            part = next((t[3] for t in group if t[1] == 0), None)
            if part is not None:
                rows, skips = part["rows"], part["skipped"]
            else:
                rows = next((t[3] for t in group if t[1] == 1), [])
                skips = next((t[3] for t in group if t[1] == 2), [])
            for cells in rows:
                wm.writerow(cells)
                split = cells[split_i]
                local = list(cells)
                local[file_i] = cells[file_i][len(split) + 1:]
                split_writer(split).writerow(local)
                stats.counts[cells[split_i]][cells[label_i]] += 1
                stats.outputs += 1
            for cells in skips:
                ws.writerow(cells)
                stats.skips[cells[kind_i]] += 1
            stats.sources_total += 1
            if rows:
                stats.sources_with_output += 1


# --------------------------------------------------------------------------- summary


@dataclass
class Summary:
    """What a run did and what the dataset now holds.

    ``counts[split][label]``, ``outputs``, ``skips[kind]`` and ``sources_*`` describe the whole
    dataset in OUT after the run (the merged manifest); ``processed``, ``run_*`` and ``timings``
    (seconds summed over workers, per stage) describe this run only.
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

    @property
    def images_per_second(self) -> float:
        return self.processed / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def format(self) -> str:
        lines = [f"maskgen augment: {self.processed} source images processed in {self.wall_seconds:.1f} s "
                 f"({self.images_per_second:.2f} images/s, {self.workers} worker"
                 f"{'s' if self.workers != 1 else ''}); {self.already_done} already done before this run",
                 f"dataset in {self.out}: {self.outputs} images from {self.sources_with_output} of "
                 f"{self.sources_total} sources"]
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


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _managed_paths(out: Path) -> list[Path]:
    return ([out / s for s in SPLIT_NAMES] + [out / PARTS_DIR, out / TMP_DIR, out / mf.METADATA,
                                              out / mf.SKIPPED, out / mf.SETTINGS]
            + [out / f"coco_{s}.json" for s in SPLIT_NAMES])


def _check_paths(src: Path, out: Path) -> tuple[Path, Path]:
    if not src.exists():
        raise DatasetError(f"SRC does not exist: {src}")
    rsrc, rout = src.resolve(), out.resolve()
    if src.is_file():
        if rout == rsrc:
            raise DatasetError("OUT must not be the source file")
    elif _inside(rout, rsrc):
        raise DatasetError(f"OUT ({out}) is inside SRC ({src}): choose an OUT outside SRC; "
                           "nothing is ever written into SRC")
    if any(_inside(rsrc, p.resolve()) for p in _managed_paths(out)):
        raise DatasetError(f"SRC ({src}) lies inside a folder that maskgen writes in OUT ({out})")
    if rout.exists() and not rout.is_dir():
        raise DatasetError(f"OUT exists and is not a folder: {out}")
    return rsrc, rout


@contextlib.contextmanager
def _locked(out: Path):
    path = out / LOCK_FILE
    f = open(path, "a+")
    try:
        try:
            import fcntl

            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise DatasetError(f"another maskgen run is writing to {out}") from None
        except ImportError:  # no fcntl (Windows): no lock
            pass
        yield
    finally:
        f.close()
        with contextlib.suppress(OSError):
            path.unlink()


def _settings_record(cfg: DatasetConfig, src: Path) -> dict:
    from . import __version__

    return {"format": "maskgen-dataset/1", "maskgen_version": __version__, "source": str(src),
            "splits": list(cfg.split_names), "config": cfg.to_dict()}


def _prepare_out(out: Path, record: dict, overwrite: bool) -> None:
    settings = out / mf.SETTINGS
    visible = [n for n in os.listdir(out) if not n.startswith(".")] if out.is_dir() else []
    if settings.is_file():
        try:
            old = json.loads(settings.read_text(encoding="utf-8"))
        except ValueError:
            old = None
        if overwrite:
            for p in _managed_paths(out):
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
        elif old is None or old.get("config") != record["config"] or old.get("source") != record["source"]:
            raise DatasetError(
                f"{out} already holds a dataset built with different settings "
                f"({_describe_difference(old, record)}); use --overwrite to rebuild it, or another OUT")
    elif visible:
        raise DatasetError(f"OUT ({out}) is not empty and is not a maskgen dataset (no {mf.SETTINGS}); "
                           "choose an empty or new folder")
    (out / PARTS_DIR).mkdir(exist_ok=True)
    tmp = out / TMP_DIR
    if tmp.is_dir():
        shutil.rmtree(tmp)  # leftovers of a killed run
    tmp.mkdir()
    if not settings.is_file():
        with atomic_open(settings, "w", tmp_dir=tmp) as f:
            f.write(json.dumps(record, indent=2, sort_keys=True) + "\n")


def _describe_difference(old: dict | None, new: dict) -> str:
    if old is None:
        return f"{mf.SETTINGS} is unreadable"
    diffs = []
    if old.get("source") != new["source"]:
        diffs.append(f"source {old.get('source')} → {new['source']}")
    a, b = old.get("config") or {}, new["config"]
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            diffs.append(f"{k}: {a.get(k)!r} → {b.get(k)!r}")
    return "; ".join(diffs[:5]) + (" …" if len(diffs) > 5 else "")


_WARM_ENV = "MASKGEN_FORKSERVER_MODELS"


def prestart_workers(workers: int | None = None, detector: str = "hog") -> None:
    """Start loading the worker processes' modules and models now, in the background.

    Optional: :func:`build_dataset` does it itself; a caller with slow work of its own to do
    first (imports, option checks) can call this earlier to overlap the two.
    """
    workers = default_workers() if workers is None else int(workers)
    if workers > 1:
        _mp_context(detector if detector in ("hog", "cnn", "none") else "hog")


def _mp_context(detector: str):
    """The multiprocessing context for workers: forkserver (started now, see below), else spawn."""
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    _start_forkserver(ctx, detector)
    return ctx


def _start_forkserver(ctx, detector: str) -> None:
    """Start the fork server with the heavy modules and the dlib models already loaded.

    Workers forked from it share the imports and the models (copy-on-write) instead of each
    loading them: start-up costs about what one process costs. A fork server already running
    (an earlier call in this process) is reused as it is.
    """
    from multiprocessing import forkserver

    ctx.set_forkserver_preload(["maskgen.faces", "maskgen.engine", "maskgen.augment", "maskgen.dataset"])
    saved = os.environ.get(_WARM_ENV)
    os.environ[_WARM_ENV] = detector  # read by this module when the fork server imports it
    try:
        forkserver.ensure_running()
    finally:
        if saved is None:
            os.environ.pop(_WARM_ENV, None)
        else:
            os.environ[_WARM_ENV] = saved


def _pool_results(tasks: Iterator, workers: int, state: dict) -> Iterator[dict]:
    """Reports as sources finish; at most ``4 × workers`` tasks in flight (flat memory).

    Completion order only affects the order of messages: everything written is keyed by source.
    """
    if workers <= 1:
        import cv2

        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            _init_worker(state, in_process=True)
            for task in tasks:
                yield _process(task)
        finally:
            cv2.setNumThreads(threads)
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = _mp_context(state["config"]["detector"])
    window = 4 * workers
    executor = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(state,))
    futures: dict = {}

    def finished(block_until: int):
        while len(futures) > block_until:
            done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for f in sorted(done, key=lambda f: futures[f]):
                source = futures.pop(f)
                try:
                    yield f.result()
                except BrokenProcessPool:
                    raise RuntimeError(
                        f"a worker process died while processing {source} or another image in flight: "
                        "out of memory (try fewer workers or a lower max_pixels), or, when build_dataset "
                        "is called from a script, a missing `if __name__ == '__main__':` guard (worker "
                        "processes import the main script); finished images are kept: rerun to resume"
                    ) from None

    try:
        for task in tasks:
            futures[executor.submit(_process, task)] = task[0]
            yield from finished(window - 1)
        yield from finished(0)
    except BaseException:
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        executor.shutdown(wait=True)


def _message(report_skip) -> str:
    source, face, variant, _, reason = report_skip
    where = source
    if face:
        where += f" (face {face}" + (f", variant {variant}" if variant else "") + ")"
    return f"skipped {where}: {reason}"


def build_dataset(src, out, config: DatasetConfig | None = None, workers: int | None = None,
                  progress: bool = True, limit: int | None = None, overwrite: bool = False,
                  messages: bool = True, log: Callable[[str], None] | None = None) -> Summary:
    """Build (or resume) a labelled masked-face dataset from the photos under ``src`` into ``out``.

    ``workers`` processes (default: all cores; 1 runs in this process). ``limit`` processes at
    most that many new sources (a trial run; a later run carries on). ``overwrite`` deletes a
    previous dataset in ``out`` first; without it, finished sources are skipped and OUT's
    settings must match ``config``. ``progress`` shows a tqdm bar on stderr; ``messages``
    prints one line per skip (through ``log``, default stderr). Raises :class:`DatasetError`
    for usage problems; a KeyboardInterrupt leaves OUT resumable.
    """
    t_start = time.perf_counter()
    workers = default_workers() if workers is None else max(1, int(workers))
    if limit is not None and int(limit) < 0:
        raise DatasetError(f"limit must be 0 or more, got {limit}")
    src, out = Path(src), Path(out)
    rsrc, rout = _check_paths(src, out)
    if workers > 1:  # the fork server loads modules and models while this process gets ready
        _mp_context(str((config or DatasetConfig()).detector))
    try:
        cfg = (config or DatasetConfig()).validated()
    except ValueError as e:
        raise DatasetError(str(e)) from None
    if log is None:
        from tqdm import tqdm

        def log(line):
            tqdm.write(line, file=sys.stderr)

    if next(iter(_walk(rsrc)), None) is None and not (rout / mf.METADATA).is_file():
        raise DatasetError(f"no images found in {src} (extensions: {' '.join(SUPPORTED_EXTENSIONS)})")
    out.mkdir(parents=True, exist_ok=True)
    summary = Summary(out=out, workers=workers)
    with _locked(rout):
        _prepare_out(rout, _settings_record(cfg, rsrc), overwrite)
        src_root = rsrc.parent if rsrc.is_file() else rsrc
        candidates = 0
        pending_n = 0
        for _source, _ in iter_sources(rsrc):
            candidates += 1
        for _ in _pending(rsrc, rout):
            pending_n += 1
        summary.already_done = candidates - pending_n
        total = pending_n if limit is None else min(pending_n, int(limit))
        state = {"src_root": str(src_root), "out": str(rout), "config": cfg.to_dict()}
        tasks = itertools.islice(_pending(rsrc, rout), total)
        from tqdm import tqdm

        bar = tqdm(total=total, unit="img", desc="maskgen augment", file=sys.stderr, disable=not progress,
                   dynamic_ncols=True, mininterval=0.5, smoothing=0.05)
        try:
            used = max(1, min(workers, total))  # no idle workers for a short run
            summary.workers = used
            for report in _pool_results(tasks, used, state):
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
        _merge(rsrc, rout, summary)
        if cfg.crop == "full":
            summary.coco = mf.write_coco(rout, cfg.split_names, tmp_dir=rout / TMP_DIR)
        shutil.rmtree(rout / PARTS_DIR, ignore_errors=True)
        shutil.rmtree(rout / TMP_DIR, ignore_errors=True)
    summary.wall_seconds = time.perf_counter() - t_start
    return summary


if os.environ.get(_WARM_ENV) in ("hog", "cnn", "none"):  # imported by the fork server: load the models
    _load_models(os.environ[_WARM_ENV])

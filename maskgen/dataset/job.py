"""The per-image job: one source in, its images and its part file out.

The same function, :func:`process`, runs in this process (``workers=1``), in the local worker
pool (:mod:`maskgen.dataset.local_runner`) and as a task on a dask worker
(:mod:`maskgen.dataset.dask_runner`), so every runner writes the same bytes. Every random choice
for a source comes from generators seeded by the source's own seed and a fixed purpose key
(:func:`source_rng`), never from processing order.

The state a job needs (``src_root``, ``out``, ``parts``, ``tmp``, ``config``: a checked
:class:`~maskgen.dataset.config.DatasetConfig`) is a small dict, prepared once per worker process
(:func:`maskgen.dataset.worker.prepare_state`).
"""
from __future__ import annotations

import collections
import contextlib
import math
import os
import time
import traceback
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

import numpy as np

from maskgen.crops import box_in_crop, cut_square, points_in_crop, sample_square
from maskgen.dataset import manifest as mf
from maskgen.dataset.parts import RETRY_KINDS, write_part
from maskgen.dataset.sources import source_seed, split_of
from maskgen.images import ImageReadError, read_image, write_image_atomic
from maskgen.mask.options import WEAR_LABELS, parse_wear
from maskgen.mask.sampling import sample_wear

STAGES = ("read", "detect", "mask", "augment", "write")
REUSE = True  # per-photo work (each face's mesh and lighting) done once and reused by every variant

# purpose keys of the per-source random streams (never renumber: outputs depend on them)
_WEAR, _MASK, _AUG, _CROP, _NEG, _NEG_AUG, _NEG_CROP = range(1, 8)
REDRAW_KEY = 8  # a redrawn augmentation's or crop's stream: (purpose, ..., REDRAW_KEY, draw)
AUGMENT_DRAWS = 8  # draws of an output's augmentation before a face its labels no longer fit is skipped


def source_rng(seed: int, *key: int) -> np.random.Generator:
    """The generator for one purpose of one source."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


_rng = source_rng


# --------------------------------------------------------------------------- one source


def _out_path(split: str, label: str, source: str, name: str) -> str:
    parent = PurePosixPath(source).parent
    parts = [split, label] + ([str(parent)] if str(parent) != "." else []) + [name]
    return "/".join(parts)


def _negative_count(cfg, seed: int) -> int:
    expected = cfg.negatives * cfg.variants
    whole = int(math.floor(expected))
    frac = expected - whole
    draw = float(_rng(seed, _NEG).random())
    return whole + (1 if draw < frac else 0)


def _crop_face(image, box, landmarks, rng, size, drop=0.0):
    """A randomly framed square crop of one face, with its box and landmarks in the crop's pixels
    (mapped through the square the crop was cut with, which lies inside the frame), and that square."""
    crop, used = cut_square(image, sample_square(box, rng, drop=drop), size)
    lm = np.clip(points_in_crop(landmarks, used, size), 0, size - 1)
    b = np.clip(box_in_crop(box, used, size), 0, size)
    return crop, b, lm, used


class _Work:
    """Processing of one source (inside a worker)."""

    def __init__(self, source: str, stem: str, state: dict):
        st = self.state = state
        self.cfg = st["config"]
        self.out = Path(st["out"])
        self.tmp = Path(st["tmp"])
        self.source = source
        self.seed = source_seed(self.cfg.seed, source)
        self.split = split_of(source, self.cfg.seed, self.cfg.split)
        self.stem = stem
        self.rows: list[dict] = []
        self.skips: list[list] = []
        self.timings = dict.fromkeys(STAGES, 0.0)
        self.retry = False
        self.kept_draw: dict[tuple, int] = {}  # (variant, face index or None in full mode): the draw it kept

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
        cfg = self.cfg
        if walk_error:
            self.retry = True
            self.skip("io_error", walk_error)
            return
        path = Path(self.state["src_root"]) / self.source
        with self.stage("read"):
            try:
                image = read_image(path, max_pixels=cfg.max_pixels)
            except ImageReadError as e:
                self.retry = e.kind in RETRY_KINDS
                self.skip(e.kind, e.reason)
                return
        from maskgen.detect.faces import find_faces  # dlib: heavy

        with self.stage("detect"):
            faces = find_faces(image, detector=cfg.detector, upsample=cfg.upsample, min_face=cfg.min_face)
        if not faces:
            how = f"upsample {cfg.upsample}" if cfg.upsample is not None else f"min face {cfg.min_face} px"
            self.skip("no_face", f"no face found (detector {cfg.detector}, {how})")
            return
        good = []
        for i, face in enumerate(faces):
            if face.rejected:
                self.skip("face_rejected", face.rejected, face_index=i)
            else:
                good.append((i, face))
        if not good:
            return
        prepared = None
        if REUSE:
            from maskgen.mask.masker import prepare_faces

            with self.stage("mask"):
                prepared = prepare_faces(image, [f for _, f in good])
        for k in range(cfg.variants):
            self.masked_variant(image, good, k, prepared)
        for j in range(_negative_count(cfg, self.seed)):
            self.negative(image, good, j)

    def _augment(self, image, landmarks, boxes, rng, alphas=None):
        with self.stage("augment"):
            if self.cfg.augment == "none":
                return unaugmented(image, landmarks, boxes, alphas)
            from maskgen.augment import augment  # imgaug: heavy

            return augment(image, landmarks, boxes, alphas=alphas, preset=self.cfg.augment, rng=rng)

    def masked_variant(self, image, good, k: int, prepared=None) -> None:
        from maskgen.mask.masker import mask_faces

        cfg = self.cfg
        full = cfg.crop == "full"
        wear = sample_wear(parse_wear(cfg.wear), _rng(self.seed, _WEAR, k)) if full else cfg.wear
        with self.stage("mask"):
            result = mask_faces(image, faces=[f for _, f in good], options=cfg.mask_options(wear),
                                rng=_rng(self.seed, _MASK, k), prepared=prepared)
        index = {id(f): i for i, f in good}
        for face, reason in result.skipped:
            self.skip("mask_failed", reason, face_index=index.get(id(face), _match(face, good)), variant=k)
        masked = [(index.get(id(m.face), _match(m.face, good)), m) for m in result.faces]
        if not masked:
            return
        self._outputs(result.image, [i for i, _ in masked], [m.face for _, m in masked], [m.alpha for _, m in masked],
                      [m.attributes for _, m in masked], (_AUG, _CROP), k, f"_v{k}", WEAR_LABELS[wear] if full else None)

    def negative(self, image, good, j: int) -> None:
        indexes, faces = [i for i, _ in good], [f for _, f in good]
        if not (self.cfg.paired_negatives and j < self.cfg.variants):
            self._outputs(image, indexes, faces, None, None, (_NEG_AUG, _NEG_CROP), j, f"_n{j}", "without_mask")
            return
        # paired: masked variant j's streams, from the draw each of its faces kept (the first where none)
        if self.cfg.crop == "full":
            groups = {self.kept_draw.get((j, None), 0): list(range(len(good)))}
        else:
            groups = {}
            for n, i in enumerate(indexes):
                groups.setdefault(self.kept_draw.get((j, i), 0), []).append(n)
        for first, members in sorted(groups.items()):
            self._outputs(image, [indexes[n] for n in members], [faces[n] for n in members], None, None,
                          (_AUG, _CROP), j, f"_n{j}", "without_mask", first_draw=first)

    def _outputs(self, image, indexes, faces, alphas, attrs, keys, k: int, suffix: str, label,
                 first_draw: int = 0) -> None:
        """Augment ``image`` and write its output (full mode) or one crop per face, masked (``alphas``
        and ``attrs`` per face) or not (None, ``label`` without_mask).

        A draw of the augmentation (and of a face's crop) that leaves a face's box mostly out of the
        frame, or less than ``min_mask_visible`` of its mask in sight (cut off, under a hand), would give
        the face a label its pixels do not show: it is drawn again, up to ``AUGMENT_DRAWS`` times, each
        draw from its own seeded stream (the first is the one used before redraws existed); a face no
        draw keeps is skipped with the last draw's reason. Full mode takes the first draw that keeps
        every face, else the last draw with the faces it keeps. ``first_draw``: where a paired negative
        starts (the draw its masked variant kept); the draw each masked face kept is in ``kept_draw``."""
        cfg = self.cfg
        aug_key, crop_key = keys
        landmarks, boxes = [f.landmarks for f in faces], [f.box for f in faces]
        pending = list(range(len(faces)))
        # without augmentation a whole image is the same at every draw: one is enough
        draws = 1 if cfg.crop == "full" and cfg.augment == "none" else AUGMENT_DRAWS
        for draw in range(min(first_draw, draws - 1), draws):
            last = draw == draws - 1
            aug = self._augment(image, landmarks, boxes, _rng(self.seed, aug_key, k, *_draw_key(draw)), alphas)
            if cfg.crop == "full":
                if self._full_output(aug, pending, indexes, attrs, k, suffix, label, draw, last):
                    return
                continue
            still = []
            for n in pending:
                i = indexes[n]
                why = self._broken(aug, n, box_only=True)
                if why is None:
                    with self.stage("write"):
                        crop, box, lm, used = _crop_face(aug.image, aug.boxes[n], aug.landmarks[n],
                                                         _rng(self.seed, crop_key, k, i, *_draw_key(draw)),
                                                         cfg.crop_size, cfg.crop_drop)
                    why = self._broken(aug, n, share=_share_inside(aug.alphas[n], used) if alphas else 1.0)
                if why is not None:
                    if last:
                        self.skip(*why, face_index=i, variant=k)
                    else:
                        still.append(n)
                    continue
                if attrs is not None:  # a masked output: its paired negative starts at this draw
                    self.kept_draw[(k, i)] = draw
                row_label = label or WEAR_LABELS[attrs[n].wear]
                rel = self.write(row_label, f"{self.stem}_f{i}{suffix}", crop)
                self.rows.append(self.row(rel, row_label, k, crop, i, box, lm,
                                          None if attrs is None else attrs[n], aug.applied))
            pending = still
            if not pending:
                return

    def _full_output(self, aug, pending, indexes, attrs, k: int, suffix: str, label, draw: int, last: bool) -> bool:
        """Write one draw of a whole-image output if it keeps every face (or is the last draw: with the faces
        it keeps); False when the next draw should be tried."""
        why = {n: self._broken(aug, n) for n in pending}
        keep = [n for n in pending if why[n] is None]
        if len(keep) < len(pending) and not last:
            return False
        for n in pending:
            if why[n] is not None:
                self.skip(*why[n], face_index=indexes[n], variant=k)
        if keep:
            if attrs is not None:  # a masked output: its paired negative starts at this draw
                self.kept_draw[(k, None)] = draw
            rel = self.write(label, f"{self.stem}{suffix}", aug.image)
            self.rows.append(self.row(rel, label, k, aug.image, [indexes[n] for n in keep],
                                      [aug.boxes[n] for n in keep], [aug.landmarks[n] for n in keep],
                                      None if attrs is None else [attrs[n] for n in keep], aug.applied))
        return True

    def _broken(self, aug, n: int, share: float = 1.0, box_only: bool = False):
        """Why face ``n`` of an augmentation (its crop keeping ``share`` of the mask) cannot keep its
        label: ``(kind, reason)`` for skipped.csv, or None."""
        if aug.visible[n] < self.cfg.min_visible:
            return "out_of_frame", f"face pushed out of frame by augmentation ({100 * aug.visible[n]:.0f}% visible)"
        shown = aug.mask_visible[n] if aug.mask_visible else None
        if box_only or shown is None:
            return None
        if shown * share < self.cfg.min_mask_visible:
            return "mask_hidden", (f"mask mostly out of sight after augmentation ({100 * shown * share:.0f}% "
                                   f"visible: cut off by the crop or covered)")
        return None


def _draw_key(draw: int) -> tuple[int, ...]:
    """Spawn-key suffix of a redraw: none for the first draw (its stream is the one used before)."""
    return () if draw == 0 else (REDRAW_KEY, draw)


def _share_inside(alpha, square) -> float:
    """Share of a mask's alpha inside the square a crop was cut with (1 without a mask)."""
    if alpha is None:
        return 1.0
    total = float(np.sum(alpha, dtype=np.float64))
    if total <= 0:
        return 1.0
    h, w = alpha.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in square)
    inside = float(np.sum(alpha[max(0, y0):min(h, y1), max(0, x0):min(w, x1)], dtype=np.float64))
    return inside / total


def unaugmented(image, landmarks, boxes, alphas=None) -> SimpleNamespace:
    """What :func:`maskgen.augment.augment` gives for preset ``'none'`` (the image itself, the labels copied
    and clipped), without importing imgaug (tests/test_speed_paths.py checks that they agree)."""
    from maskgen.augment.labels import check_inputs, mask_share, visible_fraction

    landmarks, boxes, alphas = check_inputs(image, landmarks, boxes, alphas)
    h, w = image.shape[:2]
    return SimpleNamespace(image=image, landmarks=[None if lm is None else lm.copy() for lm in landmarks],
                           boxes=[np.clip(b, 0, [w, h, w, h]) for b in boxes],
                           alphas=[] if alphas is None else alphas,
                           visible=[visible_fraction(b, w, h) for b in boxes], applied=[],
                           mask_visible=[] if alphas is None else [mask_share(a, b, a, b) for a, b in zip(alphas, boxes)])


def _match(face, good) -> int | None:
    for i, f in good:
        if np.allclose(np.asarray(f.box), np.asarray(face.box)):
            return i
    return None


def process(task: tuple[str, str | None, str], st: dict) -> dict:
    """Process one source and record it in its part file; returns a small report for the caller.

    ``task`` is ``(source, walk error, output stem)`` (:func:`maskgen.dataset.sources.walk_sources`);
    ``st`` a prepared state (:func:`maskgen.dataset.worker.prepare_state`).
    """
    source, walk_error, stem = task
    Path(st["tmp"]).mkdir(parents=True, exist_ok=True)
    work = _Work(source, stem, st)
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
    write_part(Path(st["parts"]), source, work.retry, [mf.format_row(r) for r in work.rows], work.skips,
               tmp_dir=Path(st["tmp"]))
    labels = collections.Counter(r["label"] for r in work.rows)
    return {"source": source, "split": work.split, "labels": dict(labels), "skips": work.skips,
            "timings": work.timings, "seconds": time.perf_counter() - t0, "retry": work.retry}

"""Engine speed: images per second and time per stage on a folder of face photos; detection recall.

Stages: decode (read_image), detect (find_faces: boxes and 68 landmarks), fit (mesh and warp), render
(draw, light, blend), encode (JPEG). One process, one mask per face, random types.

``--recall`` instead compares the detector as set (``--min-face``, or ``--upsample`` to force one scan)
with the plain scan at upsample 1 (the earlier default) on every photo and on its rotated (+-25
degrees) and flipped copies (:func:`maskgen.verify.rotated_copies.make_copy`): faces found by each,
faces matched (box IoU >= 0.5), their IoU and landmark distance, and the time per photo of each.

    python benchmarks/bench_engine.py [FOLDER] [--limit N] [--detector hog|cnn] [--min-face PX | --upsample N]
    python benchmarks/bench_engine.py [FOLDER] --recall [--min-face PX]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import maskgen
from maskgen.boxes import box_iou
from maskgen.detect import faces as face_backend
from maskgen.images import encode_image
from maskgen.verify.rotated_copies import COPIES, make_copy


def _timed_faces(image, **kw):
    t = time.perf_counter()
    found = [f for f in maskgen.find_faces(image, **kw) if not f.rejected]
    return found, time.perf_counter() - t


def _same_face(f, g) -> float | None:
    """Mean landmark distance of two detections of one face, in interocular distances of ``f`` (None: other faces).

    Box IoU alone would call a face found upright and the same face found by the rotated search two faces:
    a box mapped back from a rotated copy is the hull of a turned square, about 1.4 times wider.
    """
    iod = np.linalg.norm(f.landmarks[42:48].mean(0) - f.landmarks[36:42].mean(0))
    error = np.linalg.norm(f.landmarks - g.landmarks, axis=1).mean() / max(iod, 1e-6)
    return float(error) if error < 0.35 else None


def recall(files: list[Path], detector: str, settings: dict, copies: tuple[str, ...] = COPIES) -> None:
    """Faces found by ``settings`` against upsample 1, per copy of each photo."""
    print(f"reference: upsample 1; candidate: {settings or 'defaults'}; {len(files)} photos x {len(copies)} copies")
    print("matched: box IoU >= 0.5; same face: landmarks within 0.35 interocular distances (lm err: their median)")
    print(f"{'copy':<8} {'ref faces':>9} {'new faces':>9} {'IoU>=.5':>8} {'same':>5} {'mean IoU':>8} {'lm err %':>8} "
          f"{'ref ms':>7} {'new ms':>7}")
    totals = np.zeros(6)
    for copy in copies:
        counts, ious, errors, t_ref, t_new = np.zeros(4, int), [], [], 0.0, 0.0
        for path in files:
            image, _ = make_copy(maskgen.read_image(path), np.zeros((68, 2)), copy)
            ref, dt = _timed_faces(image, detector=detector, upsample=1)
            t_ref += dt
            new, dt = _timed_faces(image, detector=detector, **settings)
            t_new += dt
            counts[:2] += len(ref), len(new)
            for f in ref:
                best = max(new, key=lambda g: box_iou(f.box, g.box), default=None)
                if best is not None and box_iou(f.box, best.box) >= 0.5:
                    counts[2] += 1
                    ious.append(box_iou(f.box, best.box))
                same = [e for e in (_same_face(f, g) for g in new) if e is not None]
                if same:
                    counts[3] += 1
                    errors.append(100 * min(same))
        n = len(files)
        print(f"{copy:<8} {counts[0]:>9} {counts[1]:>9} {counts[2]:>8} {counts[3]:>5} "
              f"{np.mean(ious) if ious else 0:>8.3f} {np.median(errors) if errors else 0:>8.2f} "
              f"{1000 * t_ref / n:>7.1f} {1000 * t_new / n:>7.1f}")
        totals += [*counts, t_ref, t_new]
    n = len(files) * len(copies)
    print(f"{'all':<8} {int(totals[0]):>9} {int(totals[1]):>9} {int(totals[2]):>8} {int(totals[3]):>5} {'':>8} "
          f"{'':>8} {1000 * totals[4] / n:>7.1f} {1000 * totals[5] / n:>7.1f}")
    print(f"recall against upsample 1: {totals[2] / max(totals[0], 1):.3f} (IoU >= 0.5), "
          f"{totals[3] / max(totals[0], 1):.3f} (same face); detection {totals[4] / totals[5]:.2f}x faster")


def speed(files: list[Path], detector: str, settings: dict) -> None:
    stages = dict.fromkeys(["decode", "detect", "fit", "render", "encode"], 0.0)
    rng = np.random.default_rng(0)
    n_faces = pixels = 0
    face_backend._load("landmarks")  # model loading is a one-off, not per image
    face_backend._load(detector) if detector != "none" else None
    start = time.perf_counter()
    for path in files:
        t = time.perf_counter()
        image = maskgen.read_image(path)
        pixels += image.shape[0] * image.shape[1]
        stages["decode"] += time.perf_counter() - t
        t = time.perf_counter()
        found = maskgen.find_faces(image, detector=detector, **settings)
        stages["detect"] += time.perf_counter() - t
        result = maskgen.mask_faces(image, found, maskgen.MaskOptions(), rng=rng, timings=stages)
        n_faces += len(result.faces)
        t = time.perf_counter()
        encode_image(result.image, "jpg", 95)
        stages["encode"] += time.perf_counter() - t
    total = time.perf_counter() - start
    n = len(files)
    print(f"{n} images ({pixels / n / 1e6:.2f} Mpx average), {n_faces} faces masked, detector={detector} "
          f"{settings or 'default detection settings'}")
    print(f"throughput: {n / total:.2f} images/s in one process ({total:.1f} s)")
    for stage, seconds in stages.items():
        print(f"  {stage:<10} {1000 * seconds / n:8.1f} ms/image")
    other = sum(v for k, v in stages.items() if k != "detect")
    print(f"everything but detection: {1000 * other / n:.1f} ms/image vs detection {1000 * stages['detect'] / n:.1f}"
          f" ms/image ({'less' if other < stages['detect'] else 'MORE'} than detection)")


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "unmasked_faces"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=default)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--detector", default="hog")
    parser.add_argument("--upsample", type=int, default=None, help="one scan at this upsample (overrides --min-face)")
    parser.add_argument("--min-face", type=int, default=None, help="smallest face to find, px (default: the library's)")
    parser.add_argument("--recall", action="store_true", help="detection recall against upsample 1 instead")
    parser.add_argument("--copies", default=",".join(COPIES), help=f"with --recall: copies of each photo ({COPIES})")
    args = parser.parse_args()
    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:args.limit]
    settings = {k: v for k, v in (("upsample", args.upsample), ("min_face", args.min_face)) if v is not None}
    if args.recall:
        recall(files, args.detector, settings, tuple(args.copies.split(",")))
    else:
        speed(files, args.detector, settings)


if __name__ == "__main__":
    main()

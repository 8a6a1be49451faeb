"""Engine speed: images per second and time per stage on a folder of face photos.

Stages: decode (read_image), detect (dlib HOG), landmarks (68 points), fit (mesh and warp), render
(draw, light, blend), encode (JPEG). One process, one mask per face, random types.

    python benchmarks/bench_engine.py [FOLDER] [--limit N] [--detector hog|cnn]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import maskgen
from maskgen.detect import faces as face_backend
from maskgen.images import encode_image
from maskgen.detect.landmarks import implausibility
from maskgen.detect.face import Face


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "unmasked_faces"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=default)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--detector", default="hog")
    parser.add_argument("--upsample", type=int, default=1)
    args = parser.parse_args()
    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:args.limit]
    stages = dict.fromkeys(["decode", "detect", "landmarks", "fit", "render", "encode"], 0.0)
    rng = np.random.default_rng(0)
    n_faces = 0
    pixels = 0
    face_backend._load("landmarks")  # model loading is a one-off, not per image
    face_backend._load(args.detector) if args.detector != "none" else None
    start = time.perf_counter()
    for path in files:
        t = time.perf_counter()
        image = maskgen.read_image(path)
        pixels += image.shape[0] * image.shape[1]
        stages["decode"] += time.perf_counter() - t
        t = time.perf_counter()
        boxes = face_backend._detect_boxes(image, args.detector, args.upsample)
        stages["detect"] += time.perf_counter() - t
        t = time.perf_counter()
        found = []
        for box, score in boxes:
            lm = face_backend.predict_landmarks(image, box)
            found.append(Face(box, lm, score, implausibility(lm, image.shape)))
        stages["landmarks"] += time.perf_counter() - t
        result = maskgen.mask_faces(image, found, maskgen.MaskOptions(), rng=rng, timings=stages)
        n_faces += len(result.faces)
        t = time.perf_counter()
        encode_image(result.image, "jpg", 95)
        stages["encode"] += time.perf_counter() - t
    total = time.perf_counter() - start
    n = len(files)
    print(f"{n} images ({pixels / n / 1e6:.2f} Mpx average), {n_faces} faces masked, detector={args.detector} "
          f"upsample={args.upsample}")
    print(f"throughput: {n / total:.2f} images/s in one process ({total:.1f} s)")
    for stage, seconds in stages.items():
        print(f"  {stage:<10} {1000 * seconds / n:8.1f} ms/image")
    other = sum(v for k, v in stages.items() if k != "detect")
    print(f"everything but detection: {1000 * other / n:.1f} ms/image vs detection {1000 * stages['detect'] / n:.1f}"
          f" ms/image ({'less' if other < stages['detect'] else 'MORE'} than detection)")


if __name__ == "__main__":
    main()

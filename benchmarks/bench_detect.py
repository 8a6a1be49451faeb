"""How often each face detector finds a face in the real photos, and how long it takes.

For each detector and each folder of ``../shared/data``: the share of photos where at least one face
is found (and, in brackets, where one is found whose landmarks pass maskgen's plausibility check),
the faces per photo (every photo here shows one face, a few two or three: far above 1 means false
alarms), and milliseconds per photo (read excluded, models loaded beforehand, landmarks included).
For ``auto``, ``via mtcnn`` counts the photos HOG missed and MTCNN found.

    python benchmarks/bench_detect.py                          # hog, cnn (30 per folder), mtcnn, auto
    python benchmarks/bench_detect.py --real-dev --limit 150   # also real_dev/*, 150 photos a folder
    python benchmarks/bench_detect.py --detectors mtcnn --device cuda

``--limit`` and ``--cnn-limit`` take an evenly spaced sample of each folder (the same for every
detector that runs on all of it), so that a short run still covers every source in the folder.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from maskgen.detect import faces  # noqa: E402
from maskgen.images import ImageReadError, read_image  # noqa: E402

EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
FOLDERS = ("real_mask", "no_mask", "incorrect_mask", "unmasked_faces")
REAL_DEV = ("real_dev/real_mask", "real_dev/no_mask", "real_dev/incorrect_mask")


def sample(paths: list[Path], limit: int | None) -> list[Path]:
    if not limit or len(paths) <= limit:
        return paths
    return [paths[i] for i in np.linspace(0, len(paths) - 1, limit).round().astype(int)]


def run(images: list[np.ndarray], detector: str, device: str | None) -> dict:
    found = plausible = n_faces = via_mtcnn = 0
    start = time.perf_counter()
    for image in images:
        got = faces.find_faces(image, detector=detector, device=device)
        found += bool(got)
        plausible += any(f.rejected is None for f in got)
        n_faces += len(got)
        via_mtcnn += bool(got) and got[0].detector == "mtcnn"
    seconds = time.perf_counter() - start
    return {"n": len(images), "found": found, "plausible": plausible, "faces": n_faces,
            "via_mtcnn": via_mtcnn, "ms": 1000 * seconds / max(1, len(images))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--detectors", default="hog,cnn,mtcnn,auto")
    ap.add_argument("--folders", default=",".join(FOLDERS))
    ap.add_argument("--real-dev", action="store_true", help="also the real_dev/* folders")
    ap.add_argument("--limit", type=int, default=None, help="photos per folder (evenly spaced sample)")
    ap.add_argument("--cnn-limit", type=int, default=30, help="photos per folder for the slow cnn detector")
    ap.add_argument("--device", default=None, help="torch device for mtcnn (default: cuda where present)")
    args = ap.parse_args(argv)
    folders = [f for f in args.folders.split(",") if f] + (list(REAL_DEV) if args.real_dev else [])
    detectors = [d for d in args.detectors.split(",") if d]
    for d in detectors:
        faces.load_models(d)
    print("| detector | folder | photos | face found | plausible face | faces/photo | via mtcnn | ms/photo |")
    print("|---|---|---|---|---|---|---|---|")
    for folder in folders:
        paths = sorted(p for p in (Path(args.data) / folder).glob("*") if p.suffix.lower() in EXTS)
        if not paths:
            print(f"no photos in {Path(args.data) / folder}", file=sys.stderr)
            continue
        images = {}
        for path in sample(paths, args.limit):
            try:
                images[path] = read_image(path)
            except ImageReadError as exc:
                print(f"skip: {exc}", file=sys.stderr)
        for detector in detectors:
            chosen = sample(list(images), args.cnn_limit if detector == "cnn" else None)
            r = run([images[p] for p in chosen], detector, args.device)
            via = f"{r['via_mtcnn']}" if detector == "auto" else ""
            print(f"| {detector} | {folder} | {r['n']} | {r['found']} ({100 * r['found'] / r['n']:.0f}%) | "
                  f"{r['plausible']} ({100 * r['plausible'] / r['n']:.0f}%) | {r['faces'] / r['n']:.2f} | {via} | "
                  f"{r['ms']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

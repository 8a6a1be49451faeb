"""Where do masks land? Coverage of nose, mouth, chin and eyes, measured on output pixels.

For each photo (skimage's astronaut plus a folder, by default ../shared/data/unmasked_faces) and each
variant (upright, rotated by +25 and -25 degrees, flipped), faces are detected again on the variant and
masked with every type and wear style. Ground-truth regions come from the upright photo's landmarks
moved with the variant, so detection, landmarks, fit and render are all under test. Prints, per type and
wear, the share of faces meeting the targets and the worst rim fraction. ``--detector`` picks the detector
that finds the faces on the variants (the boxes the landmarks, and so the masks, come from); the ground
truth always comes from HOG on the upright photo.

    python benchmarks/fit_check.py [FOLDER] [--limit N] [--detector hog|mtcnn|auto|cnn]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import maskgen
from maskgen.mask.catalog import list_mask_types
from maskgen.mask.options import WEAR_STYLES
from maskgen.verify.coverage import coverage, rim_fraction
from maskgen.verify.rotated_copies import COPIES, make_copy

TARGETS = {
    "correct": lambda c: c["nose"] >= 0.95 and c["mouth"] >= 0.95 and c["chin"] >= 0.95 and c["eyes"] < 0.02,
    "nose": lambda c: c["nose"] <= 0.05 and c["mouth"] >= 0.95 and c["eyes"] < 0.02,
    "chin": lambda c: c["nose"] <= 0.05 and c["mouth"] <= 0.05 and c["eyes"] < 0.02,
    "ear": lambda c: c["nose"] <= 0.05 and c["mouth"] <= 0.05 and c["eyes"] < 0.02,  # hanging beside the jaw
}


def images(folder: Path | None, limit: int | None):
    import skimage.data

    yield "astronaut", skimage.data.astronaut()
    if folder is None or not folder.is_dir():
        return
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    for path in files[:limit]:
        try:
            yield path.name, maskgen.read_image(path)
        except maskgen.ImageReadError as exc:
            print(f"skip {exc}", file=sys.stderr)


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "unmasked_faces"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=default)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--types", default=",".join(list_mask_types()[:10]))
    parser.add_argument("--detector", default="hog", help="detector for the variants (default hog)")
    args = parser.parse_args()
    types = args.types.split(",")
    ok = defaultdict(int)
    total = defaultdict(int)
    worst_rim = defaultdict(float)
    misses = []
    no_face = 0
    t0 = time.time()
    for name, image in images(args.folder, args.limit):
        faces = [f for f in maskgen.find_faces(image) if not f.rejected]
        if not faces:
            no_face += 1
            continue
        truth = max(faces, key=lambda f: f.box[2] - f.box[0]).landmarks
        for variant in COPIES:
            img, lm_true = make_copy(image, truth, variant)
            found = [f for f in maskgen.find_faces(img, detector=args.detector) if not f.rejected]
            # the detected face nearest to the true one
            centre = lm_true.mean(axis=0)
            found.sort(key=lambda f: np.linalg.norm(f.landmarks.mean(axis=0) - centre))
            if not found or np.linalg.norm(found[0].landmarks.mean(axis=0) - centre) > 0.2 * np.ptp(lm_true[:, 0]):
                misses.append(f"{name}:{variant}")
                continue
            face = found[0]
            for mask_type in types:
                for wear in WEAR_STYLES:
                    result = maskgen.mask_face(img, face, maskgen.MaskOptions(mask_type=mask_type, wear=wear), seed=0)
                    key = (mask_type, wear)
                    total[key] += 1
                    c = coverage(img, result.image, lm_true)
                    ok[key] += bool(TARGETS[wear](c))
                    if result.faces:
                        worst_rim[key] = max(worst_rim[key], rim_fraction(result.image, result.faces[0].alpha))
    print(f"detector on the variants: {args.detector}")
    print(f"faces: {sum(total.values()) // max(len(total), 1)} masked per type and wear "
          f"({no_face} photos without a face, {len(misses)} variants where detection failed: {misses[:8]})")
    print(f"{'type':<12} {'wear':<8} {'meets target':>13} {'worst rim':>10}")
    for key in sorted(total):
        print(f"{key[0]:<12} {key[1]:<8} {100 * ok[key] / total[key]:>12.1f}% {100 * worst_rim[key]:>9.1f}%")
    print(f"time {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()

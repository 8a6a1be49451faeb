"""Contact sheet: maskgen's masked face crops beside real ones, one row per mask type, at training size.

Each row holds ``--per-row`` synthetic crops of one mask type (portraits from
``DATA/unmasked_faces``, masked on the whole photo with ``maskgen.mask_faces``, then cut as the
benchmark's 2-class recipe cuts them: a square of side 1.1-1.6x the HOG face box), then, after a
gap, real masked faces: half from the public ``DATA/real_mask`` (Kaggle crops, webcam frames,
stock photos) and half from ``DATA/real_dev/real_mask`` (eight other sources), cut as
``maskgen evaluate`` cuts photos (the largest face found by ``--detector``, default HOG, margin
``maskgen.crops.DEFAULT_MARGIN``; the centred square of the whole photo when no face is found, which
is why a few real tiles show a whole scene). Every tile is shown at ``--size`` (112 px, the
benchmark's training size), so what the classifier sees is what you see. Look at the surface
(fabric, folds, shading), the palette, the edges and straps, the sharpness against the face, and
the framing.

    .venv/bin/python benchmarks/realism_sheet.py sheet.png
    .venv/bin/python benchmarks/realism_sheet.py sheet.png --types surgical,cloth --per-row 8 --wear chin
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

import maskgen
from maskgen.crops import DEFAULT_MARGIN, crop_square, face_square

DATA = Path(os.environ.get("MASKGEN_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
LABEL_WIDTH = 104
GAP = 10


def images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise SystemExit(f"Error: {folder} is not a folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXT)


def largest(faces):
    return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1])) if faces else None


def real_tile(path: Path, size: int, detector: str) -> np.ndarray:
    """A real photo cut as ``maskgen evaluate`` cuts it."""
    image = maskgen.read_image(path)
    h, w = image.shape[:2]
    face = largest(maskgen.find_faces(image, detector=detector))
    if face is not None:
        return crop_square(image, face_square(face.box, DEFAULT_MARGIN), size)
    side = min(h, w)
    return crop_square(image, [(w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2], size)


class Portraits:
    """Unmasked portraits with their largest usable HOG face, detected once each."""

    def __init__(self, folder: Path, rng: np.random.Generator):
        files = images_in(folder)
        self.files = [files[i] for i in rng.permutation(len(files))]
        self.cache: dict[Path, tuple] = {}

    def get(self, index: int):
        path = self.files[index % len(self.files)]
        if path not in self.cache:
            image = maskgen.read_image(path)
            self.cache[path] = (image, largest([f for f in maskgen.find_faces(image) if not f.rejected]))
        return self.cache[path]


def synthetic_row(portraits: Portraits, mask_type: str, wear: str, count: int, size: int, start: int,
                  rng: np.random.Generator) -> list[np.ndarray]:
    tiles, i = [], start
    while len(tiles) < count and i < start + 4 * count + len(portraits.files):
        image, face = portraits.get(i)
        i += 1
        if face is None:
            continue
        result = maskgen.mask_faces(image, [face], maskgen.MaskOptions(mask_type=mask_type, wear=wear), rng=rng)
        if not result.faces:
            continue
        margin = (rng.uniform(1.1, 1.6) - 1.0) / 2.0
        tiles.append(crop_square(result.image, face_square(face.box, margin), 128))
    return [cv2.resize(t, (size, size), interpolation=cv2.INTER_AREA) for t in tiles]


def label_tile(text: str, height: int) -> np.ndarray:
    tile = np.full((height, LABEL_WIDTH, 3), 255, np.uint8)
    cv2.putText(tile, text, (4, height // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def row_image(label: str, synthetic: list[np.ndarray], real: list[np.ndarray], count: int, size: int) -> np.ndarray:
    blank = np.full((size, size, 3), 255, np.uint8)
    synthetic = (synthetic + [blank] * count)[:count]
    gap = np.full((size, GAP, 3), 255, np.uint8)
    return np.hstack([label_tile(label, size), *synthetic, gap, *real])


def header(text_left: str, text_right: str, count: int, real_count: int, size: int) -> np.ndarray:
    width = LABEL_WIDTH + count * size + GAP + real_count * size
    bar = np.full((22, width, 3), 255, np.uint8)
    cv2.putText(bar, text_left, (LABEL_WIDTH + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(bar, text_right, (LABEL_WIDTH + count * size + GAP + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def real_pools(data: Path, wear: str) -> list[list[Path]]:
    folder = "real_mask" if wear == "correct" else "incorrect_mask"
    pools = [images_in(data / folder)]
    if (data / "real_dev" / folder).is_dir():
        pools.append(images_in(data / "real_dev" / folder))
    return pools


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="PNG to write")
    ap.add_argument("--data", type=Path, default=DATA, help="holds unmasked_faces/, real_mask/, real_dev/")
    ap.add_argument("--types", default=None, help="comma-separated mask types (default: every type)")
    ap.add_argument("--per-row", type=int, default=6, help="synthetic crops per row (and as many real ones)")
    ap.add_argument("--size", type=int, default=112, help="tile side (the benchmark's training size)")
    ap.add_argument("--wear", default="correct", choices=sorted(maskgen.WEAR_STYLES))
    ap.add_argument("--detector", default="hog", help="detector for the real photos (as for maskgen evaluate)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    types = [t.strip() for t in args.types.split(",")] if args.types else maskgen.list_mask_types()
    rng = np.random.default_rng(args.seed)
    portraits = Portraits(args.data / "unmasked_faces", rng)
    pools = real_pools(args.data, args.wear)
    picks = [[pool[i] for i in rng.permutation(len(pool))] for pool in pools]
    share = [args.per_row // len(pools) + (k < args.per_row % len(pools)) for k in range(len(pools))]
    rows = []
    for r, mask_type in enumerate(types):
        fake = synthetic_row(portraits, mask_type, args.wear, args.per_row, args.size, r * args.per_row, rng)
        real = [real_tile(p, args.size, args.detector) for k, pool in enumerate(picks)
                for p in pool[r * share[k]:(r + 1) * share[k]]]
        rows.append(row_image(mask_type, fake, real, args.per_row, args.size))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    sources = " | ".join(["public real_mask" if args.wear == "correct" else "public incorrect_mask",
                          "real_dev"][:len(pools)])
    sheet = np.vstack([header(f"maskgen ({args.wear} wear)", f"real: {sources}", args.per_row, args.per_row,
                              args.size), *rows])
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}: {len(types)} rows (one per mask type), {args.per_row} maskgen crops and "
          f"{args.per_row} real ones each, {args.size} px tiles")


if __name__ == "__main__":
    main()

"""Contact sheet: synthetic masked face crops beside real masked crops, at the same size.

Real crops come from ../shared/data/real_mask (and incorrect_mask); synthetic ones are made from
../shared/data/unmasked_faces with random types and the dataset's face-crop framing. Look at folds,
seams, shading, fabric, the nose and chin, and how sharp the edges are compared with the real ones.

    python benchmarks/realism_sheet.py OUT.png [--size 96] [--count 24] [--seed 0]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

import maskgen
from maskgen.crops import crop_square, sample_square


def tiles_from(folder: Path, count: int, size: int) -> list[np.ndarray]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    step = max(1, len(files) // count)
    return [cv2.resize(maskgen.read_image(p), (size, size), interpolation=cv2.INTER_AREA)
            for p in files[::step][:count]]


def synthetic(folder: Path, count: int, size: int, seed: int, wear: str) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    rng.shuffle(files)
    out = []
    for path in files:
        if len(out) >= count:
            break
        image = maskgen.read_image(path)
        faces = [f for f in maskgen.find_faces(image) if not f.rejected]
        if not faces:
            continue
        result = maskgen.mask_faces(image, faces, maskgen.MaskOptions(wear=wear), rng=rng)
        for masked in result.faces:
            square = sample_square(masked.face.box, rng)
            out.append(crop_square(result.image, square, size))
    return out[:count]


def grid(tiles: list[np.ndarray], cols: int) -> np.ndarray:
    size = tiles[0].shape[0]
    rows = (len(tiles) + cols - 1) // cols
    sheet = np.full((rows * size, cols * size, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        sheet[r * size:(r + 1) * size, c * size:(c + 1) * size] = tile
    return sheet


def main() -> None:
    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, default=data)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wear", default="correct")
    args = parser.parse_args()
    real_folder = args.data / ("real_mask" if args.wear == "correct" else "incorrect_mask")
    real = tiles_from(real_folder, args.count, args.size)
    fake = synthetic(args.data / "unmasked_faces", args.count, args.size, args.seed, args.wear)
    cols = 8
    band = np.full((8, cols * args.size, 3), 255, np.uint8)
    sheet = np.vstack([grid(fake, cols), band, grid(real, cols)])
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}: top {len(fake)} synthetic, bottom {len(real)} real ({real_folder.name})")


if __name__ == "__main__":
    main()

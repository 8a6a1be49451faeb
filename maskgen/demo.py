"""The built-in demo: every mask type in every wear style on one photo, plus a contact sheet."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from maskgen.mask.catalog import list_mask_types
from maskgen.mask.masker import mask_faces
from maskgen.detect.faces import find_faces
from maskgen.atomic import write_text_atomic
from maskgen.images import read_image, write_image_atomic
from maskgen.mask.options import WEAR_STYLES, MaskOptions


def default_image() -> np.ndarray:
    """scikit-image's astronaut photo (ships with scikit-image, no download)."""
    import skimage.data

    return skimage.data.astronaut()


def run_demo(out: str | Path, image_path: str | Path | None = None, seed: int = 0, tile: int = 192) -> dict:
    """Write ``<type>_<wear>.jpg`` for every type and wear, ``contact_sheet.jpg`` and ``demo.csv`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    image = read_image(image_path) if image_path else default_image()
    faces = [f for f in find_faces(image) if not f.rejected]
    if not faces:
        raise ValueError(f"no face found in {image_path or 'the astronaut photo'}")
    x0, y0, x1, y1 = np.array([f.box for f in faces]).T
    side = max(x1.max() - x0.min(), y1.max() - y0.min())
    cx, cy = (x0.min() + x1.max()) / 2, (y0.min() + y1.max()) / 2 + 0.15 * side
    half = 0.8 * side
    crop = (int(max(cx - half, 0)), int(max(cy - half, 0)), int(min(cx + half, image.shape[1])),
            int(min(cy + half, image.shape[0])))
    rows = []
    sheet_rows = []
    rng = np.random.default_rng(seed)
    for wear in WEAR_STYLES:
        tiles = []
        for mask_type in list_mask_types():
            result = mask_faces(image, faces, MaskOptions(mask_type=mask_type, wear=wear), rng=rng)
            name = f"{mask_type}_{wear}.jpg"
            write_image_atomic(out / name, result.image)
            for i, masked in enumerate(result.faces):
                a = masked.attributes
                rows.append([name, i, a.mask_type, a.wear, a.color, a.color_name, a.texture])
            view = result.image[crop[1]:crop[3], crop[0]:crop[2]]
            tiles.append(cv2.resize(view, (tile, tile), interpolation=cv2.INTER_AREA))
        sheet_rows.append(np.hstack(tiles))
    write_image_atomic(out / "contact_sheet.jpg", np.vstack(sheet_rows))
    lines = [",".join(["file_name", "face_index", "mask_type", "wear", "color", "color_name", "texture"])]
    lines += [",".join(str(v) for v in row) for row in rows]
    write_text_atomic(out / "demo.csv", "\n".join(lines) + "\n")
    return {"images": len(rows) and len(list_mask_types()) * len(WEAR_STYLES), "faces": len(faces), "out": str(out)}

"""The dataset's records: ``metadata.csv``, ``skipped.csv`` and the COCO export.

Everything here is plain Python (csv, json): reading a manifest never imports torch, dlib
or imgaug.

``metadata.csv`` has one row per output image (see :data:`COLUMNS` and ``docs/dataset.md``).
Coordinates are in the output image's pixels after augmentation, rounded to 0.01. In face
crop mode the per-face columns (``face_index``, ``box``, ``landmarks``, ``mask_type``,
``color``, ``color_name``, ``texture``, ``texture_strength``, ``wear``) hold the one face's
values; in full-image mode they hold JSON lists with one entry per face in the image. For
``without_mask`` rows the mask columns hold ``none`` (and ``texture_strength`` 0), so that every
column keeps one type. Each split folder also gets its own ``metadata.csv`` (``file_name``
relative to that folder), which is what Hugging Face ``datasets`` reads per split. JSON is written compactly with sorted keys, so
the same data always gives the same bytes.

``skipped.csv`` lists every source (and face) that produced no output, with a short ``kind``
and a one-line ``reason``.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Iterable, Iterator

from maskgen import __version__
from maskgen.atomic import atomic_open

METADATA = "metadata.csv"
SKIPPED = "skipped.csv"
SETTINGS = "settings.json"

COLUMNS = (
    "file_name", "label", "split", "source", "face_index", "variant", "width", "height",
    "box", "landmarks", "mask_type", "color", "color_name", "texture", "texture_strength",
    "wear", "seed", "augment",
)
SKIP_COLUMNS = ("source", "face_index", "variant", "kind", "reason")

LABELS = ("with_mask", "without_mask", "incorrect_mask")
CATEGORY_IDS = {name: i + 1 for i, name in enumerate(LABELS)}

_JSON_COLUMNS = {"box", "landmarks", "augment"}
_INT_COLUMNS = {"face_index", "variant", "width", "height", "seed"}
_FLOAT_COLUMNS = {"texture_strength"}
_SKIP_INT_COLUMNS = {"face_index", "variant"}
PER_FACE_COLUMNS = ("face_index", "box", "landmarks", "mask_type", "color", "color_name", "texture",
                    "texture_strength", "wear")

KEYPOINT_NAMES = (
    [f"jaw_{i}" for i in range(17)]
    + [f"right_brow_{i}" for i in range(5)] + [f"left_brow_{i}" for i in range(5)]
    + [f"nose_bridge_{i}" for i in range(4)] + [f"nostril_{i}" for i in range(5)]
    + [f"right_eye_{i}" for i in range(6)] + [f"left_eye_{i}" for i in range(6)]
    + [f"outer_lip_{i}" for i in range(12)] + [f"inner_lip_{i}" for i in range(8)]
)


# --------------------------------------------------------------------------- encoding


def num(x) -> float:
    """A coordinate rounded to 0.01, never ``-0.0``."""
    v = round(float(x), 2) + 0.0
    if not math.isfinite(v):
        raise ValueError(f"non-finite value {x!r}")
    return v


def dumps(value) -> str:
    """Compact, key-sorted JSON: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def box_json(box) -> list:
    return [num(v) for v in box]


def points_json(points) -> list:
    return [[num(x), num(y)] for x, y in points]


def format_row(row: dict, columns=COLUMNS) -> list[str]:
    """A row dict as CSV cells: lists and dicts to JSON, None to empty."""
    cells = []
    for c in columns:
        v = row.get(c)
        if v is None:
            cells.append("")
        elif isinstance(v, (list, tuple, dict)):
            cells.append(dumps(v))
        elif isinstance(v, float):
            cells.append(repr(v + 0.0))
        else:
            cells.append(str(v))
    return cells


def _decode(column: str, text: str, json_columns, int_columns, float_columns):
    if text == "":
        return None
    if column in json_columns or (column in PER_FACE_COLUMNS and text[:1] == "["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    if column in int_columns:
        try:
            return int(text)
        except ValueError:
            return text
    if column in float_columns:
        try:
            return float(text)
        except ValueError:
            return text
    return text


# --------------------------------------------------------------------------- reading


def _csv_rows(path: Path) -> Iterator[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        yield from csv.reader(f)


def iter_csv_cells(path) -> Iterator[tuple[list[str], list[str]]]:
    """(header, cells) for each data row of a CSV file, undecoded; nothing if it is missing."""
    path = Path(path)
    if not path.is_file():
        return
    rows = _csv_rows(path)
    header = next(rows, None)
    if header is None:
        return
    for cells in rows:
        yield header, cells


def iter_manifest(out) -> Iterator[dict]:
    """Rows of ``OUT/metadata.csv`` one at a time, JSON columns decoded, numbers as numbers."""
    for header, cells in iter_csv_cells(Path(out) / METADATA):
        yield {c: _decode(c, v, _JSON_COLUMNS, _INT_COLUMNS, _FLOAT_COLUMNS) for c, v in zip(header, cells)}


def read_manifest(out) -> list[dict]:
    """All rows of ``OUT/metadata.csv`` as dicts (torch-free).

    ``box``, ``landmarks`` and ``augment`` are decoded from JSON; in full-image mode the
    per-face columns are lists. Empty cells become ``None``. ``file_name`` is relative to OUT.
    """
    return list(iter_manifest(out))


def read_skipped(out) -> list[dict]:
    """Rows of ``OUT/skipped.csv``: source, face_index (None for the whole source), variant, kind, reason."""
    return [{c: _decode(c, v, set(), _SKIP_INT_COLUMNS, set()) for c, v in zip(header, cells)}
            for header, cells in iter_csv_cells(Path(out) / SKIPPED)]


def read_settings(out) -> dict | None:
    """The settings a dataset was built with (``OUT/settings.json``), or None."""
    path = Path(out) / SETTINGS
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def csv_writer(f):
    return csv.writer(f, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)


# --------------------------------------------------------------------------- COCO


def face_records(row: dict) -> list[dict]:
    """The faces of one decoded manifest row as dicts (label, box, landmarks, attributes).

    Works for both modes: a crop row gives one face, a full-image row one per list entry.
    """
    box = row.get("box")
    if box is None:
        return []
    several = bool(box) and isinstance(box[0], list)
    boxes = box if several else [box]
    n = len(boxes)

    def per_face(column):
        v = row.get(column)
        if several:
            return list(v) if isinstance(v, list) else [v] * n
        return [v]

    lms, idx = per_face("landmarks"), per_face("face_index")
    types, colors, textures, strengths, wears = (per_face(c) for c in
                                                 ("mask_type", "color", "texture", "texture_strength", "wear"))
    from maskgen.mask.options import WEAR_LABELS

    faces = []
    for j in range(n):
        wear = wears[j]
        if row.get("label") == "without_mask" or not wear or wear == "none":
            label = "without_mask"
        else:
            label = WEAR_LABELS.get(wear, row.get("label"))
        faces.append({"face_index": idx[j], "label": label, "box": boxes[j], "landmarks": lms[j],
                      "mask_type": types[j], "color": colors[j], "texture": textures[j],
                      "texture_strength": strengths[j], "wear": wear})
    return faces


def coco_categories() -> list[dict]:
    return [{"id": CATEGORY_IDS[name], "name": name, "supercategory": "face",
             "keypoints": list(KEYPOINT_NAMES), "skeleton": []} for name in LABELS]


def coco_annotation(face: dict, ann_id: int, image_id: int, width: int, height: int) -> dict | None:
    """One COCO annotation (box clipped inside the image, 68 keypoints), or None if the box is empty."""
    x0, y0, x1, y1 = face["box"]
    x0, x1 = min(max(x0, 0.0), width), min(max(x1, 0.0), width)
    y0, y1 = min(max(y0, 0.0), height), min(max(y1, 0.0), height)
    bw, bh = num(x1 - x0), num(y1 - y0)
    if bw <= 0 or bh <= 0:
        return None
    x0, y0 = num(x0), num(y0)
    bw, bh = min(bw, num(width - x0)), min(bh, num(height - y0))
    keypoints, visible = [], 0
    for x, y in face["landmarks"] or []:
        if 0 <= x < width and 0 <= y < height:
            keypoints += [num(x), num(y), 2]
            visible += 1
        else:
            keypoints += [0, 0, 0]
    if not keypoints:
        keypoints = [0, 0, 0] * 68
    return {
        "id": ann_id, "image_id": image_id, "category_id": CATEGORY_IDS[face["label"]],
        "bbox": [x0, y0, bw, bh], "area": num(bw * bh), "iscrowd": 0,
        "segmentation": [[x0, y0, num(x0 + bw), y0, num(x0 + bw), num(y0 + bh), x0, num(y0 + bh)]],
        "keypoints": keypoints, "num_keypoints": visible,
        "attributes": {k: face[k] for k in ("face_index", "mask_type", "color", "texture", "wear")},
    }


def write_coco(out, splits: Iterable[str], tmp_dir=None) -> dict[str, Path]:
    """Write ``OUT/coco_<split>.json`` for each split from ``metadata.csv`` (full-image mode).

    Streams the manifest: images and annotations go to temporary files first, so memory stays
    flat however large the dataset. ``file_name`` is relative to OUT. Returns the paths.
    """
    out = Path(out)
    tmp_dir = Path(tmp_dir) if tmp_dir is not None else out
    splits = list(splits)
    parts = {}
    counters = {s: {"image": 0, "ann": 0} for s in splits}
    handles = {}
    try:
        for s in splits:
            img_path, ann_path = tmp_dir / f".coco_{s}.images.tmp", tmp_dir / f".coco_{s}.anns.tmp"
            handles[s] = (open(img_path, "w", encoding="utf-8", newline="\n"),
                          open(ann_path, "w", encoding="utf-8", newline="\n"))
            parts[s] = (img_path, ann_path)
        for row in iter_manifest(out):
            s = row.get("split")
            if s not in handles:
                continue
            c = counters[s]
            c["image"] += 1
            image_id = c["image"]
            w, h = int(row["width"]), int(row["height"])
            fi, fa = handles[s]
            fi.write(("," if image_id > 1 else "") + dumps(
                {"id": image_id, "file_name": row["file_name"], "width": w, "height": h,
                 "label": row["label"], "source": row["source"]}))
            for face in face_records(row):
                ann = coco_annotation(face, c["ann"] + 1, image_id, w, h)
                if ann is None:
                    continue
                c["ann"] += 1
                fa.write(("," if c["ann"] > 1 else "") + dumps(ann))
    finally:
        for fi, fa in handles.values():
            fi.close()
            fa.close()
    written = {}
    try:
        for s in splits:
            target = out / f"coco_{s}.json"
            img_path, ann_path = parts[s]
            with atomic_open(target, "w", tmp_dir=tmp_dir) as f:
                f.write('{"info":' + dumps({"description": f"maskgen dataset, split {s}",
                                            "version": _version()}) + ',"licenses":[],"images":[')
                _copy_text(img_path, f)
                f.write('],"annotations":[')
                _copy_text(ann_path, f)
                f.write('],"categories":' + dumps(coco_categories()) + "}\n")
            written[s] = target
    finally:
        for img_path, ann_path in parts.values():
            img_path.unlink(missing_ok=True)
            ann_path.unlink(missing_ok=True)
    return written


def _copy_text(path: Path, f, chunk: int = 1 << 20) -> None:
    with open(path, encoding="utf-8") as src:
        while True:
            data = src.read(chunk)
            if not data:
                return
            f.write(data)


def _version() -> str:
    return __version__

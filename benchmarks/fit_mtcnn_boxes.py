"""Fit the map from MTCNN boxes to HOG-like boxes, and measure the landmark error it leaves.

dlib's 68-point predictor was trained on boxes like its HOG detector's; MTCNN's boxes are narrower and
sit lower. On every face that both detectors find (one HOG box and the MTCNN box overlapping it most,
IoU >= 0.4) in the given folders, this fits by least squares

    HOG centre x = cx + DX * w,   HOG centre y = cy + DY * h,   HOG side = SW * w + SH * h

(c, w, h: the MTCNN box's centre, width and height), the constants of ``maskgen.detect.framing``.
It then predicts landmarks from HOG boxes and from mapped MTCNN boxes (as ``find_faces`` does: with
the upright refinement) and reports their difference in % of the interocular distance (between the
eye centres of the HOG landmarks): mean over the 68 points per face, then the mean and 95th percentile
over faces; in-sample, 5-fold cross-validated, with the shipped constants and with raw MTCNN boxes.

    python benchmarks/fit_mtcnn_boxes.py                        # ../shared/data/unmasked_faces and no_mask
    python benchmarks/fit_mtcnn_boxes.py --data DIR --folders a,b
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from maskgen.boxes import box_iou  # noqa: E402
from maskgen.detect import faces, framing, mtcnn  # noqa: E402
from maskgen.images import ImageReadError, read_image  # noqa: E402

EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def pairs(paths: list[Path]) -> list[dict]:
    """Faces both detectors find: the enlarged view, the HOG box and the MTCNN box on it."""
    out = []
    for path in paths:
        try:
            image = read_image(path)
        except ImageReadError as exc:
            print(f"skip {exc}", file=sys.stderr)
            continue
        view = framing.enlarge(image)
        hog = faces._keep(faces._detect_boxes(view.image, "hog", 1), faces.DEFAULT_MIN_SCORE)
        found = mtcnn.detect([view.image])[0]
        for hbox, _ in hog:
            if not found:
                break
            best = max(found, key=lambda f: box_iou(hbox, f[0]))
            if box_iou(hbox, best[0]) >= 0.4:
                out.append({"file": path.name, "image": view.image, "hog": hbox, "mtcnn": best[0]})
    return out


def fit(items: list[dict]) -> tuple[float, float, float, float]:
    m = np.array([p["mtcnn"] for p in items])
    h = np.array([p["hog"] for p in items])
    w_m, h_m = m[:, 2] - m[:, 0], m[:, 3] - m[:, 1]
    dx = np.mean(((h[:, 0] + h[:, 2]) - (m[:, 0] + m[:, 2])) / 2 / w_m)
    dy = np.mean(((h[:, 1] + h[:, 3]) - (m[:, 1] + m[:, 3])) / 2 / h_m)
    side = ((h[:, 2] - h[:, 0]) + (h[:, 3] - h[:, 1])) / 2
    (sw, sh), *_ = np.linalg.lstsq(np.stack([w_m, h_m], 1), side, rcond=None)
    return float(dx), float(dy), float(sw), float(sh)


def landmarks(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    lm = faces.predict_landmarks(image, box)
    return faces.refine_landmarks(image, box, lm)


def errors(items: list[dict], constants) -> np.ndarray:
    """Per face: mean distance of the 68 points, in % of the interocular distance."""
    out = []
    for p in items:
        ref = p.setdefault("ref", landmarks(p["image"], p["hog"]))
        box = p["mtcnn"] if constants is None else framing.hog_like_box(p["mtcnn"], constants)
        lm = landmarks(p["image"], box)
        iod = np.linalg.norm(ref[42:48].mean(0) - ref[36:42].mean(0))
        out.append(100 * np.linalg.norm(lm - ref, axis=1).mean() / iod)
    return np.array(out)


def cross_validated(items: list[dict], folds: int = 5) -> np.ndarray:
    order = np.random.default_rng(0).permutation(len(items))
    out = np.zeros(len(items))
    for k in range(folds):
        test = order[k::folds]
        train = [items[i] for i in order if i not in set(test)]
        out[test] = errors([items[i] for i in test], fit(train))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--folders", default="unmasked_faces,no_mask")
    args = ap.parse_args(argv)
    paths = sorted(p for f in args.folders.split(",") for p in (Path(args.data) / f).glob("*")
                   if p.suffix.lower() in EXTS)
    items = pairs(paths)
    if len(items) < 10:
        print(f"only {len(items)} faces found by both detectors in {args.data}: nothing to fit", file=sys.stderr)
        return 1
    constants = fit(items)
    print(f"{len(items)} faces found by both detectors in {len(paths)} photos ({args.folders})")
    print("fitted: HOG_DX = {:.4f}, HOG_DY = {:.4f}, HOG_SW = {:.4f}, HOG_SH = {:.4f}".format(*constants))
    shipped = (framing.HOG_DX, framing.HOG_DY, framing.HOG_SW, framing.HOG_SH)
    print("shipped: HOG_DX = {:.4f}, HOG_DY = {:.4f}, HOG_SW = {:.4f}, HOG_SH = {:.4f}".format(*shipped))
    print("landmark error, % of interocular distance (mean of 68 points per face; over faces):")
    rows = [("raw MTCNN boxes", errors(items, None)), ("fitted, in-sample", errors(items, constants)),
            ("fitted, 5-fold cross-validated", cross_validated(items)), ("shipped constants", errors(items, shipped))]
    for name, e in rows:
        print(f"  {name:<32} mean {e.mean():5.2f}  median {np.median(e):5.2f}  95th pct {np.percentile(e, 95):5.2f}"
              f"  max {e.max():5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

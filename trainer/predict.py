"""Faces first, then the classifier: ``maskgen evaluate`` and ``maskgen predict``.

Each photo goes through maskgen's detector; each face is cut with
:func:`maskgen.crops.face_square` at the margin stored in the checkpoint (the middle of the
margins the training crops were sampled with) and resized to the training size, exactly as
the dataset's ``--crop face`` mode cut the training images. A photo where no face is found
is, by default, classified whole as an already-cropped face (its centred square: crops are
never padded, in training or here).
"""
from __future__ import annotations

import collections
import dataclasses
import time
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import DataLoader, Dataset

from maskgen.crops import crop_square, cut_square, face_square
from maskgen.images import ImageReadError, read_image, write_image_atomic

from .classifier import Classifier, Ensemble, load_classifier, run_folder
from .config import InferenceOptions
from .errors import TrainerError
from .files import write_csv, write_json
from .loop import stderr_log
from .photos import is_image, labelled_photos, list_images
from .report import write_report

PATHS = ("face", "whole", "no_face", "unreadable")
CLASS_COLORS = {"with_mask": (40, 170, 60), "without_mask": (220, 40, 40), "incorrect_mask": (245, 150, 20)}
OTHER_COLORS = [(60, 120, 230), (170, 60, 200), (20, 170, 170), (120, 120, 120)]


def whole_square(shape) -> np.ndarray:
    """The largest square centred on the image (a photo taken as an already-cropped face)."""
    h, w = shape[:2]
    side = min(h, w)
    return np.array([(w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2], float)


def detect(image: np.ndarray, detector: str, upsample: int | None, max_side: int | None,
           min_score: float | None = None, min_face: int | None = None):
    """maskgen's faces (box, score, detector), found on a copy shrunk to ``max_side`` (boxes mapped
    back). ``min_score`` None keeps maskgen's own threshold; ``min_face`` (px, in the photo) and
    ``upsample`` are :func:`maskgen.find_faces`'s."""
    import maskgen

    h, w = image.shape[:2]
    scale = 1.0
    small = image
    if max_side and max(h, w) > max_side:
        scale = max_side / max(h, w)
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    small_face = None if min_face is None else max(8, round(min_face * scale))
    faces = maskgen.find_faces(small, detector=detector, upsample=upsample, min_score=min_score, min_face=small_face)
    return [(np.asarray(f.box, float) / scale, float(f.score), f.detector) for f in faces]


class PhotoCrops(Dataset):
    """Per photo: read, find faces (as ``opts`` says, its detector resolved), cut crops. Runs in
    DataLoader workers (dlib per process)."""

    def __init__(self, paths: list[str], image_size: int, margin: float, opts: InferenceOptions,
                 largest_only: bool = False, drop: float = 0.0):
        self.paths, self.image_size, self.margin, self.drop = paths, image_size, margin, drop
        self.opts, self.largest_only = opts, largest_only

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        path = self.paths[index]
        item = {"index": index, "path": path, "faces": [], "kind": "unreadable", "error": "", "width": 0, "height": 0}
        try:
            image = read_image(path)
        except ImageReadError as exc:
            item["error"] = f"cannot read {exc}"
            return item
        item["height"], item["width"] = image.shape[:2]
        o = self.opts
        found = detect(image, o.detector, o.upsample, o.max_side or None, o.min_score, o.min_face)
        item["n_detected"] = len(found)
        if found:
            if self.largest_only:
                found = [max(found, key=lambda f: (f[0][2] - f[0][0]) * (f[0][3] - f[0][1]))]
            item["kind"] = "face"
            for box, score, found_by in found:
                crop, square = cut_square(image, face_square(box, self.margin, (0.0, self.drop)), self.image_size)
                item["faces"].append({"box": box, "score": score, "square": square, "crop": crop,
                                      "detector": found_by})
        elif self.opts.fallback:
            item["kind"] = "whole"
            crop, square = cut_square(image, whole_square(image.shape), self.image_size)
            item["faces"].append({"box": np.array([0.0, 0.0, image.shape[1], image.shape[0]]), "score": float("nan"),
                                  "square": square, "crop": crop, "detector": ""})
        else:
            item["kind"] = "no_face"
        return item


def _photo_loader(dataset: PhotoCrops, workers: int | None, batch: int = 8) -> DataLoader:
    if workers is None:
        import os

        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        workers = 0 if len(dataset) < 16 else min(4, cpus)
    # OpenCV's thread pool does not survive fork() (a forked worker can hang in its first cv2
    # call once the parent has used cv2): start the workers from a clean process instead.
    context = None
    if workers > 0:
        import multiprocessing

        context = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return DataLoader(dataset, batch_size=batch, num_workers=workers, collate_fn=list,
                      multiprocessing_context=context)


def _prob_columns(classes):
    return [f"p_{c}" for c in classes]


def _settings(options: InferenceOptions | None, overrides: dict, log=None) -> InferenceOptions:
    """``options`` (default: :class:`InferenceOptions`'s defaults) with keyword ``overrides``, and
    the detector resolved: no detector named means mtcnn where it is installed, else hog (said in
    one line through ``log``)."""
    opts = dataclasses.replace(options or InferenceOptions(), **overrides)
    if opts.detector is None:
        opts.detector = default_detector(log)
    return opts


def default_detector(log=None) -> str:
    """``mtcnn`` (it finds masked faces) where its extra is installed, else ``hog``."""
    from maskgen.detect import mtcnn

    if mtcnn.available():
        return "mtcnn"
    if log is not None:
        log("mtcnn is not installed (pip install 'maskgen[mtcnn]'): finding faces with hog, "
            "which misses most masked faces")
    return "hog"


def _photo_crops(paths: list[str], clf: Classifier | Ensemble, opts: InferenceOptions, largest_only: bool = False) -> PhotoCrops:
    return PhotoCrops(paths, clf.image_size, clf.margin, opts, largest_only, clf.drop)


def evaluate_photos(run, data, out=None, class_map: dict | None = None, options: InferenceOptions | None = None,
                    log=stderr_log, **overrides) -> dict:
    """Evaluate a trained run on labelled real photos (``data/<folder>/<photo>``).

    Per photo the largest detected face is classified; with no face found, the whole photo (if
    ``fallback``) or nothing: the photo then counts as ``no_face``. Writes metrics.json,
    predictions.csv, roc.png, confusion.png, examples.png under ``out`` and returns the metrics.
    ``options`` (or keywords such as ``detector="cnn"``) say how faces are found. ``run``: a run
    folder or checkpoint, or a list of them classifying as an :class:`Ensemble`.
    """
    opts = _settings(options, overrides, log)
    clf = load_classifier(run, opts)
    photos, ignored = labelled_photos(Path(data), clf.classes, class_map or {})
    if not photos:
        raise TrainerError(f"no photos found in {data}")
    out = Path(out) if out else run_folder(run) / "eval" / Path(data).resolve().name
    out.mkdir(parents=True, exist_ok=True)
    if ignored:
        log(f"ignoring folders not named in --classes: {', '.join(ignored)}")
    log(f"evaluating {clf.describe()} (classes {', '.join(clf.classes)}) on {len(photos)} photos from {data}")
    start = time.perf_counter()
    rows, targets, probs, crops_at = _classify_largest_faces(clf, photos, opts, log)
    extra = {**clf.info(), "data": str(data), "class_map": class_map or {},
             "ignored_folders": ignored, "detector": opts.detector, "min_face": opts.min_face, "upsample": opts.upsample,
             "min_score": opts.min_score, "fallback": opts.fallback, "crop_margin": clf.margin, "crop_drop": clf.drop, "mirror": clf.mirror,
             "image_size": clf.image_size, **_path_counts(rows), "seconds": time.perf_counter() - start}

    def load_image(i):
        file, square = crops_at[i]
        try:
            return crop_square(read_image(file), square, clf.image_size)
        except ImageReadError:
            return None

    columns = ["file", "folder", "label", "pred", "prob", "correct", "path", "detector", "faces_found", "box", "square",
               *_prob_columns(clf.classes), "width", "height", "error"]
    probs_arr = np.array(probs).reshape(len(targets), len(clf.classes))
    metrics = write_report(out, clf.classes, targets, probs_arr, rows, columns, load_image, extra=extra,
                           title=f"{Path(data).name} ({len(targets)} photos)")
    metrics["out"] = str(out)
    return metrics


def _classify_largest_faces(clf: Classifier | Ensemble, photos: list[tuple[str, int, str]], opts: InferenceOptions, log):
    """Per photo a CSV row; for those classified also the target, the probabilities and (file, square)."""
    dataset = _photo_crops([p for p, _, _ in photos], clf, opts, largest_only=True)
    rows, targets, probs, crops_at = [], [], [], []
    for batch in _photo_loader(dataset, opts.workers):
        p = clf.probs([item["faces"][0]["crop"] for item in batch if item["faces"]])
        k = 0
        for item in batch:
            _, target, folder = photos[item["index"]]
            row = {"file": item["path"], "folder": folder, "label": clf.classes[target], "path": item["kind"],
                   "faces_found": item.get("n_detected", 0), "width": item["width"], "height": item["height"],
                   "error": item["error"]}
            if item["faces"]:
                face = item["faces"][0]
                pred = int(p[k].argmax())
                row.update(pred=clf.classes[pred], prob=float(p[k, pred]), correct=int(pred == target),
                           detector=face["detector"],
                           box=" ".join(f"{v:.1f}" for v in face["box"]),
                           square=" ".join(f"{v:.1f}" for v in face["square"]))
                row.update({f"p_{c}": float(p[k, j]) for j, c in enumerate(clf.classes)})
                targets.append(target)
                probs.append(p[k])
                crops_at.append((item["path"], face["square"]))
                k += 1
            rows.append(row)
        if len(rows) % 80 < len(batch) and len(rows) < len(photos):
            log(f"  {len(rows)}/{len(photos)} photos")
    return rows, targets, probs, crops_at


def _path_counts(rows: list[dict]) -> dict:
    """How many photos went which way, and the accuracy of each way."""
    counts = {kind: sum(r["path"] == kind for r in rows) for kind in PATHS}
    found_by = collections.Counter(r.get("detector") for r in rows if r["path"] == "face")
    by_path = {}
    for kind in ("face", "whole"):
        sel = [r for r in rows if r["path"] == kind]
        by_path[kind] = {"n": len(sel), "accuracy": (sum(r["correct"] for r in sel) / len(sel)) if sel else None}
    readable = len(rows) - counts["unreadable"]
    return {"photos": len(rows), "paths": counts, "by_path": by_path, "found_by": dict(found_by),
            "face_share": counts["face"] / len(rows) if rows else 0.0,
            "accuracy_all_photos": (sum(r.get("correct", 0) for r in rows) / readable) if readable else None}


def gather_inputs(inputs) -> list[tuple[str, str]]:
    """(path, name relative to its input) for files and folders (searched recursively)."""
    found = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found.extend((str(p), str(p.relative_to(item))) for p in list_images(item))
        elif item.is_file():
            if not is_image(item):
                raise TrainerError(f"{item} is not an image file")
            found.append((str(item), item.name))
        else:
            raise TrainerError(f"{item}: no such file or folder")
    if not found:
        raise TrainerError("no images given")
    return found


def class_color(name: str, index: int) -> tuple[int, int, int]:
    return CLASS_COLORS.get(name, OTHER_COLORS[index % len(OTHER_COLORS)])


def annotate(image: np.ndarray, faces: list[dict], classes: list[str]) -> np.ndarray:
    """The photo with each face's box and ``label prob`` drawn on it."""
    out = image.copy()
    h, w = out.shape[:2]
    thick = max(1, round(max(h, w) / 500))
    for face in faces:
        x0, y0, x1, y1 = (int(round(v)) for v in face["box"])
        scale = float(np.clip(min(max(h, w) / 1000, (x1 - x0) / 200), 0.35, 1.5))
        color = class_color(face["label"], classes.index(face["label"]))
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), color, thick + 1)
        text = f"{face['label']} {face['prob']:.2f}" + (" (whole)" if face["path"] == "whole" else "")
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ty = y0 - 4 if y0 - th - base - 4 >= 0 else min(h - 1, y1 + th + 4)
        tx = max(0, min(x0, w - tw - 2))
        cv2.rectangle(out, (tx, ty - th - base), (tx + tw + 2, ty + base), color, -1)
        cv2.putText(out, text, (tx + 1, ty), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out


def _write_annotated(out: Path, rel: str, source: str, faces: list[dict], classes: list[str], used: set) -> str:
    """``out/annotated/<rel>.jpg`` (a new name when two inputs share one): the photo with its faces drawn."""
    name = Path(rel).with_suffix(".jpg")
    stem, n = name.with_suffix(""), 1
    while str(name) in used:
        name = Path(f"{stem}_{n}.jpg")
        n += 1
    used.add(str(name))
    target = out / "annotated" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    write_image_atomic(target, annotate(read_image(source), faces, classes), quality=90)
    return str(target)


def predict_images(run, inputs, out=None, fmt: str = "both", annotated: bool = True,
                   options: InferenceOptions | None = None, log=stderr_log, **overrides) -> dict:
    """Classify every face in each image; write predictions.csv / predictions.json and annotated
    copies under ``out``. Returns ``{"out": folder, "images": [one dict per image with its faces]}``.
    ``options`` (or keywords such as ``detector="cnn"``) say how faces are found; ``run``: as
    :func:`evaluate_photos` takes it."""
    opts = _settings(options, overrides, log)
    clf = load_classifier(run, opts)
    files = gather_inputs(inputs)
    out = Path(out) if out else run_folder(run) / "predict"
    out.mkdir(parents=True, exist_ok=True)
    results, rows, used_names = [], [], set()
    for batch in _photo_loader(_photo_crops([p for p, _ in files], clf, opts), opts.workers):
        p = clf.probs([face["crop"] for item in batch for face in item["faces"]])
        k = 0
        for item in batch:
            source, rel = files[item["index"]]
            faces = []
            for i, face in enumerate(item["faces"]):
                pred = int(p[k].argmax())
                faces.append({"face": i, "box": [round(float(v), 1) for v in face["box"]],
                              "score": None if face["score"] != face["score"] else round(face["score"], 3),
                              "label": clf.classes[pred], "prob": float(p[k, pred]), "path": item["kind"],
                              "detector": face["detector"], "probs": {c: float(p[k, j]) for j, c in enumerate(clf.classes)}})
                k += 1
            result = {"file": source, "path": item["kind"], "faces": faces, "width": item["width"],
                      "height": item["height"], "error": item["error"]}
            if annotated and item["kind"] != "unreadable":
                result["annotated"] = _write_annotated(out, rel, source, faces, clf.classes, used_names)
            results.append(result)
            for face in faces:
                rows.append({"file": source, "face": face["face"], "x0": face["box"][0], "y0": face["box"][1],
                             "x1": face["box"][2], "y1": face["box"][3], "label": face["label"], "prob": face["prob"],
                             "path": face["path"], "detector": face["detector"],
                             "score": face["score"] if face["score"] is not None else "",
                             **{f"p_{c}": v for c, v in face["probs"].items()}})
            if not faces:
                rows.append({"file": source, "face": "", "path": item["kind"], "error": item["error"]})
            log(f"{rel}: " + (", ".join(f"{f['label']} {f['prob']:.2f}" for f in faces) or item["kind"].replace("_", " ")))
    columns = ["file", "face", "x0", "y0", "x1", "y1", "label", "prob", "path", "detector", "score",
               *_prob_columns(clf.classes), "error"]
    if fmt in ("csv", "both"):
        write_csv(out / "predictions.csv", rows, columns)
    if fmt in ("json", "both"):
        write_json(out / "predictions.json", {**clf.info(), "classes": clf.classes,
                                              "detector": opts.detector, "crop_margin": clf.margin, "crop_drop": clf.drop,
                                              "mirror": clf.mirror, "images": results})
    return {"out": str(out), **clf.info(), "classes": clf.classes, "images": results}

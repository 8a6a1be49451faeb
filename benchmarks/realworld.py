"""What a generator's masks are worth on real photos: a fixed recipe, only the masks differ.

Builds a dataset from a folder of real unmasked portraits with the generator settings given,
trains ResNet-50 from scratch with a fixed recipe, and scores it on a folder of real photos
(``real_mask/``, ``no_mask/``, ``incorrect_mask/``). Prints recall per class, balanced accuracy,
ROC-AUC, the share of real photos classified through a found face, per-source figures (from the
folder's ``manifest.csv`` column ``source_repo``, when there is one) and the time of each stage;
writes every figure to ``WORK/results.json``. Everything runs through the ``maskgen`` commands
(``augment``, ``train``, ``evaluate``) and the public library API; nothing of the trainer is
imported.

2-class recipe (the default, ``--classes 2``):

1. portraits: ``--portraits`` (default ``../shared/data/unmasked_faces``, 120 photos), split by
   photo (identity): about 85% train (seeded), the rest unused;
2. masks: ``maskgen augment --crop full --detector hog --variants 7 --negatives 1 --wear correct
   --augment none --split 1,0,0`` on the train photos: every face masked on the whole photo, 7
   variants per photo, and beside each variant an unmasked copy of the original (``--negatives 1``;
   with ``--augment`` other than ``none`` it gets the same kind of augmentation, so augmentation is
   no cue). ``--mask-type``, ``--augment`` and ``--augment-args`` change the generator;
3. crops: the largest HOG face box of each output (as recorded in ``metadata.csv``), a square of
   side 1.1-1.6x the box (uniform, seeded per photo and variant; the masked variant and its
   unmasked twin get the same square, so both classes are framed identically), resized to
   128 px: about 102 photos x 14 = 1,428 training crops (``--negatives N`` keeps the unmasked twins
   of the first N variants only);
4. checkpoint picking: ``DATA/val/`` is made of the ``--pick`` real photos (default: the public
   ``../shared/data``: ``real_mask`` -> ``with_mask``, ``no_mask`` -> ``without_mask``), cut as
   the training crops were cut (the largest face found with evaluate's default detector, margin 0.175,
   the mean of the training crops'; the whole photo's centred square when no face is found);
5. training: ``maskgen train DATA --epochs 12 --image-size 112 --batch-size 32 --optimizer adamw
   --lr 1e-3 --scheduler cosine --augment light --metric val_balanced_acc --patience 0
   --crop-margin 0.175`` (from scratch; ``best.pt`` is the epoch with the best balanced accuracy on
   the --pick photos; ``--crop-margin`` tells prediction how the training crops were framed);
6. scoring: ``maskgen evaluate RUN REAL --classes real_mask=with_mask,no_mask=without_mask`` with
   evaluate's default detector, on ``--real`` (default ``../shared/data/real_dev``) and, reported
   apart, on the --pick photos (which chose the checkpoint, so they flatter it).

3-class recipe (``--classes 3``): the recipe of ``docs/training.md`` as written there
(``maskgen augment ... --crop face --crop-size 128 --variants 6 --negatives 1
--wear correct=0.6,nose=0.2,chin=0.2 --augment realistic --split 0.8,0.2,0 --seed 1``, then
``maskgen train ... --image-size 112 --epochs 12 --patience 4 --metric val_loss --batch-size 32
--augment light --seed 0``), scored as above with ``incorrect_mask=incorrect_mask`` added; the incorrect-wear
recall and the share of incorrect masks called ``with_mask`` are printed too. ``--models N`` trains
N such models, member k on its own dataset (training seed ``seed + 10k``, generator seed that + 1, so
another split of the portraits too), and scores them as one (``maskgen evaluate RUN --ensemble
RUN_1 ...``: the class probabilities averaged); ``--score-members`` also scores each alone.

Time (2 CPU cores): training dominates, and its speed differs between 2-core machines. On the
machine of the ``docs/training.md`` runs of 2026-12-02 (morning) ResNet-50 at 112 px trained at 15-17
images/s and the full 2-class recipe took 21-22 minutes; on the machine of the later runs it trained at
7.1-7.6 images/s (one compute thread; the second core feeds the loader), and the 3-class recipe at 112
px with one unmasked crop per variant took 43 minutes (37 of them training), so there the full 2-class
recipe (1,428 crops) would take about 45 minutes. Since 2026-12-07 the trainer computes on every core
of a CPU (no loader process; channels-last): on that later kind of machine ResNet-50 at 112 px trains at
14-17 images/s, the 3-class recipe's training takes about 16 minutes and the whole 3-class run about 24.
Each run prints its measured speed and what the full recipe would take at it. On a GPU the recipe takes a few minutes. ``--epochs`` and
``--limit-portraits`` shrink a run for smoke tests; ``results.json`` says ``"full_recipe": false``
for such runs.

    .venv/bin/python benchmarks/realworld.py --work runs/bench                    # 2 classes
    .venv/bin/python benchmarks/realworld.py --work runs/bench3 --classes 3
    .venv/bin/python benchmarks/realworld.py --work runs/b --mask-type surgical,cloth --augment light
    .venv/bin/python benchmarks/realworld.py --work runs/smoke --limit-portraits 6 --epochs 1 --image-size 32
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from trees import tree_command

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MASKGEN_SHARED_DATA") or REPO.parent / "shared" / "data")
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

FOLDER_CLASSES = {"real_mask": "with_mask", "no_mask": "without_mask", "incorrect_mask": "incorrect_mask"}
TRAIN_SHARE = 0.85          # 2 classes: share of portraits (identities) trained on
VARIANTS = 7                # 2 classes: masked variants per photo, each with an unmasked twin
CROP_SIDE = (1.1, 1.6)      # 2 classes: crop side / face box side
CROP_MARGIN = (sum(CROP_SIDE) / 2 - 1.0) / 2  # 2 classes: the crops' mean margin (maskgen train --crop-margin)
CROP_SIZE = 128
MARKER = ".realworld"          # marks a work folder this script may empty
MEMBER_SEED_STEP = 10          # --models: member k trains with seed + 10 k
RECIPES = {
    2: {"image_size": 112, "augment": "none", "wear": "correct",
        "train": ["--batch-size", "32", "--optimizer", "adamw", "--lr", "1e-3", "--scheduler", "cosine",
                  "--augment", "light", "--metric", "val_balanced_acc", "--patience", "0",
                  "--crop-margin", f"{CROP_MARGIN:g}"]},
    # docs/training.md, "The recipe" (tests/test_realworld.py checks the two agree)
    3: {"image_size": 112, "augment": "realistic", "wear": "correct=0.6,nose=0.2,chin=0.2",
        "augment_cmd": ["--crop", "face", "--crop-size", "128", "--variants", "6", "--negatives", "1",
                        "--split", "0.8,0.2,0"],
        "train": ["--patience", "4", "--metric", "val_loss", "--batch-size", "32", "--augment", "light"]},
}


def fail(message: str) -> None:
    raise SystemExit(f"Error: {message}")


def maskgen_command() -> list[str]:
    exe = Path(sys.executable).with_name("maskgen")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("maskgen")
    if not found:
        fail("the maskgen command is not installed next to this Python nor on PATH (pip install -e '.[train]')")
    return [found]


def run(cmd: list[str], log_file: Path) -> float:
    """Run a maskgen command (its output to the console and ``log_file``); seconds taken."""
    print("$ " + shlex.join(cmd), flush=True)
    start = time.perf_counter()
    with open(log_file, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in proc.stdout:
            sys.stdout.write("  " + line)
            log.write(line)
        rc = proc.wait()
    if rc:
        fail(f"`{' '.join(cmd[:2])}` exited with status {rc}; its output is in {log_file}")
    return time.perf_counter() - start


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXT)


def labelled_folders(root: Path, classes: int, what: str) -> dict[str, str]:
    """The folders of ``root`` to score on, mapped to the model's classes."""
    if not root.is_dir():
        fail(f"{what} {root} is not a folder")
    wanted = {k: v for k, v in FOLDER_CLASSES.items() if classes == 3 or v != "incorrect_mask"}
    found = {k: v for k, v in wanted.items() if (root / k).is_dir() and list_images(root / k)}
    if "real_mask" not in found or "no_mask" not in found:
        fail(f"{what} {root} needs real_mask/ and no_mask/ folders of photos (found: {', '.join(found) or 'none'})")
    return found


def pick_portraits(folder: Path, limit: int | None, seed: int, share: float | None) -> tuple[list[Path], int]:
    """The portraits to generate from (a seeded share of them for 2 classes), and how many there were."""
    if not folder.is_dir():
        fail(f"--portraits {folder} is not a folder")
    files = list_images(folder)
    if not files:
        fail(f"--portraits {folder} holds no photos")
    rng = np.random.default_rng(seed)
    order = [files[i] for i in rng.permutation(len(files))]
    if limit:
        order = order[:limit]
    total = len(order)
    if share is not None:
        order = order[:max(1, round(share * total))]
    return sorted(order), total


def link_sources(files: list[Path], dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for f in files:
        (dest / f.name).symlink_to(f.resolve())
    return dest


def generator_args(args, recipe: dict) -> list[str]:
    out = ["--augment", args.augment or recipe["augment"], "--wear", args.wear or recipe["wear"]]
    if args.mask_type:
        out += ["--mask-type", args.mask_type]
    return out + shlex.split(args.augment_args or "")


# --------------------------------------------------------------------------- 2-class data


def crop_side_margin(seed: int, source: str, variant: int) -> float:
    """Margin (fraction of the box side on each side) of one photo's variant: side 1.1-1.6x the box."""
    rng = np.random.default_rng([seed, zlib.crc32(source.encode()), variant])
    side = rng.uniform(*CROP_SIDE)
    return (side - 1.0) / 2.0


def largest_box(boxes) -> np.ndarray | None:
    boxes = [np.asarray(b, float) for b in boxes if b is not None and len(b) == 4]
    if not boxes:
        return None
    return max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))


def write_jpeg(path: Path, image: np.ndarray, quality: int = 95) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=quality)


def crop_outputs(gen: Path, data: Path, seed: int, negatives: int) -> dict[str, int]:
    """Cut the training crops out of the full-image outputs of ``maskgen augment`` (the unmasked
    twins of the first ``negatives`` variants of each photo)."""
    import maskgen
    from maskgen.crops import crop_square, face_square

    counts: dict[str, int] = {}
    for row in maskgen.read_manifest(gen):
        box = row["box"]
        box = largest_box(box if box and isinstance(box[0], (list, tuple)) else [box])
        if box is None or row["label"] not in ("with_mask", "without_mask"):
            continue
        if row["label"] == "without_mask" and int(row["variant"]) >= negatives:
            continue
        image = maskgen.read_image(gen / row["file_name"], max_pixels=None)
        margin = crop_side_margin(seed, row["source"], int(row["variant"]))
        crop = crop_square(image, face_square(box, margin), CROP_SIZE)
        name = Path(row["file_name"]).stem + ".jpg"
        write_jpeg(data / "train" / row["label"] / name, crop)
        counts[row["label"]] = counts.get(row["label"], 0) + 1
    return counts


# --------------------------------------------------------------------------- real photos


def evaluate_default_detector(maskgen_cmd: list[str]) -> str:
    """The detector ``maskgen evaluate`` uses by default (read from its --help), if the library's
    ``find_faces`` has it too; else HOG, with one line saying so."""
    import maskgen

    text = subprocess.run(maskgen_cmd + ["evaluate", "--help"], capture_output=True, text=True).stdout
    match = re.search(r"--detector\s+\[[^\]]*\](.*?)\[default:\s*([\w-]+)", text, re.S)
    detector = match.group(2) if match and "--" not in match.group(1) else "hog"
    try:
        maskgen.find_faces(np.zeros((64, 64, 3), np.uint8), detector=detector)
    except (ValueError, ImportError, RuntimeError) as exc:
        print(f"the --pick crops use hog: maskgen.find_faces cannot use evaluate's default detector {detector!r} ({exc})")
        detector = "hog"
    return detector


def face_crop(image: np.ndarray, detector: str, size: int, margin: float) -> tuple[np.ndarray, bool]:
    """The photo cut as the training crops were: the largest face found (searched on a copy of at
    most 1600 px) at ``margin``; else the centred square of the whole photo."""
    import cv2

    import maskgen
    from maskgen.crops import crop_square, face_square

    h, w = image.shape[:2]
    scale = min(1.0, 1600 / max(h, w))
    small = image if scale == 1.0 else cv2.resize(image, (round(w * scale), round(h * scale)),
                                                  interpolation=cv2.INTER_AREA)
    faces = maskgen.find_faces(small, detector=detector)
    if faces:
        box = largest_box([np.asarray(f.box, float) / scale for f in faces])
        return crop_square(image, face_square(box, margin), size), True
    side = min(h, w)
    square = [(w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2]
    return crop_square(image, square, size), False


def build_pick_val(pick: Path, folders: dict[str, str], data: Path, detector: str, size: int) -> dict:
    """DATA/val/<class>/ from the --pick photos, face-cropped as the training crops are (the trainer
    then shows them as prediction does)."""
    import maskgen
    from PIL import Image

    stats = {"photos": 0, "via_face": 0, "unreadable": 0, "per_class": {}}
    for folder, label in folders.items():
        out = data / "val" / label
        out.mkdir(parents=True, exist_ok=True)
        for path in list_images(pick / folder):
            try:
                image = maskgen.read_image(path)
            except maskgen.ImageReadError as exc:
                print(f"  skipped {path}: {exc}")
                stats["unreadable"] += 1
                continue
            crop, found = face_crop(image, detector, size, CROP_MARGIN)
            Image.fromarray(crop).save(out / (path.stem + ".png"))
            stats["photos"] += 1
            stats["via_face"] += int(found)
            stats["per_class"][label] = stats["per_class"].get(label, 0) + 1
    return stats


# --------------------------------------------------------------------------- figures


def roc_auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """ROC-AUC (Mann-Whitney, ties counted half); None without both classes."""
    pos, neg = int(positive.sum()), int((~positive).sum())
    if not pos or not neg:
        return None
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    sorted_scores = score[order]
    i = 0
    while i < len(score):
        j = i
        while j + 1 < len(score) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


def figures(rows: list[dict], classes: list[str]) -> dict:
    """Recall per class, balanced accuracy, accuracy, AUC and the confusion of classified rows."""
    rows = [r for r in rows if r.get("pred")]
    labels = np.array([r["label"] for r in rows])
    preds = np.array([r["pred"] for r in rows])
    present = [c for c in classes if (labels == c).any()]
    recall = {c: float((preds[labels == c] == c).mean()) for c in present}
    out = {"n": len(rows), "recall": recall,
           "balanced_accuracy": float(np.mean(list(recall.values()))) if recall else None,
           "accuracy": float((labels == preds).mean()) if rows else None,
           "confusion": {c: {p: int(((labels == c) & (preds == p)).sum()) for p in classes} for c in present}}
    if rows and len(present) >= 2:
        probs = {c: np.array([float(r[f"p_{c}"]) for r in rows]) for c in classes}
        aucs = [roc_auc(labels == c, probs[c]) for c in (present[:1] if len(classes) == 2 else present)]
        aucs = [a for a in aucs if a is not None]
        out["auc"] = float(np.mean(aucs)) if aucs else None
    else:
        out["auc"] = None
    return out


def read_sources(root: Path) -> dict[str, str]:
    """file (relative to ``root``) -> source_repo, from ``root/manifest.csv`` when it has that column."""
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        return {}
    with open(manifest, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "source_repo" not in reader.fieldnames or "file" not in reader.fieldnames:
            return {}
        return {r["file"]: r["source_repo"] for r in reader}


def score_folder(eval_dir: Path, root: Path, classes: list[str]) -> dict:
    """Figures of one ``maskgen evaluate`` output, overall, per detection path and per source."""
    with open(eval_dir / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    result = figures(rows, classes)
    result["photos"] = len(rows)
    result["via_face_share"] = (sum(r["path"] == "face" for r in rows) / len(rows)) if rows else None
    result["by_path"] = {k: figures([r for r in rows if r["path"] == k], classes) for k in ("face", "whole")}
    if "incorrect_mask" in classes and "incorrect_mask" in result["confusion"]:
        row = result["confusion"]["incorrect_mask"]
        result["incorrect_called_with_mask"] = row["with_mask"] / max(1, sum(row.values()))
    sources = read_sources(root)
    if sources:
        per: dict[str, list[dict]] = {}
        for r in rows:
            rel = os.path.relpath(r["file"], root).replace(os.sep, "/")
            per.setdefault(sources.get(rel, "(not in manifest)"), []).append(r)
        result["per_source"] = {s: figures(rs, classes) for s, rs in sorted(per.items())}
        scored = {s: v["balanced_accuracy"] for s, v in result["per_source"].items()
                  if v["balanced_accuracy"] is not None and len(v["recall"]) >= 2}  # both kinds of photo
        if scored:
            worst = min(scored, key=scored.get)
            result["worst_source"] = {"source": worst, "balanced_accuracy": scored[worst]}
    evaluate_metrics = eval_dir / "metrics.json"
    if evaluate_metrics.is_file():
        m = json.loads(evaluate_metrics.read_text())
        result["evaluate_reported"] = {k: m.get(k) for k in ("accuracy", "balanced_accuracy", "auc") if k in m}
    return result


def fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_scores(title: str, s: dict, classes: list[str]) -> None:
    print(f"\n{title}: {s['photos']} photos, {s['n']} classified, "
          f"{fmt(s['via_face_share'])} via a found face")
    for c in classes:
        if c in s["recall"]:
            n = sum(s["confusion"][c].values())
            print(f"  recall {c:<15} {fmt(s['recall'][c])}  (n={n})")
    print(f"  balanced accuracy {fmt(s['balanced_accuracy'])}  accuracy {fmt(s['accuracy'])}  AUC {fmt(s['auc'])}")
    for k, v in s["by_path"].items():
        if v["n"]:
            print(f"  via {k:<5}: balanced accuracy {fmt(v['balanced_accuracy'])}  accuracy {fmt(v['accuracy'])}"
                  f"  (n={v['n']})")
    if "incorrect_called_with_mask" in s:
        print(f"  incorrect_mask called with_mask: {fmt(s['incorrect_called_with_mask'])}")
    for src, v in s.get("per_source", {}).items():
        rec = "  ".join(f"{c} {fmt(v['recall'][c])}" for c in classes if c in v["recall"])
        one = ", one class only: not counted for the worst source" if len(v["recall"]) < 2 else ""
        print(f"  {src:<45} balanced accuracy {fmt(v['balanced_accuracy'])}  {rec}  (n={v['n']}{one})")
    if "worst_source" in s:
        w = s["worst_source"]
        print(f"  worst source: {w['source']} {fmt(w['balanced_accuracy'])}")


# --------------------------------------------------------------------------- stages


def training_summary(run_dir: Path, full_images: float, epochs_full: int = 12) -> dict:
    """Speed from RUN/history.csv and what the full recipe (``full_images`` per epoch; 0: not
    estimated, the run's image size is not the recipe's) would take at it."""
    hist = run_dir / "history.csv"
    out: dict = {}
    if hist.is_file():
        with open(hist, newline="") as f:
            rows = list(csv.DictReader(f))
        if rows:
            ips = [float(r["images_per_s"]) for r in rows if r.get("images_per_s")]
            secs = [float(r["epoch_time_s"]) for r in rows if r.get("epoch_time_s")]
            out = {"epochs_run": len(rows), "images_per_s": float(np.median(ips)) if ips else None,
                   "epoch_time_s": float(np.median(secs)) if secs else None}
            if out["images_per_s"] and full_images:
                out["full_recipe_train_estimate_s"] = epochs_full * full_images / out["images_per_s"]
    summary = run_dir / "summary.json"
    if summary.is_file():
        s = json.loads(summary.read_text())
        out["best_epoch"] = s.get("best_epoch", (s.get("best") or {}).get("epoch"))
    return out


def generator_command(args, mg: list[str]) -> list[str]:
    """The command that runs ``maskgen augment``: this maskgen, or (``--generator-tree``) another
    maskgen source tree, such as an earlier commit checked out with ``git worktree``, so that two
    generators are compared with everything else (cropping, training, scoring) the same."""
    return tree_command(sys.executable, args.generator_tree) if args.generator_tree else mg


def build_two_class(args, mg, work: Path, data: Path, times: dict) -> dict:
    files, total = pick_portraits(args.portraits, args.limit_portraits, args.seed + 1, TRAIN_SHARE)
    src = link_sources(files, work / "portraits_train")
    gen = work / "generated"
    shutil.rmtree(gen, ignore_errors=True)
    cmd = generator_command(args, mg) + ["augment", str(src), str(gen), "--crop", "full", "--detector", "hog", "--variants", str(VARIANTS),
                "--negatives", "1", "--split", "1,0,0", "--seed", str(args.seed + 1), "--workers", str(args.workers),
                "--no-progress", "-q", *generator_args(args, RECIPES[2])]
    times["generate"] = run(cmd, work / "augment.log")
    start = time.perf_counter()
    counts = crop_outputs(gen, data, args.seed + 1, args.negatives)
    times["crop"] = time.perf_counter() - start
    print(f"crops: {counts} from {len(files)} of {total} portraits")
    return {"portraits": total, "train_portraits": len(files), "train_crops": counts, "augment_cmd": cmd}


def member_seed(seed: int, k: int) -> int:
    """Training seed of ensemble member ``k`` (``--models``): member 0 is the single-model run of ``seed``;
    each member's generator seed is its training seed + 1, so it also trains on another split of portraits."""
    return seed + MEMBER_SEED_STEP * k


def build_three_class(args, mg, work: Path, data: Path, times: dict, k: int = 0) -> dict:
    gen_seed = member_seed(args.seed, k) + 1
    suffix = f"_{k}" if k else ""
    files, total = pick_portraits(args.portraits, args.limit_portraits, gen_seed, None)
    src = link_sources(files, work / f"portraits{suffix}")
    cmd = generator_command(args, mg) + ["augment", str(src), str(data), *RECIPES[3]["augment_cmd"], "--seed", str(gen_seed),
                "--workers", str(args.workers), "--no-progress", "-q", *generator_args(args, RECIPES[3])]
    times[f"generate{suffix}"] = run(cmd, work / f"augment{suffix}.log")
    counts: dict = {}
    for split in ("train", "val"):
        for label_dir in sorted((data / split).glob("*")) if (data / split).is_dir() else []:
            if label_dir.is_dir():
                counts.setdefault(split, {})[label_dir.name] = sum(1 for p in label_dir.rglob("*") if p.is_file()
                                                                   and p.suffix.lower() in IMAGE_EXT)
    print(f"dataset: {counts}")
    return {"portraits": total, "train_crops": counts.get("train", {}), "val_crops": counts.get("val", {}),
            "augment_cmd": cmd}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portraits", type=Path, default=SHARED / "unmasked_faces", help="unmasked portraits to mask")
    ap.add_argument("--real", type=Path, default=SHARED / "real_dev", help="real photos to score on")
    ap.add_argument("--pick", type=Path, default=SHARED, help="real photos the 2-class checkpoint is picked on")
    ap.add_argument("--work", type=Path, required=True, help="work folder (emptied first)")
    ap.add_argument("--classes", type=int, choices=(2, 3), default=2)
    ap.add_argument("--mask-type", default=None, help="maskgen augment --mask-type (default: its default)")
    ap.add_argument("--augment", default=None, help="maskgen augment preset for the generated images "
                                                    "(default: none for 2 classes, realistic for 3)")
    ap.add_argument("--wear", default=None, help="3 classes: maskgen augment --wear (default: the documented mix)")
    ap.add_argument("--augment-args", default="", help='more maskgen augment options, e.g. "--color random"')
    ap.add_argument("--train-args", default="", help='more maskgen train options, e.g. "--label-smoothing 0.1"')
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--image-size", type=int, default=None, help="default: 112")
    ap.add_argument("--seed", type=int, default=0, help="training seed; the generator uses seed + 1")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="maskgen augment workers")
    ap.add_argument("--negatives", type=int, default=VARIANTS, choices=range(1, VARIANTS + 1), metavar="1-7",
                    help="2 classes: unmasked crops per photo, the twins of the first N variants "
                         f"(default {VARIANTS}: balanced classes; fewer trains faster)")
    ap.add_argument("--generator-tree", type=Path, default=None,
                    help="2 classes: generate the masks with the maskgen source tree in this folder (e.g. an "
                         "earlier commit via git worktree) instead of this one; the rest of the recipe is unchanged")
    ap.add_argument("--limit-portraits", type=int, default=None, help="smoke runs: use only N portraits")
    ap.add_argument("--models", type=int, default=1, help="3 classes: train N models (member k: training seed "
                    f"seed + {MEMBER_SEED_STEP}k, generator seed that + 1) and score them as one ensemble "
                    "(maskgen evaluate --ensemble)")
    ap.add_argument("--score-members", action="store_true", help="--models: also score each member alone on --real")
    args = ap.parse_args(argv)
    if args.models < 1:
        ap.error("--models must be at least 1")
    if args.models > 1 and args.classes != 3:
        ap.error("--models: ensembles are benchmarked in the 3-class recipe only")
    if args.classes == 2 and args.wear not in (None, "correct"):
        ap.error("--wear: the 2-class recipe uses correctly worn masks only")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    recipe = RECIPES[args.classes]
    size = args.image_size or recipe["image_size"]
    real_folders = labelled_folders(args.real, args.classes, "--real")
    class_names = sorted(set(real_folders.values()) | ({"incorrect_mask"} if args.classes == 3 else set()))
    pick_folders = labelled_folders(args.pick, args.classes, "--pick")
    work, mg = args.work, maskgen_command()
    if work.exists() and any(work.iterdir()) and not (work / MARKER).exists():
        fail(f"--work {work} holds files of something else; give an empty or new folder (it is emptied first)")
    shutil.rmtree(work, ignore_errors=True)
    data, run_dir = work / "data", work / "run"
    data.mkdir(parents=True)
    (work / MARKER).write_text("a work folder of benchmarks/realworld.py, emptied at each run\n")
    times: dict[str, float] = {}
    detector = evaluate_default_detector(mg)
    begin = time.perf_counter()
    if args.classes == 2:
        built = build_two_class(args, mg, work, data, times)
        start = time.perf_counter()
        built["pick_val"] = build_pick_val(args.pick, pick_folders, data, detector, size)
        times["pick_crops"] = time.perf_counter() - start
        print(f"checkpoint picked on: {built['pick_val']}")
        full_images = (VARIANTS + args.negatives) * round(TRAIN_SHARE * len(list_images(args.portraits)))
    else:
        built = build_three_class(args, mg, work, data, times)
        full_images = round(sum(built["train_crops"].values()) * len(list_images(args.portraits))
                            / max(1, built["portraits"]))

    def train_cmd_for(data_dir: Path, out: Path, seed: int) -> list[str]:
        return mg + ["train", str(data_dir), "--out", str(out), "--epochs", str(args.epochs), "--image-size",
                     str(size), *recipe["train"], "--seed", str(seed), "--device", args.device,
                     "--log-every", "0", *shlex.split(args.train_args or "")]

    train_cmd = train_cmd_for(data, run_dir, args.seed)
    times["train"] = run(train_cmd, work / "train.log")
    training = training_summary(run_dir, full_images if size == recipe["image_size"] else 0)
    members, member_cmds = [run_dir], []
    for k in range(1, args.models):
        data_k, run_k = work / f"data_{k}", work / f"run_{k}"
        built.setdefault("members", []).append(build_three_class(args, mg, work, data_k, times, k))
        member_cmds.append(train_cmd_for(data_k, run_k, member_seed(args.seed, k)))
        times[f"train_{k}"] = run(member_cmds[-1], work / f"train_{k}.log")
        training.setdefault("members", []).append(training_summary(run_k, 0))
        members.append(run_k)
    scores, eval_cmds = {}, {}

    def evaluate(name: str, runs: list[Path], root: Path, folders: dict) -> None:
        """``maskgen evaluate`` of ``runs`` (more than one: as an ensemble) on ``root``, scored as ``name``."""
        mapping = ",".join(f"{k}={v}" for k, v in folders.items())
        eval_cmds[name] = mg + ["evaluate", str(runs[0]), str(root), "--classes", mapping,
                                "--out", str(work / "eval" / name), "--device", args.device,
                                *[t for m in runs[1:] for t in ("--ensemble", str(m))]]
        times[f"evaluate_{name}"] = run(eval_cmds[name], work / f"evaluate_{name}.log")
        scores[name] = score_folder(work / "eval" / name, root, class_names)

    for name, root, folders in (("real", args.real, real_folders), ("pick", args.pick, pick_folders)):
        if name == "pick" and root.resolve() == args.real.resolve():
            scores[name] = scores["real"]  # the same photos: scored once
            continue
        evaluate(name, members, root, folders)
    if args.models > 1 and args.score_members:
        for k, member in enumerate(members):
            evaluate(f"real_member_{k}", [member], args.real, real_folders)
    times["total"] = time.perf_counter() - begin
    result = report(args, size, detector, built, training, scores, times, class_names,
                    {"train": train_cmd, "train_members": member_cmds, "evaluate": eval_cmds})
    (work / "results.json").write_text(json.dumps(result, indent=2, default=str))
    print(f"\nwrote {work / 'results.json'}")
    return result


def report(args, size, detector, built, training, scores, times, class_names, cmds) -> dict:
    for k in range(args.models if args.score_members else 0):
        print_scores(f"member {k} alone (training seed {member_seed(args.seed, k)}) on real photos ({args.real})",
                     scores[f"real_member_{k}"], class_names)
    what = f"an ensemble of {args.models} models on " if args.models > 1 else ""
    print_scores(f"{what}real photos ({args.real})", scores["real"], class_names)
    print_scores(f"pick photos ({args.pick}; they chose the checkpoint in the 2-class recipe, so reported apart)",
                 scores["pick"], class_names)
    for k, t in enumerate([training, *training.get("members", [])]):
        print(("\ntraining: " if k == 0 else f"training of member {k}: ")
              + ", ".join(f"{key} {fmt(v, 2) if isinstance(v, float) else v}" for key, v in t.items() if key != "members"))
    est = training.get("full_recipe_train_estimate_s")
    if est:
        rest = sum(v for k, v in times.items() if k not in ("train", "total"))
        print(f"at this speed the full recipe's training (12 epochs, all portraits) takes about {est / 60:.1f} min; "
              f"with this run's other stages about {(est + rest) / 60:.1f} min "
              f"({'fits' if est + rest < 40 * 60 else 'does NOT fit'} in 40 min; scoring grows with --real)")
    else:
        print(f"no estimate of the full recipe's time: this run's image size ({size}) is not the recipe's")
    print("time per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))
    return {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "image_size": size, "evaluate_detector_for_pick_crops": detector, "classes": class_names,
            "full_recipe": (not args.limit_portraits and args.epochs == 12 and size == RECIPES[args.classes]["image_size"]
                            and (args.classes == 3 or args.negatives == VARIANTS)),
            "dataset": built, "training": training, "scores": scores, "times_s": times, "commands": cmds}


if __name__ == "__main__":
    main()

"""Score trained models again on the faces one ``maskgen evaluate`` already found: fast what-ifs at prediction.

``maskgen evaluate`` writes ``predictions.csv`` with each photo's label and the face box it
classified. This script cuts those faces again (no detector: about 1.5 minutes per model for the
2,250 photos of real_dev on 2 CPU cores, against 4.6 for a whole evaluation) and prints balanced
accuracy and per-class recall for:

- each model alone and the running average of their class probabilities (``RUN ...``: what
  ``maskgen evaluate RUN --ensemble RUN2 ...`` would give; members may differ in input size);
- ``--framings``: each model's faces cut at other margins and vertical shifts (``margin:shift``, shift added to
  the checkpoint's own ``crop_drop``; shares
  of the face side; ``default`` is the checkpoint's own framing), alone and averaged;
- ``--prior-shifts``: a constant added to one class's log-probability (``--shift-class``), to see
  whether the decision threshold alone holds balanced accuracy back.

Photos the evaluation classified whole (no face found) keep their stored probabilities.

    .venv/bin/python benchmarks/rescore.py /tmp/rw/eval/real/predictions.csv /tmp/rw/run /tmp/rw/run_1
    .venv/bin/python benchmarks/rescore.py /tmp/rw/eval/real/predictions.csv /tmp/rw/run \\
        --framings default,0.10:0,0.32:0,default:0.06,default:-0.06 --prior-shifts=-0.5,0,0.5
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def parse_framings(text: str) -> list[tuple[float | None, float]]:
    """``default,0.1:0,default:0.06`` -> [(None, 0.0), (0.1, 0.0), (None, 0.06)] (None: the checkpoint's margin)."""
    out = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        margin, _, shift = item.partition(":")
        out.append((None if margin == "default" else float(margin), float(shift or 0)))
    return out


def read_predictions(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "box" not in rows[0] or "label" not in rows[0]:
        raise SystemExit(f"Error: {path} is not the predictions.csv of a maskgen evaluate run (no box/label columns)")
    return rows


def rescore(rows: list[dict], runs: list[Path], framings, device: str = "cpu") -> tuple[list[str], np.ndarray,
                                                                                          np.ndarray]:
    """The classes, each row's label as a class index (-1: a folder outside the classes), and the
    probabilities (models, framings, rows, classes)."""
    from maskgen.crops import cut_square, face_square
    from maskgen.images import read_image
    from maskgen_trainer import checkpoint as ckpt
    from maskgen_trainer.classifier import Classifier

    all_probs, classes = [], None
    images = {}
    for run in runs:
        clf = Classifier(ckpt.resolve(run, "best"), device=device)
        if classes is None:
            classes = clf.classes
            stored = np.array([[float(r[f"p_{c}"]) for c in classes] for r in rows])
        elif clf.classes != classes:
            raise SystemExit(f"Error: {run} classifies {clf.classes}, the first model {classes}")
        per_framing = []
        for margin, shift in framings:
            probs, crops, at = stored.copy(), [], []
            for i, r in enumerate(rows):
                if r.get("path") != "face" or not r["box"]:
                    continue
                if r["file"] not in images:
                    images[r["file"]] = read_image(r["file"])
                box = [float(v) for v in r["box"].split()]
                square = face_square(box, clf.margin if margin is None else margin, (0.0, clf.drop + shift))
                crops.append(cut_square(images[r["file"]], square, clf.image_size)[0])
                at.append(i)
            if crops:
                probs[at] = clf.probs(crops)
            per_framing.append(probs)
        all_probs.append(per_framing)
    labels = np.array([classes.index(r["label"]) if r["label"] in classes else -1 for r in rows])
    return classes, labels, np.asarray(all_probs)


def report(name: str, scores: np.ndarray, labels: np.ndarray, classes: list[str]) -> float:
    """Print balanced accuracy and the recall of each class present for ``scores`` (probabilities, or
    anything whose row maximum is the call); returns the balanced accuracy."""
    from maskgen_trainer.metrics import classification_metrics

    m = classification_metrics(labels, scores, classes)
    print(f"{name:<44} balanced accuracy {m['balanced_accuracy']:.4f}  " + "  ".join(
        f"{c} {v['recall']:.3f}" for c, v in m["per_class"].items() if v["support"]))
    return m["balanced_accuracy"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("predictions", type=Path, help="predictions.csv of a maskgen evaluate run")
    ap.add_argument("runs", type=Path, nargs="+", help="run folders or .pt files (best.pt of a folder)")
    ap.add_argument("--framings", default="default", help="margin:shift,... (default: the checkpoint's framing)")
    ap.add_argument("--prior-shifts", default="", help="e.g. -0.5,0,0.5: added to --shift-class's log-probability")
    ap.add_argument("--shift-class", default="incorrect_mask")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    rows = read_predictions(args.predictions)
    framings = parse_framings(args.framings)
    classes, labels, probs = rescore(rows, args.runs, framings, args.device)
    kept = labels >= 0
    labels, probs = labels[kept], probs[:, :, kept]
    names = [f"{'default' if m is None else f'{m:g}'}:{s:g}" for m, s in framings]
    results = {"models": {}, "ensemble": {}, "framings": {}, "prior_shifts": {}}
    for k, run in enumerate(args.runs):
        for f, name in enumerate(names):
            results["models"][f"{k}:{name}"] = report(f"model {k} ({run.name}) framing {name}", probs[k, f],
                                                      labels, classes)
        if k:
            results["ensemble"][k + 1] = report(f"models 0-{k} averaged", probs[:k + 1, 0].mean(0), labels, classes)
    if len(framings) > 1:
        results["framings"]["all"] = report(
            f"all {len(framings)} framings{' of all models' if len(args.runs) > 1 else ''} averaged",
            probs.mean(axis=(0, 1)), labels, classes)
    if args.prior_shifts:
        if args.shift_class not in classes:
            raise SystemExit(f"Error: --shift-class {args.shift_class} is not one of {classes}")
        logp = np.log(np.clip(probs[:, 0].mean(0), 1e-12, 1))
        for shift in (float(t) for t in args.prior_shifts.split(",")):
            moved = logp.copy()
            moved[:, classes.index(args.shift_class)] += shift
            results["prior_shifts"][shift] = report(f"{args.shift_class} log-probability {shift:+g}", moved,
                                                    labels, classes)
    return results


if __name__ == "__main__":
    main()

"""The evaluation outputs shared by training (validation split) and ``maskgen evaluate``:
metrics JSON, per-image CSV, ROC curve, confusion matrix and the example grid."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .files import write_csv, write_json
from .metrics import classification_metrics
from .plots import plot_confusion, plot_examples, plot_roc


def pick_examples(targets, preds, probs, num_classes: int, per_cell: int) -> list[int]:
    """Indices of the most confident right and wrong answers of each true class."""
    targets, preds = np.asarray(targets), np.asarray(preds)
    conf = np.asarray(probs)[np.arange(len(preds)), preds] if len(preds) else np.zeros(0)
    chosen = []
    for c in range(num_classes):
        for right in (True, False):
            idx = np.flatnonzero((targets == c) & ((preds == c) == right))
            chosen.extend(idx[np.argsort(-conf[idx], kind="stable")][:per_cell].tolist())
    return chosen


def write_report(out_dir: Path, classes: list[str], targets, probs, rows: list[dict], columns: list[str],
                 load_image, logits=None, extra: dict | None = None, title: str = "",
                 per_cell: int = 6) -> dict:
    """Write ``metrics.json``, ``predictions.csv``, ``roc.png``, ``confusion.png``, ``examples.png``.

    ``targets``/``probs`` cover the classified images; ``rows`` (all images, including any not
    classified) go to the CSV; ``load_image(i)`` returns the RGB crop of classified image ``i``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = np.asarray(targets, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64).reshape(len(targets), len(classes))
    metrics = classification_metrics(targets, probs, classes, logits=logits)
    if extra:
        metrics.update(extra)
    write_json(out_dir / "metrics.json", metrics)
    write_csv(out_dir / "predictions.csv", rows, columns)
    suffix = f" - {title}" if title else ""
    plot_roc(targets, probs, classes, out_dir / "roc.png", title=f"ROC{suffix}")
    plot_confusion(metrics["confusion"], classes, out_dir / "confusion.png", title=f"confusion matrix{suffix}")
    preds = probs.argmax(axis=1) if len(targets) else np.zeros(0, int)
    items = []
    for i in pick_examples(targets, preds, probs, len(classes), per_cell):
        image = load_image(i)
        if image is not None:
            items.append({"image": image, "target": int(targets[i]), "pred": int(preds[i]),
                          "prob": float(probs[i, preds[i]])})
    plot_examples(items, classes, out_dir / "examples.png", per_cell=per_cell,
                  title=f"right and wrong per class{suffix}")
    return metrics

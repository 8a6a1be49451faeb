"""Classification metrics from predicted probabilities (numpy + scikit-learn, no torch)."""
from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(logits))


def collapse_to_classes(logits: np.ndarray, class_of: np.ndarray | list[int] | None, num_classes: int) -> np.ndarray:
    """Logits (N, K) of a model trained on subclasses -> class log-probabilities (N, C): each class's
    subclass probabilities added up (``class_of[k]``: subclass k's class). Their softmax gives those
    class probabilities back, so they stand in for logits everywhere downstream. ``class_of`` None:
    ``logits`` unchanged."""
    if class_of is None:
        return logits
    logp = log_softmax(np.asarray(logits, dtype=np.float64))
    class_of = np.asarray(class_of, dtype=np.int64)
    out = np.full((logp.shape[0], num_classes), -np.inf)
    for c in range(num_classes):
        members = logp[:, class_of == c]
        if members.shape[1]:
            out[:, c] = np.logaddexp.reduce(members, axis=1)
    return out


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    if len(targets) == 0:
        return float("nan")
    return float(-log_softmax(logits)[np.arange(len(targets)), np.asarray(targets)].mean())


def roc_auc(targets: np.ndarray, probs: np.ndarray, num_classes: int) -> tuple[float, dict[int, float]]:
    """ROC-AUC: for 2 classes that of class 1's probability; for more, the macro mean of
    one-vs-rest AUCs over the classes that have both positives and negatives (others: NaN)."""
    from sklearn.metrics import roc_auc_score

    targets = np.asarray(targets)
    per_class = {}
    for c in range(num_classes):
        positive = targets == c
        if positive.any() and (~positive).any():
            per_class[c] = float(roc_auc_score(positive, probs[:, c]))
        else:
            per_class[c] = float("nan")
    if num_classes == 2:
        return per_class[1], per_class
    defined = [v for v in per_class.values() if v == v]
    return (float(np.mean(defined)) if defined else float("nan")), per_class


def classification_metrics(targets, probs, classes: list[str], logits=None) -> dict:
    """Accuracy, balanced accuracy, ROC-AUC, per-class precision/recall/F1/support, confusion
    matrix (rows: true, columns: predicted) and, given logits, the mean cross-entropy."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    targets = np.asarray(targets, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64).reshape(len(targets), len(classes))
    n = len(classes)
    labels = list(range(n))
    if len(targets) == 0:
        return {"n": 0, "accuracy": float("nan"), "balanced_accuracy": float("nan"), "auc": float("nan"),
                "per_class": {}, "confusion": np.zeros((n, n), int).tolist(), "classes": list(classes)}
    preds = probs.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        targets, preds, labels=labels, zero_division=0)
    present = support > 0
    auc, auc_per_class = roc_auc(targets, probs, n)
    out = {
        "n": int(len(targets)),
        "accuracy": float((preds == targets).mean()),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else float("nan"),
        "auc": auc,
        "per_class": {
            classes[c]: {"precision": float(precision[c]), "recall": float(recall[c]), "f1": float(f1[c]),
                         "support": int(support[c]), "auc": auc_per_class[c]}
            for c in labels
        },
        "confusion": confusion_matrix(targets, preds, labels=labels).tolist(),
        "classes": list(classes),
    }
    if logits is not None:
        out["loss"] = cross_entropy(logits, targets)
    return out


def format_report(metrics: dict) -> str:
    """A plain-text table of the per-class metrics and the totals."""
    lines = [f"{'class':<16} {'precision':>9} {'recall':>7} {'f1':>6} {'auc':>6} {'n':>6}"]
    for name, m in metrics["per_class"].items():
        auc = m["auc"]
        lines.append(f"{name:<16} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} "
                     f"{auc if auc == auc else float('nan'):>6.3f} {m['support']:>6d}")
    lines.append(f"accuracy {metrics['accuracy']:.3f}  balanced accuracy {metrics['balanced_accuracy']:.3f}  "
                 f"AUC {metrics['auc']:.3f}  (n={metrics['n']})")
    return "\n".join(lines)

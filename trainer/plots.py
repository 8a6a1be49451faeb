"""PNG plots: learning curves drawn from ``history.csv``, ROC curve, confusion matrix and a grid
of examples per outcome. matplotlib's Agg backend; no torch."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from maskgen.atomic import atomic_open

from .files import read_csv


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    """``fig`` as a PNG at ``path``, written atomically, then closed."""
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png")
    _pyplot().close(fig)


def _floats(rows, key):
    out = []
    for row in rows:
        try:
            out.append(float(row.get(key, "") or "nan"))
        except ValueError:
            out.append(float("nan"))
    return np.array(out)


def plot_history(history_csv: Path, out_dir: Path) -> list[Path]:
    """``loss.png``, ``accuracy.png``, ``auc.png`` and ``lr.png`` from ``history.csv``."""
    plt = _pyplot()
    rows = read_csv(history_csv)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not rows:
        return []
    epochs = _floats(rows, "epoch")
    best = [int(float(r["epoch"])) for r in rows if r.get("best") in ("1", "True", "true")]
    written = []
    panels = [
        ("loss.png", "loss", [("train_loss", "train"), ("val_loss", "validation")]),
        ("accuracy.png", "accuracy", [("train_acc", "train"), ("val_acc", "validation"),
                                      ("val_balanced_acc", "validation, balanced")]),
        ("auc.png", "ROC-AUC", [("val_auc", "validation")]),
        ("lr.png", "learning rate (end of epoch)", [("lr", "lr")]),
    ]
    for name, title, series in panels:
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        for key, label in series:
            values = _floats(rows, key)
            if np.isfinite(values).any():
                ax.plot(epochs, values, marker="o", ms=3, label=label)
        if best:
            ax.axvline(best[-1], color="grey", ls="--", lw=1, label=f"best (epoch {best[-1]})")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if name == "lr.png":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        ax.legend(fontsize=8)
        fig.tight_layout()
        _save(fig, out_dir / name)
        written.append(out_dir / name)
    return written


def plot_roc(targets, probs, classes: list[str], path: Path, title: str = "ROC") -> Path:
    """ROC curve: class 1 vs class 0 for two classes, one-vs-rest per class for more."""
    from sklearn.metrics import roc_curve

    plt = _pyplot()
    targets = np.asarray(targets)
    probs = np.asarray(probs)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    shown = [1] if len(classes) == 2 else range(len(classes))
    for c in shown:
        positive = targets == c
        if positive.any() and (~positive).any():
            fpr, tpr, _ = roc_curve(positive, probs[:, c])
            from sklearn.metrics import auc

            label = classes[c] if len(classes) > 2 else f"{classes[1]} vs {classes[0]}"
            ax.plot(fpr, tpr, label=f"{label} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    return Path(path)


def plot_confusion(confusion, classes: list[str], path: Path, title: str = "confusion matrix") -> Path:
    """Counts, with each row's share (recall) in brackets; rows true, columns predicted."""
    plt = _pyplot()
    cm = np.asarray(confusion, dtype=float)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.6 * n + 2.2, 1.4 * n + 1.6), dpi=100)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{int(cm[i, j])}\n({share[i, j]:.0%})", ha="center", va="center",
                    color="white" if share[i, j] > 0.6 else "black", fontsize=9)
    ax.set_xticks(range(n), classes, rotation=20)
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    _save(fig, path)
    return Path(path)


def plot_examples(items: list[dict], classes: list[str], path: Path, per_cell: int = 6,
                  title: str = "examples") -> Path:
    """Grid of example crops: one row per (true class, right/wrong), up to ``per_cell`` each.

    ``items``: dicts with ``image`` (RGB uint8), ``target``, ``pred``, ``prob`` (of the
    predicted class); the most confident examples of each outcome come first.
    """
    plt = _pyplot()
    rows = []
    for c, name in enumerate(classes):
        for outcome in ("right", "wrong"):
            chosen = [it for it in items if it["target"] == c and (it["pred"] == c) == (outcome == "right")]
            chosen.sort(key=lambda it: -it["prob"])
            rows.append((f"{name}: {outcome}", chosen[:per_cell], sum(1 for it in items if it["target"] == c
                                                                        and (it["pred"] == c) == (outcome == "right"))))
    rows = [r for r in rows if r[2] > 0] or rows[:1]
    fig, axes = plt.subplots(len(rows), per_cell, figsize=(1.6 * per_cell, 1.9 * len(rows)), dpi=100,
                             squeeze=False)
    for r, (label, chosen, total) in enumerate(rows):
        for k in range(per_cell):
            ax = axes[r][k]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if k < len(chosen):
                it = chosen[k]
                ax.imshow(it["image"])
                wrong = it["pred"] != it["target"]
                ax.set_title(f"{classes[it['pred']]} {it['prob']:.2f}", fontsize=7,
                             color="tab:red" if wrong else "tab:green")
                for spine in ax.spines.values():
                    spine.set_visible(True)
                    spine.set_color("tab:red" if wrong else "tab:green")
                    spine.set_linewidth(2)
            if k == 0:
                ax.set_ylabel(f"{label}\n({total})", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    return Path(path)

"""The trainer's CSV and JSON outputs (history, predictions, metrics), written atomically
through :func:`maskgen.atomic.atomic_open`. No torch here."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from maskgen.atomic import atomic_open


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> None:
    """Write ``rows`` (dicts) to ``path`` atomically; ``columns`` fixes the order (default: first seen)."""
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    with atomic_open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k, "")) for k in columns})


def _csv_value(value):
    if isinstance(value, float):
        return "" if value != value else f"{value:.6g}"
    return value


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def write_json(path: Path, data) -> None:
    """``data`` as indented JSON (numpy scalars and arrays, paths converted), written atomically."""
    with atomic_open(path, "w") as fh:
        fh.write(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

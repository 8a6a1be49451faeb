"""Face boxes (x0, y0, x1, y1, edge coordinates): area, intersection over union, overlap.

The one home of these measures; detection, augmentation, the tests and the benchmarks use them.
Plain numbers in, a float out; no dependency beyond the Python standard library.
"""
from __future__ import annotations


def box_area(box) -> float:
    """Area of a box (0 for an empty one): what "the largest face" is measured by."""
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


def intersection(a, b) -> float:
    """Area the two boxes share."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return float(iw * ih)


def box_iou(a, b) -> float:
    """Intersection over union (0 when both boxes are empty)."""
    inter = intersection(a, b)
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def overlap_of_smaller(a, b) -> float:
    """Intersection over the smaller box's area (1 when the smaller box is empty: it lies in the other)."""
    small = min(box_area(a), box_area(b))
    return intersection(a, b) / small if small > 0 else 1.0

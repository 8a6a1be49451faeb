"""Draw a user mask (RGBA image + anchors.json) from scratch: a black cloth mask with a zipper print.

This is how masks/zipper_print/ was made. Any RGBA drawing or photo cut-out works the same way:
mark the six anchors (pixel positions in the image) in anchors.json; see docs/masks.md.

    python examples/make_user_mask.py masks/zipper_print
"""
import json
import sys
from pathlib import Path

import cv2
import numpy as np


def draw(folder: Path) -> None:
    w, h = 600, 440
    rgba = np.zeros((h, w, 4), np.uint8)
    # outline: top edge over the nose bridge, sides down the cheeks, round bottom under the chin
    top = [(40, 70), (170, 40), (300, 18), (430, 40), (560, 70)]
    bottom = [(575, 200), (520, 330), (420, 405), (300, 430), (180, 405), (80, 330), (25, 200)]
    poly = np.array(top + bottom, np.int32)
    cv2.fillPoly(rgba, [poly * 16], (28, 29, 33, 255), lineType=cv2.LINE_AA, shift=4)
    # zipper print across the mouth: a white track with teeth and a pull ring
    y = 250
    cv2.line(rgba, (70, y), (530, y), (235, 235, 235, 255), 6, cv2.LINE_AA)
    for x in range(80, 520, 14):
        cv2.rectangle(rgba, (x, y - 14), (x + 7, y + 14), (235, 235, 235, 255), -1, cv2.LINE_AA)
    cv2.rectangle(rgba, (470, y - 20), (500, y + 20), (235, 235, 235, 255), -1, cv2.LINE_AA)
    cv2.circle(rgba, (485, y + 55), 22, (235, 235, 235, 255), 5, cv2.LINE_AA)
    # keep the print inside the fabric
    inside = np.zeros((h, w), np.uint8)
    cv2.fillPoly(inside, [poly], 255)
    rgba[..., 3] = np.minimum(rgba[..., 3], inside)
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "mask.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    anchors = {
        "name": "zipper_print",
        "description": "user-format example: black cloth mask with a printed zipper",
        "in_random": False,
        "anchors": {"nose_bridge": [300, 22], "chin": [300, 428], "left_cheek": [40, 72],
                    "right_cheek": [560, 72], "left_jaw": [85, 335], "right_jaw": [515, 335]},
    }
    (folder / "anchors.json").write_text(json.dumps(anchors, indent=2) + "\n")


if __name__ == "__main__":
    draw(Path(sys.argv[1] if len(sys.argv) > 1 else "masks/zipper_print"))

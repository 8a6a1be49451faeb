"""The engine's commands: `maskgen masks`, `maskgen demo`, and an installed wheel run from elsewhere."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from maskgen.mask.catalog import list_mask_types
from maskgen.cli.main import main
from maskgen.mask.options import WEAR_STYLES

REPO = Path(__file__).resolve().parents[1]


def test_masks_lists_types_and_wear_styles():
    result = CliRunner().invoke(main, ["masks"])
    assert result.exit_code == 0, result.output
    for name in list_mask_types() + list(WEAR_STYLES):
        assert f"  {name} " in result.output
    assert len(list_mask_types()) >= 10


def test_demo_writes_every_type_and_wear(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", str(out), "--seed", "3"])
    assert result.exit_code == 0, result.output
    for mask_type in list_mask_types():
        for wear in WEAR_STYLES:
            with Image.open(out / f"{mask_type}_{wear}.jpg") as im:
                assert im.size == (512, 512)
    with Image.open(out / "contact_sheet.jpg") as sheet:
        assert sheet.size == (192 * len(list_mask_types()), 192 * len(WEAR_STYLES))
    rows = list(csv.DictReader(open(out / "demo.csv")))
    assert len(rows) == len(list_mask_types()) * len(WEAR_STYLES)
    assert {r["wear"] for r in rows} == set(WEAR_STYLES)
    # the masks differ from one another
    a = np.asarray(Image.open(out / "surgical_correct.jpg"))
    b = np.asarray(Image.open(out / "n95_correct.jpg"))
    assert np.abs(a.astype(int) - b.astype(int))[120:200, 175:266].mean() > 5


def test_demo_reports_a_photo_without_a_face(tmp_path):
    from skimage import data

    path = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(path)
    result = CliRunner().invoke(main, ["demo", str(tmp_path / "o"), "--image", str(path)])
    assert result.exit_code == 1 and "no face found" in result.output


def test_wheel_ships_masks_and_trainer_and_runs_from_elsewhere(tmp_path):
    """`pip install .` as a real wheel: package data included, console script works outside the repo."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheels), str(REPO)], check=True, cwd=tmp_path)
    wheel = next(wheels.glob("maskgen-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "maskgen/masks/zipper_print/mask.png" in names
    assert "maskgen/masks/zipper_print/anchors.json" in names
    assert any(n.startswith("maskgen_trainer/") for n in names)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target))
    code = ("import maskgen, maskgen.mask.catalog as c, sys; from maskgen.cli.main import main; "
            "assert maskgen.__file__.startswith(sys.argv[1]), maskgen.__file__; "
            "assert 'zipper_print' in c.list_mask_types(); main(['demo', 'out'])")
    subprocess.run([sys.executable, "-c", code, str(target)], check=False, cwd=elsewhere, env=env)
    assert (elsewhere / "out" / "contact_sheet.jpg").is_file()

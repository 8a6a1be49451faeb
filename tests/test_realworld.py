"""benchmarks/realworld.py: a smoke run end to end on real photos, and its 3-class recipe against the docs."""
from __future__ import annotations

import csv
import importlib.util
import json
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

SCRIPT = REPO / "benchmarks" / "realworld.py"


def _load():
    if str(SCRIPT.parent) not in sys.path:  # as when the script runs: its folder first, for benchmarks/trees.py
        sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("realworld", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _doc_command(text: str, start: str) -> list[str]:
    """The tokens of the documented command beginning with ``start`` (backslash continuations joined)."""
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.strip().startswith(start))
    joined = ""
    for line in lines[i:]:
        joined += " " + line.split("#")[0].strip().rstrip("\\")
        if not line.rstrip().endswith("\\"):
            break
    return shlex.split(joined)


def _contains(tokens: list[str], pairs: list[str]) -> list[str]:
    """The option/value pairs of ``pairs`` that are missing from ``tokens``."""
    missing = []
    for opt, value in zip(pairs[::2], pairs[1::2]):
        at = [i for i, t in enumerate(tokens[:-1]) if t == opt]
        if not any(tokens[i + 1] == value for i in at):
            missing.append(f"{opt} {value}")
    return missing


def test_three_class_recipe_is_the_documented_one():
    rw = _load()
    text = (REPO / "docs" / "training.md").read_text()
    r = rw.RECIPES[3]
    augment = _doc_command(text, "maskgen augment ../shared/data/unmasked_faces")
    assert not _contains(augment, r["augment_cmd"] + ["--wear", r["wear"], "--augment", r["augment"], "--seed", "1"])
    train = _doc_command(text, "maskgen train data/masked")
    assert not _contains(train, r["train"] + ["--image-size", str(r["image_size"]), "--epochs", "12", "--seed", "0"])


def test_example_runs_the_documented_recipe():
    """examples/train_and_predict.py builds and trains with the benchmark's (so the docs') 3-class recipe."""
    r = _load().RECIPES[3]
    spec = importlib.util.spec_from_file_location("train_and_predict", REPO / "examples" / "train_and_predict.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    as_cli = [t for k, v in example.DATASET.items() if k != "seed"
              for t in ("--" + k.replace("_", "-"), f"{v:g}" if isinstance(v, float) else str(v))]
    assert not _contains(as_cli, r["augment_cmd"] + ["--wear", r["wear"], "--augment", r["augment"]])
    assert example.DATASET["seed"] == 1 and len(as_cli) == len(r["augment_cmd"]) + 4
    train = [t for k, v in example.TRAINING.items() for t in ("--" + k.replace("_", "-"), str(v))]
    assert not _contains(train, r["train"] + ["--image-size", str(r["image_size"]), "--epochs", "12", "--seed", "0"])


def test_example_quick_run_trains_evaluates_and_predicts(tmp_path):
    """The example's --quick run end to end on the shared photos: dataset, training, evaluation, prediction."""
    from conftest import shared_data_dir

    shared = shared_data_dir()
    if not (shared / "unmasked_faces").is_dir() or not (shared / "real_mask").is_dir():
        pytest.skip("shared photos absent")
    done = subprocess.run([sys.executable, str(REPO / "examples" / "train_and_predict.py"), "--quick", "--work",
                           str(tmp_path / "w")], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("run/best.pt", "run/history.csv", "dataset/metadata.csv"):
        assert (tmp_path / "w" / name).is_file(), name
    assert "trained 2 epochs" in done.stdout and "annotated photos in" in done.stdout
    assert list((tmp_path / "w" / "predict" / "annotated").iterdir())


def test_crop_margin_gives_side_in_range():
    rw = _load()
    sides = [1 + 2 * rw.crop_side_margin(1, f"photo{i}.jpg", v) for i in range(30) for v in range(7)]
    assert min(sides) >= 1.1 and max(sides) <= 1.6 and max(sides) - min(sides) > 0.3
    assert rw.crop_side_margin(1, "a.jpg", 3) == rw.crop_side_margin(1, "a.jpg", 3)


def _real_subset(shared, dest, per_class: int = 10):
    """``per_class`` photos of real_mask and of no_mask, with their manifest rows."""
    picked = set()
    for folder in ("real_mask", "no_mask"):
        files = sorted((shared / folder).iterdir())
        for f in files[:: max(1, len(files) // per_class)][:per_class]:
            (dest / folder).mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest / folder / f.name)
            picked.add(f"{folder}/{f.name}")
    with open(shared / "manifest.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if r["file"] in picked]
        fields = reader.fieldnames
    with open(dest / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return dest


def test_smoke_run_end_to_end(shared_data, tmp_path):
    pytest.importorskip("torch")
    if not (shared_data / "real_mask").is_dir() or not (shared_data / "no_mask").is_dir():
        pytest.skip(f"no real_mask/ and no_mask/ in {shared_data}")
    real = _real_subset(shared_data, tmp_path / "real")
    work = tmp_path / "work"
    cmd = [sys.executable, str(SCRIPT), "--work", str(work), "--portraits", str(shared_data / "unmasked_faces"),
           "--real", str(real), "--pick", str(real), "--limit-portraits", "6", "--epochs", "1",
           "--image-size", "32", "--workers", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "balanced accuracy" in proc.stdout and "time per stage" in proc.stdout
    result = json.loads((work / "results.json").read_text())
    assert result["full_recipe"] is False
    crops = result["dataset"]["train_crops"]
    assert 0 < crops["with_mask"] == crops["without_mask"] <= 7 * result["dataset"]["train_portraits"]
    assert result["dataset"]["pick_val"]["photos"] == 20
    for name in ("real", "pick"):
        s = result["scores"][name]
        assert s["photos"] == 20 and s["n"] == 20
        values = [s["balanced_accuracy"], s["accuracy"], s["auc"], s["via_face_share"], *s["recall"].values()]
        assert set(s["recall"]) == {"with_mask", "without_mask"}
        assert all(v is not None and 0.0 <= v <= 1.0 for v in values), values
        assert s["per_source"] and 0.0 <= s["worst_source"]["balanced_accuracy"] <= 1.0
    assert set(result["times_s"]) >= {"generate", "crop", "pick_crops", "train", "evaluate_real", "total"}


def test_ensemble_smoke_run_three_classes(shared_data, tmp_path):
    """--models 2: two datasets (other splits of the portraits), two runs, one ensemble scored, each member too."""
    pytest.importorskip("torch")
    if not (shared_data / "real_mask").is_dir() or not (shared_data / "no_mask").is_dir():
        pytest.skip(f"no real_mask/ and no_mask/ in {shared_data}")
    real = _real_subset(shared_data, tmp_path / "real", per_class=4)
    work = tmp_path / "work"
    cmd = [sys.executable, str(SCRIPT), "--work", str(work), "--classes", "3", "--portraits",
           str(shared_data / "unmasked_faces"), "--real", str(real), "--pick", str(real), "--limit-portraits", "12",
           "--epochs", "1", "--image-size", "32", "--workers", "2", "--models", "2", "--score-members", "--seed", "3"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "an ensemble of 2 models on real photos" in proc.stdout and "member 1 alone" in proc.stdout
    result = json.loads((work / "results.json").read_text())
    train, member = result["commands"]["train"], result["commands"]["train_members"][0]
    assert train[train.index("--seed") + 1] == "3" and member[member.index("--seed") + 1] == "13"
    assert "--ensemble" in result["commands"]["evaluate"]["real"]
    assert (work / "run_1" / "best.pt").is_file() and (work / "data_1" / "metadata.csv").is_file()
    metrics = json.loads((work / "eval" / "real" / "metrics.json").read_text())
    assert metrics["ensemble"] == [str(work / "run" / "best.pt"), str(work / "run_1" / "best.pt")]
    with open(work / "data" / "metadata.csv") as a, open(work / "data_1" / "metadata.csv") as b:
        assert a.read() != b.read()  # the members trained on different data
    for name in ("real", "real_member_0", "real_member_1"):
        s = result["scores"][name]
        assert s["photos"] == 8 and 0.0 <= s["balanced_accuracy"] <= 1.0

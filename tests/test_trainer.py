"""The bundled ResNet-50 trainer, end to end on CPU: no mocks, no downloads.

A tiny, easily separable dataset is drawn from scikit-image's astronaut photo
(``tests/toydata.py``: flat "masks" over the lower face, crops framed like
``maskgen augment --crop face``) and a real ResNet-50 is trained on it at 64 px.
Real photos from ``<repo>/../shared/data`` (or ``$MASKGEN_SHARED_DATA``) join the
evaluate/predict tests when present, linked from a temporary folder, never copied.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from click.testing import CliRunner  # noqa: E402

from maskgen_trainer.cli import evaluate, predict, train  # noqa: E402
from maskgen_trainer.errors import TrainerError  # noqa: E402
from maskgen_trainer.photos import labelled_photos, parse_class_map  # noqa: E402

from conftest import shared_data_dir  # noqa: E402
from toydata import group_photo, make_toy_dataset, masked_photo  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SIZE = "64"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One compute thread: predictable on a shared 2-core machine (OpenMP spins badly when
    other processes take the cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _invoke(command, args, expect_ok=True):
    result = CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)
    if expect_ok:
        assert result.exit_code == 0, result.output
    return result


def _history(run: Path) -> list[dict]:
    with open(run / "history.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _save_jpg(path: Path, rgb: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, quality=92)


@pytest.fixture(scope="module")
def toy2(tmp_path_factory) -> Path:
    return make_toy_dataset(tmp_path_factory.mktemp("toy2"), per_class={"train": 24, "val": 12}, size=64, seed=0)


@pytest.fixture(scope="module")
def toy3(tmp_path_factory) -> Path:
    return make_toy_dataset(tmp_path_factory.mktemp("toy3"), classes=("incorrect_mask", "with_mask", "without_mask"),
                            per_class={"train": 4, "val": 2}, size=64, seed=1)


@pytest.fixture(scope="module")
def run2(toy2, tmp_path_factory):
    """Three epochs on the 2-class toy set (the run the other tests read)."""
    run = tmp_path_factory.mktemp("runs") / "run2"
    result = _invoke(train, [toy2, "--out", run, "--epochs", 3, "--batch-size", 8, "--image-size", SIZE,
                             "--augment", "light", "--bn-recalibrate", 4, "--metric", "val_acc", "--patience", 0,
                             "--log-every", 0, "--seed", 0, "--threads", 1])
    return run, result


@pytest.fixture(scope="module")
def r50_file(tmp_path_factory) -> Path:
    """A torchvision ResNet-50 state dict made here (1000-class head), as a user's local weights."""
    import torchvision

    path = tmp_path_factory.mktemp("weights") / "resnet50-local.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet50().state_dict(), path)
    return path


# ---------------------------------------------------------------- training


def test_train_learns_and_writes_its_outputs(run2):
    run, result = run2
    assert "validation accuracy" in result.output
    for name in ["last.pt", "best.pt", "history.csv", "config.json", "summary.json",
                 "plots/loss.png", "plots/accuracy.png", "plots/auc.png", "plots/lr.png",
                 "val/metrics.json", "val/predictions.csv", "val/roc.png", "val/confusion.png", "val/examples.png"]:
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    rows = _history(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    for column in ["lr", "train_loss", "train_acc", "val_loss", "val_acc", "val_auc", "val_precision_with_mask",
                   "val_recall_with_mask", "val_precision_without_mask", "val_recall_without_mask",
                   "epoch_time_s", "images_per_s"]:
        assert column in rows[0], column
    assert all(float(r["images_per_s"]) > 0 for r in rows)
    # learning: chance is 0.5 on this balanced 2-class set
    best = max(rows, key=lambda r: float(r["val_acc"]))
    assert float(best["val_acc"]) >= 0.75, rows
    assert float(best["val_auc"]) >= 0.8, rows
    metrics = json.loads((run / "val/metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(float(best["val_acc"]))
    assert metrics["n"] == 24 and set(metrics["per_class"]) == {"with_mask", "without_mask"}


def test_checkpoint_round_trip(run2, toy2):
    from PIL import Image

    from maskgen.crops import DEFAULT_MARGIN, MARGIN_RANGE
    from maskgen_trainer.data import CentralWindow, train_zoom
    from maskgen_trainer.predict import Classifier

    run, _ = run2
    data = torch.load(run / "best.pt", map_location="cpu", weights_only=True)
    for key in ["model", "optimizer", "scheduler", "epoch", "classes", "preprocessing", "config", "history"]:
        assert key in data, key
    assert data["classes"] == ["with_mask", "without_mask"]
    prep = data["preprocessing"]
    zoom = train_zoom("light")
    assert prep["image_size"] == 64 and prep["dataset_crop_margin"] == DEFAULT_MARGIN
    assert prep["train_zoom"] == pytest.approx(zoom) and 0.9 < zoom < 1.0
    # the face as large as training showed it: (1 + 2 * 0.25) * zoom = 1 + 2 * margin
    assert 1 + 2 * prep["crop_margin"] == pytest.approx((1 + 2 * DEFAULT_MARGIN) * zoom)
    assert tuple(prep["margin_range"]) == tuple(MARGIN_RANGE)
    assert len(prep["mean"]) == 3 and len(prep["std"]) == 3
    assert data["config"]["epochs"] == 3 and len(data["history"]) == data["epoch"]

    # a model rebuilt from the file gives the probabilities the training run wrote for val
    # (validation's window of the crop, unmirrored, as the trainer validates)
    clf = Classifier(run / "best.pt", device="cpu", mirror=False)
    with open(run / "val/predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    crops = []
    for row in rows:
        with Image.open(row["file"]) as im:
            window = CentralWindow(zoom)(im.convert("RGB"))
            crops.append(np.asarray(window.resize((64, 64), Image.BILINEAR)))
    probs = clf.probs(crops)
    expected = np.array([[float(r["p_with_mask"]), float(r["p_without_mask"])] for r in rows])
    np.testing.assert_allclose(probs, expected, atol=1e-4)


def test_mirror_averages_each_face_with_its_mirror_image(run2, toy2):
    from PIL import Image

    from maskgen_trainer.predict import Classifier

    run, _ = run2
    crops = []
    for path in sorted((toy2 / "val").rglob("*.jpg"))[:6]:
        with Image.open(path) as im:
            crops.append(np.asarray(im.convert("RGB").resize((64, 64), Image.BILINEAR)))
    plain = Classifier(run / "best.pt", device="cpu", mirror=False)
    mirrored = Classifier(run / "best.pt", device="cpu")
    assert mirrored.mirror and not plain.mirror
    flipped = [c[:, ::-1].copy() for c in crops]
    both = mirrored.logits(crops)
    np.testing.assert_allclose(both, (plain.logits(crops) + plain.logits(flipped)) / 2, atol=1e-4)
    np.testing.assert_allclose(mirrored.logits(flipped), both, atol=1e-4)  # a face and its mirror image agree
    assert np.abs(plain.logits(crops) - plain.logits(flipped)).max() > 1e-3  # so averaging does something


def test_train_zoom_is_the_mean_side_the_training_crop_keeps():
    """The zoom folded into validation and prediction is the one torchvision's RandomResizedCrop
    applies with the trainer's own settings, measured by drawing its windows."""
    from maskgen_trainer.data import train_transform, train_zoom

    rrc = train_transform(64, "default").transforms[0]
    torch.manual_seed(1)  # other draws than train_zoom's own
    image = torch.zeros(3, 200, 200)
    windows = [rrc.get_params(image, rrc.scale, rrc.ratio) for _ in range(4000)]
    sides = [np.sqrt(h * w) / 200 for _, _, h, w in windows]
    assert np.mean(sides) == pytest.approx(train_zoom("default"), abs=0.004)
    assert train_zoom("none") == 1.0


def test_validation_and_prediction_show_the_face_as_large_as_training(astronaut):
    """A dataset crop (maskgen's mean margin) through the validation transform and the square that
    prediction cuts at the checkpoint's margin show the same face, pixel for pixel."""
    from PIL import Image

    import maskgen
    from maskgen.crops import DEFAULT_MARGIN, crop_square, face_square
    from maskgen_trainer.checkpoint import preprocessing
    from maskgen_trainer.data import eval_transform

    image = astronaut
    box = maskgen.find_faces(image, detector="hog")[0].box
    dataset_crop = Image.fromarray(crop_square(image, face_square(box, DEFAULT_MARGIN), 128))
    validated = np.asarray(eval_transform(64, "default")(dataset_crop), np.float64)
    margin = preprocessing(64, "default")["crop_margin"]

    def difference(m: float) -> float:
        predicted = np.asarray(Image.fromarray(crop_square(image, face_square(box, m), 64)), np.float64)
        return float(np.abs(validated - predicted).mean())

    # the checkpoint's margin is where the two agree best (the rest is resampling), far better than
    # the dataset's own margin, which shows the face smaller than training did
    tried = {m: difference(m) for m in (margin - 0.01, margin, margin + 0.01, DEFAULT_MARGIN)}
    assert min(tried, key=tried.get) == margin, tried
    assert tried[margin] < 6.0 and tried[margin] < 0.3 * tried[DEFAULT_MARGIN], tried


def test_resume_continues_the_epoch_count(run2, toy2, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run2[0], run)
    before = _history(run)
    # a run folder is never overwritten by accident, and the input shape cannot change on resume
    result = _invoke(train, [toy2, "--out", run, "--epochs", 4, "--image-size", SIZE], expect_ok=False)
    assert result.exit_code != 0 and "--resume" in result.output
    result = _invoke(train, [toy2, "--out", run, "--resume", "--image-size", 96], expect_ok=False)
    assert result.exit_code != 0 and "cannot change" in result.output

    result = _invoke(train, [toy2, "--out", run, "--resume", "--epochs", 4])
    assert "resumed from" in result.output
    rows = _history(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert rows[:3] == before
    data = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert data["epoch"] == 4 and data["config"]["epochs"] == 4
    assert data["config"]["image_size"] == 64 and data["config"]["augment"] == "light"  # stored options kept


def test_weight_average_follows_the_decay_and_copies_integer_buffers():
    from torch import nn

    from maskgen_trainer.ema import WeightAverage

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    avg = WeightAverage(model, decay=0.5)
    expected = {k: v.clone() for k, v in start.items()}
    for _ in range(3):
        model.train()
        model(torch.randn(5, 3)).sum().backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        d = min(0.5, (1 + avg.updates) / (10 + avg.updates))  # capped early: 0.1, then 2/11, 3/12
        avg.update(model)
        for k, v in model.state_dict().items():
            expected[k] = d * expected[k] + (1 - d) * v if v.is_floating_point() else v.clone()
    assert avg.updates == 3
    for k, v in avg.module.state_dict().items():
        torch.testing.assert_close(v, expected[k], rtol=1e-6, atol=1e-6)
    assert avg.module.state_dict()["1.num_batches_tracked"].item() == 3
    assert not torch.equal(avg.module.state_dict()["0.weight"], model.state_dict()["0.weight"])
    assert not any(p.requires_grad for p in avg.module.parameters())


def test_ema_run_validates_keeps_and_resumes_the_average(toy2, tmp_path):
    from PIL import Image

    from maskgen_trainer.data import CentralWindow, train_zoom
    from maskgen_trainer.metrics import cross_entropy
    from maskgen_trainer.predict import Classifier

    run = tmp_path / "ema"
    args = [toy2, "--out", run, "--batch-size", 8, "--image-size", SIZE, "--augment", "light", "--metric", "val_acc",
            "--patience", 0, "--log-every", 0, "--seed", 0, "--threads", 1]
    result = _invoke(train, args + ["--epochs", 2, "--ema", 0.9])
    assert "moving average of the weights (decay 0.9)" in result.output
    data = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    steps = int(_history(run)[0]["train_images"]) // 8
    assert data["ema"] == {"decay": 0.9, "updates": 2 * steps}
    assert any(not torch.equal(data["model"][k], data["trained_model"][k])
               for k in data["model"] if data["model"][k].is_floating_point())

    # validation scored the average: its loss on the validation crops is the history's
    val = sorted((toy2 / "val").glob("*/*.jpg"))
    labels = np.array([0 if p.parent.name == "with_mask" else 1 for p in val])
    crops = []
    for path in val:
        with Image.open(path) as im:
            crops.append(np.asarray(CentralWindow(train_zoom("light"))(im.convert("RGB")).resize((64, 64),
                                                                                           Image.BILINEAR)))
    logits = np.log(Classifier(run / "last.pt", device="cpu", mirror=False).probs(crops))
    assert cross_entropy(logits, labels) == pytest.approx(float(_history(run)[-1]["val_loss"]), abs=1e-4)

    result = _invoke(train, [toy2, "--out", run, "--resume", "--ema", 0.5], expect_ok=False)
    assert result.exit_code != 0 and "cannot change" in result.output
    _invoke(train, [toy2, "--out", run, "--resume", "--epochs", 3])
    data = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert data["epoch"] == 3 and data["ema"]["updates"] == 3 * steps


def test_cpu_mixed_precision_trains_in_bf16_and_keeps_fp32_weights(run2, toy2, tmp_path):
    """--amp on a CPU: the network computes in bf16 under autocast, the weights and the checkpoint stay
    float32, and the run still learns the toy set; without --amp a CPU run computes in float32."""
    from maskgen_trainer.loop import autocast_for

    autocast, dtype = autocast_for(torch.device("cpu"), True)
    conv = torch.nn.Conv2d(3, 4, 3)
    with autocast():
        assert dtype == torch.bfloat16 and conv(torch.rand(1, 3, 8, 8)).dtype == torch.bfloat16
    assert autocast_for(torch.device("cpu"), False)[1] is None  # no autocast dtype: float32
    assert "AMP" not in run2[1].output

    run = tmp_path / "amp"
    result = _invoke(train, [toy2, "--out", run, "--epochs", 3, "--batch-size", 8, "--image-size", SIZE,
                             "--augment", "light", "--metric", "val_acc", "--patience", 0, "--log-every", 0,
                             "--seed", 0, "--threads", 1, "--amp"])
    assert "device cpu, AMP" in result.output
    data = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert all(v.dtype == torch.float32 for v in data["model"].values() if v.is_floating_point())
    history = _history(run)
    assert max(float(r["val_acc"]) for r in history) >= 0.75, history
    assert float(history[-1]["train_loss"]) < float(history[0]["train_loss"]), history


def test_early_stopping_stops_with_pretrained_weights_from_the_cache(toy3, r50_file, tmp_path, monkeypatch):
    """--pretrained reads torchvision's hub cache (filled here with a locally made file, as a
    user without internet would); early stopping ends the run after `patience` epochs."""
    from maskgen_trainer.model import IMAGENET_WEIGHTS

    torch_home = tmp_path / "torch_home"
    cache = torch_home / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    shutil.copyfile(r50_file, cache / Path(IMAGENET_WEIGHTS.url).name)
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    run = tmp_path / "run"
    result = _invoke(train, [toy3, "--out", run, "--pretrained", "--epochs", 10, "--batch-size", 4,
                             "--image-size", SIZE, "--metric", "val_acc", "--min-delta", 2, "--patience", 1,
                             "--log-every", 0, "--workers", 0])
    assert "torchvision ImageNet" in result.output and "new head" in result.output
    assert "early stopping" in result.output
    rows = _history(run)
    assert len(rows) == 2  # epoch 1 sets the best; epoch 2 cannot beat it by 2, patience 1
    data = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert data["early_stopping"]["stopped"] is True and data["epoch"] == 2
    assert data["classes"] == ["incorrect_mask", "with_mask", "without_mask"]
    metrics = json.loads((run / "val/metrics.json").read_text())
    assert set(metrics["per_class"]) == {"incorrect_mask", "with_mask", "without_mask"}
    assert metrics["auc"] == metrics["auc"]  # one-vs-rest AUC defined for 3 classes


def test_local_weights_file_and_balanced_sampler(toy3, r50_file, tmp_path):
    run = tmp_path / "run"
    result = _invoke(train, [toy3, "--out", run, "--weights", r50_file, "--epochs", 1, "--batch-size", 4,
                             "--image-size", SIZE, "--balance", "sampler", "--optimizer", "sgd",
                             "--scheduler", "step", "--log-every", 1, "--workers", 0, "--crop-margin", 0.175,
                             "--augment", "none"])
    assert f"weights from {r50_file}" in result.output
    state = torch.load(run / "best.pt", map_location="cpu", weights_only=True)
    assert state["config"]["balance"] == "sampler" and state["config"]["optimizer"] == "sgd"
    # crops cut at a mean margin of 0.175 and never zoomed in training: prediction cuts at 0.175, unmirrored
    prep = state["preprocessing"]
    assert prep["dataset_crop_margin"] == pytest.approx(prep["crop_margin"]) == 0.175 and prep["train_zoom"] == 1.0
    from maskgen_trainer.predict import Classifier

    assert not Classifier(run / "best.pt", device="cpu").mirror


def test_weights_that_cannot_be_had_give_a_clear_error(toy3, tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"not": "weights"}, bad)
    for args, message in [(["--weights", bad], "holds no state dict"),
                          (["--weights", tmp_path / "missing.pth"], "is not a file"),
                          (["--weights", bad, "--pretrained"], "choose one")]:
        result = _invoke(train, [toy3, "--out", tmp_path / "run", *args], expect_ok=False)
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "run" / "last.pt").exists()


def test_pretrained_offline_fails_with_one_line(toy3, tmp_path):
    """No cached weights and no network (a proxy that refuses): one clear line, no traceback."""
    env = dict(os.environ, TORCH_HOME=str(tmp_path / "empty_torch_home"), https_proxy="http://127.0.0.1:9",
               HTTPS_PROXY="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9", no_proxy="", NO_PROXY="")
    proc = subprocess.run([sys.executable, "-m", "maskgen_trainer", "train", str(toy3), "--out",
                           str(tmp_path / "run"), "--pretrained", "--image-size", SIZE],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "could not get torchvision's ImageNet weights" in errors[0], proc.stderr
    assert "--weights FILE" in errors[0] and "Traceback" not in proc.stderr


def test_bad_dataset_layout_is_a_clear_error(tmp_path):
    (tmp_path / "flat" / "with_mask").mkdir(parents=True)
    result = _invoke(train, [tmp_path / "flat", "--out", tmp_path / "run"], expect_ok=False)
    assert result.exit_code == 1 and "no train/ folder" in result.output


# ---------------------------------------------------------------- evaluate and predict


def _no_face(seed: int) -> np.ndarray:
    """A smooth colour gradient: no detector finds a face in it."""
    y, x = np.mgrid[0:120, 0:100]
    base = np.stack([x * 2, y * 2, np.full_like(x, 60 + 40 * seed)], axis=-1)
    return np.clip(base, 0, 255).astype(np.uint8)


def _real_photos(tmp: Path) -> tuple[Path, dict[str, str]]:
    """A labelled folder: astronaut photos (unmasked: a face is found; masked: found or not),
    pictures without a face (classified whole), an ignored folder, and real shared photos if present."""
    rng = np.random.default_rng(5)
    root = tmp / "photos"
    for i in range(2):
        _save_jpg(root / "bare" / f"astronaut_{i}.jpg", masked_photo("without_mask", rng))
        _save_jpg(root / "masked" / f"astronaut_masked_{i}.jpg", masked_photo("with_mask", rng))
        _save_jpg(root / "masked" / f"no_face_{i}.jpg", _no_face(i))
    _save_jpg(root / "unlabelled" / "x.jpg", masked_photo("without_mask", rng))
    mapping = {"bare": "without_mask", "masked": "with_mask"}
    shared = shared_data_dir()
    for folder, cls in (("real_mask", "with_mask"), ("no_mask", "without_mask")):
        source = shared / folder
        if source.is_dir():
            (root / folder).mkdir()
            for photo in sorted(source.iterdir())[:3]:
                (root / folder / photo.name).symlink_to(photo)
            mapping[folder] = cls
    return root, mapping


def test_evaluate_on_real_photos(run2, tmp_path):
    run, _ = run2
    photos, mapping = _real_photos(tmp_path)
    n_photos = sum(1 for p in photos.rglob("*.jpg") if p.parent.name != "unlabelled") + \
        sum(1 for p in photos.rglob("*.png"))
    classes = ",".join(f"{k}={v}" for k, v in mapping.items())
    out = tmp_path / "eval"
    result = _invoke(evaluate, [run, photos, "--classes", classes, "--out", out])
    assert "ignoring folders not named in --classes: unlabelled" in result.output
    assert "with_mask" in result.output and "precision" in result.output
    for name in ["metrics.json", "predictions.csv", "roc.png", "confusion.png", "examples.png"]:
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["photos"] == n_photos
    paths = metrics["paths"]
    assert paths["face"] >= 2 and paths["whole"] >= 2 and paths["no_face"] == 0 and paths["unreadable"] == 0
    assert paths["face"] + paths["whole"] == metrics["n"] == n_photos
    assert f"{paths['face']} classified by their largest face" in result.output
    with open(out / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n_photos
    by_name = {Path(r["file"]).name: r for r in rows}
    assert metrics["detector"] == "mtcnn"  # the default wherever the mtcnn extra is installed
    assert sum(metrics["found_by"].values()) == paths["face"]
    assert {r["detector"] for r in rows if r["path"] == "face"} <= {"mtcnn"}
    for name in ("astronaut_0.jpg", "astronaut_1.jpg"):
        assert by_name[name]["path"] == "face" and int(by_name[name]["faces_found"]) >= 1
        x0, y0, x1, y1 = map(float, by_name[name]["box"].split())
        assert 150 < x0 < 200 and 50 < y0 < 100  # the astronaut's face, the largest detection
    for name in ("no_face_0.jpg", "no_face_1.jpg"):
        assert by_name[name]["path"] == "whole" and by_name[name]["faces_found"] == "0"
        assert by_name[name]["pred"] in ("with_mask", "without_mask")

    # without the fallback, photos without a face are counted, not classified
    out2 = tmp_path / "eval_nofallback"
    result = _invoke(evaluate, [run, photos, "--classes", classes, "--out", out2, "--no-fallback",
                                "--workers", 2, "--no-mirror"])
    m2 = json.loads((out2 / "metrics.json").read_text())
    assert metrics["mirror"] is True and m2["mirror"] is False
    assert m2["paths"]["no_face"] == paths["whole"] and m2["paths"]["whole"] == 0
    assert m2["n"] == paths["face"]
    assert "without a face as wrong" in result.output


def test_rescore_cuts_the_evaluated_faces_again(run2, tmp_path, capsys):
    """benchmarks/rescore.py: the faces of an evaluation cut again at the checkpoint's framing give back the
    evaluation's probabilities; another framing gives others; a model averaged with itself is itself."""
    import importlib.util

    run, _ = run2
    photos, mapping = _real_photos(tmp_path)
    _invoke(evaluate, [run, photos, "--classes", ",".join(f"{k}={v}" for k, v in mapping.items()),
                       "--out", tmp_path / "ev"])
    spec = importlib.util.spec_from_file_location("rescore", REPO / "benchmarks" / "rescore.py")
    rescore = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rescore)
    rows = rescore.read_predictions(tmp_path / "ev" / "predictions.csv")
    classes, labels, probs = rescore.rescore(rows, [run, run / "best.pt"], rescore.parse_framings("default,0.1:0.08"))
    stored = np.array([[float(r[f"p_{c}"]) for c in classes] for r in rows])
    faces = np.array([r["path"] == "face" for r in rows])
    assert probs.shape == (2, 2, len(rows), 2) and faces.sum() >= 2 and (~faces).any()
    np.testing.assert_allclose(probs[0, 0], stored, atol=0.02)  # boxes are stored to 0.1 px
    np.testing.assert_allclose(probs[0], probs[1])  # the same checkpoint twice
    np.testing.assert_array_equal(probs[0, 1][~faces], stored[~faces])  # photos classified whole keep theirs
    assert np.abs(probs[0, 1][faces] - probs[0, 0][faces]).max() > 1e-4  # another framing: other crops
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    from maskgen_trainer.metrics import classification_metrics

    scored = classification_metrics(labels, stored, classes)  # the rows' labels as rescore reads them
    assert scored["balanced_accuracy"] == pytest.approx(metrics["balanced_accuracy"])
    result = rescore.main([str(tmp_path / "ev" / "predictions.csv"), str(run), str(run),
                           "--prior-shifts=-1,0", "--shift-class", "with_mask"])
    out = capsys.readouterr().out
    assert "models 0-1 averaged" in out and "with_mask log-probability -1" in out
    assert result["ensemble"][2] == result["models"]["0:default:0"]
    assert result["prior_shifts"][0.0] == result["models"]["0:default:0"]


def test_ensemble_averages_its_members_probabilities(run2, toy2, toy3, tmp_path):
    run, _ = run2
    other = tmp_path / "other"  # a second model: another seed, one epoch
    _invoke(train, [toy2, "--out", other, "--epochs", 1, "--batch-size", 8, "--image-size", SIZE, "--augment", "light",
                    "--log-every", 0, "--seed", 7, "--threads", 1])
    photos, mapping = _real_photos(tmp_path)
    classes = ",".join(f"{k}={v}" for k, v in mapping.items())

    def probabilities(out: Path) -> dict[str, np.ndarray]:
        with open(out / "predictions.csv", newline="") as fh:
            return {r["file"]: np.array([float(r["p_with_mask"]), float(r["p_without_mask"])]) for r in csv.DictReader(fh)}

    alone = {}
    for name, r in (("a", run), ("b", other)):
        _invoke(evaluate, [r, photos, "--classes", classes, "--out", tmp_path / name])
        alone[name] = probabilities(tmp_path / name)
    result = _invoke(evaluate, [run, photos, "--classes", classes, "--out", tmp_path / "both", "--ensemble", other])
    assert "an ensemble of 2" in result.output
    both = probabilities(tmp_path / "both")
    labelled = sum(1 for folder in mapping for p in (photos / folder).iterdir())
    assert set(both) == set(alone["a"]) and len(both) == labelled >= 6  # every labelled photo, shared ones too
    assert max(np.abs(alone["a"][f] - alone["b"][f]).max() for f in both) > 0.01  # two different models
    for f, p in both.items():
        np.testing.assert_allclose(p, (alone["a"][f] + alone["b"][f]) / 2, atol=1e-5)
    metrics = json.loads((tmp_path / "both" / "metrics.json").read_text())
    assert metrics["ensemble"] == [str(run / "best.pt"), str(other / "best.pt")] and metrics["epochs"] == [3, 1]

    group = tmp_path / "in" / "group.jpg"
    _save_jpg(group, group_photo(["without_mask"] * 2, np.random.default_rng(4)))
    _invoke(predict, [run, group, "--out", tmp_path / "pred", "--ensemble", other / "last.pt", "--no-annotate"])
    data = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    assert data["ensemble"] == [str(run / "best.pt"), str(other / "last.pt")]
    assert len(data["images"][0]["faces"]) == 2

    # members that would need other crops, or classify other classes, are refused in one line
    small, three = tmp_path / "small", tmp_path / "three"
    _invoke(train, [toy2, "--out", small, "--epochs", 1, "--batch-size", 8, "--image-size", 48, "--log-every", 0,
                    "--threads", 1])
    _invoke(train, [toy3, "--out", three, "--epochs", 1, "--batch-size", 4, "--image-size", SIZE, "--log-every", 0,
                    "--threads", 1])
    result = _invoke(evaluate, [run, photos, "--classes", classes, "--ensemble", small], expect_ok=False)
    assert result.exit_code == 1 and "--image-size, --crop-margin and --crop-drop" in result.output and "48 px" in result.output
    result = _invoke(predict, [run, group, "--ensemble", three], expect_ok=False)
    assert result.exit_code == 1 and "incorrect_mask" in result.output and len(result.output.strip().splitlines()) == 1


def test_evaluate_folder_names_must_match_or_be_mapped(run2, tmp_path):
    run, _ = run2
    photos, _ = _real_photos(tmp_path)
    result = _invoke(evaluate, [run, photos], expect_ok=False)
    assert result.exit_code == 1 and "--classes" in result.output and "bare" in result.output
    result = _invoke(evaluate, [run, photos, "--classes", "bare=no_such_class"], expect_ok=False)
    assert result.exit_code == 1 and "does not know" in result.output


def test_predict_marks_every_face_of_a_group_photo(run2, tmp_path):
    run, _ = run2
    rng = np.random.default_rng(3)
    group = tmp_path / "in" / "group.jpg"
    _save_jpg(group, group_photo(["without_mask"] * 3, rng))
    _save_jpg(tmp_path / "in" / "sub" / "no_face.jpg", _no_face(0))
    (tmp_path / "in" / "sub" / "broken.jpg").write_bytes(b"not an image")
    out = tmp_path / "pred"
    result = _invoke(predict, [run, tmp_path / "in", "--out", out])
    assert "3 faces found" in result.output and "1 unreadable" in result.output
    with open(out / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    faces = [r for r in rows if r["file"].endswith("group.jpg")]
    assert len(faces) == 3 and all(r["path"] == "face" for r in faces)
    xs = sorted(float(r["x0"]) for r in faces)
    assert xs[0] < 320 <= xs[1] < 640 <= xs[2]  # one box per portrait
    for r in faces:
        assert r["label"] in ("with_mask", "without_mask") and 0.5 <= float(r["prob"]) <= 1.0
    whole = [r for r in rows if r["file"].endswith("no_face.jpg")]
    assert len(whole) == 1 and whole[0]["path"] == "whole"
    broken = [r for r in rows if r["file"].endswith("broken.jpg")]
    assert len(broken) == 1 and broken[0]["path"] == "unreadable" and broken[0]["error"]
    data = json.loads((out / "predictions.json").read_text())
    assert [len(i["faces"]) for i in data["images"]] == [3, 0, 1]
    assert (out / "annotated" / "group.jpg").is_file() and (out / "annotated" / "sub" / "no_face.jpg").is_file()

    result = _invoke(predict, [run, tmp_path / "in" / "sub" / "no_face.jpg", "--out", tmp_path / "pred2",
                               "--no-fallback", "--format", "json", "--no-annotate"])
    data = json.loads((tmp_path / "pred2" / "predictions.json").read_text())
    assert data["images"][0]["path"] == "no_face" and data["images"][0]["faces"] == []
    assert not (tmp_path / "pred2" / "predictions.csv").exists()
    assert not (tmp_path / "pred2" / "annotated").exists()


def test_real_shared_photos_go_through_predict(run2, tmp_path):
    shared = shared_data_dir()
    if not (shared / "real_mask").is_dir():
        pytest.skip(f"shared real photos not found at {shared} (set MASKGEN_SHARED_DATA)")
    run, _ = run2
    photos = sorted((shared / "real_mask").iterdir())[:2] + sorted((shared / "no_mask").iterdir())[:2]
    out = tmp_path / "pred"
    _invoke(predict, [run, *photos, "--out", out])
    data = json.loads((out / "predictions.json").read_text())
    assert len(data["images"]) == 4
    assert all(i["path"] in ("face", "whole") and i["faces"] for i in data["images"])


# ---------------------------------------------------------------- several processes


@pytest.mark.slow
def test_ddp_two_gloo_processes_on_cpu(toy3, tmp_path):
    run = tmp_path / "ddp"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    proc = subprocess.run([*torchrun, "-m", "maskgen_trainer", "train", str(toy3), "--out", str(run),
                           "--epochs", "1", "--batch-size", "3", "--image-size", SIZE, "--workers", "0",
                           "--bn-recalibrate", "1", "--log-every", "0"],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "x2 processes" in proc.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["world_size"] == 2
    rows = _history(run)
    # 12 training images: 6 per process, 2 batches of 3 each; both processes' counts are summed
    assert len(rows) == 1 and int(rows[0]["train_images"]) == 12
    data = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert not any(k.startswith("module.") for k in data["model"])
    metrics = json.loads((run / "val/metrics.json").read_text())
    assert metrics["n"] == 6  # every validation image once, gathered from both processes


# ---------------------------------------------------------------- pieces


def test_class_map_parsing_and_folder_mapping(tmp_path):
    assert parse_class_map("real_mask=with_mask, no_mask = without_mask") == {
        "real_mask": "with_mask", "no_mask": "without_mask"}
    assert parse_class_map(None) == {}
    with pytest.raises(TrainerError):
        parse_class_map("real_mask")
    for folder in ("a", "b", "c"):
        _save_jpg(tmp_path / folder / "x.jpg", np.zeros((8, 8, 3), np.uint8))
    photos, ignored = labelled_photos(tmp_path, ["with_mask", "without_mask"], {"a": "with_mask", "b": "without_mask"})
    assert [(Path(p).parent.name, t) for p, t, _ in photos] == [("a", 0), ("b", 1)] and ignored == ["c"]
    with pytest.raises(TrainerError, match="--classes"):
        labelled_photos(tmp_path, ["with_mask", "without_mask"], {})
    with pytest.raises(TrainerError, match="not found"):
        labelled_photos(tmp_path, ["with_mask"], {"zzz": "with_mask"})


def test_early_stopping_rule():
    from maskgen_trainer.stopping import EarlyStopping

    es = EarlyStopping("min", patience=2, min_delta=0.1)
    assert es.step(1.0, 1) and not es.step(0.95, 2) and es.bad_epochs == 1
    assert es.step(0.8, 3) and es.bad_epochs == 0 and es.best_epoch == 3
    assert not es.step(float("nan"), 4) and not es.step(0.75, 5) and es.should_stop
    es = EarlyStopping("max", patience=0, min_delta=0.0)
    assert es.step(0.5, 1) and not es.step(0.5, 2) and not es.should_stop  # patience 0: never stops


def test_metrics_with_a_class_missing_from_the_labels():
    from maskgen_trainer.metrics import classification_metrics

    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1]])
    m = classification_metrics([0, 1, 0, 1], probs, ["a", "b", "c"], logits=np.log(probs))
    assert m["accuracy"] == 1.0 and m["auc"] == 1.0  # mean over the classes that occur
    assert m["per_class"]["c"]["support"] == 0 and m["per_class"]["c"]["auc"] != m["per_class"]["c"]["auc"]
    assert m["confusion"] == [[2, 0, 0], [0, 2, 0], [0, 0, 0]]
    assert m["loss"] == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.6, 0.8])))


def test_samplers_split_the_data_between_processes():
    from maskgen_trainer.data import BalancedSampler, train_sampler

    shards = [list(train_sampler("loss", [0] * 10, 1, rank, 2, seed=1)) for rank in range(2)]
    assert len(shards[0]) == len(shards[1]) == 5 and sorted(shards[0] + shards[1]) == list(range(10))
    targets = [0] * 90 + [1] * 10
    drawn = [i for rank in range(2) for i in BalancedSampler(targets, 2, rank, 2, seed=0)]
    share = np.mean([targets[i] for i in drawn])
    assert len(drawn) == 100 and 0.35 < share < 0.65  # the rare class drawn about as often


def test_training_loader_workers_hand_over_uint8(toy2):
    from maskgen_trainer.data import build_datasets, make_loader

    train_set, val_set = build_datasets(toy2, 48, "default")
    loader = make_loader(train_set, 8, None, workers=2, seed=0)
    images, targets = next(iter(loader))
    assert images.dtype == torch.uint8 and tuple(images.shape) == (8, 3, 48, 48)
    assert targets.dtype == torch.int64 and len(val_set) == 24


def test_trainer_commands_and_maskgen_import_no_torch():
    code = ("import sys, maskgen, maskgen.cli.main, maskgen_trainer.cli; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert {'train', 'evaluate', 'predict'} <= set(maskgen.cli.main.main.commands)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_benchmark_script_runs(capsys):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench_train
    finally:
        sys.path.pop(0)
    result = bench_train.main(["--image-size", "48", "--batch-size", "4", "--steps", "1", "--warmup", "1",
                               "--rounds", "1", "--workers", "0", "--toy-images", "4", "--source-size", "64"])
    out = capsys.readouterr().out
    assert "bare forward+backward" in out and "training loop with loader" in out
    assert result["bare_images_per_s"] > 0 and result["training_images_per_s"] > 0


def test_crop_drop_of_the_dataset_frames_prediction(toy3, astronaut, tmp_path):
    """A dataset cut with ``maskgen augment --crop-drop D`` says so in its settings.json; training reads it
    into the checkpoint (no option needed), and prediction cuts each face centred D of its side lower, the
    square it reports being that one; an ensemble refuses members framed otherwise."""
    from maskgen.crops import crop_square, face_square
    from maskgen_trainer.classifier import Ensemble
    from maskgen_trainer.predict import Classifier, InferenceOptions, PhotoCrops

    data = tmp_path / "data"
    shutil.copytree(toy3, data)
    (data / "settings.json").write_text(json.dumps({"config": {"crop": "face", "crop_drop": 0.12}}))
    runs = {}
    for name, root in (("dropped", data), ("centred", toy3)):
        runs[name] = tmp_path / name
        _invoke(train, [root, "--out", runs[name], "--epochs", 1, "--batch-size", 4, "--image-size", SIZE,
                        "--log-every", 0, "--workers", 0, "--augment", "none"])
    state = torch.load(runs["dropped"] / "best.pt", map_location="cpu", weights_only=True)
    assert state["preprocessing"]["crop_drop"] == pytest.approx(0.12) and state["config"]["crop_drop"] == 0.12
    clf = Classifier(runs["dropped"] / "best.pt", device="cpu")
    centred = Classifier(runs["centred"] / "best.pt", device="cpu")
    assert clf.drop == pytest.approx(0.12) and centred.drop == 0.0 and clf.margin == pytest.approx(centred.margin)

    photo = tmp_path / "astronaut.png"
    from PIL import Image

    Image.fromarray(astronaut).save(photo)
    opts = InferenceOptions(detector="hog")
    item = PhotoCrops([str(photo)], clf.image_size, clf.margin, opts, drop=clf.drop)[0]
    face = item["faces"][0]
    box = np.asarray(face["box"], np.float64)
    side = max(box[2] - box[0], box[3] - box[1])
    assert (face["square"][1] + face["square"][3]) / 2 - (box[1] + box[3]) / 2 == pytest.approx(0.12 * side)
    expected = crop_square(astronaut, face_square(box, clf.margin, (0.0, clf.drop)), clf.image_size)
    assert np.array_equal(face["crop"], expected)
    with pytest.raises(TrainerError, match="crop-drop"):
        Ensemble([clf, centred])


def test_subclasses_train_on_wear_and_score_as_classes(small_astronaut, tmp_path):
    """``--subclasses wear`` on a dataset maskgen generated: the model scores each class's parts
    (``incorrect_mask/chin``, ``incorrect_mask/nose``...), read from metadata.csv, and everything that
    reports (validation, the checkpoint's classes, prediction) speaks in classes, each the sum of its
    parts' probabilities; a column the dataset lacks, or a dataset without metadata.csv, is one clear line."""
    from conftest import make_src_tree
    from maskgen.cli.main import main as maskgen_main
    from maskgen_trainer import checkpoint as ckpt
    from maskgen_trainer.classifier import Classifier

    data = tmp_path / "data"
    result = CliRunner().invoke(maskgen_main, [
        "augment", str(make_src_tree(tmp_path, small_astronaut)), str(data), "--crop", "face", "--crop-size", "64",
        "--variants", "6", "--negatives", "1", "--wear", "correct=0.4,nose=0.3,chin=0.3", "--augment", "none",
        "--split", "0.5,0.5,0", "--seed", "2", "--workers", "1", "--no-progress", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with open(data / "metadata.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = {f"{r['label']}/{r['wear']}" for r in rows if r["split"] == "train"}
    # seed 2 puts two of the five sources in each split: every subclass in both
    assert {f"{r['label']}/{r['wear']}" for r in rows if r["split"] == "val"} == expected
    assert {"incorrect_mask/chin", "incorrect_mask/nose", "with_mask/correct", "without_mask/none"} <= expected

    run = tmp_path / "run"
    _invoke(train, [data, "--out", run, "--epochs", 2, "--batch-size", 8, "--image-size", SIZE, "--augment", "light",
                    "--subclasses", "wear", "--log-every", 0, "--seed", 0, "--threads", 1])
    state = ckpt.load(run / "best.pt")
    classes = state["classes"]
    assert classes == ["incorrect_mask", "with_mask", "without_mask"]
    assert set(state["subclasses"]) == expected and len(state["subclasses"]) == len(expected)
    assert [classes[c] for c in state["class_of"]] == [s.split("/")[0] for s in state["subclasses"]]
    assert state["model"]["fc.1.weight"].shape[0] == len(expected)
    assert state["config"]["subclasses"] == "wear"
    history = _history(run)
    assert len(history) == 2 and all(f"val_recall_{c}" in history[0] for c in classes)
    with open(run / "val" / "predictions.csv", newline="") as fh:
        val_rows = list(csv.DictReader(fh))
    assert val_rows and {r["label"] for r in val_rows} <= set(classes) and {r["pred"] for r in val_rows} <= set(classes)
    for r in val_rows:
        assert sum(float(r[f"p_{c}"]) for c in classes) == pytest.approx(1.0, abs=1e-5)

    # prediction: each class's probability is the sum of its subclasses' softmax, computed here from the raw model
    clf = Classifier(run / "best.pt", device="cpu", mirror=False)
    from maskgen.images import read_image

    crops = [read_image(data / r["file_name"]) for r in rows[:6]]  # 64 px crops: the model's input size
    assert all(c.shape == (64, 64, 3) for c in crops)
    x = clf.normalize(torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2))
    with torch.inference_mode():
        parts = torch.softmax(clf.model(x).float(), dim=1).double().numpy()
    summed = np.stack([parts[:, [k for k, c in enumerate(state["class_of"]) if c == j]].sum(1)
                       for j in range(len(classes))], axis=1)
    assert np.allclose(clf.probs(crops), summed, atol=1e-5)

    bad = _invoke(train, [data, "--out", tmp_path / "bad", "--epochs", 1, "--image-size", SIZE,
                          "--subclasses", "no_such_column"], expect_ok=False)
    assert bad.exit_code != 0 and "no_such_column" in bad.output and "Traceback" not in bad.output
    toy = make_toy_dataset(tmp_path / "toy", per_class={"train": 2, "val": 1}, size=64, seed=0)
    bad = _invoke(train, [toy, "--out", tmp_path / "bad2", "--epochs", 1, "--image-size", SIZE,
                          "--subclasses", "wear"], expect_ok=False)
    assert bad.exit_code != 0 and "metadata.csv" in bad.output

"""`maskgen augment` through click's CliRunner: the files it writes, messages and exit codes."""
from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import make_broken_src, make_src_tree, save, tree_digest
from maskgen.cli.main import main
from maskgen.dataset.manifest import read_manifest, read_settings, read_skipped


def run(*args):
    return CliRunner().invoke(main, ["augment", *map(str, args)], catch_exceptions=False)


@pytest.fixture(scope="module")
def src(tmp_path_factory, small_astronaut):
    return make_src_tree(tmp_path_factory.mktemp("cli"), small_astronaut)


def test_help_lists_every_option():
    result = run("--help")
    assert result.exit_code == 0
    for option in ("--mask-type", "--color", "--texture", "--texture-strength", "--wear", "--seed", "--detector",
                   "--upsample", "--crop", "--crop-size", "--variants", "--negatives", "--paired-negatives", "--split",
                   "--augment", "--workers", "--limit", "--overwrite", "--max-pixels", "--format", "--quality", "--runner"):
        assert option in result.output, option
    assert "--engine" not in result.output  # the deprecated alias of --runner is hidden


def test_options_are_built_from_the_settings_table(tmp_path):
    """Each option's flag, default, range or choices and help come from dataset.config.OPTIONS."""
    import click

    from maskgen.cli.dataset import augment
    from maskgen.dataset.config import OPTIONS, RUN_OPTIONS, DatasetConfig
    from maskgen.detect.faces import DETECTORS

    params = {p.name: p for p in augment.params}
    for spec in OPTIONS + RUN_OPTIONS:
        if spec.cli_flag is None:
            assert spec.name not in params
            continue
        p = params[spec.name]
        assert spec.cli_flag in p.opts and p.help == spec.help
        if isinstance(p.type, (click.IntRange, click.FloatRange)):
            assert (p.type.min, p.type.max) == (spec.low, spec.high)
        if spec.name in DatasetConfig.__dataclass_fields__:
            assert DatasetConfig.__dataclass_fields__[spec.name].default == spec.default
    assert tuple(params["detector"].type.choices) == tuple(DETECTORS)
    # the library refuses what the command line refuses, with the same range
    with pytest.raises(ValueError, match=r"upsample must be 0\.\.4"):
        DatasetConfig(upsample=5).validated()
    r = run(tmp_path, tmp_path / "out", "--upsample", "5")
    assert r.exit_code == 2 and "0<=x<=4" in r.output and not (tmp_path / "out").exists()


def test_runner_and_its_deprecated_alias(src, tmp_path):
    common = ["--workers", "1", "--limit", "1", "--detector", "none", "--augment", "none", "--negatives", "0",
              "--no-progress"]
    r = run(src, tmp_path / "a", "--runner", "local", *common)
    assert r.exit_code == 0, r.output
    r = run(src, tmp_path / "b", "--engine", "local", *common)
    assert r.exit_code == 0 and "--engine is deprecated" in r.stderr
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    r = run(src, tmp_path / "c", "--runner", "local", "--engine", "dask", *common)
    assert r.exit_code == 2 and "disagree" in r.stderr and not (tmp_path / "c").exists()


def test_face_crops_with_wear_mix(src, tmp_path):
    out = tmp_path / "out"
    before = tree_digest(src, ignore_hidden=False)
    r = run(src, out, "--crop", "face", "--crop-size", "96", "--wear", "correct=0.4,nose=0.2,chin=0.2,ear=0.2",
            "--mask-type", "surgical,kn95", "--seed", "4", "--negatives", "1", "--paired-negatives",
            "--split", "0.6,0.2,0.2", "--workers", "1", "--format", "png", "--no-progress")
    assert r.exit_code == 0, r.output
    assert r.stdout == ""  # data goes to files, messages to stderr
    assert "5 source images processed" in r.stderr and "without_mask" in r.stderr
    assert tree_digest(src, ignore_hidden=False) == before
    rows = read_manifest(out)
    assert len({r["source"] for r in rows}) == 5
    per_face = collections.Counter((r["source"], r["face_index"]) for r in rows)
    assert set(per_face.values()) <= {1, 2}  # one masked crop and about one negative per face
    for row in rows:
        assert (out / row["file_name"]).is_file() and row["file_name"].endswith(".png")
        assert row["mask_type"] in ("surgical", "kn95", "none")
        assert row["width"] == 96
        wear_label = {"correct": "with_mask", "nose": "incorrect_mask", "chin": "incorrect_mask",
                      "ear": "incorrect_mask", "": "without_mask", "none": "without_mask"}
        assert row["label"] == wear_label[row["wear"] or ""], row
    assert {"correct", "ear"} <= {r["wear"] for r in rows}  # this seed draws a mask hanging from an ear
    assert {r["label"] for r in rows} >= {"without_mask"}
    settings = read_settings(out)["config"]
    assert settings["crop"] == "face" and settings["mask_type"] == "surgical,kn95" and settings["seed"] == 4
    assert settings["paired_negatives"] is True
    by_name = {Path(r["file_name"]).stem: r for r in rows}
    pairs = [(v, by_name[n]) for n, v in ((s.replace("_v", "_n"), r) for s, r in by_name.items() if "_v" in s)
             if n in by_name]
    assert pairs and all(v["landmarks"] == n["landmarks"] and v["augment"] == n["augment"] for v, n in pairs)
    assert not list(out.glob("coco_*.json"))


def test_full_images_color_texture_and_augment_file(src, tmp_path):
    spec = tmp_path / "aug.json"
    spec.write_text(json.dumps({"flip": 1.0, "brightness": [0.9, 1.1]}))
    out = tmp_path / "out"
    r = run(src, out, "--mask-type", "cloth", "--color", "navy", "--texture", "none", "--texture-strength", "0.5",
            "--augment", spec, "--negatives", "0", "--workers", "1", "--quality", "80", "--variants", "2",
            "--no-progress")
    assert r.exit_code == 0, r.output
    rows = read_manifest(out)
    assert len(rows) == 10 and all(r["label"] == "with_mask" for r in rows)
    for row in rows:
        n = len(row["box"])
        assert row["mask_type"] == ["cloth"] * n and row["color_name"] == ["navy"] * n
        assert row["texture"] == ["none"] * n and row["texture_strength"] == [0.5] * n
        assert row["augment"][0] == "fliplr"
    assert read_settings(out)["config"]["augment"]["flip"] == 1.0
    assert list(out.glob("coco_*.json"))


def test_limit_resume_settings_guard_and_overwrite(src, tmp_path):
    out = tmp_path / "out"
    common = ["--workers", "1", "--no-progress", "--negatives", "0", "--augment", "none"]
    r = run(src, out, "--limit", "2", *common)
    assert r.exit_code == 0 and len({x["source"] for x in read_manifest(out)}) == 2
    r = run(src, out, *common)
    assert r.exit_code == 0 and "3 source images processed" in r.stderr and "2 already done" in r.stderr
    first = tree_digest(out)
    r = run(src, out, "--seed", "9", *common)
    assert r.exit_code == 2 and "different settings" in r.stderr and "seed" in r.stderr
    assert tree_digest(out) == first
    r = run(src, out, "--seed", "9", "--overwrite", *common)
    assert r.exit_code == 0 and read_settings(out)["config"]["seed"] == 9
    assert len(read_manifest(out)) == 5


@pytest.mark.parametrize("args, words", [
    (["--split", "1,2,3,4"], "split"), (["--wear", "sideways"], "wear"), (["--augment", "medium"], "augment"),
    (["--detector", "yolo"], "detector"), (["--crop-size", "5"], "crop-size"), (["--mask-type", "balaclava"], "mask type"),
    (["--color", "not-a-colour"], "colour"), (["--variants", "0"], "variants"), (["--quality", "101"], "quality"),
])
def test_bad_options_are_usage_errors(src, tmp_path, args, words):
    out = tmp_path / "out"
    r = run(src, out, "--workers", "1", *args)
    assert r.exit_code == 2, r.output
    assert words in r.stderr.lower()
    assert not out.exists()


def test_out_inside_src_is_refused(tmp_path, small_astronaut):
    src = make_src_tree(tmp_path, small_astronaut)
    before = tree_digest(src, ignore_hidden=False)
    r = run(src, src / "dataset", "--workers", "1")
    assert r.exit_code == 2 and "inside SRC" in r.stderr
    assert tree_digest(src, ignore_hidden=False) == before and not (src / "dataset").exists()


def test_broken_inputs_listed_run_carries_on(tmp_path, small_astronaut):
    src, bad, good = make_broken_src(tmp_path, small_astronaut)
    before = tree_digest(src, ignore_hidden=False)
    out = tmp_path / "out"
    r = run(src, out, "--max-pixels", "2000000", "--workers", "2", "--negatives", "0", "--split", "1",
            "--no-progress")
    assert r.exit_code == 0, r.output
    assert tree_digest(src, ignore_hidden=False) == before
    skipped = {x["source"]: x for x in read_skipped(out)}
    assert set(skipped) == set(bad)
    for name in bad:  # one line per file on stderr naming it and the reason
        lines = [line for line in r.stderr.splitlines() if line.startswith(f"skipped {name}: ")]
        assert len(lines) == 1 and skipped[name]["reason"] in lines[0]
    assert sorted(x["source"] for x in read_manifest(out)) == sorted(good)
    assert "skipped (see skipped.csv)" in r.stderr


def test_nothing_processed_exits_1(tmp_path, small_astronaut):
    src, bad, _ = make_broken_src(tmp_path, small_astronaut)
    for name in list(src.iterdir()):
        if name.name not in bad:
            name.unlink()
    out = tmp_path / "out"
    r = run(src, out, "--max-pixels", "2000000", "--workers", "1", "--no-progress", "-q")
    assert r.exit_code == 1
    assert "no image could be processed" in r.stderr
    assert not any(line.startswith(f"skipped {name}:") for line in r.stderr.splitlines() for name in bad)  # -q
    assert {x["source"] for x in read_skipped(out)} == set(bad)


def test_no_images_in_src(tmp_path):
    (tmp_path / "src").mkdir()
    r = run(tmp_path / "src", tmp_path / "out")
    assert r.exit_code == 2 and "no images found" in r.stderr


def test_single_file(tmp_path, small_astronaut):
    photo = save(tmp_path / "photo.jpg", small_astronaut)
    out = tmp_path / "out"
    r = run(photo, out, "--workers", "1", "--negatives", "0", "--split", "1", "--no-progress")
    assert r.exit_code == 0, r.output
    assert [x["file_name"] for x in read_manifest(out)] == ["train/with_mask/photo_v0.jpg"]

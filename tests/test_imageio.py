"""maskgen.images: reading every kind of photo to RGB uint8, clear errors, atomic writes."""
from __future__ import annotations

import io
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from maskgen import ImageReadError, read_image
from maskgen.atomic import atomic_open, copy_atomic, write_text_atomic
from maskgen.images import SUPPORTED_EXTENSIONS, encode_image, write_image_atomic


def _jpeg_bytes(image, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=95, **kw)
    return buf.getvalue()


def test_rgb_jpeg_roundtrip(tmp_path, astronaut):
    p = tmp_path / "a.jpg"
    p.write_bytes(_jpeg_bytes(astronaut))
    out = read_image(p)
    assert out.dtype == np.uint8 and out.shape == astronaut.shape
    assert np.abs(out.astype(int) - astronaut).mean() < 3


def test_png_is_exact(tmp_path, astronaut):
    p = tmp_path / "a.png"
    Image.fromarray(astronaut).save(p)
    assert np.array_equal(read_image(p), astronaut)


def test_exif_orientation_6_is_rotated_upright(tmp_path, astronaut):
    # store the image rotated 90° counter-clockwise with orientation 6 ("rotate 90 CW to view")
    stored = np.ascontiguousarray(np.rot90(astronaut[:, :400], k=1))  # 400 x 512 -> 512 wide
    exif = Image.Exif()
    exif[0x0112] = 6
    p = tmp_path / "rot.jpg"
    Image.fromarray(stored).save(p, quality=95, exif=exif)
    assert Image.open(p).size == (512, 400)  # as stored: landscape
    out = read_image(p)
    assert out.shape == (512, 400, 3)  # upright: portrait, as a viewer shows it
    assert np.abs(out.astype(int) - astronaut[:, :400]).mean() < 4


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation(tmp_path, orientation):
    rng = np.random.default_rng(orientation)
    upright = (rng.random((6, 10, 3)) * 255).astype(np.uint8)
    # the stored pixels are the inverse of the transform the tag asks a viewer to apply
    to_stored = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
                 5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, 1),
                 7: lambda a: np.rot90(a, 2).transpose(1, 0, 2), 8: lambda a: np.rot90(a, -1)}
    stored = np.ascontiguousarray(to_stored[orientation](upright))
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / "o.png"
    Image.fromarray(stored).save(p, exif=exif)
    assert np.array_equal(read_image(p), upright)


def test_grayscale_and_bilevel(tmp_path, astronaut):
    grey = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    p = tmp_path / "g.png"
    Image.fromarray(grey).save(p)
    out = read_image(p)
    assert out.shape == (512, 512, 3) and np.array_equal(out[..., 0], grey) and np.array_equal(out[..., 2], grey)
    b = tmp_path / "b.png"
    Image.fromarray(grey).convert("1").save(b)
    out = read_image(b)
    assert out.shape == (512, 512, 3) and set(np.unique(out)) <= {0, 255}


def test_palette_png_with_and_without_transparency(tmp_path, astronaut):
    p = tmp_path / "p.png"
    pal = Image.fromarray(astronaut).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.save(p)
    out = read_image(p)
    assert out.shape == (512, 512, 3)
    assert np.abs(out.astype(int) - astronaut).mean() < 12
    t = tmp_path / "pt.png"
    idx = np.zeros((4, 4), np.uint8)
    idx[0, 0] = 1
    im = Image.fromarray(idx, "P")
    im.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    im.save(t, transparency=0)  # index 0 (black) is transparent
    out = read_image(t)
    assert out[1, 1].tolist() == [255, 255, 255]  # transparent -> white
    assert out[0, 0].tolist() == [200, 10, 10]


def test_rgba_and_la_composite_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[0, 0, 3] = 255
    rgba[0, 1, 3] = 128
    p = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(p)
    out = read_image(p)
    assert out[0, 0].tolist() == [200, 0, 0]
    assert out[3, 3].tolist() == [255, 255, 255]  # fully transparent -> white, not the stored black
    assert out[0, 1].tolist() == [227, 127, 127]  # half: round((200*128 + 255*127) / 255)
    la = tmp_path / "la.png"
    Image.fromarray(np.dstack([np.full((4, 4), 50, np.uint8), np.zeros((4, 4), np.uint8)]), "LA").save(la)
    assert (read_image(la) == 255).all()


def test_16_bit_png_and_tiff_scale_to_8_bit(tmp_path):
    rng = np.random.default_rng(0)
    rgb16 = (rng.random((12, 16, 3)) * 65535).astype(np.uint16)
    expected = (rgb16 >> 8).astype(np.uint8)
    for ext in (".png", ".tif"):
        p = tmp_path / f"c16{ext}"
        assert cv2.imwrite(str(p), rgb16[..., ::-1])  # OpenCV writes BGR
        assert np.array_equal(read_image(p), expected), ext
        g = tmp_path / f"g16{ext}"
        assert cv2.imwrite(str(g), rgb16[..., 0])
        out = read_image(g)
        assert Image.open(g).mode.startswith("I")
        assert np.array_equal(out[..., 0], expected[..., 0]), ext
    # a dark 16-bit image must not wrap around or saturate
    dark = np.full((4, 4), 1000, np.uint16)
    d = tmp_path / "dark.png"
    cv2.imwrite(str(d), dark)
    assert (read_image(d) == 1000 >> 8).all()


def test_32_bit_int_and_float_tiff(tmp_path):
    i32 = (np.arange(16, dtype=np.int32).reshape(4, 4) * 4000)
    p = tmp_path / "i.tif"
    Image.fromarray(i32).save(p)
    assert Image.open(p).mode == "I"
    out = read_image(p)
    assert np.array_equal(out[..., 0], (i32 >> 8).astype(np.uint8))
    f = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    q = tmp_path / "f.tif"
    Image.fromarray(f).save(q)
    assert Image.open(q).mode == "F"
    out = read_image(q)
    assert out[0, 0, 0] == 0 and out[3, 3, 0] == 255


def test_cmyk_jpeg(tmp_path, astronaut):
    p = tmp_path / "c.jpg"
    Image.fromarray(astronaut).convert("CMYK").save(p, quality=95)
    assert Image.open(p).mode == "CMYK"
    out = read_image(p)
    assert out.shape == (512, 512, 3)
    assert np.abs(out.astype(int) - astronaut).mean() < 6


def test_webp_bmp_tiff(tmp_path, astronaut):
    for ext in (".webp", ".bmp", ".tif", ".tiff"):
        p = tmp_path / f"x{ext}"
        Image.fromarray(astronaut).save(p)
        assert read_image(p).shape == (512, 512, 3), ext
    assert set(SUPPORTED_EXTENSIONS) == {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


@pytest.mark.parametrize("case, kind", [
    ("empty", "empty"), ("text", "not_image"), ("truncated_jpeg", "truncated"), ("truncated_png", "truncated"),
    ("corrupt_jpeg", None), ("missing", "not_found"), ("header_only", "truncated"), ("folder", "not_a_file"),
])
def test_bad_files_raise_one_line_reasons(tmp_path, astronaut, case, kind):
    p = tmp_path / f"{case}.jpg"
    data = _jpeg_bytes(astronaut)
    if case == "empty":
        p.write_bytes(b"")
    elif case == "text":
        p.write_text("hello, I am a text file\nwith two lines")
    elif case == "truncated_jpeg":
        p.write_bytes(data[: len(data) // 2])
    elif case == "truncated_png":
        p = tmp_path / "t.png"
        buf = io.BytesIO()
        Image.fromarray(astronaut).save(buf, "PNG")
        p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    elif case == "corrupt_jpeg":
        bad = bytearray(data)
        rng = np.random.default_rng(1)
        for i in rng.integers(600, len(bad) - 10, 400):
            bad[i] = 0xFF  # markers everywhere in the scan
        bad[2:40] = b"\x00" * 38  # and a broken header
        p.write_bytes(bytes(bad))
    elif case == "header_only":
        p.write_bytes(data[:200])
    elif case == "folder":
        p.mkdir()
    with pytest.raises(ImageReadError) as info:
        read_image(p)
    e = info.value
    assert e.path == str(p) and "\n" not in str(e) and e.reason
    assert str(p) in str(e)
    if kind:
        assert e.kind == kind, e


def test_pixel_limit_checked_before_decoding(tmp_path, monkeypatch):
    p = tmp_path / "huge.png"
    Image.new("RGB", (3000, 2000)).save(p)
    decoded = []
    real_load = Image.Image.load

    def spy(self, *a, **k):
        decoded.append(self.size)
        return real_load(self, *a, **k)

    monkeypatch.setattr(Image.Image, "load", spy)
    with pytest.raises(ImageReadError) as info:
        read_image(p, max_pixels=1_000_000)
    assert info.value.kind == "too_large" and "3000x2000" in info.value.reason
    assert decoded == []  # refused from the header
    assert read_image(p, max_pixels=None).shape == (2000, 3000, 3)


def test_pillow_decompression_bomb_is_a_read_error(tmp_path, monkeypatch):
    p = tmp_path / "bomb.png"
    Image.new("L", (200, 200)).save(p)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    # our limit is looser than Pillow's: Pillow's guard is lifted for this read
    assert read_image(p, max_pixels=10**6).shape == (200, 200, 3)
    # a limit at Pillow's level or below: refused by us from the header
    with pytest.raises(ImageReadError) as info:
        read_image(p, max_pixels=1000)
    assert info.value.kind == "too_large"
    assert Image.MAX_IMAGE_PIXELS == 1000  # restored


def test_error_pickles(tmp_path):
    import pickle

    e = ImageReadError(tmp_path / "x.jpg", "empty file (0 bytes)", "empty")
    f = pickle.loads(pickle.dumps(e))
    assert (f.path, f.reason, f.kind) == (e.path, e.reason, e.kind)


def test_write_is_atomic_and_deterministic(tmp_path, astronaut):
    for ext in (".jpg", ".png", ".webp", ".bmp", ".tif"):
        a, b = tmp_path / f"a{ext}", tmp_path / "sub"
        b.mkdir(exist_ok=True)
        b = b / f"b{ext}"
        write_image_atomic(a, astronaut, quality=90)
        write_image_atomic(b, astronaut, quality=90)
        assert a.read_bytes() == b.read_bytes(), ext
        assert read_image(a).shape == astronaut.shape
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left
    assert encode_image(astronaut, ".jpg", 50) != encode_image(astronaut, ".jpg", 95)


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    p = tmp_path / "t.txt"
    write_text_atomic(p, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(p, "w") as f:
            f.write("new, half written")
            raise RuntimeError("killed")
    assert p.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["t.txt"]
    with pytest.raises(ValueError):
        write_image_atomic(tmp_path / "x.jpg", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        write_image_atomic(tmp_path / "x.gif", np.zeros((4, 4, 3), np.uint8))
    assert os.listdir(tmp_path) == ["t.txt"]


def test_copy_atomic_links_and_survives_the_source_being_rewritten(tmp_path):
    last, best, copied = tmp_path / "last.pt", tmp_path / "best.pt", tmp_path / "copied.pt"
    write_text_atomic(last, "epoch 1\n")
    copy_atomic(last, best)
    copy_atomic(last, copied, link=False)
    assert os.stat(best).st_ino == os.stat(last).st_ino  # a link: no second copy on disk
    assert os.stat(copied).st_ino != os.stat(last).st_ino
    write_text_atomic(last, "epoch 2\n")  # the next epoch's checkpoint, written the only way maskgen writes
    assert best.read_text() == copied.read_text() == "epoch 1\n" and last.read_text() == "epoch 2\n"
    write_text_atomic(best, "old best\n")
    copy_atomic(last, best)  # replaces an existing target
    assert best.read_text() == "epoch 2\n"
    assert sorted(os.listdir(tmp_path)) == ["best.pt", "copied.pt", "last.pt"]  # no temp files left


def test_tmp_dir_option(tmp_path, astronaut):
    tmp = tmp_path / ".tmp"
    tmp.mkdir()
    write_image_atomic(tmp_path / "a.png", astronaut, tmp_dir=tmp)
    assert (tmp_path / "a.png").is_file() and os.listdir(tmp) == []

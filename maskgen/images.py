"""Robust image reading to RGB uint8, and image encoding.

:func:`read_image` turns whatever a photo folder holds into an ``(H, W, 3)`` RGB ``uint8``
array, or raises :class:`ImageReadError` with a one-line reason:

* EXIF orientation is applied, so the array is upright as a viewer shows it.
* Modes: ``1``, ``L``, ``P``, ``RGB``, ``CMYK`` (through its ICC profile when it has one),
  ``YCbCr``, ``LAB``, ``HSV`` convert to RGB. Images with transparency (``LA``, ``PA``,
  ``RGBA``, palette images with a transparent colour) are **composited on white**: a
  transparent background is usually a cut-out, and the colour values stored under fully
  transparent pixels are arbitrary (often black), so dropping alpha would expose garbage.
* Bit depths: 16-bit images keep their high byte (``value >> 8``, as Pillow does for 16-bit
  colour PNG and TIFF); 32-bit integer (``I``) images are read as 8-bit when their values fit
  in 0..255, as 16-bit when they fit in 0..65535, else stretched from min to max; float
  (``F``) images as 0..1 when they fit, 0..255 when they fit, else stretched.
* The pixel count is checked from the header, before any decoding (``max_pixels``).

:func:`encode_image` turns an array into the bytes of an image file (JPEG, PNG, WebP, BMP, TIFF), and
:func:`write_image_atomic` writes them through :mod:`maskgen.atomic` (a reader or a killed run
never sees a half-written file). The same array always gives the same bytes (no timestamps, no
metadata).
"""
from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from maskgen.atomic import write_bytes_atomic

SUPPORTED_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
DEFAULT_MAX_PIXELS = 50_000_000  # 50 megapixels

_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP",
            ".tif": "TIFF", ".tiff": "TIFF"}
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_pillow_limit_lock = threading.Lock()


class ImageReadError(Exception):
    """A file that cannot be read as an image.

    ``path`` is the file, ``reason`` a one-line explanation, ``kind`` a short code for
    summaries: ``not_found``, ``not_a_file``, ``empty``, ``not_image``, ``too_large``,
    ``truncated``, ``corrupt`` or ``io_error``.
    """

    def __init__(self, path, reason: str, kind: str = "corrupt"):
        self.path = str(path)
        self.reason = " ".join(str(reason).split())  # always one line
        self.kind = kind
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self):  # picklable across worker processes
        return (ImageReadError, (self.path, self.reason, self.kind))


def is_supported(path) -> bool:
    """Whether the file name has one of :data:`SUPPORTED_EXTENSIONS` (any case)."""
    return Path(path).suffix.lower() in SUPPORTED_EXTENSIONS


def _megapixels(n: int) -> str:
    return f"{n / 1e6:.1f} MP" if n >= 100_000 else f"{n:,} pixels"


def _open(path: Path, max_pixels: int | None) -> Image.Image:
    """Open (header only), with Pillow's decompression-bomb guard loosened when asked for more."""
    pillow_limit = Image.MAX_IMAGE_PIXELS
    need_more = pillow_limit is not None and (max_pixels is None or max_pixels > pillow_limit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if not need_more:
            return Image.open(path)
        with _pillow_limit_lock:
            saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None if max_pixels is None else max(max_pixels, saved)
            try:
                return Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = saved


def read_image(path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read any supported photo as an upright RGB ``uint8`` array of shape ``(H, W, 3)``.

    ``max_pixels`` (width × height, checked from the header before decoding; ``None`` for no
    limit) guards against huge or malicious files. Raises :class:`ImageReadError` with a
    one-line reason for missing, empty, truncated, corrupt, non-image or oversized files.
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageReadError(path, "file not found", "not_found") from None
    except OSError as e:
        raise ImageReadError(path, f"cannot access file ({e.strerror or e})", "io_error") from None
    if not path.is_file():
        raise ImageReadError(path, "not a regular file", "not_a_file")
    if st.st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)", "empty")
    try:
        im = _open(path, max_pixels)
    except Image.DecompressionBombError as e:
        raise ImageReadError(path, f"too many pixels ({e})", "too_large") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image (unrecognised or unsupported format)", "not_image") from None
    except PermissionError:
        raise ImageReadError(path, "cannot read file (permission denied)", "io_error") from None
    except Exception as e:  # plugins raise many types on garbage headers
        text = _describe(e)
        if "truncat" in text.lower() or isinstance(e, EOFError):
            raise ImageReadError(path, f"truncated image file ({text})", "truncated") from None
        raise ImageReadError(path, f"corrupt image header ({text})", "corrupt") from None
    with im:
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ImageReadError(path, f"invalid image size {w}x{h}", "corrupt")
        if max_pixels is not None and w * h > max_pixels:
            raise ImageReadError(
                path, f"too many pixels: {w}x{h} = {_megapixels(w * h)}, over the limit of "
                      f"{_megapixels(max_pixels)} (--max-pixels)", "too_large")
        try:
            im.load()
        except Exception as e:
            text = _describe(e)
            if "truncated" in text.lower() or isinstance(e, EOFError):
                raise ImageReadError(path, f"truncated image data ({text})", "truncated") from None
            raise ImageReadError(path, f"corrupt image data ({text})", "corrupt") from None
        try:
            rgb = _to_rgb(_upright(im))
        except ImageReadError:
            raise
        except Exception as e:
            raise ImageReadError(path, f"cannot convert image mode {im.mode} ({_describe(e)})", "corrupt") from None
    return rgb


def _describe(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return " ".join(text.split())


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag; a broken EXIF block is ignored (the pixels are fine)."""
    try:
        orientation = im.getexif().get(0x0112)
    except Exception:
        return im
    method = _ORIENTATION.get(orientation) if isinstance(orientation, int) else None
    return im.transpose(method) if method is not None else im


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    rgb = rgba[..., :3].astype(np.uint32)
    a = rgba[..., 3:4].astype(np.uint32)
    out = (rgb * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def _scale_wide(values: np.ndarray) -> np.ndarray:
    """8-bit grey values from a wide-range integer or float array (see the module notes)."""
    if values.dtype.kind == "f":
        v = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(v.min()), float(v.max())
        if lo >= 0 and hi <= 1:
            v = v * 255.0
        elif not (lo >= 0 and hi <= 255):
            v = (v - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(v)
        return np.clip(np.rint(v), 0, 255).astype(np.uint8)
    v = values.astype(np.int64)
    lo, hi = int(v.min()), int(v.max())
    if lo >= 0 and hi <= 255 and values.dtype.itemsize > 2:  # 32-bit ints holding 8-bit data
        return v.astype(np.uint8)
    if lo >= 0 and hi <= 65535:
        return (v >> 8).astype(np.uint8)
    if hi > lo:
        return ((v - lo) * 255 // (hi - lo)).astype(np.uint8)
    return np.zeros(v.shape, np.uint8)


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if icc:
        try:
            import io

            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.createProfile("sRGB")
            return ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
        except Exception:
            pass  # fall back to Pillow's plain conversion
    return im.convert("RGB")


def _to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode == "RGB":
        arr = np.asarray(im)
    elif mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info):
        arr = _composite_on_white(np.asarray(im.convert("RGBA")))
    elif mode == "CMYK":
        arr = np.asarray(_cmyk_to_rgb(im))
    elif mode in ("L", "1", "P", "RGBX", "YCbCr", "LAB", "HSV"):
        arr = np.asarray(im.convert("RGB"))
    elif mode.startswith("I") or mode == "F":
        grey = _scale_wide(np.asarray(im))
        arr = np.repeat(grey[..., None], 3, axis=2)
    else:
        arr = np.asarray(im.convert("RGB"))
    arr = np.asarray(arr)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageReadError(getattr(im, "filename", "") or "<image>",
                             f"unsupported pixel layout {arr.dtype} {arr.shape} (mode {mode})", "corrupt")
    return np.ascontiguousarray(arr)


# --------------------------------------------------------------------------- encoding


def encode_image(rgb: np.ndarray, fmt: str, quality: int = 95) -> bytes:
    """Encode an RGB (or grey) uint8 array; ``fmt`` is an extension (``.jpg``) or a Pillow format name."""
    import io

    arr = np.asarray(rgb)
    if arr.dtype != np.uint8 or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(f"expected an RGB uint8 array (H, W, 3), got {arr.dtype} {arr.shape}")
    key = fmt.lower() if fmt.startswith(".") else "." + fmt.lower()
    name = _FORMATS.get(key, fmt.upper())
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be 1..100, got {quality}")
    im = Image.fromarray(np.ascontiguousarray(arr))
    buf = io.BytesIO()
    if name == "JPEG":
        im.save(buf, "JPEG", quality=int(quality), subsampling="4:2:0", optimize=False, progressive=False)
    elif name == "PNG":
        im.save(buf, "PNG", compress_level=6, optimize=False)
    elif name == "WEBP":
        im.save(buf, "WEBP", quality=int(quality), method=4, lossless=False, exact=False)
    elif name in ("BMP", "TIFF"):
        im.save(buf, name)
    else:
        raise ValueError(f"unsupported output format {fmt!r}; use one of {', '.join(SUPPORTED_EXTENSIONS)}")
    return buf.getvalue()


def write_image_atomic(path, rgb: np.ndarray, quality: int = 95, tmp_dir=None, fsync: bool = True) -> Path:
    """Write an RGB uint8 array to ``path`` (format from the extension), atomically
    (:func:`maskgen.atomic.write_bytes_atomic`).

    ``quality`` applies to JPEG and WebP. The same array always gives the same bytes.
    """
    path = Path(path)
    return write_bytes_atomic(path, encode_image(rgb, path.suffix, quality), tmp_dir=tmp_dir, fsync=fsync)

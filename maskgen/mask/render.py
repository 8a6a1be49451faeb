"""Render: light the drawn mask like the face it sits on, then blend it in without a rim.

Lighting is measured on the photo itself, through the fitted mesh: skin brightness of the cheeks,
forehead and nose bridge gives the exposure and the light's side; the scene's average colour gives
the light's tint; the skin's fine-grain variation gives the noise to add. Grayscale photos get a
grayscale mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from maskgen.mask.colors import is_grey, linear_to_srgb, luminance, uint8_to_linear
from maskgen.mask.fit import FaceMesh

# canonical skin sample points below the eyes (foreheads are often hair, chins often beard):
# left cheek (2), right cheek (2), nose bridge, nose tip
_SAMPLES = np.array([[-0.62, 0.42], [-0.55, 0.78], [0.62, 0.42], [0.55, 0.78], [0.0, 0.15], [0.0, 0.5]])
_LEFT, _RIGHT, _UPPER, _LOWER = [0, 1], [2, 3], [0, 2, 4], [1, 3, 5]
AMBIENT = 0.3
GREY_TOLERANCE = 3  # channel spread (0..255) below which a photo counts as black and white
CAVITY_FINE, CAVITY_BROAD = 18.0, 6.0  # crease darkening per face unit of depth below the local average


@dataclass
class Lighting:
    exposure: float  # linear-light multiplier for albedo
    tint: np.ndarray  # (3,) light colour, mean 1
    direction: np.ndarray  # (3,) unit vector in the canonical frame, z toward the camera
    noise: float  # sensor noise sigma, 0..255 units
    blur: float  # optical blur sigma, pixels
    grayscale: bool
    plane: np.ndarray  # (3,) skin brightness a + b*x + c*y in image pixels, relative to the face centre

    def gradient(self, x0: int, y0: int, width: int, height: int) -> np.ndarray:
        """Multiplier carrying the photo's smooth light fall-off across the face onto the mask."""
        xs = np.arange(x0, x0 + width, dtype=np.float32)[None, :]
        ys = np.arange(y0, y0 + height, dtype=np.float32)[:, None]
        return np.clip(self.plane[0] + self.plane[1] * xs + self.plane[2] * ys, 0.45, 1.7).astype(np.float32)


def _patch_mean(lin: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray | None:
    h, w = lin.shape[:2]
    x, y = centre
    r = max(1, int(radius))
    x0, x1 = int(max(x - r, 0)), int(min(x + r + 1, w))
    y0, y1 = int(max(y - r, 0)), int(min(y + r + 1, h))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return np.median(lin[y0:y1, x0:x1].reshape(-1, 3), axis=0)


def measure_lighting(image: np.ndarray, mesh: FaceMesh) -> Lighting:
    """Lighting of one face, measured on the photo around it."""
    h, w = image.shape[:2]
    scale = mesh.scale
    pts = mesh.to_image(_SAMPLES)
    # work on the region around the face only
    cx, cy = mesh.to_image(np.array([[0.0, 0.7]]))[0]
    r = 2.2 * scale
    x0, x1 = int(max(cx - r, 0)), int(min(cx + r, w))
    y0, y1 = int(max(cy - r, 0)), int(min(cy + r, h))
    if x1 <= x0 or y1 <= y0:
        x0, y0, x1, y1 = 0, 0, w, h
    lin = uint8_to_linear(image[y0:y1, x0:x1])
    samples = [_patch_mean(lin, p - [x0, y0], 0.09 * scale) for p in pts]
    lum = np.array([float(luminance(s)) if s is not None else np.nan for s in samples])
    skin = float(np.nanmedian(lum)) if np.isfinite(lum).any() else 0.2
    # drop samples that are not skin-like in brightness (hair, glasses, beard, specular spots)
    lum[(lum < 0.5 * skin) | (lum > 1.8 * skin)] = np.nan
    # the region around the face gives the scene's highlights and tint
    region = lin.reshape(-1, 3)
    region = region[:: max(1, len(region) // 20000)]
    bright = float(np.percentile(luminance(region), 98))
    exposure = max(skin / 0.42, min(bright / 0.85, skin / 0.13))
    # a white mask is never much brighter than the brightest things around the face
    exposure = float(np.clip(min(exposure, 1.1 * bright / 0.85), 0.03, 2.0))
    mean = region.mean(axis=0) + 1e-4
    tint = np.clip((mean / mean.mean()) ** 0.35, 0.8, 1.25).astype(np.float32)
    def mean(idx):
        v = lum[idx]
        return float(np.nanmean(v)) if np.isfinite(v).any() else np.nan

    left, right, upper, lower = mean(_LEFT), mean(_RIGHT), mean(_UPPER), mean(_LOWER)
    lx = 0.0 if not np.isfinite(left + right) else (right - left) / (right + left + 1e-4)
    # most photos are lit from a little above; nudge that by the measured upper/lower balance
    ly = -0.25 - (0.0 if not np.isfinite(upper + lower) else (upper - lower) / (upper + lower + 1e-4))
    # undo the face's roll so the direction is in the canonical frame
    c, s = np.cos(-mesh.roll), np.sin(-mesh.roll)
    lx, ly = c * lx - s * ly, s * lx + c * ly
    direction = np.array([np.clip(1.0 * lx, -1.0, 1.0), np.clip(1.0 * ly, -0.6, 0.6), 1.0], np.float32)
    direction /= np.linalg.norm(direction)
    noise = _noise_sigma(image, mesh)
    blur = _optical_blur(image, mesh)
    return Lighting(exposure, tint, direction, noise, blur, is_grey(image, GREY_TOLERANCE),
                    _plane(pts, lum, mesh))


def _plane(points: np.ndarray, lum: np.ndarray, mesh: FaceMesh) -> np.ndarray:
    """Least-squares plane through the skin samples, 1 at the face centre (flat if unsure).

    The fall-off is limited (sideways 40%, downward 15% per face unit, in the face's own frame), so a bad
    sample or the nose's highlight cannot paint a mask black.
    """
    ok = np.isfinite(lum)
    if ok.sum() < 4 or not (ok[_LEFT].any() and ok[_RIGHT].any()):
        return np.array([1.0, 0.0, 0.0])
    a = np.hstack([np.ones((ok.sum(), 1)), points[ok]])
    coef, *_ = np.linalg.lstsq(a, lum[ok], rcond=None)
    cx, cy = mesh.to_image(np.array([[0.0, 0.6]]))[0]
    centre = coef[0] + coef[1] * cx + coef[2] * cy
    if centre <= 1e-4:
        return np.array([1.0, 0.0, 0.0])
    coef = coef / centre
    # gradient per face unit along the face's own axes
    grad = mesh.linear.T @ coef[1:]
    grad = np.array([np.clip(grad[0], -0.4, 0.4), np.clip(grad[1], -0.15, 0.15)])
    coef[1:] = np.linalg.solve(mesh.linear.T, grad)
    coef[0] = 1.0 - coef[1] * cx - coef[2] * cy
    return coef


def _noise_sigma(image: np.ndarray, mesh: FaceMesh) -> float:
    """Fine-grain variation of the skin (sensor noise plus skin texture), 0..255 units."""
    h, w = image.shape[:2]
    r = int(max(3, 0.15 * mesh.scale))
    sigmas = []
    for x, y in mesh.to_image(np.array([[-0.6, 0.45], [0.6, 0.45], [0.0, -0.5]])):
        x0, x1 = int(max(x - r, 0)), int(min(x + r, w))
        y0, y1 = int(max(y - r, 0)), int(min(y + r, h))
        if x1 - x0 < 5 or y1 - y0 < 5:
            continue
        gray = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
        high = gray - cv2.GaussianBlur(gray, (0, 0), 1.0)
        sigmas.append(1.4826 * np.median(np.abs(high)) * 1.3)
    if not sigmas:
        return 2.0
    return float(np.clip(min(sigmas), 0.5, 8.0))


def _blur_units(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur of a raster layer; wide blurs run on a quarter-size copy."""
    if sigma_px <= 6:
        return cv2.GaussianBlur(img, (0, 0), max(sigma_px, 0.5))
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(2, w // 4), max(2, h // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_px / 4)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def cavity(relief: np.ndarray, px_per_unit: float) -> np.ndarray:
    """Darkening of creases and hollows: the sky a fold hides from the bottom of its crease.

    Measured as how far the surface lies below its own local average, at a fold's scale (0.03 face
    units) and at a wrinkle's (0.12).
    """
    fine = _blur_units(relief, 0.03 * px_per_unit) - relief
    broad = _blur_units(relief, 0.12 * px_per_unit) - relief
    return np.exp(-CAVITY_FINE * np.maximum(fine, 0) - CAVITY_BROAD * np.maximum(broad, 0)).astype(np.float32)


def _optical_blur(image: np.ndarray, mesh: FaceMesh) -> float:
    """Blur of the photo around the eyes and brows, as a gaussian sigma in pixels.

    Strong edges (lids, brows, iris) are re-blurred by a known sigma: the drop of their gradient
    tells how blurred they were (a step edge blurred by s keeps ``s / sqrt(s^2 + r^2)`` of its slope).
    The mask is then blurred as much, so it is never sharper than the skin around it.
    """
    h, w = image.shape[:2]
    corners = mesh.to_image(np.array([[-1.0, -0.55], [1.0, -0.55], [1.0, 0.35], [-1.0, 0.35]]))
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int), [w, h])
    if x1 - x0 < 12 or y1 - y0 < 8:
        return 0.6
    gray = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    reblur = 1.2

    def slope(img):
        return np.hypot(cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3))

    g = slope(cv2.GaussianBlur(gray, (0, 0), 0.5))
    g2 = slope(cv2.GaussianBlur(gray, (0, 0), float(np.hypot(0.5, reblur))))
    strong = g > max(np.percentile(g, 96), 20.0)
    if strong.sum() < 12:
        return 0.6
    ratio = np.clip(g[strong] / np.maximum(g2[strong], 1e-3), 1.02, 10)
    sigma = float(np.median(reblur / np.sqrt(ratio ** 2 - 1)))
    # the warp and the raster blur the mask a little already
    return float(np.clip(np.sqrt(max(sigma ** 2 - 0.3 ** 2, 0.0)), 0.4, 4.0))


def shade(albedo: np.ndarray, relief: np.ndarray, occlusion: np.ndarray, gloss: np.ndarray,
          px_per_unit: float, lighting: Lighting, metal: np.ndarray | None = None) -> np.ndarray:
    """Lit linear RGB of a canonical-frame mask drawing.

    Diffuse light from the surface normals of ``relief`` (face units), darkened in creases
    (:func:`cavity`) and by ``occlusion`` (stitches, seams); a broad sheen and a sharp glint scaled by
    ``gloss``; where ``metal`` is set the glint takes the albedo's colour and the diffuse part fades.
    """
    zx = cv2.Sobel(relief, cv2.CV_32F, 1, 0, ksize=3) / 8.0 * px_per_unit
    zy = cv2.Sobel(relief, cv2.CV_32F, 0, 1, ksize=3) / 8.0 * px_per_unit
    norm = np.sqrt(zx * zx + zy * zy + 1.0)
    l = lighting.direction
    ndotl = np.clip((-zx * l[0] - zy * l[1] + l[2]) / norm, 0, 1)
    ao = cavity(relief, px_per_unit)
    diffuse = (AMBIENT * ao + (1 - AMBIENT) * ndotl * np.sqrt(ao)) / (AMBIENT + (1 - AMBIENT) * l[2])
    half = l + np.array([0, 0, 1], np.float32)
    half /= np.linalg.norm(half)
    ndoth = np.clip((-zx * half[0] - zy * half[1] + half[2]) / norm, 0, 1)
    spec = (gloss * (0.25 * ndoth ** 6 + ndoth ** 40) * ao)[..., None]
    if metal is None:
        lit = albedo * (diffuse * occlusion)[..., None] + spec * 0.6
    else:
        m = metal[..., None]
        tint = albedo / np.maximum(albedo.max(axis=2, keepdims=True), 1e-3)
        lit = albedo * ((1 - 0.7 * m) * (diffuse * occlusion)[..., None]) + spec * (0.6 * (1 - m) + 2.2 * m * tint)
    lit = highlight_rolloff(lit * lighting.exposure * lighting.tint)
    if lighting.grayscale:
        lit = np.repeat(luminance(lit)[..., None], 3, axis=2)
    return lit.astype(np.float32)


def highlight_rolloff(lit: np.ndarray, knee: float = 0.7) -> np.ndarray:
    """Compress linear values above ``knee`` smoothly toward 1, as a camera's tone curve does."""
    over = np.maximum(lit - knee, 0)
    return np.where(lit > knee, knee + (1 - knee) * (1 - np.exp(-over / (1 - knee))), lit).astype(np.float32)


def composite(image: np.ndarray, x0: int, y0: int, alpha: np.ndarray, lit_linear: np.ndarray,
              lighting: Lighting, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Blend a warped, lit mask into ``image`` in place; returns the image-sized alpha actually used."""
    h, w = alpha.shape
    roi = image[y0:y0 + h, x0:x0 + w].astype(np.float32)
    a = np.clip(alpha, 0, 1)
    # soft edge: a touch of blur on the alpha, and the colour blurred like the photo's optics
    a = cv2.GaussianBlur(a, (0, 0), 0.5)
    prem = cv2.GaussianBlur(lit_linear * alpha[..., None], (0, 0), lighting.blur)
    weight = cv2.GaussianBlur(alpha, (0, 0), lighting.blur)[..., None]
    colour = prem / np.maximum(weight, 1e-4)
    colour *= lighting.gradient(x0, y0, w, h)[..., None]
    # edges curve away from the light: darken just inside the outline
    inner = np.clip(cv2.GaussianBlur(alpha, (0, 0), max(0.8, 0.025 * scale)) * 2 - 1, 0, 1)
    colour *= (0.8 + 0.2 * inner)[..., None]
    rgb = linear_to_srgb(colour) * 255.0
    if lighting.noise > 0:
        grain = rng.normal(0.0, lighting.noise, size=rgb.shape[:2]).astype(np.float32)
        rgb += grain[..., None] if lighting.grayscale else (
            grain[..., None] * 0.8 + rng.normal(0.0, lighting.noise * 0.35, size=rgb.shape).astype(np.float32))
    # contact shadow cast on the skin just outside the mask, falling mostly below it
    sigma = max(1.0, 0.035 * scale)
    drop = np.float32([[1, 0, 0], [0, 1, 1.2 * sigma]])
    spread = cv2.GaussianBlur(cv2.warpAffine(alpha, drop, (w, h)), (0, 0), sigma)
    roi = roi * (1 - 0.4 * np.clip(spread, 0, 1))[..., None]
    out = roi * (1 - a[..., None]) + rgb * a[..., None]
    image[y0:y0 + h, x0:x0 + w] = np.clip(np.round(out), 0, 255).astype(np.uint8)
    full = np.zeros(image.shape[:2], np.float32)
    full[y0:y0 + h, x0:x0 + w] = a
    return full

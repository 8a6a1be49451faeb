"""Realism on real photos: prints and surfaces of every type, the photo's sharpness and noise on the
mask, colour variety, and the capture / occlusion augmenters (labels stay with the pixels)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import maskgen
from maskgen import augment as A
from maskgen.mask.catalog import BUILT_IN, get_mask_type
from maskgen.mask.sampling import sample_color
from maskgen.mask.textures import PRINTS, SURFACES
from maskgen.verify.coverage import coverage


@pytest.fixture(scope="module")
def face(astronaut):
    return maskgen.find_faces(astronaut)[0]


@pytest.fixture(scope="module")
def big_astronaut(astronaut):
    """The astronaut's head at twice the size (eye distance about 88 px) and her face."""
    image = cv2.resize(astronaut[0:300, 100:400], (600, 600), interpolation=cv2.INTER_CUBIC)
    return image, maskgen.find_faces(image)[0]


def masked(image, face, seed=0, **options):
    result = maskgen.mask_face(image, face, maskgen.MaskOptions(**options), seed=seed)
    assert result.faces, f"nothing masked for {options}"
    return result


def alpha_coverage(alpha: np.ndarray, landmarks: np.ndarray) -> dict[str, float]:
    """Share of each face region under the mask (alpha above 0.2: a clear window counts), eyes the larger
    of the two."""
    from maskgen.detect.landmarks import region_polygons
    from maskgen.verify.coverage import polygon_fraction

    out = {k: polygon_fraction(alpha > 0.2, p) for k, p in region_polygons(landmarks).items()}
    out["eyes"] = max(out.pop("right_eye"), out.pop("left_eye"))
    return out


def region_lum(result) -> np.ndarray:
    lum = cv2.cvtColor(result.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return lum[result.faces[0].alpha > 0.95]


# ----------------------------------------------------------------------------- prints and surfaces

@pytest.mark.parametrize("texture", PRINTS)
def test_every_print_on_a_real_face(astronaut, face, texture):
    plain = masked(astronaut, face, mask_type="cloth", color="#d9c7a8", texture="none")
    printed = masked(astronaut, face, mask_type="cloth", color="#d9c7a8", texture=texture)
    c = coverage(astronaut, printed.image, face.landmarks)
    assert c["nose"] >= 0.95 and c["mouth"] >= 0.95 and c["eyes"] < 0.02, (texture, c)
    assert printed.faces[0].attributes.texture == texture
    # a print shows: with the same seed the surface and lighting are the same, so what differs well beyond
    # the grain is the print (a respirator's stamp is small, faint print)
    inside = printed.faces[0].alpha > 0.95
    differs = np.abs(printed.image.astype(int) - plain.image.astype(int)).max(axis=2) > 25
    assert differs[inside].sum() > (8 if texture == "stamp" else 0.003 * inside.sum()), (texture, differs[inside].sum())


@pytest.mark.parametrize("texture", SURFACES)
def test_sequins_and_lame_glint(astronaut, face, texture):
    r = masked(astronaut, face, mask_type="sequin", color="gold", texture=texture)
    lum = region_lum(r)
    assert np.percentile(lum, 99) - np.percentile(lum, 50) > 25  # glints stand out of the metal


def test_user_image_as_tiled_print_and_as_decal(astronaut, face, tmp_path):
    from PIL import Image
    from skimage import data

    path = tmp_path / "cat.png"
    Image.fromarray(data.chelsea()).save(path)
    for texture in (str(path), f"decal:{path}"):
        r = masked(astronaut, face, mask_type="cloth", color="white", texture=texture)
        assert r.faces[0].attributes.texture == texture
        assert coverage(astronaut, r.image, face.landmarks)["mouth"] >= 0.95
        assert r.image[r.faces[0].alpha > 0.95].std() > 15
    with pytest.raises(ValueError, match="decal:FILE"):
        masked(astronaut, face, texture=f"decal:{tmp_path / 'missing.png'}")


def test_pleats_are_folds_of_the_surface(astronaut, face):
    """Down the middle of a plain surgical mask the light dips at each of the three pleats."""
    r = masked(astronaut, face, mask_type="surgical", color="lightblue", wear="correct", shape_jitter=0)
    lum = cv2.cvtColor(r.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    x = int(face.landmarks[33, 0])
    column = lum[:, x - 2:x + 3].mean(axis=1)
    inside = np.nonzero(r.faces[0].alpha[:, x] > 0.97)[0]
    profile = column[inside[0]:inside[-1]]
    dips = [i for i in range(2, len(profile) - 2)
            if profile[i] == profile[i - 2:i + 3].min() and profile[max(i - 8, 0):i + 9].max() - profile[i] > 6]
    assert len(dips) >= 3, profile.round().tolist()


def test_mask_turns_away_under_the_chin(astronaut, face):
    """A plain white mask is darker where it turns under the chin than over the mouth."""
    r = masked(astronaut, face, mask_type="cloth", color="white", texture="none", shape_jitter=0)
    lum = cv2.cvtColor(r.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lm = face.landmarks
    mouth = lum[int(lm[51, 1]):int(lm[57, 1]), int(lm[48, 0]):int(lm[54, 0])].mean()
    under = lum[int(lm[8, 1]) + 2:int(lm[8, 1]) + 8, int(lm[7, 0]):int(lm[9, 0])]
    under = under[r.faces[0].alpha[int(lm[8, 1]) + 2:int(lm[8, 1]) + 8, int(lm[7, 0]):int(lm[9, 0])] > 0.95]
    assert under.size and under.mean() < mouth - 8


def cords_and_body(alpha: np.ndarray, iod: float) -> tuple[np.ndarray, np.ndarray]:
    """The thin parts of a drawn mask (loops, straps) and its body, split by a morphological opening."""
    drawn = (alpha > 0.5).astype(np.uint8)
    k = max(3, int(0.15 * iod) | 1)
    body = cv2.morphologyEx(drawn, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    return drawn & (1 - body), body


@pytest.mark.parametrize("mask_type", ["surgical", "kn95", "kf94", "cloth", "n95"])
def test_ear_loops_and_straps_run_to_the_ears_and_stop_at_the_head(big_astronaut, mask_type):
    """Loops and straps are drawn beside the mask up to the ear (they were once cut off at the box of the
    mask's outline), and no farther out than the side of the head: never into the background."""
    image, face = big_astronaut
    r = masked(image, face, mask_type=mask_type, color="white", shape_jitter=0)
    alpha, lm = r.faces[0].alpha, face.landmarks
    iod = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
    thin, body = cords_and_body(alpha, iod)  # cords, not the mask's body
    cx = lm[27:31, 0].mean()
    body_cols = np.nonzero(body.any(axis=0))[0]
    for sign, jaw_x in ((-1, lm[0:4, 0].min()), (1, lm[13:17, 0].max())):
        side = thin[:, :int(cx)] if sign < 0 else thin[:, int(cx):]
        assert side.sum() >= 0.5 * iod, (mask_type, sign, int(side.sum()))  # a loop or strap on each side
        reach = int(body_cols.min() - 0.06 * iod) if sign < 0 else int(body_cols.max() + 0.06 * iod)
        beyond = thin[:, :reach] if sign < 0 else thin[:, reach:]
        assert beyond.any(), (mask_type, sign)  # the cord goes on past the mask's side towards the ear
        out = int(jaw_x + sign * 0.5 * iod)
        far = alpha[:, :out] if sign < 0 else alpha[:, out:]
        assert (far > 0.1).sum() == 0, (mask_type, sign)  # nothing beyond the ear


@pytest.mark.parametrize("wear", ["nose", "chin"])
@pytest.mark.parametrize("mask_type", ["surgical", "kf94", "cloth"])
def test_loops_of_a_mask_worn_low_still_run_up_to_the_ears(big_astronaut, mask_type, wear):
    """Under the nose or pulled down to the chin, a mask's loops stay hooked on the ears: on each side a
    cord rises from the mask past the mouth to the level of the nose, measured against dlib's landmarks
    (they once ended as stubs moved down with the mask), and none goes beyond the ear."""
    image, face = big_astronaut
    r = masked(image, face, mask_type=mask_type, color="white", shape_jitter=0, wear=wear)
    alpha, lm = r.faces[0].alpha, face.landmarks
    iod = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
    thin, _ = cords_and_body(alpha, iod)
    cx, nose_y = lm[27:31, 0].mean(), lm[30, 1]
    for sign, jaw_x in ((-1, lm[0:4, 0].min()), (1, lm[13:17, 0].max())):
        side = thin[:, :int(cx)] if sign < 0 else thin[:, int(cx):]
        rows = np.flatnonzero(side.any(axis=1))
        assert rows.size and rows.min() <= nose_y, (mask_type, wear, sign, rows.min() if rows.size else None)
        out = int(jaw_x + sign * 0.5 * iod)
        far = alpha[:, :out] if sign < 0 else alpha[:, out:]
        assert (far > 0.1).sum() == 0, (mask_type, wear, sign)


def test_mask_is_as_sharp_and_as_noisy_as_the_photo(astronaut, face):
    """On a blurred photo the mask's own detail is blurred too; on a noisy photo it is noisy too."""
    def detail(result):
        lum = cv2.cvtColor(result.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        high = lum - cv2.GaussianBlur(lum, (0, 0), 2.0)
        inner = cv2.erode((result.faces[0].alpha > 0.95).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        return float(np.abs(high[inner]).mean())

    opts = dict(mask_type="surgical", color="lightblue")
    sharp = detail(masked(astronaut, face, **opts))
    blurred = detail(masked(cv2.GaussianBlur(astronaut, (0, 0), 2.5), face, **opts))
    noise = np.random.default_rng(0).normal(0, 10, astronaut.shape)
    noisy = detail(masked(np.clip(astronaut + noise, 0, 255).astype(np.uint8), face, **opts))
    assert blurred < 0.7 * sharp < 0.7 * noisy, (sharp, blurred, noisy)


def test_colours_span_the_gamut_with_real_weights():
    rng = np.random.default_rng(0)
    hues, light_surgical = set(), 0
    for _ in range(400):
        hexa, _ = sample_color(None, get_mask_type("cloth"), rng)
        r, g, b = (int(hexa[i:i + 2], 16) for i in (1, 3, 5))
        hsv = cv2.cvtColor(np.uint8([[[r, g, b]]]), cv2.COLOR_RGB2HSV)[0, 0]
        if hsv[1] > 60 and hsv[2] > 60:
            hues.add(int(hsv[0]) // 15)  # twelve hue sectors
    for _ in range(400):
        _, name = sample_color(None, get_mask_type("surgical"), rng)
        light_surgical += name in ("light blue", "pale blue", "white", "surgical green")
    assert len(hues) >= 10
    assert light_surgical > 0.6 * 400
    assert all(t.tail < 0.5 for t in BUILT_IN.values())


@pytest.mark.parametrize("mask_type", ["scarf", "hosiery", "window", "sequin"])
def test_new_types_on_real_portraits(shared_data, mask_type):
    """The new types on real portraits: nose, mouth and chin covered, eyes free."""
    files = sorted((shared_data / "unmasked_faces").iterdir())[::20]
    for path in files:
        image = maskgen.read_image(path)
        faces = [f for f in maskgen.find_faces(image) if not f.rejected]
        if not faces:
            continue
        r = maskgen.mask_face(image, faces[0], maskgen.MaskOptions(mask_type=mask_type), seed=1)
        c = alpha_coverage(r.faces[0].alpha, faces[0].landmarks)  # a skin-tone mask changes few pixels
        assert c["nose"] >= 0.95 and c["mouth"] >= 0.95 and c["chin"] >= 0.95 and c["eyes"] < 0.02, (path.name, c)


# ----------------------------------------------------------------------------- capture and occlusion

def forced(**ops) -> dict:
    return {**ops, "p": {op: 1.0 for op in ops if op != "flip"}}


@pytest.fixture(scope="module")
def real(astronaut, face):
    """The astronaut, masked, with her landmarks, box and the mask's alpha."""
    r = masked(astronaut, face, mask_type="surgical")
    return r.image, face.landmarks, face.box, r.faces[0].alpha


@pytest.mark.parametrize("op, value", [("hand", [1.0, 1.0]), ("hair", [20, 20])])
def test_occluders_cover_the_face_not_the_labels(real, op, value):
    image, lm, box, alpha = real
    for seed in range(4):
        res = A.augment(image, [lm], [box], [alpha], forced(**{op: value}), np.random.default_rng(seed))
        assert res.applied == [f"{op}({'size=1' if op == 'hand' else 'strands=20'})"]
        assert np.array_equal(res.landmarks[0], lm) and np.array_equal(res.boxes[0], box)
        changed = np.abs(res.image.astype(int) - image.astype(int)).max(axis=2) > 12
        assert changed.sum() > (0.02 if op == "hand" else 0.002) * (box[2] - box[0]) * (box[3] - box[1])
        ys, xs = np.nonzero(changed)
        assert np.median(ys) > lm[27, 1]  # over the lower face, not the forehead
        # what covers the mask leaves its alpha; the rest of the alpha is untouched
        covered = changed & (alpha > 0.9)
        if covered.any():
            assert res.alphas[0][covered].mean() < 0.7
        same = (res.image == image).all(axis=2)
        assert np.allclose(res.alphas[0][same], alpha[same], atol=0.02)  # a faint edge may round away


def test_beard_grows_on_the_jaw_never_on_lips_nose_or_eyes(astronaut, face):
    lm, box = face.landmarks, face.box
    lum = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32)  # noqa: E731
    from maskgen.detect.landmarks import region_polygons
    from maskgen.verify.coverage import polygon_fraction
    regions = region_polygons(lm)
    inner_lips = lm[60:68] + (lm[60:68].mean(0) - lm[60:68]) * 0.3
    styles = set()
    for seed in range(12):
        res = A.augment(astronaut, [lm], [box], None, forced(beard=[0.9, 0.9]), np.random.default_rng(seed))
        assert res.applied == ["beard(density=0.9)"]
        assert np.array_equal(res.landmarks[0], lm) and res.alphas == []
        darker = lum(astronaut) - lum(res.image) > 12
        assert darker.sum() > 0.004 * (box[2] - box[0]) * (box[3] - box[1]), seed
        ys = np.nonzero(darker)[0]
        assert ys.min() > lm[36:48, 1].max(), seed  # nothing as high as the eyes
        for region in ("right_eye", "left_eye", "nose"):
            assert polygon_fraction(darker, regions[region]) < 0.02, (seed, region)
        assert polygon_fraction(darker, inner_lips) < 0.05, seed
        chin = darker[int(lm[57, 1]):int(lm[8, 1]) + 1, int(lm[7, 0]):int(lm[9, 0]) + 1]
        styles.add("chin" if chin.mean() > 0.2 else "upper lip only")
    assert styles == {"chin", "upper lip only"}  # beards and goatees; moustaches


def test_beard_grows_behind_the_mask(real):
    image, lm, box, alpha = real
    grown = 0
    for seed in range(8):
        res = A.augment(image, [lm], [box], [alpha], forced(beard=[1.0, 1.0]), np.random.default_rng(seed))
        assert np.array_equal(res.alphas[0], alpha)  # the mask is in front: its alpha stays whole
        under = alpha > 0.995
        assert np.abs(res.image[under].astype(int) - image[under].astype(int)).max() <= 1, seed
        grown += int((np.abs(res.image.astype(int) - image.astype(int)).max(axis=2) > 12).sum())
    assert grown > 0  # around the mask's edges, where the jaw shows


def test_collar_stays_under_the_jaw_and_behind_the_mask(astronaut, face, real):
    """Clothing at the neck (a turtleneck, a scarf or an open collar), measured against dlib's landmarks:
    it changes pixels under the chin, never on the face above the jaw line; its colour differs between
    draws; on a masked face the mask lies over it (alpha and masked pixels unchanged)."""
    from maskgen.verify.coverage import polygon_fraction
    lm, box = face.landmarks, face.box
    face_poly = np.vstack([lm[0:17], lm[26:16:-1]])  # jaw line and brows: the face
    colours = []
    for seed in range(8):
        res = A.augment(astronaut, [lm], [box], None, forced(collar=[1.0, 1.0]), np.random.default_rng(seed))
        assert res.applied == ["collar(height=1)"] and np.array_equal(res.landmarks[0], lm)
        changed = np.abs(res.image.astype(int) - astronaut.astype(int)).max(axis=2) > 12
        assert polygon_fraction(changed, face_poly) < 0.01, seed
        under_chin = changed[int(lm[8, 1]) + 8:int(lm[8, 1]) + 40, int(lm[6, 0]):int(lm[10, 0])]
        assert under_chin.mean() > 0.5, seed
        colours.append(res.image[int(lm[8, 1]) + 30, int(lm[8, 0])].astype(int))
    assert np.ptp(np.array(colours), axis=0).max() > 40
    image, lm, box, alpha = real
    for seed in range(4):
        res = A.augment(image, [lm], [box], [alpha], forced(collar=[1.0, 1.0]), np.random.default_rng(seed))
        assert np.array_equal(res.alphas[0], alpha)
        under = alpha > 0.995
        assert np.abs(res.image[under].astype(int) - image[under].astype(int)).max() <= 1, seed


def test_hand_takes_the_skin_colour(real):
    image, lm, box, alpha = real
    res = A.augment(image, [lm], [box], [alpha], forced(hand=[1.0, 1.0]), np.random.default_rng(1))
    drawn = alpha - res.alphas[0] > 0.5
    skin = image[int(lm[27, 1]) - 3:int(lm[27, 1]) + 3, int(lm[27, 0]) - 3:int(lm[27, 0]) + 3].reshape(-1, 3)
    hand = res.image[drawn].astype(float).mean(axis=0)
    assert np.abs(hand - np.median(skin, axis=0)).max() < 60 and hand[0] > hand[2]


def test_face_crop_zooms_labels_and_alphas_together(real):
    image, lm, box, alpha = real
    res = A.augment(image, [lm], [box], [alpha], forced(face_crop=[1.2, 1.2]), np.random.default_rng(3))
    assert res.applied[0].startswith("face_crop(side=1.2")
    h, w = image.shape[:2]
    kept = ((res.landmarks[0] > 0) & (res.landmarks[0] < [w - 1, h - 1])).all(axis=1)  # not clipped at the frame
    m, *_ = np.linalg.lstsq(np.hstack([lm[kept], np.ones((kept.sum(), 1))]), res.landmarks[0][kept], rcond=None)
    zoom = m[0, 0]
    assert zoom > 1.5 and abs(m[1, 1] - zoom) < 1e-4 and abs(m[0, 1]) < 1e-4 and abs(m[1, 0]) < 1e-4
    expected = cv2.warpAffine(image, m.T, image.shape[1::-1], flags=cv2.INTER_LINEAR)
    for i in (30, 36, 45):
        x, y = np.round(res.landmarks[0][i]).astype(int)
        assert np.abs(expected[y - 2:y + 3, x - 2:x + 3].astype(int) - res.image[y - 2:y + 3, x - 2:x + 3]).mean() < 3
    assert (res.boxes[0][3] - res.boxes[0][1]) > 0.6 * h  # the face fills the frame
    yy, xx = np.mgrid[0:h, 0:image.shape[1]]
    c_src = np.array([(alpha * xx).sum(), (alpha * yy).sum()]) / alpha.sum()
    out = res.alphas[0]
    c_out = np.array([(out * xx).sum(), (out * yy).sum()]) / out.sum()
    inside = (out > 0).mean() < 0.999
    assert not inside or np.hypot(*(m.T[:, :2] @ c_src + m.T[:, 2] - c_out)) < 0.02 * h


@pytest.mark.parametrize("op, value", [("lowres", [24, 24]), ("beauty", [0.9, 0.9]), ("blur", [1.5, 1.5])])
def test_capture_ops_remove_detail(real, op, value):
    image, lm, box, alpha = real
    res = A.augment(image, [lm], [box], [alpha], forced(**{op: value}), np.random.default_rng(0))
    assert res.applied and res.applied[0].startswith(op + "(")
    assert np.array_equal(res.landmarks[0], lm) and np.array_equal(res.alphas[0], alpha)
    x0, y0, x1, y1 = box.astype(int)

    def detail(img):
        g = cv2.cvtColor(img[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
        return np.abs(g - cv2.GaussianBlur(g, (0, 0), 1.5)).mean()

    assert detail(res.image) < (0.85 if op == "beauty" else 0.75) * detail(image)


def test_colour_cast_tints_colour_photos_only(real):
    image, lm, box, alpha = real
    res = A.augment(image, [lm], [box], [alpha], forced(cast=[0.4, 0.4]), np.random.default_rng(0))
    assert res.applied[0].startswith("cast(0.4,angle=")
    shift = res.image.reshape(-1, 3).mean(0) - image.reshape(-1, 3).mean(0)
    assert np.abs(shift).max() > 5
    grey = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    res = A.augment(grey, [lm], [box], [alpha], forced(cast=[0.4, 0.4], hand=[1, 1], hair=[10, 10]),
                    np.random.default_rng(0))
    assert not any(a.startswith("cast") for a in res.applied)
    assert np.array_equal(res.image[..., 0], res.image[..., 1]) and np.array_equal(res.image[..., 1], res.image[..., 2])


@pytest.mark.parametrize("tone", [0.0, 0.3])
def test_mono_makes_a_black_and_white_photo(real, tone):
    """Real photo sets hold black-and-white portraits (18 of the 900 unmasked faces of real_dev, every one
    of them called masked by a model that never saw one): ``mono`` makes them, grey or toned warm."""
    image, lm, box, alpha = real
    res = A.augment(image, [lm], [box], [alpha], forced(mono=[tone, tone]), np.random.default_rng(0))
    assert res.applied == [f"mono(tone={tone:g})"]
    assert np.array_equal(res.landmarks[0], lm) and np.array_equal(res.alphas[0], alpha)
    out = res.image.astype(int)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(int)
    if tone == 0:
        assert (out == grey[..., None]).all()
    else:
        assert (out[..., 0] >= out[..., 1]).all() and (out[..., 1] >= out[..., 2]).all()
        assert np.abs(out[..., 1] - grey).max() <= 1 and (out[..., 0] - out[..., 2]).mean() > 5
    saturation = cv2.cvtColor(res.image, cv2.COLOR_RGB2HSV)[..., 1].mean()
    assert saturation < (1 if tone == 0 else 0.6 * cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[..., 1].mean())


def test_realistic_preset_on_masked_and_unmasked_alike(astronaut, real):
    """The same seed gives the same capture and occlusion draws to a masked and an unmasked image."""
    image, lm, box, alpha = real
    seen = set()
    for seed in range(60):
        a = A.augment(image, [lm], [box], [alpha], "realistic", np.random.default_rng(seed))
        b = A.augment(astronaut, [lm], [box], None, "realistic", np.random.default_rng(seed))
        assert a.applied == b.applied and np.array_equal(a.landmarks[0], b.landmarks[0])
        seen.update(x.split("(")[0] for x in a.applied)
        again = A.augment(image, [lm], [box], [alpha], "realistic", np.random.default_rng(seed))
        assert again.image.tobytes() == a.image.tobytes()
    spec = A.preset_spec("realistic")
    affine = {"rotate", "scale", "translate", "shear"}
    listed = {("affine" if op in affine else op) for op in A.OPS if op in spec}
    assert listed <= seen and {"hand", "hair", "face_crop", "lowres", "beauty", "cast"} <= listed

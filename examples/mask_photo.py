"""Mask every face of a photo with the public API only.

    python examples/mask_photo.py [PHOTO] [OUT.jpg] [--type kn95] [--wear correct] [--seed 0]

Without PHOTO, scikit-image's astronaut is used. Prints each face's box and the mask's attributes.
"""
import argparse

import numpy as np
from PIL import Image

import maskgen


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?")
    parser.add_argument("out", nargs="?", default="masked.jpg")
    parser.add_argument("--type", default="random", help="mask type, comma list, or random")
    parser.add_argument("--wear", default="correct", help="correct, nose, chin, ear, or a mix like correct=0.8,chin=0.2")
    parser.add_argument("--color", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.photo:
        image = maskgen.read_image(args.photo)
    else:
        from skimage import data

        image = data.astronaut()
    faces = maskgen.find_faces(image)
    options = maskgen.MaskOptions(mask_type=args.type, wear=args.wear, color=args.color)
    result = maskgen.mask_faces(image, faces, options, seed=args.seed)
    for masked in result.faces:
        box = np.round(masked.face.box).astype(int).tolist()
        print(f"face at {box}: {masked.attributes.to_dict()}")
    for face, reason in result.skipped:
        print(f"skipped face at {np.round(face.box).astype(int).tolist()}: {reason}")
    Image.fromarray(result.image).save(args.out, quality=95)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

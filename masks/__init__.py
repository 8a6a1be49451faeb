"""Mask assets shipped with maskgen: palettes, textures and example user masks."""

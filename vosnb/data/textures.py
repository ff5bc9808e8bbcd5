"""Textures for the synthetic data: natural images bundled inside the scikit-image wheel (no download).

Only images that ship in the wheel are used: `skimage.data` fetches others (lily, kidney, skin, brain, eagle, ...)
through the optional `pooch` package and the network, which the embedded data must never need. Two bundled images
are left out because they are mostly black (retina, hubble_deep_field). Grey images are
coloured by a random two-colour gradient when sampled, so the same source gives many different textures.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np
import skimage.data

# name -> is the image RGB (else grey). All of these are files inside skimage/data of the wheel.
TEXTURE_SOURCES: dict[str, bool] = {
    "astronaut": True,
    "chelsea": True,
    "coffee": True,
    "immunohistochemistry": True,
    "rocket": True,
    "brick": False,
    "camera": False,
    "cell": False,
    "coins": False,
    "grass": False,
    "gravel": False,
    "moon": False,
    "page": False,
    "text": False,
}
_SHORT_SIDE = 256


@functools.cache
def load_source(name: str) -> np.ndarray:
    """A bundled image as float32 in [0, 1] (H×W×3 or H×W), its short side resized to 256 pixels."""
    image = np.asarray(getattr(skimage.data, name)())
    scale = _SHORT_SIDE / min(image.shape[:2])
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    image = image.astype(np.float32) / 255.0
    image.setflags(write=False)
    return image


def sample_texture(rng: np.random.Generator, name: str, height: int, width: int, zoom: float = 1.0) -> np.ndarray:
    """A random ``height``×``width`` RGB crop of source ``name`` (float32, [0, 1]); ``zoom`` > 1 magnifies.

    Grey sources are mapped through a gradient between two random colours, with a random contrast stretch.
    """
    source = load_source(name)
    crop_h = min(source.shape[0], max(4, round(height / zoom)))
    crop_w = min(source.shape[1], max(4, round(width / zoom)))
    y = int(rng.integers(0, source.shape[0] - crop_h + 1))
    x = int(rng.integers(0, source.shape[1] - crop_w + 1))
    crop = np.ascontiguousarray(source[y : y + crop_h, x : x + crop_w])
    crop = cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)
    if crop.ndim == 2:
        low, high = np.percentile(crop, [2, 98])
        crop = np.clip((crop - low) / max(high - low, 1e-3), 0.0, 1.0)
        dark, light = rng.uniform(0.0, 0.45, 3), rng.uniform(0.55, 1.0, 3)
        crop = dark + crop[..., None] * (light - dark)
    return crop.astype(np.float32)

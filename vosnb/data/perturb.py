"""Perturbed first-frame masks for RDE-VOS's self-correction strategy (Li et al., CVPR 2022, §3.4, Fig. 2b).

The paper degrades the ground-truth mask by random dilation and erosion and asks the value encoder to embed the
degraded mask as it embeds the clean one (the mask consistency loss, Eq. 8). The authors draw an IoU target from
U[0.85, 1] per clip and dilate/erode random rectangles until the IoU falls below it, so their result lands at or
somewhat below the target. :func:`perturb_masks` reaches the target itself, to within one pixel's worth of IoU:
it ranks the pixels by their distance to the mask boundary plus a smooth random field that decides, region by
region, whether the mask grows (background pixels flip first there) or shrinks (foreground pixels flip first),
and flips them in that order while the IoU stays at or above the target. Everything is drawn from the given NumPy
generator, so a seed fixes the result.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

ROUGHNESS = 6.0  # how many pixels of boundary distance the random field can outweigh: the perturbation's blobbiness
GRID = 4  # the random field's control points per side (bilinearly upsampled)


def _flip_order(mask: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Flat pixel indices in the order they are flipped: near the boundary first, background pixels earlier where
    ``field`` is low (dilation), foreground pixels earlier where it is high (erosion)."""
    inside = ndimage.distance_transform_edt(mask)
    outside = ndimage.distance_transform_edt(~mask)
    score = np.where(mask, inside + ROUGHNESS * (1 - field), outside + ROUGHNESS * field)
    return np.argsort(score, axis=None, kind="stable")


def perturb_mask(mask: np.ndarray, target_iou: float, field: np.ndarray) -> np.ndarray:
    """``mask`` ``[H, W]`` (bool) dilated and eroded until its IoU with the original is the closest reachable to
    ``target_iou``; ``field`` ``[H, W]`` in [0, 1] chooses where it grows and where it shrinks. An empty mask or a
    target ≥ 1 returns a copy."""
    mask = mask.astype(bool)
    area = int(mask.sum())
    if area == 0 or target_iou >= 1:
        return mask.copy()
    order = _flip_order(mask, field)
    flips_fg = mask.ravel()[order]
    removed = np.cumsum(flips_fg)
    added = np.cumsum(~flips_fg)
    iou = np.concatenate([[1.0], (area - removed) / (area + added)])  # after flipping 0, 1, 2, ... pixels
    count = int(np.argmin(np.abs(iou - target_iou)))
    out = mask.ravel().copy()
    out[order[:count]] ^= True
    return out.reshape(mask.shape)


def perturb_masks(masks: np.ndarray, rng: np.random.Generator, iou_range: tuple[float, float]) -> np.ndarray:
    """Perturb every object mask of ``masks`` ``[N, H, W]`` to one IoU target drawn from U[``iou_range``] (one
    target shared by the objects, as the authors draw it); each object gets its own random field."""
    target = rng.uniform(*iou_range)
    n, h, w = masks.shape
    out = np.empty(masks.shape, bool)
    for j in range(n):
        coarse = rng.random((GRID, GRID))
        field = ndimage.zoom(coarse, (h / GRID, w / GRID), order=1, mode="nearest", grid_mode=True)
        out[j] = perturb_mask(masks[j] > 0.5, target, field)
    return out.astype(masks.dtype)

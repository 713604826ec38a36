"""Per-pixel features of the built-in segmenter (``segmenter``) and the edge-preserving refinement of its
probabilities; the design is described there.

- ``working_rgb``: the image reduced (box filter) to at most ``WORK_SIDE`` pixels on the long side.
- ``pixel_features``: ``FEATURE_SIZE`` hand-made values per pixel (colour, difference to the median colour,
  local means, local grey-level standard deviations, position).
- ``deep_features``: the backbone's multi-scale maps enlarged to the working size.
- ``guided``: the guided filter that moves class boundaries onto the image's edges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

    from gtcore.autolabel.backbone import Backbone

DEEP_SIDE = 256  # the backbone sees the image at this long side (its stride-4 map is 64 px: half WORK_SIDE)
GUIDE_RADIUS = 2
GUIDE_EPS = 1e-3
WORK_SIDE = 128
FEATURE_SIZE = 3 + 3 + 1 + 6 + 3 + 2 + 2


def work_size(w: int, h: int) -> tuple[int, int]:
    f = min(1.0, WORK_SIDE / max(w, h))
    return max(1, round(w * f)), max(1, round(h * f))


def working_rgb(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image as PILImage

    ws = work_size(*size)
    rgb = image.convert("RGB")
    if rgb.size != ws:
        rgb = rgb.resize(ws, PILImage.Resampling.BOX)
    return np.asarray(rgb, dtype=np.float32) / 255.0


def pixel_features(rgb: np.ndarray) -> np.ndarray:
    """(H*W, FEATURE_SIZE) float32 features of an H x W x 3 image with values 0..1."""
    from scipy.ndimage import uniform_filter

    h, w, _ = rgb.shape
    diff = rgb - np.median(rgb.reshape(-1, 3), axis=0)
    dist = np.sqrt((diff**2).sum(axis=2))
    gray = rgb.mean(axis=2)
    cols = [rgb[..., k] for k in range(3)] + [diff[..., k] for k in range(3)] + [dist]
    for size in (5, 11):
        cols += [uniform_filter(rgb[..., k], size=size, mode="nearest") for k in range(3)]
    for size in (3, 7, 15):
        m = uniform_filter(gray, size=size, mode="nearest")
        sq = uniform_filter(gray * gray, size=size, mode="nearest")
        cols.append(np.sqrt(np.maximum(sq - m * m, 0.0)))
    cols += [uniform_filter(dist, size=size, mode="nearest") for size in (7, 15)]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cols += [xx / max(1, w - 1), yy / max(1, h - 1)]
    return np.stack([c.astype(np.float32).ravel() for c in cols], axis=1)


def deep_features(bb: Backbone, image: Image.Image, hw: tuple[int, int]) -> np.ndarray:
    """(h*w, 24 + 40 + 112) float32: the backbone's maps of strides 4, 8 and 16 (multi-scale: edges, parts,
    objects) enlarged bilinearly to the working size ``hw``."""
    from scipy.ndimage import zoom

    maps, _ = bb.maps(image, DEEP_SIDE)
    h, w = hw
    cols = []
    for s in (4, 8, 16):
        m = maps[s]
        cols.append(np.asarray(zoom(m, (1, h / m.shape[1], w / m.shape[2]), order=1), dtype=np.float32))
    return np.concatenate(cols).reshape(-1, h * w).T


def guided(probs: np.ndarray, guide: np.ndarray, radius: int = GUIDE_RADIUS, eps: float = GUIDE_EPS) -> np.ndarray:
    """Edge-preserving refinement (He et al.'s guided filter) of (h, w, K) probabilities by the grey image: the
    class boundaries move onto the image's edges."""
    from scipy.ndimage import uniform_filter

    size = 2 * radius + 1
    mean_i = uniform_filter(guide, size, mode="nearest")
    var_i = uniform_filter(guide * guide, size, mode="nearest") - mean_i * mean_i
    out = np.empty_like(probs)
    for k in range(probs.shape[2]):
        p = probs[..., k]
        mean_p = uniform_filter(p, size, mode="nearest")
        cov = uniform_filter(guide * p, size, mode="nearest") - mean_i * mean_p
        a = cov / (var_i + eps)
        b = mean_p - a * mean_i
        out[..., k] = uniform_filter(a, size, mode="nearest") * guide + uniform_filter(b, size, mode="nearest")
    out = np.clip(out, 1e-6, None)
    return out / out.sum(axis=2, keepdims=True)

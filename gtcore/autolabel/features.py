"""Image features for the built-in learners: no pretrained weights, nothing downloaded.

``describe(image)`` turns an RGB image (or a crop of one) into one float32 vector of ``FEATURE_SIZE`` values:

- the grey image at 8x8 and 16x16 (the shape at two scales);
- a histogram of oriented gradients (HOG) on the 16x16 grey image: 4x4 cells x 8 orientation bins, each cell
  L2-normalised (edges, robust to brightness);
- the mean colour of a 2x2 grid (what colour is where).

Images are decoded through ``gtcore.images.decoding`` (same limits as everywhere: 100 megapixels, no SVG) and
reduced to at most ``DECODE_MAX_SIDE`` pixels on the long side while decoding, so memory stays bounded however
large the source; only the vectors are kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gtcore.context import Context
from gtcore.images import decoding

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

FEATURES_VERSION = "gray8-gray16-hog16x4x8-rgb2x2-v1"
DECODE_MAX_SIDE = 1024
_S = 16
_CELLS = 4
_BINS = 8
FEATURE_SIZE = 64 + _S * _S + _CELLS * _CELLS * _BINS + 12


def load_image(ctx: Context, uri: str) -> tuple[Image.Image, float]:
    """The image at ``uri`` decoded safely and reduced; returns (RGB image, scale = reduced / original width)."""
    d = decoding.decode(ctx.storage.read_bytes(uri), max_side=DECODE_MAX_SIDE, uri=uri)
    d.image.info["gtcore-orig-size"] = tuple(d.orig_size)  # the segmenter's masks have the original's size
    w = d.orig_size[0] or d.image.width
    return d.image, d.image.width / w


def describe(image: Image.Image) -> np.ndarray:
    """The feature vector of an RGB image (any size >= 1x1)."""
    import numpy as np
    from PIL import Image

    rgb = image.convert("RGB")
    gray = rgb.convert("L")
    g16 = np.asarray(gray.resize((_S, _S), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    g8 = np.asarray(gray.resize((8, 8), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    c2 = np.asarray(rgb.resize((2, 2), Image.Resampling.BOX), dtype=np.float32) / 255.0
    return np.concatenate([g8.ravel(), g16.ravel(), _hog(g16), c2.ravel()]).astype(np.float32)


def _hog(g: Any) -> Any:
    import numpy as np

    gy, gx = np.gradient(g)
    mag = np.hypot(gx, gy)
    ang = np.mod(np.arctan2(gy, gx), np.pi)
    bins = np.minimum((ang / np.pi * _BINS).astype(np.int64), _BINS - 1)
    c = _S // _CELLS
    cell = (np.arange(_S) // c)[:, None] * _CELLS + (np.arange(_S) // c)[None, :]
    hist = np.zeros(_CELLS * _CELLS * _BINS, dtype=np.float64)
    np.add.at(hist, (cell * _BINS + bins).ravel(), mag.ravel())
    cells = hist.reshape(_CELLS * _CELLS, _BINS)
    cells /= np.linalg.norm(cells, axis=1, keepdims=True) + 1e-6
    return cells.ravel().astype(np.float32)


def crop(image: Image.Image, box: tuple[float, float, float, float], context: float = 0.1) -> Image.Image:
    """``box`` = (left, top, width, height) in the image's pixels, widened by ``context`` on each side."""
    left, top, width, height = box
    pad_w, pad_h = width * context, height * context
    x0 = max(0, int(round(left - pad_w)))
    y0 = max(0, int(round(top - pad_h)))
    x1 = min(image.width, max(x0 + 1, int(round(left + width + pad_w))))
    y1 = min(image.height, max(y0 + 1, int(round(top + height + pad_h))))
    return image.crop((x0, y0, x1, y1))

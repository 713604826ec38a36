"""Write a semantic-segmentation set of irregular textured blobs (nothing downloaded).

python bench/make_blobs.py DIR [--count 1500] [--seed 1]

Each image (160x120 to 320x240) has a textured background (smoothed noise over a colour gradient) and 1-3 blobs
of irregular outline (a smoothed random field, thresholded) filled with one of three textures: ``striped``
(stripes at a random angle and period), ``spotted`` (dots), ``grainy`` (fine noise); the colours are random, so
the class is the texture, not the colour. Writes ``DIR/blob-NNNN.png``, ``DIR/masks/<name>`` (class indices,
0 = BACKGROUND), ``DIR/truth.json`` = ``{"<image>": {"mask": "<path>"}}`` and ``DIR/labels.txt``.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

LABELS = ["striped", "spotted", "grainy"]
SIZES = ((160, 120), (240, 180), (320, 240))


def texture(rng: np.random.Generator, kind: int, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c1, c2 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    if kind == 1:
        a, period = rng.uniform(0, np.pi), rng.uniform(5, 12)
        t = (np.sin((xx * np.cos(a) + yy * np.sin(a)) * 2 * np.pi / period) > 0).astype(np.float32)
    elif kind == 2:
        period = rng.uniform(7, 12)
        t = (np.mod(xx, period) - period / 2) ** 2 + (np.mod(yy, period) - period / 2) ** 2 < (period / 3.5) ** 2
        t = t.astype(np.float32)
    else:
        t = (rng.random((h, w)) > 0.5).astype(np.float32)
    return c1 * t[..., None] + c2 * (1 - t[..., None])


def scene(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    base = rng.uniform(60, 200, 3) + np.linspace(-30, 30, w)[None, :, None]
    img = base + gaussian_filter(rng.normal(0, 40, (h, w, 3)), (3, 3, 0))
    mask = np.zeros((h, w), np.uint8)
    for _ in range(rng.integers(1, 4)):
        kind = int(rng.integers(1, 4))
        field = gaussian_filter(rng.normal(0, 1, (h, w)), min(w, h) / 10)
        cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
        r = rng.uniform(0.12, 0.3) * min(w, h)
        yy, xx = np.mgrid[0:h, 0:w]
        shape = np.hypot(yy - cy, xx - cx) / r + field / (field.std() + 1e-6) * 0.35 < 1.0
        img[shape] = texture(rng, kind, h, w)[shape]
        mask[shape] = kind
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8), mask


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--count", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    pick = random.Random(a.seed)
    (a.folder / "masks").mkdir(parents=True, exist_ok=True)
    truth = {}
    for i in range(a.count):
        img, mask = scene(rng, *pick.choice(SIZES))
        name = f"blob-{i:04d}.png"
        Image.fromarray(img, "RGB").save(a.folder / name)
        Image.fromarray(mask, "L").save(a.folder / "masks" / name)
        truth[name] = {"mask": str((a.folder / "masks" / name).resolve())}
    (a.folder / "truth.json").write_text(json.dumps(truth, indent=0) + "\n")
    (a.folder / "labels.txt").write_text("\n".join(LABELS) + "\n")
    print(f"{a.count} blob images in {a.folder}")


if __name__ == "__main__":
    main()

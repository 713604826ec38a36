"""Write the semantic-segmentation bench's image set: synthetic shapes with known masks (nothing downloaded).

python bench/make_shapes.py DIR [--count 1500] [--width 160 --height 120] [--noise 10]

Each image holds 1-3 shapes (a red-ish disc = ``disc``, a blue-ish block = ``block``, a green-ish triangle =
``triangle``; colours jittered, sizes and places random, shapes may overlap) on a background that is a random
light-to-mid colour with a gradient and Gaussian pixel noise (``--noise``: its standard deviation).
``DIR/masks/<name>`` holds each image's class indices (0 = BACKGROUND, then the labels in that order) as a grey PNG;
``DIR/truth.json`` = ``{"<image>": {"mask": "<path>"}}`` (``tests.fixtures.simulate``'s mask truth);
``DIR/labels.txt`` the label names, one per line.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

LABELS = ["disc", "block", "triangle"]


def scene(rng: random.Random, w: int, h: int, noise: float = 10.0) -> tuple[Image.Image, Image.Image]:
    base = np.array([rng.randint(150, 245) for _ in range(3)], dtype=np.float32)
    ramp = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None] * rng.uniform(-20, 20)
    bg = np.clip(base + ramp + np.zeros((h, w, 3), np.float32), 0, 255).astype(np.uint8)
    img = Image.fromarray(bg, "RGB")
    mask = Image.new("L", (w, h), 0)
    draw, paint = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    for k in [rng.randint(1, 3) for _ in range(rng.randint(1, 3))]:
        sw, sh = rng.randint(w // 8, w // 3), rng.randint(h // 8, h // 3)
        x, y = rng.randint(0, w - sw - 1), rng.randint(0, h - sh - 1)
        if k == 1:
            fill = (rng.randint(150, 240), rng.randint(10, 90), rng.randint(10, 90))
            draw.ellipse((x, y, x + sw, y + sh), fill=fill)
            paint.ellipse((x, y, x + sw, y + sh), fill=1)
        elif k == 2:
            fill = (rng.randint(10, 90), rng.randint(30, 110), rng.randint(140, 240))
            draw.rectangle((x, y, x + sw, y + sh), fill=fill)
            paint.rectangle((x, y, x + sw, y + sh), fill=2)
        else:
            fill = (rng.randint(10, 90), rng.randint(120, 200), rng.randint(10, 90))
            pts = [(x + sw // 2, y), (x, y + sh), (x + sw, y + sh)]
            draw.polygon(pts, fill=fill)
            paint.polygon(pts, fill=3)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, noise, (h, w, 3))
    pixels = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB"), mask


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--count", type=int, default=1500)
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--height", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--noise", type=float, default=10.0, help="standard deviation of the pixel noise")
    args = ap.parse_args()
    folder = args.folder.resolve()
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    truth = {}
    for i in range(args.count):
        img, mask = scene(rng, args.width, args.height, args.noise)
        name = f"shape-{i:05d}.png"
        img.save(folder / name)
        mask.save(folder / "masks" / name)
        truth[name] = {"mask": str(folder / "masks" / name)}
    (folder / "truth.json").write_text(json.dumps(truth, indent=0) + "\n")
    (folder / "labels.txt").write_text("\n".join(LABELS) + "\n")
    print(f"{args.count} images in {folder}; truth: {folder / 'truth.json'}")


if __name__ == "__main__":
    main()

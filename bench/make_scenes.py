"""Write a bounding-box set: 1-5 objects of 15-200 px on cluttered images of 640x480 to 1600x1200 (sizes vary
within the set; nothing downloaded).

python bench/make_scenes.py DIR [--count 1500] [--seed 1]

Backgrounds: a texture photograph that scikit-image ships (brick, grass, gravel, ...; a colour gradient when it
is not installed) stretched to the image, plus random lines and outlines. Objects (classes): ``star`` (a filled
5-point star), ``ring`` (an annulus), ``glyph`` (a letter in one of the machine's fonts, ``fc-list``), each in
a random colour, 15-200 px on its long side, rotated; objects do not overlap. Writes ``DIR/scene-NNNN.jpg``,
``DIR/truth.json`` = ``{"<image>": [{"label", "left", "top", "width", "height"}]}`` (the bench's box truth)
and ``DIR/labels.txt``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.make_letters import fonts  # noqa: E402

LABELS = ["star", "ring", "glyph"]
SIZES = ((640, 480), (800, 600), (1024, 768), (1280, 960), (1600, 1200))


def textures() -> list[Path]:
    try:
        import skimage

        d = Path(skimage.__file__).parent / "data"
        return [d / f for f in ("brick.png", "grass.png", "gravel.png", "rocket.jpg", "coffee.png") if (d / f).exists()]
    except ImportError:
        return []


def background(rng: random.Random, size: tuple[int, int], tex: list[Path]) -> Image.Image:
    w, h = size
    if tex:
        im = Image.open(rng.choice(tex)).convert("RGB").resize((w, h), Image.Resampling.BILINEAR)
    else:
        im = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    d = ImageDraw.Draw(im)
    for _ in range(rng.randint(10, 30)):
        c = tuple(rng.randint(0, 255) for _ in range(3))
        x0, y0, x1, y1 = rng.randint(0, w), rng.randint(0, h), rng.randint(0, w), rng.randint(0, h)
        if rng.random() < 0.5:
            d.line((x0, y0, x1, y1), fill=c, width=rng.randint(1, 4))
        else:
            d.ellipse((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), outline=c, width=rng.randint(1, 3))
    return im


def shape(rng: random.Random, label: str, side: int, font_files: list[str]) -> Image.Image:
    tile = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(tile)
    c = tuple(rng.randint(0, 255) for _ in range(3)) + (255,)
    r = side / 2
    if label == "star":
        a0 = rng.uniform(0, math.pi)
        pts = [
            (r + (r if k % 2 == 0 else r * 0.45) * math.cos(a0 + k * math.pi / 5),
             r + (r if k % 2 == 0 else r * 0.45) * math.sin(a0 + k * math.pi / 5))
            for k in range(10)
        ]  # fmt: skip
        d.polygon(pts, fill=c)
    elif label == "ring":
        d.ellipse((0, 0, side - 1, side - 1), outline=c, width=max(2, side // 5))
    else:
        font = ImageFont.truetype(rng.choice(font_files), side)
        ch = rng.choice("ABEGKMRSWX")
        bl, bt, br, bb = font.getbbox(ch)
        g = Image.new("RGBA", (br - bl, bb - bt), (0, 0, 0, 0))
        ImageDraw.Draw(g).text((-bl, -bt), ch, font=font, fill=c)
        g = g.rotate(rng.uniform(-30, 30), expand=True, resample=Image.Resampling.BICUBIC)
        return g.crop(g.getbbox() or (0, 0, g.width, g.height))
    return tile.crop(tile.getbbox() or (0, 0, side, side))


def scene(rng: random.Random, tex: list[Path], font_files: list[str]) -> tuple[Image.Image, list[dict]]:
    im = background(rng, rng.choice(SIZES), tex)
    boxes: list[dict] = []
    taken: list[tuple[int, int, int, int]] = []
    for _ in range(rng.randint(1, 5)):
        label = rng.choice(LABELS)
        side = int(math.exp(rng.uniform(math.log(15), math.log(200))))
        tile = shape(rng, label, side, font_files)
        for _try in range(30):
            x, y = rng.randint(0, im.width - tile.width), rng.randint(0, im.height - tile.height)
            box = (x, y, x + tile.width, y + tile.height)
            if all(box[2] <= t[0] or t[2] <= box[0] or box[3] <= t[1] or t[3] <= box[1] for t in taken):
                im.paste(tile, (x, y), tile)
                taken.append(box)
                boxes.append({"label": label, "left": x, "top": y, "width": tile.width, "height": tile.height})
                break
    return im, boxes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--count", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    tex, font_files = textures(), fonts()
    a.folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i in range(a.count):
        im, boxes = scene(rng, tex, font_files)
        name = f"scene-{i:04d}.jpg"
        im.save(a.folder / name, quality=90)
        truth[name] = boxes
    (a.folder / "truth.json").write_text(json.dumps(truth, indent=0) + "\n")
    (a.folder / "labels.txt").write_text("\n".join(LABELS) + "\n")
    print(f"{a.count} scenes in {a.folder}")


if __name__ == "__main__":
    main()

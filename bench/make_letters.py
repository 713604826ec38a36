"""Write a classification set of letters in the machine's fonts (``fc-list``), moved, scaled and rotated, on
cluttered backgrounds (nothing downloaded).

python bench/make_letters.py DIR [--count 1500] [--letters ABEGKMRSWX] [--size 96] [--seed 1]

Each image: a background of random lines, ellipses and colour blobs (clutter in the letter's own colours too),
then one letter (class = the letter) in a random installed font, 35-80 % of the image high, rotated up to 25
degrees, placed anywhere it fits, in a random colour that contrasts with the local background, plus 1-3 smaller
distractor letters of other classes at 15-25 % size. Writes ``DIR/letter-NNNN.png``, ``DIR/truth.json`` and
``DIR/labels.txt``.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


def fonts() -> list[str]:
    out = subprocess.run(["fc-list", ":", "file"], capture_output=True, text=True, check=False).stdout
    files = sorted({line.split(":")[0].strip() for line in out.splitlines() if line.strip()})
    return [f for f in files if f.lower().endswith((".ttf", ".otf"))]


def clutter(rng: random.Random, size: int) -> Image.Image:
    im = Image.new("RGB", (size, size), tuple(rng.randint(0, 255) for _ in range(3)))
    d = ImageDraw.Draw(im)
    for _ in range(rng.randint(6, 16)):
        c = tuple(rng.randint(0, 255) for _ in range(3))
        x0, y0, x1, y1 = (rng.randint(-size // 4, size + size // 4) for _ in range(4))
        if rng.random() < 0.5:
            d.line((x0, y0, x1, y1), fill=c, width=rng.randint(1, max(1, size // 24)))
        else:
            d.ellipse((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), outline=c, width=rng.randint(1, 3))
    return im


def glyph(rng: random.Random, font_file: str, ch: str, height: int, colour: tuple) -> Image.Image:
    font = ImageFont.truetype(font_file, max(6, height))
    x0, t, r, b = font.getbbox(ch)
    tile = Image.new("RGBA", (r - x0 + 4, b - t + 4), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text((2 - x0, 2 - t), ch, font=font, fill=colour + (255,))
    return tile.rotate(rng.uniform(-25, 25), resample=Image.Resampling.BICUBIC, expand=True)


def place(rng: random.Random, im: Image.Image, tile: Image.Image) -> None:
    w, h = im.size
    x = rng.randint(0, max(0, w - tile.width))
    y = rng.randint(0, max(0, h - tile.height))
    im.paste(tile, (x, y), tile)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--count", type=int, default=1500)
    ap.add_argument("--letters", default="ABEGKMRSWX")
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    files = fonts()
    if not files:
        raise SystemExit("fc-list lists no TrueType/OpenType font")
    a.folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i in range(a.count):
        ch = rng.choice(a.letters)
        im = clutter(rng, a.size)
        for _ in range(rng.randint(1, 3)):
            other = rng.choice([c for c in a.letters if c != ch])
            col = tuple(rng.randint(0, 255) for _ in range(3))
            place(rng, im, glyph(rng, rng.choice(files), other, int(a.size * rng.uniform(0.15, 0.25)), col))
        bg = im.resize((1, 1)).getpixel((0, 0))
        col = tuple(int((c + 128 + rng.randint(-40, 40)) % 256) for c in bg)  # contrasts with the mean background
        place(rng, im, glyph(rng, rng.choice(files), ch, int(a.size * rng.uniform(0.35, 0.8)), col))
        name = f"letter-{i:04d}.png"
        im.save(a.folder / name)
        truth[name] = ch
    (a.folder / "truth.json").write_text(json.dumps(truth, indent=0) + "\n")
    (a.folder / "labels.txt").write_text("\n".join(a.letters) + "\n")
    print(f"{a.count} letters in {len(files)} fonts in {a.folder}")


if __name__ == "__main__":
    main()

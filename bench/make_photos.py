"""Write a classification set of crops of real photographs (nothing downloaded): the photographs that installed
packages ship (scikit-image's ``skimage/data``, scikit-learn's sample images), one class per source photograph.

python bench/make_photos.py DIR [--count 1500] [--seed 1] [--sources astronaut,chelsea,...]

Six sources are chosen (``--seed``) among those installed unless ``--sources`` names them; class shares are
imbalanced, 40/22/15/11/7/5 %. Each image is a crop of 15-60 % of its photograph's shorter side, at a random
place, maybe mirrored, rotated by up to 20 degrees, brightness and contrast jittered, resized to 64-200 px.
Writes ``DIR/photo-NNNN.png``, ``DIR/truth.json`` = ``{"<image>": "<class>"}`` and ``DIR/labels.txt``.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

SHARES = (0.40, 0.22, 0.15, 0.11, 0.07, 0.05)
COLOUR = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "ihc", "motorcycle_left", "retina")
OTHER = ("china", "flower", "coins", "camera", "brick", "grass", "gravel", "moon")


def available() -> dict[str, Path]:
    """Photographs shipped inside installed packages, by name."""
    found: dict[str, Path] = {}
    try:
        import skimage

        d = Path(skimage.__file__).parent / "data"
        for p in sorted(d.iterdir()):
            if p.suffix in (".png", ".jpg") and p.stem in COLOUR + OTHER:
                found[p.stem] = p
    except ImportError:
        pass
    try:
        import sklearn.datasets

        d = Path(sklearn.datasets.__file__).parent / "images"
        for p in sorted(d.glob("*.jpg")):
            found[p.stem] = p
    except ImportError:
        pass
    return found


def crop(rng: random.Random, photo: Image.Image) -> Image.Image:
    w, h = photo.size
    side = int(min(w, h) * rng.uniform(0.15, 0.6))
    x, y = rng.randint(0, w - side), rng.randint(0, h - side)
    im = photo.crop((x, y, x + side, y + side))
    if rng.random() < 0.5:
        im = ImageOps.mirror(im)
    im = im.rotate(rng.uniform(-20, 20), resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
    k = side // 8  # drop the rotated corners
    im = im.crop((k, k, side - k, side - k))
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.7, 1.3))
    im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.7, 1.3))
    out = rng.randint(64, 200)
    return im.resize((out, out), Image.Resampling.BILINEAR)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--count", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sources", default="", help="comma-separated photograph names (default: 6 chosen by --seed)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    have = available()
    names = [s for s in a.sources.split(",") if s] or rng.sample(sorted(have), 6)
    unknown = [n for n in names if n not in have]
    if unknown or len(names) != 6:
        raise SystemExit(f"need 6 installed photographs; unknown: {unknown}; installed: {', '.join(sorted(have))}")
    photos = [Image.open(have[n]).convert("RGB") for n in names]
    a.folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i in range(a.count):
        k = rng.choices(range(6), weights=SHARES)[0]
        name = f"photo-{i:04d}.png"
        crop(rng, photos[k]).save(a.folder / name)
        truth[name] = names[k]
    (a.folder / "truth.json").write_text(json.dumps(truth, indent=0) + "\n")
    (a.folder / "labels.txt").write_text("\n".join(names) + "\n")
    print(f"{a.count} crops of {', '.join(names)} in {a.folder}")


if __name__ == "__main__":
    main()

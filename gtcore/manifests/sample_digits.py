"""A sample big enough for automated data labeling: scikit-learn's handwritten digits (1,797 8x8 images that
ship inside the scikit-learn package; nothing is downloaded), upscaled to image files, with their truth.

- ``make_digits(folder, kind="classification")``: one 64x64 PNG per digit (``digit-0000.png`` ...), labels
  ``"0"`` ... ``"9"``; ``truth.json`` maps each file name to its label (``{"digit-0000.png": "0"}``).
- ``make_digits(folder, kind="boxes")``: 160x120 PNGs, each with 1-3 digits (24-40 px) at random places on a
  textured light background; ``truth.json`` maps each file name to its boxes
  (``[{"label": "7", "left": .., "top": .., "width": .., "height": ..}]``, tight around the ink).

``count`` above 1,797 (classification) re-uses digits with a small random shift. scikit-learn is imported lazily
(the ``autolabel`` extra).
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

DIGIT_LABELS = tuple(str(i) for i in range(10))
DIGITS_IN_PACKAGE = 1797


@dataclass(frozen=True)
class DigitSet:
    folder: Path
    images: int
    labels: tuple[str, ...]
    truth: Path  # truth.json


def _digits() -> tuple[Any, Any]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images, d.target


def _write_png(path: Path, img: Image.Image) -> None:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def _ink(a: Any, side: int) -> Image.Image:
    """An 8x8 digit (0..16) as a ``side`` x ``side`` grey image, ink dark on white."""
    import numpy as np

    g = (255 - np.asarray(a, dtype=np.float32) * 255 / 16).clip(0, 255).astype(np.uint8)
    return Image.fromarray(g, mode="L").resize((side, side), Image.Resampling.BILINEAR)


def make_digits(folder: Path, *, kind: str = "classification", count: int | None = None, seed: int = 13) -> DigitSet:
    """Write the images and ``truth.json`` into ``folder`` (created); see the module docstring."""
    if kind not in ("classification", "boxes"):
        raise ValueError(f"kind must be classification or boxes, not {kind!r}")
    folder.mkdir(parents=True, exist_ok=True)
    images, target = _digits()
    rng = random.Random(seed)
    n = count or (DIGITS_IN_PACKAGE if kind == "classification" else 1500)
    truth: dict[str, Any] = {}
    for i in range(n):
        name = f"digit-{i:04d}.png"
        if kind == "classification":
            j = i % len(target)
            img = Image.new("L", (64, 64), 255)
            shift = (0, 0) if i < len(target) else (rng.randint(-3, 3), rng.randint(-3, 3))
            img.paste(_ink(images[j], 56), (4 + shift[0], 4 + shift[1]))
            truth[name] = str(int(target[j]))
            _write_png(folder / name, img.convert("RGB"))
        else:
            img, boxes = _scene(images, target, rng)
            truth[name] = boxes
            _write_png(folder / name, img)
    path = folder / "truth.json"
    path.write_text(json.dumps(truth, indent=0) + "\n", encoding="utf-8")
    return DigitSet(folder, n, DIGIT_LABELS, path)


def _scene(images: Any, target: Any, rng: random.Random) -> tuple[Image.Image, list[dict[str, Any]]]:
    import numpy as np

    w, h = 160, 120
    nrng = np.random.default_rng(rng.randint(0, 2**31))
    base = rng.randint(190, 235)
    bg = nrng.normal(base, 6, (h, w)).clip(0, 255)
    placed: list[tuple[int, int, int]] = []
    boxes: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 3)):
        for _attempt in range(30):
            s = rng.randint(24, 40)
            x, y = rng.randint(0, w - s), rng.randint(0, h - s)
            if all(x + s + 4 <= px or px + ps + 4 <= x or y + s + 4 <= py or py + ps + 4 <= y for px, py, ps in placed):
                break
        else:
            continue
        placed.append((x, y, s))
        j = rng.randrange(len(target))
        ink = 1.0 - np.asarray(_ink(images[j], s), dtype=np.float32) / 255.0
        region = bg[y : y + s, x : x + s]
        bg[y : y + s, x : x + s] = region * (1 - ink) + 25 * ink
        ys, xs = np.nonzero(ink > 0.15)
        if len(xs) == 0:
            continue
        boxes.append(
            {
                "label": str(int(target[j])),
                "left": int(x + xs.min()),
                "top": int(y + ys.min()),
                "width": int(xs.max() - xs.min() + 1),
                "height": int(ys.max() - ys.min() + 1),
            }
        )
    return Image.fromarray(bg.astype(np.uint8), mode="L").convert("RGB"), boxes

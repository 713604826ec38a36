"""Sample data for a fresh install: synthetic 240x240 faces (head, eyes, mouth, ears).

Like the first Ground Truth tutorial, a new team lead can point a bounding-box job at the folder and run
the whole flow in minutes. The true boxes are returned (and written beside the images as
``truth.manifest``) so the sample also demonstrates consolidation quality.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from gtcore.core.access import Actor, require_admin

SAMPLE_LABELS = ("eye", "mouth", "ear")
SIZE = 240


@dataclass(frozen=True)
class SampleSet:
    folder: Path
    images: int
    labels: tuple[str, ...]


def _face(rng: random.Random) -> tuple[Image.Image, list[dict]]:
    bg = tuple(rng.randint(170, 250) for _ in range(3))
    img = Image.new("RGB", (SIZE, SIZE), bg)
    d = ImageDraw.Draw(img)
    skin = rng.choice([(241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (255, 219, 172)])
    r = rng.randint(62, 80)
    cx, cy = rng.randint(r + 22, SIZE - r - 22), rng.randint(r + 8, SIZE - r - 8)
    boxes: list[dict] = []
    ear_w, ear_h = rng.randint(14, 20), rng.randint(26, 34)
    for side in (-1, 1):
        ex = cx + side * r - (ear_w if side < 0 else 0) + side * 4
        ey = cy - ear_h // 2
        d.ellipse([ex, ey, ex + ear_w, ey + ear_h], fill=skin, outline=(60, 40, 30))
        boxes.append({"label": "ear", "left": ex, "top": ey, "width": ear_w + 1, "height": ear_h + 1})
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=skin, outline=(60, 40, 30), width=2)
    eye_w, eye_h = rng.randint(14, 20), rng.randint(8, 12)
    for side in (-1, 1):
        ex = cx + side * r // 2 - eye_w // 2
        ey = cy - r // 3 - eye_h // 2
        d.ellipse([ex, ey, ex + eye_w, ey + eye_h], fill=(255, 255, 255), outline=(20, 20, 20))
        d.ellipse([ex + eye_w // 3, ey + 2, ex + 2 * eye_w // 3, ey + eye_h - 2], fill=(30, 30, 80))
        boxes.append({"label": "eye", "left": ex, "top": ey, "width": eye_w + 1, "height": eye_h + 1})
    mw, mh = rng.randint(28, 44), rng.randint(8, 16)
    mx, my = cx - mw // 2, cy + r // 3
    d.chord([mx, my, mx + mw, my + mh], 0, 180, fill=(170, 40, 50), outline=(90, 20, 20))
    boxes.append({"label": "mouth", "left": mx, "top": my, "width": mw + 1, "height": mh + 1})
    return img, boxes


def make_sample_faces(actor: Actor, folder: Path, count: int = 12, seed: int = 7) -> SampleSet:
    """Write ``count`` PNG faces into ``folder`` (created) plus ``truth.manifest``; admins only."""
    require_admin(actor, action="load sample data")
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    truth_lines = []
    for i in range(count):
        img, boxes = _face(rng)
        path = folder / f"face-{i:03d}.png"
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(buf.getvalue())
        tmp.replace(path)
        truth_lines.append(json.dumps({"source-ref": str(path), "boxes": boxes}, separators=(",", ":")))
    (folder / "truth.manifest").write_text("\n".join(truth_lines) + "\n", encoding="utf-8")
    return SampleSet(folder=folder, images=count, labels=SAMPLE_LABELS)

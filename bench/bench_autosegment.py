"""Auto-segment from four extreme points (gtcore.images.autosegment): mean IoU against the truth, seconds per object.

python bench/bench_autosegment.py [--shapes 60] [--size 640x480] [--jitter 2] [--pcb /work/shared/realdata/semseg-pcb]

- *Shapes*: scenes of ``bench/make_shapes.py`` (discs, blocks, triangles on noisy gradients; shapes may overlap),
  drawn at ``--size``; every connected object of at least 200 px is one click set.
- *PCB*: the real Ground Truth mask of ``semseg-pcb`` (1696 x 959, IC and two resistor classes). Its source image
  is not in the data set (only the mask is), so the board is rendered from the mask: each class a colour (IC
  black, resistors beige and blue, the board green), Gaussian pixel noise and a slight blur at the edges; every
  connected object of at least 100 px is one click set.
- The four points are each object's extreme pixels, each moved by up to ``--jitter`` pixels at random (a worker
  clicks near, not exactly on, the extremes). Baseline in the same run: the box through the four points, filled
  (what the clicks alone give), so the IoU gain is GrabCut's.
Prints the machine's load (2 cores shared) with the figures.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.make_shapes import scene  # noqa: E402
from gtcore.images.autosegment import extreme_points, extreme_points_mask, iou  # noqa: E402


def objects(classes: np.ndarray, min_px: int) -> list[np.ndarray]:
    import cv2

    found = []
    for c in np.unique(classes):
        if c == 0:
            continue
        n, comp = cv2.connectedComponents((classes == c).astype(np.uint8), connectivity=8)
        found += [comp == k for k in range(1, n) if (comp == k).sum() >= min_px]
    return found


def pcb_scene(folder: Path, seed: int) -> tuple[np.ndarray, np.ndarray]:
    mask = Image.open(folder / "mask.png").convert("RGB")
    rgb = np.asarray(mask)
    colours = {(255, 255, 255): (40, 110, 60), (44, 160, 44): (25, 25, 28), (31, 119, 180): (70, 90, 170),
               (255, 127, 14): (205, 185, 140)}  # fmt: skip
    classes = np.zeros(rgb.shape[:2], np.uint8)
    board = np.zeros_like(rgb, dtype=np.float32)
    for k, (src, dst) in enumerate(colours.items()):
        hit = np.all(rgb == src, axis=-1)
        classes[hit] = k
        board[hit] = dst
    noise = np.random.default_rng(seed).normal(0, 12, board.shape)
    image = Image.fromarray(np.clip(board + noise, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    return np.asarray(image), classes


def run(name: str, cases: list[tuple[np.ndarray, np.ndarray]], jitter: float, rng: random.Random) -> None:
    ious, boxes, seconds = [], [], 0.0
    for image, truth in cases:
        h, w = truth.shape
        pts = [
            (
                min(w - 1, max(0.0, x + rng.uniform(-jitter, jitter))),
                min(h - 1, max(0.0, y + rng.uniform(-jitter, jitter))),
            )
            for x, y in extreme_points(truth)
        ]
        t0 = time.perf_counter()
        got = extreme_points_mask(image, pts)
        seconds += time.perf_counter() - t0
        ious.append(iou(got, truth))
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        box = np.zeros_like(truth)
        box[round(min(ys)) : round(max(ys)) + 1, round(min(xs)) : round(max(xs)) + 1] = True
        boxes.append(iou(box, truth))
    n = len(cases)
    print(
        f"{name}: {n} objects; mean IoU {np.mean(ious):.3f} (median {np.median(ious):.3f}, worst {min(ious):.3f}); "
        f"the box alone {np.mean(boxes):.3f}; {seconds / n:.3f} s per object"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", type=int, default=60, help="shape scenes")
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--jitter", type=float, default=2.0)
    ap.add_argument("--pcb", type=Path, default=Path("/work/shared/realdata/semseg-pcb"))
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    rng = random.Random(args.seed)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    shape_cases = []
    for _ in range(args.shapes):
        img, mask = scene(rng, w, h)
        image, classes = np.asarray(img), np.asarray(mask)
        shape_cases += [(image, obj) for obj in objects(classes, 200)]
    run(f"shapes {w}x{h}", shape_cases, args.jitter, rng)
    if (args.pcb / "mask.png").is_file():
        image, classes = pcb_scene(args.pcb, args.seed)
        run(
            "semseg-pcb (board rendered from the real mask)",
            [(image, o) for o in objects(classes, 100)],
            args.jitter,
            rng,
        )
    else:
        print(f"semseg-pcb: {args.pcb / 'mask.png'} not found, skipped")


if __name__ == "__main__":
    main()

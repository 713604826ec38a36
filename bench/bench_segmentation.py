"""Semantic-segmentation figures on a 4000x3000 (12-megapixel) image, 3 workers: the cost of checking one
answer at submit (base64 + PNG decode + palette check), of the per-pixel vote, and of encoding the output PNG.

    python bench/bench_segmentation.py
"""

from __future__ import annotations

import base64
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's gtcore

from gtcore.consolidation.segmentation import vote
from gtcore.core.colors import semseg_colors
from gtcore.output.mask_png import decode_color_png, encode_palette_png
from gtcore.queue.answer_checks import validate_answer

W, H = 4000, 3000
LABELS = ["IC", "resistor1", "resistor2"]


def worker_mask(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = np.zeros((H, W), dtype=np.uint8)
    for _ in range(40):  # 40 painted blobs of random classes
        x, y = int(rng.integers(0, W - 400)), int(rng.integers(0, H - 300))
        m[y : y + int(rng.integers(50, 300)), x : x + int(rng.integers(50, 400))] = int(rng.integers(1, 4))
    return m


def timed(fn, n: int = 5) -> float:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main() -> None:
    print(f"load average at start: {os.getloadavg()}")
    masks = [worker_mask(s) for s in range(3)]
    colors = semseg_colors(LABELS)
    png = encode_palette_png(masks[0], colors)
    answer = {
        "crowd-semantic-segmentation": {
            "labeledImage": {"pngImageData": base64.b64encode(png).decode()},
            "labelMappings": {n: {"color": colors[i + 1]} for i, n in enumerate(LABELS)},
            "inputImageProperties": {"height": H, "width": W},
        }
    }
    b64 = answer["crowd-semantic-segmentation"]["labeledImage"]["pngImageData"]
    print(f"answer PNG: {len(png) / 1024:.0f} KiB ({len(b64) / 1024:.0f} KiB base64)")
    check = timed(lambda: validate_answer("SemanticSegmentation", LABELS, answer))
    print(f"check one answer at submit (median of 5): {check * 1000:.0f} ms")
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colors], dtype=np.uint8)[masks[0]]
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG")
    rgb_png = buf.getvalue()
    rgb_check = timed(lambda: decode_color_png(rgb_png, colors, (W, H)), n=3)
    print(f"decode + palette check of the same mask as an RGB PNG: {rgb_check * 1000:.0f} ms")
    print(f"encode the worker's answer PNG: {timed(lambda: encode_palette_png(masks[0], colors)) * 1000:.0f} ms")
    print(f"per-pixel vote of 3 workers: {timed(lambda: vote(masks, 4)) * 1000:.0f} ms")
    result = vote(masks, 4)
    print(f"encode the output palette PNG: {timed(lambda: encode_palette_png(result.mask, colors)) * 1000:.0f} ms")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()

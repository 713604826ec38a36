"""Image decoding budgets bytes, not pixels, and reduces 16-bit and float images in bounded memory.

The issue's case: a small 16-bit TIFF of many megapixels took 2.5 GB (float64 copies of every pixel). Here a
25 MP 16-bit TIFF and a 25 MP float TIFF are decoded in a fresh process whose peak RSS growth is measured; the
byte budget refuses what its bytes per pixel make too large (naming the file and the setting); and no more
decodes run at once than the process-wide cap.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gtcore.core.errors import ImageError
from gtcore.images import decoding

REPO = Path(__file__).resolve().parents[2]
SIDE = 5000  # 25 MP

_CHILD = """
import json, sys
from gtcore.images import decoding
data = open(sys.argv[1], "rb").read()
max_side = int(sys.argv[2]) or None
def status(key):  # kB; ru_maxrss would carry the parent's peak across exec
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(key + ":"))
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
before = status("VmRSS")
d = decoding.decode(data, max_side=max_side, uri=sys.argv[1])
after = status("VmHWM")
print(json.dumps({"grown_mb": (after - before) / 1024, "size": d.image.size, "mode": d.image.mode,
                  "corner": d.image.getpixel((d.image.width - 1, d.image.height - 1))}))
"""


def _tiff(path: Path, arr: np.ndarray) -> Path:
    Image.fromarray(arr).save(path, format="TIFF", compression="tiff_deflate")
    return path


def _decode_in_child(path: Path, max_side: int = 0) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "GT_MAX_DECODE_BYTES": str(400_000_000)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(max_side)], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def gradient() -> np.ndarray:
    return np.broadcast_to(np.linspace(0, 1, SIDE, dtype=np.float32), (SIDE, SIDE))


def test_a_16_bit_tiff_is_reduced_in_bounded_memory(tmp_path: Path, gradient: np.ndarray) -> None:
    path = _tiff(tmp_path / "deep.tif", (gradient * 65535).astype(np.uint16))
    assert path.stat().st_size < 20_000_000  # small on disk, 50 MB of 16-bit pixels
    full = _decode_in_child(path)
    # stored 16-bit (50 MB) + 8-bit grey (25 MB) + RGB (75 MB): float64 copies would add 200 MB each
    assert full["size"] == [SIDE, SIDE] and full["corner"] == [255, 255, 255]
    assert full["grown_mb"] < 260, full
    small = _decode_in_child(path, max_side=1000)
    assert max(small["size"]) == 1000 and small["grown_mb"] < 200, small


def test_a_float_tiff_is_reduced_in_bounded_memory(tmp_path: Path, gradient: np.ndarray) -> None:
    arr = gradient * 1000.0 - 500.0
    arr[0, 0] = np.nan
    path = _tiff(tmp_path / "float.tif", arr.astype(np.float32))
    full = _decode_in_child(path)
    assert full["corner"] == [255, 255, 255]
    assert full["grown_mb"] < 330, full  # stored float32 100 MB + 8-bit 25 MB + RGB 75 MB


def test_the_budget_counts_bytes_per_pixel(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = decoding.max_decode_bytes()
    try:
        decoding.configure(max_bytes=10_000_000)
        grey8 = io.BytesIO()
        Image.new("L", (2500, 2500)).save(grey8, format="PNG")  # 6.25 MB as stored: accepted
        assert decoding.decode(grey8.getvalue(), max_side=100).image.size == (100, 100)
        deep = io.BytesIO()
        Image.fromarray(np.zeros((2500, 2500), dtype=np.uint16)).save(deep, format="PNG")  # same pixels, 12.5 MB
        with pytest.raises(ImageError, match=r"s3://b/deep\.png: refused: 2500x2500 .*GT_MAX_DECODE_BYTES"):
            decoding.decode(deep.getvalue(), max_side=100, uri="s3://b/deep.png")
        assert decoding.mode_bytes("I;16") == 2 and decoding.mode_bytes("F") == 4 and decoding.mode_bytes("RGB") == 3
    finally:
        decoding.configure(max_bytes=saved)


def test_no_more_decodes_at_once_than_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = decoding._limits.concurrency or 2
    decoding.configure(concurrency=2)
    running, peak, lock = 0, 0, threading.Lock()
    real = decoding.to_rgb

    def counting(im: Image.Image, uri: str) -> Image.Image:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.2)
        with lock:
            running -= 1
        return real(im, uri)

    monkeypatch.setattr(decoding, "to_rgb", counting)
    buf = io.BytesIO()
    Image.new("L", (64, 64)).save(buf, format="PNG")
    try:
        threads = [threading.Thread(target=decoding.decode, args=(buf.getvalue(),)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        decoding.configure(concurrency=saved)
    assert peak == 2


def test_the_cap_holds_on_first_use_from_many_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool is made once even when many threads decode for the first time together."""
    monkeypatch.setenv("GT_DECODE_CONCURRENCY", "1")
    saved = (decoding._limits.max_bytes, decoding._limits.concurrency)
    monkeypatch.setattr(decoding._limits, "_pool", None)
    running, peak, lock = 0, 0, threading.Lock()
    real = decoding.to_rgb

    def counting(im: Image.Image, uri: str) -> Image.Image:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.2)
        with lock:
            running -= 1
        return real(im, uri)

    monkeypatch.setattr(decoding, "to_rgb", counting)
    buf = io.BytesIO()
    Image.new("L", (64, 64)).save(buf, format="PNG")
    try:
        threads = [threading.Thread(target=decoding.decode, args=(buf.getvalue(),)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        decoding.configure(max_bytes=saved[0] or 400_000_000, concurrency=saved[1] or 2)
    assert peak == 1

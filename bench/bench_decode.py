"""Peak memory of decoding the worst-case images the limits let through (issue 25.5).

Under the default limits (100 megapixels, ``GT_MAX_DECODE_BYTES`` = 400 MB as stored, ``GT_DECODE_CONCURRENCY`` 2)
the worst cases are a 99.8 MP 16-bit TIFF (the issue's case: tiny on disk, 200 MB of pixels), a 99.8 MP float32
TIFF and a 99.8 MP RGBA PNG (400 MB each, at the budget). Each is decoded in a fresh process and the growth of its
peak RSS is printed, for ``decode`` at full size (the 1:1 zoom base) and at 1600 px (the task image), next to a
bare baseline measured in the same run: Pillow's own ``Image.open(...).load()`` of the same file (the stored pixels
and nothing else). Then 6 threads decode the 16-bit TIFF at 1600 px at once in one process (the viewer's tiles and
the prefetch): the semaphore lets 2 run.

    python bench/bench_decode.py [--side 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, threading, time
from PIL import Image
from gtcore.images import decoding
path, how, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(path, "rb").read()
def status(key):  # kB; ru_maxrss would carry the parent's peak across exec
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(key + ":"))
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
before = status("VmRSS")
t0 = time.perf_counter()
if how == "bare":
    Image.MAX_IMAGE_PIXELS = None
    im = Image.open(path); im.load()
else:
    side = int(how) or None
    def one():
        decoding.decode(data, max_side=side, uri=path)
    ts = [threading.Thread(target=one) for _ in range(threads)]
    [t.start() for t in ts]; [t.join() for t in ts]
after = status("VmHWM")
print(json.dumps({"mb": (after - before) / 1024, "s": time.perf_counter() - t0}))
"""


def _run(path: Path, how: str, threads: int = 1) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), how, str(threads)], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        return {"mb": float("nan"), "s": float("nan"), "error": out.stderr.strip().splitlines()[-1]}  # type: ignore[dict-item]
    return json.loads(out.stdout)


def _make(folder: Path, side: int) -> dict[str, Path]:
    h = side * 998 // 1000  # 99.8 MP at side 10000
    ramp = np.linspace(0, 1, side, dtype=np.float32)
    files: dict[str, Path] = {}
    deep = np.empty((h, side), dtype=np.uint16)
    deep[:] = (ramp * 65535).astype(np.uint16)
    files["16-bit grey TIFF"] = folder / "deep.tif"
    Image.fromarray(deep).save(files["16-bit grey TIFF"], compression="tiff_deflate")
    del deep
    flt = np.empty((h, side), dtype=np.float32)
    flt[:] = ramp * 1000 - 500
    files["float32 TIFF"] = folder / "float.tif"
    Image.fromarray(flt).save(files["float32 TIFF"], compression="tiff_deflate")
    del flt
    files["RGBA PNG"] = folder / "rgba.png"
    Image.new("RGBA", (side, h), (200, 30, 30, 128)).save(files["RGBA PNG"], compress_level=1)
    return files


def _fmt(r: dict[str, float], bare: dict[str, float]) -> str:
    if "error" in r:
        return "refused"
    ratio = f"{r['mb'] / bare['mb']:4.1f}x" if bare.get("mb", 0) > 1 else "  -  "
    return f"{r['mb']:5.0f} MB {ratio} {r['s']:4.1f}s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=10000, help="image width (height 99.8%% of it)")
    args = ap.parse_args()
    print(f"load: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        files = _make(Path(tmp), args.side)
        print(f"{'image':<18} {'on disk':>9} {'bare load':>10} {'full size':>18} {'1600 px':>18}")
        for name, path in files.items():
            bare = _run(path, "bare")
            full = _run(path, "0")
            small = _run(path, "1600")

            disk = path.stat().st_size / 1e6
            print(f"{name:<18} {disk:6.1f} MB {bare['mb']:7.0f} MB {_fmt(full, bare):>18} {_fmt(small, bare):>18}")
        many = _run(files["16-bit grey TIFF"], "1600", threads=6)
        print(f"6 threads decoding the 16-bit TIFF at 1600 px in one process: +{many['mb']:.0f} MB, {many['s']:.1f} s")


if __name__ == "__main__":
    main()

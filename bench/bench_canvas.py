"""Benchmark: bytes sent to the browser per labeling task by the canvas (gtcore.ui.canvas.box_canvas).

A 12-megapixel source JPEG (4000x3000, photo-like synthetic content) is reduced server-side by
gtcore.images.decoding.display_jpeg to ~1000 px wide and shown through box_canvas in tests/apps/canvas_demo.py,
served by ``streamlit run`` and driven by Debian chromium through Playwright. Counted: websocket frame
payloads (Streamlit's protocol; no permessage-deflate is negotiated, so payload = wire bytes less frame
headers) and HTTP responses from /media/ (headers + body). Streamlit's own JS/CSS/fonts are printed
apart: the browser caches them after the first visit.

Target: bytes per task (first load of a task's image) < 1.5x the display JPEG.

    python bench/bench_canvas.py [--tasks 4] [--max-side 1000] [--inline]

--inline also measures the library's default path (the JPEG inlined as a base64 data URL).
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

from gtcore.images.decoding import display_jpeg  # noqa: E402
from tests.browser import (  # noqa: E402
    HttpMeter,
    StreamlitServer,
    WsMeter,
    chromium_missing_reason,
    draw_box,
    launch_chromium,
    new_page,
    read_json,
    wait_for_idle,
    wait_until,
)

DEMO = Path(__file__).resolve().parents[1] / "tests" / "apps" / "canvas_demo.py"


def photo_like(seed: int, size: tuple[int, int] = (4000, 3000)) -> bytes:
    """A 12 MP JPEG with smooth regions, edges and sensor-like noise (compresses like a photo)."""
    import random

    rnd = random.Random(seed)
    small = Image.linear_gradient("L").resize((size[0] // 4, size[1] // 4)).convert("RGB")
    draw = ImageDraw.Draw(small)
    for _ in range(120):
        x, y = rnd.randrange(small.width), rnd.randrange(small.height)
        r = rnd.randrange(10, 220)
        color = tuple(rnd.randrange(256) for _ in range(3))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)([x - r, y - r // 2, x + r, y + r // 2], fill=color)
    img = small.filter(ImageFilter.GaussianBlur(2)).resize(size, Image.Resampling.BICUBIC)
    # texture that survives the 4x reduction (a display JPEG of ~140 KB, like a detailed photo) ...
    texture = Image.effect_noise((size[0] // 4, size[1] // 4), 40).resize(size, Image.Resampling.BICUBIC)
    img = Image.blend(img, texture.convert("RGB"), 0.2)
    # ... and pixel-level sensor noise
    img = Image.blend(img, Image.effect_noise(size, 24).convert("RGB"), 0.12)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def task_shown(out: Path, index: int) -> bool:
    d = read_json(out)
    return d is not None and d["image"] == index and d["boxes"] is not None


def ws_and_media(ws: WsMeter, http: HttpMeter, mark: str, media_before: int) -> tuple[int, int]:
    recv, _ = ws.since(mark)
    return recv, sum(http.under("/media/").values()) - media_before


def run(sources: list[Path], jpeg_sizes: list[int], max_side: int, inline: bool, tmp: Path) -> dict[str, Any]:
    out = tmp / ("inline.json" if inline else "url.json")
    env = {
        "GT_CANVAS_DEMO_OUT": str(out),
        "GT_CANVAS_DEMO_SOURCE": os.pathsep.join(map(str, sources)),
        "GT_CANVAS_DEMO_MAX_SIDE": str(max_side),
        "GT_CANVAS_DEMO_LABELS": '["car", "person"]',
    }
    if inline:
        env["GT_CANVAS_DEMO_INLINE"] = "1"
    res: dict[str, Any] = {"tasks": []}
    with StreamlitServer(DEMO, env, log_path=tmp / "streamlit.log") as app, launch_chromium() as browser:
        page = new_page(browser, width=1400, height=1100)
        ws, http = WsMeter.attach(page), HttpMeter.attach(page)
        ws.mark("load")
        t0 = time.perf_counter()
        page.goto(app.base_url)
        wait_until(lambda: (d := read_json(out)) is not None and d["boxes"] is not None, what="first report")
        res["first_seconds"] = time.perf_counter() - t0
        wait_for_idle(page)
        recv, media = ws_and_media(ws, http, "load", 0)
        res["static"] = http.received - sum(http.under("/media/").values())
        assert read_json(out)["jpeg_bytes"] == jpeg_sizes[0], "the app made a different display JPEG"
        res["tasks"].append((jpeg_sizes[0], recv, media, res["first_seconds"]))

        ws.mark("draw")
        draw_box(page, (100, 100), (300, 250))
        wait_until(lambda: len((read_json(out) or {}).get("boxes") or []) == 1, what="one box")
        wait_for_idle(page)
        res["draw"] = ws.since("draw")
        ws.mark("switch")
        page.keyboard.press("2")
        wait_until(lambda: (read_json(out) or {}).get("label") == "person", what="label switch")
        wait_for_idle(page)
        res["switch"] = ws.since("switch")

        for i in range(1, len(sources)):
            media_before = sum(http.under("/media/").values())
            ws.mark(f"task{i}")
            t0 = time.perf_counter()
            page.get_by_role("button", name="Next image").click()
            wait_until(functools.partial(task_shown, out, i), what=f"task {i}")
            seconds = time.perf_counter() - t0
            wait_for_idle(page)
            recv, media = ws_and_media(ws, http, f"task{i}", media_before)
            assert read_json(out)["jpeg_bytes"] == jpeg_sizes[i], "the app made a different display JPEG"
            res["tasks"].append((jpeg_sizes[i], recv, media, seconds))
        page.context.close()
    return res


def report(name: str, res: dict[str, Any]) -> None:
    print(f"\n[{name}]")
    print(f"  Streamlit static assets (first visit only, then cached): {res['static']:,} B")
    ratios = []
    for n, (jpeg, recv, media, seconds) in enumerate(res["tasks"]):
        total = recv + media
        ratio = total / jpeg
        ratios.append(ratio)
        kind = "first page load" if n == 0 else f"next task {n}"
        print(
            f"  {kind:16s}: JPEG {jpeg:>8,} B | websocket {recv:>8,} B + /media/ {media:>8,} B = {total:>8,} B"
            f" = {ratio:.3f}x  ({seconds:.2f} s to the canvas report)"
        )
    print(
        f"  bytes per task / display JPEG: median {statistics.median(ratios):.3f}x, max {max(ratios):.3f}x"
        f" (target < 1.5x: {'met' if max(ratios) < 1.5 else 'NOT met'})"
    )
    print(f"  drawing one box: {res['draw'][0]:,} B received, {res['draw'][1]:,} B sent")
    print(f"  switching label: {res['switch'][0]:,} B received, {res['switch'][1]:,} B sent")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--max-side", type=int, default=1000)
    ap.add_argument("--inline", action="store_true", help="also measure the inline base64 data-URL path")
    args = ap.parse_args()
    reason = chromium_missing_reason()
    if reason:
        print(f"cannot run: {reason}")
        return 2
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        sources, jpeg_sizes, prep = [], [], []
        for i in range(args.tasks):
            data = photo_like(i)
            path = tmp / f"photo{i}.jpg"
            path.write_bytes(data)
            t0 = time.perf_counter()
            jpeg, scale, orig = display_jpeg(data, args.max_side)
            prep.append(time.perf_counter() - t0)
            w, h = Image.open(io.BytesIO(jpeg)).size
            sources.append(path)
            jpeg_sizes.append(len(jpeg))
            print(
                f"source {i}: {orig[0]}x{orig[1]} {len(data):,} B -> display {w}x{h} {len(jpeg):,} B "
                f"(scale {scale:.4f}) in {prep[-1] * 1000:.0f} ms"
            )
        print(f"display_jpeg of a 12 MP JPEG: median {statistics.median(prep) * 1000:.0f} ms")
        report("media URL (box_canvas default)", run(sources, jpeg_sizes, args.max_side, False, tmp))
        if args.inline:
            report(
                "inline base64 data URL (library default, for comparison)",
                run(sources, jpeg_sizes, args.max_side, True, tmp),
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The source images and the non-box task pages timed by ``bench_label.py``: photo-like JPEGs with a probe colour
in the middle (so the next image is recognised on screen at any zoom), and Submit -> next image on a
classification job and on a semantic-segmentation job, the figures the box page is compared with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from tests.browser import canvas_box, wait_for_idle, wait_until
from tests.fixtures.labeling import start_job, task_caption, wait_background


def probe_color(i: int) -> tuple[int, int, int]:
    """Distinct, saturated colours: consecutive images differ by far more than the probe tolerance."""
    palette = [(230, 30, 30), (30, 200, 40), (30, 60, 230), (240, 220, 20), (200, 30, 220), (20, 210, 220)]
    r, g, b = palette[i % len(palette)]
    shade = (i // len(palette)) * 9 % 40
    return max(0, r - shade), max(0, g - shade), max(0, b - shade)


def photo(size: tuple[int, int]) -> np.ndarray:
    """Photo-like pixels (smooth waves and sensor noise): a 12 MP JPEG of them weighs about 4-5 MB."""
    w, h = size
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:h, 0:w]
    base = (np.sin(xx / 61.0) * 50 + np.cos(yy / 41.0) * 50 + 128)[..., None]
    return np.clip(base + rng.normal(0, 14, (h, w, 3)), 0, 255).astype("uint8")


def make_image(path: Path, pixels: np.ndarray, probe: tuple[int, int, int], seed: int) -> Path:
    """One source JPEG: ``pixels`` shifted by ``seed``, with a probe square in the middle (seen at any zoom)."""
    img = Image.fromarray(np.roll(pixels, seed * 37, axis=1), "RGB")
    w, h = img.size
    side = w // 6
    ImageDraw.Draw(img).rectangle(
        [w // 2 - side // 2, h // 2 - side // 2, w // 2 + side // 2, h // 2 + side // 2], fill=probe
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="JPEG", quality=90)
    return path


IMAGE_JS = """(old) => {
  const im = document.querySelector('[data-testid="stImage"] img');
  return im && im.src !== old && im.complete && im.naturalWidth > 0 ? performance.now() : false;
}"""


def classify_times(page: Any, job: Any, n: int) -> list[float]:
    """Submit -> the next image shown on a classification job: pick "car", Ctrl+Enter, the next image loaded."""
    start_job(page, job.request["HumanTaskConfig"]["TaskTitle"])
    out = []
    for i in range(n):
        wait_until(lambda: page.locator('[data-testid="stImage"] img').count() > 0, what="the image")
        wait_for_idle(page, settle=0.2)
        page.get_by_text("car", exact=True).first.click()
        wait_for_idle(page, settle=0.2)
        page.evaluate("() => document.activeElement && document.activeElement.blur()")  # keys go to the page
        old = page.locator('[data-testid="stImage"] img').first.get_attribute("src")
        page.keyboard.press("Control+Enter")
        shown = float(page.wait_for_function(IMAGE_JS, arg=old, polling="raf", timeout=60_000).json_value())
        out.append(shown - float(page.evaluate("() => window.__gtKeyAt")))
        wait_until(lambda i=i: task_caption(page).startswith(f"Object {i + 2} "), what="the next task")
    return out


def mask_times(page: Any, job: Any, n: int) -> list[float]:
    """Submit -> the next image painted on a semantic-segmentation job: one brush stroke, Ctrl+Enter, the next
    image's probe colour on the mask canvas's background."""
    start_job(page, job.request["HumanTaskConfig"]["TaskTitle"])
    out = []
    for i in range(n):
        cb = canvas_box(page)
        mid = (int(cb.width // 2), int(cb.height // 2))
        wait_background(page, probe_color(i), at=mid)
        wait_for_idle(page, settle=0.5)
        for attempt in range(3):  # a stroke made while the canvas is being replaced (a new room) is not kept
            cb = canvas_box(page)
            page.mouse.move(round(cb.x + 20), round(cb.y + 20 + 10 * attempt))
            page.mouse.down()
            page.mouse.move(round(cb.x + 120), round(cb.y + 40 + 10 * attempt), steps=8)
            page.mouse.up()
            try:
                wait_until(lambda: page.get_by_text("pixels of this image labelled").count() > 0, what="the stroke")
                break
            except TimeoutError:
                wait_for_idle(page, settle=0.5)
        wait_for_idle(page, settle=0.2)
        cb = canvas_box(page)
        mid = (int(cb.width // 2), int(cb.height // 2))
        page.keyboard.press("Control+Enter")
        painted = wait_background(page, probe_color(i + 1), at=mid, timeout=90)
        out.append(painted - float(page.evaluate("() => window.__gtKeyAt")))
        wait_until(lambda i=i: task_caption(page).startswith(f"Object {i + 2} "), what="the next task")
    return out

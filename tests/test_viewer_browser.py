"""The manifest viewer in a real browser: app.py under ``streamlit run``, Debian chromium via Playwright.

An auditor signs in through the real form, goes to the Manifest viewer, opens a local job output,
opens line 1 and the test samples pixels of the rendered detail picture (3-pixel lines, JPEG 4:4:4):
on each box edge the class colour must be there, just inside and just outside the edge the grey
background.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from gtcore.context import Context
from gtcore.core.colors import class_color
from gtcore.core.settings import Settings
from tests.browser import color_distance, exception_text, pixel, wait_for_idle
from tests.fixtures.people import PASSWORD, People
from tests.fixtures.viewer import BACKGROUND, SIZE, DemoJob, boxes_for

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[1]


def _click(page: Any, css: str) -> None:
    page.locator(css).first.click()
    wait_for_idle(page)


def test_boxes_are_drawn_where_the_manifest_says(
    tmp_path: Path, demo_job: DemoJob, people: type[People], page: Any, streamlit_app: Callable[..., str]
) -> None:
    home = tmp_path / "gt-home"
    env = {
        "GT_HOME": str(home),
        "GT_DATABASE_URL": f"sqlite:///{home / 'gt.sqlite3'}",
        "GT_LOCAL_ROOTS": str(tmp_path),
        "GT_S3_ENDPOINT_URL": "",
        "GT_ALLOWED_BUCKETS": "",
        "GT_SMTP_HOST": "",
    }
    ctx = Context.from_settings(Settings.from_env(env, cwd=tmp_path))
    p = people(ctx)
    p.admin()
    auditor = p.auditor()
    ctx.db.dispose()

    page.goto(streamlit_app(REPO / "app.py", env))
    wait_for_idle(page)
    page.get_by_label("E-mail address").fill(auditor.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    wait_for_idle(page)
    page.get_by_role("link", name="Manifest viewer").click()
    wait_for_idle(page)
    page.locator(".st-key-viewer_kind").get_by_text("Path or S3 URI").click()
    wait_for_idle(page)
    page.get_by_label("Manifest path or URI").fill(str(demo_job.manifest))
    page.get_by_label("Manifest path or URI").press("Enter")
    wait_for_idle(page)
    _click(page, ".st-key-viewer_open button")
    assert exception_text(page) is None, exception_text(page)
    _click(page, ".st-key-viewer_open_0 button")
    assert exception_text(page) is None, exception_text(page)

    img = page.locator(".st-key-viewer_detail_main img").first
    img.wait_for(state="visible")
    natural = img.evaluate("e => [e.naturalWidth, e.naturalHeight]")
    assert natural == list(SIZE)  # small images are shown at their own size, never enlarged
    shot = Image.open(io.BytesIO(img.screenshot())).convert("RGB")
    s = shot.width / SIZE[0]  # rendered CSS pixels per original pixel
    assert abs(shot.height / SIZE[1] - s) < 0.02

    boxes = boxes_for(0)
    assert len(boxes) == 2
    for b in boxes:
        rgb = class_color(b["class_id"])
        mid_y = (b["top"] + b["height"] / 2) * s
        mid_x = (b["left"] + b["width"] / 2) * s
        left_edge = pixel(shot, ((b["left"] + 1) * s, mid_y))
        right_edge = pixel(shot, ((b["left"] + b["width"] - 2) * s, mid_y))
        bottom_edge = pixel(shot, (mid_x, (b["top"] + b["height"] - 2) * s))
        for got in (left_edge, right_edge, bottom_edge):
            assert color_distance(got, rgb) < 60, (b, got, rgb)
        outside = pixel(shot, ((b["left"] - 4) * s, mid_y))
        inside = pixel(shot, ((b["left"] + 7) * s, mid_y))
        for got in (outside, inside):
            assert color_distance(got, BACKGROUND) < 30, (b, got)

"""Zoom and pan on the labeling canvas in Debian chromium (issue 16 part 1): the real app.py, a 7168 x 4562 image.

The worker draws a box at Fit, zooms to 1:1 with the keyboard, pans away from it with the arrow keys, draws a
20 x 12 px box, and submits with Ctrl+Enter. The stored answer (gtcore's database, and the worker-response
file when it is written) must hold the small box within 1 original pixel and the first box exactly as drawn,
although it was outside the view; the browser must never have received more pixels than the canvas shows.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from gtcore.core import db as dbm
from tests.browser import canvas_box, draw_box, new_page, wait_for_idle, wait_until
from tests.fixtures.labeling import APP, LabelWorld, sign_in, start_job, wait_task
from tests.fixtures.people import PASSWORD

pytestmark = pytest.mark.browser

BIG = (7168, 4562)
VIEW_RE = re.compile(r"Zoom (\S+).*?showing x ([\d.]+)-([\d.]+), y ([\d.]+)-([\d.]+)\.")


def shown_view(page: Any) -> tuple[str, float, float, float, float]:
    """(level, x0, x1, y0, y1) from the zoom bar's caption."""
    text = str(page.get_by_text(VIEW_RE).first.inner_text())
    m = VIEW_RE.search(text)
    assert m, text
    return m.group(1), float(m.group(2)), float(m.group(3)), float(m.group(4)), float(m.group(5))


def wait_view(page: Any, level: str, *, moved_from: tuple[Any, ...] | None = None) -> tuple[str, float, ...]:
    def ready() -> tuple[str, float, ...] | None:
        view = shown_view(page)
        if view[0] != level or (moved_from is not None and view == moved_from):
            return None
        return view

    view = wait_until(ready, what=f"the view at {level}", timeout=30)
    wait_for_idle(page)
    return view


def stored_answer(world: LabelWorld, job_id: int, idx: int) -> dict[str, Any]:
    a = dbm.assignments
    with world.ctx.db.read() as conn:
        row = conn.execute(
            select(a).where(a.c.job_id == job_id, a.c.object_idx == idx, a.c.status == "submitted")
        ).one()
    body: dict[str, Any] = json.loads(row.answer_json)
    return body


def test_zoom_pan_draw_small_box_lands_within_one_pixel(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    world.worker("zoom@example.test")
    images = [world.image(f"diagram{i}", BIG, fmt="JPEG", rects=((6000, 3600, 20, 12),)) for i in range(2)]
    job = world.box_job("diagrams", images, labels=["valve", "pump"])
    url = streamlit_app(APP, world.env)

    page = new_page(browser, width=1400, height=1200)  # tall enough that the column's width sets the Fit size
    media: list[tuple[int, int]] = []

    def on_response(resp: Any) -> None:
        if "/media/" in resp.url and resp.ok:
            try:
                with Image.open(io.BytesIO(resp.body())) as im:
                    media.append(im.size)
            except Exception:  # not an image
                pass

    page.on("response", on_response)
    sign_in(page, url, "zoom@example.test", PASSWORD)
    start_job(page, job.request["HumanTaskConfig"]["TaskTitle"])
    assert wait_task(page, boxes=0) == 0
    fit = wait_view(page, "Fit")
    # .streamlit/config.toml: users see the product only, no "Deploy" button and no developer menu
    assert page.get_by_role("button", name="Deploy").count() == 0
    assert page.locator('[data-testid="stAppDeployButton"], [data-testid="stMainMenu"]').count() == 0
    cb = canvas_box(page)
    assert cb.width > 640, f"the canvas should use the column's width, not 576 px: {cb}"
    assert abs(cb.width / cb.height - BIG[0] / BIG[1]) < 0.01

    # a box at Fit in the top-left quarter, which the zoomed view below will not show
    draw_box(page, (40, 30), (140, 100))
    wait_task(page, boxes=1)
    wait_for_idle(page)
    first = stored_draft_boxes(world, job.job_id)
    assert len(first) == 1

    page.keyboard.press("o")  # 1:1
    one = wait_view(page, "1:1", moved_from=fit)
    page.keyboard.press("ArrowRight")
    panned = wait_view(page, "1:1", moved_from=one)
    page.keyboard.press("ArrowDown")
    panned = wait_view(page, "1:1", moved_from=panned)
    _, x0, x1, y0, y1 = panned
    assert x0 > one[1] and y0 > one[3], (one, panned)
    cb = canvas_box(page)
    assert abs((x1 - x0) - cb.width) < 1.5 and abs((y1 - y0) - cb.height) < 1.5  # 1:1: a canvas px per image px
    wait_task(page, boxes=1)  # the Fit box is outside the view, still counted

    # a 20 x 12 px box in the middle of the view
    want = {"left": round(x0 + cb.width / 2), "top": round(y0 + cb.height / 2), "width": 20, "height": 12}
    start = (want["left"] - x0, want["top"] - y0)
    end = (start[0] + want["width"], start[1] + want["height"])
    got_start, got_end = draw_box(page, start, end)
    wait_task(page, boxes=2)
    wait_for_idle(page)

    page.keyboard.press("Control+Enter")
    page.get_by_text("Submitted: object 1 of").wait_for(timeout=30_000)
    assert wait_task(page, boxes=0) == 1
    assert shown_view(page)[0] == "1:1"  # the zoom level carries over to the next task

    body = stored_answer(world, job.job_id, 0)["boundingBox"]
    assert body["inputImageProperties"] == {"width": BIG[0], "height": BIG[1]}
    boxes = body["boundingBoxes"]
    assert len(boxes) == 2, boxes
    small = next(b for b in boxes if b["width"] < 40)
    for k, v in want.items():
        assert abs(small[k] - v) <= 1.0, f"{k}: stored {small[k]}, drawn at {v} (browser got {got_start}, {got_end})"
    assert small["label"] == "valve"
    kept = next(b for b in boxes if b is not small)
    assert kept == {k: first[0][k] for k in ("height", "label", "left", "top", "width")}  # exactly as drawn at Fit

    files = world.responses(job.name)
    if 0 in files:  # written in the submit today; a background worker may write it later
        assert files[0][0]["answerContent"]["boundingBox"]["boundingBoxes"] == boxes

    # the browser got views and a thumbnail, never anything larger than what the canvas shows
    assert media, "no image was fetched"
    biggest = max(w * h for w, h in media)
    assert biggest <= round(cb.width) * round(cb.height) + 2000, media
    assert all(w <= BIG[0] // 4 and h <= BIG[1] // 4 for w, h in media), media
    page.context.close()


def stored_draft_boxes(world: LabelWorld, job_id: int) -> list[dict[str, Any]]:
    a = dbm.assignments
    with world.ctx.db.read() as conn:
        row = conn.execute(select(a).where(a.c.job_id == job_id, a.c.status == "leased")).one()
    boxes: list[dict[str, Any]] = json.loads(row.draft_json)["boundingBox"]["boundingBoxes"]
    return boxes

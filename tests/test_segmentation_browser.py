"""Semantic segmentation and label verification in Debian chromium: the real app.py under ``streamlit run``.

The image is 1152x864, shown at Fit (the canvas's size sets the scale): a brush stroke, a polygon fill (after
switching the label with key 2) and an eraser stroke are painted on the display canvas, and the output PNG
(original size) must have the right class in the right original pixels.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gtcore.jobs import api as jobs
from gtcore.queue import api as queue
from tests.browser import canvas_box, new_page, wait_for_idle, wait_until
from tests.fixtures.core import run_work
from tests.fixtures.labeling import APP, LabelWorld, sign_in, start_job
from tests.fixtures.people import PASSWORD

pytestmark = pytest.mark.browser

SIZE = (1152, 864)


def stroke(page: Any, points: list[tuple[float, float]], steps: int = 10) -> list[tuple[float, float]]:
    """Drag through ``points`` (canvas px), snapped to whole page pixels as Chromium delivers them; returns the
    canvas points the browser received."""
    cb = canvas_box(page)
    snapped = [(round(cb.x + x), round(cb.y + y)) for x, y in points]
    page.mouse.move(*snapped[0])
    page.mouse.down()
    for x, y in snapped[1:]:
        page.mouse.move(x, y, steps=steps)
    page.mouse.up()
    wait_for_idle(page)
    return [(x - cb.x, y - cb.y) for x, y in snapped]


def click(page: Any, x: float, y: float) -> None:
    cb = canvas_box(page)
    page.mouse.click(cb.x + x, cb.y + y)
    page.wait_for_timeout(150)


def painted_caption(page: Any) -> bool:
    return page.get_by_text("pixels of this image labelled").count() > 0


def test_brush_polygon_and_eraser_land_in_the_right_original_pixels(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    world.worker("ann@example.test")
    img = world.image("board", SIZE, rects=((700, 400, 200, 150),))
    job = world.jobs.create(
        name="boards",
        lines=[{"source-ref": str(img)}],
        task_type="SemanticSegmentation",
        label_attribute="boards-ref",
        labels=["IC", "resistor"],
    )
    url = streamlit_app(APP, world.env)
    page = new_page(browser, width=1280, height=1200)
    sign_in(page, url, "ann@example.test", PASSWORD)
    start_job(page, job.request["HumanTaskConfig"]["TaskTitle"])
    canvas_box(page)
    wait_for_idle(page)
    # the zoom bar is there (masks zoom as boxes do), at Fit: the canvas's size sets the scale
    page.get_by_text(re.compile(r"^Zoom Fit .* of 1152 x 864 px")).wait_for(timeout=30_000)
    cb = canvas_box(page)
    scale = cb.width / SIZE[0]
    assert abs(cb.height / SIZE[1] - scale) < 0.01 and cb.height > 320, cb

    # brush (label IC, 16 screen px = 32 original px): a horizontal stroke at canvas y=100 from x=50 to x=300
    (_, y_got), _ = stroke(page, [(50, 100), (300, 100)])
    wait_until(lambda: painted_caption(page) or None, what="the painted caption", timeout=30)
    # key 2 -> "resistor"; polygon tool; a square from (350, 200) to (450, 300) closed on its first point
    page.keyboard.press("2")
    wait_for_idle(page)
    page.get_by_text("Polygon", exact=True).click()
    wait_for_idle(page)
    for x, y in ((350, 200), (450, 200), (450, 300), (350, 300)):
        click(page, x, y)
    click(page, 350, 200)
    wait_for_idle(page)
    # eraser across the brush stroke at canvas x=200
    page.get_by_text("Eraser", exact=True).click()
    wait_for_idle(page)
    stroke(page, [(200, 60), (200, 140)])
    page.wait_for_timeout(500)
    wait_for_idle(page)

    page.get_by_role("button", name="Submit").click()
    page.get_by_text("Submitted: object 1 of").wait_for(timeout=30_000)
    wait_until(
        lambda: (
            jobs.describe_labeling_job(world.ctx, world.admin, "boards")["LabelingJobStatus"] == "Completed" or None
        ),
        what="the job completed",
        timeout=30,
    )
    out = world.root / "output" / "boards" / "manifests" / "output" / "output.manifest"
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    mask = np.asarray(Image.open(Path(line["boards-ref"])))
    assert mask.shape == (SIZE[1], SIZE[0])  # original resolution, not the display's

    def at(cx: float, cy: float) -> int:  # the class at canvas point (cx, cy), in original pixels
        return int(mask[round(cy / scale), round(cx / scale)])

    assert at(100, 100) == 1 and at(280, 100) == 1  # the brush
    assert at(100, 100 + 6) == 1 and at(100, 100 + 10) == 0  # 16 px wide: radius 8 screen px (16 original)
    column = np.flatnonzero(mask[:, round(100 / scale)] == 1)  # across the stroke: 16 / scale wide, centred on it
    assert abs(len(column) - 16 / scale) <= 2 and np.all(np.diff(column) == 1), (column, scale)
    assert abs(column.mean() - y_got / scale) <= 1.5, (column.mean(), y_got / scale)
    assert at(200, 100) == 0 and at(195, 100) == 0  # erased (the eraser is 16 px wide too)
    assert at(400, 250) == 2 and at(352, 202) == 2 and at(448, 298) == 2  # the polygon, filled
    assert at(460, 250) == 0 and at(400, 310) == 0 and at(10, 400) == 0
    meta = line["boards-ref-metadata"]
    assert meta["internal-color-map"]["2"] == {"class-name": "resistor", "hex-color": "#1f77b4", "confidence": 0}
    page.context.close()


def test_verification_shows_the_boxes_and_takes_a_verdict(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    boxer = world.worker("boxer@example.test")
    world.worker("ann@example.test")
    img = world.image("street", SIZE, rects=((200, 300, 500, 300),))
    src = world.box_job("street", [img], labels=["cat", "dog"])
    task = queue.claim_next(world.ctx, boxer, src.job_id)
    assert task is not None
    box = {"height": 300, "label": "cat", "left": 200, "top": 300, "width": 500}
    ans = {"boundingBox": {"boundingBoxes": [box], "inputImageProperties": {"height": SIZE[1], "width": SIZE[0]}}}
    queue.submit(world.ctx, boxer, task.assignment_id, ans)
    run_work(world.ctx)
    verdicts = world.jobs.write_labels("verdicts", ["Correct", "Incorrect"])
    v = jobs.chain_labeling_job(
        world.ctx,
        world.admin,
        "street",
        "street-checked",
        task_type="VerificationBoundingBox",
        overrides={"LabelCategoryConfigS3Uri": str(verdicts), "HumanTaskConfig": {"TaskTitle": "Check the boxes"}},
    )
    url = streamlit_app(APP, world.env)
    page = new_page(browser)
    sign_in(page, url, "ann@example.test", PASSWORD)
    start_job(page, "Check the boxes")
    page.get_by_text("Labels to verify (street): 1 box(es): cat").wait_for(timeout=30_000)
    shown = page.locator('[data-testid="stImage"] img').last
    shown.wait_for(timeout=30_000)
    assert page.locator("canvas").count() == 0  # drawn into the image, read-only: no canvas to edit
    page.get_by_text("Incorrect", exact=True).click()
    wait_for_idle(page)
    page.get_by_label("Comment (optional)").fill("the box misses the tail")
    page.get_by_label("Comment (optional)").press("Tab")
    wait_for_idle(page)
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("Submitted: object 1 of").wait_for(timeout=30_000)
    out = world.root / "output" / "street-checked" / "manifests" / "output" / "output.manifest"
    wait_until(lambda: out.exists() or None, what="the output manifest", timeout=30)
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert line["street-checked"] == "1" and line["street-checked-metadata"]["class-name"] == "Incorrect"
    assert line["street-checked-metadata"]["worker-feedback"] == [{"comment": "the box misses the tail"}]
    assert v.job_id > 0
    page.context.close()


def test_adjustment_opens_the_earlier_mask_and_keeps_what_is_not_repainted(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    from tests.test_segmentation import answer, painted

    world = label_world
    painter = world.worker("painter@example.test")
    world.worker("ann@example.test")
    images = [world.image(f"adj{i}", SIZE) for i in range(2)]
    src = world.jobs.create(
        name="first-masks",
        lines=[{"source-ref": str(p)} for p in images],
        task_type="SemanticSegmentation",
        label_attribute="first-masks-ref",
        labels=["IC", "resistor"],
    )
    earlier = painted((1, 100, 100, 400, 300), shape=(SIZE[1], SIZE[0]))
    labels = ["IC", "resistor"]
    for _ in images:
        task = queue.claim_next(world.ctx, painter, src.job_id)
        assert task is not None
        queue.submit(world.ctx, painter, task.assignment_id, answer(earlier, labels))
    run_work(world.ctx)
    adj = jobs.chain_labeling_job(
        world.ctx,
        world.admin,
        "first-masks",
        "fixed-masks",
        task_type="AdjustmentSemanticSegmentation",
        overrides={"HumanTaskConfig": {"TaskTitle": "Fix the masks"}},
    )
    url = streamlit_app(APP, world.env)
    page = new_page(browser)
    sign_in(page, url, "ann@example.test", PASSWORD)
    start_job(page, "Fix the masks")
    canvas_box(page)
    wait_for_idle(page)
    from tests.browser import canvas_screenshot, color_distance, pixel

    scale = canvas_box(page).width / SIZE[0]  # Fit

    def tinted() -> bool | None:  # the earlier IC region (original 100..500 x 100..400) shows green
        shot = canvas_screenshot(page)
        return color_distance(pixel(shot, (300 * scale, 200 * scale)), (205, 205, 205)) > 40 or None

    wait_until(tinted, what="the earlier mask blended into the canvas", timeout=30)
    page.get_by_text("Eraser", exact=True).click()
    wait_for_idle(page)
    stroke(page, [(300 * scale, 120 * scale), (300 * scale, 460 * scale)])  # erase a band at original x = 300
    wait_until(lambda: page.get_by_text("pixels of this image labelled").count() > 0 or None, what="caption")
    wait_for_idle(page)
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("Submitted: object 1 of").wait_for(timeout=30_000)
    wait_for_idle(page)
    canvas_box(page)
    wait_until(tinted, what="the second task's earlier mask", timeout=30)
    page.get_by_role("button", name="Submit").click()  # nothing changed
    out = world.root / "output" / "fixed-masks" / "manifests" / "output" / "output.manifest"
    wait_until(lambda: out.exists() or None, what="the output manifest", timeout=60)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["fixed-masks-ref-metadata"]["adjustment-status"] for x in lines] == ["adjusted", "unadjusted"]
    first = np.asarray(Image.open(lines[0]["fixed-masks-ref"]))
    assert first[250, 300] == 0 and first[250, 200] == 1 and first[250, 450] == 1  # erased band, rest kept
    assert np.array_equal(np.asarray(Image.open(lines[1]["fixed-masks-ref"])), earlier)
    assert adj.label_attribute == "fixed-masks-ref"
    page.context.close()

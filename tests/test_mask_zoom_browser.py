"""Masks zoom and pan as boxes do (issue 26 item 5), in Debian chromium: the real app.py, a 7168 x 4562 diagram.

The worker paints at Fit, zooms to 2x with the keyboard, paints and pans away AT ONCE (the stroke's report and
the pan race), paints another label on the panned view, zooms to 4x, erases across that stroke, paints a stroke
and takes it back with the canvas toolbar's undo, and submits. The stored mask (gtcore's database) must have the
original's full size and every stroke at the original pixels it was painted on, whatever the zoom it was painted
at (within a pixel or two of the brush's edge at that zoom).
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from gtcore.core.colors import semseg_colors
from gtcore.output.mask_png import decode_color_png
from tests.browser import canvas_box, new_page, wait_for_idle, wait_until
from tests.fixtures.labeling import APP, LabelWorld, sign_in, start_job
from tests.fixtures.people import PASSWORD
from tests.test_zoom_browser import shown_view, stored_answer, wait_view

pytestmark = pytest.mark.browser

BIG = (7168, 4562)
LABELS = ["valve", "pipe"]
BRUSH = 16  # screen px (the default)


def paint(page: Any, a: tuple[float, float], b: tuple[float, float], *, wait: bool = True) -> tuple[Any, Any]:
    """A brush stroke from ``a`` to ``b`` (canvas px), snapped to whole page pixels; the canvas points received."""
    cb = canvas_box(page)
    pa, pb = (round(cb.x + a[0]), round(cb.y + a[1])), (round(cb.x + b[0]), round(cb.y + b[1]))
    page.mouse.move(*pa)
    page.mouse.down()
    page.mouse.move(*pb, steps=12)
    page.mouse.up()
    if wait:
        wait_for_idle(page)
    return (pa[0] - cb.x, pa[1] - cb.y), (pb[0] - cb.x, pb[1] - cb.y)


def labelled(page: Any) -> int:
    loc = page.get_by_text("pixels of this image labelled")
    if loc.count() == 0:
        return 0
    return int(loc.first.inner_text().split(" of ")[0].replace(",", ""))


def wait_labelled(page: Any, check: Any, what: str) -> int:
    return wait_until(lambda: (n := labelled(page)) and check(n) and n or None, what=what, timeout=45)


class Mapper:
    """Canvas px of the view on the screen -> original px."""

    def __init__(self, page: Any) -> None:
        _, self.x0, x1, self.y0, y1 = shown_view(page)
        cb = canvas_box(page)
        self.scale = cb.width / (x1 - self.x0)
        assert abs(cb.height / (y1 - self.y0) - self.scale) < 0.02 * self.scale, (cb, self.scale)
        self.width, self.height = cb.width, cb.height

    def __call__(self, p: tuple[float, float]) -> tuple[float, float]:
        return self.x0 + p[0] / self.scale, self.y0 + p[1] / self.scale

    def canvas(self, q: tuple[float, float]) -> tuple[float, float]:
        return (q[0] - self.x0) * self.scale, (q[1] - self.y0) * self.scale


def run_across(mask: np.ndarray, x: float, y: float, vertical: bool, cls: int) -> tuple[int, float]:
    """(length, centre) of the run of ``cls`` through original (x, y), across a horizontal (or vertical) stroke."""
    line = mask[:, round(x)] if not vertical else mask[round(y), :]
    at = round(y) if not vertical else round(x)
    assert line[at] == cls, f"class {line[at]} at ({x:.0f}, {y:.0f}), wanted {cls}"
    lo = at
    while lo > 0 and line[lo - 1] == cls:
        lo -= 1
    hi = at
    while hi + 1 < len(line) and line[hi + 1] == cls:
        hi += 1
    return hi - lo + 1, (lo + hi) / 2


def test_strokes_at_fit_2x_and_4x_land_in_the_original_pixels_and_make_one_mask(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    world.worker("painter@example.test")
    img = world.image("diagram", BIG, fmt="JPEG")
    job = world.jobs.create(
        name="diagram-masks", lines=[{"source-ref": str(img)}], task_type="SemanticSegmentation",
        label_attribute="diagram-masks-ref", labels=LABELS,
    )  # fmt: skip
    url = streamlit_app(APP, world.env)
    page = new_page(browser, width=1280, height=1200)
    sign_in(page, url, "painter@example.test", PASSWORD)
    start_job(page, job.request["HumanTaskConfig"]["TaskTitle"])
    canvas_box(page)
    fit = wait_view(page, "Fit")
    at_fit = Mapper(page)
    assert at_fit.height <= 1200 - canvas_box(page).y, "the canvas fits the window's height below its top"

    # A: valve at Fit, near the top-left
    a0, a1 = paint(page, (200, 60), (300, 60))
    n_a = wait_labelled(page, lambda n: n > 0, "stroke A")

    # B: valve at 2x in the middle of the view, then pan right AT ONCE (no wait for the stroke's rerun)
    page.keyboard.press("z")
    wait_view(page, "1.5x", moved_from=fit)
    page.keyboard.press("z")
    two = wait_view(page, "2x")
    at_two = Mapper(page)
    assert 1.9 < at_two.scale / at_fit.scale < 2.1
    mid = (at_two.width / 2, at_two.height / 2)
    b0, b1 = paint(page, (mid[0] - 150, mid[1]), (mid[0] + 150, mid[1]), wait=False)
    page.keyboard.press("ArrowRight")
    panned = wait_view(page, "2x", moved_from=two)
    at_pan = Mapper(page)
    assert at_pan.x0 > at_two.x0
    n_b = wait_labelled(page, lambda n: n > n_a, "stroke B kept across the pan")

    # C: pipe (key 2) on the panned view, a third of the way down
    page.keyboard.press("2")
    wait_for_idle(page)
    c0, c1 = paint(page, (at_pan.width / 2 - 200, at_pan.height / 3), (at_pan.width / 2 + 200, at_pan.height / 3))
    n_c = wait_labelled(page, lambda n: n > n_b, "stroke C")
    c_orig = (at_pan(c0), at_pan(c1))

    # 4x; the eraser across C (vertical, through C's middle)
    page.keyboard.press("z")
    wait_view(page, "3x", moved_from=panned)
    page.keyboard.press("z")
    wait_view(page, "4x")
    at_four = Mapper(page)
    cross = ((c_orig[0][0] + c_orig[1][0]) / 2, c_orig[0][1])
    cx, cy = at_four.canvas(cross)
    assert 40 < cx < at_four.width - 40 and 40 < cy < at_four.height - 40, (cx, cy)
    page.get_by_text("Eraser", exact=True).click()
    wait_for_idle(page)
    e0, e1 = paint(page, (cx, cy - 60), (cx, cy + 60))
    n_e = wait_labelled(page, lambda n: n < n_c, "the eraser across C")

    # D: a brush stroke taken back by the canvas toolbar's undo
    page.get_by_text("Brush", exact=True).click()
    wait_for_idle(page)
    d0, d1 = paint(page, (40, at_four.height - 60), (200, at_four.height - 60))
    wait_labelled(page, lambda n: n > n_e, "stroke D")
    page.locator('button[aria-label="Undo"]').click()
    wait_labelled(page, lambda n: n == n_e, "stroke D undone")

    page.get_by_role("button", name="Submit").first.click()
    page.get_by_text("Submitted: object 1 of").first.wait_for(timeout=30_000)

    body = stored_answer(world, job.job_id, 0)["crowd-semantic-segmentation"]
    assert body["inputImageProperties"] == {"height": BIG[1], "width": BIG[0]}
    png = base64.b64decode(body["labeledImage"]["pngImageData"])
    mask = decode_color_png(png, semseg_colors(LABELS), BIG)
    assert mask.shape == (BIG[1], BIG[0])  # the original's full resolution

    def check_stroke(m: Mapper, p0: Any, p1: Any, cls: int, name: str) -> None:
        (x0, y0), (x1, y1) = m(p0), m(p1)
        width = BRUSH / m.scale
        for t in (0.1, 0.3, 0.7, 0.9):  # across the stroke at a few points along it: its width and centre
            x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            length, centre = run_across(mask, x, y, vertical=False, cls=cls)
            assert abs(length - width) <= 2 + 0.05 * width, f"{name}: {length} px wide, brush {width:.1f}"
            assert abs(centre - y) <= 1.5 + 0.5 / m.scale, f"{name}: centre at y {centre}, painted at {y:.1f}"
        ends = mask[round(y0), round(x0 - width / 2 - 3)], mask[round(y1), round(x1 + width / 2 + 3)]
        assert ends == (0, 0), f"{name} reaches past its ends: {ends}"

    check_stroke(at_fit, a0, a1, 1, "A (Fit)")
    check_stroke(at_two, b0, b1, 1, "B (2x, then panned at once)")
    # C is cut by the eraser in its middle: check its ends' halves only
    (cx0, cy0), (cx1, _) = c_orig
    erased = BRUSH / at_four.scale
    for x in (cx0 + 0.1 * (cx1 - cx0), cx1 - 0.1 * (cx1 - cx0)):
        length, centre = run_across(mask, x, cy0, vertical=False, cls=2)
        assert abs(length - BRUSH / at_pan.scale) <= 2 + 0.05 * length and abs(centre - cy0) <= 2, (length, centre)
    gap = np.flatnonzero(mask[round(cy0), round(cx0) : round(cx1)] != 2) + round(cx0)
    assert len(gap) and abs(len(gap) - erased) <= 2 and abs(gap.mean() - at_four(e0)[0]) <= 1.5, (gap, erased)
    dx, dy = at_four(((d0[0] + d1[0]) / 2, d0[1]))
    assert mask[round(dy), round(dx)] == 0  # undone
    assert int(np.count_nonzero(mask)) == n_e  # what the screen said is what was stored
    page.context.close()


def test_verification_view_zooms_with_the_boxes_in_place(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    from gtcore.core.colors import class_color
    from gtcore.jobs import api as jobs
    from gtcore.queue import api as queue
    from tests.browser import color_distance, pixel, screenshot
    from tests.fixtures.core import run_work

    world = label_world
    boxer = world.worker("boxer@example.test")
    world.worker("checker@example.test")
    img = world.image("plant", BIG, fmt="JPEG")
    src = world.box_job("plant", [img], labels=["valve", "pump"])
    task = queue.claim_next(world.ctx, boxer, src.job_id)
    assert task is not None
    box = {"height": 300, "label": "valve", "left": 3000, "top": 2000, "width": 400}
    ans = {"boundingBox": {"boundingBoxes": [box], "inputImageProperties": {"height": BIG[1], "width": BIG[0]}}}
    queue.submit(world.ctx, boxer, task.assignment_id, ans)
    run_work(world.ctx)
    verdicts = world.jobs.write_labels("verdicts", ["Correct", "Incorrect"])
    jobs.chain_labeling_job(
        world.ctx, world.admin, "plant", "plant-checked", task_type="VerificationBoundingBox",
        overrides={"LabelCategoryConfigS3Uri": str(verdicts), "HumanTaskConfig": {"TaskTitle": "Check the plant"}},
    )  # fmt: skip
    url = streamlit_app(APP, world.env)
    page = new_page(browser, width=1280, height=1200)
    sign_in(page, url, "checker@example.test", PASSWORD)
    start_job(page, "Check the plant")
    page.get_by_text("Labels to verify (plant): 1 box(es): valve").wait_for(timeout=30_000)
    fit = wait_view(page, "Fit")
    for level in ("1.5x", "2x", "3x", "4x"):
        page.keyboard.press("z")
        fit = wait_view(page, level, moved_from=fit)
    _, x0, x1, y0, y1 = fit
    shown = page.locator('[data-testid="stImage"] img').last
    wait_until(lambda: shown.evaluate("i => i.complete && i.naturalWidth > 0") or None, what="the 4x view")
    bb = shown.bounding_box()
    natural = shown.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert abs(natural[0] / (x1 - x0) - natural[1] / (y1 - y0)) < 0.01, natural
    scale = bb["width"] / (x1 - x0)
    assert scale > 0.3, scale  # 4x of a 7168-px image's Fit: about half a screen pixel per original pixel
    shot = screenshot(page)
    colour = class_color(0)
    mid_y = (box["top"] + box["height"] / 2 - y0) * scale + bb["y"]
    left_x = (box["left"] - x0) * scale + bb["x"]
    right_x = (box["left"] + box["width"] - x0) * scale + bb["x"]
    for x in (left_x + 1, right_x - 2):  # the box's outline where the view puts it
        assert color_distance(pixel(shot, (x, mid_y)), colour) < 60, (x, pixel(shot, (x, mid_y)))
    inside = pixel(shot, ((left_x + right_x) / 2, mid_y))
    assert color_distance(inside, (205, 205, 205)) < 30, inside  # the image, not the outline
    page.context.close()

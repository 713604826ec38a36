"""The annotator's pages in Debian chromium: the real app.py under ``streamlit run``, driven with Playwright.

Images are 1152x864 and shown as a 576x432 display JPEG (scale 0.5), so every box coordinate goes through
the display -> original conversion.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gtcore.core import db as dbm
from gtcore.core.colors import class_color
from gtcore.images import task_images as taskimages
from tests.browser import (
    HttpMeter,
    canvas_screenshot,
    color_distance,
    draw_box,
    new_page,
    pixel,
    wait_for_idle,
    wait_until,
)
from tests.fixtures.labeling import APP, LabelWorld, change_password, sign_in, start_job, wait_task
from tests.fixtures.people import PASSWORD

pytestmark = pytest.mark.browser

SIZE = (1152, 864)
SCALE = 0.5  # 576 / 1152: the default display size of gtcore.images.task_images
CAT = {"left": 200, "top": 300, "width": 500, "height": 300}  # original pixels, also drawn in the image
DOG = {"left": 800, "top": 100, "width": 240, "height": 600}


def canvas_points(box: dict[str, int]) -> tuple[tuple[float, float], tuple[float, float]]:
    x, y = box["left"] * SCALE, box["top"] * SCALE
    return (x, y), (x + box["width"] * SCALE, y + box["height"] * SCALE)


def to_original(points: tuple[tuple[float, float], tuple[float, float]]) -> dict[str, float]:
    (x0, y0), (x1, y1) = points
    return {"left": x0 / SCALE, "top": y0 / SCALE, "width": (x1 - x0) / SCALE, "height": (y1 - y0) / SCALE}


def assert_near(got: dict[str, Any], want: dict[str, float], tol: float) -> None:
    for k, v in want.items():
        assert abs(got[k] - v) <= tol, f"{got.get('label')}.{k}: got {got[k]}, want {v} (tolerance {tol})"


def assignments(world: LabelWorld, job_id: int) -> list[Any]:
    a = dbm.assignments
    with world.ctx.db.read() as conn:
        return list(conn.execute(select(a).where(a.c.job_id == job_id).order_by(a.c.id)))


def edge_distance(img: Any, box: dict[str, int], rgb: tuple[int, int, int]) -> float:
    """Closest colour to ``rgb`` along the left edge of ``box`` (original px) on a canvas screenshot."""
    x, mid = box["left"] * SCALE, (box["top"] + box["height"] / 2) * SCALE
    return min(color_distance(pixel(img, (x + dx, mid)), rgb) for dx in range(-2, 4))


def test_invited_worker_draws_two_labels_and_submits(label_world: LabelWorld, streamlit_app: Any, browser: Any) -> None:
    world = label_world
    temp = world.invite("ann@example.test")
    images = [
        world.image(f"scene{i}", SIZE, rects=(tuple(CAT.values()), tuple(DOG.values())), probe=(200, 90 * i, 0))
        for i in range(2)
    ]
    job = world.box_job("street-scenes", images, labels=["cat", "dog"])
    url = streamlit_app(APP, world.env)

    page = new_page(browser)
    http = HttpMeter.attach(page)
    sign_in(page, url, "ann@example.test", temp)
    change_password(page, temp, PASSWORD)
    start_job(page, job.request["HumanTaskConfig"]["TaskTitle"])
    assert wait_task(page, boxes=0) == 0

    cat_pts = draw_box(page, *canvas_points(CAT))
    wait_task(page, boxes=1)
    wait_for_idle(page)
    page.keyboard.press("2")  # the picker's key for the second label, "dog"
    wait_until(
        lambda: page.locator('[data-testid="stBaseButton-primary"]', has_text="dog").count() > 0,
        what="dog selected by key 2",
        timeout=20,
    )
    wait_for_idle(page)
    dog_pts = draw_box(page, *canvas_points(DOG))
    wait_task(page, boxes=2)
    wait_for_idle(page)

    # the draft is saved server-side on every change, before anything is submitted
    draft_rows = assignments(world, job.job_id)
    assert [r.status for r in draft_rows] == ["leased"] and draft_rows[0].draft_json

    page.get_by_role("button", name="Submit").click()
    page.get_by_text("Submitted: object 0 is saved").wait_for(timeout=30_000)
    assert wait_task(page, boxes=0) == 1  # the next task opened

    # the browser got display-sized JPEGs only, never the originals
    shown = [taskimages.display_image(world.ctx, str(p)) for p in images]
    media = sorted(http.under("/media/", body_only=True).values())
    assert media == sorted(len(s.jpeg or b"") for s in shown), media
    assert {s.original_size for s in shown} == {SIZE} and {s.scale for s in shown} == {SCALE}

    answers = world.responses(job.name)
    assert list(answers) == [0] and len(answers[0]) == 1
    answer = answers[0][0]
    body = answer["answerContent"]["boundingBox"]
    assert body["inputImageProperties"] == {"height": SIZE[1], "width": SIZE[0]}
    by_label = {b["label"]: b for b in body["boundingBoxes"]}
    assert sorted(by_label) == ["cat", "dog"] and len(body["boundingBoxes"]) == 2
    assert_near(by_label["cat"], CAT, 1.0)  # within 1 original pixel of what was meant
    assert_near(by_label["dog"], DOG, 1.0)
    assert_near(by_label["cat"], to_original(cat_pts), 0.05)  # exact against what the browser received
    assert_near(by_label["dog"], to_original(dog_pts), 0.05)
    assert [r.status for r in assignments(world, job.job_id)] == ["submitted", "leased"]
    assert answer["workerId"] and answer["timeSpentInSeconds"] > 0
    page.context.close()


def test_stop_and_resume_brings_boxes_back_and_a_second_worker_never_gets_the_task(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    world.worker("ann@example.test")
    world.worker("bob@example.test")
    images = [world.image(f"img{i}", SIZE, rects=(tuple(CAT.values()),)) for i in range(3)]
    job = world.box_job("stop-resume", images, labels=["cat", "dog"], workers_per_object=1)
    title = job.request["HumanTaskConfig"]["TaskTitle"]
    url = streamlit_app(APP, world.env)

    ann = new_page(browser)
    sign_in(ann, url, "ann@example.test", PASSWORD)
    start_job(ann, title)
    assert wait_task(ann, boxes=0) == 0
    pts = draw_box(ann, *canvas_points(CAT))
    wait_task(ann, boxes=1)
    wait_for_idle(ann)
    ann.get_by_role("button", name="Stop and resume later").click()
    ann.get_by_text("Stopped: your work on object 0 is saved").wait_for(timeout=30_000)
    rows = assignments(world, job.job_id)
    assert [(r.object_idx, r.status) for r in rows] == [(0, "stopped")] and '"cat"' in rows[0].draft_json
    ann.context.close()  # the browser is gone: only the server keeps the work

    # another worker, in another browser context, works the job meanwhile: never object 0
    bob = new_page(browser)
    sign_in(bob, url, "bob@example.test", PASSWORD)
    start_job(bob, title)
    seen = []
    for _ in range(2):
        seen.append(wait_task(bob, boxes=0))
        bob.keyboard.press("Control+Enter")  # Submit's keyboard shortcut
        bob.get_by_text(f"Submitted: object {seen[-1]} is saved").wait_for(timeout=30_000)
    bob.get_by_text("No task is available to you in this job right now").wait_for(timeout=30_000)
    assert sorted(seen) == [1, 2]
    bob.context.close()

    # Ann signs in again: the portal offers Resume, and the task opens with her box drawn in place
    ann = new_page(browser)
    sign_in(ann, url, "ann@example.test", PASSWORD)
    start_job(ann, title, button="Resume")
    assert wait_task(ann, boxes=1) == 0
    wait_for_idle(ann)
    img = canvas_screenshot(ann)
    cat_rgb = class_color(0)
    assert edge_distance(img, CAT, cat_rgb) < 60, "the resumed box is not drawn where it was"
    assert edge_distance(img, {"left": 1000, "top": 100, "width": 50, "height": 50}, cat_rgb) > 100
    ann.get_by_role("button", name="Submit").click()
    ann.get_by_text("Submitted: object 0 is saved").wait_for(timeout=30_000)
    # that was the last: nothing more is offered, the server's embedded worker finishes the job
    ann.get_by_text("No task is available to you in this job right now").wait_for(timeout=30_000)

    answers = world.responses(job.name)
    assert sorted(answers) == [0, 1, 2] and all(len(v) == 1 for v in answers.values())
    workers = {idx: v[0]["workerId"] for idx, v in answers.items()}
    assert workers[1] == workers[2] != workers[0]
    (box,) = answers[0][0]["answerContent"]["boundingBox"]["boundingBoxes"]
    assert box["label"] == "cat"
    assert_near(box, CAT, 1.0)
    assert_near(box, to_original(pts), 0.05)
    ann.context.close()

"""Job status and the manifest viewer after a job ends, in Debian chromium (issue 18.6): the job picker shows
the job's real status, and the viewer shows a failed (declined) object as failed, not as an image with
"0 boxes", and counts "1 box" in the singular."""

from __future__ import annotations

from typing import Any

import pytest

from gtcore.jobs import api as jobs
from gtcore.queue import api as queue
from tests.browser import exception_text, new_page, wait_for_idle, wait_until
from tests.fixtures.core import run_work
from tests.fixtures.labeling import APP, LabelWorld
from tests.fixtures.people import PASSWORD

pytestmark = pytest.mark.browser
SIZE = (320, 240)
BOX = {"label": "cat", "left": 10, "top": 20, "width": 100, "height": 80}


def _picked(page: Any) -> str:
    return str(page.get_by_role("combobox", name="Job").input_value())


def test_status_picker_and_viewer_after_the_job_completed(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    ann = world.worker("ann@example.test")
    job = world.box_job("ends-today", [world.image(f"p{i}", SIZE) for i in range(2)], labels=["cat", "dog"])
    url = streamlit_app(APP, world.env)

    page = new_page(browser)
    page.goto(f"{url}/job_status?job={job.name}")
    wait_for_idle(page)
    page.get_by_label("E-mail address").fill(world.admin.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Job status").wait_for(timeout=30_000)
    wait_until(lambda: _picked(page) == f"{job.name} (InProgress)", what="the picker on the running job")

    # the worker answers object 0 with one box and declines object 1: the job completes, object 1 failed
    for _ in range(2):
        task = queue.claim_next(world.ctx, ann, job.job_id)
        assert task is not None
        if task.object_idx == 0:
            answer = {"boundingBox": {"boundingBoxes": [BOX], "inputImageProperties": {"width": 320, "height": 240}}}
            queue.submit(world.ctx, ann, task.assignment_id, answer)
        else:
            queue.decline(world.ctx, ann, task.assignment_id, "not a cat")

    def completed() -> bool:  # finishing is background work: here, or by the app's embedded worker (same result)
        run_work(world.ctx)
        return jobs.job_summary(world.ctx, world.admin, job.name).status == "Completed"

    wait_until(completed, timeout=60.0, what="the job to complete")

    page.get_by_role("button", name="Refresh").click()
    wait_for_idle(page)
    page.get_by_role("heading", name=f"{job.name}: Completed").wait_for(timeout=30_000)
    assert _picked(page) == f"{job.name} (Completed)"

    page.get_by_role("link", name="Manifest viewer").click()
    wait_for_idle(page)
    page.locator(".st-key-viewer_open button").click()
    wait_for_idle(page)
    assert exception_text(page) is None, exception_text(page)
    page.get_by_text("line 1 · p0.png · 1 box").wait_for(timeout=30_000)
    page.get_by_text("line 2 · p1.png · failed: not labeled").wait_for(timeout=30_000)
    assert page.get_by_text("1 boxes").count() == 0 and page.get_by_text("0 boxes").count() == 0
    page.context.close()

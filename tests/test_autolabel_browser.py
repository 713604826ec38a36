"""Automated data labeling in Debian chromium: a worker whose next batch is being prepared is told so, and the
Label page shows the next task by itself once the loop sent it (no click)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gtcore.manifests.sample_digits import DIGIT_LABELS
from gtcore.work import runner
from tests.browser import exception_text, new_page, wait_for_idle
from tests.fixtures import simulate
from tests.fixtures.autolabel import SMALL_MIN, make_auto_world
from tests.fixtures.labeling import APP, sign_in
from tests.fixtures.people import PASSWORD, People

pytestmark = pytest.mark.browser


def test_more_tasks_are_being_prepared_then_the_page_shows_the_next_task(
    tmp_path: Path, streamlit_app: Any, browser: Any
) -> None:
    w = make_auto_world(tmp_path)
    try:
        people = People(w.ctx)
        people.root()
        ann = people.worker(w.team, email="ann@example.test")
        job = w.create("classification", 120, max_concurrent=30)
        _, truth = w.dataset("classification", 120)
        for _ in range(3):  # probe, training batch + validation set, round 3's batch: all answered
            runner.run_until_idle(w.ctx, max_seconds=60, kinds=["autolabel.step"])
            simulate.annotate(w.ctx, w.workers, job, truth, DIGIT_LABELS)
        env = {
            "GT_HOME": str(w.ctx.settings.home),
            "GT_LOCAL_ROOTS": str(tmp_path),
            "GT_DATABASE_URL": w.ctx.settings.database_url,
            "GT_AUTOLABEL_MIN_OBJECTS": SMALL_MIN,
            "GT_EMBEDDED_WORKER": "0",  # the test runs the background work itself, when it chooses
        }
        url = streamlit_app(APP, env)
        page = new_page(browser)
        sign_in(page, url, "ann@example.test", PASSWORD)
        page.get_by_role("link", name="Worker portal").click()
        page.get_by_text("More tasks are being prepared for this job").wait_for(timeout=30_000)
        page.goto(f"{url}/label?job={job}")
        wait_for_idle(page)
        page.get_by_text("More tasks are being prepared").first.wait_for(timeout=30_000)
        assert page.get_by_text("No task is available").count() == 0 and exception_text(page) is None
        assert ann.email == "ann@example.test"
        runner.run_until_idle(w.ctx, max_seconds=300)  # the model trains, labels; the next batch goes out
        page.get_by_text("Object ").first.wait_for(timeout=60_000)  # the page refreshed itself: a task
        assert page.get_by_text("More tasks are being prepared").count() == 0
    finally:
        w.ctx.db.dispose()

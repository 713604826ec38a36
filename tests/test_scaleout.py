"""Scale-out, proven (issue 24): what the deployment kit deploys, as plain processes (``tests/scaleout.py``):
PostgreSQL, moto's S3 server, ``gtcore migrate`` once, two ``streamlit run app.py`` servers, three ``gtcore worker``
processes. Annotator processes label through gtcore calls on the shared database and store (see tests/scaleout.py
for why not through the servers' websockets); one Chromium annotator labels through the first server, which is then
killed with SIGKILL, and goes on through the second with the same session cookie. One worker is SIGKILLed mid-run.

Nothing acknowledged is lost, no object is answered twice by one worker, the counters equal a recount, the job
completes and its output.manifest is written once (S3 versioning counts the writes)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from gtcore.core import db as dbm
from tests.browser import new_page, wait_for_idle, wait_until
from tests.fixtures.core import pg_or_skip
from tests.fixtures.labeling import sign_in, wait_task
from tests.fixtures.people import PASSWORD, People
from tests.scaleout import prepare_job, run_annotators, start_cluster, verify, wait_job_final

pytestmark = [pytest.mark.postgres, pytest.mark.browser, pytest.mark.slow]


def _open_job(page: Any, title: str) -> int:
    page.get_by_role("link", name="Worker portal").click()
    card = page.locator('[class*="st-key-portal_job_"]').filter(has_text=title).first
    card.get_by_role("button", name=re.compile("^(Start working|Resume)$")).click()
    wait_for_idle(page)
    return wait_task(page, timeout=60)


def _submit(page: Any, idx: int, total: int) -> None:
    """Submit the open task; the page then says it is saved and opens the next one, or (none left for him)
    shows the end screen."""
    page.keyboard.press("Control+Enter")
    saved = page.get_by_text(f"Submitted: object {idx + 1} of {total} is saved")
    end = page.get_by_text(re.compile("No task is available to you|All done"))
    wait_until(lambda: saved.count() or end.count(), timeout=120, what=f"object {idx + 1} saved")


def test_two_app_servers_and_workers_survive_sigkill(tmp_path: Path, browser: Any) -> None:
    pg_or_skip()
    cluster = start_cluster(tmp_path / "cluster", workers=3)
    try:
        job = prepare_job(cluster, objects=50, needed=2, annotators=3)
        from gtcore.context import Context
        from gtcore.core.settings import Settings

        ctx = Context.from_settings(Settings.from_env(cluster.env, cwd=cluster.root))
        people = People(ctx)
        human = people.worker("team-a", "human@scale.test")
        title = f"Label {job.job_name}"
        a, b = cluster.apps
        page = new_page(browser)
        sign_in(page, a.base_url, human.email, PASSWORD)
        idx = _open_job(page, title)
        _submit(page, idx, job.objects)  # one answer through server A
        idx = wait_task(page, timeout=60)  # server A handed out the next task: he holds its lease

        killed_worker = threading.Event()

        def on_progress(submitted: int) -> None:
            if submitted >= job.objects * job.needed * 0.4 and not killed_worker.is_set():
                killed_worker.set()
                cluster.kill_worker(0)

        started = threading.Event()
        box: dict[str, Any] = {}
        runner = threading.Thread(
            target=lambda: box.update(
                run=run_annotators(cluster, job, on_progress=on_progress, pause=0.3, started=started)
            ),
            daemon=True,
        )
        runner.start()
        assert started.wait(300)
        cluster.kill_app(0)  # mid-task for the browser annotator
        page.goto(b.base_url)  # the same browser: its session cookie works on the other server
        wait_for_idle(page)
        page.get_by_text(f"Signed in as {human.email}").wait_for(timeout=60_000)
        again = _open_job(page, title)
        assert again == idx  # his leased task came back through server B
        _submit(page, again, job.objects)

        def next_screen() -> str | None:
            if page.get_by_text(re.compile(r"^Object \d+ ")).count():
                return "task"
            if page.get_by_text(re.compile("No task is available to you|All done")).count():
                return "none"
            return None

        if wait_until(next_screen, timeout=60, what="the next task or the end screen") == "task":
            page.get_by_role("button", name="Release").click()  # leave without holding a lease
            page.get_by_text("it is back in the pool").wait_for(timeout=60_000)
        page.context.close()
        runner.join(400)
        run = box["run"]
        assert killed_worker.is_set() and len(cluster.killed) == 2, cluster.killed
        assert wait_job_final(cluster, job.job_id) == "Completed"
        eng = create_engine(cluster.db_url)
        with eng.connect() as c:
            a_ = dbm.assignments
            mine = c.execute(
                select(func.count()).where(a_.c.worker_id == human.user_id, a_.c.status == "submitted")
            ).scalar_one()
        eng.dispose()
        assert mine == 2  # one through server A, the resumed one through server B: none lost with server A
        result = verify(cluster, job, run)
        assert result["problems"] == [], "\n".join(result["problems"])
        assert result["answers"] == job.objects * job.needed == result["acked"] + mine
        ctx.db.dispose()
        if result["issue28"]:
            # The right rule is that each worker-response file is written once. Known defect, issue 28 (another
            # helper): every `gtcore worker` writes every file (due rows selected, not claimed). Remove this xfail
            # when issue 28 lands; the check itself is in tests/scaleout.verify.
            pytest.xfail("issue 28: " + "; ".join(result["issue28"]))
    finally:
        cluster.stop()

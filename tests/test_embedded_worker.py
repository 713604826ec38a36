"""`streamlit run app.py` runs one background worker inside the server (gtcore.ui.embedded): it starts with the
server (no page run needed, so jobs made through the SageMaker API finish too; a page run finds the same one),
does the due work (a job's finish here, and its own maintenance sweeps), and stops with the server: after SIGTERM
the process ends and no item is left running under its name (a worker cut off in the middle of an item would leave
it to another worker after its lease: tests/test_work.py's SIGKILL test)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import workqueue
from gtcore.core.settings import Settings
from tests.browser import StreamlitServer, new_page, wait_for_idle
from tests.fixtures.jobs import JobFactory

REPO = Path(__file__).resolve().parents[1]
W = dbm.work_items


def _rows(ctx: Context) -> list:
    with ctx.db.read() as c:
        return list(c.execute(select(W).order_by(W.c.id)))


def _wait(pred, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.mark.browser
def test_embedded_worker_starts_and_stops_with_streamlit_run(tmp_path: Path, browser: object) -> None:
    home = tmp_path / "gt-home"
    env = {"GT_HOME": str(home), "GT_DATABASE_URL": f"sqlite:///{home / 'gt.sqlite3'}", "GT_LOCAL_ROOTS": str(tmp_path),
           "GT_EMBEDDED_WORKER": "1"}  # fmt: skip
    ctx = Context.from_settings(Settings.from_env(env))
    made = JobFactory(ctx, tmp_path).create(name="finish-me", n_images=2)
    with ctx.db.write() as c:  # e.g. a stop recorded while no worker ran
        c.execute(dbm.jobs.update().where(dbm.jobs.c.id == made.job_id).values(status="Stopping"))
        workqueue.enqueue(c, "jobs.finish", job_id=made.job_id, key="Stopped")
    server = StreamlitServer(REPO / "app.py", env, log_path=tmp_path / "streamlit.log")
    server.start()  # returns once the server answers its health check
    try:
        # no page opened: the worker started with the server
        _wait(lambda: all(r.status == "done" for r in _rows(ctx) if r.kind == "jobs.finish"))
        # and its own maintenance sweep (enqueued at its start, run once it is due)
        _wait(lambda: any(r.kind == "maintenance.sweep" and r.status == "done" for r in _rows(ctx)), timeout=120)
        page = new_page(browser)  # type: ignore[arg-type]
        page.goto(server.base_url)  # a page run finds the same worker (one per process)
        wait_for_idle(page)
        rows = _rows(ctx)
        (finish,) = [r for r in rows if r.kind == "jobs.finish"]
        pid = server.proc.pid  # type: ignore[union-attr]
        assert finish.worker.startswith("embedded-") and f":{pid}:" in finish.worker
        with ctx.db.read() as c:
            assert c.execute(select(dbm.jobs.c.status).where(dbm.jobs.c.id == made.job_id)).scalar() == "Stopped"
        page.context.close()
    finally:
        print(server.log_tail())
        proc = server.proc
        server.stop()  # SIGTERM, as Ctrl+C or a service manager would
    assert proc is not None and proc.returncode is not None  # the server ended, and its worker thread with it
    assert not [r for r in _rows(ctx) if r.status == "running"]  # nothing left half-run under its name
    ctx.db.dispose()

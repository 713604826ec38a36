"""The database unavailable: a SQLite file locked by another program, and PostgreSQL restarting.

SQLite: another process holds ``BEGIN EXCLUSIVE`` on the file. Writes give up after the (here short)
busy timeout with ``DatabaseUnavailable`` saying the database is locked; reads keep working (WAL); nothing
changes and the file passes ``PRAGMA integrity_check``; once the lock is gone the same calls succeed.

PostgreSQL: a throwaway server of this test's own (initdb in a temp folder, run as the ``postgres`` user on
a free port) is stopped and started again, once between calls and once in the middle of a submit
transaction. Restarting the shared cluster (``pg_ctlcluster 15 main restart``) would break every other
suite using it at the same time, so the test never touches it; it skips with a reason when it cannot run
its own server (not root, no PostgreSQL binaries, no ``postgres`` user).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.db import Database, DatabaseUnavailable
from gtcore.queue import api as queue
from gtcore.queue import leases
from gtcore.workforce import signin
from gtcore.workforce import users as workforce
from tests.fixtures.core import clear_gt_env, make_settings, run_work
from tests.fixtures.queue import box_answer, make_world

PG_BIN = Path("/usr/lib/postgresql/15/bin")
LOCK_HOLDER = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(120)
"""


def snapshot(ctx: Context) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with ctx.db.read() as conn:
        for table in (dbm.jobs, dbm.objects, dbm.assignments, dbm.users, dbm.login_throttle, dbm.login_sessions):
            out[table.name] = sorted(tuple(r) for r in conn.execute(select(table)))
    return out


def check_counters(ctx: Context, job_id: int) -> None:
    with ctx.db.read() as conn:
        objs = list(conn.execute(select(dbm.objects).where(dbm.objects.c.job_id == job_id)))
        rows = list(conn.execute(select(dbm.assignments).where(dbm.assignments.c.job_id == job_id)))
    for o in objs:
        mine = [a for a in rows if a.object_idx == o.idx]
        live = sum(a.status in ("leased", "stopped") for a in mine)
        answers = sum(a.status == "submitted" for a in mine)
        assert (o.taken, o.answers) == (live + answers, answers), f"object {o.idx} counters"


# ------------------------------------------------------------------------------------------- SQLite locked


def test_sqlite_locked_by_another_program(tmp_path: Path) -> None:
    path = tmp_path / "gt.sqlite3"
    url = f"sqlite:///{path}"
    ctx = Context(settings=make_settings(tmp_path, database_url=url), db=Database(url, busy_timeout=0.5))
    holder = None
    try:
        w = make_world(ctx, tmp_path, n_workers=2)
        job = w.new_job(n_objects=3)
        ann = w.workers[0]
        task = queue.claim_next(ctx, ann, job)
        assert task is not None
        before = snapshot(ctx)

        holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        with pytest.raises(DatabaseUnavailable, match="database is locked.*try again") as err:
            queue.submit(ctx, ann, task.assignment_id, box_answer())
        waited = time.monotonic() - t0
        assert "Traceback" not in str(err.value)
        for call in (
            lambda: queue.claim_next(ctx, w.workers[1], job),
            lambda: queue.save_draft(ctx, ann, task.assignment_id, {"boxes": []}),
            lambda: signin.sign_in(ctx, ann.email, "not his password", "tests"),
        ):
            with pytest.raises(DatabaseUnavailable, match="database is locked"):
                call()
        again = queue.current_task(ctx, ann, job)  # readers are not blocked (WAL)
        assert again is not None and again.assignment_id == task.assignment_id

        holder.kill()
        holder.wait(10)
        assert snapshot(ctx) == before  # the refused calls changed nothing
        with ctx.db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        result = queue.submit(ctx, ann, task.assignment_id, box_answer())  # the same call, retried: it works
        assert result.object_done
        check_counters(ctx, job)
        print({"seconds_until_the_error": round(waited, 2)})
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
            holder.wait(10)
        ctx.db.dispose()


# ------------------------------------------------------------------------------------------ PostgreSQL restarting


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    """A PostgreSQL 15 server of this test's own, run as the ``postgres`` user from a temp folder."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gt-reliability-pg-"))
        user = pwd.getpwnam("postgres")
        os.chown(self.dir, user.pw_uid, user.pw_gid)
        self.data = self.dir / "data"
        self.port = _free_port()
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "gt", "-E", "UTF8", "--no-sync")

    def _pg(self, tool: str, *args: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", str(PG_BIN / tool), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr or done.stdout}")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://gt@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=20"
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-o", opts, "-w", "start")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    if os.geteuid() != 0:
        pytest.skip("restarting PostgreSQL needs root (to run a throwaway server as the postgres user)")
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip(f"no PostgreSQL 15 server binaries at {PG_BIN} (or no runuser)")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("there is no postgres user to run a throwaway PostgreSQL server")
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


def test_postgres_restarting(private_pg: PrivatePostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, database_url=private_pg.url))
    try:
        w = make_world(ctx, tmp_path, n_workers=1)
        job = w.new_job(n_objects=4)
        ann = w.workers[0]
        first = queue.claim_next(ctx, ann, job)
        assert first is not None
        queue.submit(ctx, ann, first.assignment_id, box_answer(label="dog"))
        second = queue.claim_next(ctx, ann, job)
        assert second is not None

        private_pg.stop()  # ------------------------------------------------------------------- down
        for call in (
            lambda: queue.submit(ctx, ann, second.assignment_id, box_answer()),
            lambda: queue.claim_next(ctx, ann, job),
            lambda: signin.sign_in(ctx, ann.email, "whatever password", "tests"),
            lambda: workforce.actor_for_token(ctx, "a-token"),
        ):
            with pytest.raises(DatabaseUnavailable, match="did not answer.*try again") as err:
                call()
            assert "Traceback" not in str(err.value)
        with pytest.raises(DatabaseUnavailable, match="did not answer") as err:  # a server process starting now
            Context.from_settings(make_settings(tmp_path, database_url=private_pg.url))
        assert "127.0.0.1" in str(err.value)

        private_pg.start()  # --------------------------------------------------------------- back again
        queue.submit(ctx, ann, second.assignment_id, box_answer())  # the pool reconnects by itself
        third = queue.claim_next(ctx, ann, job)
        assert third is not None

        real_bump = leases.bump

        def restart_mid_submit(*args: Any, **kwargs: Any) -> bool:
            private_pg.stop()  # the server goes away inside the submit transaction
            private_pg.start()
            return real_bump(*args, **kwargs)

        monkeypatch.setattr(leases, "bump", restart_mid_submit)
        with pytest.raises(DatabaseUnavailable, match="try again"):
            queue.submit(ctx, ann, third.assignment_id, box_answer())
        monkeypatch.setattr(leases, "bump", real_bump)
        a = dbm.assignments
        with ctx.db.read() as conn:
            row = conn.execute(select(a).where(a.c.id == third.assignment_id)).one()
        assert row.status == "leased" and row.answer_json is None  # rolled back whole, the lease kept
        check_counters(ctx, job)
        queue.submit(ctx, ann, third.assignment_id, box_answer())  # the annotator clicks Submit again

        rest = queue.claim_next(ctx, ann, job)
        assert rest is not None
        queue.submit(ctx, ann, rest.assignment_id, box_answer())
        run_work(ctx)  # the background worker finishes the job
        with ctx.db.read() as conn:
            answers = [json.loads(r.answer_json) for r in conn.execute(select(a).where(a.c.job_id == job))]
            status = conn.execute(select(dbm.jobs.c.status).where(dbm.jobs.c.id == job)).scalar()
        assert len(answers) == 4 and answers[0]["boundingBox"]["boundingBoxes"][0]["label"] == "dog"
        assert status == "Completed"
        check_counters(ctx, job)
    finally:
        ctx.db.dispose()


def test_the_app_says_the_database_is_down(private_pg: PrivatePostgres, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The sign-in page of a server whose database is down shows a clear message, not a traceback."""
    from streamlit.testing.v1 import AppTest

    from tests.fixtures.labeling import APP

    private_pg.stop()
    clear_gt_env(monkeypatch)
    monkeypatch.setenv("GT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GT_LOCAL_ROOTS", str(tmp_path))
    monkeypatch.setenv("GT_DATABASE_URL", private_pg.url)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, at.exception
    errors = " ".join(str(e.value) for e in at.error)
    assert "did not answer" in errors, errors
    private_pg.start()
    at.run()  # the database is back: the first-admin form (no admin yet), no error
    assert not at.exception and not at.error

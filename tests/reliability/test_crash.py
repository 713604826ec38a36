"""An annotator process killed with SIGKILL in the middle of submits, on SQLite and on PostgreSQL.

The child claims and submits in a loop and appends each assignment id to an acknowledgement file (flushed and
fsynced) only AFTER ``queue.submit`` returned: that is what the annotator saw as "submitted". The parent kills
it at a random moment and inside the submit transaction; background worker processes (``gtcore worker``) are
killed while a worker-response file is half-written and while finishing the job (test hooks stop them there).
After each kill:

- every acknowledged submit is in the database; at most the one submit in flight is there unacknowledged;
- no visible worker-response file is partial (writes are temp file + rename: only ``.gttmp.*`` temp files, which
  the store never lists, can be left), the database is intact and its counters equal a recount;
- another worker takes a dead worker's item over once its lease ran out: every missing file is written, the
  job whose finisher died is finished, each exactly once from the outside.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.queue import api as queue
from gtcore.work import runner
from tests.fixtures.core import make_settings, make_user
from tests.fixtures.jobs import JobFactory
from tests.fixtures.queue import box_answer
from tests.reliability.loadsim import forkserver

N_OBJECTS = 24
FINAL_NAME = re.compile(r"^\d{4}-\d\d-\d\d_\d\d:\d\d:\d\d(\.\d+)?\.json$")
HANG_SECONDS = 600  # a hooked child waits this long for its SIGKILL


def child(spec: dict[str, Any]) -> None:
    """Claim + submit until the job is over; acknowledge each submit after it returned. ``spec["hook"]`` stops
    the process (until it is killed) inside the submit transaction ("in_tx"), while a worker-response file is
    half-written ("mid_file") or just before the job is finished ("before_finish")."""
    from gtcore.core.errors import TaskError
    from gtcore.jobs import finishing
    from gtcore.queue import leases
    from gtcore.storage import local as localstore

    root = Path(spec["root"])
    ctx = Context.from_settings(make_settings(root, database_url=spec["db_url"]))
    who = spec["who"]
    actor = Actor(who["user_id"], who["email"], frozenset({"worker"}), frozenset(who["team_ids"]), who["worker_id"])
    hook, arm_after = spec["hook"], spec["arm_after"]
    max_acks = spec.get("max_acks")  # stop submitting after this many (then wait for the kill): the job must not
    # run out of objects before the test's later kills (submits are fast now that files are background work)
    stuck = root / "stuck"
    acks = 0

    def hang() -> None:
        stuck.write_text(str(os.getpid()))
        time.sleep(HANG_SECONDS)

    if hook == "in_tx":
        real_bump = leases.bump

        def bump(*a: Any, **k: Any) -> bool:
            if acks >= arm_after:
                hang()
            return real_bump(*a, **k)

        leases.bump = bump  # type: ignore[assignment]
    elif hook == "mid_file":
        real_fill = localstore.LocalStore._fill

        def fill(fd: int, data: bytes) -> None:
            if acks >= arm_after:
                os.write(fd, data[: len(data) // 2])
                os.fsync(fd)
                hang()
            real_fill(fd, data)

        localstore.LocalStore._fill = staticmethod(fill)  # type: ignore[method-assign]
    elif hook == "before_finish":
        finishing.finish_job = lambda *a, **k: hang()  # type: ignore[assignment]

    if spec.get("role") == "worker":  # a background worker (gtcore worker), with the hook set
        import threading

        from gtcore.work import runner

        runner.run(ctx, threading.Event(), poll_seconds=0.05)
        return
    with open(root / "acks.txt", "a") as ack_file:
        while True:
            if max_acks is not None and acks >= max_acks:
                time.sleep(HANG_SECONDS)
            try:
                task = queue.claim_next(ctx, actor, spec["job_id"])
            except TaskError:
                return  # the job is over
            if task is None:
                time.sleep(0.05)
                continue
            queue.submit(ctx, actor, task.assignment_id, box_answer(n=2, w=64, h=48))
            ack_file.write(f"{task.assignment_id}\n")  # acknowledged: only after submit returned
            ack_file.flush()
            os.fsync(ack_file.fileno())
            acks += 1


class Crasher:
    def __init__(self, ctx: Context, root: Path, db_url: str) -> None:
        self.ctx, self.root, self.db_url = ctx, root, db_url
        job = JobFactory(ctx, root).create(name="crash", n_images=N_OBJECTS, workers_per_object=1)
        self.job_id, self.job_name = job.job_id, job.name
        self.worker = make_user(ctx.db, "crashy@example.test", ("worker",), (job.team_id,))
        self.mpc = forkserver()
        self.kills = 0
        self.unacked: set[int] = set()  # stored submits whose child died before acknowledging them

    def start(self, hook: str = "", arm_after: int = 0, role: str = "annotator", max_acks: int | None = None) -> Any:
        (self.root / "stuck").unlink(missing_ok=True)
        w = self.worker
        spec = {
            "db_url": self.db_url, "root": str(self.root), "job_id": self.job_id, "hook": hook, "arm_after": arm_after,
            "role": role, "max_acks": max_acks,
            "who": {"user_id": w.user_id, "email": w.email, "worker_id": w.worker_id, "team_ids": sorted(w.team_ids)},
        }  # fmt: skip
        p = self.mpc.Process(target=child, args=(spec,), name=f"crash-{hook or 'random'}")
        p.start()
        return p

    def acked(self) -> list[int]:
        path = self.root / "acks.txt"
        text = path.read_text() if path.exists() else ""
        return [int(x) for x in text.split("\n")[:-1] if x]  # complete lines only

    def kill(self, p: Any, *, after_acks: int | None = None, when_stuck: bool = False) -> None:
        deadline = time.time() + 120
        target = len(self.acked()) + (after_acks or 0)
        while time.time() < deadline and p.is_alive():
            if when_stuck and (self.root / "stuck").exists():
                break
            if after_acks is not None and len(self.acked()) >= target:
                time.sleep(random.uniform(0.0, 0.05))  # somewhere in the next claim / submit
                break
            time.sleep(0.005)
        assert p.is_alive(), f"the child ended before it was killed (exit {p.exitcode})"
        os.kill(p.pid, signal.SIGKILL)
        p.join(30)
        assert p.exitcode == -signal.SIGKILL
        self.kills += 1

    def rows(self) -> tuple[Any, list[Any], list[Any]]:
        with self.ctx.db.read() as c:
            job = c.execute(select(dbm.jobs).where(dbm.jobs.c.id == self.job_id)).one()
            objs = list(c.execute(select(dbm.objects).where(dbm.objects.c.job_id == self.job_id)))
            rows = list(c.execute(select(dbm.assignments).where(dbm.assignments.c.job_id == self.job_id)))
        return job, objs, rows

    def response_folder(self) -> Path:
        return self.root / "output" / self.job_name / "annotations" / "worker-response"  # iteration-1 and -2

    def check_after_kill(self) -> dict[str, int]:
        """Acknowledged answers are stored; nothing visible is half-written; counters equal a recount."""
        _, objs, rows = self.rows()
        submitted = {a.id for a in rows if a.status == "submitted"}
        acked = set(self.acked())
        assert acked <= submitted, f"acknowledged but lost: {sorted(acked - submitted)}"
        new = submitted - acked - self.unacked
        assert len(new) <= 1, "more than the one in-flight submit is stored unacknowledged"
        self.unacked |= new
        for o in objs:
            mine = [a for a in rows if a.object_idx == o.idx]
            live = sum(a.status in ("leased", "stopped") for a in mine)
            answers = sum(a.status == "submitted" for a in mine)
            assert (o.taken, o.answers) == (live + answers, answers), f"object {o.idx} counters"
        temps = 0
        folder = self.response_folder()
        for path in folder.rglob("*") if folder.exists() else []:
            if path.is_dir():
                continue
            if path.name.startswith(".gttmp."):
                temps += 1
                continue
            assert FINAL_NAME.match(path.name), path
            (answer,) = json.loads(path.read_text())["answers"]  # complete JSON: never half-written
            assert answer["workerId"] == self.worker.worker_id
        listed = list(self.ctx.storage.list(str(folder))) if folder.exists() else []
        assert not [u for u in listed if "/.gttmp." in u], "the store lists a temp file"
        if self.ctx.db.is_sqlite:
            with self.ctx.db.read() as c:
                assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        return {"acked": len(acked), "submitted": len(submitted), "in_flight_stored": len(new), "temps": temps}


def test_sigkill_mid_submits_loses_no_acknowledged_answer(db_url: str, tmp_path: Path) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, database_url=db_url))
    try:
        c = Crasher(ctx, tmp_path, db_url)
        seen = []
        c.kill(c.start(max_acks=6), after_acks=3)  # at a random moment of the claim/submit loop
        seen.append(c.check_after_kill())
        c.kill(c.start("in_tx", arm_after=2), when_stuck=True)  # inside the submit transaction
        in_tx = c.check_after_kill()
        assert in_tx["in_flight_stored"] == 0  # the uncommitted submit left nothing behind
        c.kill(c.start(max_acks=5), after_acks=2)
        seen.append(c.check_after_kill())
        # a background worker killed while it writes a worker-response file (a test hook stops it half-way)
        c.kill(c.start("mid_file", role="worker"), when_stuck=True)
        mid = c.check_after_kill()
        assert mid["temps"] >= 1  # the half-written temp file is not visible
        # another worker takes the item over once its lease ran out and writes every missing file
        runner.run_until_idle(ctx, now=time.time() + 121)
        _, _, rows = c.rows()
        assert all(a.response_uri for a in rows if a.status == "submitted")
        drain = c.start()  # the annotator answers the rest (no worker runs: the job's finish waits)
        end = time.time() + 120
        while time.time() < end and not all(o.status == "done" for o in c.rows()[1]):
            time.sleep(0.05)
        c.kill(drain, after_acks=0)
        c.kill(c.start("before_finish", role="worker"), when_stuck=True)  # a worker dies while finishing
        job, objs, rows = c.rows()
        assert job.status == "InProgress" and all(o.status == "done" for o in objs)
        assert set(c.acked()) <= {a.id for a in rows if a.status == "submitted"}
        with ctx.db.read() as conn:
            finish = select(dbm.work_items).where(dbm.work_items.c.kind == "jobs.finish")
            # (a finish that found worker-response files due made them due and came again after them: done)
            (item,) = conn.execute(finish.where(dbm.work_items.c.status != "done")).all()
        assert item.status == "running"  # held by the dead worker until its lease ends
        runner.run_until_idle(ctx, now=time.time() + 121)  # another worker takes it over
        job, objs, rows = c.rows()
        assert job.status == "Completed"
        assert queue.flush_worker_responses(ctx, job_id=c.job_id) == 0
        submitted = [a for a in rows if a.status == "submitted"]
        assert len(submitted) == N_OBJECTS and all(a.response_uri for a in submitted)
        files = [p for p in c.response_folder().rglob("*.json") if FINAL_NAME.match(p.name)]
        assert len(files) == N_OBJECTS
        out = (tmp_path / "output" / c.job_name / "manifests" / "output" / "output.manifest").read_text()
        lines = [json.loads(x) for x in out.splitlines()]
        assert len(lines) == N_OBJECTS and all(x["crash-metadata"]["human-annotated"] == "yes" for x in lines)
        assert c.kills == 6
        print({"rounds": seen + [in_tx, mid], "files": len(files)})
    finally:
        ctx.db.dispose()


def test_a_killed_lease_holder_gets_his_task_back(tmp_path: Path) -> None:
    """Killed inside the submit transaction: the lease survives untouched, and the restarted annotator resumes
    the very same task (with no answer stored for it) instead of being handed a second one."""
    db_url = f"sqlite:///{tmp_path / 'gt.sqlite3'}"
    ctx = Context.from_settings(make_settings(tmp_path, database_url=db_url))
    try:
        c = Crasher(ctx, tmp_path, db_url)
        c.kill(c.start("in_tx", arm_after=0), when_stuck=True)
        _, _, rows = c.rows()
        (lease,) = rows
        assert lease.status == "leased" and lease.answer_json is None
        task = queue.claim_next(ctx, c.worker, c.job_id)
        assert task is not None and task.assignment_id == lease.id
    finally:
        ctx.db.dispose()

"""The background-work queue: enqueue is idempotent and transactional, the runner retries with backoff and
records failures, two workers never run the same item, and an item whose worker is SIGKILLed mid-handler is run
again by another worker with no partial file visible and the work done once from the outside."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from gtcore.cli.command import main as cli
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import workqueue
from gtcore.work import registry, runner
from tests import work_handlers as wh

W = dbm.work_items
REPO = Path(__file__).resolve().parents[1]


def items(ctx: Context) -> list:
    with ctx.db.read() as c:
        return list(c.execute(select(W).order_by(W.c.id)))


def enqueue(ctx: Context, kind: str, **kw) -> None:
    with ctx.db.write() as c:
        workqueue.enqueue(c, kind, **kw)


def test_enqueue_is_idempotent_while_pending(any_ctx: Context) -> None:
    enqueue(any_ctx, "test.record", job_id=7, key="a", now=100.0, delay_seconds=50)
    enqueue(any_ctx, "test.record", job_id=7, key="a", now=100.0, delay_seconds=10)  # earlier: moves run_after
    enqueue(any_ctx, "test.record", job_id=7, key="a", now=100.0, delay_seconds=90)  # later: no change
    enqueue(any_ctx, "test.record", job_id=7, key="b", now=100.0)
    enqueue(any_ctx, "test.record", job_id=None, key="a", now=100.0)
    enqueue(any_ctx, "test.record", job_id=None, key="a", now=100.0)
    rows = items(any_ctx)
    assert [(r.job_id, r.key, r.run_after, r.status) for r in rows] == [
        (7, "a", 110.0, "pending"), (7, "b", 100.0, "pending"), (None, "a", 100.0, "pending")
    ]  # fmt: skip
    # once started, a new enqueue adds a new pending item (the running one may have read old data)
    row = runner.claim(any_ctx, "w1", now=200.0)
    assert row.status == "running" and row.attempts == 1
    enqueue(any_ctx, "test.record", job_id=row.job_id, key=row.key, now=200.0)
    assert len(items(any_ctx)) == 4


def test_enqueue_rolls_back_with_its_transaction(ctx: Context) -> None:
    with pytest.raises(RuntimeError), ctx.db.write() as c:
        workqueue.enqueue(c, "test.record", key="x")
        raise RuntimeError("the submit failed")
    assert items(ctx) == []


def test_runner_runs_retries_with_backoff_and_records_failure(any_ctx: Context) -> None:
    enqueue(any_ctx, "test.record", key="ok")
    enqueue(any_ctx, "test.flaky", key="later", payload={"succeed_on": 2})
    enqueue(any_ctx, "test.flaky", key="never")
    assert runner.run_until_idle(any_ctx) == 3  # each ran once; the flaky ones wait for their backoff
    by_key = {r.key: r for r in items(any_ctx)}
    assert by_key["ok"].status == "done"
    assert by_key["later"].status == "pending" and "store refused the write (attempt 1)" in by_key["later"].last_error
    assert by_key["later"].run_after >= by_key["later"].updated_at + 2.0 - 0.01
    far = time.time() + 3600
    assert runner.run_until_idle(any_ctx, now=far) == 3  # later succeeds on 2; never fails twice more
    by_key = {r.key: r for r in items(any_ctx)}
    assert by_key["later"].status == "done" and by_key["later"].attempts == 2
    never = by_key["never"]
    assert never.status == "failed" and never.attempts == 3 and "attempt 3" in never.last_error
    assert runner.run_until_idle(any_ctx, now=far + 3600) == 0  # failed items stay failed


def test_failed_attempt_merges_into_a_newer_pending_twin(ctx: Context) -> None:
    enqueue(ctx, "test.flaky", job_id=1, key="k")
    row = runner.claim(ctx, "w1")
    enqueue(ctx, "test.flaky", job_id=1, key="k")  # a submit made it due again while it ran
    assert runner.execute(ctx, row, "w1") == "pending"
    rows = items(ctx)
    assert len(rows) == 1 and rows[0].status == "pending" and rows[0].attempts == 1 and rows[0].last_error


def test_unknown_kind_is_retried_then_failed_with_the_reason(ctx: Context) -> None:
    enqueue(ctx, "no.such.kind")
    far = time.time()
    for _ in range(10):
        far += 1000
        runner.run_until_idle(ctx, now=far)
    (row,) = items(ctx)
    assert row.status == "failed" and "no handler for work kind 'no.such.kind'" in row.last_error


def test_a_worker_whose_lease_was_taken_over_cannot_mark_the_item(ctx: Context) -> None:
    enqueue(ctx, "test.record", key="x", now=900.0)
    first = runner.claim(ctx, "dead-worker", now=1000.0)
    again = runner.claim(ctx, "w2", now=1000.0 + runner.CLAIM_LEASE_SECONDS + 1)  # lease ran out
    assert again.id == first.id and again.attempts == 2 and again.worker == "w2"
    runner._finish_ok(ctx, first, "dead-worker")  # late: no effect
    assert items(ctx)[0].status == "running"
    assert runner.execute(ctx, again, "w2") == "done"


def _spawn_worker(env: dict, *extra: str) -> subprocess.Popen:
    code = (
        "import sys, threading, signal; import tests.work_handlers; from gtcore.context import Context;"
        "from gtcore.work import runner; stop = threading.Event();"
        "signal.signal(signal.SIGTERM, lambda *a: stop.set());"
        "runner.run(Context.from_env(), stop, poll_seconds=0.05)"
    )
    return subprocess.Popen([sys.executable, "-c", code, *extra], cwd=REPO, env=env)


def _env(ctx: Context) -> dict:
    env = dict(os.environ)
    env.update({"GT_HOME": str(ctx.settings.home), "GT_DATABASE_URL": ctx.db.url,
                "GT_LOCAL_ROOTS": os.pathsep.join(str(r) for r in ctx.settings.local_roots)})  # fmt: skip
    return env


def _wait(pred, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_two_workers_never_run_the_same_item(any_ctx: Context) -> None:
    n = 60
    for i in range(n):
        enqueue(any_ctx, "test.record", key=f"k{i}", payload={"sleep": 0.02})
    procs = [_spawn_worker(_env(any_ctx)) for _ in range(2)]
    try:
        _wait(lambda: all(r.status == "done" for r in items(any_ctx) if r.kind == "test.record"))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(30)
    ev = [e for e in wh.events(any_ctx) if e["ev"] == "start"]
    assert sorted(Counter(e["key"] for e in ev).values()) == [1] * n  # every item ran exactly once
    assert len({e["pid"] for e in ev}) == 2  # and both workers took part
    assert all(r.attempts == 1 for r in items(any_ctx) if r.kind == "test.record")


def test_sigkill_mid_handler_another_worker_finishes_with_no_partial_file(any_ctx: Context) -> None:
    (any_ctx.settings.home / "out").mkdir()
    enqueue(any_ctx, "test.big_file", key="result", payload={"kib": 60_000, "sleep": 0.3})
    env = _env(any_ctx)
    first = _spawn_worker(env)
    try:
        out = any_ctx.settings.home / "out"
        end = time.monotonic() + 60
        while not any(p.name.startswith(".gttmp.") for p in out.iterdir()):  # the write has begun
            assert time.monotonic() < end and first.poll() is None
            time.sleep(0.002)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == []  # no partial file visible
    second = _spawn_worker(env)
    try:
        _wait(lambda: items(any_ctx)[0].status == "done")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    data = (out / "result.bin").read_bytes()
    assert len(data) == 60_000 * 1024 and data[:6] == b"result"
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == ["result.bin"]
    row = items(any_ctx)[0]
    assert row.attempts == 2 and row.status == "done"
    ends = [e for e in wh.events(any_ctx) if e["ev"] == "end"]
    assert [e["attempts"] for e in ends] == [2]  # done once, by the second worker


def test_registry_loads_every_handler_module() -> None:
    kinds = registry.load_handlers()
    assert "maintenance.sweep" in kinds
    with pytest.raises(ValueError, match="already has a handler"):
        registry.handler("maintenance.sweep")(lambda ctx, item: None)


def test_cli_worker_until_idle_and_migrate(page_ctx: Context, capsys: pytest.CaptureFixture) -> None:
    enqueue(page_ctx, "maintenance.sweep")
    assert cli(["worker", "--until-idle", "--max-seconds", "30"]) == 0
    assert "1 work items run" in capsys.readouterr().err
    rows = items(page_ctx)
    assert [r.status for r in rows if r.kind == "maintenance.sweep"] == ["done", "pending"]  # it re-enqueued
    assert cli(["migrate"]) == 0
    out = capsys.readouterr().out
    assert '"Revision": "0002_work_items"' in out or '"Revision": "' in out


def test_queue_status_and_admin_retry(ctx: Context) -> None:
    from gtcore.core.access import Actor
    from gtcore.core.errors import PermissionDenied
    from gtcore.work import status as workstatus
    from tests.fixtures.core import make_user

    enqueue(ctx, "test.flaky", key="never")
    enqueue(ctx, "test.record", key="later", delay_seconds=3600)
    far = time.time()
    for _ in range(3):
        far += 1000
        runner.run_until_idle(ctx, now=far, kinds=["test.flaky"])
    auditor = make_user(ctx.db, "aud@example.test", ("auditor",))
    worker = make_user(ctx.db, "w@example.test", ("worker",))
    q = workstatus.queue_status(ctx, auditor)
    assert (q.pending, q.due, q.running, q.failed) == (1, 0, 0, 1)
    (f,) = q.failed_items
    assert f.kind == "test.flaky" and f.attempts == 3 and f.reason.startswith("RuntimeError: store refused")
    with pytest.raises(PermissionDenied):
        workstatus.queue_status(ctx, worker)
    with pytest.raises(PermissionDenied):
        workstatus.retry(ctx, auditor, f.id)
    workstatus.retry(ctx, Actor.system_actor(), f.id)
    row = next(r for r in items(ctx) if r.id == f.id)
    assert (row.status, row.attempts) == ("pending", 0)
    assert q.oldest_due_seconds is None  # nothing was due
    later = workstatus.queue_status(ctx, auditor, now=row.run_after + 45)  # the retried item waited 45 s
    assert later.due == 1 and later.oldest_due_seconds == pytest.approx(45.0)

"""The runner's rules that issue 27 found untested, and issue 28's one-at-a-time identity: the retry backoff
values and their cap, the lease renewed while a handler runs longer than its lease, ``run_until_idle`` with work
that re-enqueues itself, and a pending twin never claimed while its (kind, job, key) runs."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import workqueue
from gtcore.work import registry, runner
from tests import work_handlers as wh

W = dbm.work_items


def items(ctx: Context, kind: str) -> list:
    with ctx.db.read() as c:
        return list(c.execute(select(W).where(W.c.kind == kind).order_by(W.c.id)))


def enqueue(ctx: Context, kind: str, **kw) -> None:
    with ctx.db.write() as c:
        workqueue.enqueue(c, kind, **kw)


def test_retry_backoff_doubles_from_2_seconds_and_is_capped_at_300(any_ctx: Context) -> None:
    registry.load_handlers()
    enqueue(any_ctx, "test.always_fails", key="x")
    seen = []
    far = time.time()
    for attempt in range(1, 12):
        far += 10_000
        assert runner.run_once(any_ctx, "w1", now=far)  # one attempt, the clock far past any backoff
        (row,) = items(any_ctx, "test.always_fails")
        assert row.status == "pending" and row.attempts == attempt
        assert f"still failing (attempt {attempt})" in row.last_error
        seen.append(round(row.run_after - row.updated_at, 3))
    assert seen == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0, 300.0]
    assert runner.MAX_BACKOFF_SECONDS == 300.0
    assert runner.run_once(any_ctx, "w1", now=far + 10_000)  # attempt 12 = max_attempts: failed for good
    (row,) = items(any_ctx, "test.always_fails")
    assert row.status == "failed" and row.attempts == 12 and "attempt 12" in row.last_error


def test_the_lease_is_renewed_while_the_handler_runs_longer_than_it(any_ctx: Context) -> None:
    enqueue(any_ctx, "test.slow", key="long", payload={"sleep": 2.5})  # lease 0.6 s, about 4 leases long
    row = runner.claim(any_ctx, "w1")
    assert row is not None
    result: list[str] = []
    t = threading.Thread(target=lambda: result.append(runner.execute(any_ctx, row, "w1")))
    t.start()
    leases, stolen = [], []
    while t.is_alive():
        (now_row,) = items(any_ctx, "test.slow")
        if now_row.status == "running":
            leases.append(now_row.lease_until)
        other = runner.claim(any_ctx, "w2")  # by the real clock: the lease must never have run out
        if other is not None:
            stolen.append(other)
        time.sleep(0.1)
    t.join()
    assert stolen == [] and result == ["done"]
    # the claim's own lease first, then the handler's 0.6 s lease renewed again and again (not set once)
    assert len(leases) >= 5 and leases[-1] > leases[1] + 1.0
    assert all(e["pid"] for e in wh.events(any_ctx) if e["key"] == "long")
    (done,) = items(any_ctx, "test.slow")
    assert done.status == "done" and done.attempts == 1 and done.worker == "w1"


def test_run_until_idle_runs_a_chain_that_enqueues_its_next_link(any_ctx: Context) -> None:
    enqueue(any_ctx, "test.chain", key="0", payload={"last": 5})
    assert runner.run_until_idle(any_ctx) == 6  # 0..5, each enqueued by the one before, all due at once
    assert [r.key for r in items(any_ctx, "test.chain")] == ["0", "1", "2", "3", "4", "5"]
    assert {r.status for r in items(any_ctx, "test.chain")} == {"done"}


def test_run_until_idle_stops_on_work_that_re_enqueues_itself_for_later(any_ctx: Context) -> None:
    enqueue(any_ctx, "test.chain", key="7", payload={"delay": 30.0})  # like the maintenance sweep
    t0 = time.monotonic()
    assert runner.run_until_idle(any_ctx, max_seconds=60) == 1  # ran once; its next run is 30 s away
    assert runner.run_until_idle(any_ctx, now=time.time() + 3600, max_seconds=60) == 1  # the clock moved: once
    assert time.monotonic() - t0 < 30
    rows = items(any_ctx, "test.chain")
    assert [r.status for r in rows] == ["done", "done", "pending"]


def test_a_pending_twin_waits_while_its_identity_runs(any_ctx: Context) -> None:
    enqueue(any_ctx, "test.record", job_id=3, key="part-0")
    first = runner.claim(any_ctx, "w1")
    assert first is not None
    enqueue(any_ctx, "test.record", job_id=3, key="part-0")  # due again while it runs
    enqueue(any_ctx, "test.record", job_id=3, key="part-1")  # another part: free to run in parallel
    other = runner.claim(any_ctx, "w2")
    assert other is not None and other.key == "part-1"
    assert runner.claim(any_ctx, "w3") is None  # the twin of part-0 waits for the running one
    assert runner.execute(any_ctx, first, "w1") == "done"
    twin = runner.claim(any_ctx, "w3")
    assert twin is not None and twin.key == "part-0" and twin.id != first.id

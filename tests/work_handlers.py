"""Handlers used by the work-queue tests (kinds ``test.*``), importable in worker subprocesses too.

Each records what it did under ``<GT_HOME>/work-log/`` (one line per event, O_APPEND writes are atomic for
short lines), so a test can tell how often an item ran, by which worker, and whether two ran at once."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from gtcore.context import Context
from gtcore.work.registry import WorkItem, handler


def log_path(ctx: Context) -> Path:
    p = ctx.settings.home / "work-log"
    p.mkdir(parents=True, exist_ok=True)
    return p / "events.jsonl"


def _log(ctx: Context, **event: object) -> None:
    line = (json.dumps({"pid": os.getpid(), "t": time.time(), **event}) + "\n").encode()
    fd = os.open(log_path(ctx), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def events(ctx: Context) -> list[dict]:
    p = log_path(ctx)
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


@handler("test.record", max_attempts=2, lease_seconds=30.0)
def record(ctx: Context, item: WorkItem) -> None:
    _log(ctx, ev="start", id=item.id, key=item.key)
    time.sleep(float(item.payload.get("sleep", 0.0)))
    _log(ctx, ev="end", id=item.id, key=item.key)


@handler("test.flaky", max_attempts=3, lease_seconds=30.0)
def flaky(ctx: Context, item: WorkItem) -> None:
    _log(ctx, ev="try", id=item.id, attempts=item.attempts)
    if item.attempts < int(item.payload.get("succeed_on", 99)):
        raise RuntimeError(f"store refused the write (attempt {item.attempts})")


@handler("test.big_file", max_attempts=5, lease_seconds=1.0)
def big_file(ctx: Context, item: WorkItem) -> None:
    """Write a large file through the store (tmp-then-rename), slowly enough to be killed in the middle."""
    uri = str(ctx.settings.home / "out" / f"{item.key}.bin")
    _log(ctx, ev="start", id=item.id, attempts=item.attempts)
    chunk = (item.key.encode() * 1024)[:1024]
    data = chunk * (int(item.payload.get("kib", 1024)))
    time.sleep(float(item.payload.get("sleep", 0.0)))
    ctx.storage.write_bytes(uri, data)
    _log(ctx, ev="end", id=item.id, attempts=item.attempts)


@handler("test.always_fails", max_attempts=12, lease_seconds=30.0)
def always_fails(ctx: Context, item: WorkItem) -> None:
    raise RuntimeError(f"still failing (attempt {item.attempts})")


@handler("test.slow", max_attempts=2, lease_seconds=0.6)
def slow(ctx: Context, item: WorkItem) -> None:
    """Runs several times longer than its lease: the runner must keep renewing it."""
    _log(ctx, ev="start", id=item.id, key=item.key)
    time.sleep(float(item.payload.get("sleep", 2.5)))
    _log(ctx, ev="end", id=item.id, key=item.key)


@handler("test.chain", max_attempts=2, lease_seconds=30.0)
def chain(ctx: Context, item: WorkItem) -> None:
    """Re-enqueues itself: the next link due at once until ``last``, or itself again after ``delay`` seconds."""
    from gtcore.core import workqueue

    _log(ctx, ev="start", id=item.id, key=item.key)
    n, last, delay = int(item.key), int(item.payload.get("last", 0)), float(item.payload.get("delay", 0.0))
    with ctx.db.write() as conn:
        if delay:
            workqueue.enqueue(conn, "test.chain", key=item.key, payload=item.payload, delay_seconds=delay)
        elif n < last:
            workqueue.enqueue(conn, "test.chain", key=str(n + 1), payload=item.payload)

"""Sign-in attempts are counted before the password is checked, atomically in the database: however many threads
or processes try at once (SQLite and PostgreSQL), no more passwords are checked than the throttle allows.

Each ``InvalidCredentials`` answer is one password check (a refused attempt is ``Throttled`` and checks nothing).
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable

import pytest

from gtcore.context import Context
from gtcore.core.errors import InvalidCredentials, Throttled
from gtcore.core.settings import Settings
from gtcore.workforce import signin, throttle
from tests.fixtures.people import People

T0 = 2_000_000_000.0
SLOT, MAX_WAIT = 0.5, 1.0  # a locked account's slots for clients without failures, shortened for the test


def _attempt(ctx: Context, email: str, client: str) -> str:
    try:
        signin.sign_in(ctx, email, "a wrong guess", client, now=T0)
    except InvalidCredentials:
        return "checked"
    except Throttled:
        return "refused"
    return "signed in"


def _in_threads(n: int, fn: Callable[[int], str]) -> Counter[str]:
    barrier = threading.Barrier(n)
    out: Counter[str] = Counter()
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait(timeout=120)
        r = fn(i)
        with lock:
            out[r] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    return out


@pytest.fixture
def short_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle, "GUARDED_SLOT_SECONDS", SLOT)
    monkeypatch.setattr(throttle, "GUARDED_MAX_WAIT", MAX_WAIT)


def test_thirty_threads_one_client_check_at_most_the_account_limit(any_ctx: Context) -> None:
    victim = People(any_ctx).worker()
    got = _in_threads(30, lambda i: _attempt(any_ctx, victim.email, "attacker"))
    assert got["checked"] <= throttle.ACCOUNT_LIMIT, got
    assert got["checked"] >= 1 and got["checked"] + got["refused"] == 30


def test_thirty_threads_from_thirty_clients_check_at_most_the_limit_plus_the_slots(
    any_ctx: Context, short_slots: None
) -> None:
    victim = People(any_ctx).worker()
    got = _in_threads(30, lambda i: _attempt(any_ctx, victim.email, f"bot-{i}"))
    # the account's limit, then clients without failures are slowed into slots (at most MAX_WAIT of them ahead)
    bound = throttle.ACCOUNT_LIMIT + int(MAX_WAIT / SLOT) + 1
    assert got["checked"] <= bound, got
    assert got["refused"] >= 30 - bound


def _process_main(settings: Settings, email: str, prefix: str, n: int, start: object, out: object) -> None:
    throttle.GUARDED_SLOT_SECONDS, throttle.GUARDED_MAX_WAIT = SLOT, MAX_WAIT
    ctx = Context.from_settings(settings)
    try:
        start.wait(timeout=120)  # type: ignore[attr-defined]
        got = _in_threads(n, lambda i: _attempt(ctx, email, f"{prefix}-{i % 2}"))
        out.put(dict(got))  # type: ignore[attr-defined]
    finally:
        ctx.db.dispose()


def test_four_processes_check_at_most_the_limit(any_ctx: Context) -> None:
    victim = People(any_ctx).worker()
    mp = multiprocessing.get_context("spawn")
    start, out = mp.Barrier(4), mp.Queue()
    procs = [
        mp.Process(target=_process_main, args=(any_ctx.settings, victim.email, f"p{k}", 8, start, out))
        for k in range(4)
    ]
    for p in procs:
        p.start()
    total: Counter[str] = Counter()
    for _ in procs:
        total.update(out.get(timeout=300))
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    # 8 clients, each failing at once: the account's limit, then each client's own failures keep it out
    # (a client that failed is refused by the account's lock); slots only for clients without failures
    bound = throttle.ACCOUNT_LIMIT + int(MAX_WAIT / SLOT) + 1
    assert sum(total.values()) == 32
    assert total["checked"] <= bound, total

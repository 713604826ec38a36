"""Where the time of a claim and of a submit goes, per configuration (database x processes).

    python bench/profile_queue.py [--objects 1000] [--procs 1 8] [--db sqlite postgres] [--cprofile 25]

Runs the product loop of ``bench_queue.py`` (same fresh database, same job, same spawned processes) with
instrumentation in the worker processes:

- timing pass: the wall time of each call (``claim_next``, ``submit``, and what they call after their commit:
  worker-response file, settling, overdue check, each its own phase) split into pool checkout
  (``engine.connect``, with PostgreSQL's pre-ping), the statements at the driver (``cursor.execute``: round
  trip, server work, lock waits), SQLAlchemy around each statement (compiled-cache lookup, parameter and
  result processing: ``execute`` minus ``cursor.execute``), COMMIT, the pool's reset on return, and the rest
  (gtcore's own Python: checks, validation, JSON, building the Task). Per statement: executions per call and
  mean ms; a hot row shows up as the wait of the statement that locks it. Compiled-cache misses are counted.
- round-trip pass (one process): every command sent to the server, counted in psycopg's pure-Python libpq
  binding (``PSYCOPG_IMPL=python``; this pass's timings are not used); on SQLite the driver calls.
- ``--cprofile N``: the N functions with the most own time in a one-process run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

TIME: dict[str, float] = defaultdict(float)  # "phase|component" -> seconds
COUNT: dict[str, int] = defaultdict(int)
STACK = ["setup"]
ATTACHED: set[int] = set()


def _add(comp: str, dt: float, n: int = 1) -> None:
    TIME[f"{STACK[-1]}|{comp}"] += dt
    COUNT[f"{STACK[-1]}|{comp}"] += n


@contextmanager
def _phase(name: str) -> Iterator[None]:
    STACK.append(name)
    t0 = perf_counter()
    try:
        yield
    finally:
        dt = perf_counter() - t0
        _add("wall", dt)
        STACK.pop()
        if len(STACK) > 1:
            _add("in sub-phases", dt)


def _timed_phase(module: Any, name: str, phase: str) -> None:
    fn = getattr(module, name, None)
    if fn is None:
        return

    def wrapper(*a: Any, **k: Any) -> Any:
        with _phase(phase):
            return fn(*a, **k)

    setattr(module, name, wrapper)


def _attach(engine: Any) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine.default import CACHE_MISS

    if id(engine) in ATTACHED:
        return
    ATTACHED.add(id(engine))

    @event.listens_for(engine, "before_execute")
    def _b_exec(conn: Any, *_a: Any) -> None:
        conn.info["t_exec"] = perf_counter()

    @event.listens_for(engine, "after_execute")
    def _a_exec(conn: Any, *_a: Any) -> None:
        _add("sqlalchemy+driver", perf_counter() - conn.info.pop("t_exec"))

    @event.listens_for(engine, "before_cursor_execute")
    def _b_cur(conn: Any, _cur: Any, stmt: str, _p: Any, context: Any, _many: bool) -> None:
        conn.info["t_cur"] = perf_counter()
        if context is not None and getattr(context, "cache_hit", None) is CACHE_MISS:
            _add("compile misses", 0.0)

    @event.listens_for(engine, "after_cursor_execute")
    def _a_cur(conn: Any, _cur: Any, stmt: str, *_a: Any) -> None:
        dt = perf_counter() - conn.info.pop("t_cur")
        _add("driver" if "t_exec" in conn.info else "driver (exec_driver_sql)", dt)
        _add("sql " + " ".join(stmt.split())[:110], dt)

    connect = engine.connect

    def timed_connect() -> Any:
        t0 = perf_counter()
        conn = connect()
        _add("checkout", perf_counter() - t0)
        return conn

    engine.connect = timed_connect
    d = engine.dialect
    for name, comp in (("do_commit", "commit"), ("do_rollback", "reset/rollback"), ("do_begin", "begin")):
        orig = getattr(d, name)

        def timed(dbapi_conn: Any, _orig: Any = orig, _comp: str = comp) -> Any:
            t0 = perf_counter()
            try:
                return _orig(dbapi_conn)
            finally:
                _add(_comp, perf_counter() - t0)

        setattr(d, name, timed)


def _count_round_trips() -> None:
    """Count every command psycopg's pure-Python libpq binding sends (one per round trip outside pipelines)."""
    from psycopg.pq import pq_ctypes

    names = ("send_query", "send_query_params", "send_prepare", "send_query_prepared", "exec_", "exec_params",
             "prepare", "exec_prepared", "send_describe_prepared", "describe_prepared")  # fmt: skip
    for name in names:
        orig = getattr(pq_ctypes.PGconn, name, None)
        if orig is None:
            continue

        def counted(self: Any, *a: Any, _orig: Any = orig, **k: Any) -> Any:
            _add("round trips", 0.0)
            return _orig(self, *a, **k)

        setattr(pq_ctypes.PGconn, name, counted)


def profiled(kind: str, args: tuple) -> dict:
    """Child side: instrument, run the product loop of bench_queue, return its result plus the figures."""
    import bench_queue

    from gtcore.core import db as dbm
    from gtcore.jobs import settling
    from gtcore.output import worker_responses
    from gtcore.queue import api as queue

    if "roundtrips" in kind and args[0].startswith("postgresql"):
        _count_round_trips()
    orig_init = dbm.Database.__init__

    def init(self: Any, *a: Any, **k: Any) -> None:
        orig_init(self, *a, **k)
        _attach(self.engine)

    dbm.Database.__init__ = init  # type: ignore[method-assign]
    _timed_phase(queue, "claim_next", "claim")
    _timed_phase(queue, "submit", "submit")
    _timed_phase(worker_responses, "write_row", "file")
    _timed_phase(settling, "object_settled", "settle")
    _timed_phase(settling, "maybe_fail_overdue", "overdue")
    prof = cProfile.Profile() if "cprofile" in kind else None
    if prof:
        prof.enable()
    result = bench_queue._product(*args)
    if prof:
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(int(kind.rsplit(":", 1)[1]))
        result["cprofile"] = buf.getvalue()
    result["time"], result["count"] = dict(TIME), dict(COUNT)
    return result


def _merge(raw: list[dict]) -> tuple[dict[str, float], dict[str, int]]:
    t: dict[str, float] = defaultdict(float)
    n: dict[str, int] = defaultdict(int)
    for r in raw:
        for k, v in r["time"].items():
            t[k] += v
        for k, v in r["count"].items():
            n[k] += v
    return t, n


def report(title: str, raw: list[dict], trips: list[dict] | None) -> None:
    t, n = _merge(raw)
    rt = _merge(trips)[1] if trips else {}
    pg = "postgres" in title
    print(f"\n== {title}")
    for phase in ("claim", "overdue", "submit", "file", "settle"):
        calls = n.get(f"{phase}|wall", 0)
        if not calls:
            continue
        g = {k.split("|", 1)[1]: v for k, v in t.items() if k.startswith(phase + "|")}
        c = {k.split("|", 1)[1]: v for k, v in n.items() if k.startswith(phase + "|")}
        per = {k: 1000 * v / calls for k, v in g.items()}
        own = per["wall"] - per.get("in sub-phases", 0.0)
        sqla = per.get("sqlalchemy+driver", 0.0) - per.get("driver", 0.0)
        raw = per.get("driver (exec_driver_sql)", 0.0)
        driver = per.get("driver", 0.0) + raw
        acct = per.get("checkout", 0.0) + per.get("sqlalchemy+driver", 0.0) + raw + per.get("commit", 0.0)
        acct += per.get("reset/rollback", 0.0) + per.get("begin", 0.0)
        trips_per = rt.get(f"{phase}|round trips", 0) / max(1, rt.get(f"{phase}|wall", 0))
        trips_text = f"{trips_per:.1f}" if pg else "- (in-process)"
        stmts_per = (c.get("driver", 0) + c.get("driver (exec_driver_sql)", 0)) / calls
        print(f"{phase:<8} {per['wall']:6.2f} ms/call ({calls} calls; own {own:.2f} ms), statements/call "
              f"{stmts_per:.1f}, server round trips/call {trips_text}, compile misses "
              f"{c.get('compile misses', 0)}")  # fmt: skip
        print(f"         checkout {per.get('checkout', 0):.2f} | driver {driver:.2f} | SQLAlchemy "
              f"around statements {sqla:.2f} | commit {per.get('commit', 0):.2f} | reset on return "
              f"{per.get('reset/rollback', 0):.2f} | gtcore Python {own - acct:.2f} ms/call")  # fmt: skip
        stmts = sorted(((v, k) for k, v in g.items() if k.startswith("sql ")), reverse=True)[:6]
        for v, k in stmts:
            cnt = c[k]
            print(f"           {1000 * v / calls:6.2f} ms/call {cnt / calls:4.1f}x {1000 * v / cnt:6.2f} ms  {k[4:]}")


def main() -> None:
    import bench_queue

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=1000)
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    ap.add_argument("--cprofile", type=int, default=0, help="top N functions by own time (1 process)")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores; ms per call, summed over processes")
    for db in args.db:
        os.environ["PSYCOPG_IMPL"] = "python"
        trips = bench_queue.run("profile:roundtrips", db, 1, min(args.objects, 200))["raw"]
        del os.environ["PSYCOPG_IMPL"]
        for procs in args.procs:
            r = bench_queue.run("profile:timing", db, procs, args.objects)
            title = f"{db} x {procs}: {r['rate']:.0f} pairs/s instrumented, load {r['load']:.2f}"
            report(title, r["raw"], trips)
        if args.cprofile:
            r = bench_queue.run(f"profile:cprofile:{args.cprofile}", db, 1, args.objects)
            print(f"\n== cProfile {db} x 1 (top {args.cprofile} by own time)\n{r['raw'][0]['cprofile']}")


if __name__ == "__main__":
    main()

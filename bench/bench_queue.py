"""Benchmark: claim + submit pairs/s of the product against the bare limit of the same database, in one run.

    python bench/bench_queue.py [--objects 1000] [--procs 1 8] [--db sqlite postgres] [--rounds 2]

For every database (a SQLite file in a temp folder; a fresh schema on the PostgreSQL at GT_TEST_PG_URL or
postgresql+psycopg://gt:gt@127.0.0.1:5432/gt_test) and process count, ``--rounds`` times, alternating which
goes first, on a fresh database each time (one BoundingBox job of ``--objects`` objects, one answer each, one
worker user per process, every process spawned, connected and warmed up before the common start signal):

- **bare**: the raw driver's loop of the same logical statements (``bench/queue_bare.py``: claim = a conditional
  UPDATE picking the next open object + the assignment INSERT; submit = the assignment UPDATE + the job's
  counter), with the ``synchronous`` level the product's SQLite engine sets (read from it);
- **product**: ``gtcore.queue.api.claim_next`` + ``submit`` (a 3-box answer, validated; leases, refusal checks,
  everything a worker's submit runs before it returns, worker-response files included where the submit still
  writes them). The deferred work (the ``gtcore.work`` items the pairs enqueued, and the job's final
  ``finish_job`` where the last submit still runs it itself: recorded in the benchmark processes instead) is run
  after the pairs, by the parent process, and printed separately: it is not in pairs/s.

pairs/s = pairs / wall time from the first claim to the last (empty) claim, median over the rounds; the ratio
is product / bare of the same row. Claim p50/p99 are over all claims of all rounds. The machine is shared: the
1-minute load average is printed before every measurement (min-max per row), so a row measured under load
is visible as such.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.context import Context  # noqa: E402
from gtcore.core.access import Actor  # noqa: E402
from tests.fixtures.core import drop_pg_schema, make_settings, make_team, make_user, pg_schema_url  # noqa: E402
from tests.fixtures.queue import box_answer, insert_job  # noqa: E402

# the worktree's own gtcore (an editable install elsewhere would resolve a missing gtcore.work to its copy)
HAS_WORK_QUEUE = (Path(__file__).resolve().parents[1] / "gtcore" / "work" / "runner.py").is_file()


def _product(db_url: str, tmp: str, job_id: int, who: dict, start: Any, ready: Any) -> dict:
    from gtcore.jobs import finishing
    from gtcore.queue import api as queue

    finished: list[int] = []  # a finish run inside a submit is deferred to the parent (see docstring)
    finishing.finish_job = lambda _ctx, jid, _status: finished.append(jid)  # type: ignore[assignment]
    ctx = Context.from_settings(make_settings(Path(tmp), database_url=db_url))
    actor = Actor(
        user_id=who["user_id"],
        email=who["email"],
        roles=frozenset({"worker"}),
        team_ids=frozenset(who["team_ids"]),
        worker_id=who["worker_id"],
    )
    answer = box_answer("cat", n=3)
    ctx.db.ping()  # the pool's connection is open before the start, like the bare loop's
    ready.put(1)
    start.wait(300)
    claims: list[float] = []
    submits: list[float] = []
    t_start, cpu0 = time.time(), time.process_time()
    while True:
        t0 = time.perf_counter()
        task = queue.claim_next(ctx, actor, job_id)
        t1 = time.perf_counter()
        if task is None:
            break
        queue.submit(ctx, actor, task.assignment_id, answer)
        claims.append(t1 - t0)
        submits.append(time.perf_counter() - t1)
    result = {"start": t_start, "end": time.time(), "cpu": time.process_time() - cpu0, "finished": finished}
    ctx.db.dispose()
    return {**result, "claims": claims, "submits": submits}


def _child(kind: str, args: tuple, out: str) -> None:
    if kind == "bare":
        from queue_bare import run_bare

        result = run_bare(*args)
    elif kind.startswith("profile"):
        from profile_queue import profiled

        result = profiled(kind, args)
    else:
        result = _product(*args)
    Path(out).write_text(json.dumps(result))


def _sqlite_sync(ctx: Context) -> int:
    with ctx.db.engine.connect() as c:
        return int(c.exec_driver_sql("PRAGMA synchronous").scalar() or 0)


def _deferred(ctx: Context, job_id: int, res: list[dict]) -> tuple[int, float]:
    """Run the work the submits left for the background; return (items, seconds)."""
    from gtcore.jobs import finishing

    t0 = time.perf_counter()
    items = 0
    if HAS_WORK_QUEUE:
        from sqlalchemy import func, select

        from gtcore.core import db as dbm

        runner = importlib.import_module("gtcore.work.runner")
        runner.run_until_idle(ctx, max_seconds=900)
        with ctx.db.read() as c:
            items = int(c.execute(select(func.count()).select_from(dbm.work_items)).scalar_one())
    jobs = {j for r in res for j in r["finished"]}  # finishes a submit still runs itself
    for jid in jobs:
        finishing.finish_job(ctx, jid, "Completed")
    return items + len(jobs), time.perf_counter() - t0


def _wait_ready(ready: Any, procs: list[Any]) -> None:
    waiting, deadline = len(procs), time.monotonic() + 300
    while waiting:
        try:
            ready.get(timeout=1.0)
            waiting -= 1
        except Empty:
            if any(p.exitcode is not None for p in procs) or time.monotonic() > deadline:
                raise SystemExit("a benchmark process died or hung before the start") from None


def run(kind: str, db: str, procs: int, objects: int) -> dict:
    """One measurement on a fresh database: ``kind`` is "bare" or "product"."""
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp_name:
        tmp = Path(tmp_name)
        schema = None
        url = f"sqlite:///{tmp / 'gt.sqlite3'}"
        if db == "postgres":
            url, schema = pg_schema_url("bench_")
        try:
            ctx = Context.from_settings(make_settings(tmp, database_url=url))
            sync = _sqlite_sync(ctx) if ctx.db.is_sqlite else 0
            team = make_team(ctx.db, "bench")
            workers = [make_user(ctx.db, f"w{i}@bench.test", team_ids=(team,)) for i in range(procs)]
            (tmp / "out").mkdir()
            out_dir = str(tmp / "out")
            job = insert_job(ctx.db, team_id=team, output_path=out_dir, n_objects=objects, task_time_limit=3600)
            spawn = mp.get_context("spawn")
            start, ready = spawn.Event(), spawn.Queue()
            answer = json.dumps(box_answer("cat", n=3))
            running = []
            for i, w in enumerate(workers):
                if kind == "bare":  # else the product, or the product profiled (bench/profile_queue.py)
                    args: tuple = (url, sync, job, w.user_id, answer, start, ready)
                else:
                    who = {"user_id": w.user_id, "email": w.email, "worker_id": w.worker_id, "team_ids": [team]}
                    args = (url, str(tmp), job, who, start, ready)
                out = tmp / f"r{i}.json"
                p = spawn.Process(target=_child, args=(kind, args, str(out)))
                p.start()
                running.append((p, out))
            _wait_ready(ready, [p for p, _ in running])
            load = os.getloadavg()[0]
            start.set()
            for p, _ in running:
                p.join()
                if p.exitcode != 0:
                    raise SystemExit(f"a {kind} benchmark process failed (exit {p.exitcode})")
            res = [json.loads(out.read_text()) for _, out in running]
            deferred = _deferred(ctx, job, res) if kind != "bare" else (0, 0.0)
            ctx.db.dispose()
        finally:
            if schema:
                drop_pg_schema(schema)
    pairs = sum(len(r["claims"]) for r in res)
    if pairs != objects:
        raise SystemExit(f"{kind} {db} x {procs}: {pairs} pairs for {objects} objects")
    wall = max(r["end"] for r in res) - min(r["start"] for r in res)
    return {
        "rate": pairs / wall,
        "cpu_ms": 1000 * sum(r["cpu"] for r in res) / pairs,
        "claims": [x for r in res for x in r["claims"]],
        "submits": [x for r in res for x in r["submits"]],
        "load": load,
        "deferred": deferred,
        "raw": res,
    }


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return 1000 * s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=1000)
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    ap.add_argument("--rounds", type=int, default=2, help="bare/product measurements per row, alternating")
    args = ap.parse_args()
    deferred_what = "gtcore.work items + finish_job" if HAS_WORK_QUEUE else "finish_job (no work queue yet)"
    print(f"claim+submit pairs, {args.objects} objects x 1 answer, {args.rounds} rounds; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.2f}; deferred work = {deferred_what}")  # fmt: skip
    head = f"{'database':<10} {'procs':>5} {'product/s':>9} {'bare/s':>7} {'ratio':>5} {'claim p50/p99 ms':>17}"
    print(f"{head} {'bare claim p50/p99':>18} {'submit p50/p99':>15} {'cpu ms/pair':>11} {'deferred':>14} {'load':>9}")
    for db in args.db:
        for procs in args.procs:
            got: dict[str, list[dict]] = {"bare": [], "product": []}
            for rnd in range(args.rounds):
                for kind in ("bare", "product") if rnd % 2 == 0 else ("product", "bare"):
                    got[kind].append(run(kind, db, procs, args.objects))
            prod, bare = got["product"], got["bare"]
            p_rate = statistics.median(r["rate"] for r in prod)
            b_rate = statistics.median(r["rate"] for r in bare)
            pc = [x for r in prod for x in r["claims"]]
            bc = [x for r in bare for x in r["claims"]]
            ps = [x for r in prod for x in r["submits"]]
            items = prod[-1]["deferred"][0]
            dsec = statistics.median(r["deferred"][1] for r in prod)
            loads = [r["load"] for r in prod + bare]
            print(
                f"{db:<10} {procs:>5} {p_rate:>9.0f} {b_rate:>7.0f} {p_rate / b_rate:>5.2f} "
                f"{_pct(pc, 0.5):>8.2f}/{_pct(pc, 0.99):<8.2f} {_pct(bc, 0.5):>9.2f}/{_pct(bc, 0.99):<8.2f} "
                f"{_pct(ps, 0.5):>7.2f}/{_pct(ps, 0.99):<7.2f} {statistics.median(r['cpu_ms'] for r in prod):>11.2f} "
                f"{items:>4} in {dsec:>5.2f}s {min(loads):>4.1f}-{max(loads):<4.1f}",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores, shared with other work)")
    print("target: ratio >= 0.5 in every row; PostgreSQL x 8 at least as fast as x 1. cpu ms/pair: CPU time of")
    print("the product's processes per pair (claim + submit, client side). deferred: run after the pairs,")
    print("not in pairs/s")


if __name__ == "__main__":
    main()

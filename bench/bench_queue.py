"""Benchmark: claim + submit pairs per second through gtcore.queue.claim, 1 and 8 processes, SQLite and PostgreSQL.

    python bench/bench_queue.py [--objects 2000] [--procs 1 8] [--db sqlite postgres]

Each run builds a fresh database (a SQLite file in a temp folder; a fresh schema on the PostgreSQL at
GT_TEST_PG_URL or postgresql+psycopg://gt:gt@127.0.0.1:5432/gt_test), one BoundingBox job with ``--objects``
objects and one answer needed per object, and one worker user per process. Every process (spawned, own
Context) loops ``claim_next`` -> ``submit`` (a 3-box answer, validated) until the queue is empty. A pair is the
full real path: the claim transaction (expiry check, candidate window, conditional UPDATE, assignment
insert), the submit transaction, and the worker-response file written to the local output folder (atomic:
temp file + fsync + link). ``lifecycle.finish_job`` is replaced by a no-op in the benchmark processes so the
final consolidation of the whole job is not counted as queue time.

Each configuration runs twice: with the worker-response files (``files=yes``, the product) and with
``responses.write_row`` switched off in the benchmark processes (``files=no``: the queue's database work
alone), because the local store fsyncs every file and its directory, which dominates on slow disks.

Target: >= 500 pairs/s on SQLite in one process. Printed: pairs/s over the wall time from the first claim to
the last submit, pairs per CPU-second of the worker processes (less sensitive to other load on a shared
machine), and the median claim / submit latency (ms) seen by the processes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.context import Context  # noqa: E402
from gtcore.core.access import Actor  # noqa: E402
from tests.fixtures.core import drop_pg_schema, make_settings, make_team, make_user, pg_schema_url  # noqa: E402
from tests.fixtures.queue import box_answer, insert_job  # noqa: E402


def _run_worker(db_url: str, tmp: str, job_id: int, who: dict, files: bool, start: Any, out: str) -> None:
    from gtcore.jobs import finishing as lifecycle
    from gtcore.output import worker_responses as responses
    from gtcore.queue import api as queue

    lifecycle.finish_job = lambda *a, **k: None  # type: ignore[assignment]  # see module docstring
    if not files:  # queue-only rows: the database work without the worker-response file
        responses.write_row = lambda *a, **k: None  # type: ignore[assignment]
    ctx = Context.from_settings(make_settings(Path(tmp), database_url=db_url))
    actor = Actor(
        user_id=who["user_id"],
        email=who["email"],
        roles=frozenset({"worker"}),
        team_ids=frozenset(who["team_ids"]),
        worker_id=who["worker_id"],
    )
    answer = box_answer("cat", n=3)
    claims: list[float] = []
    submits: list[float] = []
    start.wait(120)
    t_start = time.time()
    cpu0 = time.process_time()
    while True:
        t0 = time.perf_counter()
        task = queue.claim_next(ctx, actor, job_id)
        t1 = time.perf_counter()
        if task is None:
            break
        queue.submit(ctx, actor, task.assignment_id, answer)
        t2 = time.perf_counter()
        claims.append(t1 - t0)
        submits.append(t2 - t1)
    t_end = time.time()
    cpu = time.process_time() - cpu0
    ctx.db.dispose()
    result = {"start": t_start, "end": t_end, "cpu": cpu, "claims": claims, "submits": submits}
    Path(out).write_text(json.dumps(result))


def _pg_schema_url() -> tuple[str, str]:
    return pg_schema_url("bench_")


def _drop_pg_schema(schema: str) -> None:
    drop_pg_schema(schema)


def run(db: str, procs: int, objects: int, files: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp_name:
        tmp = Path(tmp_name)
        schema = None
        if db == "sqlite":
            url = f"sqlite:///{tmp / 'gt.sqlite3'}"
        else:
            url, schema = _pg_schema_url()
        try:
            ctx = Context.from_settings(make_settings(tmp, database_url=url))
            team = make_team(ctx.db, "bench")
            workers = [make_user(ctx.db, f"w{i}@bench.test", team_ids=(team,)) for i in range(procs)]
            (tmp / "out").mkdir()
            job = insert_job(
                ctx.db, team_id=team, output_path=str(tmp / "out"), n_objects=objects, task_time_limit=3600
            )
            ctx.db.dispose()
            spawn = mp.get_context("spawn")
            start = spawn.Event()
            running = []
            for i, w in enumerate(workers):
                who = {"user_id": w.user_id, "email": w.email, "worker_id": w.worker_id, "team_ids": [team]}
                out = tmp / f"r{i}.json"
                p = spawn.Process(target=_run_worker, args=(url, str(tmp), job, who, files, start, str(out)))
                p.start()
                running.append((p, out))
            time.sleep(1.0 + 0.5 * procs)  # let every process import and connect before the start signal
            start.set()
            for p, _ in running:
                p.join()
                if p.exitcode != 0:
                    raise SystemExit(f"a benchmark process failed (exit {p.exitcode})")
            res = [json.loads(out.read_text()) for _, out in running]
        finally:
            if schema:
                _drop_pg_schema(schema)
    pairs = sum(len(r["claims"]) for r in res)
    wall = max(r["end"] for r in res) - min(r["start"] for r in res)
    claims = [x for r in res for x in r["claims"]]
    submits = [x for r in res for x in r["submits"]]
    return {
        "db": db,
        "procs": procs,
        "files": files,
        "cpu_rate": pairs / sum(r["cpu"] for r in res),
        "pairs": pairs,
        "seconds": wall,
        "rate": pairs / wall,
        "claim_ms": statistics.median(claims) * 1000,
        "submit_ms": statistics.median(submits) * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    args = ap.parse_args()
    print(f"claim+submit pairs, {args.objects} objects x 1 answer; load average before: {os.getloadavg()[0]:.2f}")
    head = f"{'database':<10} {'procs':>5} {'files':>5} {'pairs':>6} {'seconds':>8} {'pairs/s':>8} {'pairs/cpu-s':>11}"
    print(f"{head} {'claim ms':>9} {'submit ms':>10}")
    for db in args.db:
        for procs in args.procs:
            for files in (True, False):
                r = run(db, procs, args.objects, files)
                print(
                    f"{r['db']:<10} {r['procs']:>5} {'yes' if files else 'no':>5} {r['pairs']:>6} {r['seconds']:>8.2f} "
                    f"{r['rate']:>8.0f} {r['cpu_rate']:>11.0f} {r['claim_ms']:>9.2f} {r['submit_ms']:>10.2f}",
                    flush=True,
                )
    print(f"load average after: {os.getloadavg()[0]:.2f} (2 cores, shared)")
    print("target: >= 500 pairs/s on SQLite in one process. files=no: worker-response writes switched off;")
    print("pairs/cpu-s: pairs per CPU-second used by the worker processes (less sensitive to other load)")


if __name__ == "__main__":
    main()

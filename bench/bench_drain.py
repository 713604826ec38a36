"""Benchmark: background workers add up (issue 28). A finished job's worker-response files and its finish are
drained by 1, 2 and 4 ``gtcore worker`` processes on PostgreSQL (a fresh schema each) and a local store.

    python bench/bench_drain.py [--objects 1000] [--answers 3] [--workers 1 2 4] [--db postgres|sqlite]

Each run: a BoundingBox job of ``--objects`` objects whose ``--answers`` answers each are in the database with no
worker-response file yet (inserted in SQL), its files and its finish due; then the worker processes start and
the clock runs (from the moment the work is due, the worker processes already started and polling) until
the job is Completed and no work is left. Each worker logs every file it writes, so the
table shows the files written (the job has ``--objects``: each must be written once) next to the drain time and
its ratio to the 1-worker run. Before issue 28 each file was written once per worker and 4 workers took 3x
longer than 1. The load average is printed (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from gtcore.context import Context  # noqa: E402
from gtcore.core import db as dbm  # noqa: E402
from gtcore.jobs import due  # noqa: E402
from tests.fixtures.core import drop_pg_schema, make_settings, make_team, make_user, pg_schema_url  # noqa: E402
from tests.fixtures.queue import box_answer, insert_job  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WORKER = """
import json, os, signal, sys, threading
from gtcore.context import Context
from gtcore.output import worker_responses as wr
from gtcore.work import runner
log = sys.argv[1]
real = wr._write_object
def logged(ctx, rows):
    uri = real(ctx, rows)
    with open(log, "a") as fh:
        fh.write(json.dumps({"pid": os.getpid(), "uri": uri}) + "\\n")
    return uri
wr._write_object = logged
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
ctx = Context.from_env()
with open(sys.argv[2], "a") as fh:
    fh.write("ready\\n")
runner.run(ctx, stop, poll_seconds=0.05)
"""


def _setup(ctx: Context, root: Path, n: int, answers: int) -> int:
    team = make_team(ctx.db, "drain")
    people = [make_user(ctx.db, f"w{k}@drain.test", ("worker",), (team,)) for k in range(answers)]
    job = insert_job(ctx.db, team_id=team, output_path=str(root / "out"), n_objects=n, workers_per_object=answers)
    t = dbm.now()
    body = json.dumps(box_answer())
    rows = [{"job_id": job, "object_idx": i, "worker_id": p.user_id, "status": "submitted", "accepted_at": t,
             "lease_expires_at": t + 300, "submitted_at": t + 1, "time_spent": 1.0, "answer_json": body,
             "updated_at": t} for i in range(n) for p in people]  # fmt: skip
    O = dbm.objects  # noqa: E741, N806
    with ctx.db.write() as c:
        c.execute(dbm.assignments.insert(), rows)
        c.execute(O.update().where(O.c.job_id == job).values(status="done", taken=answers, answers=answers))
    return job


def _make_due(ctx: Context, job: int) -> None:
    with ctx.db.write() as c:
        due.object_settled(c, ctx.memory, job)
        due.job_ended(c, job, "Completed")


def _left(ctx: Context, job: int) -> bool:
    W = dbm.work_items  # noqa: N806
    with ctx.db.read() as c:
        status = c.execute(select(dbm.jobs.c.status).where(dbm.jobs.c.id == job)).scalar()
        busy = c.execute(select(W.c.id).where(W.c.status.in_(("pending", "running")), W.c.kind != "maintenance.sweep",
                                              W.c.run_after <= dbm.now()).limit(1)).first()  # fmt: skip
    return status != "Completed" or busy is not None


def run(workers: int, n: int, answers: int, db: str) -> dict:
    root = Path(tempfile.mkdtemp(prefix="gt-bench-drain-"))
    url, schema = pg_schema_url("drain_") if db == "postgres" else (f"sqlite:///{root / 'gt.sqlite3'}", "")
    ctx = Context.from_settings(make_settings(root, database_url=url))
    procs: list[subprocess.Popen] = []
    try:
        job = _setup(ctx, root, n, answers)
        log = root / "writes.jsonl"
        env = {**os.environ, "GT_HOME": str(ctx.settings.home), "GT_DATABASE_URL": url, "GT_LOCAL_ROOTS": str(root),
               "PYTHONPATH": str(REPO)}  # fmt: skip
        ready = root / "ready.txt"
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(log), str(ready)], env=env, cwd=root)
                 for _ in range(workers)]  # fmt: skip
        while not ready.exists() or len(ready.read_text().splitlines()) < workers:  # started, polling: then the work
            time.sleep(0.05)
        time.sleep(1.0)
        t0 = time.perf_counter()
        _make_due(ctx, job)
        while _left(ctx, job) and time.perf_counter() - t0 < 1800:
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
        writes = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
        return {"workers": workers, "seconds": seconds, "written": len(writes),
                "distinct": len({w["uri"] for w in writes}), "by": len({w["pid"] for w in writes})}  # fmt: skip
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)
        ctx.db.dispose()
        if schema:
            drop_pg_schema(schema)
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=1000)
    ap.add_argument("--answers", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    args = ap.parse_args()
    print(f"bench_drain: {args.objects:,} objects x {args.answers} answers, {args.db}, {os.cpu_count()} CPUs, "
          f"load average at start {os.getloadavg()}")  # fmt: skip
    rows = [run(w, args.objects, args.answers, args.db) for w in args.workers]
    base = rows[0]["seconds"]
    print("\n| workers | drain s | ratio to the first | files written (distinct) | written by processes |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['seconds']:.1f} | {r['seconds'] / base:.2f} | {r['written']} ({r['distinct']}) "
              f"| {r['by']} |")  # fmt: skip
    print(f"\nload average at end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

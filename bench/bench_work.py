"""Benchmark: submit latency and output lag with the background work queue, on a 100,000-object job.

    python bench/bench_work.py [--objects 100000] [--live 1000] [--workers 1 2] [--also-normal]

Each run builds a fresh SQLite database and a BoundingBox job of ``--objects`` objects (one answer needed,
3 boxes per answer). All but the last ``--live`` objects are answered directly in the database (their
worker-response files counted as written); the last ``--live`` are claimed and submitted through the real queue
by one annotator process while ``--workers`` background worker processes (``gtcore.work.runner.run``, as
``gtcore worker`` runs it) do the work: worker-response files, intermediate manifests, stopping conditions and,
after the last submit, finishing the job (consolidating all objects, writing the output tree).

Printed per run: submit latency p50 / p99 / max over the live submits and the latency of the submit that
completes the job (target: no slower than p99 of the others; before issue 14 that submit consolidated and wrote
the whole output, about 18 s); the lag from an object's last answer to its worker-response file (file mtime -
submitted_at: p50 / p99 / max); and the lag from the job's last answer to ``output.manifest``. ``--also-normal``
repeats the 1-worker run with SQLite ``synchronous=NORMAL`` (instead of the product's FULL) to show the cost of
power-loss durability. The load average is printed before each run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, select, update  # noqa: E402

from gtcore.context import Context  # noqa: E402
from gtcore.core import db as dbm  # noqa: E402
from tests.fixtures.core import make_settings, make_team, make_user  # noqa: E402
from tests.fixtures.queue import box_answer, insert_job  # noqa: E402


def _normal(ctx: Context) -> None:
    @event.listens_for(ctx.db.engine, "connect")
    def _sync(dbapi_conn: Any, _rec: Any) -> None:  # after the product's own listener
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")


def _worker(db_url: str, tmp: str, stop: Any, normal: bool) -> None:
    from gtcore.work import runner

    ctx = Context.from_settings(make_settings(Path(tmp), database_url=db_url))
    if normal:
        _normal(ctx)
    runner.run(ctx, stop, poll_seconds=0.05)
    ctx.db.dispose()


def _annotator(db_url: str, tmp: str, job_id: int, who: dict, normal: bool, out: str) -> None:
    from gtcore.core.access import Actor
    from gtcore.queue import api as queue

    ctx = Context.from_settings(make_settings(Path(tmp), database_url=db_url))
    if normal:
        _normal(ctx)
    actor = Actor(user_id=who["user_id"], email=who["email"], roles=frozenset({"worker"}),
                  team_ids=frozenset(who["team_ids"]), worker_id=who["worker_id"])  # fmt: skip
    answer = box_answer("cat", n=3)
    lat: list[float] = []
    last = False
    while not last and (task := queue.claim_next(ctx, actor, job_id)) is not None:
        t0 = time.perf_counter()
        last = queue.submit(ctx, actor, task.assignment_id, answer).job_done
        lat.append(time.perf_counter() - t0)
    Path(out).write_text(json.dumps({"lat": lat, "last_is_job_done": last}))
    ctx.db.dispose()


def _prefill(ctx: Context, job: int, n: int, live: int, worker_id: int) -> None:
    t = dbm.now() - 600
    ans = json.dumps(box_answer("dog", n=3))
    rows = [{"job_id": job, "object_idx": i, "worker_id": worker_id, "status": "submitted", "accepted_at": t,
             "lease_expires_at": t + 300, "submitted_at": t + 5, "time_spent": 5.0, "answer_json": ans,
             "response_uri": "(prefilled)", "updated_at": t} for i in range(n - live)]  # fmt: skip
    with ctx.db.write() as c:
        for k in range(0, len(rows), 10_000):
            c.execute(dbm.assignments.insert(), rows[k : k + 10_000])
        o = dbm.objects
        c.execute(update(o).where(o.c.job_id == job, o.c.idx < n - live).values(status="done", taken=1, answers=1))


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def run(n: int, live: int, workers: int, normal: bool) -> None:
    print(f"--- {n:,} objects, {live:,} live submits, {workers} worker(s), synchronous="
          f"{'NORMAL' if normal else 'FULL'}; load average {os.getloadavg()}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        db_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        ctx = Context.from_settings(make_settings(tmp, database_url=db_url))
        team = make_team(ctx.db, "bench")
        ann = make_user(ctx.db, "ann@bench.test", team_ids=(team,))
        (tmp / "out").mkdir()
        job = insert_job(ctx.db, team_id=team, output_path=str(tmp / "out"), n_objects=n, name="bench-work")
        _prefill(ctx, job, n, live, int(ann.user_id))  # type: ignore[arg-type]
        spawn = mp.get_context("spawn")
        stop = spawn.Event()
        procs = [spawn.Process(target=_worker, args=(db_url, str(tmp), stop, normal)) for _ in range(workers)]
        for p in procs:
            p.start()
        who = {"user_id": ann.user_id, "email": ann.email, "worker_id": ann.worker_id, "team_ids": [team]}
        out = tmp / "ann.json"
        a = spawn.Process(target=_annotator, args=(db_url, str(tmp), job, who, normal, str(out)))
        a.start()
        a.join()
        res = json.loads(out.read_text())
        manifest = tmp / "out" / "bench-work" / "manifests" / "output" / "output.manifest"
        end = time.time() + 600
        while time.time() < end:
            with ctx.db.read() as c:
                status = c.execute(select(dbm.jobs.c.status).where(dbm.jobs.c.id == job)).scalar()
            if status == "Completed":
                break
            time.sleep(0.2)
        stop.set()
        for p in procs:
            p.join(60)
        A = dbm.assignments
        with ctx.db.read() as c:
            live_rows = select(A.c.submitted_at, A.c.response_uri).where(A.c.job_id == job)
            got = c.execute(live_rows.where(A.c.response_uri != "(prefilled)")).all()
        lags = [os.stat(u).st_mtime - s for s, u in got if u]
        last_answer = max(s for s, _ in got)
        lat = [x * 1000 for x in res["lat"]]
        others, final = lat[:-1], lat[-1]
        print(
            f"submit latency (ms): p50 {_pct(others, 0.5):.1f}, p99 {_pct(others, 0.99):.1f}, "
            f"max {max(others):.1f}; the completing submit {final:.1f} (job done: {res['last_is_job_done']})"
        )
        print(
            f"object's last answer -> its worker-response file (s): p50 {_pct(lags, 0.5):.2f}, "
            f"p99 {_pct(lags, 0.99):.2f}, max {max(lags):.2f} ({len(lags)} files of {len(got)} answers)"
        )
        print(f"job's last answer -> output.manifest: {os.stat(manifest).st_mtime - last_answer:.1f} s "
              f"(job {status})", flush=True)  # fmt: skip
        ctx.db.dispose()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=100_000)
    ap.add_argument("--live", type=int, default=1000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--also-normal", action="store_true")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores")
    for w in args.workers:
        run(args.objects, args.live, w, normal=False)
    if args.also_normal:
        run(args.objects, args.live, 1, normal=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

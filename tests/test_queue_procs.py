"""Many OS processes claiming, renewing, releasing, declining and submitting on one job at once.

Eight ``spawn``-ed worker processes (each its own Context and connection pool, like several Streamlit servers
behind a load balancer) drain one job on SQLite and on PostgreSQL. Some answers arrive after the lease
ran out (a process sleeps past the time limit) and must be refused while another worker gets the object.
Afterwards the database and the worker-response files must agree exactly.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from tests.fixtures.core import make_settings
from tests.fixtures.queue import box_answer, make_world

N_PROCS = 8
N_OBJECTS = 30
NEEDED = 3
MAX_CONCURRENT = 6
TIME_LIMIT = 2  # seconds: short so that late answers really happen
DEADLINE = 150.0


def _work(db_url: str, tmp: str, job_id: int, who: dict, seed: int, start: Any, out: str) -> None:
    """One annotator process: claim and act until the job is over. Writes its tallies to ``out``."""
    from gtcore.core.errors import TaskError
    from gtcore.jobs import finishing as lifecycle
    from gtcore.queue import api as queue

    ctx = Context.from_settings(make_settings(Path(tmp), database_url=db_url))
    real_finish = lifecycle.finish_job

    def recording_finish(c: Context, jid: int, status: str) -> None:
        with open(Path(tmp) / "finish_calls.log", "a") as fh:
            fh.write(f"{jid} {status}\n")
        real_finish(c, jid, status)

    lifecycle.finish_job = recording_finish  # type: ignore[assignment]
    actor = Actor(
        user_id=who["user_id"],
        email=who["email"],
        roles=frozenset({"worker"}),
        team_ids=frozenset(who["team_ids"]),
        worker_id=who["worker_id"],
    )
    rng = random.Random(seed)
    tally: Counter[str] = Counter()
    submitted: list[int] = []
    peak = 0
    start.wait(60)
    end = time.time() + DEADLINE
    while time.time() < end:
        try:
            task = queue.claim_next(ctx, actor, job_id)
        except TaskError:
            break  # the job is over
        if task is None:
            tally["empty"] += 1
            time.sleep(0.05)
            continue
        tally["claimed"] += 1
        # every claim is checked in a snapshot taken right after it (the parent's polling alone could miss one)
        peak = max(peak, _in_flight(ctx, job_id))
        aid = task.assignment_id
        roll = rng.random()
        if tally["claimed"] == 1 and seed % 4 == 0:
            roll = 0.12  # two of the eight processes surely try one late answer
        try:
            if roll < 0.08:
                queue.release(ctx, actor, aid)
                tally["released"] += 1
            elif roll < 0.11:
                queue.decline(ctx, actor, aid, "test decline")
                tally["declined"] += 1
            elif roll < 0.15:
                queue.save_draft(ctx, actor, aid, {"boxes": [roll]})
                time.sleep(TIME_LIMIT + 0.3)  # goes for coffee: the lease runs out
                queue.submit(ctx, actor, aid, box_answer())
                tally["late_accepted"] += 1  # must not happen: checked by the test
                submitted.append(aid)
            else:
                if roll < 0.3:
                    queue.heartbeat(ctx, actor, aid)
                    queue.save_draft(ctx, actor, aid, {"boxes": [roll]})
                queue.submit(ctx, actor, aid, box_answer(label=rng.choice(["cat", "dog"])))
                tally["submitted"] += 1
                submitted.append(aid)
        except TaskError as exc:
            tally["late_refused" if "time limit" in str(exc) else "refused"] += 1
    ctx.db.dispose()
    Path(out).write_text(json.dumps({"tally": tally, "submitted": submitted, "peak": peak}))


def _background_worker(db_url: str, tmp: str, stop: Any) -> None:
    """A ``gtcore worker`` of its own (finish_job recorded as in the annotators' processes)."""
    from gtcore.jobs import finishing as lifecycle
    from gtcore.work import runner

    ctx = Context.from_settings(make_settings(Path(tmp), database_url=db_url))
    real_finish = lifecycle.finish_job

    def recording_finish(c: Context, jid: int, status: str) -> None:
        with open(Path(tmp) / "finish_calls.log", "a") as fh:
            fh.write(f"{jid} {status}\n")
        real_finish(c, jid, status)

    lifecycle.finish_job = recording_finish  # type: ignore[assignment]
    runner.run(ctx, stop, poll_seconds=0.05)
    ctx.db.dispose()


def _work_left(ctx: Context) -> bool:
    wi = dbm.work_items
    with ctx.db.read() as c:
        q = wi.select().where(wi.c.status.in_(("pending", "running")), wi.c.run_after <= dbm.now(),
                              wi.c.kind != "maintenance.sweep")  # fmt: skip
        return c.execute(q).first() is not None


def _in_flight(ctx: Context, job_id: int) -> int:
    o = dbm.objects
    with ctx.db.read() as c:
        rows = c.execute(o.select().where(o.c.job_id == job_id, o.c.status == "open", o.c.taken > 0)).all()
    return len(rows)


def test_many_processes_drain_one_job_without_double_or_lost_answers(db_url: str, tmp_path: Path) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, database_url=db_url))
    try:
        w = make_world(ctx, tmp_path, n_workers=N_PROCS)
        job = w.new_job(
            n_objects=N_OBJECTS, workers_per_object=NEEDED, max_concurrent=MAX_CONCURRENT, task_time_limit=TIME_LIMIT
        )
        spawn = mp.get_context("spawn")
        start = spawn.Event()
        stop_workers = spawn.Event()
        workers = [spawn.Process(target=_background_worker, args=(db_url, str(tmp_path), stop_workers))
                   for _ in range(2)]  # fmt: skip
        for p in workers:
            p.start()
        procs = []
        for i, worker in enumerate(w.workers):
            who = {
                "user_id": worker.user_id,
                "email": worker.email,
                "worker_id": worker.worker_id,
                "team_ids": sorted(worker.team_ids),
            }
            out = tmp_path / f"proc{i}.json"
            p = spawn.Process(target=_work, args=(db_url, str(tmp_path), job, who, 1000 + i, start, str(out)))
            p.start()
            procs.append((p, out))
        start.set()
        peak = 0
        while any(p.is_alive() for p, _ in procs):
            peak = max(peak, _in_flight(ctx, job))
            time.sleep(0.1)
        for p, _ in procs:
            p.join(5)
            assert p.exitcode == 0
        end = time.time() + 120
        while _work_left(ctx) and time.time() < end:  # the two background workers finish the job
            time.sleep(0.1)
        stop_workers.set()
        for p in workers:
            p.join(30)
            assert p.exitcode == 0
        results = [json.loads(out.read_text()) for _, out in procs]
        peak = max([peak, *(r["peak"] for r in results)])
        _check(w, ctx, job, results, peak, tmp_path)
    finally:
        ctx.db.dispose()


def _check(w: Any, ctx: Context, job: int, results: list[dict], peak: int, tmp_path: Path) -> None:
    tally: Counter[str] = sum((Counter(r["tally"]) for r in results), Counter())
    acknowledged = [aid for r in results for aid in r["submitted"]]
    rows = w.assignments(job)
    objects = w.objects(job)
    submitted = [a for a in rows if a.status == "submitted"]

    print(f"tallies: {dict(tally)}; peak objects in flight: {peak}")
    assert w.job_row(job).status == "Completed", tally
    assert (tmp_path / "finish_calls.log").read_text().splitlines() == [f"{job} Completed"]
    assert tally["late_accepted"] == 0 and tally["late_refused"] > 0, tally  # late answers were really tried
    assert tally["released"] > 0 and tally["submitted"] > 0, tally
    # every "saved" the annotators saw is in the database, and nothing else is
    assert sorted(acknowledged) == sorted(a.id for a in submitted)
    assert peak <= MAX_CONCURRENT

    per_object_workers: dict[int, list[int]] = {}
    for a in submitted:
        per_object_workers.setdefault(a.object_idx, []).append(a.worker_id)
    for o in objects:
        mine = [a for a in rows if a.object_idx == o.idx]
        answers = [a for a in mine if a.status == "submitted"]
        live = [a for a in mine if a.status in ("leased", "stopped")]
        declined = [a for a in mine if a.status == "declined"]
        assert len({a.worker_id for a in answers}) == len(answers), f"object {o.idx} answered twice by one worker"
        assert len(answers) <= o.needed, f"object {o.idx} has {len(answers)} answers for {o.needed} needed"
        assert o.taken == len(live) + len(answers), f"object {o.idx}: taken {o.taken} != leases + answers"
        assert (o.answers, o.declines) == (len(answers), len(declined))
        if o.status == "failed":
            assert o.declines >= o.needed and o.answers == 0
        else:
            assert o.status == "done"
            assert o.answers == o.needed or (o.declines >= o.needed and o.answers > 0)
    # one worker-response file per answered object, holding every answer of it (distinct workers)
    files = sorted((Path(w.job_row(job).output_path) / w.job_row(job).name).rglob("worker-response/**/*.json"))
    assert len(files) == len({a.object_idx for a in submitted})
    by_id = {u.worker_id: u.user_id for u in w.workers}
    seen: Counter[tuple[int, int]] = Counter()
    for f in files:
        for ans in json.loads(f.read_text())["answers"]:
            seen[(int(f.parent.name), by_id[ans["workerId"]])] += 1
    assert seen == Counter((a.object_idx, a.worker_id) for a in submitted)
    assert all(a.response_uri for a in submitted)

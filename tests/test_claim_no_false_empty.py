"""A claim never answers "nothing" while an object is claimable for that worker (issue 28).

Seen with 4 annotator processes on PostgreSQL: the claim's ``FOR UPDATE SKIP LOCKED`` skipped the only
claimable row because another transaction (a claim or a submit of someone else) held its lock for a moment; two
annotators were told "no task", stopped, and the job stayed InProgress at 999 of 1,000.

Here every object needs an answer from every annotator (workers per object = number of processes), so an empty
answer is right only once the annotator has answered every object of the job. Each spawned process (its own
Context and pool, as separate app servers) claims and submits as fast as it can, round after round (a fresh job
each round, all processes starting together), and counts the empty answers that came too early.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path
from typing import Any

from gtcore.context import Context
from gtcore.core.access import Actor
from tests.fixtures.core import make_settings
from tests.fixtures.queue import box_answer, make_world

N_PROCS = 4
N_OBJECTS = 3
ROUNDS = 40


def _annotator(db_url: str, tmp: str, jobs: list[int], who: dict, barrier: Any, out: str) -> None:
    from gtcore.core.errors import JobClosed
    from gtcore.queue import api as queue

    ctx = Context.from_settings(make_settings(Path(tmp), database_url=db_url))
    actor = Actor(user_id=who["user_id"], email=who["email"], roles=frozenset({"worker"}),
                  team_ids=frozenset(who["team_ids"]), worker_id=who["worker_id"])  # fmt: skip
    result = {"false_empty": [], "answered": 0, "empties": 0}
    for job in jobs:
        barrier.wait(120)
        answered = 0
        while True:
            try:
                task = queue.claim_next(ctx, actor, job)
            except JobClosed:
                task = None
            if task is None:
                result["empties"] += 1
                if answered < N_OBJECTS:
                    result["false_empty"].append([job, answered])
                break
            queue.submit(ctx, actor, task.assignment_id, box_answer())
            answered += 1
        result["answered"] += answered
    ctx.db.dispose()
    Path(out).write_text(json.dumps(result))


def test_concurrent_claimers_never_get_a_false_empty(db_url: str, tmp_path: Path) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, database_url=db_url))
    try:
        w = make_world(ctx, tmp_path, n_workers=N_PROCS)
        jobs = [w.new_job(n_objects=N_OBJECTS, workers_per_object=N_PROCS, max_concurrent=1000)
                for _ in range(ROUNDS)]  # fmt: skip
        spawn = mp.get_context("spawn")
        barrier = spawn.Barrier(N_PROCS)
        procs = []
        for i, worker in enumerate(w.workers):
            who = {"user_id": worker.user_id, "email": worker.email, "worker_id": worker.worker_id,
                   "team_ids": sorted(worker.team_ids)}  # fmt: skip
            out = tmp_path / f"claimer{i}.json"
            p = spawn.Process(target=_annotator, args=(db_url, str(tmp_path), jobs, who, barrier, str(out)))
            p.start()
            procs.append((p, out))
        for p, _ in procs:
            p.join(600)
            assert p.exitcode == 0
        results = [json.loads(out.read_text()) for _, out in procs]
        false = [fe for r in results for fe in r["false_empty"]]
        assert false == [], f"claims answered 'nothing' while objects were left: [job, answered] {false}"
        assert all(r["answered"] == N_OBJECTS * ROUNDS for r in results)
        for job in jobs:  # every object got every annotator's answer
            assert all(o.answers == N_PROCS for o in w.objects(job))
    finally:
        ctx.db.dispose()

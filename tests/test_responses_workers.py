"""Worker-response files add up over several background workers (issue 28): 4 ``gtcore worker`` processes write
a job's files in parallel (one work item per object range) and every file exactly once.

Measured before the fix: with 1, 2 and 4 workers, 1,000, 2,000 and 3,996 files were written for 1,000 objects
(each file once per worker), because due answers were selected, not claimed, and a job had one responses item.
Here each worker process logs every file it writes; the test counts them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.output import worker_responses
from gtcore.queue import api as queue
from tests.fixtures.core import make_settings
from tests.fixtures.queue import box_answer, make_world

REPO = Path(__file__).resolve().parents[1]
N_OBJECTS = 3 * worker_responses.PART_OBJECTS + 17  # four object ranges, the last one short
N_PROCS = 4

_WORKER = """
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
runner.run(Context.from_env(), stop, poll_seconds=0.05)
"""


def _left(ctx: Context) -> bool:
    w = dbm.work_items
    with ctx.db.read() as c:
        q = select(w.c.id).where(w.c.status.in_(("pending", "running")), w.c.kind != "maintenance.sweep")
        return c.execute(q.limit(1)).first() is not None


def test_four_workers_write_each_file_once_and_share_the_ranges(db_url: str, tmp_path: Path) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, database_url=db_url))
    procs: list[subprocess.Popen] = []
    try:
        w = make_world(ctx, tmp_path, n_workers=2)
        job = w.new_job(n_objects=N_OBJECTS, workers_per_object=2, max_concurrent=1000)
        for actor in w.workers:  # every answer first, no background worker yet: all the files are due at once
            while (task := queue.claim_next(ctx, actor, job)) is not None:
                queue.submit(ctx, actor, task.assignment_id, box_answer())
        log = tmp_path / "writes.jsonl"
        env = dict(os.environ)
        env.update({"GT_HOME": str(ctx.settings.home), "GT_DATABASE_URL": ctx.db.url,
                    "GT_LOCAL_ROOTS": os.pathsep.join(str(r) for r in ctx.settings.local_roots),
                    "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", "")})  # fmt: skip
        procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(log)], cwd=REPO, env=env)
                 for _ in range(N_PROCS)]  # fmt: skip
        end = time.monotonic() + 300
        while time.monotonic() < end and (w.job_row(job).status != "Completed" or _left(ctx)):
            time.sleep(0.1)
        assert w.job_row(job).status == "Completed"
        writes = [json.loads(x) for x in log.read_text().splitlines()]
        per_file = Counter(x["uri"] for x in writes)
        assert len(per_file) == N_OBJECTS and set(per_file.values()) == {1}, per_file.most_common(3)
        assert len({x["pid"] for x in writes}) >= 2  # the ranges ran in more than one worker
        rows = w.assignments(job)
        assert all(a.response_uri for a in rows if a.status == "submitted")
        files = list((Path(w.job_row(job).output_path) / w.job_row(job).name).rglob("worker-response/**/*.json"))
        assert len(files) == N_OBJECTS
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)
        ctx.db.dispose()

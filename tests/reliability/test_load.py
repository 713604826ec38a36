"""32 annotators as separate OS processes hammering one job, on SQLite and on PostgreSQL (CI counts).

The annotators claim, draft, heartbeat, submit, submit twice, decline, release, stop and resume, and let leases
run out (see ``tests/reliability/loadsim.py``). Afterwards every object has exactly the required number of
answers from distinct workers, every counter equals a recount from the raw rows, every acknowledged submit and
decline is in the database (and nothing else), there is one worker-response file per answer, and the output
manifest holds every input line, labelled. Full counts: ``python bench/report_reliability.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gtcore.context import Context
from tests.fixtures.core import make_settings
from tests.reliability.loadsim import LoadConfig, run_load, verify

CI = LoadConfig(procs=32, objects=48, needed=3, max_concurrent=24, deadline=150.0, seed=7)


@pytest.mark.slow  # about 10-70 s per database on a busy 2-core machine; still run by .ci/run
def test_32_annotator_processes_keep_every_invariant(db_url: str, tmp_path: Path) -> None:
    run = run_load(db_url, tmp_path, CI)
    ctx = Context.from_settings(make_settings(tmp_path, database_url=db_url))
    try:
        v = verify(ctx, run)
    finally:
        ctx.db.dispose()
    print(v.figures)
    assert v.problems == [], "\n".join(v.problems)
    f = v.figures
    assert f["objects"] == CI.objects and f["answers"] == CI.objects * CI.needed
    assert f["output_lines"] == CI.objects and f["files"] == CI.objects  # one worker-response file per object
    # the hostile actions really happened, and each was refused for its own reason
    assert f["refusals"].get("expired", 0) >= 1, f
    assert f["actions"].get("released", 0) >= 1 and f["actions"].get("declined", 0) >= 1, f
    assert f["actions"].get("resumed", 0) >= 1, f
    assert f["refusals"].get("already_submitted", 0) >= 1, f
    # job_closed: a lease another annotator's later clock expired, acted on after the job completed
    assert set(f["refusals"]) <= {"expired", "already_submitted", "race", "job_closed"}, f

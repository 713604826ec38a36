"""Reliability report: many annotator processes hammering one labeling job, on SQLite and on PostgreSQL.

    python bench/report_reliability.py [--procs 32] [--objects 400] [--needed 3] [--max-concurrent 1000]
                                       [--db sqlite postgres] [--seed 1]

The full-count version of ``tests/reliability/test_load.py`` (same engine: ``tests/reliability/loadsim.py``).
Each database gets a fresh store (a SQLite file in a temp folder; a fresh schema on the PostgreSQL at
GT_TEST_PG_URL or postgresql+psycopg://gt:gt@127.0.0.1:5432/gt_test), a BoundingBox job created through
``gtcore.jobs.api.create_labeling_job`` over real PNG files, and one worker per process. Every process (forked
from a forkserver, own Context) claims, drafts, heartbeats, submits (sometimes twice), declines, releases,
stops and resumes, and lets leases run out, until the job is Completed. Then every invariant is checked
(exactly ``--needed`` answers per object from distinct workers, counters == a recount from raw rows, every
acknowledged submit stored, one worker-response file per answer, complete output manifest).

Printed per database: objects, answers, claims (including empty ones) and claims/s over the run, mean and
max claim latency, actions, refusals by kind, whether the counters equal the recount, seconds, and every
problem found (the exit status is 1 if there is any).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.context import Context  # noqa: E402
from tests.fixtures.core import drop_pg_schema, make_settings, pg_schema_url  # noqa: E402
from tests.reliability.loadsim import LoadConfig, run_load, verify  # noqa: E402


def _pg_schema() -> tuple[str, str]:
    return pg_schema_url("rel_")


def _drop_schema(schema: str) -> None:
    drop_pg_schema(schema)


def run(db: str, cfg: LoadConfig) -> tuple[dict, list[str]]:
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp_name:
        root = Path(tmp_name)
        schema = None
        url = f"sqlite:///{root / 'gt.sqlite3'}"
        if db == "postgres":
            url, schema = _pg_schema()
        try:
            load = run_load(url, root, cfg)
            ctx = Context.from_settings(make_settings(root, database_url=url))
            try:
                v = verify(ctx, load)
            finally:
                ctx.db.dispose()
        finally:
            if schema:
                _drop_schema(schema)
    return v.figures, v.problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procs", type=int, default=32)
    ap.add_argument("--objects", type=int, default=400)
    ap.add_argument("--needed", type=int, default=3, help="answers needed per object (workers per object)")
    ap.add_argument("--max-concurrent", type=int, default=1000, help="MaxConcurrentTaskCount")
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    cfg = LoadConfig(procs=args.procs, objects=args.objects, needed=args.needed, max_concurrent=args.max_concurrent,
                     deadline=1800.0, seed=args.seed)  # fmt: skip
    print(f"{args.procs} annotator processes, {args.objects} objects x {args.needed} answers, "
          f"MaxConcurrentTaskCount {args.max_concurrent}, {os.cpu_count()} CPU(s)")  # fmt: skip
    failed = False
    for db in args.db:
        figures, problems = run(db, cfg)
        f = figures
        print(
            f"\n{f['database']}: {f['objects']} objects, {f['answers']} answers, {f['claims']} claims "
            f"({f['empty_claims']} empty) = {f['claims_per_second']} claims/s; claim latency mean "
            f"{f['mean_claim_ms']} ms, max {f['max_claim_ms']} ms; {f['seconds']} s"
        )
        print(f"  actions: {json.dumps(f['actions'])}")
        print(f"  refusals by kind: {json.dumps(f['refusals'])}")
        print(f"  recount == counters: {f['recount_equals_counters']}; worker-response files: {f['files']}; "
              f"output manifest lines: {f['output_lines']}; problems: {len(problems)}")  # fmt: skip
        for p in problems[:20]:
            print(f"  PROBLEM: {p}")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

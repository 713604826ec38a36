"""Benchmark: consolidate and write the output of a 100,000-object job with 3 answers per object (SQLite).

    python bench/bench_output.py [--objects 100000] [--workers 3] [--task BoundingBox ImageClassification]
                                 [--breakdown] [--dir /tmp/gt-bench-output] [--intermediate]

For each task type, the rows are inserted directly (jobs, objects, users, 'submitted' assignments; not
timed), then ``gtcore.jobs.finishing.finish_job(ctx, job, "Completed")`` is timed: bulk reads, consolidation
(box matching per object, or Dawid-Skene EM over the whole job), storing ``consolidated_json`` for every
object, the consolidation request/response files, the intermediate and the final manifest on the local
backend, all in chunks of ``gtcore.output.chunks.CHUNK_OBJECTS`` objects. Target: < 30 s on this 2-core
machine. ``--breakdown`` re-runs the phases one by one (summed over the chunks).

``--intermediate`` (issue 28 item 2) instead runs the job's intermediate manifest as the background workers do
while it is labeled: every object set back to open, then 1 % of the job settles at a time and
``gtcore.jobs.settling.write_intermediate_if_due`` runs after each step; it prints the bytes written for
intermediate manifests (every streamed write under ``manifests/intermediate/``) during the run and by the
finish, as a multiple of the final intermediate manifest's size. The same script runs against another checkout
(``PYTHONPATH=/path/to/main``) for a before/after.

Images: source-refs are local paths that do not exist, so the header probe for ``depth`` fails fast
and the default depth is used (with real local images each probe reads a few KiB).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.context import Context  # noqa: E402
from gtcore.core import db as dbm  # noqa: E402
from gtcore.core.settings import Settings  # noqa: E402
from gtcore.jobs.finishing import finish_job  # noqa: E402
from gtcore.output import writer as output  # noqa: E402

LABELS = ["cat", "dog", "bird", "car"]


def _answer(task: str, rng: random.Random, truth: int, base: list[tuple[int, float, float]]) -> dict:
    if task == "ImageClassification":
        label = truth if rng.random() < 0.8 else rng.randrange(len(LABELS))
        return {"crowd-image-classifier": {"label": LABELS[label]}}
    boxes = []
    for cls, left, top in base:
        if rng.random() < 0.9:  # a worker misses a box now and then
            boxes.append(
                {
                    "height": 80 + rng.randint(-4, 4),
                    "label": LABELS[cls],
                    "left": left + rng.randint(-5, 5),
                    "top": top + rng.randint(-5, 5),
                    "width": 120 + rng.randint(-4, 4),
                }
            )
    return {"boundingBox": {"boundingBoxes": boxes, "inputImageProperties": {"height": 768, "width": 1024}}}


def setup(ctx: Context, root: Path, task: str, n_objects: int, n_workers: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    t = dbm.now()
    name = f"bench-{task.lower()}-{uuid.uuid4().hex[:6]}"
    with ctx.db.write() as c:
        job = int(
            c.execute(
                dbm.jobs.insert().values(
                    name=name,
                    name_lower=name,
                    arn="arn:bench",
                    reference_code="bench",
                    label_attribute="label",
                    task_type=task,
                    status="InProgress",
                    spec_json="{}",
                    labels_json=json.dumps(LABELS),
                    instructions_json="{}",
                    team_id=None,
                    input_manifest_uri=str(root / "in.manifest"),
                    output_path=str(root / "out"),
                    workers_per_object=n_workers,
                    task_time_limit=300,
                    availability_lifetime=86400,
                    max_concurrent=1000,
                    total_objects=n_objects,
                    origin="new",
                    created_at=t,
                    updated_at=t,
                )
            ).inserted_primary_key[0]
        )
        users = []
        for k in range(max(n_workers, 10)):
            uid = c.execute(
                dbm.users.insert().values(
                    email=f"{name}-w{k}@bench.test",
                    email_lower=f"{name}-w{k}@bench.test",
                    display_name=f"w{k}",
                    roles="worker",
                    is_active=True,
                    worker_id=f"private.local.{uuid.uuid4().hex[:16]}",
                    sub=str(uuid.uuid4()),
                    created_at=t,
                    failed_logins=0,
                )
            ).inserted_primary_key[0]
            users.append(int(uid))
        objects, assigns = [], []
        for i in range(n_objects):
            line = {"source-ref": str(root / "images" / f"img_{i:06d}.jpg"), "meta": {"i": i}}
            objects.append(
                {
                    "job_id": job,
                    "idx": i,
                    "line_json": json.dumps(line, separators=(",", ":")),
                    "source_ref": line["source-ref"],
                    "needed": n_workers,
                    "taken": n_workers,
                    "answers": n_workers,
                    "declines": 0,
                    "status": "done",
                    "updated_at": t,
                }
            )
            truth = rng.randrange(len(LABELS))
            base = [(rng.randrange(len(LABELS)), rng.uniform(0, 800), rng.uniform(0, 600)) for _ in range(2)]
            for w in rng.sample(users, n_workers):
                assigns.append(
                    {
                        "job_id": job,
                        "object_idx": i,
                        "worker_id": w,
                        "status": "submitted",
                        "accepted_at": t,
                        "lease_expires_at": t + 300,
                        "submitted_at": t + 10,
                        "time_spent": 10.0,
                        "answer_json": json.dumps(_answer(task, rng, truth, base)),
                        "updated_at": t,
                    }
                )
        for k in range(0, len(objects), 10_000):
            c.execute(dbm.objects.insert(), objects[k : k + 10_000])
        for k in range(0, len(assigns), 10_000):
            c.execute(dbm.assignments.insert(), assigns[k : k + 10_000])
    return job


def breakdown(ctx: Context, job: int) -> None:
    """The phases of ``output.write_final`` one by one, summed over its chunks (files not written)."""
    from gtcore.manifests import fastjson
    from gtcore.output import chunks
    from gtcore.output.image_sizes import image_info_reader
    from gtcore.output.manifest_lines import chunk_lines
    from gtcore.output.records import build_records, start_fit

    row = chunks.job_row(ctx, job)
    spec = chunks.record_spec(row)
    known, info = chunks.known_strings(spec), image_info_reader(ctx.storage)
    t = dict.fromkeys(("read", "fit", "consolidate", "store", "lines"), 0.0)
    size = 0
    fit = start_fit(spec)
    if fit is not None:
        t0 = time.perf_counter()
        for ch in chunks.iter_chunks(ctx, job):
            fit.add(chunks.answered(ch))
        fit.run()
        t["fit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for ch in chunks.iter_chunks(ctx, job):
        items = chunks.answered(ch)
        t1 = time.perf_counter()
        records = build_records(spec, items, image_info=info, fit=fit)
        enc = dict(zip(records, fastjson.dumps_many(list(records.values()), known_strings=known), strict=True))
        t2 = time.perf_counter()
        output._store(ctx, job, enc, only_open_job=False)
        t3 = time.perf_counter()
        size += len(chunk_lines(ch.rows, enc, spec.label_attribute, labelled_only=False, use_stored=False))
        t4 = time.perf_counter()
        t["read"] += t1 - t0
        t["consolidate"] += t2 - t1
        t["store"] += t3 - t2
        t["lines"] += t4 - t3
        t0 = time.perf_counter()
    print("    breakdown: " + ", ".join(f"{k} {v:.2f} s" for k, v in t.items()) + f" ({size / 1e6:.1f} MB of lines)")


def intermediate_bytes(ctx: Context, job: int, n_objects: int) -> None:
    """The job run in 1 % steps with the background's intermediate pass after each; bytes written (see above)."""
    from gtcore.jobs import settling
    from gtcore.storage import streamed

    written = {"run": 0}
    real = streamed.LocalWrite.write

    def counting(self: streamed.LocalWrite, data: bytes) -> None:
        if "/manifests/intermediate/" in self.path:
            written["run"] += len(data)
        real(self, data)

    streamed.LocalWrite.write = counting  # type: ignore[method-assign]
    o = dbm.objects
    with ctx.db.write() as c:
        c.execute(o.update().where(o.c.job_id == job).values(status="open", consolidated_json=None))
    t0, passes, done = time.perf_counter(), 0, 0
    for step in range(1, 101):
        upto = n_objects * step // 100
        with ctx.db.write() as c:
            c.execute(o.update().where(o.c.job_id == job, o.c.idx >= done, o.c.idx < upto).values(status="done"))
        done = upto
        passes += settling.write_intermediate_if_due(ctx, job) is not None
    run_s, run_bytes = time.perf_counter() - t0, written["run"]
    written["run"] = 0
    finish_job(ctx, job, "Completed")
    streamed.LocalWrite.write = real  # type: ignore[method-assign]
    with ctx.db.read() as c:
        row = c.execute(dbm.jobs.select().where(dbm.jobs.c.id == job)).one()
    size = os.path.getsize(output.intermediate_manifest_uri(row))
    print(f"  intermediate: {passes} passes in {run_s:.1f} s wrote {run_bytes / 1e6:.1f} MB "
          f"({run_bytes / size:.1f}x the {size / 1e6:.1f} MB manifest); the finish {written['run'] / 1e6:.1f} MB; "
          f"peak RSS {_peak_mb():.0f} MB; load average {os.getloadavg()[0]:.1f}")  # fmt: skip


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--task", nargs="+", default=["BoundingBox", "ImageClassification"])
    ap.add_argument("--breakdown", action="store_true")
    ap.add_argument("--dir", default="/tmp/gt-bench-output")
    ap.add_argument("--intermediate", action="store_true", help="bytes written for intermediate manifests")
    args = ap.parse_args()
    root = Path(args.dir)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    settings = Settings.from_env({"GT_HOME": str(root / "home"), "GT_LOCAL_ROOTS": str(root)}, cwd=root)
    ctx = Context.from_settings(settings)
    print(f"SQLite at {settings.database_url}; {args.objects} objects x {args.workers} answers")
    worst = 0.0
    try:
        for task in args.task:
            t0 = time.perf_counter()
            job = setup(ctx, root, task, args.objects, args.workers)
            print(f"{task}: rows inserted in {time.perf_counter() - t0:.1f} s (not part of the figure)")
            if args.intermediate:
                intermediate_bytes(ctx, job, args.objects)
                continue
            t0, c0 = time.perf_counter(), time.process_time()
            finish_job(ctx, job, "Completed")
            secs, cpu = time.perf_counter() - t0, time.process_time() - c0
            worst = max(worst, secs)
            with ctx.db.read() as c:
                row = c.execute(dbm.jobs.select().where(dbm.jobs.c.id == job)).one()
            size = os.path.getsize(output.output_manifest_uri(row))
            print(
                f"  finish_job: {secs:.2f} s wall, {cpu:.2f} s CPU -> {row.status}; "
                f"output.manifest {size / 1e6:.1f} MB; peak RSS so far {_peak_mb():.0f} MB; "
                f"load average {os.getloadavg()[0]:.1f}"
            )
            if args.breakdown:
                breakdown(ctx, job)
    finally:
        ctx.db.dispose()
    print(f"slowest: {worst:.2f} s (target < 30 s)")
    return 0 if worst < 30 else 1


if __name__ == "__main__":
    raise SystemExit(main())

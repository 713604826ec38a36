"""Benchmark: how a labeling job's costs grow with its size (issue 28), one table in one run.

    python bench/bench_growth.py [--sizes 10000 100000 1000000] [--pairs 1000] [--dir /tmp/gt-bench-growth]
                                 [--task-type BoundingBox|ImageClassification] [--workers-per-object 1]

For each size N (SQLite + local store in a fresh folder, the object limit raised with GT_MAX_OBJECTS_PER_JOB):

1. create: ``jobs.create_labeling_job`` over an N-line manifest (s3:// source-refs: creation opens no image), in
   its own process: wall time and that process's peak RSS;
2. claim+submit pairs/s at the start: one annotator claims and submits ``--pairs`` answers (boxes, or one of
   three classes for ``ImageClassification``; with ``--workers-per-object`` W, W-1 more annotators then answer
   the same objects, untimed: a class job with 3 answers an object is what makes its EM's memory grow);
3. the middle of the job is filled in SQL (W answers an object whose worker-response file counts as written; the
   classes differ between annotators on some objects, so the EM has disagreements to weigh), so the end comes
   quickly; a ``gtcore worker`` process starts (polls 0.2 s);
4. pairs/s at the end: the first annotator's last objects claimed and answered the same way (then the others');
5. last answer -> ``output.manifest``: from the last submit until the worker wrote the output (the job
   Completed); the worker process's peak RSS over steps 4-5 (it writes the intermediate manifests and the
   worker-response files of step 4 too);
6. viewer: open the output manifest, its label table, the filter and the statistics, the first page (a fresh
   process: time and peak RSS).

Load average printed at the start and the end (the machine is shared). No target is asserted here.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
BOX = {"boundingBox": {"boundingBoxes": [{"height": 20, "label": "cat", "left": 10, "top": 5, "width": 30}],
                       "inputImageProperties": {"height": 480, "width": 640}}}  # fmt: skip
CLASSES = ("cat", "dog", "bird")
LAMBDA = {"BoundingBox": "BoundingBox", "ImageClassification": "ImageMultiClass"}


def answer(task_type: str, idx: int, worker: int) -> dict:
    """The bench's answer to object ``idx`` by annotator number ``worker``: the box, or a class that the third
    annotator gets wrong on every seventh object."""
    if task_type == "BoundingBox":
        return BOX
    k = idx % 3 + (1 if worker == 2 and idx % 7 == 0 else 0)
    return {"crowd-image-classifier": {"label": CLASSES[k % 3]}}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _env(root: Path) -> dict[str, str]:
    return {"GT_HOME": str(root / "home"), "GT_LOCAL_ROOTS": str(root), "GT_MAX_OBJECTS_PER_JOB": "10000000",
            "GT_DATABASE_URL": f"sqlite:///{root / 'home' / 'gt.sqlite3'}", "GT_EMBEDDED_WORKER": "0"}  # fmt: skip


def _ctx(root: Path) -> Any:
    from gtcore.context import Context
    from gtcore.core.settings import Settings

    return Context.from_settings(Settings.from_env(_env(root), cwd=root))


def _create(root: str, n: int, task_type: str, per_object: int, out: Any) -> None:
    """Phase 1, in its own process."""
    from gtcore.core.access import Actor
    from gtcore.jobs import api as jobs
    from gtcore.workforce.teams import create_team

    base = Path(root)
    ctx = _ctx(base)
    create_team(ctx, Actor.system_actor(), "growth-team")
    manifest = base / "input.manifest"
    with manifest.open("w") as fh:
        for i in range(n):
            fh.write(f'{{"source-ref":"s3://growth-bucket/img/{i:07d}.jpg","i":{i}}}\n')
    labels = [{"label": c} for c in (CLASSES if task_type == "ImageClassification" else CLASSES[:1])]
    (base / "labels.json").write_text(json.dumps({"document-version": "2018-11-28", "labels": labels}))
    req = {
        "LabelingJobName": f"growth-{n}", "LabelAttributeName": "boxes",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": str(manifest)}}},
        "OutputConfig": {"S3OutputPath": str(base / "out")}, "LabelCategoryConfigS3Uri": str(base / "labels.json"),
        "HumanTaskConfig": {"WorkteamArn": "growth-team", "TaskTitle": "Boxes", "TaskDescription": "Draw boxes",
                            "PreHumanTaskLambdaArn": "arn:aws:lambda:us-east-1:432418664414:function:PRE-"
                                                     + LAMBDA[task_type],
                            "NumberOfHumanWorkersPerDataObject": per_object, "TaskTimeLimitInSeconds": 300,
                            "MaxConcurrentTaskCount": 1000},
    }  # fmt: skip
    base_mb = _peak_mb()
    t0 = time.perf_counter()
    made = jobs.create_labeling_job(ctx, Actor.system_actor(), req)
    out.put({"job_id": made.job_id, "seconds": time.perf_counter() - t0, "peak_mb": _peak_mb(), "base_mb": base_mb})


def _viewer(root: str, uri: str, out: Any) -> None:
    """Phase 6, in its own process."""
    from gtcore.core.access import Actor
    from gtcore.viewer import opener, selection
    from gtcore.viewer import table as viewer
    from gtcore.viewer.statistics import statistics

    ctx = _ctx(Path(root))
    t0 = time.perf_counter()
    m = opener.open_manifest(ctx, Actor.system_actor(), uri)
    v = viewer.attribute_view(m, "boxes")  # the job's label attribute, whatever its task type
    pos = selection.apply_filters(v, selection.Filters())
    statistics(v)
    selection.page_of(pos, 1)
    out.put({"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb()})


def _in_process(target: Any, *args: Any) -> dict:
    spawn = mp.get_context("spawn")
    q = spawn.Queue()
    p = spawn.Process(target=target, args=(*args, q))
    p.start()
    got = q.get(timeout=7200)
    p.join(120)
    return dict(got)


def _pairs(ctx: Any, actor: Any, job_id: int, k: int, task_type: str, worker: int) -> tuple[float, float]:
    """k claim+submit pairs by annotator number ``worker``: (pairs/s, time of the last submit)."""
    from gtcore.queue import api as queue

    t0 = time.perf_counter()
    done = 0
    last = time.time()
    while done < k:
        task = queue.claim_next(ctx, actor, job_id)
        if task is None:
            break
        queue.submit(ctx, actor, task.assignment_id, answer(task_type, task.object_idx, worker))
        last = time.time()
        done += 1
    return done / (time.perf_counter() - t0), last


def _fill_middle(ctx: Any, job_id: int, worker_ids: list[int], lo: int, hi: int, task_type: str) -> None:
    """Objects lo..hi-1 answered in SQL by every worker (their worker-response files count as written)."""
    from sqlalchemy import update

    from gtcore.core import db as dbm

    t = dbm.now()
    for start in range(lo, hi, 20_000):
        end = min(hi, start + 20_000)
        rows = [{"job_id": job_id, "object_idx": i, "worker_id": worker_id, "status": "submitted", "accepted_at": t,
                 "lease_expires_at": t + 300, "submitted_at": t + 1, "time_spent": 1.0,
                 "answer_json": json.dumps(answer(task_type, i, w)), "response_uri": "bench:prefilled",
                 "updated_at": t} for i in range(start, end) for w, worker_id in enumerate(worker_ids)]  # fmt: skip
        with ctx.db.write() as c:
            c.execute(dbm.assignments.insert(), rows)
            c.execute(
                update(dbm.objects)
                .where(dbm.objects.c.job_id == job_id, dbm.objects.c.idx >= start, dbm.objects.c.idx < end)
                .values(status="done", taken=len(worker_ids), answers=len(worker_ids), updated_at=t)
            )


def run_size(n: int, pairs: int, root: Path, task_type: str = "BoundingBox", per_object: int = 1) -> dict:
    from gtcore.core.db import jobs as J
    from tests.fixtures.core import make_user

    shutil.rmtree(root, ignore_errors=True)
    (root / "home").mkdir(parents=True)
    row: dict[str, Any] = {"objects": n}
    created = _in_process(_create, str(root), n, task_type, per_object)
    row["create_s"], row["create_mb"] = created["seconds"], created["peak_mb"]
    job_id = int(created["job_id"])
    ctx = _ctx(root)
    with ctx.db.read() as c:
        team_id = c.execute(J.select().where(J.c.id == job_id)).one().team_id
    actors = [make_user(ctx.db, f"annotator{w}@growth.test", ("worker",), (team_id,)) for w in range(per_object)]
    k = max(1, min(pairs, n // 4))
    row["pairs_start"], _ = _pairs(ctx, actors[0], job_id, k, task_type, 0)
    for w, other in enumerate(actors[1:], start=1):
        _pairs(ctx, other, job_id, k, task_type, w)
    _fill_middle(ctx, job_id, [a.user_id for a in actors], k, n - k, task_type)
    rss_file = root / "worker-rss.json"
    code = ("import json, resource, signal, sys, threading; from gtcore.context import Context;"
            "from gtcore.work import runner; stop = threading.Event();"
            "signal.signal(signal.SIGTERM, lambda *a: stop.set());"
            "runner.run(Context.from_env(), stop, poll_seconds=0.2);"
            "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024;"
            "open(sys.argv[1], 'w').write(json.dumps(peak))")  # fmt: skip
    env = {**os.environ, **_env(root), "PYTHONPATH": str(REPO)}
    worker = subprocess.Popen([sys.executable, "-c", code, str(rss_file)], env=env, cwd=root)
    try:
        row["pairs_end"], last = _pairs(ctx, actors[0], job_id, n, task_type, 0)  # the rest: about k pairs
        for w, other in enumerate(actors[1:], start=1):
            _, last = _pairs(ctx, other, job_id, n, task_type, w)
        out_uri = None
        while time.time() < last + 7200:
            with ctx.db.read() as c:
                job = c.execute(J.select().where(J.c.id == job_id)).one()
            if job.status == "Completed":
                from gtcore.output.writer import output_manifest_uri

                out_uri = output_manifest_uri(job)
                break
            time.sleep(0.05)
        row["finish_s"] = time.time() - last
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(600)
    row["worker_mb"] = json.loads(rss_file.read_text()) if rss_file.exists() else float("nan")
    if out_uri is not None:
        viewed = _in_process(_viewer, str(root), out_uri)
        row["viewer_s"], row["viewer_mb"] = viewed["seconds"], viewed["peak_mb"]
    ctx.db.dispose()
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--pairs", type=int, default=1000, help="claim+submit pairs timed at the start and at the end")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/gt-bench-growth"))
    ap.add_argument("--task-type", choices=sorted(LAMBDA), default="BoundingBox")
    ap.add_argument("--workers-per-object", type=int, default=1, help="NumberOfHumanWorkersPerDataObject")
    args = ap.parse_args()
    print(f"bench_growth: {os.cpu_count()} CPUs, load average at start {os.getloadavg()}; {args.task_type}, "
          f"{args.workers_per_object} answer(s) an object")  # fmt: skip
    head = ("objects", "create s (peak MB)", "pairs/s start -> end", "last answer -> output.manifest s",
            "worker peak MB", "viewer first page+stats s (peak MB)")  # fmt: skip
    rows = []
    for n in args.sizes:
        r = run_size(n, args.pairs, args.dir / str(n), args.task_type, args.workers_per_object)
        rows.append(r)
        print(f"  done {n:,} objects: {json.dumps({k: round(v, 2) for k, v in r.items()})} "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        viewer = f"{r['viewer_s']:.2f} ({r['viewer_mb']:.0f})" if "viewer_s" in r else "n/a"
        print(f"| {r['objects']:,} | {r['create_s']:.2f} ({r['create_mb']:.0f}) | {r['pairs_start']:.0f} -> "
              f"{r['pairs_end']:.0f} | {r['finish_s']:.1f} | {r['worker_mb']:.0f} | {viewer} |")  # fmt: skip
    print(f"\nload average at end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

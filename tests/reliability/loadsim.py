"""Many annotators in separate OS processes on one labeling job: the engine of ``test_load.py`` (small counts)
and ``bench/report_reliability.py`` (full counts).

Each annotator is its own OS process (``forkserver``: gtcore is imported once, every annotator forks from that
server) with its own Context and connection pool, like several Streamlit servers behind a load balancer
sharing one database. The job is created through ``gtcore.jobs.api.create_labeling_job`` over real PNG files.
Every annotator loops until the job is over (``claim_next`` raises TaskError once it is Completed; two background
worker processes, as ``gtcore worker`` runs, write the files and finish the job):

- ``submit`` (most tasks; some after a heartbeat and a draft), sometimes followed by a second submit of the
  same task, which must be refused;
- ``release``: the task goes back to the pool;
- ``decline``: at most ``needed - 1`` annotators may decline any one object (``may_decline``), so no object
  can collect as many declines as answers it needs, and every object must end with exactly ``needed`` answers;
- ``stop``: stop-and-resume-later, then ``claim_next`` must hand the same task back, which is then submitted;
- ``expire``: a draft, then a submit at ``now = lease end + 1 s`` must be refused; the next claim runs at that
  later ``now`` and so expires the lease (TaskTimeLimitInSeconds is at least 30 s by the API rules, so expiry
  is driven through the queue's ``now=`` parameter rather than by waiting).

An annotator records a submit as acknowledged only after ``queue.submit`` returned, and every refusal by kind.
``verify`` then checks the database, the counters, the worker-response files and the output manifest.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import random
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from tests.fixtures.core import make_settings, make_user
from tests.fixtures.jobs import JobFactory
from tests.fixtures.queue import box_answer

PRELOAD = [
    "gtcore.queue.claim",
    "gtcore.output.writer",
    "gtcore.jobs.api",
    "tests.reliability.loadsim",
    "tests.reliability.test_crash",
]
ACTIONS = (("submit", 0.74), ("release", 0.09), ("stop", 0.08), ("expire", 0.09))
DECLINE_SHARE = 0.7  # of the tasks an annotator may decline
LABELS = ("cat", "dog")
TEMP_MARK = ".gttmp."  # gtcore.storage.local.TEMP_PREFIX


@dataclass(frozen=True)
class LoadConfig:
    procs: int = 32
    objects: int = 48
    needed: int = 2  # NumberOfHumanWorkersPerDataObject
    max_concurrent: int = 1000  # MaxConcurrentTaskCount
    deadline: float = 240.0  # seconds an annotator keeps going at most
    seed: int = 1


@dataclass
class LoadRun:
    db_url: str
    root: Path
    job_id: int
    job_name: str
    config: LoadConfig
    results: list[dict[str, Any]]
    exitcodes: list[int | None]
    wall_seconds: float
    public_ids: dict[int, str]  # user id -> public worker id


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def refusal_kind(message: str) -> str:
    """The reason of a TaskError from the queue, as a short key."""
    for needle, kind in (
        ("already submitted", "already_submitted"),
        ("time limit ended", "expired"),
        ("you released it", "released"),
        ("you declined it", "declined"),
        ("the job is", "job_closed"),
        ("hands out no more tasks", "job_closed"),  # JobClosed from the claim that resumes a stopped task
        ("changed meanwhile", "race"),
        ("is closed", "object_closed"),
    ):
        if needle in message:
            return kind
    return "other"


def may_decline(rank: int, object_idx: int, procs: int, needed: int) -> bool:
    """Whether this annotator may decline this object: for each object at most ``needed - 1`` annotators may
    (those whose rank is congruent to the object's index modulo ``ceil(procs / (needed - 1))``), so declines
    never fail or shorten an object and every object must end with exactly ``needed`` answers."""
    if needed < 2:
        return False
    groups = -(-procs // (needed - 1))
    return rank % groups == object_idx % groups


def _pick(rng: random.Random, may_decline: bool) -> str:
    if may_decline and rng.random() < DECLINE_SHARE:
        return "decline"
    roll, acc = rng.random(), 0.0
    for name, p in ACTIONS:
        acc += p
        if roll < acc:
            return name
    return "submit"


class ErrorLog(logging.Handler):
    """Keeps every ERROR record gtcore logs in this process (a failure it swallowed, e.g. in finishing)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


def _status(ctx: Context, assignment_id: int) -> str:
    with ctx.db.read() as conn:
        a = dbm.assignments
        return str(conn.execute(select(a.c.status).where(a.c.id == assignment_id)).scalar())


def annotator(spec: dict[str, Any], ready: Any, start: Any, out: str) -> None:
    """One annotator process (see the module docstring); writes its tallies as JSON to ``out``."""
    from gtcore.core.errors import TaskError
    from gtcore.jobs import finishing as lifecycle
    from gtcore.queue import api as queue

    logged = ErrorLog()
    logging.getLogger().addHandler(logged)
    root = Path(spec["root"])
    ctx = Context.from_settings(make_settings(root, database_url=spec["db_url"]))
    _record_finishes(lifecycle, root)
    who = spec["who"]
    actor = Actor(who["user_id"], who["email"], frozenset({"worker"}), frozenset(who["team_ids"]), who["worker_id"])
    job_id = spec["job_id"]
    rng = random.Random(spec["seed"])
    tally: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    acked: list[int] = []
    declined: list[int] = []
    errors: list[str] = []
    claim_seconds: list[float] = []
    later: float | None = None  # the clock of the next claim, after letting a lease run out
    idle = 0
    ready.put(spec["rank"])
    start.wait(300)
    first = time.time()
    deadline = first + spec["deadline"]
    try:
        while time.time() < deadline:
            t0 = time.perf_counter()
            try:
                task = queue.claim_next(ctx, actor, job_id, now=later)
            except TaskError:
                break  # the job is over
            claim_seconds.append(time.perf_counter() - t0)
            later = None
            if task is None:
                tally["empty"] += 1
                idle += 1
                time.sleep(min(0.4, 0.03 * 2 ** min(idle, 4)) * (0.5 + rng.random()))
                continue
            idle = 0
            tally["claimed"] += 1
            aid = task.assignment_id
            action = _pick(rng, may_decline(spec["rank"], task.object_idx, spec["procs"], spec["needed"]))
            answer = box_answer(label=rng.choice(LABELS), n=1, w=64, h=48)
            try:
                if action == "submit":
                    if rng.random() < 0.3:
                        queue.heartbeat(ctx, actor, aid)
                        queue.save_draft(ctx, actor, aid, answer)
                    queue.submit(ctx, actor, aid, answer)
                    acked.append(aid)
                    tally["submitted"] += 1
                    if rng.random() < 0.1:
                        queue.submit(ctx, actor, aid, answer)
                        tally["double_accepted"] += 1  # must never happen
                elif action == "release":
                    queue.release(ctx, actor, aid)
                    tally["released"] += 1
                elif action == "decline":
                    queue.decline(ctx, actor, aid, "the image is unclear")
                    declined.append(aid)
                    tally["declined"] += 1
                elif action == "stop":
                    queue.stop_and_resume_later(ctx, actor, aid)
                    again = queue.claim_next(ctx, actor, job_id)
                    if again is None or again.assignment_id != aid or again.status != "leased":
                        # only legitimate when another annotator's later clock expired the paused lease meanwhile
                        tally["stop_expired" if _status(ctx, aid) == "expired" else "resume_mismatch"] += 1
                        continue
                    queue.submit(ctx, actor, aid, answer)
                    acked.append(aid)
                    tally["submitted"] += 1
                    tally["resumed"] += 1
                else:  # expire
                    queue.save_draft(ctx, actor, aid, answer)
                    late = queue.heartbeat(ctx, actor, aid) + 1.0  # one second after the (renewed) lease ends
                    later = late
                    queue.submit(ctx, actor, aid, answer, now=late)
                    acked.append(aid)
                    tally["late_accepted"] += 1  # must never happen
            except TaskError as exc:
                refusals[refusal_kind(str(exc))] += 1
    except Exception:  # recorded for the test to show; the process still writes its result
        errors.append(traceback.format_exc())
    last = time.time()
    ctx.db.dispose()
    result = {
        "rank": spec["rank"],
        "tally": tally,
        "refusals": refusals,
        "acked": acked,
        "declined": declined,
        "errors": errors + [f"logged: {r}" for r in logged.records],
        "claims": len(claim_seconds),
        "claim_seconds": sum(claim_seconds),
        "claim_max": max(claim_seconds, default=0.0),
        "first": first,
        "last": last,
    }
    tmp = out + ".part"
    Path(tmp).write_text(json.dumps(result))
    os.replace(tmp, out)


def _record_finishes(lifecycle: Any, root: Path) -> None:
    real_finish = lifecycle.finish_job

    def recording_finish(c: Context, jid: int, status: str) -> None:
        with open(root / "finish_calls.log", "a") as fh:
            fh.write(f"{jid} {status}\n")
        real_finish(c, jid, status)

    lifecycle.finish_job = recording_finish


def background_worker(db_url: str, root_s: str, stop: Any) -> None:
    """A ``gtcore worker`` process (finish_job calls recorded like the annotators')."""
    from gtcore.jobs import finishing as lifecycle
    from gtcore.work import runner

    root = Path(root_s)
    ctx = Context.from_settings(make_settings(root, database_url=db_url))
    _record_finishes(lifecycle, root)
    runner.run(ctx, stop, poll_seconds=0.05)
    ctx.db.dispose()


BACKGROUND_WORKERS = 2


def forkserver() -> Any:
    """The ``forkserver`` context with gtcore preloaded. The preload list only counts before the server first
    starts (once per test process), so every user of forkserver in this suite goes through here."""
    mpc = mp.get_context("forkserver")
    mpc.set_forkserver_preload(PRELOAD)
    return mpc


def prepare(ctx: Context, root: Path, cfg: LoadConfig) -> tuple[int, str, list[Actor]]:
    """A BoundingBox job over ``cfg.objects`` real PNG files and one worker per process in its team."""
    factory = JobFactory(ctx, root)
    name = f"load-{uuid.uuid4().hex[:8]}"
    job = factory.create(
        name=name, n_images=cfg.objects, workers_per_object=cfg.needed, max_concurrent=cfg.max_concurrent
    )
    workers = [
        make_user(ctx.db, f"annotator{i:02d}-{uuid.uuid4().hex[:6]}@load.test", ("worker",), (job.team_id,))
        for i in range(cfg.procs)
    ]
    return job.job_id, job.name, workers


def run_load(db_url: str, root: Path, cfg: LoadConfig) -> LoadRun:
    """Create the job, run ``cfg.procs`` annotator processes on it until it is over, return what they saw."""
    ctx = Context.from_settings(make_settings(root, database_url=db_url))
    try:
        job_id, job_name, workers = prepare(ctx, root, cfg)
    finally:
        ctx.db.dispose()
    mpc = forkserver()
    ready, start, stop = mpc.Queue(), mpc.Event(), mpc.Event()
    background = [mpc.Process(target=background_worker, args=(db_url, str(root), stop), name=f"worker-{k}")
                  for k in range(BACKGROUND_WORKERS)]  # fmt: skip
    for b in background:
        b.start()
    procs = []
    for i, w in enumerate(workers):
        spec = {
            "db_url": db_url,
            "root": str(root),
            "job_id": job_id,
            "rank": i,
            "seed": cfg.seed * 1000 + i,
            "procs": cfg.procs,
            "needed": cfg.needed,
            "deadline": cfg.deadline,
            "who": {"user_id": w.user_id, "email": w.email, "worker_id": w.worker_id, "team_ids": sorted(w.team_ids)},
        }
        out = root / f"annotator{i:02d}.json"
        p = mpc.Process(target=annotator, args=(spec, ready, start, str(out)), name=f"annotator-{i}")
        p.start()
        procs.append((p, out))
    for _ in procs:
        ready.get(timeout=300)  # every process has its Context: start them together
    t0 = time.time()
    start.set()
    for p, _ in procs:
        p.join(cfg.deadline + 120)
        if p.is_alive():  # our own child, stuck: stop it and let the test report it
            p.kill()
            p.join(10)
    wall = time.time() - t0
    stop.set()  # the job is over (annotators end when it is Completed): the background workers may stop
    for b in background:
        b.join(60)
    results = [json.loads(out.read_text()) if out.exists() else {"rank": i, "missing": True}
               for i, (_, out) in enumerate(procs)]  # fmt: skip
    public = {int(w.user_id): w.worker_id for w in workers if w.user_id is not None}
    return LoadRun(db_url, root, job_id, job_name, cfg, results, [p.exitcode for p, _ in procs], wall, public)


def _rows(ctx: Context, job_id: int) -> tuple[Any, list[Any], list[Any]]:
    with ctx.db.read() as conn:
        job = conn.execute(select(dbm.jobs).where(dbm.jobs.c.id == job_id)).one()
        objs = list(conn.execute(select(dbm.objects).where(dbm.objects.c.job_id == job_id).order_by(dbm.objects.c.idx)))
        q = select(dbm.assignments).where(dbm.assignments.c.job_id == job_id).order_by(dbm.assignments.c.id)
        rows = list(conn.execute(q))
    return job, objs, rows


def _check_objects(objs: list[Any], rows: list[Any], needed: int, problems: list[str]) -> None:
    by_obj: dict[int, list[Any]] = {}
    for a in rows:
        by_obj.setdefault(a.object_idx, []).append(a)
    for o in objs:
        mine = by_obj.get(o.idx, [])
        answers = [a for a in mine if a.status == "submitted"]
        live = [a for a in mine if a.status in ("leased", "stopped")]
        declines = [a for a in mine if a.status == "declined"]
        workers = {a.worker_id for a in answers}
        if o.status != "done" or len(answers) != needed or len(workers) != needed:
            problems.append(f"object {o.idx}: status {o.status}, {len(answers)} answers from {len(workers)} workers")
        if (o.taken, o.answers, o.declines) != (len(live) + len(answers), len(answers), len(declines)):
            problems.append(
                f"object {o.idx}: counters taken/answers/declines {(o.taken, o.answers, o.declines)} != recount "
                f"{(len(live) + len(answers), len(answers), len(declines))}"
            )
        if live:
            problems.append(f"object {o.idx}: {len(live)} lease(s) left live after the job ended")


def _check_files(run: LoadRun, job: Any, submitted: list[Any], problems: list[str]) -> int:
    """Worker-response files: exactly one per answered object holding every answer of it (iteration-1: the
    first 10 objects handed out, iteration-2 the rest); no temp files."""
    folder = Path(job.output_path) / job.name
    files = sorted(folder.glob("annotations/worker-response/iteration-*/*/*.json"))
    seen: Counter[tuple[int, str]] = Counter()
    for f in files:
        for ans in json.loads(f.read_text())["answers"]:
            seen[(int(f.parent.name), ans["workerId"])] += 1
    if len(files) != len({a.object_idx for a in submitted}):
        problems.append(f"{len(files)} worker-response files for {len({a.object_idx for a in submitted})} objects")
    if len([f for f in files if f.parent.parent.name == "iteration-1"]) != min(10, len(files)):
        problems.append("iteration-1 does not hold exactly the first 10 objects")
    expected = Counter((a.object_idx, run.public_ids[a.worker_id]) for a in submitted)
    if seen != expected:
        problems.append(f"worker-response files {sum(seen.values())} != submitted answers {len(submitted)}")
    uris = {a.response_uri for a in submitted}
    if None in uris:
        problems.append("a submitted answer has no worker-response file recorded")
    temps = [p for p in folder.rglob("*") if p.name.startswith(TEMP_MARK)]
    if temps:
        problems.append(f"{len(temps)} temp file(s) left in the output tree: {temps[:3]}")
    return len(files)


def _check_output(ctx: Context, job: Any, objs: list[Any], problems: list[str]) -> int:
    """The final output manifest: every input line, in order, labelled, readable by the augmented reader."""
    from gtcore.manifests import augmented
    from gtcore.output import writer as output

    uri = output.output_manifest_uri(job)
    try:
        data = ctx.storage.read_bytes(uri)
    except Exception as exc:
        problems.append(f"no output manifest at {uri}: {exc}")
        return 0
    lines = data.decode("utf-8").splitlines()
    if len(lines) != len(objs):
        problems.append(f"output manifest has {len(lines)} lines for {len(objs)} objects")
    attr = job.label_attribute
    for o, text in zip(objs, lines, strict=False):
        rec = json.loads(text)
        if rec.get("source-ref") != json.loads(o.line_json).get("source-ref"):
            problems.append(f"output line {o.idx + 1} is not the input line {o.idx + 1}")
        meta = rec.get(f"{attr}-metadata") or {}
        labelled = meta.get("human-annotated") == "yes" and meta.get("type") == "groundtruth/object-detection"
        if attr not in rec or not labelled:
            problems.append(f"output line {o.idx + 1} carries no human box label: {text[:200]}")
    parsed = augmented.parse_augmented(data, where=uri)
    if parsed.problems:
        problems.append(f"the augmented reader found problems in the output manifest: {parsed.problems[:3]}")
    return len(lines)


def verify(ctx: Context, run: LoadRun) -> Verification:
    """Every invariant the load must keep, as a list of problems (empty when all hold), plus the figures."""
    from gtcore.core.access import Actor as A
    from gtcore.jobs import api as jobs
    from gtcore.jobs import progress as jobstats
    from gtcore.queue import api as queue

    v = Verification()
    problems = v.problems
    system = A.system_actor()
    flushed = queue.flush_worker_responses(ctx, job_id=run.job_id)  # nothing should be missing
    job, objs, rows = _rows(ctx, run.job_id)
    submitted = [a for a in rows if a.status == "submitted"]
    tally: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    acked: list[int] = []
    declined: list[int] = []
    for r in run.results:
        if r.get("missing"):
            problems.append(f"annotator {r['rank']} wrote no result")
            continue
        tally.update(r["tally"])
        refusals.update(r["refusals"])
        acked += r["acked"]
        declined += r["declined"]
        problems += [f"annotator {r['rank']} failed:\n{e}" for e in r["errors"]]
    if any(code != 0 for code in run.exitcodes):
        problems.append(f"annotator exit codes: {run.exitcodes}")
    if job.status != "Completed":
        problems.append(f"job is {job.status}, not Completed")
    finish_log = run.root / "finish_calls.log"
    calls = finish_log.read_text().splitlines() if finish_log.exists() else []
    if calls != [f"{run.job_id} Completed"]:
        problems.append(f"finish_job calls: {calls}")
    for bad in ("double_accepted", "late_accepted", "resume_mismatch"):
        if tally[bad]:
            problems.append(f"{tally[bad]} {bad}")
    if sorted(acked) != sorted(a.id for a in submitted):
        problems.append(f"acknowledged submits {len(acked)} != submitted rows {len(submitted)}")
    status = {a.id: a.status for a in rows}
    if any(status.get(aid) != "declined" for aid in declined):
        problems.append("an acknowledged decline is not in the database")
    _check_objects(objs, rows, run.config.needed, problems)
    files = _check_files(run, job, submitted, problems)
    out_lines = _check_output(ctx, job, objs, problems)
    counters = jobs.describe_labeling_job(ctx, system, job.name)["LabelCounters"]
    recount = {"TotalLabeled": sum(o.status == "done" for o in objs), "FailedNonRetryableError": 0, "Unlabeled": 0}
    if {k: counters[k] for k in recount} != recount:
        problems.append(f"LabelCounters {counters} != recount {recount}")
    prog = jobstats.job_progress(ctx, system, run.job_id)
    per_worker = Counter(a.worker_id for a in submitted)
    if prog.answers_submitted != len(submitted) or prog.in_progress != 0:
        problems.append(f"job_progress answers {prog.answers_submitted} / in progress {prog.in_progress}")
    if {w.user_id: w.submitted for w in prog.workers if w.submitted} != dict(per_worker):
        problems.append("job_progress per-worker submitted counts differ from a recount")
    span = max((r["last"] for r in run.results if "last" in r), default=0.0) - min(
        (r["first"] for r in run.results if "first" in r), default=0.0
    )
    claims = sum(r.get("claims", 0) for r in run.results)
    v.figures = {
        "database": "postgresql" if run.db_url.startswith("postgresql") else "sqlite",
        "processes": run.config.procs,
        "objects": len(objs),
        "answers": len(submitted),
        "answers_per_object": run.config.needed,
        "claims": claims,
        "tasks_claimed": tally["claimed"],
        "empty_claims": tally["empty"],
        "claims_per_second": round(claims / span, 1) if span > 0 else 0.0,
        "mean_claim_ms": round(1000 * sum(r.get("claim_seconds", 0) for r in run.results) / max(1, claims), 1),
        "max_claim_ms": round(1000 * max((r.get("claim_max", 0) for r in run.results), default=0), 1),
        "actions": {k: tally[k] for k in ("submitted", "released", "declined", "resumed", "stop_expired") if tally[k]},
        "refusals": dict(sorted(refusals.items())),
        "files": files,
        "flushed_late": flushed,
        "output_lines": out_lines,
        "recount_equals_counters": not any("counters" in p or "recount" in p for p in problems),
        "seconds": round(run.wall_seconds, 1),
    }
    return v

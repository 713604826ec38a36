"""Automated data labeling's schedule (Ground Truth's): what people may claim when, with background steps running
while objects are claimed but not answered, a training that must wait for the validation set, and a machine-
labeled share that does not depend on how fast people answer."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from gtcore.autolabel import batches
from gtcore.autolabel.status import loop_status, preparing_more
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.jobs import api as jobs
from gtcore.manifests.sample_digits import DIGIT_LABELS
from gtcore.queue import api as queue
from gtcore.work import runner
from tests.fixtures import simulate
from tests.fixtures.autolabel import AutoWorld, make_auto_world

SYSTEM = Actor.system_actor()


def _counts(w: AutoWorld, job: int) -> batches.Counts:
    with w.ctx.db.read() as c:
        return batches.counts(c, job)


def _pending(w: AutoWorld, kind: str) -> int:
    wi = dbm.work_items
    with w.ctx.db.read() as c:
        q = select(func.count()).where(wi.c.kind == kind, wi.c.status == "pending")
        return int(c.execute(q).scalar_one())


def _roles(w: AutoWorld, job: int, iteration: int) -> dict[str, int]:
    o = dbm.objects
    with w.ctx.db.read() as c:
        rows = c.execute(
            select(o.c.al_role, func.count())
            .where(o.c.job_id == job, o.c.al_iteration == iteration)
            .group_by(o.c.al_role)
        ).all()
    return {str(r): int(n) for r, n in rows}


def _answer(w: AutoWorld, job: int, truth: dict, limit: int | None = None) -> int:
    return simulate.annotate(w.ctx, w.workers[1:], job, truth, DIGIT_LABELS, limit=limit)


def _steps(w: AutoWorld) -> None:
    runner.run_until_idle(w.ctx, max_seconds=120, kinds=["autolabel.step"])


def test_what_people_may_claim_when(auto_world: AutoWorld) -> None:
    w = auto_world
    job = w.create("classification", 120, max_concurrent=30)
    _, truth = w.dataset("classification", 120)
    holder = w.workers[0]  # holds tasks; worker 1 answers everything it can
    assert queue.claim_next(w.ctx, holder, job) is None  # nothing is sent before the loop starts
    assert preparing_more(w.ctx, job)  # the worker is told more tasks are being prepared
    _steps(w)
    assert (_counts(w, job).claimable, _counts(w, job).held) == (10, 110)
    # the probe: one object claimed and not answered while every background step runs -> nothing more is sent
    held_task = queue.claim_next(w.ctx, holder, job)
    assert held_task is not None and _answer(w, job, truth) == 9
    runner.run_until_idle(w.ctx, max_seconds=120)
    c = _counts(w, job)
    assert (c.released_open, c.claimable, c.held) == (1, 0, 110)
    assert queue.claim_next(w.ctx, w.workers[1], job) is None
    simulate.annotate(w.ctx, [holder], job, truth, DIGIT_LABELS)  # the held probe object is answered
    _steps(w)
    assert _roles(w, job, 2) == {"validation": 24, "train": 20} and _counts(w, job).claimable == 44
    # the training must wait for the validation set: one validation object is claimed, not answered
    o = dbm.objects
    while True:
        task = queue.claim_next(w.ctx, holder, job)
        with w.ctx.db.read() as conn:
            role = conn.execute(select(o.c.al_role).where(o.c.job_id == job, o.c.idx == task.object_idx)).scalar()
        if role == "validation":
            break
        queue.submit(w.ctx, holder, task.assignment_id, {"crowd-image-classifier": {"label": DIGIT_LABELS[0]}})
    _answer(w, job, truth)
    runner.run_until_idle(w.ctx, max_seconds=120)
    assert len(loop_status(w.ctx, SYSTEM, job).iterations) == 2 and _pending(w, "autolabel.train") == 0
    assert queue.claim_next(w.ctx, w.workers[1], job) is None and preparing_more(w.ctx, job)
    simulate.annotate(w.ctx, [holder], job, truth, DIGIT_LABELS)
    _steps(w)
    # round 3: ONE batch of MaxConcurrentTaskCount (6 at random from the rest: the round's check), and a training
    assert _roles(w, job, 3) == {"batch": 24, "check": 6} and _pending(w, "autolabel.train") == 1
    # people label that batch while the model trains (here: before the training even starts) ...
    assert _answer(w, job, truth) == 30
    # ... and then nothing: the rest stays held until the model has labeled; never the whole rest
    _steps(w)
    c = _counts(w, job)
    assert (c.claimable, c.released_open, c.held) == (0, 0, 120 - 10 - 44 - 30)
    assert queue.claim_next(w.ctx, w.workers[1], job) is None and preparing_more(w.ctx, job)
    runner.run_until_idle(w.ctx, max_seconds=300)  # train (on the labels before round 3 only), infer, next round
    its = loop_status(w.ctx, SYSTEM, job).iterations
    assert its[2].human_labeled == 10 + 20 + 24  # probe + training batch (+ validation): not round 3's batch
    assert its[2].finished_at is not None and len(its) == 4
    assert 0 < sum(_roles(w, job, 4).values()) <= 30 and _counts(w, job).claimable <= 30


def test_the_model_labels_only_once_its_rounds_batch_is_settled(auto_world: AutoWorld) -> None:
    """Round 3's training runs while one object of its batch is claimed and not answered: the inference (machine
    labels, the next round) waits for that answer, and runs once it comes."""
    w = auto_world
    job = w.create("classification", 120, max_concurrent=30)
    _, truth = w.dataset("classification", 120)
    holder = w.workers[0]
    _steps(w)
    _answer(w, job, truth)  # the probe
    _steps(w)
    _answer(w, job, truth)  # the validation set and the training batch
    _steps(w)
    assert _roles(w, job, 3) == {"batch": 24, "check": 6} and _pending(w, "autolabel.train") == 1
    held = queue.claim_next(w.ctx, holder, job)  # one object of round 3's batch: claimed, not answered
    assert held is not None and _answer(w, job, truth) == 29
    runner.run_until_idle(w.ctx, max_seconds=300)  # the training runs; the inference must wait
    its = loop_status(w.ctx, SYSTEM, job).iterations
    assert len(its) == 3 and its[2].finished_at is None and _counts(w, job).machine == 0, its
    assert _pending(w, "autolabel.train") == 0  # not waiting for the training: for the held object
    assert simulate.annotate(w.ctx, [holder], job, truth, DIGIT_LABELS) == 1
    runner.run_until_idle(w.ctx, max_seconds=300)
    its = loop_status(w.ctx, SYSTEM, job).iterations
    assert its[2].finished_at is not None and len(its) == 4, its


def test_a_training_runs_on_the_labels_before_its_round_however_fast_people_are(tmp_path: Path) -> None:
    """Round N's model never sees round N's batch, even when people answered it before the training started."""
    w = make_auto_world(tmp_path)
    try:
        job = w.create("classification", 120, max_concurrent=30)
        assert w.run(job, "classification", 120, every=None) == "Completed"  # people answer all they can first
        for it in loop_status(w.ctx, SYSTEM, job).iterations[2:]:
            if it.human_labeled is not None:  # probe 10 + training batch 20 + validation 24 + earlier batches
                assert it.human_labeled == 10 + 20 + 24 + 30 * (it.number - 3), it
    finally:
        w.ctx.db.dispose()


def _machine_share(tmp_path: Path, every: int | None) -> float:
    tmp_path.mkdir()
    w = make_auto_world(tmp_path)
    try:
        job = w.create("classification", 400, max_concurrent=50)
        assert w.run(job, "classification", 400, every=every) == "Completed"
        c = jobs.describe_labeling_job(w.ctx, SYSTEM, w.name(job))["LabelCounters"]
        return float(c["MachineLabeled"]) / 400
    finally:
        w.ctx.db.dispose()


def test_the_machine_labeled_share_does_not_depend_on_how_fast_people_answer(tmp_path: Path) -> None:
    """Instant annotators (everything they can before any background step) against slow ones (the background
    workers run after every 3 answers): the same share, within 5 points (here: exactly, as nothing else differs)."""
    fast = _machine_share(tmp_path / "fast", None)
    slow = _machine_share(tmp_path / "slow", 3)
    assert fast > 0 and abs(fast - slow) <= 0.05, (fast, slow)

"""The ``autolabel.infer`` step of round N (run by background workers), once round N's batch is settled
(``batches.batch_settled``).

Score the model on the batch's human labels
(objects it never saw, from the pool that remains) and check the threshold there (``rules.check_round``: kept,
raised, or no machine labels this round); predict every held object (streamed, one image at a time),
machine-label those at or above the threshold (within ``MaxPercentageOfInputDatasetLabeled``), store the others'
confidence for the next batch's uncertainty ranking, write ``inference/<N>/`` and
``activelearning/<N>/auto-annotation/``, then finish the job if nothing is left open. A model that machine-labeled
something becomes the job's ``FinalActiveLearningModelArn``. Semantic segmentation: the human labels are the job's
consolidated mask PNGs (``<attr>`` of the stored record, read when needed), and a machine mask's PNG is written
only for objects within the ``MaxPercentageOfInputDatasetLabeled`` budget.

Idempotent: an iteration whose ``finished_at`` is set is not redone; machine labels and the round's end are
written in ONE transaction, a compare-and-set on ``finished_at`` (of two workers, one labels). A model that cannot
be used (``ModelError``) switches the job to people only (``loop.go_human_only``).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from sqlalchemy import select, update

from gtcore.autolabel import batches, files, loop, models, opening, pool, rules
from gtcore.autolabel import learner as lrn
from gtcore.autolabel import text as txt
from gtcore.autolabel.segmenter import SegPrediction, within_limit
from gtcore.autolabel.training import CHUNK, _context, _human_items, _label_right, _loader, model_unusable
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import GTError, ImageError, StorageError
from gtcore.jobs import actions as jobactions
from gtcore.jobs import finishing
from gtcore.output import writer

log = logging.getLogger(__name__)
O = dbm.objects  # noqa: E741
IT = dbm.autolabel_iterations
S = dbm.autolabel_jobs


def _check(ctx: Context, f: loop.JobFacts, n: int, lr: lrn.Learner, it: Any) -> rules.Check:
    """The round's check of the validation threshold on its batch's human labels (fresh to model N)."""
    metric_name, target = rules.target_for(f.task_type)
    fresh = _human_items(ctx, f, ("batch", "check"), iteration=n)
    confs, scores, _ = lrn.validation_scores(lr, [(u, lab) for _, u, lab, _ in fresh], _loader(ctx, f.task_type))
    sure = _label_right(ctx, f, [v[0] for v in fresh]) or [1.0] * len(fresh)
    val = pool.remaining(pool.triples(it.validation_scores_json), pool.gone_before(ctx, f.id, n))
    th = rules.Threshold(it.validation_threshold, it.metric, it.bound, 0, len(val[0]))
    return rules.check_round(th, val, (confs, scores, sure), target, metric=metric_name)


def infer(ctx: Context, job_id: int, n: int) -> list[loop.Action]:
    got = _context(ctx, job_id, n)
    if got is None:
        return []
    f, st, it = got
    if it.finished_at is not None or not loop.trained(it):
        return []
    with ctx.db.read() as conn:
        if not batches.batch_settled(conn, job_id):
            return []  # people are still labeling the round's batch: ``step`` enqueues this again once settled
    writer.write_intermediate(ctx, job_id, iteration=n)  # consolidates the batch's answers
    try:
        lr = opening.open_learner(ctx, f.task_type, len(f.labels), st.initial_model_uri, job_id=job_id)
        if it.model_id is not None:
            saved = models.by_id(ctx, int(it.model_id))
            if saved is None:
                raise models.ModelError(f"model {it.model_id} of iteration {n} is not recorded")
            lr.model = models.load(ctx, saved)
        check = _check(ctx, f, n, lr, it)
        t0 = time.perf_counter()
        labeled, scored, lines = _predict_held(ctx, f, lr, check.threshold)
        seconds = time.perf_counter() - t0
    except (models.ModelError, ImportError) as exc:
        model_unusable(ctx, job_id, n, exc)
        return []
    finish = {
        "inference_seconds": seconds,
        "threshold": check.threshold if check.threshold is not None else -1.0,
        "check_count": check.checked,
        "check_metric": check.metric,
        "check_failed": check.failed,
        # a threshold found on validation + fresh labels: the status shows the bound and estimate it rests on
        **({"bound": check.bound, "metric": check.estimate} if check.bound is not None else {}),
    }
    machine = _store_predictions(ctx, f, n, labeled, scored, it.model_id, finish)
    if machine is None:
        return []  # another worker finished this round's inference first: its labels and files stand
    files.write_inference_files(ctx, f, n, lines, labeled, scored, machine)
    _after_inference(ctx, job_id)
    return [("step", n)]


def _predict_held(ctx: Context, f: loop.JobFacts, lr: lrn.Learner, threshold: float | None) -> tuple[list, list, list]:
    """(above-threshold [(idx, conf, prediction, size)], scored [(idx, conf, prediction)], input lines) of the held
    objects. A mask larger than Ground Truth's 1920x1080 limit is not machine-labeled (it stays for people)."""
    with ctx.db.read() as conn:
        held = conn.execute(
            select(O.c.idx, O.c.source_ref, O.c.line_json)
            .where(O.c.job_id == f.id, O.c.status == "open", O.c.held.is_(True))
            .order_by(O.c.idx)
        ).all()
    load = _loader(ctx, f.task_type)
    labeled, scored, lines = [], [], []
    for idx, ref, line in held:
        ref = txt.object_key(ref, line) if f.task_type == lrn.TEXT else ref
        if not ref:
            continue
        lines.append(line)
        try:
            pred, conf = lr.predict(str(ref), load)
        except (ImageError, StorageError) as exc:
            log.warning("job %s object %s: not inferred (%s); it stays for people", f.id, idx, exc)
            continue
        if isinstance(pred, SegPrediction) and not within_limit(pred.size):
            log.info("job %s object %s: %sx%s px is above 1920x1080; it stays for people", f.id, idx, *pred.size)
            continue
        scored.append((int(idx), conf, pred))
        if rules.machine_labels(conf, threshold):
            size = files.image_size(ctx, line) if f.task_type == "BoundingBox" else None
            if f.task_type == "BoundingBox" and size is None:
                log.info("job %s object %s: image size unreadable; it stays for people", f.id, idx)
                continue
            labeled.append((int(idx), conf, pred, size))
    return labeled, scored, lines


class _Lost(Exception):
    """Another worker finished the round first (rolls this one's transaction back)."""


def _store_predictions(
    ctx: Context, f: loop.JobFacts, n: int, labeled: list, scored: list, model_id: int | None, finish: dict
) -> list | None:
    """Machine-label and finish round ``n`` in ONE transaction, a compare-and-set on its ``finished_at``: of two
    workers running the same inference, one labels and the other changes nothing (None)."""
    try:
        return _store(ctx, f, n, labeled, scored, model_id, finish)
    except _Lost:
        return None


def _store(
    ctx: Context, f: loop.JobFacts, n: int, labeled: list, scored: list, model_id: int | None, finish: dict
) -> list:
    with ctx.db.read() as conn:
        c = batches.counts(conn, f.id)
    budget = rules.labeled_budget(
        f.stopping.get("MaxPercentageOfInputDatasetLabeled"), f.total, c.human + c.machine + c.released_open
    )
    labeled = sorted(labeled, key=lambda t: -t[1])
    if budget is not None:
        labeled = labeled[:budget]
    labeled = [(idx, conf, files.record(ctx, f, idx, pred, conf, size)) for idx, conf, pred, size in labeled]
    t = dbm.now()
    done: list = []
    with ctx.db.write() as conn:
        won = conn.execute(  # first: a second worker blocks here (PostgreSQL) or waits for the lock (SQLite)
            update(IT)
            .where(IT.c.job_id == f.id, IT.c.iteration == n, IT.c.finished_at.is_(None))
            .values(finished_at=t, **finish)
        ).rowcount
        if won != 1:
            raise _Lost
        for k in range(0, len(labeled), CHUNK):
            for idx, conf, rec in labeled[k : k + CHUNK]:
                moved = conn.execute(
                    update(O)
                    .where(O.c.job_id == f.id, O.c.idx == idx, O.c.status == "open", O.c.held.is_(True), O.c.taken == 0)
                    .values(
                        status="machine",
                        held=False,
                        consolidated_json=json.dumps(rec, ensure_ascii=False, separators=(",", ":")),
                        al_iteration=n,
                        al_confidence=conf,
                        updated_at=t,
                    )
                ).rowcount
                if moved:
                    done.append((idx, conf, rec))
        kept = {idx for idx, _, _ in done}
        for idx, conf, _ in scored:
            if idx not in kept:
                conn.execute(
                    update(O).where(O.c.job_id == f.id, O.c.idx == idx, O.c.status == "open").values(al_confidence=conf)
                )
        if done and model_id is not None:  # the job's FinalActiveLearningModelArn: the last model that labeled
            conn.execute(update(S).where(S.c.job_id == f.id).values(final_model_id=model_id, updated_at=t))
        conn.execute(update(IT).where(IT.c.job_id == f.id, IT.c.iteration == n).values(machine_labeled=len(done)))
    return done


def _after_inference(ctx: Context, job_id: int) -> None:
    """Finish the job when the model labeled the last open objects; else check the stopping conditions."""
    with ctx.db.read() as conn:
        left = conn.execute(select(O.c.idx).where(O.c.job_id == job_id, O.c.status == "open").limit(1)).first()
    try:
        if left is None:
            finishing.finish_job(ctx, job_id, "Completed")
        else:
            jobactions.check_stopping_conditions(ctx, Actor.system_actor(), job_id)
    except GTError:
        log.exception("job %s: finishing after inference failed; the maintenance sweep retries", job_id)

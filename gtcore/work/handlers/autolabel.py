"""Automated data labeling's background steps (gtcore.autolabel): ``autolabel.step`` moves a job's loop on,
``autolabel.train`` trains and chooses the threshold, ``autolabel.infer`` machine-labels. Each enqueues what comes
next; ``step`` also re-checks every ``POLL_SECONDS`` while the loop is active, so a missed trigger (a lease that
expired instead of a submit) cannot stall the job.
"""

from __future__ import annotations

from gtcore.autolabel import boxmaps, clsmaps, embeddings, inference, loop, training
from gtcore.context import Context
from gtcore.core import workqueue
from gtcore.work.registry import WorkItem, handler

POLL_SECONDS = 60.0


def _enqueue(ctx: Context, job_id: int, actions: list[loop.Action], *, poll: bool) -> None:
    with ctx.db.write() as conn:
        for kind, n in actions:
            workqueue.enqueue(conn, f"autolabel.{kind}", job_id=job_id, key="" if kind == "step" else str(n))
        if poll and loop.still_running(conn, job_id):
            embeddings.start(conn, job_id)  # the backbone's embeddings, computed once in the background
            boxmaps.start(conn, job_id)  # a box job's feature maps (``boxmaps.wanted`` skips other jobs)
            clsmaps.start(conn, job_id)  # a classification job's block-10 maps for the map head (``clsmaps.wanted``)
            # its own key: a settled object's immediate step (``gtcore.jobs.due``, added with DO NOTHING) must not
            # find this later poll pending in its place and wait behind it
            workqueue.enqueue(conn, "autolabel.step", job_id=job_id, key="poll", delay_seconds=POLL_SECONDS)


@handler("autolabel.step", max_attempts=8, lease_seconds=120.0)
def autolabel_step(ctx: Context, item: WorkItem) -> None:
    if item.job_id is not None:
        _enqueue(ctx, item.job_id, loop.step(ctx, item.job_id), poll=True)


@handler("autolabel.train", max_attempts=4, lease_seconds=900.0)
def autolabel_train(ctx: Context, item: WorkItem) -> None:
    if item.job_id is not None:
        _enqueue(ctx, item.job_id, training.train(ctx, item.job_id, int(item.key)), poll=False)


@handler("autolabel.infer", max_attempts=4, lease_seconds=900.0)
def autolabel_infer(ctx: Context, item: WorkItem) -> None:
    if item.job_id is not None:
        _enqueue(ctx, item.job_id, inference.infer(ctx, item.job_id, int(item.key)), poll=False)

"""The image of a labeling task, ready for the browser, with the access rules: a worker sees only a task he
holds, admins and auditors any task (the team lead's Preview); a task whose image cannot be shown is flagged once.

Public API (used by ``gtcore.ui.task_view`` and the Label page)::

    task_image(ctx, actor, task, *, max_side=DISPLAY_MAX_SIDE, flag=True) -> DisplayImage
    example_image(ctx, actor, task, uri, *, max_side=EXAMPLE_MAX_SIDE) -> DisplayImage
    prefetch_next(ctx, actor, task, *, count=2, max_side=DISPLAY_MAX_SIDE) -> list[str]
    prefetch_next_later(ctx, actor, task, ...) -> Future[list[str]]           # the same, all in the background
    display_image(ctx, uri, max_side) -> DisplayImage                          # no access check (callers check)

``DisplayImage``, the display-JPEG cache (``CACHE``) and the prefetch threads live in
``gtcore.images.display_images`` (re-exported here). ``task_image`` flags an object whose image cannot be shown
once (``queue.flag_object``; ``Context.memory`` remembers it) for the team lead. ``prefetch_next`` decodes the
images of the tasks this worker is likely to get next in a background thread, so the next task opens without
waiting; the Label page uses ``prefetch_next_later``, which starts half a second after the task is shown so the
decoding does not compete with the browser fetching the current image.

Access: admins and auditors may view any task screen (the team lead's Preview); a worker only a task he
holds (``gtcore.queue.actions.check_owner``). PermissionDenied otherwise.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from typing import Any, Protocol

from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import ADMIN, AUDITOR, Actor, require_team_member
from gtcore.core.errors import GTError, NotFound
from gtcore.images.display_images import (  # noqa: F401  (re-exported: the pages and tests use them from here)
    CACHE,
    DISPLAY_MAX_SIDE,
    EXAMPLE_MAX_SIDE,
    EXECUTOR,
    JPEG_QUALITY,
    MAX_SOURCE_BYTES,
    WAIT_SECONDS,
    DisplayImage,
    ImageCache,
    _key,
    display_image,
    prefetch,
)
from gtcore.queue import actions as tasks
from gtcore.queue import api as queue

log = logging.getLogger(__name__)

PREFETCH_DELAY_SECONDS = 0.5  # let the page and the browser get the current image first


class TaskLike(Protocol):
    """What this module needs of a task (``gtcore.queue.claim.Task``, or the Preview's stand-in); read-only."""

    @property
    def assignment_id(self) -> int: ...
    @property
    def job_id(self) -> int: ...
    @property
    def object_idx(self) -> int: ...
    @property
    def source_ref(self) -> str | None: ...


def check_view(ctx: Context, actor: Actor, task: TaskLike) -> None:
    """Readers (admins, auditors) see any task screen; a worker only the task he holds."""
    if actor.has(ADMIN) or actor.has(AUDITOR):
        return
    with ctx.db.read() as conn:
        row = tasks.load(conn, task.assignment_id)
    tasks.check_owner(actor, row)


def flag_once(ctx: Context, actor: Actor, task: TaskLike, reason: str) -> None:
    """Flag the task's object for the team lead with ``reason``, once per process (never raises)."""
    if ctx.memory.flagged(task.job_id, task.object_idx):
        return
    try:
        queue.flag_object(ctx, actor, task.assignment_id, reason)
    except GTError as exc:  # showing the message matters more than recording it
        log.warning("could not flag object %s of job %s: %s", task.object_idx, task.job_id, exc)
        return
    ctx.memory.remember_flagged(task.job_id, task.object_idx)


def task_image(
    ctx: Context, actor: Actor, task: TaskLike, *, max_side: int = DISPLAY_MAX_SIDE, flag: bool = True
) -> DisplayImage:
    """The display image of the task's ``source-ref``; a failure is returned (``error``) and flagged once.

    Raises:
        PermissionDenied: the actor is a worker who does not hold this task.
    """
    check_view(ctx, actor, task)
    uri = task.source_ref
    if not uri:
        img = DisplayImage("", None, 0.0, (0, 0), "this dataset object has no source-ref: there is no image to show")
    else:
        img = display_image(ctx, uri, max_side)
    if img.error and flag and task.assignment_id > 0:  # the Preview's stand-in task (id -1) flags nothing
        flag_once(ctx, actor, task, img.error)
    return img


def example_image(
    ctx: Context, actor: Actor, task: TaskLike, uri: str, *, max_side: int = EXAMPLE_MAX_SIDE
) -> DisplayImage:
    """A good/bad example image of the task's instructions (same access rule as the task)."""
    check_view(ctx, actor, task)
    return display_image(ctx, uri, max_side)


def next_refs(ctx: Context, actor: Actor, task: TaskLike, *, count: int = 2) -> list[str]:
    """The ``source-ref`` of the tasks this worker would likely get next (for prefetching).

    The guess: the job's lowest open objects after the current one that still need workers and that this
    worker has no assignment on. Others may take them first, which only costs a wasted decode.
    """
    obj, asg = dbm.objects, dbm.assignments
    with ctx.db.read() as conn:
        job = conn.execute(select(dbm.jobs).where(dbm.jobs.c.id == task.job_id)).first()
        if job is None:
            raise NotFound(f"job {task.job_id} does not exist")
        require_team_member(actor, job.team_id, job.name)
        if actor.user_id is None or job.status != "InProgress":
            return []
        mine = (
            select(asg.c.id)
            .where(asg.c.job_id == job.id, asg.c.object_idx == obj.c.idx, asg.c.worker_id == actor.user_id)
            .exists()
        )
        refs: list[Any] = list(
            conn.execute(
                select(obj.c.source_ref)
                .where(
                    obj.c.job_id == job.id,
                    obj.c.status == "open",
                    obj.c.taken < obj.c.needed,
                    obj.c.idx != task.object_idx,
                    ~mine,
                )
                .order_by(obj.c.idx)
                .limit(count)
            ).scalars()
        )
    return [str(ref) for ref in refs if ref]


def prefetch_next(
    ctx: Context, actor: Actor, task: TaskLike, *, count: int = 2, max_side: int = DISPLAY_MAX_SIDE
) -> list[str]:
    """Start preparing the images of the next tasks this worker would likely get (``next_refs``); returns the
    URIs scheduled."""
    return [ref for ref in next_refs(ctx, actor, task, count=count) if prefetch(ctx, ref, max_side)]


def prefetch_next_later(
    ctx: Context,
    actor: Actor,
    task: TaskLike,
    *,
    count: int = 2,
    max_side: int = DISPLAY_MAX_SIDE,
    delay: float = PREFETCH_DELAY_SECONDS,
) -> Future[list[str]]:
    """``prefetch_next`` run entirely in the background (its query too), after ``delay`` seconds: the page does
    not wait, and the decoding does not compete with the browser fetching the image just shown."""

    def work() -> list[str]:
        time.sleep(delay)
        try:
            return prefetch_next(ctx, actor, task, count=count, max_side=max_side)
        except Exception:  # PermissionDenied, a database hiccup: only a speed-up was lost
            log.exception("prefetching the next images of job %s failed", task.job_id)
            return []

    return EXECUTOR.submit(work)

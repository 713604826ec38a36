"""The image of a labeling task, ready for the browser: read through storage, decoded safely, display-sized JPEG.

Public API (used by ``gtcore.ui.task_view`` and the Label page)::

    task_image(ctx, actor, task, *, max_side=DISPLAY_MAX_SIDE, flag=True) -> DisplayImage
    example_image(ctx, actor, task, uri, *, max_side=EXAMPLE_MAX_SIDE) -> DisplayImage
    prefetch_next(ctx, actor, task, *, count=2, max_side=DISPLAY_MAX_SIDE) -> list[str]
    prefetch_next_later(ctx, actor, task, ...) -> Future[list[str]]           # the same, all in the background
    display_image(ctx, uri, max_side) -> DisplayImage                          # no access check (callers check)

A ``DisplayImage`` holds the JPEG sent to the browser (never the original when it is larger than
``max_side``), its scale (display px per original px) and the original size after EXIF orientation,
or, when the image cannot be shown (corrupt, not an image, above the pixel limit, a decompression
bomb, missing), an ``error`` that says why. Such failures never raise: the annotator sees the message
and can decline, and ``task_image`` flags the object once (``queue.flag_object``) for the team lead.

Display JPEGs are kept in an in-process LRU (``CACHE``, bounded by bytes and entries) keyed by the
store, the normalized URI and the size. ``prefetch_next`` decodes the images of the tasks this worker
is likely to get next in a background thread, so the next task opens without waiting; a request for an
image that is being prefetched waits for that work instead of decoding twice. The Label page uses
``prefetch_next_later``, which starts half a second after the task is shown so the decoding does not
compete with the browser fetching the current image.

Access: admins and auditors may view any task screen (the team lead's Preview); a worker only a task he
holds (``gtcore.queue.actions.check_owner``). PermissionDenied otherwise.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import ADMIN, AUDITOR, Actor, require_team_member
from gtcore.core.errors import GTError, ImageError, NotFound, StorageError
from gtcore.images import decoding as images
from gtcore.queue import actions as tasks
from gtcore.queue import api as queue

log = logging.getLogger(__name__)

DISPLAY_MAX_SIDE = 576  # longest side of a task's display JPEG: fits the task column of a 1280 px wide window
EXAMPLE_MAX_SIDE = 480  # instructions' good/bad example images
JPEG_QUALITY = 85
MAX_SOURCE_BYTES = 200 * 1024 * 1024  # refuse to read larger source files at all
WAIT_SECONDS = 60.0  # how long a page waits for an image another thread is preparing
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


@dataclass(frozen=True)
class DisplayImage:
    uri: str
    jpeg: bytes | None
    scale: float  # display px per original px
    original_size: tuple[int, int]  # (width, height) after EXIF orientation
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.jpeg is not None and self.error is None


class ImageCache:
    """Thread-safe LRU of display images, bounded by total JPEG bytes and by entries."""

    def __init__(self, max_bytes: int = 96 * 1024 * 1024, max_entries: int = 512) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, DisplayImage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> DisplayImage | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item

    def put(self, key: Hashable, item: DisplayImage) -> None:
        size = len(item.jpeg or b"")
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old.jpeg or b"")
            if size > self.max_bytes:
                return
            self._items[key] = item
            self._bytes += size
            while self._items and (self._bytes > self.max_bytes or len(self._items) > self.max_entries):
                _, evicted = self._items.popitem(last=False)
                self._bytes -= len(evicted.jpeg or b"")

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.hits = self.misses = 0


CACHE = ImageCache()
EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="gt-image-prefetch")
_inflight: dict[Hashable, Future[DisplayImage]] = {}
_inflight_lock = threading.Lock()


def _key(ctx: Context, uri: str, max_side: int) -> tuple[str, str, int]:
    return (ctx.settings.s3_endpoint_url or "", uri, max_side)


def _render(ctx: Context, uri: str, max_side: int) -> tuple[DisplayImage, bool]:
    """Read and decode one image; returns (image, cacheable). Never raises for bad data or stores."""
    try:
        data = ctx.storage.read_bytes(uri, max_bytes=MAX_SOURCE_BYTES)
    except StorageError as exc:  # missing, denied, store down: not cached (it may come back)
        return DisplayImage(uri, None, 0.0, (0, 0), f"the image cannot be read: {exc.message}"), False
    try:
        jpeg, scale, size = images.display_jpeg(data, max_side, quality=JPEG_QUALITY, uri=uri)
    except ImageError as exc:
        return DisplayImage(uri, None, 0.0, (0, 0), exc.message), True
    return DisplayImage(uri, jpeg, scale, size), True


def _claim_work(key: Hashable) -> tuple[Future[DisplayImage], bool]:
    """The future computing ``key``: an existing one (False), or a new one this caller must fill (True)."""
    with _inflight_lock:
        fut = _inflight.get(key)
        if fut is not None:
            return fut, False
        fut = Future()
        _inflight[key] = fut
        return fut, True


def _fill(ctx: Context, uri: str, max_side: int, key: Hashable, fut: Future[DisplayImage]) -> DisplayImage:
    try:
        img, cacheable = _render(ctx, uri, max_side)
        if cacheable:
            CACHE.put(key, img)
        fut.set_result(img)
        return img
    except BaseException as exc:  # an unexpected bug: hand it to the waiters too
        fut.set_exception(exc)
        raise
    finally:
        with _inflight_lock:
            _inflight.pop(key, None)


def display_image(ctx: Context, uri: str, max_side: int = DISPLAY_MAX_SIDE) -> DisplayImage:
    """The display image of ``uri`` from the cache, from a prefetch under way, or decoded now.

    No access check: callers (``task_image``, ``example_image``) check the actor first.
    """
    try:
        norm = ctx.storage.normalize(uri)
    except GTError as exc:
        return DisplayImage(uri, None, 0.0, (0, 0), f"the image cannot be read: {exc.message}")
    key = _key(ctx, norm, max_side)
    hit = CACHE.get(key)
    if hit is not None:
        return hit
    fut, mine = _claim_work(key)
    if mine:
        return _fill(ctx, norm, max_side, key, fut)
    return fut.result(timeout=WAIT_SECONDS)


def prefetch(ctx: Context, uri: str, max_side: int = DISPLAY_MAX_SIDE) -> bool:
    """Prepare ``uri`` in the background; False when it is cached, under way, or not allowed."""
    try:
        norm = ctx.storage.normalize(uri)
    except GTError:
        return False
    key = _key(ctx, norm, max_side)
    if key in CACHE:
        return False
    fut, mine = _claim_work(key)
    if not mine:
        return False

    def work() -> None:
        try:
            _fill(ctx, norm, max_side, key, fut)
        except Exception:
            log.exception("prefetching %s failed", norm)

    EXECUTOR.submit(work)
    return True


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

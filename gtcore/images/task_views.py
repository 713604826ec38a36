"""The zoomed labeling canvas's images: the part of a task's image a view shows, as a JPEG of exactly the canvas size.

Public API (used by ``gtcore.ui.task_view``)::

    view_image(ctx, uri, spec) -> ViewImage                  # no access check (callers check)
    task_view_image(ctx, actor, task, spec, *, flag=True) -> ViewImage
    prefetch_view(ctx, uri, spec) -> bool                     # in the background; False if cached or under way
    prefetch_next_views_later(ctx, actor, task, specs, ...) -> Future[list[str]]

The browser never receives the original: a view (``gtcore.images.views.plan_view``) at any zoom is cut from the
source and resampled to the canvas size, one JPEG per view (Fit is the whole image at its fitted size). Three
caches make panning and the next task cheap:

- the original sizes (and decode failures) and the view JPEGs live in ``task_images.CACHE`` (bounded by bytes);
- decoded sources live in ``BASES``, an LRU bounded by pixel bytes, one per source and decoder reduction
  (JPEG decodes at 1/2, 1/4 or 1/8 when the zoom allows: a 12 MP photo at 2x of Fit is decoded at 1/2), so a
  pan re-cuts a cached picture instead of decoding the file again;
- concurrent requests for the same view wait for one render (a prefetch under way included).

Failures never raise (as ``task_images``): the ``ViewImage`` carries the reason, and ``task_view_image`` flags
the object once.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass

from PIL import Image

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import GTError, ImageError, StorageError
from gtcore.images import decoding
from gtcore.images import task_images as ti
from gtcore.images.views import View, ViewSpec, plan_view

log = logging.getLogger(__name__)

_REDUCTIONS = (8, 4, 2, 1)
_UPSCALE_SLACK = 1.05  # accept a 5 % upscale of a decoder-reduced source rather than decoding 4x the pixels


@dataclass(frozen=True)
class ViewImage:
    uri: str
    jpeg: bytes | None
    view: View | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.jpeg is not None and self.view is not None and self.error is None

    @property
    def original_size(self) -> tuple[int, int]:
        return self.view.original if self.view is not None else (0, 0)


class PixelCache:
    """Thread-safe LRU of decoded RGB images, bounded by their pixel bytes (width x height x 3)."""

    def __init__(self, max_bytes: int = 400 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, Image.Image] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    @staticmethod
    def _size(im: Image.Image) -> int:
        return im.width * im.height * 3

    def get(self, key: Hashable) -> Image.Image | None:
        with self._lock:
            im = self._items.get(key)
            if im is not None:
                self._items.move_to_end(key)
            return im

    def put(self, key: Hashable, im: Image.Image) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= self._size(old)
            if self._size(im) > self.max_bytes:
                return
            self._items[key] = im
            self._bytes += self._size(im)
            while self._bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= self._size(evicted)

    def key_lock(self, key: Hashable) -> threading.Lock:
        """One lock per key, so two threads needing the same decode do it once."""
        with self._lock:
            if len(self._key_locks) > 256:
                self._key_locks = {k: v for k, v in self._key_locks.items() if v.locked()}
            return self._key_locks.setdefault(key, threading.Lock())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes


BASES = PixelCache()
_inflight: dict[Hashable, Future[ViewImage]] = {}
_inflight_lock = threading.Lock()


def _endpoint(ctx: Context) -> str:
    return ctx.settings.s3_endpoint_url or ""


def _failed(uri: str, message: str) -> ViewImage:
    return ViewImage(uri, None, None, message)


def reduction(view: View) -> int:
    """The decoder reduction (1, 2, 4, 8) whose picture still has at least the view's resolution."""
    return next((d for d in _REDUCTIONS if d <= _UPSCALE_SLACK / view.scale), 1)


def _original_size(ctx: Context, norm: str) -> tuple[tuple[int, int] | None, bytes | None, str | None, bool]:
    """(size, source bytes if read now, error, cacheable) of the oriented original, from the cache when known."""
    key = (_endpoint(ctx), norm, "size")
    hit = ti.CACHE.get(key)
    if hit is not None:
        return (hit.original_size, None, None, True) if hit.error is None else (None, None, hit.error, True)
    try:
        data = ctx.storage.read_bytes(norm, max_bytes=ti.MAX_SOURCE_BYTES)
    except StorageError as exc:  # missing, denied, store down: not cached (it may come back)
        return None, None, f"the image cannot be read: {exc.message}", False
    try:
        info = decoding.probe(data, uri=norm)
    except ImageError as exc:
        ti.CACHE.put(key, ti.DisplayImage(norm, None, 0.0, (0, 0), exc.message))
        return None, None, exc.message, True
    size = (info.width, info.height)
    ti.CACHE.put(key, ti.DisplayImage(norm, None, 0.0, size))
    return size, data, None, True


def _base(ctx: Context, norm: str, view: View, data: bytes | None) -> Image.Image:
    """The decoded source at the reduction the view needs (cached). Raises StorageError, ImageError."""
    d = reduction(view)
    key = (_endpoint(ctx), norm, "base", d)
    im = BASES.get(key)
    if im is not None:
        return im
    with BASES.key_lock(key):
        im = BASES.get(key)
        if im is not None:
            return im
        if data is None:
            data = ctx.storage.read_bytes(norm, max_bytes=ti.MAX_SOURCE_BYTES)
        ow, oh = view.original
        decoded = decoding.decode(data, max_side=math.ceil(max(ow, oh) / d), uri=norm, resize=False)
        im = decoded.image
        if d > 1 and im.width >= 2 * math.ceil(ow / d):  # a format without decoder reduction: reduce it here
            im = im.reduce(max(1, im.width // math.ceil(ow / d)))
        BASES.put(key, im)
        return im


def _view_key(ctx: Context, norm: str, view: View) -> tuple[Hashable, ...]:
    return (_endpoint(ctx), norm, "view", view.size, tuple(round(v, 3) for v in view.rect))


def _render(ctx: Context, norm: str, view: View, data: bytes | None) -> tuple[ViewImage, bool]:
    try:
        base = _base(ctx, norm, view, data)
        fx, fy = base.width / view.original[0], base.height / view.original[1]
        x, y, w, h = view.rect
        enlarged = view.scale >= 1  # an original pixel per screen pixel or more: shown as crisp squares
        how = Image.Resampling.NEAREST if enlarged else Image.Resampling.LANCZOS
        out = base.resize(view.size, how, box=(x * fx, y * fy, (x + w) * fx, (y + h) * fy))
        jpeg = decoding.to_jpeg(out, ti.JPEG_QUALITY)
    except StorageError as exc:
        return _failed(norm, f"the image cannot be read: {exc.message}"), False
    except ImageError as exc:
        return _failed(norm, exc.message), True
    return ViewImage(norm, jpeg, view), True


def view_image(ctx: Context, uri: str, spec: ViewSpec) -> ViewImage:
    """The JPEG of the view ``spec`` of ``uri``: from the cache, from a render under way, or rendered now."""
    try:
        norm = ctx.storage.normalize(uri)
    except GTError as exc:
        return _failed(uri, f"the image cannot be read: {exc.message}")
    size, data, error, _ = _original_size(ctx, norm)
    if size is None:
        return _failed(norm, error or "the image cannot be read")
    view = plan_view(size, spec)
    key = _view_key(ctx, norm, view)
    hit = ti.CACHE.get(key)
    if hit is not None and hit.jpeg is not None:
        return ViewImage(norm, hit.jpeg, view)
    with _inflight_lock:
        fut = _inflight.get(key)
        mine = fut is None
        if fut is None:
            fut = _inflight[key] = Future()
    if not mine:
        return fut.result(timeout=ti.WAIT_SECONDS)
    try:
        img, cacheable = _render(ctx, norm, view, data)
        if cacheable and img.jpeg is not None:
            ti.CACHE.put(key, ti.DisplayImage(norm, img.jpeg, view.scale, size))
        fut.set_result(img)
        return img
    except BaseException as exc:  # a bug: hand it to the waiters too
        fut.set_exception(exc)
        raise
    finally:
        with _inflight_lock:
            _inflight.pop(key, None)


def task_view_image(ctx: Context, actor: Actor, task: ti.TaskLike, spec: ViewSpec, *, flag: bool = True) -> ViewImage:
    """The view ``spec`` of the task's ``source-ref``; a failure is returned (``error``) and flagged once.

    Raises:
        PermissionDenied: the actor is a worker who does not hold this task.
    """
    ti.check_view(ctx, actor, task)
    if not task.source_ref:
        img = _failed("", "this dataset object has no source-ref: there is no image to show")
    else:
        img = view_image(ctx, task.source_ref, spec)
    if img.error and flag and task.assignment_id > 0:
        ti.flag_once(ctx, actor, task, img.error)
    return img


def prefetch_view(ctx: Context, uri: str, spec: ViewSpec) -> bool:
    """Render the view in the background (``task_images``' pool); False when it is not allowed or cached."""
    try:
        norm = ctx.storage.normalize(uri)
    except GTError:
        return False
    hit = ti.CACHE.get((_endpoint(ctx), norm, "size"))
    if hit is not None and (hit.error or _view_key(ctx, norm, plan_view(hit.original_size, spec)) in ti.CACHE):
        return False

    def work() -> None:
        try:
            view_image(ctx, norm, spec)
        except Exception:
            log.exception("prefetching a view of %s failed", norm)

    ti.EXECUTOR.submit(work)
    return True


def prefetch_next_views_later(
    ctx: Context,
    actor: Actor,
    task: ti.TaskLike,
    specs: Iterable[ViewSpec],
    *,
    count: int = 2,
    overview_side: int = 0,
    delay: float = ti.PREFETCH_DELAY_SECONDS,
) -> Future[list[str]]:
    """Prepare the views ``specs`` (and the overview thumbnail, when ``overview_side``) of the next tasks this
    worker would likely get, in the background after ``delay`` seconds; the page does not wait."""
    wanted = list(specs)

    def work() -> list[str]:
        time.sleep(delay)
        try:
            refs = ti.next_refs(ctx, actor, task, count=count)
        except Exception:  # PermissionDenied, a database hiccup: only a speed-up was lost
            log.exception("prefetching the next views of job %s failed", task.job_id)
            return []
        for ref in refs:  # in this thread, one after another: the current task's pans keep the other workers
            for spec in wanted:
                view_image(ctx, ref, spec)
            if overview_side:
                ti.display_image(ctx, ref, overview_side)
        return refs

    return ti.EXECUTOR.submit(work)

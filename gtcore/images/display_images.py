"""Display images: a task's or example's image read through storage, decoded safely, as a display-sized JPEG,
kept in a bounded in-process cache and prepared ahead by prefetch threads (callers check access first:
``gtcore.images.task_images``).

A ``DisplayImage`` holds the JPEG sent to the browser (never the original when it is larger than
``max_side``), its scale (display px per original px) and the original size after EXIF orientation,
or, when the image cannot be shown (corrupt, not an image, above the pixel limit, a decompression
bomb, missing), an ``error`` that says why. Such failures never raise: the annotator sees the message
and can decline, and ``task_image`` flags the object once (``queue.flag_object``) for the team lead.

Display JPEGs are kept in an in-process LRU (``CACHE``, bounded by bytes and entries) keyed by the
store, the normalized URI and the size. ``prefetch`` prepares an image in a background thread; a
request for an image that is being prefetched waits for that work instead of decoding twice.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from gtcore.context import Context
from gtcore.core.errors import GTError, ImageError, StorageError
from gtcore.images import decoding as images

log = logging.getLogger(__name__)

DISPLAY_MAX_SIDE = 576  # longest side of a task's display JPEG: fits the task column of a 1280 px wide window
EXAMPLE_MAX_SIDE = 480  # instructions' good/bad example images
JPEG_QUALITY = 85
MAX_SOURCE_BYTES = 200 * 1024 * 1024  # refuse to read larger source files at all
WAIT_SECONDS = 60.0  # how long a page waits for an image another thread is preparing


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

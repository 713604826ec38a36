"""Pictures for the viewer: grid tiles and detail images with labels drawn, made server-side and cached.

    render(ctx, actor, view, pos, *, side=TILE_SIDE) -> Tile     # one line of a manifest, labels drawn
    render_page(ctx, actor, view, positions, *, side) -> [Tile]   # a grid page, fetched in parallel
    render_image(ctx, actor, uri, *, side, boxes=()) -> Tile      # any image with given boxes (provenance)

A picture that cannot be fetched or decoded becomes a placeholder tile that says why (URI not
allowed, not found, store unavailable, not an image ...); for object detection the boxes are still
drawn on it at the manifest's image size. Fetching fails fast and never hangs a page:

- the URI is checked by ``Storage.normalize`` first (local roots, bucket allow-list; no network);
- S3 images are fetched only when an endpoint is configured (``GT_S3_ENDPOINT_URL``; for AWS itself
  set ``https://s3.<region>.amazonaws.com``): without one the tile says so at once;
- a bucket that failed (unreachable, access denied, missing) is not asked again for
  ``FAILURE_TTL`` seconds, and a failed URI is remembered as long, so a page of 24 tiles from a dead
  bucket costs one failed request, not 24.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import Image

from gtcore.core.access import Actor, require_reader
from gtcore.core.colors import class_color, parse_hex
from gtcore.core.errors import AccessDenied, GTError, ObjectNotFound, StorageError, StoreUnavailable
from gtcore.images import decoding as images
from gtcore.images import drawing
from gtcore.manifests import augmented as aug
from gtcore.storage.uris import is_s3, split_s3
from gtcore.viewer.table import AttributeView

TILE_SIDE = 240
DETAIL_SIDE = 1000
MAX_IMAGE_BYTES = 64 * 1024 * 1024
FAILURE_TTL = 60.0
FETCH_THREADS = 4


@dataclass(frozen=True)
class Tile:
    jpeg: bytes
    ok: bool  # the picture itself is shown (False: placeholder)
    reason: str  # why the picture (or its mask) is not shown; "" when all is well
    scale: float  # displayed pixels per original pixel
    orig_size: tuple[int, int] | None
    note: str = ""  # e.g. the image size differs from the manifest's image_size


class _Lru:
    def __init__(self, size: int) -> None:
        self.size, self._d, self._lock = size, OrderedDict[Any, Any](), threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
            return None

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()


_SMALL = _Lru(512)  # decoded tiles (240 px: ~170 KB each)
_LARGE = _Lru(12)  # decoded detail images and masks
_FAILED: dict[str, tuple[float, GTError]] = {}  # uri or "bucket:<name>" -> (when, error)
_FAILED_LOCK = threading.Lock()


def clear_caches() -> None:
    _SMALL.clear()
    _LARGE.clear()
    with _FAILED_LOCK:
        _FAILED.clear()


def forget_failures() -> None:
    """Ask again for images and buckets that failed (the "Reload" button: the auditor fixed something)."""
    with _FAILED_LOCK:
        _FAILED.clear()


def _recent_failure(key: str) -> GTError | None:
    with _FAILED_LOCK:
        hit = _FAILED.get(key)
        if hit and time.monotonic() - hit[0] < FAILURE_TTL:
            return hit[1]
        _FAILED.pop(key, None)
        return None


def _remember_failure(key: str, exc: GTError) -> None:
    with _FAILED_LOCK:
        _FAILED[key] = (time.monotonic(), exc)


def fetch(storage: Any, uri: str) -> tuple[str, bytes]:
    """``(normalized uri, bytes)`` of an image, failing fast (see the module notes)."""
    if not uri:
        raise ObjectNotFound("the line has no source-ref", uri)
    norm = storage.normalize(uri)
    failed = _recent_failure(norm)
    if failed:
        raise failed
    if is_s3(norm):
        if not storage.settings.s3_endpoint_url:
            raise StoreUnavailable(f"{norm}: not fetched: no S3 endpoint is configured (GT_S3_ENDPOINT_URL)", norm)
        bucket_key = "bucket:" + split_s3(norm)[0]
        failed = _recent_failure(bucket_key)
        if failed:
            raise StoreUnavailable(f"{norm}: not fetched, its bucket failed just before: {failed}", norm)
    try:
        return norm, storage.read_bytes(norm, max_bytes=MAX_IMAGE_BYTES)
    except StorageError as exc:
        _remember_failure(norm, exc)
        bucket_wide = isinstance(exc, StoreUnavailable | AccessDenied) or "bucket" in exc.message
        if is_s3(norm) and bucket_wide:
            _remember_failure("bucket:" + split_s3(norm)[0], exc)
        raise


def _decoded(storage: Any, uri: str, side: int) -> images.Decoded:
    cache = _SMALL if side <= 400 else _LARGE
    norm = storage.normalize(uri) if uri else uri
    hit = cache.get((norm, side))
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    failed = _recent_failure(norm)
    if failed:
        raise failed
    norm, data = fetch(storage, uri)
    try:
        decoded = images.decode(data, max_side=side, uri=norm)
    except GTError as exc:
        _remember_failure(norm, exc)
        raise
    cache.put((norm, side), decoded)
    return decoded


def _mask(storage: Any, uri: str) -> Image.Image:
    norm = storage.normalize(uri)
    hit = _LARGE.get(("mask", norm))
    if hit is None:
        norm, data = fetch(storage, uri)
        hit = images.decode_mask(data, uri=norm)
        _LARGE.put(("mask", norm), hit)
    return hit  # type: ignore[no-any-return]


def _caption(labels: Sequence[aug.ClassLabel]) -> str:
    parts = []
    for c in labels:
        conf = "" if c.confidence is None else f" {c.confidence:.2f}"
        parts.append(f"{c.class_name or f'class {c.class_id}'}{conf}")
    return ", ".join(parts) or "no label"


def _draw_labels(
    view: AttributeView, rec: dict, img: Image.Image, scale: float, storage: Any
) -> tuple[Image.Image, str]:
    """Draw the attribute's labels on ``img``; returns (image, reason a mask could not be shown)."""
    kind, attr = view.kind, view.attr
    if attr is None or attr.name not in rec:
        return img, ""
    if kind == aug.OBJECT_DETECTION:
        return drawing.draw_boxes(img, aug.boxes_of(rec, attr, view.class_names), scale=scale), ""
    if kind in aug.SINGLE_CLASS_KINDS or kind in aug.MULTI_CLASS_KINDS:
        labels = aug.classes_of(rec, attr)
        rgb = class_color(labels[0].class_id if labels else None)
        return drawing.draw_caption(img, _caption(labels), rgb), ""
    if kind == aug.SEMANTIC_SEGMENTATION:
        mask = aug.mask_of(rec, attr)
        if mask is None:
            return img, "no mask URI on this line"
        colors = {}
        for cid, (_name, hexc, _conf) in mask.classes.items():
            try:
                colors[cid] = parse_hex(hexc)
            except ValueError:
                colors[cid] = class_color(cid)
        try:
            return drawing.overlay_mask(img, _mask(storage, mask.uri), colors), ""
        except GTError as exc:
            return drawing.draw_caption(img, "mask not shown", (120, 120, 120)), f"mask: {exc}"
    return img, ""


def _placeholder(view: AttributeView, rec: dict, side: int, reason: str) -> Tile:
    size = aug.image_size_of(rec, view.attr) if view.attr and view.kind == aug.OBJECT_DETECTION else None
    if size and size[0] > 0 and size[1] > 0:
        w, h = images.fit_size((max(1, round(size[0])), max(1, round(size[1]))), side)
        scale = w / size[0]
    else:
        w, h, scale = side, side, 1.0
    img = drawing.placeholder((w, h), reason)
    if view.kind == aug.OBJECT_DETECTION and view.attr:  # the layout of the boxes, without hiding the reason
        img = drawing.draw_boxes(img, aug.boxes_of(rec, view.attr, view.class_names), scale=scale, labels=False)
    elif view.kind != aug.SEMANTIC_SEGMENTATION:
        img, _ = _draw_labels(view, rec, img, scale, None)
    orig = (round(size[0]), round(size[1])) if size else None
    return Tile(images.to_jpeg(img, crisp=True), False, reason, scale, orig)


def render(ctx: Any, actor: Actor, view: AttributeView, pos: int, *, side: int = TILE_SIDE) -> Tile:
    """The picture of line ``pos`` with the attribute's labels drawn (or a placeholder saying why not)."""
    require_reader(actor, action="view labeled images")
    rec = view.manifest.records[pos]
    src = rec.get("source-ref")
    if not isinstance(src, str):
        text = rec.get("source")
        reason = f"text, not an image: {text[:300]}" if isinstance(text, str) else "the line has no source-ref"
        return _placeholder(view, rec, side, reason)
    try:
        d = _decoded(ctx.storage, src, side)
    except GTError as exc:
        return _placeholder(view, rec, side, f"{type(exc).__name__}: {exc}")
    img, reason = _draw_labels(view, rec, d.image, d.scale, ctx.storage)
    note = ""
    size = aug.image_size_of(rec, view.attr) if view.attr else None
    if size and (round(size[0]), round(size[1])) != d.orig_size:
        note = f"the image is {d.orig_size[0]}x{d.orig_size[1]} but the manifest says {size[0]:g}x{size[1]:g}"
    return Tile(images.to_jpeg(img, crisp=True), True, reason, d.scale, d.orig_size, note)


def render_page(ctx: Any, actor: Actor, view: AttributeView, positions: Sequence[int], *,
                side: int = TILE_SIDE) -> list[Tile]:  # fmt: skip
    """Tiles for ``positions`` in order, images fetched and decoded in parallel."""
    require_reader(actor, action="view labeled images")
    prefetch = getattr(view.manifest.records, "prefetch", None)
    if prefetch is not None:  # an indexed manifest: read the page's lines in one go (S3: one ranged GET)
        prefetch(positions)
    if len(positions) <= 1:
        return [render(ctx, actor, view, p, side=side) for p in positions]
    with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
        return list(pool.map(lambda p: render(ctx, actor, view, p, side=side), positions))


def render_image(ctx: Any, actor: Actor, uri: str, *, side: int = DETAIL_SIDE,
                 boxes: Sequence[drawing.BoxLike] = ()) -> Tile:  # fmt: skip
    """Any image (e.g. one worker's answer) with ``boxes`` (original pixels) drawn."""
    require_reader(actor, action="view labeled images")
    try:
        d = _decoded(ctx.storage, uri, side)
    except GTError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        return Tile(images.to_jpeg(drawing.placeholder((side // 2, side // 2), reason)), False, reason, 1.0, None)
    return Tile(
        images.to_jpeg(drawing.draw_boxes(d.image, boxes, scale=d.scale), crisp=True), True, "", d.scale, d.orig_size
    )

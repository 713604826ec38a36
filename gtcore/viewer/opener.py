"""Opening manifests for audit: a job's output, a path or S3 URI, or an uploaded file.

Every function takes the acting user and requires the reader role (admin or auditor). URIs go
through ``Storage.normalize`` (local roots and the bucket allow-list), so the viewer cannot be used
to read arbitrary files such as ``/etc/passwd``.

A file of ``index.INDEX_FROM_BYTES`` or more is opened by the viewer page from its index
(:mod:`gtcore.viewer.index`, built by a background thread of the process that reads it): compact tables,
lines read by offset.

Parsed manifests and indexes are cached per process (a small LRU keyed by the normalized URI and the file's
size / modification time, or an upload's SHA-256), so paging, filtering and re-runs of the page
never parse a file twice. The role check runs before every cache lookup.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from gtcore.core import db as dbm
from gtcore.core.access import Actor, require_reader
from gtcore.core.errors import ManifestError, NotFound, ObjectNotFound
from gtcore.manifests.augmented import AugmentedManifest, parse_augmented, read_augmented
from gtcore.storage.uris import is_s3
from gtcore.viewer import index
from gtcore.viewer.lines import LineRecords

FINAL_MANIFEST = "manifests/output/output.manifest"
INTERMEDIATE_MANIFEST = "manifests/intermediate/1/output.manifest"
CACHE_BYTES = 1 << 30  # parsed manifests kept per process, in estimated bytes (not a count of manifests)
PARSED_PER_FILE_BYTE = 8  # estimate: a manifest parsed into Python objects takes about this many times its file
S3_RECHECK_SECONDS = 30.0  # S3 objects are re-checked (HEAD) at most this often
PREVIEW_BYTES = 256 << 10  # while a large file is being indexed, the page shows the lines in its first bytes


@dataclass(frozen=True)
class JobOutput:
    job_id: int
    name: str
    status: str
    label_attribute: str
    task_type: str
    folder: str  # <output_path>/<name>

    @property
    def label(self) -> str:
        return f"{self.name} ({self.status}, {self.task_type}, attribute {self.label_attribute})"


class _Lru:
    """Least recently used first out, within a budget of estimated bytes (``PARSED_PER_FILE_BYTE`` times the
    file's size): one 1M-line manifest or many small ones; one larger than the budget is not kept at all."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[Any, tuple[Any, AugmentedManifest, float]] = OrderedDict()
        self._weights: dict[Any, int] = {}
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return sum(self._weights.values())

    def get(self, key: Any, stamp: Any) -> AugmentedManifest | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or hit[0] != stamp:
                return None
            self._items[key] = (hit[0], hit[1], time.monotonic())  # validated now
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: Any, stamp: Any, value: AugmentedManifest, file_bytes: int = 0, weight: int = 0) -> None:
        """Keep ``value``, weighing ``weight`` bytes (measured) or ``PARSED_PER_FILE_BYTE`` x ``file_bytes``."""
        weight = weight or max(1, int(file_bytes)) * PARSED_PER_FILE_BYTE
        with self._lock:
            self._items.pop(key, None)
            self._weights.pop(key, None)
            if weight > self.budget:
                return  # kept by the caller only while it uses it
            self._items[key] = (stamp, value, time.monotonic())
            self._weights[key] = weight
            while self.used > self.budget:
                old, _ = self._items.popitem(last=False)
                self._weights.pop(old, None)

    def recent(self, key: Any, max_age: float) -> AugmentedManifest | None:
        """The cached value if it was stored less than ``max_age`` seconds ago, whatever its stamp."""
        with self._lock:
            hit = self._items.get(key)
            if hit is None or time.monotonic() - hit[2] >= max_age:
                return None
            self._items.move_to_end(key)
            return hit[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._weights.clear()


_CACHE = _Lru(CACHE_BYTES)


def clear_cache() -> None:
    _CACHE.clear()


def _cached(key: Any, stamp: Any, load: Callable[[], AugmentedManifest], file_bytes: int) -> AugmentedManifest:
    hit = _CACHE.get(key, stamp)
    if hit is not None:
        return hit
    manifest = load()
    _CACHE.put(key, stamp, manifest, file_bytes)
    return manifest


def open_manifest(ctx: Any, actor: Actor, uri: str, *, refresh: bool = False) -> AugmentedManifest:
    """Open the manifest at ``uri`` (local path, ``file://`` or ``s3://``) for ``actor`` (admin or auditor).

    Raises:
        PermissionDenied: the actor is not an admin or auditor.
        UriNotAllowed: outside the local roots, bucket not allowed, or not a storage URI.
        ObjectNotFound / StorageError: the file cannot be read.
        ManifestError: not a single line of it could be read.
    """
    require_reader(actor, action="open manifests")
    storage = ctx.storage
    norm = storage.normalize(uri.strip())
    if is_s3(norm):
        recent = None if refresh else _CACHE.recent(("uri", norm), S3_RECHECK_SECONDS)
        if recent is not None:
            return recent
        stamp: Any = storage.size(norm)
        size = int(stamp)
    else:
        try:
            st = os.stat(norm)
        except FileNotFoundError:
            raise ObjectNotFound(f"{norm} does not exist", norm) from None
        stamp = (st.st_size, st.st_mtime_ns)
        size = st.st_size
    if refresh:
        stamp = (stamp, time.monotonic())
    return _cached(("uri", norm), stamp, lambda: read_augmented(storage, norm), size)


@dataclass(frozen=True)
class Indexing:
    """A large manifest whose index is not ready: what the background build says, and its first lines."""

    uri: str
    size: int
    state: str  # queued | building | failed
    done: int  # bytes read so far (two passes: about half the file's bytes a pass)
    error: str
    preview: AugmentedManifest | None  # the first lines, read directly from the file's start

    @property
    def percent(self) -> int:
        return min(99, int(100 * self.done / self.size)) if self.size else 0


def _preview(storage: Any, uri: str) -> AugmentedManifest | None:
    head = storage.read_range(uri, 0, PREVIEW_BYTES)
    head = head[: head.rfind(b"\n") + 1]
    try:
        return parse_augmented(head, where=uri) if head else None
    except ManifestError:
        return None


def open_for_view(ctx: Any, actor: Actor, uri: str, *, refresh: bool = False) -> AugmentedManifest | Indexing:
    """Like :func:`open_manifest`, for the viewer page: a file of ``INDEX_FROM_BYTES`` or more is opened from its
    index (built in a background thread of this process, asked for here); while there is none, an :class:`Indexing`."""
    require_reader(actor, action="open manifests")
    storage = ctx.storage
    norm = storage.normalize(uri.strip())
    key = ("index", norm)
    if is_s3(norm) and not refresh:  # an index or a small parsed file checked (HEAD) less than 30 s ago
        recent = _CACHE.recent(key, S3_RECHECK_SECONDS) or _CACHE.recent(("uri", norm), S3_RECHECK_SECONDS)
        if recent is not None:
            return recent
    version = storage.version(norm)
    if version[0] < index.INDEX_FROM_BYTES:
        return open_manifest(ctx, actor, norm, refresh=refresh)
    hit = _CACHE.get(key, version)
    if hit is not None:
        return hit
    manifest = index.load(ctx, norm, version)
    if manifest is not None:
        _CACHE.put(key, version, manifest, weight=int(manifest.cache["bytes"]))
        return manifest
    st = index.status(ctx.settings, norm)
    if st.get("state") == "failed" and tuple(st.get("version") or ()) == tuple(version) and not refresh:
        return Indexing(norm, version[0], "failed", 0, str(st.get("error", "")), _preview(storage, norm))
    index.request(ctx, norm, version)
    st = index.status(ctx.settings, norm)
    state = str(st.get("state", "queued"))
    return Indexing(norm, version[0], state, int(st.get("done", 0)), "", _preview(storage, norm))


def open_job_output_for_view(
    ctx: Any, actor: Actor, job_id: int, *, refresh: bool = False
) -> AugmentedManifest | Indexing:
    """:func:`open_for_view` of a job's output manifest (final, else intermediate)."""
    return open_for_view(ctx, actor, job_output_uri(ctx, actor, job_id), refresh=refresh)


def open_upload(actor: Actor, name: str, data: bytes) -> AugmentedManifest:
    """Parse an uploaded manifest (kept in the cache by its SHA-256) for ``actor`` (admin or auditor)."""
    require_reader(actor, action="open manifests")
    digest = hashlib.sha256(data).hexdigest()
    return _cached(("upload", digest), 0, lambda: parse_augmented(data, where=f"upload:{name}"), len(data))


def list_job_outputs(ctx: Any, actor: Actor) -> list[JobOutput]:
    """Every job of this install, newest first, with the folder its output manifests go to."""
    require_reader(actor, action="list job outputs")
    j = dbm.jobs.c
    with ctx.db.read() as conn:
        rows = conn.execute(
            select(j.id, j.name, j.status, j.label_attribute, j.task_type, j.output_path).order_by(
                j.created_at.desc(), j.id.desc()
            )
        ).all()
    out = []
    for r in rows:
        try:
            folder = ctx.storage.join(r.output_path, r.name)
        except Exception:  # a job whose output path is no longer allowed still shows, unopenable
            folder = f"{r.output_path.rstrip('/')}/{r.name}"
        out.append(JobOutput(r.id, r.name, r.status, r.label_attribute, r.task_type, folder))
    return out


def job_output_uri(ctx: Any, actor: Actor, job_id: int) -> str:
    """The final output manifest of a job, or its intermediate one while the job runs."""
    require_reader(actor, action="open job outputs")
    j = dbm.jobs.c
    with ctx.db.read() as conn:
        row = conn.execute(select(j.name, j.output_path).where(j.id == job_id)).first()
    if row is None:
        raise NotFound(f"job {job_id} does not exist")
    for rel in (FINAL_MANIFEST, INTERMEDIATE_MANIFEST):
        uri = ctx.storage.join(row.output_path, row.name, *rel.split("/"))
        if ctx.storage.exists(uri):
            return str(uri)
    raise NotFound(f"job {row.name} has no output manifest yet (nothing labeled and consolidated so far)")


def failed_positions(ctx: Any, actor: Actor, job_id: int, manifest: AugmentedManifest) -> frozenset[int]:
    """Positions (in ``manifest.records``) of the job's failed objects: declined by enough workers, or expired
    unanswered. Ground Truth writes such a line as the input line, without the label attribute (like an object
    not labeled yet), and counts it in LabelCounters.FailedNonRetryableError; this says which lines they are.
    Only for a manifest holding every line of the job (line N = datasetObjectId N-1); else empty."""
    require_reader(actor, action="open job outputs")
    o, j = dbm.objects.c, dbm.jobs.c
    with ctx.db.read() as conn:
        total = conn.execute(select(j.total_objects).where(j.id == job_id)).scalar()
        failed = set(conn.execute(select(o.idx).where(o.job_id == job_id, o.status == "failed")).scalars())
    if not failed or total != len(manifest.records) + len(manifest.problems) + problems_beyond(manifest):
        return frozenset()
    lines = np.asarray(manifest.lines, dtype=np.int64)
    return frozenset(np.flatnonzero(np.isin(lines - 1, np.fromiter(failed, np.int64, len(failed)))).tolist())


def is_indexed(manifest: AugmentedManifest) -> bool:
    """Whether ``manifest`` was opened from its index (a large file: lines are read from storage on demand)."""
    return isinstance(manifest.records, LineRecords)


def problems_beyond(manifest: AugmentedManifest) -> int:
    """Unreadable lines beyond those listed in ``manifest.problems`` (an index lists the first ones only)."""
    return int(manifest.cache.get("more_problems", 0))

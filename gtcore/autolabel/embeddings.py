"""Stored embeddings: each object's backbone vector, computed once by background workers and reused every round.

The work kind ``autolabel.embed`` (``gtcore.work.handlers.embeddings``) runs ``embed_some``: it takes up to
``CHUNK`` objects of the job without a vector for the current ``backbone.key()``, decodes them one at a time
(``features.load_image``: safe decoding, reduced while decoding), embeds them in batches and writes the chunk's
rows in ONE transaction, so a worker killed at any point leaves either the whole chunk or nothing; the item is
retried when its lease runs out. Memory is bounded by the chunk (decoded images are dropped after the batch).

Rows are keyed by (job, object index, backbone key = network + weights checksum + pooling); rows of any other key
are deleted for the job when new ones are written, so a changed backbone is never mixed with the old one. An image
that cannot be decoded gets a row with no vector and the reason (``error``); it stays for people.

``Cache`` is what a learner uses: the job's stored vectors by image URI, read once; an image not embedded yet is
embedded on the spot (in batches with ``prefetch``) and stored too, so no image is embedded twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from sqlalchemy import and_, delete, select

from gtcore.autolabel import backbone as bbm
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import ImageError, StorageError

log = logging.getLogger(__name__)
E = dbm.autolabel_embeddings
O = dbm.objects  # noqa: E741
CHUNK = 32
KIND = "autolabel.embed"
Loader = Callable[[str], tuple[Any, float]]


def encode(v: np.ndarray) -> bytes:
    return np.asarray(v, dtype="<f2").tobytes()


def decode(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f2").astype(np.float32)


def missing(ctx: Context, job_id: int, key: str, limit: int | None = None) -> list[tuple[int, str]]:
    """(idx, image URI) of the job's objects without a row for ``key``, in index order."""
    q = (
        select(O.c.idx, O.c.source_ref)
        .select_from(O.outerjoin(E, and_(E.c.job_id == O.c.job_id, E.c.idx == O.c.idx, E.c.backbone == key)))
        .where(O.c.job_id == job_id, O.c.source_ref.is_not(None), E.c.idx.is_(None))
        .order_by(O.c.idx)
    )
    if limit is not None:
        q = q.limit(limit)
    with ctx.db.read() as conn:
        return [(int(i), str(r)) for i, r in conn.execute(q).all() if r]


def _store(ctx: Context, job_id: int, key: str, rows: list[tuple[int, np.ndarray | None, str | None]]) -> None:
    """One transaction: drop other backbones' rows of the job, insert those not there yet. Another worker
    storing the same objects at the same moment (the embed item and a training step) makes the insert collide:
    it is tried once more, when those rows are there."""
    from sqlalchemy.exc import IntegrityError

    try:
        _store_once(ctx, job_id, key, rows)
    except IntegrityError:
        _store_once(ctx, job_id, key, rows)


def _store_once(ctx: Context, job_id: int, key: str, rows: list[tuple[int, np.ndarray | None, str | None]]) -> None:
    if not rows:
        return
    t = dbm.now()
    with ctx.db.write() as conn:
        conn.execute(delete(E).where(E.c.job_id == job_id, E.c.backbone != key))
        have = {
            int(i)
            for (i,) in conn.execute(
                select(E.c.idx).where(E.c.job_id == job_id, E.c.backbone == key, E.c.idx.in_([r[0] for r in rows]))
            )
        }
        new = [
            {
                "job_id": job_id,
                "idx": idx,
                "backbone": key,
                "dim": 0 if v is None else int(v.shape[0]),
                "vector": None if v is None else encode(v),
                "error": err,
                "created_at": t,
            }
            for idx, v, err in rows
            if idx not in have
        ]
        if new:
            conn.execute(E.insert(), new)


def embed_images(
    bb: bbm.Backbone, items: list[tuple[int, str]], load: Loader, maps: Any = None
) -> list[tuple[int, Any, str | None]]:
    """(idx, vector or None, error) of (idx, URI) items; images are decoded one at a time, embedded in batches.
    ``maps``: a ``clsmaps.Store`` whose block-10 maps come out of the same pass and are stored with it."""
    out: list[tuple[int, Any, str | None]] = []
    for k in range(0, len(items), bbm.BATCH):
        batch: list[tuple[int, str, Any]] = []
        for idx, uri in items[k : k + bbm.BATCH]:
            try:
                batch.append((idx, uri, load(uri)[0]))
            except (ImageError, StorageError) as exc:
                log.warning("object %s (%s): not embedded: %s", idx, uri, exc)
                out.append((idx, None, str(exc)[:500]))
        if batch:
            vecs, m10 = bb.embed_and_map10([im for _, _, im in batch], keep_maps=maps is not None)
            if maps is not None:
                for (_, uri, _), m in zip(batch, m10, strict=True):
                    maps.put(uri, m)
            out.extend((idx, v, None) for (idx, _, _), v in zip(batch, vecs, strict=True))
    return out


def embed_some(
    ctx: Context, job_id: int, load: Loader, *, limit: int | None = None, bb: bbm.Backbone | None = None
) -> int:
    """Embed and store up to ``limit`` (default ``CHUNK``) objects still missing; returns how many were done (0: all
    are). One transaction for the lot. An image-classification job's block-10 maps (``clsmaps``) are stored from
    the same pass, so the map head's ``autolabel.clsmaps`` walk finds them there instead of running the
    backbone a second time."""
    from gtcore.autolabel import clsmaps

    bb = bb or bbm.load()
    todo = missing(ctx, job_id, bb.key, limit or CHUNK)
    if not todo:
        return 0
    maps = clsmaps.Store(ctx, job_id, bb) if clsmaps.wanted(ctx, job_id) else None
    _store(ctx, job_id, bb.key, embed_images(bb, todo, load, maps))
    return len(todo)


def stored(ctx: Context, job_id: int, key: str) -> dict[int, np.ndarray]:
    """The job's stored vectors for ``key`` by object index (rows without a vector left out)."""
    with ctx.db.read() as conn:
        rows = conn.execute(
            select(E.c.idx, E.c.vector).where(E.c.job_id == job_id, E.c.backbone == key, E.c.vector.is_not(None))
        ).all()
    return {int(i): decode(v) for i, v in rows}


class Cache:
    """Embeddings of one job's images for a learner: stored vectors by URI; the missing computed and stored."""

    def __init__(self, ctx: Context | None, job_id: int | None, bb: bbm.Backbone) -> None:
        self.ctx, self.job_id, self.bb = ctx, job_id, bb
        self._by_uri: dict[str, np.ndarray] | None = None
        self._idx_of: dict[str, list[int]] = {}
        self.computed = 0  # vectors this cache had to compute (the rest were read from the store)

    def _loaded(self) -> dict[str, np.ndarray]:
        if self._by_uri is None:
            self._by_uri = {}
            if self.ctx is not None and self.job_id is not None:
                with self.ctx.db.read() as conn:
                    refs = conn.execute(
                        select(O.c.idx, O.c.source_ref).where(O.c.job_id == self.job_id, O.c.source_ref.is_not(None))
                    ).all()
                for idx, ref in refs:
                    self._idx_of.setdefault(str(ref), []).append(int(idx))
                vecs = stored(self.ctx, self.job_id, self.bb.key)
                for ref, idxs in self._idx_of.items():
                    v = next((vecs[i] for i in idxs if i in vecs), None)
                    if v is not None:
                        self._by_uri[ref] = v
        return self._by_uri

    def prefetch(self, uris: Iterable[str], load: Loader) -> None:
        """Embed (in batches) and store the URIs not stored yet."""
        have = self._loaded()
        todo = list(dict.fromkeys(u for u in uris if u not in have))
        for k in range(0, len(todo), CHUNK):
            part = todo[k : k + CHUNK]
            done = embed_images(self.bb, list(enumerate(part)), load)
            rows: list[tuple[int, np.ndarray | None, str | None]] = []
            for pos, v, err in done:
                uri = part[pos]
                if v is not None:
                    have[uri] = v
                    self.computed += 1
                rows += [(i, v, err) for i in self._idx_of.get(uri, [])]
            if self.ctx is not None and self.job_id is not None:
                _store(self.ctx, self.job_id, self.bb.key, rows)

    def vector(self, uri: str, load: Loader) -> np.ndarray:
        have = self._loaded()
        if uri not in have:
            self.prefetch([uri], load)
        if uri not in have:  # could not be decoded: the loader's error, naming the URI
            load(uri)
            raise ImageError(f"{uri}: the image could not be embedded", uri=uri)
        return have[uri]


def progress(ctx: Context, job_id: int) -> tuple[int, int]:
    """(objects embedded for the current backbone, objects with an image) of a job, for status lines."""
    key = bbm.key()
    with ctx.db.read() as conn:
        total = len(conn.execute(select(O.c.idx).where(O.c.job_id == job_id, O.c.source_ref.is_not(None))).all())
        done = len(conn.execute(select(E.c.idx).where(E.c.job_id == job_id, E.c.backbone == key)).all())
    return done, total


def wanted(ctx: Context, job_id: int) -> bool:
    """Whether the job's objects should be embedded now: an image-classification job whose loop runs."""
    from gtcore.autolabel import loop

    with ctx.db.read() as conn:
        f = loop.job_facts(conn, job_id)
        running = f is not None and loop.still_running(conn, job_id)
    return bool(running and f is not None and f.task_type not in ("BoundingBox", "SemanticSegmentation"))


def start(conn: Any, job_id: int, key: str | None = None) -> None:
    """Enqueue the job's embedding (the hook the loop's step calls) while some object has no row for the current
    backbone (a pending item is not enqueued twice); the handler re-enqueues itself until all are done."""
    key = key or bbm.key()
    q = (
        select(O.c.idx)
        .select_from(O.outerjoin(E, and_(E.c.job_id == O.c.job_id, E.c.idx == O.c.idx, E.c.backbone == key)))
        .where(O.c.job_id == job_id, O.c.source_ref.is_not(None), E.c.idx.is_(None))
        .limit(1)
    )
    if conn.execute(q).first() is not None:
        from gtcore.core import workqueue

        workqueue.enqueue(conn, KIND, job_id=job_id)


def run_for(ctx: Context, job_id: int, load: Loader, seconds: float) -> bool:
    """Embed chunks for about ``seconds``; True when every object is done."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if embed_some(ctx, job_id, load) == 0:
            return True
    return not missing(ctx, job_id, bbm.key(), 1)

"""Stored block-10 maps for the classification map head: each image's 112 x 14 x 14 stride-16 maps at 224 px.

The map head (``maphead``) reads the backbone's block-10 maps (``backbone.Backbone.map10``: the image resized to
224 x 224, the same pass as the embedding up to block 10), about 44 KB an image in float16. They are computed ONCE
per image by background workers and kept, so every round's training and inference read them instead of running
the backbone again.

Storage is ``boxmaps``'s (one code path for stored maps): files ``<job folder>/autolabel/clsmaps/<key digest>/
<URI digest>.npz`` (one float16 array ``m10``), written whole by the store (temporary file then rename, or one S3
PUT): a worker killed at any point leaves a whole file or none. The key digest names the backbone (network +
weights checksum) and the map's layer and size: a changed backbone never reads old maps. Read with
``numpy.load(..., allow_pickle=False)``; a damaged file is computed again.

Who computes them: the embedding step stores them from its own pass of the backbone (``embeddings.embed_some``:
one pass gives both); the work kind ``autolabel.clsmaps`` (``gtcore.work.handlers.clsmaps``, enqueued by the
loop's poll beside the embeddings) walks the job's images for about a minute per run, computing only what the
embedding step did not store (an image embedded before the job wanted maps), and re-enqueues itself until all
are there; training and inference compute on the spot (and store) an image not done yet.
"""

from __future__ import annotations

import hashlib
import io
import logging
from typing import Any

import numpy as np
from sqlalchemy import select

from gtcore.autolabel import backbone as bbm
from gtcore.autolabel import boxmaps
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import ImageError, StorageError

log = logging.getLogger(__name__)
KIND = "autolabel.clsmaps"
SHAPE = (bbm.MAP_CHANNELS[16], bbm.INPUT_SIDE // 16, bbm.INPUT_SIDE // 16)


def key(backbone_key: str | None = None) -> str:
    """The digest under which the maps are stored: the backbone, the layer and the input size."""
    text = f"{backbone_key or bbm.key()}|map-b10|{bbm.INPUT_SIDE}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Store(boxmaps.Store):
    """A job's stored block-10 maps by image URI: ``get`` gives a (112, 14, 14) float16 array."""

    FOLDER = "clsmaps"

    def __init__(self, ctx: Context | None, job_id: int | None, bb: bbm.Backbone) -> None:
        super().__init__(ctx, job_id, bb)
        self.memo: dict[str, np.ndarray] = {}  # nothing stored (tests, the bench): kept in memory (44 KB each)

    def get(self, uri: str, load: boxmaps.Loader) -> np.ndarray:
        if self.base is None and uri in self.memo:
            return self.memo[uri]
        m = np.asarray(super().get(uri, load))
        if self.base is None:
            self.memo[uri] = m
        return m

    def get_many(self, uris: list[str], load: boxmaps.Loader) -> np.ndarray:
        """(N, 112, 14, 14) maps of ``uris``: those not stored yet computed in batches (about 4x faster than one
        at a time on this machine) and stored, then all read."""
        todo = [u for u in dict.fromkeys(uris) if not (u in self.memo if self.base is None else self.has(u))]
        for k in range(0, len(todo), bbm.BATCH):
            part, images = [], []
            for u in todo[k : k + bbm.BATCH]:
                try:
                    images.append(load(u)[0])
                    part.append(u)
                except (ImageError, StorageError):
                    continue  # ``get`` below raises the loader's error naming the URI
            for u, m in zip(part, self.bb.map10(images) if images else [], strict=True):
                self.computed += 1
                self.put(u, m)
        return np.stack([self.get(u, load) for u in uris]) if uris else np.zeros((0, *SHAPE), np.float16)

    def put(self, uri: str, maps: np.ndarray) -> None:
        """Store the maps of ``uri`` (computed here or by the embedding pass), written whole."""
        where = self.uri_of(uri)
        if where is not None and self.ctx is not None:
            self.ctx.storage.write_bytes(where, self.encode(maps))
        else:
            self.memo[uri] = np.asarray(maps)

    GROUP = bbm.BATCH

    def fill(self, uris: list[str], load: boxmaps.Loader, job_id: int | None = None) -> None:
        """In one batch of the backbone; when an image of it cannot be read, the others one at a time."""
        try:
            self.get_many(uris, load)
        except (ImageError, StorageError):
            super().fill(uris, load, job_id)

    def digest(self, backbone_key: str) -> str:
        return key(backbone_key)

    def compute(self, image: Any, scale: float) -> np.ndarray:
        return np.asarray(self.bb.map10([image])[0])

    def encode(self, maps: Any) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, m10=np.asarray(maps, dtype=np.float16))
        return buf.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            m = np.asarray(z["m10"], dtype=np.float16)
        if m.shape != SHAPE:
            raise ValueError(f"maps of shape {m.shape}, expected {SHAPE}")
        return m


def run_for(ctx: Context, job_id: int, load: boxmaps.Loader, seconds: float) -> bool:
    """Compute and store missing maps for about ``seconds``; True when every image has them (or cannot be read)."""
    return boxmaps.run_for(ctx, job_id, load, seconds, Store)


def wanted(ctx: Context, job_id: int) -> bool:
    """Whether the job's block-10 maps should be computed now: an image-classification job whose loop runs with
    the built-in learners (not text, not a team's ONNX model)."""
    from gtcore.autolabel import embeddings, loop

    if not embeddings.wanted(ctx, job_id):
        return False
    with ctx.db.read() as conn:
        f = loop.job_facts(conn, job_id)
        initial = conn.execute(
            select(dbm.autolabel_jobs.c.initial_model_uri).where(dbm.autolabel_jobs.c.job_id == job_id)
        ).scalar()
    if f is None or f.task_type == "TextClassification":
        return False
    return not (initial and str(initial).lower().endswith(".onnx"))


def start(conn: Any, job_id: int) -> None:
    """Enqueue the job's map computation (the hook the loop's poll calls; ``wanted`` skips other jobs)."""
    from gtcore.core import workqueue

    workqueue.enqueue(conn, KIND, job_id=job_id)

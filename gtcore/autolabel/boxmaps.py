"""Stored feature maps for the box detector: each image's backbone maps, computed once by background workers.

The box detector (``boxnet``) reads, for every cell of a stride-8 grid, the backbone's maps of strides 8, 16 and
32 (``backbone.Backbone.maps``) of the image reduced to at most ``SIDE`` px on the long side. Running the backbone
is the costly part (about 0.4-1.5 s an image on this 2-core machine), so each image's maps are computed ONCE and
kept, and a round's training and inference read them: a round costs the head, not a re-read of every image.

Where: files in the job's store area, ``<job folder>/autolabel/boxmaps/<key digest>/<URI digest>.npz`` (float16
arrays ``s8``, ``s16``, ``s32`` and ``size`` = the network's width and height and the decoded image's; ``scale``
= decoded / original width), written whole by the store (a temporary file then a rename, or one S3 PUT), so a
worker killed at any point leaves a whole file or none, and the work is simply done again. The key digest names
the backbone (network + weights checksum) and ``SIDE``: a changed backbone never reads old maps. Read with
``numpy.load(..., allow_pickle=False)`` (arrays only). Size: about 1.2 MB for a 1600x1200 image (0.5 MB at
640x480); they stay with the job's other files (``training/``, ``inference/``) for the team to delete.

Who computes them: the work kind ``autolabel.boxmaps`` (``gtcore.work.handlers.boxmaps``, enqueued by the
loop's poll for a box job) walks the job's images in index order for about a minute per run and re-enqueues
itself until all are there; training and inference compute on the spot an image not done yet (and store it), so
nothing waits for the walk and nothing is computed twice. An image that cannot be decoded is skipped (people
label it; the error names the URI).
"""

from __future__ import annotations

import hashlib
import io
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from gtcore.autolabel import backbone as bbm
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import ImageError, StorageError

log = logging.getLogger(__name__)
O = dbm.objects  # noqa: E741
KIND = "autolabel.boxmaps"
SIDE = 768
STRIDES = (8, 16, 32)
Loader = Callable[[str], tuple[Any, float]]


@dataclass
class Maps:
    """One image's maps: {stride: (C, H, W) float16}, the network's (width, height), the decoded image's (width,
    height) and ``scale`` = decoded / original width (a box in original pixels x scale = decoded pixels)."""

    maps: dict[int, np.ndarray]
    net_size: tuple[int, int]
    image_size: tuple[int, int]
    scale: float

    def to_original(self) -> tuple[float, float]:
        """(x, y) factors from the network's pixels to the original image's."""
        (tw, th), (w, h) = self.net_size, self.image_size
        return w / tw / self.scale, h / th / self.scale

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        arrays: dict[str, Any] = {f"s{s}": self.maps[s].astype(np.float16) for s in STRIDES}
        arrays["size"] = np.array([*self.net_size, *self.image_size], dtype=np.int64)
        arrays["scale"] = np.array([self.scale], dtype=np.float64)
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Maps:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            tw, th, w, h = (int(v) for v in z["size"])
            return cls({s: z[f"s{s}"] for s in STRIDES}, (tw, th), (w, h), float(z["scale"][0]))


def compute(bb: bbm.Backbone, image: Any, scale: float) -> Maps:
    maps, (tw, th) = bb.maps(image, SIDE)
    return Maps({s: maps[s].astype(np.float16) for s in STRIDES}, (tw, th), image.size, scale)


def key(backbone_key: str | None = None) -> str:
    """The digest under which maps are stored: the backbone and the map size."""
    text = f"{backbone_key or bbm.key()}|maps-s8-s16-s32|{SIDE}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def folder_of(ctx: Context, job_id: int, name: str = "boxmaps") -> str | None:
    from gtcore.autolabel import loop

    with ctx.db.read() as conn:
        f = loop.job_facts(conn, job_id)
    return None if f is None else ctx.storage.join(f.folder, "autolabel", name)


class Store:
    """A job's stored maps by image URI (``ctx`` None: nothing stored, computed every time: tests and the bench).

    The one place stored backbone maps are written and read: a subclass (``clsmaps.Store``: the classification
    map head's block-10 maps) names its own ``FOLDER``, ``digest`` and codec, and shares the whole-file writes,
    the damaged-file recomputation and ``run_for``."""

    FOLDER = "boxmaps"

    def __init__(self, ctx: Context | None, job_id: int | None, bb: bbm.Backbone) -> None:
        self.ctx, self.bb = ctx, bb
        base = folder_of(ctx, job_id, self.FOLDER) if ctx is not None and job_id is not None else None
        self.base = None if base is None or ctx is None else ctx.storage.join(base, self.digest(bb.key))
        self.computed = 0  # maps this store had to compute (the rest were read)

    def digest(self, backbone_key: str) -> str:
        return key(backbone_key)

    def compute(self, image: Any, scale: float) -> Any:
        return compute(self.bb, image, scale)

    def encode(self, maps: Any) -> bytes:
        return bytes(maps.to_bytes())

    def decode(self, data: bytes) -> Any:
        return Maps.from_bytes(data)

    def uri_of(self, uri: str) -> str | None:
        if self.base is None or self.ctx is None:
            return None
        return self.ctx.storage.join(self.base, hashlib.sha256(uri.encode()).hexdigest()[:32] + ".npz")

    def has(self, uri: str) -> bool:
        where = self.uri_of(uri)
        return where is not None and self.ctx is not None and self.ctx.storage.exists(where)

    def get(self, uri: str, load: Loader) -> Any:
        """The image's maps: read if stored (a damaged file is computed again), else computed and stored."""
        where = self.uri_of(uri)
        if where is not None and self.ctx is not None:
            try:
                return self.decode(self.ctx.storage.read_bytes(where))
            except (StorageError, ValueError, KeyError, OSError):
                pass
        image, scale = load(uri)  # ImageError / StorageError name the URI
        maps = self.compute(image, scale)
        self.computed += 1
        if where is not None and self.ctx is not None:
            self.ctx.storage.write_bytes(where, self.encode(maps))
        return maps

    GROUP = 1  # images ``fill`` computes together (``run_for`` hands it this many at a time)

    def fill(self, uris: list[str], load: Loader, job_id: int | None = None) -> None:
        """Compute and store the maps of ``uris`` not stored yet; an unreadable image is logged and skipped."""
        for uri in uris:
            if self.has(uri):
                continue
            try:
                self.get(uri, load)
            except (ImageError, StorageError) as exc:
                log.warning("job %s: %s: no %s maps: %s", job_id, uri, self.FOLDER, exc)


def _uris(ctx: Context, job_id: int) -> list[str]:
    with ctx.db.read() as conn:
        rows = conn.execute(
            select(O.c.source_ref).where(O.c.job_id == job_id, O.c.source_ref.is_not(None)).order_by(O.c.idx)
        ).all()
    return list(dict.fromkeys(str(r) for (r,) in rows if r))


def run_for(ctx: Context, job_id: int, load: Loader, seconds: float, kind: type[Store] = Store) -> bool:
    """Compute and store missing maps (of the ``kind`` of store) for about ``seconds``; True when every image of
    the job has its maps (or could not be decoded). The one walk for every kind of stored maps."""
    store = kind(ctx, job_id, bbm.load())
    have: set[str] = set()
    if store.base is not None:
        try:
            have = set(ctx.storage.list(store.base + "/", suffixes=(".npz",)))
        except StorageError:
            have = set()
    todo = [u for u in _uris(ctx, job_id) if store.uri_of(u) not in have]
    random.Random(time.time_ns()).shuffle(todo)  # two runs at once (a poll and a re-run) rarely meet
    t0 = time.monotonic()
    for k in range(0, len(todo), store.GROUP):
        if time.monotonic() - t0 >= seconds:
            return False
        store.fill(todo[k : k + store.GROUP], load, job_id)
    return True


def wanted(ctx: Context, job_id: int) -> bool:
    """Whether the job's maps should be computed now: a bounding-box job whose loop runs with the built-in
    detector (not a team's ONNX detector)."""
    from gtcore.autolabel import loop

    with ctx.db.read() as conn:
        f = loop.job_facts(conn, job_id)
        running = f is not None and loop.still_running(conn, job_id)
        st = conn.execute(select(dbm.autolabel_jobs.c.initial_model_uri).where(dbm.autolabel_jobs.c.job_id == job_id))
        initial = st.scalar()
    if not (running and f is not None and f.task_type == "BoundingBox"):
        return False
    return not (initial and str(initial).lower().endswith(".onnx"))


def start(conn: Any, job_id: int) -> None:
    """Enqueue the job's map computation (the hook the loop's poll calls); a pending item is left as it is, and a
    run over a job whose maps are all there costs one existence check per image."""
    from gtcore.core import workqueue

    workqueue.enqueue(conn, KIND, job_id=job_id)

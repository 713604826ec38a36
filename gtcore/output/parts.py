"""The intermediate manifest in per-range parts, so its bytes grow with the job, not with the job times the steps.

A job's objects are cut into ranges of ``RANGE_OBJECTS`` indexes (``[k*R, (k+1)*R)``). Once every object of a
range has settled (left ``open``, which happens exactly once: ``gtcore.queue.leases``) and has its result, the
range's lines of the intermediate manifest can no longer change until the finish, so they are written once, as
``<job>/manifests/intermediate/1/parts/<first index, 10 digits>.manifest`` (streamed, published with
``if_absent``: a second worker, or a retry after a worker was killed, never writes it again; a kill mid-write
leaves only the temp file of an unpublished write, and the next pass writes the part). A pass of
``writer.write_intermediate`` reads from the database only the ranges without a part (``Assembly.chunks``), and a
parts-only pass only those whose objects have all settled (the done objects of the other ranges are consolidated
when their range settles, or by a pass that assembles the whole file).

The one ``manifests/intermediate/1/output.manifest`` the readers use (viewer, job page, chaining, the
auto-labeling rounds) is assembled from the parts' bytes and the live lines of the ranges not settled yet, as
one streamed write published at the end (readers see the old whole file or the new one). A background pass
assembles it only at ``CHECKPOINTS`` of the job's 1 % steps (a ×1.5 sequence: 12 assemblies a job whatever its
size) and writes parts at every step; a direct call (tests, auto-labeling rounds, small jobs) assembles every
time. The finish (``writer.write_final``) writes the whole tree from every object again and then removes the
parts (``remove``), so the finished output is Ground Truth's layout only.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.output import chunks
from gtcore.output.chunks import Chunk, field, job_folder
from gtcore.output.manifest_lines import chunk_lines
from gtcore.storage.streamed import StreamedWrite

RANGE_OBJECTS = 5000
PARTS = "manifests/intermediate/1/parts"
# the 1 % steps at which a background pass also assembles the whole intermediate manifest: about ×1.5 apart,
# so the assemblies of a job write about 12 times the manifest whatever the job's size (the parts once more)
CHECKPOINTS = (1, 2, 3, 4, 6, 9, 13, 19, 28, 42, 63, 94)
_TEXT = (mimetypes.guess_type("output.manifest")[0] or "text/plain") + "; charset=utf-8"  # as the whole file


def folder(job: Any) -> str:
    return job_folder(job) + "/" + PARTS


def part_uri(job: Any, start: int) -> str:
    return f"{folder(job)}/{start:010d}.manifest"


def checkpoint_due(last_step: int | None, step: int) -> bool:
    """Whether a background pass at 1 % step ``step`` assembles the whole file (the last pass was at
    ``last_step``; None: never): when a checkpoint lies in ``(last_step, step]``."""
    return last_step is None or any(last_step < c <= step for c in CHECKPOINTS)


def written(ctx: Context, job: Any) -> set[int]:
    """The first indexes of the ranges whose part is written."""
    base = folder(job)
    if ctx.storage.folder_missing(base):
        return set()
    out = set()
    for uri in ctx.storage.list(base + "/", suffixes=(".manifest",)):
        name = uri.rsplit("/", 1)[-1].removesuffix(".manifest")
        if name.isdigit():
            out.add(int(name))
    return out


def remove(ctx: Context, job: Any) -> None:
    """Remove every part (after the finish wrote the whole tree again)."""
    base = folder(job)
    if ctx.storage.folder_missing(base):
        return
    for uri in list(ctx.storage.list(base + "/")):
        ctx.storage.delete(uri)


def _settled(row: Any, encoded: dict[int, str]) -> bool:
    if row.status == "open":
        return False
    return row.status != "done" or row.idx in encoded or row.consolidated_json is not None


class Assembly:
    """One intermediate pass: ``chunks`` feeds ``writer._run`` (the ranges without a part, and with ``writes``
    the parts standing for the others, in index order); the call (``_run``'s sink) appends each chunk's lines to
    ``writes`` (the whole manifests) and keeps a settled range's lines as a pending part; ``publish`` writes the
    pending parts (once each); ``discard`` drops whatever was not published."""

    def __init__(self, ctx: Context, job: Any, writes: list[StreamedWrite]) -> None:
        self.ctx, self.job, self.writes = ctx, job, writes
        self.job_id = int(field(job, "id"))
        self.attr = str(field(job, "label_attribute"))
        self.size = RANGE_OBJECTS
        self.have = written(ctx, job)
        with ctx.db.read() as conn:
            last = conn.execute(select(func.max(dbm.objects.c.idx)).where(dbm.objects.c.job_id == self.job_id))
            self.last_idx = last.scalar()
        self.pending: list[tuple[str, StreamedWrite]] = []
        self._open_ranges: dict[int, bool] = {}
        self._start: int | None = None
        self._pieces: list[bytes] = []
        self._ok = True

    def chunks(self) -> Iterator[Chunk]:
        if self.last_idx is None:
            return
        for start in range(0, int(self.last_idx) + 1, self.size):
            if start in self.have:
                if self.writes:
                    yield Chunk([], {}, part=part_uri(self.job, start))
                continue
            if not self.writes and self._open(start):
                continue  # parts only: a range with an open object cannot become a part yet (not read at all)
            yield from chunks.iter_chunks(self.ctx, self.job_id, fresh=True, lo=start, hi=start + self.size)
        self._flush()

    def _open(self, start: int) -> bool:
        """Whether the range has an open object (one index seek; decided once a pass: a class job's EM reads the
        chunks twice and must see the same ranges)."""
        if start not in self._open_ranges:
            o = dbm.objects
            q = select(o.c.idx).where(o.c.job_id == self.job_id, o.c.status == "open", o.c.idx >= start,
                                      o.c.idx < start + self.size).limit(1)  # fmt: skip
            with self.ctx.db.read() as conn:
                self._open_ranges[start] = conn.execute(q).first() is not None
        return self._open_ranges[start]

    def __call__(self, ch: Chunk, encoded: dict[int, str]) -> None:
        if ch.part is not None:
            self._flush()
            for piece in self.ctx.storage.chunks(ch.part):
                for w in self.writes:
                    w.write(piece)
            return
        start = ch.rows[0].idx // self.size * self.size
        if start != self._start:
            self._flush()
            self._start, self._pieces, self._ok = start, [], True
        text = chunk_lines(ch.rows, encoded, self.attr, labelled_only=False, use_stored=True).encode("utf-8")
        for w in self.writes:
            w.write(text)
        self._pieces.append(text)
        self._ok = self._ok and all(_settled(r, encoded) for r in ch.rows)

    def _flush(self) -> None:
        """The range read so far becomes a pending part when every object of it settled with its result."""
        if self._start is not None and self._ok and self._pieces:
            uri = part_uri(self.job, self._start)
            w = self.ctx.storage.start_write(uri, _TEXT)
            self.pending.append((uri, w))
            for piece in self._pieces:
                w.write(piece)
        self._start, self._pieces, self._ok = None, [], True

    def publish(self) -> None:
        for uri, w in self.pending:
            self.ctx.storage.publish_write(w, uri, if_absent=True)

    def discard(self) -> None:
        for _uri, w in self.pending:
            w.discard()

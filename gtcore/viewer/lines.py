"""A manifest's records read on demand by byte offset (the viewer's index knows where every line starts).

``LineRecords`` is a read-only sequence of parsed records: ``records[i]`` reads only line ``i`` (a local
``seek`` + ``read``, or one ranged GET on S3), ``prefetch(positions)`` reads a page's lines in as few reads as
possible, and iterating streams the file in blocks of ``BLOCK_BYTES``. A few hundred parsed lines are kept.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np

from gtcore.core.errors import GTError
from gtcore.manifests import augmented as aug

BLOCK_BYTES = 4 << 20  # a streamed read (iteration, exports) reads this much at a time
GAP_BYTES = 64 << 10  # prefetch: lines closer than this are read in one request
KEEP_LINES = 512  # parsed lines kept for re-runs of the page


def loads(raw: bytes) -> Any:
    """One manifest line (BOM and line end stripped) as Python; the optional fast parser when it is exact."""
    text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff")
    fast = aug._FAST_LOADS
    if fast is not None and raw.translate(aug._DIGITS_TO_ZERO).find(aug._LONG_RUN) < 0:
        try:
            return fast(text)
        except ValueError:
            pass
    return json.loads(text)


class LineRecords(Sequence[dict]):
    """Records of ``uri`` where line ``lines[i]`` spans bytes ``offsets[lines[i] - 1]:offsets[lines[i]]``."""

    def __init__(self, storage: Any, uri: str, offsets: np.ndarray, lines: np.ndarray) -> None:
        self.storage, self.uri, self.offsets, self.lines = storage, uri, offsets, lines
        self._kept: OrderedDict[int, dict] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.lines)

    def span(self, pos: int) -> tuple[int, int]:
        line = int(self.lines[pos])
        return int(self.offsets[line - 1]), int(self.offsets[line])

    def _parse(self, pos: int, raw: bytes) -> dict:
        try:
            rec = loads(raw.rstrip(b"\r\n"))
        except (ValueError, RecursionError) as exc:
            rec = exc
        if type(rec) is not dict:
            raise GTError(
                f"{self.uri}: line {int(self.lines[pos])} is no longer the JSON object it was when the file was "
                "indexed (the file changed): reload the manifest"
            )
        return rec

    def _keep(self, pos: int, rec: dict) -> None:
        with self._lock:
            self._kept[pos] = rec
            self._kept.move_to_end(pos)
            while len(self._kept) > KEEP_LINES:
                self._kept.popitem(last=False)

    @overload
    def __getitem__(self, pos: int) -> dict: ...
    @overload
    def __getitem__(self, pos: slice) -> list[dict]: ...
    def __getitem__(self, pos: int | slice) -> dict | list[dict]:
        if isinstance(pos, slice):
            return [self[i] for i in range(*pos.indices(len(self)))]
        if pos < 0:
            pos += len(self)
        if not 0 <= pos < len(self):
            raise IndexError(pos)
        with self._lock:
            hit = self._kept.get(pos)
        if hit is not None:
            return hit
        start, end = self.span(pos)
        rec = self._parse(pos, self.storage.read_range(self.uri, start, end - start))
        self._keep(pos, rec)
        return rec

    def prefetch(self, positions: Iterable[int]) -> None:
        """Read the lines at ``positions`` in few reads (neighbouring lines together: a page is one read)."""
        with self._lock:
            wanted = sorted({int(p) for p in positions if 0 <= int(p) < len(self) and int(p) not in self._kept})
        runs: list[list[int]] = []
        for pos in wanted:
            if runs and self.span(pos)[0] - self.span(runs[-1][-1])[1] <= GAP_BYTES:
                runs[-1].append(pos)
            else:
                runs.append([pos])
        for run in runs:
            base, end = self.span(run[0])[0], self.span(run[-1])[1]
            data = self.storage.read_range(self.uri, base, end - base)
            for pos in run:
                a, b = self.span(pos)
                self._keep(pos, self._parse(pos, data[a - base : b - base]))

    def __iter__(self) -> Iterator[dict]:
        """Every record in file order, read in blocks of about ``BLOCK_BYTES`` (bounded memory)."""
        n, pos = len(self), 0
        while pos < n:
            base = self.span(pos)[0]
            stop = pos + 1
            while stop < n and self.span(stop)[1] - base <= BLOCK_BYTES:
                stop += 1
            data = self.storage.read_range(self.uri, base, self.span(stop - 1)[1] - base)
            for i in range(pos, stop):
                a, b = self.span(i)
                yield self._parse(i, data[a - base : b - base])
            pos = stop

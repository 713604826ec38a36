"""The process's decode limits: the byte budget (``GT_MAX_DECODE_BYTES``), bytes per pixel of Pillow's modes, and
the pool of decode threads (``GT_DECODE_CONCURRENCY``) that ``gtcore.images.decoding`` runs every decode on."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from PIL import Image

T = TypeVar("T")
_TRIM_BYTES = 64 << 20  # after decoding an image this large, freed memory goes back to the system
_LIBC: Any = None
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "PA": 2, "LA": 2, "La": 2, "I": 4, "F": 4, "RGB": 3, "YCbCr": 3, "LAB": 3}
_MODE_BYTES |= {"HSV": 3, "RGBA": 4, "RGBa": 4, "RGBX": 4, "CMYK": 4}


class _Limits:
    """The process's decode budget and its decode threads, from the settings on first use (``configure`` changes
    them). Decodes run on a pool of ``concurrency`` threads, the callers waiting for their result: that caps the
    decodes at once, and it keeps the memory of finished decodes in as many malloc arenas (one per thread that
    ever decoded) instead of one per calling thread (the viewer's tiles, the prefetch, each browser session)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.max_bytes = 0
        self.concurrency = 0
        self._pool: ThreadPoolExecutor | None = None

    def ensure(self) -> None:
        if self._pool is not None:
            return
        from gtcore.core.settings import Settings

        try:
            s = Settings.from_env()
            limits = (s.max_decode_bytes, s.decode_concurrency)
        except Exception:  # a broken setting is reported where the app starts; decode on the defaults
            limits = (Settings.max_decode_bytes, Settings.decode_concurrency)
        self.set(*limits, only_if_unset=True)  # many threads may get here at once: one pool

    def set(self, max_bytes: int, concurrency: int, *, only_if_unset: bool = False) -> None:
        with self._lock:
            old = self._pool
            if only_if_unset and old is not None:
                return
            self.max_bytes, self.concurrency = int(max_bytes), max(1, int(concurrency))
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="gt-decode")
        if old is not None:
            old.shutdown(wait=False)

    def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on a decode thread (waiting for a free one); its exception is raised here."""
        self.ensure()
        pool = self._pool
        assert pool is not None
        return pool.submit(fn).result()


_limits = _Limits()


def configure(*, max_bytes: int | None = None, concurrency: int | None = None) -> None:
    """Set this process's decode budget (bytes as stored) and how many decodes run at once (tests, benches;
    the app takes ``GT_MAX_DECODE_BYTES`` / ``GT_DECODE_CONCURRENCY``)."""
    _limits.ensure()
    _limits.set(max_bytes or _limits.max_bytes, concurrency or _limits.concurrency)


def max_decode_bytes() -> int:
    _limits.ensure()
    return _limits.max_bytes


def mode_bytes(mode: str) -> int:
    """Bytes per pixel Pillow holds for ``mode`` (``I;16`` 2, ``F`` 4, ``RGB`` 3 ...)."""
    if mode.startswith("I;16"):
        return 2
    if mode in _MODE_BYTES:
        return _MODE_BYTES[mode]
    try:
        return 4 * max(1, Image.getmodebands(mode))
    except (KeyError, ValueError):
        return 4


def _trim() -> None:
    """Give the freed pixels of a large decode back to the system (glibc keeps them in the thread's arena)."""
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL("libc.so.6")
        except OSError:  # not glibc: nothing to trim
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)

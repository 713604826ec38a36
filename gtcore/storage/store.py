"""The object store: local folders and S3 behind one URI-based interface (``ctx.storage``).

Every method takes a URI (``s3://bucket/key``, an absolute path or ``file:///abs/path``), checks it
with :mod:`gtcore.storage.uris` (local roots, allowed buckets, no other schemes), then calls the backend:
:class:`gtcore.storage.local.LocalStore` or :class:`gtcore.storage.s3.S3Store`. Errors are always
:class:`~gtcore.core.errors.StorageError` subclasses naming the URI, never raw OS / botocore errors.

Local writes are atomic: a hidden temp file (``.gttmp.*``) in the target folder, fsync, ``os.replace``.
Listing follows S3 semantics (recursive, sorted by key, prefix match), except that a local prefix naming
an existing folder lists that folder only (``/data/img`` does not pick up ``/data/img-old/``).
"""

from __future__ import annotations

import builtins
import mimetypes
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from gtcore.core.errors import StorageError
from gtcore.core.settings import Settings
from gtcore.storage import uris
from gtcore.storage.local import TEMP_PREFIX, LocalStore
from gtcore.storage.s3 import S3Store
from gtcore.storage.streamed import LocalWrite, S3Write, StreamedWrite
from gtcore.storage.uris import is_s3, split_s3

__all__ = ["BackendStatus", "LocalStore", "Storage", "is_s3", "split_s3", "TEMP_PREFIX"]

_BOM = "\ufeff"


@dataclass(frozen=True)
class BackendStatus:
    name: str
    ok: bool
    detail: str


class Storage:
    """URI-addressed object store for one Settings; thread-safe; one per process via ``ctx.storage``."""

    def __init__(self, settings: Settings, *, page_size: int = 1000) -> None:
        if not 1 <= page_size <= 1000:
            raise ValueError(f"page_size must be 1..1000, not {page_size}")
        self.settings = settings
        self.page_size = page_size
        self._roots = uris.resolved_roots(settings.local_roots)
        self._local = LocalStore(self._roots)
        self._s3 = S3Store(settings.s3_endpoint_url)

    # --- URIs ------------------------------------------------------------------------------------------

    def normalize(self, uri: str) -> str:
        """Canonical ``s3://bucket/key`` or resolved local path; UriNotAllowed otherwise (no network)."""
        return uris.normalize(uri, self._roots, self.settings.allowed_buckets)

    def join(self, base: str, *parts: str) -> str:
        """``join("s3://b/out/", "job", "x.json") == "s3://b/out/job/x.json"``; local likewise (normalized)."""
        root = self.normalize(base)
        if is_s3(root):
            return self.normalize(uris.s3_join(root, parts))
        return self.normalize(os.path.join(root, *[p.strip("/") for p in parts if p.strip("/")]))

    def parent(self, uri: str) -> str:
        """The containing prefix (``s3://b/a/`` for ``s3://b/a/x.json``) or folder (local)."""
        norm = self.normalize(uri)
        return uris.s3_parent(norm) if is_s3(norm) else os.path.dirname(norm)

    # --- reading ---------------------------------------------------------------------------------------

    def read_bytes(self, uri: str, *, max_bytes: int | None = None) -> bytes:
        norm = self.normalize(uri)
        if is_s3(norm):
            return self._s3.read_bytes(norm, max_bytes)
        return self._local.read_bytes(norm, max_bytes)

    def read_text(self, uri: str) -> str:
        """UTF-8 text (a leading byte-order mark is dropped); StorageError names the first bad byte."""
        data = self.read_bytes(uri)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StorageError(f"{uri}: not valid UTF-8 at byte offset {exc.start}", uri) from None
        return text[1:] if text.startswith(_BOM) else text

    def raw_lines(self, uri: str, max_line_bytes: int) -> Iterator[bytes]:
        """Stream raw lines (each ending in ``\\n`` except perhaps the last); a line longer than
        ``max_line_bytes`` comes as an ``OverlongLine`` (its first bytes and its length) without ever being held
        whole: a 1 GB line costs ``max_line_bytes`` of memory. The object is opened before this returns."""
        norm = self.normalize(uri)
        if is_s3(norm):
            return bounded_lines(self._s3.open_chunks(norm), max_line_bytes)
        return bounded_lines(self._local.open_chunks(norm), max_line_bytes)

    def chunks(self, uri: str, size: int = 1 << 20) -> Iterator[bytes]:
        """Stream the object's bytes in chunks of ``size`` (bounded memory); opened before this returns."""
        norm = self.normalize(uri)
        return self._s3.open_chunks(norm, size) if is_s3(norm) else self._local.open_chunks(norm, size)

    def iter_lines(self, uri: str) -> Iterator[str]:
        """Stream UTF-8 lines without their ``\\n`` / ``\\r\\n``; the object is opened before this returns."""
        norm = self.normalize(uri)
        raw = self._s3.open_lines(norm) if is_s3(norm) else self._local.open_lines(norm)
        return self._decode_lines(uri, raw)

    @staticmethod
    def _decode_lines(uri: str, raw: Iterator[bytes]) -> Iterator[str]:
        offset = 0
        for number, line in enumerate(raw, start=1):
            start = offset
            offset += len(line)
            if line.endswith(b"\n"):
                line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise StorageError(
                    f"{uri}: line {number} is not valid UTF-8 (byte offset {start + exc.start})", uri
                ) from None
            yield text[1:] if number == 1 and text.startswith(_BOM) else text

    def folder_missing(self, uri: str) -> bool:
        """Whether ``uri`` is a local folder that does not exist (an S3 prefix is never missing: it may be empty)."""
        norm = self.normalize(uri)
        return not is_s3(norm) and not os.path.isdir(norm)

    def exists(self, uri: str) -> bool:
        norm = self.normalize(uri)
        return self._s3.exists(norm) if is_s3(norm) else self._local.exists(norm)

    def size(self, uri: str) -> int:
        norm = self.normalize(uri)
        return self._s3.size(norm) if is_s3(norm) else self._local.size(norm)

    def version(self, uri: str) -> tuple[int, str]:
        """``(size, version tag)`` of an object: its ETag on S3, its modification time (ns) locally; a file
        rewritten in place gets a new tag (caches of derived data compare it). ObjectNotFound when absent."""
        norm = self.normalize(uri)
        return self._s3.version(norm) if is_s3(norm) else self._local.version(norm)

    def read_range(self, uri: str, start: int, length: int) -> bytes:
        """``length`` bytes from byte ``start`` (fewer at the end of the object); S3: one ranged GET."""
        norm = self.normalize(uri)
        if length <= 0:
            return b""
        return self._s3.read_range(norm, start, length) if is_s3(norm) else self._local.read_range(norm, start, length)

    def list(
        self, prefix_uri: str, *, suffixes: tuple[str, ...] | None = None, page_size: int | None = None
    ) -> Iterator[str]:
        """Every object URI under the prefix, recursively, sorted by key; ``suffixes`` match case-insensitively.

        S3 is read one ListObjectsV2 page (``page_size`` keys, default 1000) at a time; errors surface when
        iteration starts. A local prefix naming a folder lists that folder; otherwise, like S3, every file whose
        path starts with the prefix. Temp files of unfinished writes are never listed.
        """
        norm = self.normalize(prefix_uri)
        wanted = tuple(s.lower() for s in suffixes) if suffixes else None
        if is_s3(norm):
            size = page_size or self.page_size
            if not 1 <= size <= 1000:
                raise ValueError(f"page_size must be 1..1000, not {size}")
            return self._s3.list(norm, wanted, size)
        return self._local.list(norm, wanted, folder_only=prefix_uri.endswith("/"))

    def presigned_url(self, uri: str, expires: int = 3600) -> str | None:
        """A time-limited GET URL a browser can fetch (S3); ``None`` for local files."""
        norm = self.normalize(uri)
        return self._s3.presigned_url(norm, expires) if is_s3(norm) else None

    # --- writing ---------------------------------------------------------------------------------------

    def write_bytes(self, uri: str, data: bytes, content_type: str | None = None) -> None:
        """Replace the object whole: readers see the old or the new content, never a part."""
        norm = self.normalize(uri)
        if is_s3(norm):
            self._s3.write_bytes(norm, bytes(data), content_type)
        else:
            self._local.write_bytes(norm, bytes(data))

    def write_file(self, uri: str, path: str | os.PathLike[str], content_type: str | None = None) -> None:
        """Copy the local file ``path`` to ``uri`` as a stream: a streamed write (``open_write``) of the file's
        bytes (local: temp file + rename; S3: uploaded from the file itself)."""
        with self.open_write(uri, content_type=content_type, source=os.fspath(path)):
            pass

    def write_text(self, uri: str, text: str) -> None:
        ctype = mimetypes.guess_type(uri)[0] or "text/plain"
        self.write_bytes(uri, text.encode("utf-8"), content_type=f"{ctype}; charset=utf-8")

    def start_write(self, uri: str, content_type: str | None = None, *, source: str | None = None) -> StreamedWrite:
        """A streamed write (``gtcore.storage.streamed``) aimed at ``uri``'s folder; publish it with
        ``publish_write`` (there or under another name in the same folder), ``discard()`` it in every case.
        ``source``: a local file whose bytes the write holds (``write_file``)."""
        norm = self.normalize(uri)
        if is_s3(norm):
            ctype = content_type or mimetypes.guess_type(norm)[0] or "application/octet-stream"
            return S3Write(self._s3, ctype, source)
        return LocalWrite(self._local, norm, source)

    def publish_write(self, w: StreamedWrite, uri: str, *, if_absent: bool = False) -> bool:
        return w.publish(self.normalize(uri), if_absent)

    @contextmanager
    def open_write(
        self, uri: str, *, if_absent: bool = False, content_type: str | None = None, source: str | None = None
    ) -> Iterator[StreamedWrite]:
        """Write one object in pieces: published whole when the block ends without an error, nothing written
        otherwise; ``if_absent``: only if nothing is there (the writer's ``stored`` says which)."""
        w = self.start_write(uri, content_type, source=source)
        try:
            yield w
            self.publish_write(w, uri, if_absent=if_absent)
        finally:
            w.discard()

    def write_if_absent(self, uri: str, data: bytes) -> bool:
        """Create the object only if nothing is there yet; ``False`` (and nothing written) if it exists."""
        norm = self.normalize(uri)
        return self._s3.write_if_absent(norm, bytes(data)) if is_s3(norm) else self._local.write_if_absent(norm, data)

    def delete(self, uri: str) -> None:
        """Remove one object (a file); nothing happens when it is absent."""
        norm = self.normalize(uri)
        self._s3.delete(norm) if is_s3(norm) else self._local.delete(norm)

    # --- health ----------------------------------------------------------------------------------------

    def ping(self) -> builtins.list[BackendStatus]:
        """Local roots exist and are writable; the S3 endpoint answers (short timeouts, no retries)."""
        out = []
        for root in self._roots:
            if not os.path.isdir(root):
                out.append(BackendStatus(f"local {root}", False, "folder does not exist"))
            elif not os.access(root, os.W_OK | os.X_OK):
                out.append(BackendStatus(f"local {root}", False, "folder is not writable"))
            else:
                out.append(BackendStatus(f"local {root}", True, "folder exists and is writable"))
        if self.settings.s3_endpoint_url or self.settings.allowed_buckets:
            ok, detail = self._s3.ping(self.settings.allowed_buckets)
            out.append(BackendStatus("s3", ok, detail))
        return out


class OverlongLine(bytes):
    """The first bytes of a line longer than the limit; ``length`` is the whole line's length in bytes (without
    its newline)."""

    length: int


def _overlong(head: bytes, length: int) -> OverlongLine:
    line = OverlongLine(head)
    line.length = length
    return line


def bounded_lines(chunks: Iterable[bytes], max_line: int) -> Iterator[bytes]:
    """Lines out of ``chunks``; a line over ``max_line`` bytes is skipped to its end and yielded as an
    ``OverlongLine`` (memory stays about one chunk plus ``max_line``)."""
    pending = b""
    skipping = -1  # the length so far of an overlong line being skipped; -1 when not skipping
    head = b""
    for chunk in chunks:
        start = 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start : end + 1]
            start = len(chunk) if end < 0 else end + 1
            if skipping >= 0:
                skipping += len(piece)
                if end >= 0:
                    yield _overlong(head, skipping - 1)  # without its newline
                    skipping, head = -1, b""
                continue
            pending += piece
            if end >= 0:
                if len(pending) > max_line + 1:
                    yield _overlong(pending[: max_line + 1], len(pending) - 1)
                else:
                    yield pending
                pending = b""
            elif len(pending) > max_line + 1:
                head, skipping, pending = pending[: max_line + 1], len(pending), b""
    if skipping >= 0:
        yield _overlong(head, skipping)
    elif pending:
        yield pending

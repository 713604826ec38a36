"""The local-folder backend behind :class:`gtcore.storage.store.Storage`.

Paths given here are already normalized by :mod:`gtcore.storage.uris` (resolved, inside the local roots). Writes
are atomic: a hidden temp file (``.gttmp.*``) in the target folder, fsync, then ``os.replace`` (or a hard
link for create-if-absent), so readers see the old or the new content, never part of it. OS errors become
:class:`~gtcore.core.errors.StorageError` subclasses naming the path.
"""

from __future__ import annotations

import builtins
import errno
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from gtcore.core.errors import AccessDenied, ObjectNotFound, StorageError
from gtcore.storage import uris

TEMP_PREFIX = ".gttmp."


@contextmanager
def local_errors(uri: str) -> Iterator[None]:
    """Turn OSError into StorageError subclasses naming ``uri``."""
    try:
        yield
    except FileNotFoundError as exc:
        raise ObjectNotFound(f"{uri} does not exist", uri) from exc
    except PermissionError as exc:
        raise AccessDenied(f"{uri}: permission denied by the file system", uri) from exc
    except IsADirectoryError as exc:
        raise StorageError(f"{uri} is a folder, not a file", uri) from exc
    except NotADirectoryError as exc:
        raise ObjectNotFound(f"{uri} does not exist (a parent is a file, not a folder)", uri) from exc
    except OSError as exc:
        raise StorageError(f"{uri}: {exc.strerror or exc}", uri) from exc


def link_into_place(tmp: str, target: str) -> bool:
    """Put the complete file ``tmp`` at ``target`` unless something is there already (False then): a hard link, or
    on file systems without them an exclusive create and a copy. ``tmp`` stays; the caller removes it."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as dst, builtins.open(tmp, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
    return True


def _fsync_dir(path: str) -> None:
    with suppress(OSError):
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class LocalStore:
    """Files under the resolved local roots; paths given here are already normalized."""

    def __init__(self, roots: tuple[str, ...]) -> None:
        self.roots = roots

    def read_bytes(self, path: str, max_bytes: int | None) -> bytes:
        with local_errors(path), open(path, "rb") as f:
            if max_bytes is not None:
                size = os.fstat(f.fileno()).st_size
                data = f.read(max_bytes + 1)
                if size > max_bytes or len(data) > max_bytes:
                    raise StorageError(
                        f"{path} is {max(size, len(data))} bytes, more than the {max_bytes} allowed", path
                    )
                return data
            return f.read()

    def open_chunks(self, path: str, size: int = 1 << 20) -> Iterator[bytes]:
        """The file in chunks of ``size`` bytes (opened before this returns)."""
        with local_errors(path):
            f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the generator
        return self._chunks(path, f, size)

    @staticmethod
    def _chunks(path: str, f: Any, size: int) -> Iterator[bytes]:
        try:
            with local_errors(path):
                while chunk := f.read(size):
                    yield chunk
        finally:
            f.close()

    def open_lines(self, path: str) -> Iterator[bytes]:
        with local_errors(path):
            f = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed by the generator
        return self._lines(path, f)

    @staticmethod
    def _lines(path: str, f: Iterable[bytes]) -> Iterator[bytes]:
        try:
            with local_errors(path):
                yield from f
        finally:
            f.close()  # type: ignore[attr-defined]

    def _temp(self, path: str) -> tuple[str, int]:
        folder, name = os.path.split(path)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(6)}.{name[:120]}")
        return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)

    @staticmethod
    def _fill(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)

    def write_bytes(self, path: str, data: bytes) -> None:
        with local_errors(path):
            tmp, fd = self._temp(path)
            try:
                try:
                    self._fill(fd, data)
                finally:
                    os.close(fd)
                os.replace(tmp, path)
            except BaseException:
                with suppress(OSError):
                    os.unlink(tmp)
                raise
            _fsync_dir(os.path.dirname(path))

    def write_if_absent(self, path: str, data: bytes) -> bool:
        """Write the complete file under a temp name, then hard-link it into place (fails if present)."""
        with local_errors(path):
            tmp, fd = self._temp(path)
            try:
                try:
                    self._fill(fd, data)
                finally:
                    os.close(fd)
                if not link_into_place(tmp, path):
                    return False
            finally:
                with suppress(OSError):
                    os.unlink(tmp)
            _fsync_dir(os.path.dirname(path))
            return True

    def delete(self, path: str) -> None:
        with local_errors(path), suppress(FileNotFoundError):
            os.unlink(path)

    def exists(self, path: str) -> bool:
        return os.path.isfile(path)

    def size(self, path: str) -> int:
        with local_errors(path):
            st = os.stat(path)
        if not os.path.isfile(path):
            raise StorageError(f"{path} is a folder, not a file", path)
        return st.st_size

    def version(self, path: str) -> tuple[int, str]:
        with local_errors(path):
            st = os.stat(path)
        if not os.path.isfile(path):
            raise StorageError(f"{path} is a folder, not a file", path)
        return st.st_size, f"{st.st_mtime_ns}:{st.st_ino}"

    def read_range(self, path: str, start: int, length: int) -> bytes:
        with local_errors(path), open(path, "rb") as f:
            f.seek(start)
            return f.read(length)

    def list(self, path: str, suffixes: tuple[str, ...] | None, folder_only: bool) -> Iterator[str]:
        """Files under ``path`` (a folder) or whose path starts with ``path``, sorted like S3 keys."""
        found: builtins.list[str] = []
        if os.path.isdir(path):
            self._walk(path, suffixes, found)
        elif not folder_only:
            parent, stem = os.path.split(path)
            if os.path.isdir(parent):
                self._walk(parent, suffixes, found, stem)
        found.sort()  # code-point order == UTF-8 byte order == S3's key order
        yield from found

    def _walk(
        self, top: str, suffixes: tuple[str, ...] | None, out: builtins.list[str], stem: str | None = None
    ) -> None:
        stack = [top]
        while stack:
            folder = stack.pop()
            with local_errors(folder), os.scandir(folder) as it:
                for entry in it:
                    name = entry.name
                    if stem is not None and folder == top and not name.startswith(stem):
                        continue
                    if name.startswith(TEMP_PREFIX):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif suffixes and not name.lower().endswith(suffixes):
                        continue
                    elif entry.is_file(follow_symlinks=False) or self._safe_link(entry.path):
                        out.append(entry.path)

    def _safe_link(self, path: str) -> bool:
        """A symlink counts as a file only if it points at a file inside the roots (never follow folders)."""
        if not os.path.islink(path):
            return False
        target = os.path.realpath(path)
        return uris.within(target, self.roots) and os.path.isfile(target)

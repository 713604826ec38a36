"""Where exported files go: a zip for the page's download, a local folder or a storage URI, each file written
whole (temporary file + rename) or not at all. The sinks (:class:`FolderSink`, :class:`StorageSink`) take the
files of a streamed export part by part, and large files (COCO's ``annotations.json``) as a file to copy."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gtcore.core.errors import GTError
from gtcore.storage.local import LocalStore
from gtcore.storage.streamed import LocalWrite


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A zip of ``files`` (fixed timestamps, so the same export gives the same bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name])
    return buf.getvalue()


def write_folder(files: Mapping[str, bytes], dest: str | Path) -> list[Path]:
    """Write ``files`` under the local folder ``dest``, each atomically (temp file + rename)."""
    root = Path(dest).resolve()
    written = []
    for name, data in sorted(files.items()):
        target = (root / name).resolve()
        if root not in target.parents:
            raise GTError(f"refusing to write {name!r} outside {root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".gttmp.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def write_storage(storage: Any, files: Mapping[str, bytes], dest_uri: str) -> list[str]:
    """Write ``files`` below ``dest_uri`` through ``storage`` (local roots / allowed buckets apply)."""
    uris = []
    for name, data in sorted(files.items()):
        uri = storage.join(dest_uri, *name.split("/"))
        storage.write_bytes(uri, data)
        uris.append(uri)
    return uris


class FolderSink:
    """Files written below a local folder, each atomically (:func:`write_folder`)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).resolve()

    def write(self, files: dict[str, bytes]) -> None:
        write_folder(files, self.folder)

    def write_file(self, name: str, path: Path) -> None:
        target = (self.folder / name).resolve()
        if self.folder not in target.parents:
            raise GTError(f"refusing to write {name!r} outside {self.folder}")
        w = LocalWrite(LocalStore((str(self.folder),)), str(target), str(path))  # temp file + rename, as the store
        try:
            w.publish(str(target), False)
        finally:
            w.discard()


class StorageSink:
    """Files written below a storage URI (local roots / allowed buckets apply); large files streamed up."""

    def __init__(self, storage: Any, dest: str) -> None:
        self.storage, self.dest = storage, dest

    def write(self, files: dict[str, bytes]) -> None:
        write_storage(self.storage, files, self.dest)

    def write_file(self, name: str, path: Path) -> None:
        self.storage.write_file(self.storage.join(self.dest, *name.split("/")), path)

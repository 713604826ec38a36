"""Objects written in pieces (``Storage.open_write``): big outputs never held whole in memory.

The writer takes ``bytes`` pieces with ``write``; nothing is visible at the URI until the ``with`` block ends
without an error, then the whole object appears at once (the store's usual "old or new, never a part"):

- local folder: the pieces go to a hidden temp file (``.gttmp.*``) in the target folder, then fsync and
  ``os.replace`` (or a hard link for ``if_absent``, which fails when the file exists);
- S3: the pieces go to an anonymous local temp file, then one ``PutObject`` streams it from the file (with
  ``If-None-Match: *`` for ``if_absent``); over 5 GiB, boto3's managed multipart upload.

An error inside the block (or from the store) removes the temp file and writes nothing. ``stored`` tells,
after the block, whether the object was written (False only for ``if_absent`` when something was there).
``Storage.start_write`` gives the writer itself, to publish under a name chosen at the end (``publish`` may be
called again with another name after an ``if_absent`` refusal; ``discard`` at the end in every case).
``source`` (``Storage.write_file``: a local file copied whole) starts a writer holding that file's bytes: copied
in blocks to the local temp file, or, on S3, uploaded from the file itself (no second local copy).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from typing import IO, Any

from gtcore.storage.local import _fsync_dir, link_into_place, local_errors
from gtcore.storage.s3 import _ABSENT, _object, s3_errors

_BUFFER = 1 << 20
_SINGLE_PUT_MAX = 5 * 1024**3


class StreamedWrite:
    """Pieces go in with ``write``; ``publish`` puts them at a URI (again with another name if an ``if_absent``
    publish found the name taken); ``discard`` drops the temp file (always call it, after publishing too)."""

    stored = False

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def publish(self, target: str, if_absent: bool) -> bool:
        """``target`` is normalized; for a local write it must be in the folder given at the start."""
        raise NotImplementedError

    def discard(self) -> None:
        raise NotImplementedError


class LocalWrite(StreamedWrite):
    def __init__(self, local: Any, path: str, source: str | None = None) -> None:
        self.path = path
        self.made: list[str] = []  # folders made for the temp file, deepest first: removed again if unpublished
        folder = os.path.dirname(path)
        while folder and not os.path.isdir(folder) and folder != os.path.dirname(folder):
            self.made.append(folder)
            folder = os.path.dirname(folder)
        with local_errors(path):
            self.tmp, fd = local._temp(path)
            self.f: IO[bytes] = os.fdopen(fd, "wb", buffering=_BUFFER)
        if source is not None:
            try:
                with local_errors(path), open(source, "rb") as src:
                    while block := src.read(_BUFFER):
                        self.f.write(block)
            except BaseException:
                self.discard()
                raise

    def write(self, data: bytes) -> None:
        with local_errors(self.path):
            self.f.write(data)

    def publish(self, target: str, if_absent: bool) -> bool:
        if os.path.dirname(target) != os.path.dirname(self.path):
            raise ValueError(f"{target}: a streamed local write is published in its own folder only")
        with local_errors(target):
            if not self.f.closed:
                self.f.flush()
                os.fsync(self.f.fileno())
                self.f.close()
            if not if_absent:
                os.replace(self.tmp, target)
            elif not link_into_place(self.tmp, target):
                return False
            _fsync_dir(os.path.dirname(target))
        self.stored = True
        return True

    def discard(self) -> None:
        with suppress(OSError):
            self.f.close()
        with suppress(OSError):
            os.unlink(self.tmp)
        if not self.stored:
            for folder in self.made:
                try:
                    os.rmdir(folder)  # only when empty: nothing else was written there meanwhile
                except OSError:
                    break


class S3Write(StreamedWrite):
    def __init__(self, s3: Any, content_type: str, source: str | None = None) -> None:
        self.s3, self.content_type, self.source = s3, content_type, source
        if source is None:
            self.f: IO[bytes] = tempfile.TemporaryFile(buffering=_BUFFER)  # noqa: SIM115 - closed in discard
        else:
            self.f = open(source, "rb", buffering=_BUFFER)  # noqa: SIM115 - closed in discard

    def write(self, data: bytes) -> None:
        if self.source is not None:
            raise ValueError(f"a write of the file {self.source} takes no more pieces")
        self.f.write(data)

    def publish(self, target: str, if_absent: bool) -> bool:
        from botocore.exceptions import ClientError

        bucket, key = _object(target)
        self.f.flush()
        size = self.f.seek(0, os.SEEK_END)
        self.f.seek(0)
        with s3_errors(target):
            if size > _SINGLE_PUT_MAX and not if_absent:
                self.s3.client.upload_fileobj(self.f, bucket, key, ExtraArgs={"ContentType": self.content_type})
            else:
                extra = {"IfNoneMatch": "*"} if if_absent else {}
                try:
                    self.s3.client.put_object(Bucket=bucket, Key=key, Body=self.f, ContentType=self.content_type,
                                              ContentLength=size, **extra)  # fmt: skip
                except ClientError as exc:
                    if if_absent and str(exc.response.get("Error", {}).get("Code", "")) in _ABSENT:
                        return False
                    raise
        self.stored = True
        return True

    def discard(self) -> None:
        with suppress(OSError):
            self.f.close()

"""The S3 backend behind :class:`gtcore.storage.store.Storage`: boto3 against any endpoint (AWS, MinIO, moto).

Takes canonical ``s3://bucket/key`` URIs (already checked by :mod:`gtcore.storage.uris`). Every botocore error
is turned into a :class:`~gtcore.core.errors.StorageError` subclass naming the URI::

    NoSuchKey / 404 / NoSuchBucket                      -> ObjectNotFound
    AccessDenied / 403 / InvalidAccessKeyId / ...       -> AccessDenied (also: no credentials found)
    connection refused, timeouts, 5xx, SlowDown         -> StoreUnavailable
    anything else                                       -> StorageError
"""

from __future__ import annotations

import mimetypes
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gtcore.core.errors import AccessDenied, ObjectNotFound, StorageError, StoreUnavailable
from gtcore.storage.uris import split_s3

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_DENIED = {
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AllAccessDisabled",
    "AccountProblem",
    "InvalidSecurity",
    "TokenRefreshRequired",
}
_UNAVAILABLE = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"}
_ABSENT = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 limit


def _region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"


def make_client(endpoint_url: str | None, connect_timeout: float, read_timeout: float, attempts: int) -> Any:
    """A boto3 S3 client: path-style addressing on custom endpoints, SigV4, bounded timeouts and retries."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": attempts, "mode": "standard"},
        signature_version="s3v4",
        s3={"addressing_style": "path"} if endpoint_url else {},
    )
    # A Session per client: boto3's default session is not safe to share while creating clients in threads.
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=_region(), config=config)


def _client_error(exc: Any, uri: str) -> StorageError:
    err = exc.response.get("Error", {}) if hasattr(exc, "response") else {}
    code = str(err.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    detail = err.get("Message") or code or f"HTTP {status}"
    if code == "NoSuchBucket":
        bucket = split_s3(uri)[0] if uri.startswith("s3://") else "?"
        return ObjectNotFound(f"{uri}: bucket {bucket!r} does not exist", uri)
    if code in _NOT_FOUND or status == 404:
        return ObjectNotFound(f"{uri} does not exist", uri)
    if code in _DENIED or status == 403:
        return AccessDenied(f"{uri}: the S3 store refused access ({code or status}); check credentials and policy", uri)
    if code in _UNAVAILABLE or status >= 500:
        return StoreUnavailable(f"{uri}: the S3 store is unavailable ({code or status}: {detail})", uri)
    return StorageError(f"{uri}: S3 error {code or status}: {detail}", uri)


def map_error(exc: BaseException, uri: str) -> StorageError:
    """The StorageError a botocore / socket exception means for ``uri``."""
    from botocore import exceptions as bx

    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, bx.ClientError):
        return _client_error(exc, uri)
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError | bx.CredentialRetrievalError):
        return AccessDenied(f"{uri}: no usable AWS credentials ({exc})", uri)
    if isinstance(
        exc, bx.ConnectionError | bx.HTTPClientError | bx.ResponseStreamingError | bx.IncompleteReadError | OSError
    ):
        return StoreUnavailable(f"{uri}: the S3 endpoint did not answer ({type(exc).__name__}: {exc})", uri)
    return StorageError(f"{uri}: S3 request failed ({type(exc).__name__}: {exc})", uri)


@contextmanager
def s3_errors(uri: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError, OSError) as exc:
        raise map_error(exc, uri) from exc


def _object(uri: str) -> tuple[str, str]:
    bucket, key = split_s3(uri)
    if not key:
        raise StorageError(f"{uri} names a bucket, not an object", uri)
    return bucket, key


class S3Store:
    """S3 object operations over one lazily created, shared (thread-safe) boto3 client."""

    def __init__(self, endpoint_url: str | None) -> None:
        self.endpoint_url = endpoint_url
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = make_client(self.endpoint_url, connect_timeout=4, read_timeout=30, attempts=2)
        return self._client

    def read_bytes(self, uri: str, max_bytes: int | None) -> bytes:
        bucket, key = _object(uri)
        with s3_errors(uri):
            resp = self.client.get_object(Bucket=bucket, Key=key)
            body = resp["Body"]
            length = int(resp.get("ContentLength", 0))
            if max_bytes is not None and length > max_bytes:
                body.close()
                raise StorageError(f"{uri} is {length} bytes, more than the {max_bytes} allowed", uri)
            return bytes(body.read())

    def open_chunks(self, uri: str, size: int = 1 << 20) -> Iterator[bytes]:
        """The object in chunks of ``size`` bytes (the GET is sent before returning)."""
        bucket, key = _object(uri)
        with s3_errors(uri):
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
        return self._chunks(uri, body, size)

    @staticmethod
    def _chunks(uri: str, body: Any, size: int) -> Iterator[bytes]:
        try:
            with s3_errors(uri):
                yield from body.iter_chunks(chunk_size=size)
        finally:
            body.close()

    def open_lines(self, uri: str) -> Iterator[bytes]:
        """Raw lines (each ending in ``\\n`` except perhaps the last); the GET is sent before returning."""
        bucket, key = _object(uri)
        with s3_errors(uri):
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
        return self._lines(uri, body)

    @staticmethod
    def _lines(uri: str, body: Any) -> Iterator[bytes]:
        pending = b""
        try:
            with s3_errors(uri):
                for chunk in body.iter_chunks(chunk_size=1 << 20):
                    if pending:
                        chunk = pending + chunk
                    lines = chunk.split(b"\n")
                    pending = lines.pop()
                    for line in lines:
                        yield line + b"\n"
            if pending:
                yield pending
        finally:
            body.close()

    def write_bytes(self, uri: str, data: bytes, content_type: str | None) -> None:
        bucket, key = _object(uri)
        ctype = content_type or mimetypes.guess_type(key)[0] or "application/octet-stream"
        with s3_errors(uri):
            self.client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=ctype)

    def write_if_absent(self, uri: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        bucket, key = _object(uri)
        ctype = mimetypes.guess_type(key)[0] or "application/octet-stream"
        with s3_errors(uri):
            try:
                self.client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=ctype, IfNoneMatch="*")
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code", "")) in _ABSENT:
                    return False
                raise
        return True

    def delete(self, uri: str) -> None:
        bucket, key = _object(uri)
        with s3_errors(uri):
            self.client.delete_object(Bucket=bucket, Key=key)  # absent: S3 answers 204 as well

    def _head(self, uri: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        bucket, key = _object(uri)
        with s3_errors(uri):
            try:
                return dict(self.client.head_object(Bucket=bucket, Key=key))
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in _NOT_FOUND or code == "NoSuchBucket":
                    return None
                raise

    def exists(self, uri: str) -> bool:
        return self._head(uri) is not None

    def size(self, uri: str) -> int:
        head = self._head(uri)
        if head is None:
            raise ObjectNotFound(f"{uri} does not exist", uri)
        return int(head["ContentLength"])

    def version(self, uri: str) -> tuple[int, str]:
        head = self._head(uri)
        if head is None:
            raise ObjectNotFound(f"{uri} does not exist", uri)
        return int(head["ContentLength"]), str(head.get("ETag", "")).strip('"')

    def read_range(self, uri: str, start: int, length: int) -> bytes:
        bucket, key = _object(uri)
        with s3_errors(uri):
            resp = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{start + length - 1}")
            return bytes(resp["Body"].read())

    def list(self, uri: str, suffixes: tuple[str, ...] | None, page_size: int) -> Iterator[str]:
        """Keys under the prefix in S3's order, one ListObjectsV2 page in memory at a time.

        Folder markers (keys ending in ``/``) are not objects and are skipped.
        """
        bucket, prefix = split_s3(uri)
        token: str | None = None
        while True:
            args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
            if token:
                args["ContinuationToken"] = token
            with s3_errors(uri):
                page = self.client.list_objects_v2(**args)
            for obj in page.get("Contents", ()):
                key = obj["Key"]
                if key.endswith("/") or (suffixes and not key.lower().endswith(suffixes)):
                    continue
                yield f"s3://{bucket}/{key}"
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def presigned_url(self, uri: str, expires: int) -> str:
        bucket, key = _object(uri)
        if not 1 <= expires <= MAX_PRESIGN_SECONDS:
            raise StorageError(f"{uri}: presigned URL lifetime must be 1..{MAX_PRESIGN_SECONDS} s, not {expires}", uri)
        with s3_errors(uri):
            return str(
                self.client.generate_presigned_url(
                    "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires
                )
            )

    def ping(self, allowed_buckets: frozenset[str] | None) -> tuple[bool, str]:
        """One quick check with a short-timeout, no-retry client: list buckets (or head the allowed ones)."""
        where = self.endpoint_url or f"AWS S3 ({_region()})"
        try:
            client = make_client(self.endpoint_url, connect_timeout=2, read_timeout=5, attempts=1)
            if allowed_buckets:
                for bucket in sorted(allowed_buckets):
                    with s3_errors(f"s3://{bucket}/"):
                        client.head_bucket(Bucket=bucket)
                return True, f"{where}: bucket(s) {', '.join(sorted(allowed_buckets))} reachable"
            with s3_errors(where):
                n = len(client.list_buckets().get("Buckets", []))
            return True, f"{where}: answering, {n} bucket(s) visible"
        except StorageError as exc:
            return False, str(exc)

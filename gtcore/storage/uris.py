"""Storage URI parsing and safety: what a URI may point at, decided without touching the network.

Accepted forms:

- ``s3://bucket/key``: bucket names of letters, digits, ``.``, ``-``, ``_`` (1-255 characters, starting
  and ending with a letter or digit; looser than AWS so MinIO/legacy names and short test names pass),
  optionally limited by ``GT_ALLOWED_BUCKETS``; keys are kept literally, except that ``.`` and ``..``
  path segments are refused (HTTP layers may collapse them, and they make prefixes ambiguous).
- absolute local paths (``/data/img.jpg``) and ``file://`` URIs (``file:///data/img.jpg``,
  ``file://localhost/...``; percent-escapes decoded), which must resolve (after symlinks and ``..``)
  inside one of ``settings.local_roots``.

Everything else (``http:``, ``https:``, ``ftp:``, ``data:``, relative paths, ``~``, NUL and other
control characters, an empty bucket) raises :class:`~gtcore.core.errors.UriNotAllowed` naming the URI.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import unquote

from gtcore.core.errors import UriNotAllowed

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_BUCKET = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._\-]{0,253}[A-Za-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_s3(uri: str) -> bool:
    """True for ``s3://`` URIs (scheme matched case-insensitively); says nothing about validity."""
    return uri[:5].lower() == "s3://"


def split_s3(uri: str) -> tuple[str, str]:
    """``"s3://bucket/a/b.jpg"`` -> ``("bucket", "a/b.jpg")``. Raises UriNotAllowed if not an S3 URI."""
    if not is_s3(uri):
        raise UriNotAllowed(f"{uri!r} is not an s3:// URI", uri)
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise UriNotAllowed(f"{uri!r} has no bucket name (expected s3://bucket/key)", uri)
    return bucket, key


def _shown(uri: str) -> str:
    return repr(uri) if _CONTROL.search(uri) else f"'{uri}'"


def normalize_s3(uri: str, allowed_buckets: Iterable[str] | None = None) -> str:
    """Canonical ``s3://bucket/key`` (``s3://bucket/`` for a bucket root); raises UriNotAllowed."""
    bucket, key = split_s3(uri)
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise UriNotAllowed(f"{_shown(uri)}: {bucket!r} is not a valid S3 bucket name", uri)
    if allowed_buckets is not None and bucket not in allowed_buckets:
        raise UriNotAllowed(f"{_shown(uri)}: bucket {bucket!r} is not in the allowed buckets (GT_ALLOWED_BUCKETS)", uri)
    if any(seg in (".", "..") for seg in key.split("/")):
        raise UriNotAllowed(f"{_shown(uri)}: '.' and '..' path segments are not allowed in S3 keys", uri)
    return f"s3://{bucket}/{key}"


def within(path: str, roots: Iterable[str]) -> bool:
    """True if the resolved ``path`` is one of ``roots`` or below one of them (roots already resolved)."""
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def local_path(uri: str) -> str:
    """The absolute (not yet resolved) local path a local URI names; raises UriNotAllowed."""
    path = uri
    if uri[:7].lower() == "file://":
        rest = uri[7:]
        host, slash, tail = rest.partition("/")
        if host not in ("", "localhost") or not slash:
            raise UriNotAllowed(f"{_shown(uri)}: only local file URIs are allowed (file:///absolute/path)", uri)
        path = unquote("/" + tail)
        if "\x00" in path:
            raise UriNotAllowed(f"{_shown(uri)}: NUL byte in path", uri)
    else:
        m = _SCHEME.match(uri)
        if m:
            raise UriNotAllowed(
                f"{_shown(uri)}: scheme {m.group(1)!r} is not a storage URI (use s3://bucket/key or an absolute path)",
                uri,
            )
    if not os.path.isabs(path):
        raise UriNotAllowed(f"{_shown(uri)}: relative paths are not allowed; give an absolute path or s3:// URI", uri)
    return path


def normalize_local(uri: str, roots: Iterable[str]) -> str:
    """The resolved absolute path for a local URI inside ``roots`` (resolved strings); raises UriNotAllowed."""
    resolved = os.path.realpath(local_path(uri))
    if not within(resolved, roots):
        raise UriNotAllowed(
            f"{_shown(uri)} resolves to {resolved!r}, outside the allowed local folders (GT_LOCAL_ROOTS)", uri
        )
    return resolved


def normalize(uri: str, roots: Iterable[str], allowed_buckets: Iterable[str] | None = None) -> str:
    """Canonical form of any storage URI: ``s3://bucket/key`` or a resolved absolute local path.

    Raises UriNotAllowed (naming the URI) for anything outside the rules in the module docstring.
    Never touches the network; local checks only resolve symlinks.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise UriNotAllowed(f"{uri!r} is empty or not a storage URI", str(uri))
    if "\x00" in uri:
        raise UriNotAllowed(f"{_shown(uri)}: NUL byte in URI", uri)
    if _CONTROL.search(uri):
        raise UriNotAllowed(f"{_shown(uri)}: control characters are not allowed in URIs", uri)
    if is_s3(uri):
        return normalize_s3(uri, allowed_buckets)
    return normalize_local(uri, roots)


def resolved_roots(roots: Iterable[Path | str]) -> tuple[str, ...]:
    """Roots as resolved absolute path strings (symlinked roots followed once, at start)."""
    return tuple(os.path.realpath(os.fspath(r)) for r in roots)


def s3_join(base: str, parts: Sequence[str]) -> str:
    """``"s3://b/out/" + ("job", "x.json")`` -> ``"s3://b/out/job/x.json"`` (not normalized).

    Empty parts are skipped; a trailing ``/`` on the last part is kept (a prefix).
    """
    bits = [p.strip("/") for p in parts if p.strip("/")]
    if not bits:
        return base
    head = base if base.endswith("/") else base + "/"
    return head + "/".join(bits) + ("/" if parts[-1].endswith("/") else "")


def s3_parent(uri: str) -> str:
    """``s3://b/a/x.json`` -> ``s3://b/a/``; ``s3://b/a/`` -> ``s3://b/``; ``s3://b/x`` -> ``s3://b/``."""
    bucket, key = split_s3(uri)
    key = key.rstrip("/")
    head, _, _ = key.rpartition("/")
    return f"s3://{bucket}/{head + '/' if head else ''}"

"""Automated data setup: list the images under a folder or S3 prefix and write an input manifest.

Ground Truth's console does this on "Complete data setup": it scans the input prefix and writes
``dataset-YYYYMMDDTHHMMSS.manifest`` (UTC, 4-digit year) into it, one ``{"source-ref":"<uri>"}``
per line, compact JSON, LF, sorted by key as S3 lists them, raw UTF-8. We do the same for local
folders (``source-ref`` is then the absolute path, our local URI form) and S3 prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gtcore.core.errors import ManifestError, Problem
from gtcore.manifests.jsonl import dumps_line

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
PREVIEW_LINES = 5


@dataclass
class DataSetup:
    manifest_uri: str
    count: int
    first_lines: list[str] = field(default_factory=list)


def manifest_name(now: datetime | None = None) -> str:
    """``dataset-20200530T121341.manifest`` for ``now`` in UTC (naive datetimes are taken as UTC)."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"dataset-{moment:%Y%m%dT%H%M%S}.manifest"


def image_uris(storage: Any, prefix_uri: str) -> list[str]:
    """Every .jpg/.jpeg/.png (any case) under the prefix, recursively, sorted by key."""
    prefix = storage.normalize(prefix_uri)
    if not prefix.endswith("/"):
        prefix += "/"  # a folder: .../images must not pick up .../images2/...
    return list(storage.list(prefix, suffixes=IMAGE_SUFFIXES))  # suffixes match case-insensitively


def generate_manifest(
    storage: Any, prefix_uri: str, output_uri: str | None = None, *, now: datetime | None = None
) -> DataSetup:
    """List the images under ``prefix_uri`` and write an input manifest with one line per image.

    Args:
        storage: a ``gtcore.storage.store.Storage``.
        prefix_uri: a local folder or ``s3://bucket/prefix``.
        output_uri: where to write; default ``<prefix>/dataset-YYYYMMDDTHHMMSS.manifest``.
        now: the time used in the default name (UTC).

    Raises:
        ManifestError: no images under the prefix, or no such local folder (nothing is written).
        StorageError: the prefix or output is not allowed, or the store fails.
    """
    uris = image_uris(storage, prefix_uri)
    if not uris:
        kinds = "/".join(IMAGE_SUFFIXES)
        if storage.folder_missing(prefix_uri):
            why = f"the folder {prefix_uri} does not exist"
        else:
            why = f"no {kinds} images found under {prefix_uri}"
        raise ManifestError(
            [Problem(why, where=prefix_uri)],
            summary=f"cannot set up data from {prefix_uri}",
        )
    target = output_uri or storage.join(storage.normalize(prefix_uri), manifest_name(now))
    lines = [dumps_line({"source-ref": u}) for u in uris]
    lines.append("")
    storage.write_text(target, "\n".join(lines))
    preview = lines[: min(PREVIEW_LINES, len(uris))]
    return DataSetup(manifest_uri=storage.normalize(target), count=len(uris), first_lines=preview)

"""The paths exported files get: each image's source-ref below the folders all images share, made safe and
unique (YOLO and VOC files are named after the image without its extension)."""

from __future__ import annotations

import posixpath
import re

_UNSAFE = re.compile(r"[\x00-\x1f\\:*?\"<>|]")


def _ref_path(ref: str) -> str:
    if ref.startswith("s3://"):
        return ref[5:]
    if ref.startswith("file://"):
        ref = ref[7:]
    return ref.lstrip("/")


def common_dirs(refs: list[str], common: list[str] | None = None) -> list[str]:
    """The folders every one of ``refs`` is in (and in ``common``, when a file is read part by part)."""
    for r in refs:
        d = ([p for p in _ref_path(r).split("/") if p] or ["image"])[:-1]
        if common is None:
            common = d
        else:
            n = 0
            while n < min(len(d), len(common)) and d[n] == common[n]:
                n += 1
            common = common[:n]
    return common or []


class PathNamer:
    """Safe relative paths for source-refs below the folders they all share (``common``), unique even without
    the extension (YOLO and VOC files are named after the image without it); repeats get ``__2``, ``__3``."""

    def __init__(self, common: list[str]) -> None:
        self.common = len(common)
        self.used: set[str] = set()

    def __call__(self, ref: str) -> str:
        p = [c for c in _ref_path(ref).split("/") if c] or ["image"]
        clean = [_UNSAFE.sub("_", c) for c in p[self.common :] if c not in (".", "..")] or ["image"]
        path = "/".join(c.strip() or "_" for c in clean)
        stem, ext = posixpath.splitext(path)
        n, candidate = 1, stem
        while candidate.lower() in self.used:  # unique without the extension: a.jpg and a.png share labels/a.txt
            n += 1
            candidate = f"{stem}__{n}"
        self.used.add(candidate.lower())
        return candidate + ext


def image_paths(refs: list[str]) -> list[str]:
    """:class:`PathNamer` over ``refs`` (all of them known)."""
    namer = PathNamer(common_dirs(refs))
    return [namer(r) for r in refs]

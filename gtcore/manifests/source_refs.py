"""Checking the ``source-ref`` URIs of a big manifest quickly, with the same verdicts as ``Storage.normalize``.

A 100,000-line manifest must validate in about the time ``json.loads`` takes to read it, so the
URI check cannot resolve every path from scratch. :class:`UriChecker` wraps ``normalize`` with caches
that rely on how gtcore.storage.uris decides:

- S3: a URI is decided by its bucket (name, GT_ALLOWED_BUCKETS), by ``.``/``..`` key segments and by
  control characters. Once one URI of a bucket has passed, ``prefixes`` holds ``"s3://<bucket>/"`` and
  the manifest parser passes any URI with that prefix, no ``/.`` and no control characters inline.
- Local paths: ``realpath(folder/name)`` is ``realpath(folder)/name`` unless ``name`` is a symlink, and
  a folder inside a root keeps its files inside it. So each folder is resolved and checked once, and
  its symlinks are learnt from one ``os.scandir`` (symlinks are then checked in full). Allowed folders
  without symlinks are in ``clean_folders``, which the parser tests inline for plain paths.

Everything else goes to ``normalize``, whose error (UriNotAllowed naming the URI) the parser reports.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from gtcore.core.errors import GTError


class UriChecker:
    """``check_uri`` for ``gtcore.manifests.jsonl.parse_manifest_lines``; raises what ``normalize`` raises."""

    def __init__(self, normalize: Callable[[str], object]) -> None:
        self._normalize = normalize
        self.prefixes: tuple[str, ...] = ()
        # folder -> names of the symlinks in it, or None when the folder is not allowed
        self._folders: dict[str, frozenset[str] | None] = {}
        self.clean_folders: set[str] = set()

    def __call__(self, uri: str) -> None:
        if uri.startswith("s3://"):
            self._normalize(uri)
            slash = uri.find("/", 5)
            if slash > 5 and uri[: slash + 1] not in self.prefixes:
                self.prefixes += (uri[: slash + 1],)
            return
        if uri[:1] == "/" and uri.isprintable():
            folder, _, name = uri.rpartition("/")
            if folder and name not in ("", ".", ".."):
                links = self._folders[folder] if folder in self._folders else self._learn(folder)
                if links is not None and name not in links:
                    return
        self._normalize(uri)

    def _learn(self, folder: str) -> frozenset[str] | None:
        try:
            self._normalize(folder)
        except GTError:
            links = None
        else:
            try:
                with os.scandir(folder) as entries:
                    links = frozenset(e.name for e in entries if e.is_symlink())
            except OSError:  # missing or unreadable folder: its files do not exist, realpath keeps the name
                links = frozenset()
        self._folders[folder] = links
        if links == frozenset():
            self.clean_folders.add(folder)
        return links

"""Header-only probes of local images, for the ``depth`` of Ground Truth's ``image_size`` in box outputs.

Only local files are opened (S3 objects would cost a GET each: the caller falls back to depth 3). Each
folder is checked against the local roots once through ``Storage.normalize``; a file is then opened only
if it is a regular file (not a symlink) directly inside that resolved folder, and Pillow reads just its
header from the open file. Depth: 1 for grey (1/L/I/F modes), 3 for palette images, else the band count.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from typing import Any

from PIL import Image

from gtcore.core.errors import GTError
from gtcore.output.records import ImageInfo
from gtcore.storage.store import Storage, is_s3


def image_info_reader(storage: Storage) -> Callable[[Mapping[str, Any]], ImageInfo | None]:
    """``line -> ImageInfo | None``: header-only probe of local images; None for S3 (default depth).

    Each folder is checked against the local roots once (``storage.normalize``); a file is then opened
    only if it is a regular file, not a symlink, directly in that resolved folder (symlinks and odd names
    go through the full ``normalize``). Pillow reads just the header from the open file.
    """
    folders: dict[str, str | None] = {}

    def resolve(uri: str) -> str | None:
        folder, base = os.path.split(uri)
        if not uri.startswith("/") or base in ("", ".", ".."):
            return storage.normalize(uri)
        if folder not in folders:
            try:
                folders[folder] = storage.normalize(folder)
            except GTError:
                folders[folder] = None
        real = folders[folder]
        if real is None:
            return None
        path = os.path.join(real, base)
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            return storage.normalize(uri)
        return path if stat.S_ISREG(mode) else None

    def read(line: Mapping[str, Any]) -> ImageInfo | None:
        uri = line.get("source-ref")
        if not isinstance(uri, str) or is_s3(uri):
            return None
        try:
            path = resolve(uri)
            if path is None:
                return None
            with open(path, "rb") as f, Image.open(f) as im:
                bands = len(im.getbands())
                grey = im.mode in ("1", "L", "I", "F") or im.mode.startswith("I;")
                return ImageInfo(im.width, im.height, 3 if im.mode == "P" else (1 if grey else bands))
        except Exception:  # missing, not an image, refused URI: the default depth
            return None

    return read

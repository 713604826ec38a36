"""The viewer's index of a large manifest: built once in the background, then opened in a second.

``build(ctx, uri)`` (run in a background thread of the process that asked, :class:`Builds`) copies an S3 file to a
temporary file first (one streamed download), then reads it twice in chunks of lines (:mod:`gtcore.viewer.chunks`)
and writes, under ``<GT_HOME>/viewer-index/<sha256 of the URI>/``, the files :mod:`gtcore.viewer.index_tables`
describes: line offsets, the viewer's tables of every label attribute, verdicts and ``meta.json``.

The index is written to a temporary folder and renamed into place, so a reader sees a whole index or none.
``load`` returns ``None`` when the file changed since (size or version differ): the opener then asks for a new
build. ``status`` tells how far a build has got.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from gtcore.core.errors import ManifestError, Problem
from gtcore.manifests.augmented import AugmentedManifest
from gtcore.storage.uris import is_s3
from gtcore.viewer import index_tables

log = logging.getLogger(__name__)
INDEX_FROM_BYTES = 32 << 20  # smaller files are parsed whole by the page (well under a second)
STALE_SECONDS = 120.0  # a "building" status not updated for this long is a build that died


def folder(settings: Any) -> Path:
    return Path(settings.home) / "viewer-index"


def _key(uri: str) -> str:
    return hashlib.sha256(uri.encode("utf-8")).hexdigest()[:40]


def paths(settings: Any, uri: str) -> tuple[Path, Path]:
    """(the index folder, its status file) of ``uri``."""
    root = folder(settings)
    return root / _key(uri), root / f"{_key(uri)}.status.json"


def status(settings: Any, uri: str) -> dict[str, Any]:
    """What the last build of ``uri`` wrote: ``{"state": "building"|"failed", "done", "total", ...}`` or {}."""
    try:
        return dict(json.loads(paths(settings, uri)[1].read_text()))
    except (OSError, ValueError):
        return {}


def _write_status(settings: Any, uri: str, **fields: Any) -> None:
    path = paths(settings, uri)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"uri": uri, "updated": time.time(), **fields}))
    os.replace(tmp, path)


def building(settings: Any, uri: str, version: tuple[int, str]) -> bool:
    """Whether a live build of this version of ``uri`` is under way (so asking again would build it twice)."""
    st = status(settings, uri)
    return (
        st.get("state") in ("building", "queued")
        and tuple(st.get("version") or ()) == tuple(version)
        and time.time() - float(st.get("updated", 0)) < STALE_SECONDS
    )


# --- building ------------------------------------------------------------------------------------------------


def _local_copy(ctx: Any, uri: str, tmp: Path) -> Path:
    if not is_s3(uri):
        return Path(uri)
    path = tmp / "source.manifest"
    with open(path, "wb") as out:
        for chunk in ctx.storage.chunks(uri):
            out.write(chunk)
    return path


def build(ctx: Any, uri: str) -> Path:
    """Index the manifest at ``uri`` (normalized); returns the index folder. Raises what reading raises."""
    settings, storage = ctx.settings, ctx.storage
    version = storage.version(uri)
    final, _status = paths(settings, uri)
    tmp = final.with_name(f"{final.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    tmp.mkdir(parents=True)

    def progress(done: int, step: str) -> None:
        _write_status(settings, uri, state="building", version=version, done=done, total=version[0], step=step)

    try:
        progress(0, "reading")
        source = _local_copy(ctx, uri, tmp)
        meta = index_tables.write(uri, source, tmp, version, progress)
        if storage.version(uri) != version:
            raise ManifestError([Problem("the file changed while it was being indexed", uri)], summary=f"{uri} changed")
        (tmp / "meta.json").write_text(json.dumps(meta))
        (tmp / "source.manifest").unlink(missing_ok=True)
        old = final.with_name(f"{final.name}.{os.getpid()}.old")
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        paths(settings, uri)[1].unlink(missing_ok=True)
        return final
    except BaseException as exc:
        _write_status(settings, uri, state="failed", version=version, error=str(exc)[:500])
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- loading -------------------------------------------------------------------------------------------------


def load_meta(ctx: Any, uri: str, version: tuple[int, str]) -> dict[str, Any] | None:
    """The index's ``meta.json`` if an index of exactly this ``version`` of ``uri`` is there, else None."""
    try:
        meta = json.loads((paths(ctx.settings, uri)[0] / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("format") != index_tables.FORMAT or tuple(meta.get("version") or ()) != tuple(version):
        return None
    return dict(meta)


class Builds:
    """This process's index builds: a background thread per manifest being indexed, never the Streamlit request.

    The index lives on this process's disk (``GT_HOME``), so the process that reads it builds it: app replicas
    and ``gtcore worker`` processes need not share a disk (the deployment kit's pods do not). ``hold`` (tests)
    keeps the builds asked for until ``run_held``, so a test can see the page before and after."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self.hold = False
        self.held: list[str] = []

    def start(self, ctx: Any, uri: str) -> None:
        with self._lock:
            running = self._threads.get(uri)
            if running is not None and running.is_alive():
                return
            if self.hold:
                if uri not in self.held:
                    self.held.append(uri)
                return
            thread = threading.Thread(target=build_quietly, args=(ctx, uri), name="gt-viewer-index", daemon=True)
            self._threads[uri] = thread
            thread.start()

    def run_held(self, ctx: Any) -> int:
        """Build (here, now) every index asked for while ``hold`` was set; how many."""
        with self._lock:
            held, self.held = self.held, []
        for uri in held:
            build_quietly(ctx, uri)
        return len(held)

    def wait(self, uri: str, timeout: float) -> bool:
        """Wait for the background build of ``uri`` (if any) to end; False when it is still running."""
        with self._lock:
            thread = self._threads.get(uri)
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True


BUILDS = Builds()


def build_quietly(ctx: Any, uri: str) -> None:
    """Build the index of ``uri`` unless this version is indexed already; a failure is left in the status file
    (the page shows it), not raised."""
    try:
        if load_meta(ctx, uri, ctx.storage.version(uri)) is not None:
            return
        build(ctx, uri)
    except ManifestError:  # not a single readable line: the page shows why (the status file)
        log.info("viewer index of %s: nothing to index", uri)
    except Exception:
        log.exception("viewer index of %s failed", uri)


def request(ctx: Any, uri: str, version: tuple[int, str]) -> None:
    """Have this process index this version of ``uri`` in the background (unless a build is under way)."""
    if building(ctx.settings, uri, version):
        return
    _write_status(ctx.settings, uri, state="queued", version=version, done=0, total=version[0])
    BUILDS.start(ctx, uri)


def load(ctx: Any, uri: str, version: tuple[int, str]) -> AugmentedManifest | None:
    """The indexed manifest of ``uri`` if an index of exactly this ``version`` is there, else None (also when
    the index is damaged: a file missing or cut short; it is then removed, so a new one gets built)."""
    final = paths(ctx.settings, uri)[0]
    meta = load_meta(ctx, uri, version)
    if meta is None:
        return None
    try:
        return index_tables.read(ctx, uri, final, meta)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("viewer index of %s is damaged (%s): removed, to be built again", uri, exc)
        shutil.rmtree(final, ignore_errors=True)
        return None

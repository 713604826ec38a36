"""The viewer's index of a large manifest: built once in the background, then opened in a second.

``build(ctx, uri)`` (run in a background thread of the process that asked, :class:`Builds`) reads
the file twice in chunks of ``CHUNK_LINES`` lines (S3: one streamed download to a temporary file first) and
writes, under ``<GT_HOME>/viewer-index/<sha256 of the URI>/``:

- ``offsets.npy``: the byte offset of every line (int64, one more than the lines) and ``lines.npy``: the line
  number of every record (lines that are not JSON objects are problems, kept in ``meta.json`` with their line);
- per label attribute, the viewer's two tables (:mod:`gtcore.viewer.table`), a raw file a column
  (:mod:`gtcore.viewer.columns`): ``<n>.images.*`` (one row a line) and ``<n>.labels.*`` (one row a box / class /
  mask class);
- ``verdicts.*``: each line's verdict of every label-verification attribute;
- ``meta.json``: the file's size and version (ETag on S3, mtime locally), attributes, class names, mask colours.

Everything is numbers, strings and JSON (no pickles). The index is written to a temporary folder and renamed
into place, so a reader sees a whole index or none. ``load`` returns ``None`` when the file changed since (size or
version differ): the opener then asks for a new build. ``status`` tells how far a build has got.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gtcore.core.errors import ManifestError, Problem
from gtcore.core.gcpause import gc_paused
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.manifests.label_values import names_from_maps, tally_class_maps
from gtcore.storage.uris import is_s3
from gtcore.viewer import columns, selection, table
from gtcore.viewer.lines import LineRecords
from gtcore.viewer.text_table import is_text_attribute

log = logging.getLogger(__name__)
FORMAT = 2
INDEX_FROM_BYTES = 32 << 20  # smaller files are parsed whole by the page (well under a second)
CHUNK_LINES = 20_000
MAX_PROBLEMS = 1000  # problems listed one by one; the rest are counted
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


def _raw_chunks(path: Path, offsets: Any) -> Iterator[tuple[int, list[bytes]]]:
    """(first line number, raw lines) of ``CHUNK_LINES`` lines each; appends each line's end to ``offsets``."""
    first, raw, pos = 1, [], 0
    with open(path, "rb", buffering=1 << 20) as f:
        for line in f:
            pos += len(line)
            offsets.append(pos)
            raw.append(line)
            if len(raw) == CHUNK_LINES:
                yield first, raw
                first, raw = first + len(raw), []
    if raw:
        yield first, raw


def parse_chunk(first: int, raw: list[bytes], where: str, problems: list[Problem]) -> tuple[list[dict], list[int]]:
    data = b"".join(raw)
    if first == 1:
        data = data.removeprefix(b"\xef\xbb\xbf")
    mine: list[Problem] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first + data.count(b"\n", 0, exc.start)
        mine.append(Problem("not UTF-8 (undecodable bytes read as U+FFFD)", where, line))
        text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    fast = aug._FAST_LOADS if data.translate(aug._DIGITS_TO_ZERO).find(aug._LONG_RUN) < 0 else None
    with gc_paused():
        records, numbers = aug._parse_lines(lines, where, mine, fast)
    problems.extend(dataclasses.replace(p, line=(p.line or 1) + first - 1) if p.line else p for p in mine)
    return records, [n + first - 1 for n in numbers]


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
    try:
        _write_status(settings, uri, state="building", version=version, done=0, total=version[0], step="reading")
        source = _local_copy(ctx, uri, tmp)
        meta = _index(ctx, uri, source, tmp, version)
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


def _index(ctx: Any, uri: str, source: Path, out: Path, version: tuple[int, str]) -> dict[str, Any]:
    settings = ctx.settings
    offsets = array("q", [0])  # 8 bytes a line, not a Python int each
    problems: list[Problem] = []
    tally: aug.AttributeTally = {}
    maps: dict[str, dict[Any, int]] = {}
    lines = array("q")
    for first, raw in _raw_chunks(source, offsets):  # pass 1: where lines are, attributes, class names
        records, numbers = parse_chunk(first, raw, uri, problems)
        lines.extend(numbers)
        aug.tally_attributes(records, tally)
        for name in tally:
            tally_class_maps(records, name, maps.setdefault(name, {}))
        done = offsets[-1] // 2
        _write_status(settings, uri, state="building", version=version, done=done, total=version[0], step="reading")
    if not lines:
        raise ManifestError(problems[:MAX_PROBLEMS] or [Problem("the manifest is empty", uri)],
                            summary=f"{uri}: nothing to show")  # fmt: skip
    attrs = aug.attributes_from_tally(tally)
    np.save(out / "offsets.npy", np.asarray(offsets, dtype=np.int64), allow_pickle=False)
    np.save(out / "lines.npy", np.asarray(lines, dtype=np.int64), allow_pickle=False)
    names = {a.name: names_from_maps(maps.get(a.name, {})) for a in attrs}
    shown: list[LabelAttribute | None] = [a for a in attrs if not is_text_attribute(a)] or ([None] if not attrs else [])
    colors: dict[str, dict[int, str]] = {a.name: {} for a in attrs if a.type == aug.SEMANTIC_SEGMENTATION}
    writers = {
        f"{i}.{t}": columns.TableWriter(out, f"{i}.{t}") for i in range(len(shown)) for t in ("images", "labels")
    }
    writers["verdicts"] = columns.TableWriter(out, "verdicts", categories=True)
    pos = 0
    for first, raw in _raw_chunks(source, array("q")):  # pass 2: the viewer's tables, chunk by chunk
        records, numbers = parse_chunk(first, raw, uri, [])
        part = AugmentedManifest(uri=uri, records=records, lines=numbers, attributes=attrs)
        for i, attr in enumerate(shown):
            v = table._build(part, attr, names.get(attr.name, {}) if attr else {})
            labels = v.labels.drop(columns=["class_name", "area"])
            labels["pos"] += pos
            writers[f"{i}.images"].append(v.images)
            writers[f"{i}.labels"].append(labels)
        for name, found in colors.items():
            for rec in records:
                mask = aug.mask_of(rec, name)
                for cid, (_n, hexc, _c) in mask.classes.items() if mask else []:
                    if hexc and cid not in found:
                        found[cid] = hexc
        verdicts = {
            a.name: selection.verdict_column(records, a.name) for a in attrs if a.type == aug.LABEL_VERIFICATION
        }
        if verdicts:
            writers["verdicts"].append(pd.DataFrame(verdicts))
        pos += len(records)
        done = version[0] // 2 + offsets[min(first + len(raw) - 1, len(offsets) - 1)] // 2
        _write_status(settings, uri, state="building", version=version, done=done, total=version[0],
                      step="tables")  # fmt: skip
    return {
        "tables": {name: w.schema() for name, w in writers.items()},
        "format": FORMAT,
        "uri": uri,
        "version": list(version),
        "records": len(lines),
        "attributes": [dataclasses.asdict(a) for a in attrs],
        "views": [a.name if a else None for a in shown],
        "names": {k: {str(c): n for c, n in v.items()} for k, v in names.items()},
        "colors": {k: {str(c): h for c, h in v.items()} for k, v in colors.items()},
        "problems": [[p.message, p.line] for p in problems[:MAX_PROBLEMS]],
        "more_problems": max(0, len(problems) - MAX_PROBLEMS),
        "built": time.time(),
    }


# --- loading -------------------------------------------------------------------------------------------------


def load_meta(ctx: Any, uri: str, version: tuple[int, str]) -> dict[str, Any] | None:
    """The index's ``meta.json`` if an index of exactly this ``version`` of ``uri`` is there, else None."""
    try:
        meta = json.loads((paths(ctx.settings, uri)[0] / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or tuple(meta.get("version") or ()) != tuple(version):
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
        return _load(ctx, uri, final, meta)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("viewer index of %s is damaged (%s): removed, to be built again", uri, exc)
        shutil.rmtree(final, ignore_errors=True)
        return None


def _load(ctx: Any, uri: str, final: Path, meta: dict[str, Any]) -> AugmentedManifest:
    offsets = np.load(final / "offsets.npy", allow_pickle=False)
    lines = np.load(final / "lines.npy", allow_pickle=False)
    attrs = [LabelAttribute(**a) for a in meta["attributes"]]
    problems = [Problem(msg, uri, line) for msg, line in meta["problems"]]
    records: Any = LineRecords(ctx.storage, uri, offsets, lines)  # a read-only sequence of the records
    manifest = AugmentedManifest(uri=uri, records=records, lines=lines, problems=problems, attributes=attrs)
    manifest.cache["more_problems"] = int(meta.get("more_problems", 0))
    by_name = {a.name: a for a in attrs}
    for name, found in meta["names"].items():
        manifest.cache["names", name] = {int(c): n for c, n in found.items()}
    for i, name in enumerate(meta["views"]):
        attr = by_name.get(name) if name else None
        names = manifest.cache.get(("names", name), {}) if name else {}
        images = columns.read_table(final, f"{i}.images", meta["tables"][f"{i}.images"])
        labels = columns.read_table(final, f"{i}.labels", meta["tables"][f"{i}.labels"])
        labels["class_name"] = _class_names(labels["class_id"].to_numpy(), names)
        labels["area"] = labels["width"] * labels["height"]
        cmap = meta["colors"].get(name)
        colors = {int(c): h for c, h in cmap.items()} if cmap is not None else None
        view = table.AttributeView(manifest, attr, images, labels, names, colors)
        manifest.cache["view", name] = view
    for name, col in columns.read_table(final, "verdicts", meta["tables"]["verdicts"]).items():
        manifest.cache["verdicts", name] = col.array
    manifest.cache["bytes"] = memory_bytes(manifest)
    return manifest


def _class_names(class_ids: np.ndarray, names: dict[int, str]) -> pd.Categorical:
    """Each label's class name as the whole-file view names it ("class <id>" when no class map names it)."""
    ids = np.unique(class_ids)
    known = {int(c): table.class_label(int(c), names) for c in ids}
    cats = list(dict.fromkeys(known.values()))
    lookup = np.array([cats.index(known[int(c)]) for c in ids], dtype=np.int32)
    return pd.Categorical.from_codes(lookup[np.searchsorted(ids, class_ids)], categories=cats)


def memory_bytes(manifest: AugmentedManifest) -> int:
    """What an indexed manifest holds in memory (its tables and arrays), for the opener's byte budget."""
    total = int(np.asarray(manifest.lines).nbytes)
    records = manifest.records
    if isinstance(records, LineRecords):
        total += int(records.offsets.nbytes)
    for key, value in manifest.cache.items():
        if isinstance(key, tuple) and key[0] == "view":
            total += int(value.images.memory_usage(deep=True).sum() + value.labels.memory_usage(deep=True).sum())
        elif isinstance(key, tuple) and key[0] == "verdicts":
            total += int(value.nbytes)
    return total

"""What a viewer index folder holds (:mod:`gtcore.viewer.index` builds and finds it): written from the file's
chunks by :func:`write`, read back by :func:`read`.

- ``offsets.npy``: the byte offset of every line (int64, one more than the lines) and ``lines.npy``: the line
  number of every record (lines that are not JSON objects are problems, kept in ``meta.json`` with their line);
- per label attribute, the viewer's two tables (:mod:`gtcore.viewer.table`), a raw file a column
  (:mod:`gtcore.viewer.columns`): ``<n>.images.*`` (one row a line) and ``<n>.labels.*`` (one row a box / class /
  mask class);
- ``verdicts.*``: each line's verdict of every label-verification attribute;
- ``meta.json`` (the dict :func:`write` returns): the file's size and version (ETag on S3, mtime locally),
  attributes, class names, mask colours.

Everything is numbers, strings and JSON (no pickles).
"""

from __future__ import annotations

import dataclasses
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gtcore.core.errors import Problem
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.manifests.label_values import names_from_maps
from gtcore.viewer import columns, selection, table
from gtcore.viewer.chunks import MAX_PROBLEMS, file_chunks, nothing_to_show, parse_chunk, survey_chunk
from gtcore.viewer.lines import LineRecords
from gtcore.viewer.text_table import is_text_attribute

FORMAT = 2
Progress = Callable[[int, str], None]  # (bytes' worth done of twice the file's size, step)


def write(uri: str, source: Path, out: Path, version: tuple[int, str], progress: Progress) -> dict[str, Any]:
    """Index the local copy ``source`` of ``uri`` into the folder ``out``; returns what ``meta.json`` holds."""
    offsets = array("q", [0])  # 8 bytes a line, not a Python int each
    problems: list[Problem] = []
    tally: aug.AttributeTally = {}
    maps: dict[str, dict[Any, int]] = {}
    lines = array("q")
    for first, raw in file_chunks(source, offsets):  # pass 1: where lines are, attributes, class names
        records, numbers = parse_chunk(first, raw, uri, problems)
        lines.extend(numbers)
        survey_chunk(records, tally, maps)
        progress(offsets[-1] // 2, "reading")
    if not lines:
        raise nothing_to_show(problems, uri)
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
    for first, raw in file_chunks(source, array("q")):  # pass 2: the viewer's tables, chunk by chunk
        records, numbers = parse_chunk(first, raw, uri, [])
        part = AugmentedManifest(uri=uri, records=records, lines=numbers, attributes=attrs)
        for i, attr in enumerate(shown):
            v = table.build_view(part, attr, names.get(attr.name, {}) if attr else {})
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
        progress(version[0] // 2 + offsets[min(first + len(raw) - 1, len(offsets) - 1)] // 2, "tables")
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


def read(ctx: Any, uri: str, final: Path, meta: dict[str, Any]) -> AugmentedManifest:
    """The manifest of ``uri`` as the index folder ``final`` holds it (records read by offset, on demand).
    Raises ``OSError``, ``ValueError``, ``KeyError`` or ``TypeError`` when the folder is damaged."""
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

"""Reading label values out of one manifest line, for each task type (re-exported by ``gtcore.manifests.augmented``).

Values are read as written, never repaired: a coordinate that is not a JSON number becomes NaN, a
class id that is not a whole number becomes -1, so callers (viewer, linter) can show and report
them instead of crashing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

META_SUFFIX = "-metadata"
AttrRef = Any  # an attribute name or a gtcore.manifests.augmented.LabelAttribute


@dataclass(frozen=True)
class Box:
    class_id: int  # -1 when the file's class_id is not a whole number
    class_name: str  # "" when no class map of the file names it
    left: float  # NaN when the file's value is not a number
    top: float
    width: float
    height: float
    confidence: float | None = None
    index: int = 0  # position in the line's annotations list


@dataclass(frozen=True)
class ClassLabel:
    class_id: int
    class_name: str
    confidence: float | None = None


@dataclass(frozen=True)
class SegMask:
    uri: str
    classes: dict[int, tuple[str, str, float | None]]  # index -> (class-name, hex-color, confidence)


def _name(attr: AttrRef) -> str:
    return attr if isinstance(attr, str) else str(attr.name)


def _meta(record: dict, name: str) -> dict:
    meta = record.get(name + META_SUFFIX)
    return meta if isinstance(meta, dict) else {}


def as_dict(value: Any) -> dict:
    """``value`` when it is a JSON object, else an empty dict."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    """``value`` when it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def as_number(value: Any) -> float:
    """A JSON number as float; NaN for anything else (strings, booleans, null, objects)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def as_class_id(value: Any) -> int:
    """``0``, ``0.0`` or ``"0"`` -> 0; -1 for anything that is not a whole number >= 0."""
    if isinstance(value, bool):
        return -1
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int):
        return value if value >= 0 else -1
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return -1


def boxes_of(record: dict, attr: AttrRef, names: dict[int, str] | None = None) -> list[Box]:
    """The boxes of an object-detection attribute on one line (``[]`` when absent or malformed).

    ``names`` (e.g. from :func:`class_names`) names classes this line's class-map leaves out.
    """
    name = _name(attr)
    value = record.get(name)
    anns = value.get("annotations") if isinstance(value, dict) else None
    if not isinstance(anns, list):
        return []
    meta = _meta(record, name)
    cmap = as_dict(meta.get("class-map"))
    objs = as_list(meta.get("objects"))
    out = []
    for i, a in enumerate(anns):
        if not isinstance(a, dict):
            continue
        cid = as_class_id(a.get("class_id"))
        cname = cmap.get(str(cid)) if cid >= 0 else None
        if not isinstance(cname, str):
            cname = (names or {}).get(cid, "")
        conf = None
        if i < len(objs) and isinstance(objs[i], dict) and "confidence" in objs[i]:
            conf = as_number(objs[i]["confidence"])
        out.append(
            Box(
                cid,
                cname,
                as_number(a.get("left")),
                as_number(a.get("top")),
                as_number(a.get("width")),
                as_number(a.get("height")),
                conf,
                i,
            )
        )
    return out


def classes_of(record: dict, attr: AttrRef) -> list[ClassLabel]:
    """The class label(s) of a classification, verification or multi-label attribute on one line."""
    name = _name(attr)
    if name not in record:
        return []
    value, meta = record[name], _meta(record, name)
    if isinstance(value, list):
        cmap = as_dict(meta.get("class-map"))
        confs = as_dict(meta.get("confidence-map"))
        out = []
        for v in value:
            cid = as_class_id(v)
            cname = cmap.get(str(cid), "")
            conf = as_number(confs[str(cid)]) if str(cid) in confs else None
            out.append(ClassLabel(cid, cname if isinstance(cname, str) else "", conf))
        return out
    if isinstance(value, dict):
        return []
    cname = meta.get("class-name")
    conf = as_number(meta["confidence"]) if "confidence" in meta else None
    return [ClassLabel(as_class_id(value), cname if isinstance(cname, str) else "", conf)]


def mask_of(record: dict, attr: AttrRef) -> SegMask | None:
    """The label-mask URI and colour map of a semantic-segmentation attribute on one line."""
    name = _name(attr)
    value, meta = record.get(name), _meta(record, name)
    if not isinstance(value, str):
        return None
    cmap = as_dict(meta.get("internal-color-map"))
    classes: dict[int, tuple[str, str, float | None]] = {}
    for k, v in cmap.items():
        cid = as_class_id(k)
        if cid >= 0 and isinstance(v, dict):
            conf = as_number(v["confidence"]) if "confidence" in v else None
            classes[cid] = (str(v.get("class-name", "")), str(v.get("hex-color", "")), conf)
    return SegMask(uri=value, classes=classes)


def image_size_of(record: dict, attr: AttrRef) -> tuple[float, float, float] | None:
    """``(width, height, depth)`` from an object-detection value's ``image_size``; None when missing."""
    value = record.get(_name(attr))
    sizes = value.get("image_size") if isinstance(value, dict) else None
    if not isinstance(sizes, list) or not sizes or not isinstance(sizes[0], dict):
        return None
    s = sizes[0]
    w, h = as_number(s.get("width")), as_number(s.get("height"))
    if not (math.isfinite(w) and math.isfinite(h)):
        return None
    return w, h, as_number(s.get("depth", 3))


_META_KEYS = ("human-annotated", "adjustment-status", "job-name", "creation-date", "type", "confidence", "class-name")


def metadata_of(record: dict, attr: AttrRef) -> dict[str, Any]:
    """The metadata an auditor reads, in a fixed order (keys absent from the line are left out)."""
    meta = _meta(record, _name(attr))
    return {k: meta[k] for k in _META_KEYS if k in meta}


def class_names(records: Iterable[dict], attr: AttrRef) -> dict[int, str]:
    """Class id -> name over all lines (each line's class map lists only its own classes); the most
    frequent name wins when lines disagree."""
    return names_from_maps(tally_class_maps(records, attr, {}))


def tally_class_maps(records: Iterable[dict], attr: AttrRef, maps: dict[Any, int]) -> dict[Any, int]:
    """Add ``records``' class maps to ``maps`` (``{((class_id, name), ...): lines}``, for :func:`names_from_maps`),
    so a file read in chunks gets the same names as :func:`class_names` over all of it."""
    name = _name(attr)
    key = name + META_SUFFIX
    for rec in records:  # identical class maps repeat on most lines: tally them first
        meta = rec.get(key)
        if type(meta) is not dict:
            continue
        cmap = meta.get("class-map")
        if type(cmap) is dict:
            items: Any = tuple(cmap.items())
        elif isinstance(meta.get("class-name"), str) and name in rec:
            items = ((rec[name], meta["class-name"]),)
        elif isinstance(meta.get("internal-color-map"), dict):
            items = tuple(
                (k, v.get("class-name")) for k, v in meta["internal-color-map"].items() if isinstance(v, dict)
            )
        else:
            continue
        try:
            maps[items] = maps.get(items, 0) + 1
        except TypeError:  # an unhashable value (a list as class name ...): not a usable name
            continue
    return maps


def names_from_maps(maps: dict[Any, int]) -> dict[int, str]:
    """Class id -> most frequent name, from ``{((class_id, name), ...): lines}`` tallies of class maps."""
    seen: dict[int, Counter[str]] = {}
    for items, n in maps.items():
        for k, v in items:
            cid = as_class_id(k)
            if isinstance(v, str) and cid >= 0:
                seen.setdefault(cid, Counter())[v] += n
    return {cid: c.most_common(1)[0][0] for cid, c in sorted(seen.items())}

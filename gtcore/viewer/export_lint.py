"""The export linter: what is wrong with an object-detection attribute, and how the auditor resolves it.

:func:`lint` lists every issue (never stops at the first), each naming the line, the box and the field:

=======================  =====================================================================
code                     meaning
=======================  =====================================================================
zero-size                a box whose width or height is zero or negative
outside-image            a box that reaches outside ``image_size`` (left/top < 0, right/bottom > size)
unknown-class            a box whose ``class_id`` is not in the line's ``class-map``
not-a-number             NaN, Infinity, a string, boolean or null where a number belongs
missing-image-size       no usable ``image_size`` (missing, empty, zero) for the line
duplicate-source-ref     a line whose ``source-ref`` already appeared on an earlier line
malformed                a value that is not in Ground Truth's shape (no source-ref, annotations not a list ...)
=======================  =====================================================================

What the auditor does about the issues (fix, drop or abort) is :mod:`gtcore.viewer.export_resolution`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pandas as pd

from gtcore.core.errors import GTError, Problem
from gtcore.core.gcpause import gc_paused
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.manifests.label_values import as_dict, as_list

ZERO_SIZE = "zero-size"
OUTSIDE_IMAGE = "outside-image"
UNKNOWN_CLASS = "unknown-class"
NOT_A_NUMBER = "not-a-number"
MISSING_IMAGE_SIZE = "missing-image-size"
DUPLICATE_SOURCE_REF = "duplicate-source-ref"
MALFORMED = "malformed"
CODES = (ZERO_SIZE, OUTSIDE_IMAGE, UNKNOWN_CLASS, NOT_A_NUMBER, MISSING_IMAGE_SIZE, DUPLICATE_SOURCE_REF, MALFORMED)
_EPS = 1e-6  # consolidated coordinates are float averages: ignore rounding noise at the image edge
_COORDS = ("left", "top", "width", "height")


@dataclass(frozen=True)
class LintIssue:
    code: str
    line: int  # 1-based line of the manifest
    pos: int  # position in manifest.records
    box: int | None  # index in the line's annotations; None for a line-level issue
    field: str  # dotted path, e.g. "category.annotations[2].width"
    message: str
    source_ref: str = ""


@dataclass
class LintReport:
    attribute: str
    where: str
    issues: list[LintIssue]
    lines: int  # lines that carry the attribute
    boxes: int

    @property
    def ok(self) -> bool:
        return not self.issues

    def counts(self) -> dict[str, int]:
        c = Counter(i.code for i in self.issues)
        return {code: c[code] for code in CODES if c[code]}

    def problems(self) -> list[Problem]:
        return [Problem(f"{i.code}: {i.message}", self.where, i.line, i.field) for i in self.issues]

    def table(self) -> pd.DataFrame:
        cols = ["line", "box", "code", "field", "message", "source_ref"]
        return pd.DataFrame([{c: getattr(i, c) for c in cols} for i in self.issues], columns=cols)


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


_NUM = (int, float)  # exact types: bool is not a number here


def _box_ok(a: Any, o: Any, ckeys: set[int], w: float | None, h: float | None) -> bool:
    """Fast check that a box has no issue at all (the detailed checks run only when this is False)."""
    if type(a) is not dict:
        return False
    x: Any = a.get("left")
    y: Any = a.get("top")
    bw: Any = a.get("width")
    bh: Any = a.get("height")
    c: Any = a.get("class_id")
    if not (type(x) in _NUM and type(y) in _NUM and type(bw) in _NUM and type(bh) in _NUM):
        return False
    if not (math.isfinite(x + y + bw + bh) and bw > 0 and bh > 0 and type(c) is int and c in ckeys):
        return False
    if type(o) is dict and "confidence" in o:
        f = o["confidence"]
        if not (type(f) in _NUM and math.isfinite(f)):
            return False
    if w is None or h is None:
        return True
    return bool(x >= -_EPS and y >= -_EPS and x + bw <= w + _EPS and y + bh <= h + _EPS)


def _require_boxes(attr: LabelAttribute) -> None:
    if attr.type != aug.OBJECT_DETECTION:
        raise GTError(f"{attr.name} is a {attr.type} attribute; export and lint need object-detection boxes")


def lint(
    manifest: AugmentedManifest, attribute: str | LabelAttribute, seen: dict[str, int] | None = None
) -> LintReport:
    """Every issue of ``attribute`` (an object-detection attribute) in ``manifest``. ``seen``: source-refs of
    earlier parts of the same file (its line) when a file is linted part by part; filled in."""
    attr = manifest.attribute(attribute) if isinstance(attribute, str) else attribute
    _require_boxes(attr)
    with gc_paused():
        return _lint(manifest, attr, {} if seen is None else seen)


def _lint(manifest: AugmentedManifest, attr: LabelAttribute, seen: dict[str, int]) -> LintReport:
    name = attr.name
    issues: list[LintIssue] = []
    lines = boxes = 0
    for pos, rec in enumerate(manifest.records):
        if name not in rec:
            continue
        lines += 1
        line, src = manifest.lines[pos], rec.get("source-ref")

        ref = src if isinstance(src, str) else ""

        def add(code: str, fld: str, msg: str, box: int | None = None, _l: int = line, _p: int = pos,
                _r: str = ref) -> None:  # fmt: skip
            issues.append(LintIssue(code, _l, _p, box, fld, msg, _r))

        if not isinstance(src, str) or not src:
            add(MALFORMED, "source-ref", "the line has no source-ref string")
        elif src in seen:
            add(DUPLICATE_SOURCE_REF, "source-ref", f"{src} is also on line {seen[src]}")
        else:
            seen[src] = line
        value = rec[name]
        if not isinstance(value, dict) or not isinstance(value.get("annotations"), list):
            add(MALFORMED, name, "the label is not {image_size, annotations:[...]}")
            continue
        size = value.get("image_size")
        w = h = None
        if not isinstance(size, list) or not size or not isinstance(size[0], dict):
            add(MISSING_IMAGE_SIZE, f"{name}.image_size", "image_size is missing, so boxes cannot be checked")
        else:
            sw: Any = size[0].get("width")
            sh: Any = size[0].get("height")
            if not (_finite(sw) and _finite(sh)):
                add(NOT_A_NUMBER, f"{name}.image_size[0]", f"image size is not a number: width={sw!r} height={sh!r}")
            elif sw <= 0 or sh <= 0:
                add(MISSING_IMAGE_SIZE, f"{name}.image_size[0]", f"image size {sw}x{sh} has no pixels")
            else:
                w, h = float(sw), float(sh)
        meta = rec.get(name + aug.META_SUFFIX)
        meta = meta if isinstance(meta, dict) else {}
        cmap = as_dict(meta.get("class-map"))
        objs = as_list(meta.get("objects"))
        ckeys = {aug.as_class_id(k) for k in cmap}
        for i, a in enumerate(value["annotations"]):
            boxes += 1
            if _box_ok(a, objs[i] if i < len(objs) else None, ckeys, w, h):
                continue  # the common case: no strings built, no issue objects
            path = f"{name}.annotations[{i}]"
            if not isinstance(a, dict):
                add(MALFORMED, path, f"annotation is {type(a).__name__}, not an object", i)
                continue
            bad = [f"{k}={a.get(k)!r}" for k in _COORDS if not _finite(a.get(k))]
            if bad:
                add(NOT_A_NUMBER, path, "box values are not numbers: " + ", ".join(bad), i)
            raw_cid = a.get("class_id")
            cid = aug.as_class_id(raw_cid)
            if cid < 0:
                add(NOT_A_NUMBER, f"{path}.class_id", f"class_id {raw_cid!r} is not a whole number >= 0", i)
            elif str(cid) not in cmap:
                add(UNKNOWN_CLASS, f"{path}.class_id", f"class_id {cid} is not in the line's class-map", i)
            o = objs[i] if i < len(objs) and isinstance(objs[i], dict) else {}
            if "confidence" in o and not _finite(o["confidence"]):
                add(NOT_A_NUMBER, f"{name}-metadata.objects[{i}].confidence", f"confidence {o['confidence']!r}", i)
            if bad:
                continue
            left, top, bw, bh = (float(a[k]) for k in _COORDS)
            if bw <= 0 or bh <= 0:
                add(ZERO_SIZE, path, f"box is {bw:g}x{bh:g} pixels", i)
            elif (
                w is not None
                and h is not None
                and (left < -_EPS or top < -_EPS or left + bw > w + _EPS or top + bh > h + _EPS)
            ):
                add(OUTSIDE_IMAGE, path, f"box {left:g},{top:g} {bw:g}x{bh:g} reaches outside the {w:g}x{h:g} image", i)
    return LintReport(attribute=name, where=manifest.uri, issues=issues, lines=lines, boxes=boxes)

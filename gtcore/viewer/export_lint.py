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

:func:`resolve` applies the auditor's choice before an export:

- ``fix`` (fix-by-clipping): boxes outside the image are clipped to it (dropped if nothing is left);
  a class id missing from a line's class-map keeps the name other lines give it; a confidence that
  is not a number is left out. What clipping cannot repair is dropped: zero-size boxes, boxes with
  non-numeric coordinates or unknown classes, lines without image size, and repeated lines (the
  first line of a source-ref is kept).
- ``drop``: every box with an issue is dropped; lines with a line-level issue are dropped.
- ``abort``: any issue raises ``ValidationError`` listing all of them; nothing is exported.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd

from gtcore.core.errors import GTError, Problem, ValidationError
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
MODES = ("fix", "drop", "abort")
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


class CleanBox(NamedTuple):
    """A box as exported: numbers as written in the manifest (ints stay ints) unless clipped."""

    class_id: int
    class_name: str
    left: float
    top: float
    width: float
    height: float
    confidence: float | None
    clipped: bool = False


class CleanImage(NamedTuple):
    pos: int
    line: int
    source_ref: str
    width: float
    height: float
    depth: int
    boxes: tuple[CleanBox, ...]


@dataclass
class Resolution:
    """The lines and boxes an export writes, after the auditor's choice, and what that choice changed."""

    attribute: str
    mode: str
    report: LintReport
    images: list[CleanImage]
    class_names: dict[int, str]
    changes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        c = self.changes
        return (
            f"{len(self.images)} images, {sum(len(i.boxes) for i in self.images)} boxes exported; "
            f"{len(self.report.issues)} issue(s) found; {c['boxes clipped']} boxes clipped, {c['boxes dropped']} "
            f"boxes dropped, {c['lines dropped']} lines dropped, {c['confidences left out']} confidences left out"
        )


def _clean_boxes(rec: dict, name: str, names: dict[int, str]) -> tuple[CleanBox, ...]:
    """The boxes of a line the linter found nothing wrong with, numbers exactly as the file has them."""
    meta = as_dict(rec.get(name + aug.META_SUFFIX))
    cmap, objs = as_dict(meta.get("class-map")), as_list(meta.get("objects"))
    out = []
    for i, a in enumerate(rec[name]["annotations"]):
        c = a["class_id"]
        cid = c if type(c) is int else aug.as_class_id(c)
        o = objs[i] if i < len(objs) else None
        conf = o.get("confidence") if type(o) is dict else None
        cname = cmap.get(str(cid))
        cname = cname if isinstance(cname, str) else names.get(cid, "")
        out.append(CleanBox(cid, cname, a["left"], a["top"], a["width"], a["height"], conf))
    return tuple(out)


def _fixable(issue: LintIssue) -> bool:
    """Issues ``fix`` repairs: clip into the image, name the class from other lines, leave out a bad confidence."""
    if issue.code == NOT_A_NUMBER:
        return issue.field.endswith(".confidence")
    return issue.code in (OUTSIDE_IMAGE, UNKNOWN_CLASS)


def resolve(manifest: AugmentedManifest, attribute: str | LabelAttribute, mode: str,
            report: LintReport | None = None, names: dict[int, str] | None = None) -> Resolution:  # fmt: skip
    """Lint (unless ``report`` is given) and apply ``mode`` (fix | drop | abort): the boxes to export. ``names``:
    class names of the whole file when ``manifest`` is one part of it (else read from its lines)."""
    if mode not in MODES:
        raise GTError(f"unknown problem handling {mode!r}: choose one of {', '.join(MODES)}")
    attr = manifest.attribute(attribute) if isinstance(attribute, str) else attribute
    report = report or lint(manifest, attr)
    if mode == "abort" and report.issues:
        msg = (
            f"{manifest.uri or 'manifest'}: {len(report.issues)} issue(s) found by the export linter; "
            "nothing was exported (choose fix or drop, or correct the manifest)"
        )
        raise ValidationError(report.problems(), summary=msg)
    names = aug.class_names(manifest.records, attr) if names is None else names
    line_bad = {i.pos for i in report.issues if i.box is None}
    box_issues: dict[tuple[int, int], list[LintIssue]] = {}
    for i in report.issues:
        if i.box is not None:
            box_issues.setdefault((i.pos, i.box), []).append(i)
    with_issues = {i.pos for i in report.issues}
    out = Resolution(attribute=attr.name, mode=mode, report=report, images=[], class_names=dict(names))
    for pos, rec in enumerate(manifest.records):
        if attr.name not in rec:
            continue
        if pos in line_bad:
            out.changes["lines dropped"] += 1
            continue
        w, h, depth = aug.image_size_of(rec, attr) or (0.0, 0.0, 3.0)
        d = int(depth) if math.isfinite(depth) and depth > 0 else 3
        if pos not in with_issues:  # the common case: every box checked clean, taken as written
            boxes = _clean_boxes(rec, attr.name, names)
            out.images.append(CleanImage(pos, manifest.lines[pos], aug.source_of(rec), w, h, d, boxes))
            continue
        kept = []
        for b in aug.boxes_of(rec, attr, names):
            found = box_issues.get((pos, b.index), [])
            codes = {i.code for i in found}
            if found and (mode == "drop" or not all(_fixable(i) for i in found)):
                out.changes["boxes dropped"] += 1
                continue
            if UNKNOWN_CLASS in codes and b.class_id not in names:
                out.changes["boxes dropped"] += 1
                continue
            bad_conf = any(i.code == NOT_A_NUMBER for i in found)  # only the confidence can be left here
            conf = None if bad_conf else b.confidence
            out.changes["confidences left out"] += int(bad_conf)
            x0, y0 = max(0.0, b.left), max(0.0, b.top)
            x1, y1 = min(w, b.left + b.width), min(h, b.top + b.height)
            clipped = OUTSIDE_IMAGE in codes
            if clipped and (x1 - x0 <= 0 or y1 - y0 <= 0):
                out.changes["boxes dropped"] += 1
                continue
            out.changes["boxes clipped"] += int(clipped)
            left, top = (x0, y0) if clipped else (b.left, b.top)
            bw, bh = (x1 - x0, y1 - y0) if clipped else (b.width, b.height)
            kept.append(
                CleanBox(b.class_id, b.class_name or names.get(b.class_id, ""), left, top, bw, bh, conf, clipped)
            )
        out.images.append(CleanImage(pos, manifest.lines[pos], aug.source_of(rec), w, h, d, tuple(kept)))
    return out

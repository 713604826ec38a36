"""What an export writes after the export linter (:mod:`gtcore.viewer.export_lint`): the auditor's choice applied.

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
from typing import NamedTuple

from gtcore.core.errors import GTError, ValidationError
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.manifests.label_values import as_dict, as_list
from gtcore.viewer.export_lint import NOT_A_NUMBER, OUTSIDE_IMAGE, UNKNOWN_CLASS, LintIssue, LintReport, lint

MODES = ("fix", "drop", "abort")


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise GTError(f"unknown problem handling {mode!r}: choose one of {', '.join(MODES)}")


def refusal(report: LintReport, where: str) -> ValidationError:
    """The ``abort`` choice's error when the linter found issues: every issue, nothing exported."""
    msg = (
        f"{where or 'manifest'}: {len(report.issues)} issue(s) found by the export linter; "
        "nothing was exported (choose fix or drop, or correct the manifest)"
    )
    return ValidationError(report.problems(), summary=msg)


def changes_summary(images: int, boxes: int, issues: int, changes: Counter[str]) -> str:
    """What an export wrote and what the auditor's choice changed, in a sentence."""
    c = changes
    return (
        f"{images} images, {boxes} boxes exported; "
        f"{issues} issue(s) found; {c['boxes clipped']} boxes clipped, {c['boxes dropped']} "
        f"boxes dropped, {c['lines dropped']} lines dropped, {c['confidences left out']} confidences left out"
    )


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
        boxes = sum(len(i.boxes) for i in self.images)
        return changes_summary(len(self.images), boxes, len(self.report.issues), self.changes)


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
    check_mode(mode)
    attr = manifest.attribute(attribute) if isinstance(attribute, str) else attribute
    report = report or lint(manifest, attr)
    if mode == "abort" and report.issues:
        raise refusal(report, manifest.uri)
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

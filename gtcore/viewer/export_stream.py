"""Box exports (COCO, YOLO, Pascal VOC) and mask exports of a manifest of any size, in bounded memory (issue 28).

The file is read three times as a stream, in chunks of lines (:mod:`gtcore.viewer.chunks`), never whole:

1. its label attributes and class names (as :func:`gtcore.manifests.augmented.find_attributes` and
   ``class_names`` over the whole file);
2. the linter, part by part (one record of the source-refs seen, for duplicates): the same report as
   :func:`gtcore.viewer.export_lint.lint`; ``abort`` stops here with nothing written;
3. each part resolved (fix | drop) and written: COCO's images go straight into ``annotations.json`` and its
   annotations through a temporary file appended after them; YOLO and VOC files are written per part.

The output is the same as :func:`gtcore.viewer.export.export_files` gives for the whole file (tested).
:func:`export_masks_stream` does the same for a semantic-segmentation attribute (``export_masks``' files).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gtcore.core.errors import Problem
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.manifests.label_values import names_from_maps
from gtcore.viewer import export, export_lint, export_resolution
from gtcore.viewer.chunks import line_chunks, nothing_to_show, parse_chunk, survey_chunk
from gtcore.viewer.export_coco import CocoWriter, coco_categories, coco_info
from gtcore.viewer.export_lint import LintIssue, LintReport
from gtcore.viewer.export_paths import PathNamer, common_dirs
from gtcore.viewer.export_resolution import changes_summary

Blocks = Callable[[], Iterable[bytes]]  # a fresh stream of the file's bytes, once per pass


@dataclass
class Part:
    manifest: AugmentedManifest  # this part's records, with their line numbers in the file
    pos: int  # position of its first record in the whole file


def parts(blocks: Blocks, where: str, attrs: list[LabelAttribute], problems: list[Problem] | None = None
          ) -> Iterator[Part]:  # fmt: skip
    """The file read by ``blocks``, chunk by chunk, each chunk parsed (unreadable lines go to ``problems``)."""
    pos = 0
    for first, raw in line_chunks(blocks()):
        records, numbers = parse_chunk(first, raw, where, [] if problems is None else problems)
        yield Part(AugmentedManifest(uri=where, records=records, lines=numbers, attributes=attrs), pos)
        pos += len(records)


@dataclass
class StreamExport:
    format: str
    report: LintReport
    files: int = 0
    images: int = 0
    boxes: int = 0
    changes: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)  # lines that could not be read (skipped)

    def summary(self) -> str:
        changes = changes_summary(self.images, self.boxes, len(self.report.issues), self.changes)
        return f"{self.format}: {self.files} file(s); {changes}"


def survey_file(blocks: Blocks, where: str) -> tuple[list[LabelAttribute], dict, int, list[Problem]]:
    """The file's attributes, class maps per attribute, number of records and unreadable lines (pass 1)."""
    problems: list[Problem] = []
    tally: aug.AttributeTally = {}
    maps: dict[str, dict[Any, int]] = {}
    records = 0
    for part in parts(blocks, where, [], problems):
        records += len(part.manifest.records)
        survey_chunk(part.manifest.records, tally, maps)
    return aug.attributes_from_tally(tally), maps, records, problems


def lint_stream(blocks: Blocks, where: str, attr: LabelAttribute, attrs: list[LabelAttribute]
                ) -> tuple[LintReport, list[list[LintIssue]], list[str]]:  # fmt: skip
    """The whole file's lint report, each part's issues (positions within the part) and the folders the
    exported images' source-refs share."""
    seen: dict[str, int] = {}
    issues: list[LintIssue] = []
    per_part: list[list[LintIssue]] = []
    lines = boxes = 0
    common: list[str] | None = None
    for part in parts(blocks, where, attrs):
        rep = export_lint.lint(part.manifest, attr, seen)
        per_part.append(rep.issues)
        issues.extend(dataclasses.replace(i, pos=i.pos + part.pos) for i in rep.issues)
        lines, boxes = lines + rep.lines, boxes + rep.boxes
        bad = {i.pos for i in rep.issues if i.box is None}
        refs = [aug.source_of(r) for p, r in enumerate(part.manifest.records) if attr.name in r and p not in bad]
        if refs:
            common = common_dirs(refs, common)
    return LintReport(attr.name, where, issues, lines, boxes), per_part, common or []


def export_stream(
    blocks: Blocks,
    where: str,
    fmt: str,
    dest: Any,
    *,
    attribute: str | None = None,
    on_problems: str = "abort",
    on_report: Callable[[LintReport], None] | None = None,
    survey: tuple[list[LabelAttribute], dict, int, list[Problem]] | None = None,
) -> StreamExport:
    """Export ``attribute`` of the manifest read by ``blocks`` as ``fmt`` into ``dest`` (a sink of
    :mod:`gtcore.viewer.export_sinks`); ``on_report`` sees the linter's report before anything is written;
    ``survey``: what :func:`survey_file` said of this file already (saves its pass)."""
    export.check_format(fmt)
    export_resolution.check_mode(on_problems)
    attrs, maps, records, problems = survey or survey_file(blocks, where)
    if not records:
        raise nothing_to_show(problems, where)
    stub = AugmentedManifest(uri=where, records=[], lines=[], attributes=attrs)
    attr = export.object_detection_attribute(stub, attribute)
    names = names_from_maps(maps.get(attr.name, {}))
    report, per_part, common = lint_stream(blocks, where, attr, attrs)
    if on_report is not None:
        on_report(report)
    if on_problems == "abort" and report.issues:
        raise export_resolution.refusal(report, where)
    out = StreamExport(fmt, report, problems=problems)
    namer = PathNamer(common)
    used: set[int] = set(names)
    writer = CocoWriter(dest, coco_info(where, attr.name)) if fmt == "coco" else None
    try:
        for part, issues in zip(parts(blocks, where, attrs), per_part, strict=True):
            rep = LintReport(attr.name, where, issues, 0, 0)
            res = export_resolution.resolve(part.manifest, attr, on_problems, rep, names)
            out.changes.update(res.changes)
            out.images += len(res.images)
            out.boxes += sum(len(i.boxes) for i in res.images)
            used.update(b.class_id for i in res.images for b in i.boxes)
            paths = [namer(i.source_ref) for i in res.images]
            if writer is not None:
                writer.add_boxes(res.images, paths)
            else:
                files = export.yolo_labels(res, paths) if fmt == "yolo" else export.to_voc(res, paths)
                dest.write(files)
                out.files += len(files)
        if writer is not None:
            writer.finish(coco_categories(used, names))
            out.files = 1
        elif fmt == "yolo":
            dest.write(export.yolo_classes(used, names))
            out.files += 1
    finally:
        if writer is not None:
            writer.close()
    return out


def export_masks_stream(blocks: Blocks, where: str, storage: Any, fmt: str, dest: Any, *,
                        attribute: str | None = None, survey: Any = None) -> Any:  # fmt: skip
    """A semantic-segmentation attribute's masks (``export_masks``' files) from a file read as a stream: one pass
    for the folders the images share, one to write (PNG files part by part; COCO through :class:`CocoWriter`)."""
    from gtcore.viewer import export_masks as xm

    attrs, _maps, records, problems = survey or survey_file(blocks, where)
    if not records:
        raise nothing_to_show(problems, where)
    attr = xm.segmentation_attribute(AugmentedManifest(uri=where, records=[], lines=[], attributes=attrs), attribute)
    common: list[str] | None = None
    for part in parts(blocks, where, attrs):
        refs = [aug.source_of(r) for r in part.manifest.records if aug.mask_of(r, attr) is not None]
        common = common_dirs(refs, common) if refs else common
    run = xm.MaskRun(storage, attr, fmt, PathNamer(common or []))
    writer = CocoWriter(dest, coco_info(where, attr.name)) if fmt == "coco" else None
    try:
        for part in parts(blocks, where, attrs):
            files: dict[str, bytes] = {}
            for line_no, rec in zip(part.manifest.lines, part.manifest.records, strict=True):
                found, image, anns = run.line(line_no, rec)
                files.update(found)
                if writer is not None and image is not None:
                    writer.add_image(image)
                    for ann in anns:
                        writer.add_annotation(ann)
            if files:
                dest.write(files)
        if writer is not None:
            writer.finish(run.categories())
        else:
            dest.write({xm.CLASSES_FILE: run.classes_file()})
    finally:
        if writer is not None:
            writer.close()
    return run.out

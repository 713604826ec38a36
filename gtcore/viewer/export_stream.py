"""Box exports (COCO, YOLO, Pascal VOC) and mask exports of a manifest of any size, in bounded memory (issue 28).

The file is read three times as a stream, ``CHUNK_LINES`` lines at a time, never whole:

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
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gtcore.core.errors import GTError, ManifestError, Problem, ValidationError
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.manifests.label_values import names_from_maps, tally_class_maps
from gtcore.storage.local import LocalStore
from gtcore.storage.streamed import LocalWrite
from gtcore.viewer import export, export_lint
from gtcore.viewer.export_lint import LintIssue, LintReport
from gtcore.viewer.index import parse_chunk

CHUNK_LINES = 20_000
Blocks = Callable[[], Iterable[bytes]]  # a fresh stream of the file's bytes, once per pass


def line_chunks(blocks: Iterable[bytes], size: int) -> Iterator[tuple[int, list[bytes]]]:
    """(first line number, raw lines) of ``size`` lines each, from a stream of byte blocks."""
    first, raw, pending = 1, [], b""
    for block in blocks:
        parts = (pending + block).split(b"\n")
        pending = parts.pop()
        for line in parts:
            raw.append(line + b"\n")
            if len(raw) == size:
                yield first, raw
                first, raw = first + size, []
    if pending:
        raw.append(pending)
    if raw:
        yield first, raw


@dataclass
class Part:
    manifest: AugmentedManifest  # this part's records, with their line numbers in the file
    pos: int  # position of its first record in the whole file


def parts(blocks: Blocks, where: str, attrs: list[LabelAttribute], problems: list[Problem] | None = None
          ) -> Iterator[Part]:  # fmt: skip

    pos = 0
    for first, raw in line_chunks(blocks(), CHUNK_LINES):
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
        c = self.changes
        return (
            f"{self.format}: {self.files} file(s); {self.images} images, {self.boxes} boxes exported; "
            f"{len(self.report.issues)} issue(s) found; {c['boxes clipped']} boxes clipped, {c['boxes dropped']} "
            f"boxes dropped, {c['lines dropped']} lines dropped, {c['confidences left out']} confidences left out"
        )


def survey_file(blocks: Blocks, where: str) -> tuple[list[LabelAttribute], dict, int, list[Problem]]:
    """The file's attributes, class maps per attribute, number of records and unreadable lines (pass 1)."""
    problems: list[Problem] = []
    tally: aug.AttributeTally = {}
    maps: dict[str, dict[Any, int]] = {}
    records = 0
    for part in parts(blocks, where, [], problems):
        records += len(part.manifest.records)
        aug.tally_attributes(part.manifest.records, tally)
        for name in tally:
            tally_class_maps(part.manifest.records, name, maps.setdefault(name, {}))
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
            common = export.common_dirs(refs, common)
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
    """Export ``attribute`` of the manifest read by ``blocks`` as ``fmt`` into ``dest`` (a ``FolderSink`` or
    ``StorageSink``); ``on_report`` sees the linter's report before anything is written; ``survey``: what
    :func:`survey` said of this file already (saves its pass)."""
    if fmt not in export.FORMATS:
        raise GTError(f"unknown export format {fmt!r}: choose one of {', '.join(export.FORMATS)}")
    if on_problems not in export_lint.MODES:
        raise GTError(f"unknown problem handling {on_problems!r}: choose one of {', '.join(export_lint.MODES)}")
    attrs, maps, records, problems = survey or survey_file(blocks, where)
    if not records:
        raise ManifestError(problems[:1000] or [Problem("the manifest is empty", where)],
                            summary=f"{where}: nothing to show")  # fmt: skip
    stub = AugmentedManifest(uri=where, records=[], lines=[], attributes=attrs)
    attr = export.object_detection_attribute(stub, attribute)
    names = names_from_maps(maps.get(attr.name, {}))
    report, per_part, common = lint_stream(blocks, where, attr, attrs)
    if on_report is not None:
        on_report(report)
    if on_problems == "abort" and report.issues:
        msg = (
            f"{where or 'manifest'}: {len(report.issues)} issue(s) found by the export linter; "
            "nothing was exported (choose fix or drop, or correct the manifest)"
        )
        raise ValidationError(report.problems(), summary=msg)
    out = StreamExport(fmt, report, problems=problems)
    namer = export.PathNamer(common)
    used: set[int] = set(names)
    info = {"description": f"{where} attribute {attr.name}, exported by gtcore".strip(), "version": "1.0",
            "date_created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}  # fmt: skip
    writer = CocoWriter(dest, info) if fmt == "coco" else None
    try:
        for part, issues in zip(parts(blocks, where, attrs), per_part, strict=True):
            rep = LintReport(attr.name, where, issues, 0, 0)
            res = export_lint.resolve(part.manifest, attr, on_problems, rep, names)
            out.changes.update(res.changes)
            out.images += len(res.images)
            out.boxes += sum(len(i.boxes) for i in res.images)
            used.update(b.class_id for i in res.images for b in i.boxes)
            paths = [namer(i.source_ref) for i in res.images]
            if writer is not None:
                _add_boxes(writer, res.images, paths)
            else:
                files = _yolo(res, paths) if fmt == "yolo" else _voc(res, paths)
                dest.write(files)
                out.files += len(files)
        if writer is not None:
            writer.finish([{"id": c + 1, "name": names.get(c, f"class_{c}"), "supercategory": "", "gt_class_id": c}
                           for c in sorted(used)])  # fmt: skip
            out.files = 1
        elif fmt == "yolo":
            top = max(used) if used else -1
            classes = [names.get(c, f"class_{c}").replace("\n", " ") for c in range(top + 1)]
            dest.write({"classes.txt": "".join(n + "\n" for n in classes).encode("utf-8")})
            out.files += 1
    finally:
        if writer is not None:
            writer.close()
    return out


def _yolo(res: export_lint.Resolution, paths: list[str]) -> dict[str, bytes]:
    files = export.to_yolo(dataclasses.replace(res, class_names={}), paths)
    files.pop("classes.txt", None)
    return files


def _voc(res: export_lint.Resolution, paths: list[str]) -> dict[str, bytes]:
    return export.to_voc(res, paths)


class CocoWriter:
    """``annotations.json`` written as it goes: the images in place, the annotations through a temporary file
    appended after them, then the categories; byte for byte what ``json.dumps`` of the whole document gives."""

    def __init__(self, dest: Any, info: dict[str, Any]) -> None:
        self.dest = dest
        self.main = tempfile.NamedTemporaryFile("wb", delete=False, suffix=".coco.json")  # noqa: SIM115
        self.anns = tempfile.NamedTemporaryFile("w+b", suffix=".anns.json")  # noqa: SIM115
        self.n_images = self.n_anns = 0
        self.main.write(b'{"info":' + _dumps(info) + b',"licenses":[],"images":[')

    def add_image(self, doc: dict[str, Any]) -> None:
        self.n_images += 1
        self.main.write((b"," if self.n_images > 1 else b"") + _dumps(doc))

    def add_annotation(self, doc: dict[str, Any]) -> None:
        self.n_anns += 1
        self.anns.write((b"," if self.n_anns > 1 else b"") + _dumps(doc))

    def finish(self, categories: list[dict[str, Any]]) -> None:
        self.main.write(b'],"annotations":[')
        self.anns.flush()
        self.anns.seek(0)
        while block := self.anns.read(1 << 20):
            self.main.write(block)
        self.main.write(b'],"categories":' + _dumps(categories) + b"}")
        self.main.close()
        self.dest.write_file(export.COCO_FILE, Path(self.main.name))

    def close(self) -> None:
        self.anns.close()
        self.main.close()
        Path(self.main.name).unlink(missing_ok=True)


def _add_boxes(writer: CocoWriter, images: list[export_lint.CleanImage], paths: list[str]) -> None:
    for img, path in zip(images, paths, strict=True):
        writer.add_image({"id": writer.n_images + 1, "file_name": path, "width": round(img.width),
                          "height": round(img.height), "coco_url": img.source_ref, "gt_line": img.line})  # fmt: skip
        for b in img.boxes:
            writer.add_annotation(export.coco_annotation(writer.n_anns + 1, writer.n_images, b))


def export_masks_stream(blocks: Blocks, where: str, storage: Any, fmt: str, dest: Any, *,
                        attribute: str | None = None, survey: Any = None) -> Any:  # fmt: skip
    """A semantic-segmentation attribute's masks (``export_masks``' files) from a file read as a stream: one pass
    for the folders the images share, one to write (PNG files part by part; COCO through :class:`CocoWriter`)."""
    from gtcore.viewer import export_masks as xm

    attrs, _maps, records, problems = survey or survey_file(blocks, where)
    if not records:
        raise ManifestError(problems[:1000] or [Problem("the manifest is empty", where)],
                            summary=f"{where}: nothing to show")  # fmt: skip
    attr = xm.segmentation_attribute(AugmentedManifest(uri=where, records=[], lines=[], attributes=attrs), attribute)
    common: list[str] | None = None
    for part in parts(blocks, where, attrs):
        refs = [aug.source_of(r) for r in part.manifest.records if aug.mask_of(r, attr) is not None]
        common = export.common_dirs(refs, common) if refs else common
    run = xm.MaskRun(storage, attr, fmt, export.PathNamer(common or []))
    writer = CocoWriter(dest, xm.coco_info(where, attr.name)) if fmt == "coco" else None
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


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class FolderSink:
    """Files written below a local folder, each atomically (``export.write_folder``)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).resolve()

    def write(self, files: dict[str, bytes]) -> None:
        export.write_folder(files, self.folder)

    def write_file(self, name: str, path: Path) -> None:
        target = (self.folder / name).resolve()
        if self.folder not in target.parents:
            raise GTError(f"refusing to write {name!r} outside {self.folder}")
        w = LocalWrite(LocalStore((str(self.folder),)), str(target), str(path))  # temp file + rename, as the store
        try:
            w.publish(str(target), False)
        finally:
            w.discard()


class StorageSink:
    """Files written below a storage URI (local roots / allowed buckets apply); large files streamed up."""

    def __init__(self, storage: Any, dest: str) -> None:
        self.storage, self.dest = storage, dest

    def write(self, files: dict[str, bytes]) -> None:
        export.write_storage(self.storage, files, self.dest)

    def write_file(self, name: str, path: Path) -> None:
        self.storage.write_file(self.storage.join(self.dest, *name.split("/")), path)

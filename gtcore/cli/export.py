"""`gtcore export`: an output manifest's boxes as COCO, YOLO or Pascal VOC files; masks as COCO RLE or PNG."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from gtcore.core.errors import GTError, ObjectNotFound

MAX_ISSUES_SHOWN = 20


def register(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="export an object-detection attribute of an output manifest to COCO, YOLO or Pascal VOC",
        description=(
            "Lint, then export the boxes of one object-detection label attribute. COCO goes to "
            "DEST/annotations.json; YOLO to DEST/classes.txt and DEST/labels/<image>.txt; Pascal VOC to "
            "DEST/Annotations/<image>.xml. The linter lists zero/negative-size boxes, boxes outside the "
            "image, class ids missing from the class-map, NaN or non-numbers, missing image_size and "
            "duplicate source-refs; --on-problems says what to do about them. MANIFEST and DEST are local "
            "paths (this command runs as the operator) or s3:// URIs (GT_S3_ENDPOINT_URL, GT_ALLOWED_BUCKETS)."
        ),
    )
    p.add_argument(
        "--format",
        required=True,
        choices=("coco", "yolo", "voc", "png", "conll", "spacy", "jsonl", "csv"),
        help="the export format (a semantic-segmentation attribute: coco, with RLE masks, or png; named entities: "
        "conll or spacy; text classification: jsonl or csv)",
    )
    p.add_argument(
        "--label-attribute",
        metavar="NAME",
        help="the attribute to export (default: the file's only object-detection attribute)",
    )
    p.add_argument(
        "--on-problems",
        choices=("abort", "fix", "drop"),
        default="abort",
        help="abort (default): export nothing if the linter finds anything; fix: clip boxes into the image "
        "and drop what clipping cannot repair; drop: drop every box or line with an issue",
    )
    p.add_argument("manifest", help="the output manifest: a local path or s3://bucket/key")
    p.add_argument("dest", help="the destination folder: a local path or s3://bucket/prefix")
    p.set_defaults(func=_export)


def _storage() -> Any:
    from gtcore.core.settings import Settings
    from gtcore.storage.store import Storage

    return Storage(Settings.from_env())


def _read(uri: str) -> tuple[bytes, str]:
    if uri.startswith("s3://"):
        return _storage().read_bytes(uri), uri
    path = Path(uri.removeprefix("file://")).expanduser().resolve()
    try:
        return path.read_bytes(), str(path)
    except FileNotFoundError:
        raise ObjectNotFound(f"{path} does not exist", str(path)) from None
    except OSError as exc:
        raise GTError(f"{path}: cannot read the manifest ({exc.strerror or exc})") from None


def _blocks(uri: str) -> Any:
    """A fresh stream of the manifest's bytes (local path or s3:// URI), once per pass of a streamed export."""
    if uri.startswith("s3://"):
        storage = _storage()
        return lambda: storage.chunks(uri)
    path = Path(uri.removeprefix("file://")).expanduser().resolve()

    def read() -> Any:
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise ObjectNotFound(f"{path} does not exist", str(path)) from None
        except OSError as exc:
            raise GTError(f"{path}: cannot read the manifest ({exc.strerror or exc})") from None
        with fh:
            while block := fh.read(1 << 20):
                yield block

    return read


def _where(uri: str) -> str:
    return uri if uri.startswith("s3://") else str(Path(uri.removeprefix("file://")).expanduser().resolve())


def _export(args: argparse.Namespace) -> int:
    from gtcore.manifests import augmented
    from gtcore.viewer import export_coco, export_sinks, export_stream

    if args.format in ("conll", "spacy", "jsonl", "csv"):
        data, where = _read(args.manifest)
        return _export_text(args, augmented.parse_augmented(data, where=where))
    blocks, where = _blocks(args.manifest), _where(args.manifest)
    survey = export_stream.survey_file(blocks, where)  # the first pass over the file: its attributes
    kinds = {a.name: a.type for a in survey[0]}
    wanted = kinds.get(args.label_attribute) if args.label_attribute else None
    only_masks = not args.label_attribute and augmented.OBJECT_DETECTION not in kinds.values()
    dest = args.dest.rstrip("/") if args.dest.startswith("s3://") else str(Path(args.dest).expanduser().resolve())
    sink = export_sinks.StorageSink(_storage(), dest) if dest.startswith("s3://") else export_sinks.FolderSink(dest)
    if wanted == augmented.SEMANTIC_SEGMENTATION or (only_masks and augmented.SEMANTIC_SEGMENTATION in kinds.values()):
        return _export_masks(args, blocks, where, survey, sink, dest)
    if args.format == "png":
        raise GTError("png exports the masks of a semantic-segmentation attribute; this one has boxes")

    def report(rep: Any) -> None:
        for problem in survey[3]:
            print(f"warning: {problem} (line skipped)", file=sys.stderr)
        if not args.label_attribute:
            print(f"label attribute: {rep.attribute} (the file's only object-detection attribute)", file=sys.stderr)
        _print_lint(rep)

    result = export_stream.export_stream(blocks, where, args.format, sink, attribute=args.label_attribute,
                                         on_problems=args.on_problems, on_report=report, survey=survey)  # fmt: skip
    print(result.summary().split("; ", 1)[1], file=sys.stderr)
    print(f"{dest}/{export_coco.COCO_FILE}" if args.format == "coco" else dest)
    return 0


def _print_lint(report: Any) -> None:
    counts = Counter(report.counts())
    if report.issues:
        shown = ", ".join(f"{n} {code}" for code, n in counts.items())
        print(f"linter: {len(report.issues)} issue(s): {shown}", file=sys.stderr)
        for issue in report.issues[:MAX_ISSUES_SHOWN]:
            print(f"  line {issue.line}: {issue.field}: {issue.code}: {issue.message}", file=sys.stderr)
        if len(report.issues) > MAX_ISSUES_SHOWN:
            print(f"  ... and {len(report.issues) - MAX_ISSUES_SHOWN} more", file=sys.stderr)
    else:
        print(f"linter: no issues in {report.lines} lines, {report.boxes} boxes", file=sys.stderr)


def _export_masks(args: argparse.Namespace, blocks: Any, where: str, survey: Any, sink: Any, dest: str) -> int:
    """A semantic-segmentation attribute, streamed: masks read through the store (GT_LOCAL_ROOTS / buckets apply)."""
    from gtcore.viewer import export_coco, export_masks, export_stream

    if args.format not in export_masks.MASK_FORMATS:
        raise GTError(f"a semantic-segmentation attribute exports as coco or png, not {args.format}")
    for problem in survey[3]:
        print(f"warning: {problem} (line skipped)", file=sys.stderr)
    result = export_stream.export_masks_stream(blocks, where, _storage(), args.format, sink,
                                               attribute=args.label_attribute, survey=survey)  # fmt: skip
    for line, why in result.skipped:
        print(f"warning: line {line}: {why} (left out)", file=sys.stderr)
    print(result.summary(), file=sys.stderr)
    print(f"{dest}/{export_coco.COCO_FILE}" if args.format == "coco" else dest)
    return 0


def _export_text(args: argparse.Namespace, manifest: Any) -> int:
    """A text attribute (``gtcore.viewer.export_text``): linted, then one file into DEST."""
    from gtcore.viewer import export_text as xt

    result = xt.export_text(manifest, args.label_attribute, args.format)
    for issue in result.issues[:MAX_ISSUES_SHOWN]:
        print(f"linter: line {issue.line}: {issue.code}: {issue.message} (left out)", file=sys.stderr)
    if len(result.issues) > MAX_ISSUES_SHOWN:
        print(f"linter: ... and {len(result.issues) - MAX_ISSUES_SHOWN} more", file=sys.stderr)
    dest = _write(result.files, args.dest)
    print(result.summary(), file=sys.stderr)
    print(f"{dest}/{next(iter(result.files))}")
    return 0


def _write(files: Any, dest: str) -> str:
    """Write the export's files to an S3 prefix or a local folder; the destination as printed."""
    from gtcore.viewer import export_sinks  # lazily, as the commands above (the export's libraries load on use)

    if dest.startswith("s3://"):
        export_sinks.write_storage(_storage(), files, dest)
        return dest.rstrip("/")
    folder = str(Path(dest).expanduser().resolve())
    export_sinks.write_folder(files, folder)
    return folder

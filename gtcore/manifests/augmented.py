"""Reading augmented (output) manifests: every label attribute, whatever the task type or era.

A label attribute is a key ``K`` whose line also holds ``K-metadata`` (a JSON object); its kind
comes from the metadata ``type`` (``groundtruth/object-detection`` ...) or, for files that lack it,
from the shape of the value. One file may hold several attributes: a job and the jobs chained on
it (an adjustment job adds ``adjustment-status`` to metadata of the original's type).

The reader is tolerant on purpose (an auditor must see a damaged file): values are never
"fixed", numbers stay as written, NaN/Infinity literals load (the export linter reports them),
lines that are not JSON objects are listed as problems with their line numbers and skipped.

    find_attributes(records) -> [LabelAttribute(name, type, count, output_type, adjustment, job_name)]
    read_augmented(storage, uri) / parse_augmented(data, where) -> AugmentedManifest
    boxes_of(record, attr) -> [Box(class_id, class_name, left, top, width, height, confidence, index)]
    classes_of(record, attr) -> [ClassLabel(class_id, class_name, confidence)]   (single and multi-label)
    mask_of(record, attr) -> SegMask(uri, classes) | None                         (semantic segmentation)
    image_size_of(record, attr) -> (width, height, depth) | None
    metadata_of(record, attr) -> {"human-annotated", "adjustment-status", "job-name", "creation-date", "type"}
    class_names(records, attr) -> {class_id: name}    (union of every line's class map)
    dumps_record(record) -> str                        (compact JSON like Ground Truth, round-trips)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gtcore.core.errors import ManifestError, NotFound, Problem
from gtcore.core.gcpause import gc_paused
from gtcore.manifests.label_values import (
    META_SUFFIX,
    Box,
    ClassLabel,
    SegMask,
    as_class_id,
    as_dict,
    as_list,
    as_number,
    boxes_of,
    class_names,
    classes_of,
    image_size_of,
    mask_of,
    metadata_of,
)

_FAST_LOADS: Callable[[str], Any] | None
try:  # optional: about 3x faster on 100,000-line files; the standard library parser is the reference
    from orjson import loads as _FAST_LOADS
except ImportError:  # pragma: no cover - depends on the installation
    _FAST_LOADS = None
# orjson turns integers beyond 64 bits into floats: a file with a run of 19+ digits is parsed by the standard
# library only. The check maps every digit to "0" and looks for 19 zeros in a row (one C pass, no regex).
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19

__all__ = [
    "AugmentedManifest", "Box", "ClassLabel", "LabelAttribute", "SegMask", "as_class_id", "as_dict", "as_list",
    "as_number", "boxes_of", "class_names", "classes_of", "dumps_record", "find_attributes", "image_size_of",
    "mask_of", "metadata_of", "parse_augmented", "read_augmented", "source_of",
]  # fmt: skip

OBJECT_DETECTION = "object-detection"
IMAGE_CLASSIFICATION = "image-classification"
MULTI_LABEL = "multi-label"
SEMANTIC_SEGMENTATION = "semantic-segmentation"
LABEL_VERIFICATION = "label-verification"
TEXT_CLASSIFICATION = "text-classification"
TEXT_MULTI_LABEL = "text-multi-label"
NAMED_ENTITY = "named-entity"
VIDEO = "video"
CUSTOM = "custom"
UNKNOWN = "unknown"

TYPE_KINDS: dict[str, str] = {
    "groundtruth/object-detection": OBJECT_DETECTION,
    "groundtruth/image-classification": IMAGE_CLASSIFICATION,
    "groundtruth/image-classification-multilabel": MULTI_LABEL,
    "groundtruth/semantic-segmentation": SEMANTIC_SEGMENTATION,
    "groundtruth/label-verification": LABEL_VERIFICATION,
    "groundtruth/text-classification": TEXT_CLASSIFICATION,
    "groundtruth/text-classification-multilabel": TEXT_MULTI_LABEL,
    "groundtruth/text-span": NAMED_ENTITY,
    "groundtruth/video-object-detection": VIDEO,
    "groundtruth/video-object-tracking": VIDEO,
    "groundtruth/custom": CUSTOM,
}
SINGLE_CLASS_KINDS = frozenset({IMAGE_CLASSIFICATION, LABEL_VERIFICATION, TEXT_CLASSIFICATION})
MULTI_CLASS_KINDS = frozenset({MULTI_LABEL, TEXT_MULTI_LABEL})


@dataclass(frozen=True)
class LabelAttribute:
    """One label attribute of a manifest. ``type`` is the kind (``object-detection`` ...)."""

    name: str
    type: str
    count: int  # lines that carry it
    output_type: str = ""  # the metadata "type" string as written (most common)
    adjustment: bool = False  # metadata holds adjustment-status: an adjustment job's output
    job_name: str = ""  # most common metadata job-name

    @property
    def label(self) -> str:
        kind = f"{self.type} adjustment" if self.adjustment else self.type
        return f"{self.name} ({kind}, {self.count} lines)"


@dataclass
class AugmentedManifest:
    """A parsed output manifest. ``lines[i]`` is the 1-based line number of ``records[i]``."""

    uri: str
    records: list[dict]
    lines: list[int]
    problems: list[Problem] = field(default_factory=list)
    attributes: list[LabelAttribute] = field(default_factory=list)
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)  # derived views (gtcore.viewer.table)

    def attribute(self, name: str) -> LabelAttribute:
        for a in self.attributes:
            if a.name == name:
                return a
        known = ", ".join(a.name for a in self.attributes) or "none"
        raise NotFound(f"{self.uri}: no label attribute {name!r} (attributes in the file: {known})")


def dumps_record(record: dict) -> str:
    """Compact JSON, raw UTF-8, as Ground Truth writes a line (``\\u003d`` escapes become ``=``)."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def _kind_from_shape(name: str, value: Any, meta: dict) -> str:
    if isinstance(value, dict):
        if isinstance(value.get("annotations"), list) and "image_size" in value:
            return OBJECT_DETECTION
        if isinstance(value.get("annotations"), dict):
            return NAMED_ENTITY
        return CUSTOM
    if isinstance(value, bool):
        return UNKNOWN
    if isinstance(value, int | str) and "class-name" in meta:
        return IMAGE_CLASSIFICATION
    if isinstance(value, list) and "class-map" in meta:
        return MULTI_LABEL
    if isinstance(value, str) and ("internal-color-map" in meta or name.endswith("-ref")):
        return SEMANTIC_SEGMENTATION
    return UNKNOWN


AttributeTally = dict[str, dict[tuple[str, str, str, bool], int]]  # name -> (type, kind, job, adjusted) -> lines


def find_attributes(records: Iterable[dict]) -> list[LabelAttribute]:
    """Every label attribute in ``records``, in order of first appearance, with its kind and line count."""
    return attributes_from_tally(tally_attributes(records, {}))


def tally_attributes(records: Iterable[dict], tally: AttributeTally) -> AttributeTally:
    """Add ``records`` to ``tally`` (a file read in chunks: one tally, then :func:`attributes_from_tally`)."""
    by_keys: dict[tuple[str, ...], list[str]] = {}  # lines share a handful of key layouts
    suffix = len(META_SUFFIX)
    for rec in records:
        layout = tuple(rec)
        names = by_keys.get(layout)
        if names is None:
            names = by_keys[layout] = [k[:-suffix] for k in layout if k.endswith(META_SUFFIX) and k[:-suffix] in rec]
        for name in names:
            meta = rec[name + META_SUFFIX]
            if type(meta) is not dict:
                continue
            raw_type = meta.get("type")
            raw_type = raw_type if type(raw_type) is str else ""
            kind = TYPE_KINDS.get(raw_type) or _kind_from_shape(name, rec[name], meta)
            job = meta.get("job-name")
            key = (raw_type, kind, job if type(job) is str else "", "adjustment-status" in meta)
            counts = tally.setdefault(name, {})
            counts[key] = counts.get(key, 0) + 1
    return tally


def attributes_from_tally(tally: AttributeTally) -> list[LabelAttribute]:
    out = []
    for name, counts in tally.items():

        def most(i: int, c: dict = counts) -> str:
            per: Counter[str] = Counter()
            for key, n in c.items():
                per[key[i]] += n
            return per.most_common(1)[0][0]

        out.append(
            LabelAttribute(
                name=name,
                type=most(1),
                count=sum(counts.values()),
                output_type=most(0),
                adjustment=any(key[3] for key in counts),
                job_name=most(2),
            )
        )
    return out


def parse_augmented(data: bytes | str, where: str = "") -> AugmentedManifest:
    """Parse a manifest's content; unreadable lines become problems (with line numbers), not errors.

    Raises:
        ManifestError: when not a single line could be read (empty file, not UTF-8, not JSON Lines).
    """
    problems: list[Problem] = []
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            problems.append(Problem(f"not UTF-8 at byte {exc.start} (undecodable bytes read as U+FFFD)", where, line))
            text = data.decode("utf-8", errors="replace")
    else:
        text = data
    text = text.removeprefix("\ufeff")
    raw_lines = text.split("\n")
    if raw_lines and raw_lines[-1] == "":
        raw_lines.pop()
    raw = data if isinstance(data, bytes) else data.encode("utf-8", errors="replace")
    fast = _FAST_LOADS if raw.translate(_DIGITS_TO_ZERO).find(_LONG_RUN) < 0 else None
    with gc_paused():
        records, numbers = _parse_lines(raw_lines, where, problems, fast)
    if not records:
        problems = problems or [Problem("the manifest is empty", where)]
        raise ManifestError(problems, summary=f"{where or 'manifest'}: nothing to show")
    return AugmentedManifest(
        uri=where, records=records, lines=numbers, problems=problems, attributes=find_attributes(records)
    )


def _parse_lines(
    raw_lines: list[str], where: str, problems: list[Problem], fast: Callable[[str], Any] | None
) -> tuple[list[dict], list[int]]:
    records: list[dict] = []
    numbers: list[int] = []
    loads = json.loads
    for i, raw in enumerate(raw_lines, start=1):
        if fast is not None:
            try:
                obj = fast(raw)
                if type(obj) is dict:
                    records.append(obj)
                    numbers.append(i)
                    continue
            except ValueError:
                pass  # NaN literals, blank lines, errors: the standard parser decides and words the problem
        if not raw.strip():
            problems.append(Problem("blank line", where, i))
            continue
        try:
            obj = loads(raw)
        except (ValueError, RecursionError) as exc:
            msg = (
                f"not valid JSON: {exc.msg} at column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else (f"not valid JSON: {exc}")
            )
            problems.append(Problem(msg, where, i))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(f"a manifest line must be a JSON object, got {type(obj).__name__}", where, i))
            continue
        records.append(obj)
        numbers.append(i)
    return records, numbers


def read_augmented(storage: Any, uri: str) -> AugmentedManifest:
    """Read and parse the manifest at ``uri`` through ``storage`` (which enforces the URI rules)."""
    return parse_augmented(storage.read_bytes(uri), where=uri)


def source_of(record: dict) -> str:
    """The line's ``source-ref`` (or inline ``source`` text for text tasks); "" when neither is a string."""
    v = record.get("source-ref", record.get("source"))
    return v if isinstance(v, str) else ""

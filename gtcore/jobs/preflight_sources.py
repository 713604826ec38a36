"""Input-manifest checks that depend on the task type: the attribute a verification or adjustment job works
on, and the object limit of semantic segmentation (groundtruth-reference.md 1.5-1.7, 9).

- Verification and adjustment jobs need the attribute they were chained from (or were told to verify) with
  ``<attr>-metadata.type`` of the right kind (object detection for the box types, semantic segmentation for
  the semseg ones) on every line that has it, and on at least one line. Lines without it (objects the earlier
  job left unlabeled) are allowed: their task says there is no earlier label.
- Semseg sources must carry the class colours (``internal-color-map`` with ``hex-color``); manifests from
  before those workflows lack them and are refused, as Ground Truth does.
- Semantic-segmentation jobs take at most 20,000 objects.
- Image types need ``source-ref`` on every line; text types a usable text (``gtcore.manifests.text_sources``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gtcore.core.errors import Problem
from gtcore.core.tasktypes import SOURCE_OUTPUT_TYPE, TaskType
from gtcore.manifests.text_sources import text_source_problems

MAX_SEMSEG_OBJECTS = 20_000  # Ground Truth's limit: Settings.max_segmentation_objects' default
_MAX_REPORTED = 50


def source_kind_problems(
    storage: Any,
    records: Sequence[Mapping[str, Any]],
    task_type: TaskType | None,
    uri: str,
    line_numbers: Sequence[int] | None = None,
) -> list[Problem]:
    """Lines whose source does not fit the task type: text for text types, an image URI for the others.

    ``line_numbers``: the file line of each record when some lines were left out (default: 1, 2, 3...).
    """
    if task_type is not None and task_type.text:
        return text_source_problems(records, storage, uri, line_numbers=line_numbers)
    return [
        Problem("image task types need source-ref (an image URI); this line has inline source text", uri, i + 1)
        for i, rec in enumerate(records)
        if "source-ref" not in rec
    ]


def source_problems(
    records: Sequence[Mapping[str, Any]],
    task_type: TaskType,
    attribute: str | None,
    uri: str,
    max_segmentation: int = MAX_SEMSEG_OBJECTS,
) -> list[Problem]:
    """Every line lacking what ``task_type`` needs (at most 50 reported, then a count)."""
    problems: list[Problem] = []
    if task_type.paints_mask and len(records) > max_segmentation:
        problems.append(
            Problem(
                f"the manifest has {len(records):,} objects; a semantic-segmentation job takes at most "
                f"{max_segmentation:,} (raised with GT_MAX_SEGMENTATION_OBJECTS)",
                uri,
            )
        )
    wanted = SOURCE_OUTPUT_TYPE.get(task_type.name)
    if wanted is None or not attribute:
        return problems
    if not any(attribute in line for line in records):
        problems.append(Problem(f"no line has the attribute {attribute!r} to work on", uri, field=attribute))
        return problems
    bad = 0
    for i, line in enumerate(records):
        if attribute not in line:
            continue
        why = _line_problem(line, attribute, wanted)
        if why is None:
            continue
        bad += 1
        if bad <= _MAX_REPORTED:
            problems.append(Problem(why, uri, i + 1, field=attribute))
    if bad > _MAX_REPORTED:
        problems.append(Problem(f"{bad - _MAX_REPORTED} more line(s) with the same kind of problem", uri))
    return problems


def _line_problem(line: Mapping[str, Any], attribute: str, wanted: str) -> str | None:
    meta = line.get(f"{attribute}-metadata")
    if attribute not in line or not isinstance(meta, Mapping):
        return f"the line has no {attribute!r} label (and {attribute}-metadata) to work on"
    if meta.get("type") != wanted:
        return f"{attribute}-metadata.type is {meta.get('type')!r}; this job works on {wanted} labels"
    if wanted == "groundtruth/semantic-segmentation":
        cmap = meta.get("internal-color-map")
        if not isinstance(cmap, Mapping) or not cmap:
            return f"{attribute}-metadata has no internal-color-map: the class colours are needed"
        for key, entry in cmap.items():
            if not isinstance(entry, Mapping) or not isinstance(entry.get("hex-color"), str):
                return f"{attribute}-metadata.internal-color-map[{key!r}] has no hex-color"
        if not isinstance(line.get(attribute), str):
            return f"{attribute} must be the URI of the mask PNG"
    elif not isinstance(line.get(attribute), Mapping):
        return f"{attribute} must hold the boxes (image_size and annotations)"
    return None

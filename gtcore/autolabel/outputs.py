"""Machine-label records and the ``activelearning/``, ``training/``, ``inference/`` folders of a job's output tree.

A machine label is exactly a human one (groundtruth-reference.md section 1, the key order of
``gtcore.output.records``; a machine mask is a palette PNG written by the same code as people's consolidated masks,
``records_segmentation.mask_file``, under ``annotations/consolidated-annotation/output/``) with
``"human-annotated":"no"`` and the model's confidence (rounded to 2 decimals, like Ground Truth's). Folders (section
2; only jobs with automated data labeling have them), per iteration N:

    training/<N>/train.manifest          the human-labeled lines the model was trained on (input line + label)
    training/<N>/model.npz               the saved model (``gtcore.autolabel.models``; its URI is the job's
                                         FinalActiveLearningModelArn once it is the latest)
    training/<N>/metrics.json            trained-on count, validation size, threshold, metric, seconds
    activelearning/<N>/validation/input.manifest              the validation lines with their human labels
    activelearning/<N>/validation/auto_annotator_output.txt   the model's label for each: "<id> <JSON>"
    activelearning/<N>/validation/masks/<id>.png              (semantic segmentation) the model's masks
    activelearning/<N>/auto-annotation/input.manifest         the lines the model labeled
    activelearning/<N>/auto-annotation/auto_annotator_output.txt   their machine labels: "<id> <JSON>"
    inference/<N>/input.manifest          every line sent to inference
    inference/<N>/output.jsonl            {"datasetObjectId","prediction","confidence"} for each

``<JSON>`` is an output-manifest-style object with ``<attr>`` and ``<attr>-metadata`` (with ``creation-date``),
as the reference describes for ``auto_annotator_output.txt``. Every file is written whole (tmp then rename), so a
retried step rewrites the same names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gtcore.autolabel.detector import Labeled
from gtcore.context import Context
from gtcore.manifests.jsonl import dumps_line
from gtcore.output import records_segmentation as seg_records
from gtcore.output.records import creation_date, job_name_value


def classification_record(
    attr: str, labels: Sequence[str], job_name: str, label: int, confidence: float, output_type: str
) -> dict[str, Any]:
    return {
        attr: int(label),
        f"{attr}-metadata": {
            "class-name": labels[label],
            "job-name": job_name_value(job_name),
            "confidence": round(float(confidence), 2),
            "type": output_type,
            "human-annotated": "no",
            "creation-date": creation_date(),
        },
    }


def boxes_record(
    attr: str,
    labels: Sequence[str],
    job_name: str,
    boxes: Sequence[tuple[int, tuple[float, float, float, float], float]],
    size: tuple[int, int, int],
    output_type: str,
) -> dict[str, Any]:
    """``boxes`` = [(class index, (left, top, width, height), confidence)], in the image's pixels."""
    anns, confs, present = [], [], set()
    for label, (left, top, width, height), conf in boxes:
        present.add(label)
        anns.append(
            {
                "class_id": int(label),
                "top": int(round(top)),
                "left": int(round(left)),
                "height": int(round(height)),
                "width": int(round(width)),
            }
        )
        confs.append({"confidence": round(float(conf), 2)})
    return {
        attr: {"image_size": [{"width": size[0], "height": size[1], "depth": size[2]}], "annotations": anns},
        f"{attr}-metadata": {
            "objects": confs,
            "class-map": {str(c): labels[c] for c in sorted(present)},
            "type": output_type,
            "human-annotated": "no",
            "creation-date": creation_date(),
            "job-name": job_name_value(job_name),
        },
    }


def mask_record(
    attr: str, labels: Sequence[str], job_name: str, uri: str, confidence: float, output_type: str, created: str
) -> dict[str, Any]:
    """A machine mask's record: a human semseg record (``records_segmentation.mask_record``, same keys, same
    ``internal-color-map``) with ``"human-annotated":"no"`` and the model's confidence."""
    return seg_records.mask_record(
        attr,
        uri,
        labels,
        round(float(confidence), 2),
        output_type=output_type,
        job=job_name_value(job_name),
        created=created,
        human="no",
    )


def human_label(record: Mapping[str, Any], attr: str, labels: Sequence[str], *, masks: bool = False) -> Any:
    """The label in a consolidated record: a class index, a list of ``Labeled`` boxes, or (``masks``) the URI of
    the consolidated mask PNG; None if unusable."""
    value = record.get(attr)
    if masks:
        return value if isinstance(value, str) and value else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | str) and str(value).isdigit():
        idx = int(value)
        return idx if 0 <= idx < len(labels) else None
    if isinstance(value, Mapping):
        out = []
        for a in value.get("annotations") or []:
            try:
                cid = int(a["class_id"])
                box = (float(a["left"]), float(a["top"]), float(a["width"]), float(a["height"]))
            except (KeyError, TypeError, ValueError):
                return None
            if 0 <= cid < len(labels) and box[2] > 0 and box[3] > 0:
                out.append(Labeled(cid, box))
        return out
    return None


def augmented(line_json: str, record: Mapping[str, Any]) -> str:
    merged = json.loads(line_json)
    merged.update(record)
    return dumps_line(merged)


def write_lines(ctx: Context, uri: str, lines: Sequence[str]) -> None:
    ctx.storage.write_text(uri, "".join(x.rstrip("\n") + "\n" for x in lines))


def annotator_lines(records: Mapping[int, Mapping[str, Any]]) -> list[str]:
    """``auto_annotator_output.txt`` lines: ``<datasetObjectId> <JSON>``."""
    return [f"{idx} {dumps_line(dict(rec))}" for idx, rec in sorted(records.items())]


def folder_uri(ctx: Context, job_folder: str, *parts: str) -> str:
    return ctx.storage.join(job_folder, *parts)

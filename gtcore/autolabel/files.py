"""Writing one iteration's ``training/``, ``activelearning/`` and ``inference/`` files (layout: ``outputs``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from gtcore.autolabel import loop, outputs, rules
from gtcore.autolabel.segmenter import SegPrediction
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import tasktypes
from gtcore.output import records_segmentation as seg_records
from gtcore.output.image_sizes import image_info_reader
from gtcore.output.records import creation_date
from gtcore.output.records_text import text_single_metadata

O = dbm.objects  # noqa: E741
Size = tuple[int, int, int]


def image_size(ctx: Context, line: str) -> Size | None:
    """(width, height, depth) of an input line's image, from its header (None if it cannot be read)."""
    im = image_info_reader(ctx.storage)(json.loads(line))
    return None if im is None or not im.width or not im.height else (int(im.width), int(im.height), int(im.depth))


def record(
    ctx: Context, f: loop.JobFacts, idx: int, pred: Any, conf: float, size: Size | None,
    *, mask_uri: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The machine label's record; a mask's palette PNG is written first (at ``mask_uri``, by default where people's
    consolidated masks go: ``annotations/consolidated-annotation/output/<idx>_<timestamp>.png``)."""
    out_type = tasktypes.get(f.task_type).output_type
    if f.task_type == "SemanticSegmentation":
        created = creation_date()
        uri, data = seg_records.mask_file(f.folder, idx, pred.full(), f.labels, created)
        ctx.storage.write_bytes(mask_uri or uri, data)
        return outputs.mask_record(f.attr, f.labels, f.name, mask_uri or uri, conf, out_type, created)
    if f.task_type == "BoundingBox":
        return outputs.boxes_record(f.attr, f.labels, f.name, pred, size or (0, 0, 3), out_type)
    rec = outputs.classification_record(f.attr, f.labels, f.name, int(pred), conf, out_type)
    if tasktypes.get(f.task_type).text:  # the text-classification key order (gtcore.output.records_text)
        rec[f"{f.attr}-metadata"] = text_single_metadata(rec[f"{f.attr}-metadata"])
    return rec


def write_training_files(
    ctx: Context, f: loop.JobFacts, n: int, train_items: list, val_items: list, preds: dict, th: rules.Threshold,
    trained_on: int, seconds: float, compared: list | None = None,
) -> None:  # fmt: skip
    """``compared``: each candidate model's name, threshold, bound and coverage on the validation set (the first
    with the most coverage is the round's model)."""
    tr = outputs.folder_uri(ctx, f.folder, "training", str(n))
    outputs.write_lines(ctx, ctx.storage.join(tr, "train.manifest"), [line for _, _, _, line in train_items])
    metrics = {
        "iteration": n,
        "trainedOn": trained_on,
        "validationObjects": len(val_items),
        "metric": rules.target_for(f.task_type)[0],
        "target": rules.target_for(f.task_type)[1],
        "confidence": rules.CONFIDENCE,
        "threshold": th.value,
        "validationMetricAtThreshold": th.metric,
        "lowerBoundAtThreshold": th.bound,
        "validationCovered": th.covered,
        "trainingSeconds": round(seconds, 3),
        "candidates": compared or [],
    }
    ctx.storage.write_text(ctx.storage.join(tr, "metrics.json"), json.dumps(metrics, indent=1) + "\n")
    al = outputs.folder_uri(ctx, f.folder, "activelearning", str(n), "validation")
    outputs.write_lines(ctx, ctx.storage.join(al, "input.manifest"), [line for _, _, _, line in val_items])
    boxes = f.task_type == "BoundingBox"
    records = {}
    for i, (p, c) in preds.items():
        idx, line = val_items[i][0], val_items[i][3]
        size = image_size(ctx, line) if boxes else None
        if boxes and size is None:
            continue  # no record with a null image size: the image's header could not be read
        records[idx] = record(ctx, f, idx, p, c, size, mask_uri=ctx.storage.join(al, "masks", f"{idx}.png"))
    outputs.write_lines(ctx, ctx.storage.join(al, "auto_annotator_output.txt"), outputs.annotator_lines(records))


def write_inference_files(
    ctx: Context, f: loop.JobFacts, n: int, lines: list, labeled: list, scored: list, machine: list
) -> None:
    inf = outputs.folder_uri(ctx, f.folder, "inference", str(n))
    outputs.write_lines(ctx, ctx.storage.join(inf, "input.manifest"), lines)
    out = [
        json.dumps(
            {"datasetObjectId": str(idx), "prediction": _plain(pred), "confidence": round(conf, 4)},
            separators=(",", ":"),
        )
        for idx, conf, pred in scored
    ]
    outputs.write_lines(ctx, ctx.storage.join(inf, "output.jsonl"), out)
    al = outputs.folder_uri(ctx, f.folder, "activelearning", str(n), "auto-annotation")
    by_idx = {idx: line for idx, line in _lines_of(ctx, f.id, [i for i, _, _ in machine])}
    outputs.write_lines(ctx, ctx.storage.join(al, "input.manifest"), [by_idx[i] for i, _, _ in machine if i in by_idx])
    outputs.write_lines(
        ctx, ctx.storage.join(al, "auto_annotator_output.txt"), outputs.annotator_lines({i: r for i, _, r in machine})
    )


def _plain(pred: Any) -> Any:
    if isinstance(pred, SegPrediction):
        return pred.summary()
    if isinstance(pred, list):
        return [
            {"label": lab, "left": b[0], "top": b[1], "width": b[2], "height": b[3], "score": round(s, 4)}
            for lab, b, s in pred
        ]
    return pred


def _lines_of(ctx: Context, job_id: int, idxs: list[int]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    with ctx.db.read() as conn:
        for k in range(0, len(idxs), 500):
            out += [(int(i), str(line)) for i, line in conn.execute(
                select(O.c.idx, O.c.line_json).where(O.c.job_id == job_id, O.c.idx.in_(idxs[k : k + 500]))
            )]  # fmt: skip
    return sorted(out)

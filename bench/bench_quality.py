"""The bench's quality figures (``bench_autolabel.py``): machine labels by round, and accuracy / mean IoU /
precision and recall of output lines against the truth file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gtcore.autolabel.detector import Labeled, image_score, iou
from gtcore.autolabel.segmenter import mask_score
from gtcore.context import Context
from gtcore.core import db as dbm

SEMSEG = "SemanticSegmentation"


def machine_lines_by_round(ctx: Context, job_id: int) -> dict[int, list[dict]]:
    """Each round's machine labels as output lines (source-ref + record), from the stored labels."""
    o = dbm.objects
    out: dict[int, list[dict]] = {}
    with ctx.db.read() as conn:
        q = o.select().where(o.c.job_id == job_id, o.c.status == "machine")
        for r in conn.execute(q):
            out.setdefault(int(r.al_iteration), []).append(
                {"source-ref": r.source_ref, **json.loads(r.consolidated_json)}
            )
    return out


def box_stats(pairs: list[tuple[list[Labeled], list[Labeled]]]) -> tuple[float, float, float]:
    if not pairs:
        return float("nan"), float("nan"), float("nan")
    miou = sum(image_score(p, t) for p, t in pairs) / len(pairs)
    tp = n_pred = n_true = 0
    for pred, truth in pairs:
        n_pred += len(pred)
        n_true += len(truth)
        used: set[int] = set()
        for p in pred:
            best = max(
                (j for j, t in enumerate(truth) if j not in used and t.label == p.label and iou(p.box, t.box) >= 0.5),
                key=lambda j: iou(p.box, truth[j].box),
                default=None,
            )
            if best is not None:
                used.add(best)
                tp += 1
    return miou, tp / n_pred if n_pred else float("nan"), tp / n_true if n_true else float("nan")


def quality(lines: list[dict], attr: str, truth: dict, labels: list[str], task_type: str, machine: bool) -> str:
    chosen = [x for x in lines if attr in x and (x[f"{attr}-metadata"]["human-annotated"] == "no") == machine]
    if task_type == SEMSEG:
        from PIL import Image

        ious = [
            mask_score(
                np.asarray(Image.open(x[attr])), np.asarray(Image.open(truth[Path(x["source-ref"]).name]["mask"]))
            )
            for x in chosen
        ]
        return f"mean IoU {np.mean(ious):.4f} over {len(ious)} images" if ious else "mean IoU n/a (none)"
    if task_type == "ImageClassification":
        right = sum(labels[int(x[attr])] == str(truth[Path(x["source-ref"]).name]) for x in chosen)
        return f"accuracy {right / len(chosen):.4f} ({right}/{len(chosen)})" if chosen else "accuracy n/a (none)"
    idx = {lab: i for i, lab in enumerate(labels)}
    pairs = []
    for x in chosen:
        pred = [Labeled(a["class_id"], (a["left"], a["top"], a["width"], a["height"])) for a in x[attr]["annotations"]]
        t = [
            Labeled(idx[b["label"]], (b["left"], b["top"], b["width"], b["height"]))
            for b in truth[Path(x["source-ref"]).name]
        ]
        pairs.append((pred, t))
    miou, prec, rec = box_stats(pairs)
    return f"mean IoU {miou:.4f}, precision@0.5 {prec:.4f}, recall@0.5 {rec:.4f} over {len(pairs)} images"

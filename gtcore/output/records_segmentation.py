"""Semantic-segmentation output records (and their PNGs), as Ground Truth writes them (groundtruth-reference.md 1.5).

For each object with answers: the workers' colour PNGs (``crowd-semantic-segmentation.labeledImage.pngImageData``)
are turned into class-index masks with the job's colours, consolidated by ``gtcore.consolidation.segmentation.vote``
and encoded as Ground Truth's palette PNG (``gtcore.output.mask_png``). The record, in the key order of
``realdata/semseg-pcb/output.manifest``::

    "<attr>": "<job folder>/annotations/consolidated-annotation/output/<idx>_<YYYY-MM-DDTHH:MM:SS.ffffff>.png"
    "<attr>-metadata": {"internal-color-map": {"0": {"class-name": "BACKGROUND", "hex-color": "#ffffff",
                        "confidence": c}, "1": {...}, ...}, "type": "groundtruth/semantic-segmentation",
                        "human-annotated": "yes", "creation-date": ..., "job-name": "labeling-job/<name>"}

``internal-color-map`` lists every class of the job (BACKGROUND and each label), all with the image's one
confidence. Adjustment jobs add ``"adjustment-status"``: ``adjusted`` when at least one worker changed the mask
(``initialValueModified``, set when the answer is taken), else ``unadjusted``; the PNG is written either way.
The PNG bytes go into ``files`` (URI -> bytes); the caller (``gtcore.output.writer``) stores them before the
manifest that points at them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gtcore.consolidation.segmentation import vote
from gtcore.core.colors import SEMSEG_BACKGROUND, semseg_colors
from gtcore.output.mask_png import MaskError, decode_color_png, decode_index_png, encode_palette_png, png_from_base64

PNG_DIR = "annotations/consolidated-annotation/output"


def class_names(labels: Sequence[str]) -> list[str]:
    return [SEMSEG_BACKGROUND, *labels]


def color_map(labels: Sequence[str], confidence: Any) -> dict[str, dict[str, Any]]:
    colors = semseg_colors(list(labels))
    return {
        str(i): {"class-name": name, "hex-color": colors[i], "confidence": confidence}
        for i, name in enumerate(class_names(labels))
    }


def png_uri(folder: str, idx: int, timestamp: str) -> str:
    return f"{folder.rstrip('/')}/{PNG_DIR}/{idx}_{timestamp}.png"


def mask_file(folder: str, idx: int, mask: np.ndarray, labels: Sequence[str], timestamp: str) -> tuple[str, bytes]:
    """(URI, palette PNG bytes) of an object's mask: people's consolidated masks and the model's machine masks."""
    return png_uri(folder, idx, timestamp), encode_palette_png(mask, semseg_colors(list(labels)))


def mask_record(
    attr: str, uri: str, labels: Sequence[str], confidence: Any, *, output_type: str, job: str, created: str, human: str
) -> dict[str, Any]:
    """``{"<attr>": uri, "<attr>-metadata": {...}}`` in Ground Truth's key order (``human``: "yes" or "no")."""
    meta: dict[str, Any] = {
        "internal-color-map": color_map(labels, confidence),
        "type": output_type,
        "human-annotated": human,
        "creation-date": created,
        "job-name": job,
    }
    return {attr: uri, f"{attr}-metadata": meta}


def worker_mask(body: Mapping[str, Any], labels: Sequence[str], field: str) -> np.ndarray:
    """One worker's ``crowd-semantic-segmentation`` body -> class indices; MaskError when unusable."""
    props = body.get("inputImageProperties")
    if not isinstance(props, Mapping):
        raise MaskError("missing: the image's width and height are required", f"{field}.inputImageProperties")
    size = (props.get("width"), props.get("height"))
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        raise MaskError(f"width and height must be positive integers, got {size}", f"{field}.inputImageProperties")
    labeled = body.get("labeledImage")
    if not isinstance(labeled, Mapping):
        raise MaskError("missing", f"{field}.labeledImage")
    data = png_from_base64(labeled.get("pngImageData"), f"{field}.labeledImage.pngImageData")
    w, h = int(size[0]), int(size[1])  # type: ignore[arg-type]
    return decode_color_png(data, semseg_colors(list(labels)), (w, h), f"{field}.labeledImage.pngImageData")


def segmentation_records(
    *,
    items: Sequence[Any],  # ObjectAnswers
    labels: Sequence[str],
    attr: str,
    job: str,
    output_type: str,
    element: str,
    adjustment: bool,
    folder: str,
    clock: Callable[[], str],
    files: dict[str, bytes],
    problem: Callable[[Any, str, str, str], None],
) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    n_classes = len(labels) + 1
    for it in items:
        masks, modified = [], False
        for a in it.answers:
            body = a.content.get(element) if isinstance(a.content, Mapping) else None
            if not isinstance(body, Mapping):
                problem(it, a.worker_id, element, f"answer has no {element!r} object")
                continue
            try:
                masks.append(worker_mask(body, labels, element))
            except MaskError as exc:
                problem(it, a.worker_id, exc.problems[0].field or element, exc.reason)
                continue
            modified = modified or body.get("initialValueModified") is True
        if not masks:
            continue
        if len({m.shape for m in masks}) > 1:
            problem(it, "(several)", element, f"the workers' masks differ in size: {sorted({m.shape for m in masks})}")
            continue
        result = vote(masks, n_classes)
        uri, files[uri] = mask_file(folder, it.idx, result.mask, labels, clock())
        rec = mask_record(
            attr, uri, labels, result.confidence, output_type=output_type, job=job, created=clock(), human="yes"
        )
        if adjustment:
            rec[f"{attr}-metadata"]["adjustment-status"] = "adjusted" if modified else "unadjusted"
        out[it.idx] = rec
    return out


# --------------------------------------------------------------------------- earlier masks (adjustment, viewer)


def source_mask(data: bytes, meta: Mapping[str, Any], labels: Sequence[str]) -> np.ndarray:
    """An earlier job's palette PNG -> class indices of a job with ``labels`` (by class name, via the PNG's
    ``internal-color-map``); classes the job lacks become BACKGROUND."""
    indices, _palette = decode_index_png(data)
    cmap = meta.get("internal-color-map") if isinstance(meta, Mapping) else None
    lut = np.zeros(256, dtype=np.uint8)
    names = class_names(labels)
    for key, entry in (cmap or {}).items():
        if not isinstance(entry, Mapping) or not str(key).isdigit() or int(key) > 255:
            continue
        name = entry.get("class-name")
        if name in names:
            lut[int(key)] = names.index(name)
    return lut[indices]

"""Export a semantic-segmentation attribute: COCO with RLE masks, or the PNG masks themselves.

    export_masks(storage, manifest, attribute, fmt) -> Export(files, resolution=None), with ``summary()``

- ``coco``: ``annotations.json``; one annotation per image and class present (BACKGROUND left out), its
  ``segmentation`` the class's pixels as COCO RLE made by pycocotools' mask API (``mask.encode``, counts as
  text), ``area`` and ``bbox`` from ``mask.area`` / ``mask.toBbox``; ``iscrowd`` 0. Category ids are the Ground
  Truth class indices (0 is BACKGROUND, so they already start at 1), each with its ``hex-color``.
- ``png``: ``masks/<image path>.png``, the label PNG exactly as stored (Ground Truth's palette PNG: pixel value
  = class index), and ``classes.json`` ``{"<index>": {"class-name", "hex-color"}}``.

Masks are read through the store (URI rules hold, at most 64 MB each) and decoded with the 100-megapixel
limit. A line whose mask cannot be read is left out and named in ``skipped`` (with why). pycocotools is
imported only for the COCO export (extra ``masks``).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from gtcore.core.errors import GTError
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.output.mask_png import decode_index_png
from gtcore.viewer.export import COCO_FILE, image_paths

MASK_FORMATS = ("coco", "png")
MAX_MASK_BYTES = 64 * 1024 * 1024
CLASSES_FILE = "classes.json"


@dataclass
class MaskExport:
    format: str
    files: dict[str, bytes]
    images: int = 0
    annotations: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (1-based line, why)

    def summary(self) -> str:
        left = f"; {len(self.skipped)} line(s) left out" if self.skipped else ""
        return f"{self.format}: {self.images} mask(s), {self.annotations} class region(s) exported{left}"


def segmentation_attribute(manifest: AugmentedManifest, name: str | None) -> LabelAttribute:
    masks = [a for a in manifest.attributes if a.type == aug.SEMANTIC_SEGMENTATION and (not name or a.name == name)]
    if not masks:
        raise GTError(f"{manifest.uri or 'the manifest'} has no semantic-segmentation attribute {name or ''}".strip())
    if len(masks) > 1:
        raise GTError(f"several semantic-segmentation attributes ({', '.join(a.name for a in masks)}): choose one")
    return masks[0]


def _rle(binary: np.ndarray) -> tuple[dict[str, Any], int, list[float]]:
    from pycocotools import mask as cocomask

    rle = cocomask.encode(np.asfortranarray(binary.astype(np.uint8)))
    area = int(cocomask.area(rle))
    bbox = [float(v) for v in cocomask.toBbox(rle)]
    counts = rle["counts"]
    return {"size": [int(v) for v in rle["size"]], "counts": counts.decode("ascii")}, area, bbox


def export_masks(storage: Any, manifest: AugmentedManifest, attribute: str | None, fmt: str) -> MaskExport:
    if fmt not in MASK_FORMATS:
        raise GTError(f"masks export as {' or '.join(MASK_FORMATS)}, not {fmt!r}")
    attr = segmentation_attribute(manifest, attribute)
    lines = [(i, rec) for i, rec in enumerate(manifest.records) if aug.mask_of(rec, attr) is not None]
    paths = image_paths([aug.source_of(rec) for _, rec in lines])
    out = MaskExport(fmt, {})
    classes: dict[int, dict[str, str]] = {}
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for (i, rec), path in zip(lines, paths, strict=True):
        seg = aug.mask_of(rec, attr)
        assert seg is not None
        line_no = manifest.lines[i]
        try:
            data = storage.read_bytes(seg.uri, max_bytes=MAX_MASK_BYTES)
            indices, palette = decode_index_png(data, field=seg.uri)
        except GTError as exc:
            out.skipped.append((line_no, str(exc)))
            continue
        for cid, (name, hexc, _conf) in seg.classes.items():
            classes.setdefault(cid, {"class-name": name, "hex-color": hexc or palette[cid % 256]})
        out.images += 1
        if fmt == "png":
            out.files["masks/" + posixpath.splitext(path)[0] + ".png"] = data
            continue
        h, w = indices.shape
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": path, "width": w, "height": h, "coco_url": aug.source_of(rec),
                       "mask_url": seg.uri})  # fmt: skip
        for cid in (int(c) for c in np.unique(indices) if c != 0):
            rle, area, bbox = _rle(indices == cid)
            classes.setdefault(cid, {"class-name": f"class_{cid}", "hex-color": palette[cid]})
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": cid, "segmentation": rle,
                         "area": area, "bbox": bbox, "iscrowd": 0})  # fmt: skip
    out.annotations = len(anns)
    if fmt == "png":
        doc: Any = {str(c): v for c, v in sorted(classes.items())}
        out.files[CLASSES_FILE] = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
        return out
    cats = [{"id": c, "name": v["class-name"], "supercategory": "", "gt_class_id": c, "hex_color": v["hex-color"]}
            for c, v in sorted(classes.items()) if c != 0]  # fmt: skip
    doc = {
        "info": {
            "description": f"{manifest.uri} attribute {attr.name}, exported by gtcore".strip(),
            "version": "1.0",
            "date_created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "licenses": [],
        "images": images,
        "annotations": anns,
        "categories": cats,
    }
    out.files[COCO_FILE] = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return out

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gtcore.core.errors import GTError
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.output.mask_png import decode_index_png
from gtcore.viewer.export_coco import COCO_FILE, coco_document, coco_info
from gtcore.viewer.export_paths import PathNamer, common_dirs

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


class MaskRun:
    """One mask export, fed line by line (the whole file, or a streamed file part by part): each line gives its
    files (PNG) or its COCO image and annotations; ``classes`` gathers the class names and colours."""

    def __init__(self, storage: Any, attr: LabelAttribute, fmt: str, namer: Callable[[str], str]) -> None:
        if fmt not in MASK_FORMATS:
            raise GTError(f"masks export as {' or '.join(MASK_FORMATS)}, not {fmt!r}")
        self.storage, self.attr, self.fmt, self.namer = storage, attr, fmt, namer
        self.out = MaskExport(fmt, {})
        self.classes: dict[int, dict[str, str]] = {}

    def line(self, line_no: int, rec: dict) -> tuple[dict[str, bytes], dict[str, Any] | None, list[dict[str, Any]]]:
        """(files, COCO image, COCO annotations) of one line with a mask (nothing when its mask cannot be read)."""
        seg = aug.mask_of(rec, self.attr)
        if seg is None:
            return {}, None, []
        path = self.namer(aug.source_of(rec))
        try:
            data = self.storage.read_bytes(seg.uri, max_bytes=MAX_MASK_BYTES)
            indices, palette = decode_index_png(data, field=seg.uri)
        except GTError as exc:
            self.out.skipped.append((line_no, str(exc)))
            return {}, None, []
        for cid, (name, hexc, _conf) in seg.classes.items():
            self.classes.setdefault(cid, {"class-name": name, "hex-color": hexc or palette[cid % 256]})
        self.out.images += 1
        if self.fmt == "png":
            return {"masks/" + posixpath.splitext(path)[0] + ".png": data}, None, []
        h, w = indices.shape
        image_id = self.out.images
        image = {"id": image_id, "file_name": path, "width": w, "height": h, "coco_url": aug.source_of(rec),
                 "mask_url": seg.uri}  # fmt: skip
        anns = []
        for cid in (int(c) for c in np.unique(indices) if c != 0):
            rle, area, bbox = _rle(indices == cid)
            self.classes.setdefault(cid, {"class-name": f"class_{cid}", "hex-color": palette[cid]})
            self.out.annotations += 1
            anns.append({"id": self.out.annotations, "image_id": image_id, "category_id": cid, "segmentation": rle,
                         "area": area, "bbox": bbox, "iscrowd": 0})  # fmt: skip
        return {}, image, anns

    def classes_file(self) -> bytes:
        doc: Any = {str(c): v for c, v in sorted(self.classes.items())}
        return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")

    def categories(self) -> list[dict[str, Any]]:
        return [{"id": c, "name": v["class-name"], "supercategory": "", "gt_class_id": c, "hex_color": v["hex-color"]}
                for c, v in sorted(self.classes.items()) if c != 0]  # fmt: skip


def export_masks(storage: Any, manifest: AugmentedManifest, attribute: str | None, fmt: str) -> MaskExport:
    """The whole export in memory (the page's zip; ``gtcore.viewer.export_stream`` streams large files)."""
    attr = segmentation_attribute(manifest, attribute)
    lines = [(manifest.lines[i], rec) for i, rec in enumerate(manifest.records) if aug.mask_of(rec, attr) is not None]
    run = MaskRun(storage, attr, fmt, PathNamer(common_dirs([aug.source_of(rec) for _, rec in lines])))
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for line_no, rec in lines:
        files, image, found = run.line(line_no, rec)
        run.out.files.update(files)
        images.extend([image] if image else [])
        anns.extend(found)
    if fmt == "png":
        run.out.files[CLASSES_FILE] = run.classes_file()
        return run.out
    run.out.files[COCO_FILE] = coco_document(coco_info(manifest.uri, attr.name), images, anns, run.categories())
    return run.out

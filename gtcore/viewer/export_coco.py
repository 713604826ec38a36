"""COCO's ``annotations.json``, one source for the box exports (whole file: :func:`to_coco`; streamed:
:class:`CocoWriter`) and the mask exports (:mod:`gtcore.viewer.export_masks`).

The document is ``{"info", "licenses": [], "images", "annotations", "categories"}`` written compactly
(:func:`coco_json`). For boxes, category ids are Ground Truth class ids + 1 (COCO tools treat 0 as background);
each category keeps ``gt_class_id``; ``images[].file_name`` is the export path (:mod:`gtcore.viewer.export_paths`),
``coco_url`` the source-ref, ``gt_line`` the manifest line; boxes are ``[left, top, width, height]`` exactly as in
the manifest (floats stay floats); the per-box ``confidence`` rides along as an extra key.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gtcore.viewer.export_paths import image_paths
from gtcore.viewer.export_resolution import CleanBox, CleanImage, Resolution

COCO_FILE = "annotations.json"


def coco_json(value: Any) -> bytes:
    """``value`` as COCO files are written: compact JSON, UTF-8 text as is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def coco_info(where: str, attribute: str) -> dict[str, str]:
    return {
        "description": f"{where} attribute {attribute}, exported by gtcore".strip(),
        "version": "1.0",
        "date_created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def coco_document(info: dict[str, Any], images: list[Any], annotations: list[Any], categories: list[Any]) -> bytes:
    """The whole ``annotations.json`` (:class:`CocoWriter` writes the same bytes piece by piece)."""
    doc = {"info": info, "licenses": [], "images": images, "annotations": annotations, "categories": categories}
    return coco_json(doc)


def coco_image(image_id: int, path: str, img: CleanImage) -> dict[str, Any]:
    """One COCO image of a box export: ``path`` is its export path."""
    return {"id": image_id, "file_name": path, "width": round(img.width), "height": round(img.height),
            "coco_url": img.source_ref, "gt_line": img.line}  # fmt: skip


def coco_annotation(ann_id: int, image_id: int, b: CleanBox) -> dict[str, Any]:
    """One COCO annotation of box ``b``: category id = Ground Truth class id + 1."""
    ann: dict[str, Any] = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": b.class_id + 1,
        "bbox": [b.left, b.top, b.width, b.height],
        "area": b.width * b.height,
        "iscrowd": 0,
        "segmentation": [],
    }
    if b.confidence is not None:
        ann["confidence"] = b.confidence
    return ann


def coco_categories(class_ids: set[int], names: dict[int, str]) -> list[dict[str, Any]]:
    """The categories of a box export: every class id used by a box or named by a class map, in order."""
    return [{"id": c + 1, "name": names.get(c, f"class_{c}"), "supercategory": "", "gt_class_id": c}
            for c in sorted(class_ids)]  # fmt: skip


def to_coco(res: Resolution, *, source: str = "") -> bytes:
    """The box export of a whole file in memory."""
    paths = image_paths([i.source_ref for i in res.images])
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for n, (img, path) in enumerate(zip(res.images, paths, strict=True), start=1):
        images.append(coco_image(n, path, img))
        for b in img.boxes:
            anns.append(coco_annotation(len(anns) + 1, n, b))
    used = {b.class_id for i in res.images for b in i.boxes} | set(res.class_names)
    return coco_document(coco_info(source, res.attribute), images, anns, coco_categories(used, res.class_names))


class CocoWriter:
    """``annotations.json`` written as it goes: the images in place, the annotations through a temporary file
    appended after them, then the categories; byte for byte what :func:`coco_document` gives."""

    def __init__(self, dest: Any, info: dict[str, Any]) -> None:
        self.dest = dest
        self.main = tempfile.NamedTemporaryFile("wb", delete=False, suffix=".coco.json")  # noqa: SIM115
        self.anns = tempfile.NamedTemporaryFile("w+b", suffix=".anns.json")  # noqa: SIM115
        self.n_images = self.n_anns = 0
        self.main.write(b'{"info":' + coco_json(info) + b',"licenses":[],"images":[')

    def add_image(self, doc: dict[str, Any]) -> None:
        self.n_images += 1
        self.main.write((b"," if self.n_images > 1 else b"") + coco_json(doc))

    def add_annotation(self, doc: dict[str, Any]) -> None:
        self.n_anns += 1
        self.anns.write((b"," if self.n_anns > 1 else b"") + coco_json(doc))

    def add_boxes(self, images: list[CleanImage], paths: list[str]) -> None:
        """The images of a box export and their boxes (``paths``: the images' export paths)."""
        for img, path in zip(images, paths, strict=True):
            self.add_image(coco_image(self.n_images + 1, path, img))
            for b in img.boxes:
                self.add_annotation(coco_annotation(self.n_anns + 1, self.n_images, b))

    def finish(self, categories: list[dict[str, Any]]) -> None:
        self.main.write(b'],"annotations":[')
        self.anns.flush()
        self.anns.seek(0)
        while block := self.anns.read(1 << 20):
            self.main.write(block)
        self.main.write(b'],"categories":' + coco_json(categories) + b"}")
        self.main.close()
        self.dest.write_file(COCO_FILE, Path(self.main.name))

    def close(self) -> None:
        self.anns.close()
        self.main.close()
        Path(self.main.name).unlink(missing_ok=True)

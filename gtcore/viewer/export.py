"""Export an object-detection attribute to COCO, YOLO or Pascal VOC (always after the linter).

    export_files(manifest, attribute, fmt, on_problems) -> Export(files, resolution)
    export_sinks.zip_bytes(files) -> bytes          # the download the viewer page offers
    export_sinks.write_folder(files, dest) / export_sinks.write_storage(storage, files, dest_uri)

Layout of the files (paths relative to the destination folder; image paths from
:mod:`gtcore.viewer.export_paths`):

- ``coco``: ``annotations.json`` (instances format, :mod:`gtcore.viewer.export_coco`).
- ``yolo``: ``classes.txt`` (line n = name of Ground Truth class id n; ids missing from every
  class-map are ``class_<n>``) and ``labels/<image path>.txt`` with ``class cx cy w h`` normalised
  to the image size, 6 decimals; an image without boxes gets an empty file.
- ``voc``: ``Annotations/<image path>.xml`` per image; corners rounded to whole pixels
  (``xmin = round(left)``, ``xmax = round(left + width)``, 0-based), ``truncated`` = 1 for a box the
  fix-by-clipping choice clipped.

Nothing is half-written: files are built in memory, then each is written atomically
(:mod:`gtcore.viewer.export_sinks`).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from gtcore.core.errors import GTError
from gtcore.core.gcpause import gc_paused
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.viewer.export_coco import COCO_FILE, to_coco
from gtcore.viewer.export_paths import image_paths
from gtcore.viewer.export_resolution import CleanImage, Resolution, resolve

FORMATS = ("coco", "yolo", "voc")


@dataclass
class Export:
    format: str
    files: dict[str, bytes]  # relative path -> content
    resolution: Resolution

    def summary(self) -> str:
        return f"{self.format}: {len(self.files)} file(s); {self.resolution.summary()}"


def object_detection_attribute(manifest: AugmentedManifest, name: str | None = None) -> LabelAttribute:
    """The attribute to export: ``name``, or the file's only object-detection attribute."""
    if name:
        attr = manifest.attribute(name)
        if attr.type != aug.OBJECT_DETECTION:
            raise GTError(f"{name} is a {attr.type} attribute; only object-detection attributes can be exported")
        return attr
    boxes = [a for a in manifest.attributes if a.type == aug.OBJECT_DETECTION]
    if not boxes:
        kinds = ", ".join(f"{a.name} ({a.type})" for a in manifest.attributes) or "no label attributes"
        raise GTError(f"{manifest.uri or 'the manifest'} has no object-detection attribute to export: {kinds}")
    if len(boxes) > 1:
        names = ", ".join(a.name for a in boxes)
        raise GTError(
            f"{manifest.uri or 'the manifest'} has {len(boxes)} object-detection attributes ({names}); "
            "choose one with --label-attribute"
        )
    return boxes[0]


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise GTError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")


def yolo_classes(class_ids: set[int], names: dict[int, str]) -> dict[str, bytes]:
    """YOLO's ``classes.txt``: line n names class id n, up to the highest id used by a box or a class map."""
    top = max(class_ids) if class_ids else -1
    lines = [names.get(c, f"class_{c}").replace("\n", " ") for c in range(top + 1)]
    return {"classes.txt": "".join(n + "\n" for n in lines).encode("utf-8")}


def to_yolo(res: Resolution) -> dict[str, bytes]:
    """``classes.txt`` and one label file an image."""
    used = {b.class_id for i in res.images for b in i.boxes} | set(res.class_names)
    return yolo_classes(used, res.class_names) | yolo_labels(res, image_paths([i.source_ref for i in res.images]))


def yolo_labels(res: Resolution, paths: list[str]) -> dict[str, bytes]:
    """One YOLO label file an image (``paths``: the images' export paths)."""
    files = {}
    for img, path in zip(res.images, paths, strict=True):
        rows = []
        for b in img.boxes:
            cx, cy = (b.left + b.width / 2) / img.width, (b.top + b.height / 2) / img.height
            rows.append(f"{b.class_id} {cx:.6f} {cy:.6f} {b.width / img.width:.6f} {b.height / img.height:.6f}\n")
        files["labels/" + posixpath.splitext(path)[0] + ".txt"] = "".join(rows).encode("utf-8")
    return files


_XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    """Text for an XML element: escaped, and without the characters XML 1.0 cannot carry."""
    return escape(_XML_INVALID.sub("?", text))


def _voc_xml(img: CleanImage, path: str, attribute: str) -> bytes:
    """One Pascal VOC annotation file (written from a template: 100,000 files must not take minutes)."""
    folder, filename = posixpath.split(path)
    objects = "".join(
        "  <object>\n"
        f"    <name>{_x(b.class_name or f'class_{b.class_id}')}</name>\n"
        "    <pose>Unspecified</pose>\n"
        f"    <truncated>{1 if b.clipped else 0}</truncated>\n"
        "    <difficult>0</difficult>\n"
        "    <bndbox>\n"
        f"      <xmin>{round(b.left)}</xmin>\n"
        f"      <ymin>{round(b.top)}</ymin>\n"
        f"      <xmax>{round(b.left + b.width)}</xmax>\n"
        f"      <ymax>{round(b.top + b.height)}</ymax>\n"
        "    </bndbox>\n"
        "  </object>\n"
        for b in img.boxes
    )
    text = (
        "<?xml version='1.0' encoding='utf-8'?>\n<annotation>\n"
        f"  <folder>{_x(folder)}</folder>\n  <filename>{_x(filename)}</filename>\n  <path>{_x(img.source_ref)}</path>\n"
        f"  <source>\n    <database>{_x(f'Ground Truth attribute {attribute}')}</database>\n  </source>\n"
        f"  <size>\n    <width>{round(img.width)}</width>\n    <height>{round(img.height)}</height>\n"
        f"    <depth>{img.depth}</depth>\n  </size>\n  <segmented>0</segmented>\n{objects}</annotation>\n"
    )
    return text.encode("utf-8")


def to_voc(res: Resolution, paths: list[str] | None = None) -> dict[str, bytes]:
    paths = image_paths([i.source_ref for i in res.images]) if paths is None else paths
    return {
        "Annotations/" + posixpath.splitext(p)[0] + ".xml": _voc_xml(img, p, res.attribute)
        for img, p in zip(res.images, paths, strict=True)
    }


def export_files(manifest: AugmentedManifest, attribute: str | LabelAttribute | None, fmt: str,
                 on_problems: str = "abort") -> Export:  # fmt: skip
    """Lint, resolve (fix | drop | abort) and convert; the files are returned, not written."""
    check_format(fmt)
    attr = object_detection_attribute(manifest, attribute.name if isinstance(attribute, LabelAttribute) else attribute)
    with gc_paused():
        res = resolve(manifest, attr, on_problems)
        if fmt == "coco":
            files = {COCO_FILE: to_coco(res, source=manifest.uri)}
        elif fmt == "yolo":
            files = to_yolo(res)
        else:
            files = to_voc(res)
    return Export(format=fmt, files=files, resolution=res)

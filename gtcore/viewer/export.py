"""Export an object-detection attribute to COCO, YOLO or Pascal VOC (always after the linter).

    export_files(manifest, attribute, fmt, on_problems) -> Export(files, resolution)
    zip_bytes(files) -> bytes                       # the download the viewer page offers
    write_folder(files, dest) / write_storage(storage, files, dest_uri)
    export_manifest(ctx, actor, uri, fmt, dest, ...) -> Export   # open (as a reader) + export + write

Layout of the files (paths relative to the destination folder):

- ``coco``: ``annotations.json`` (instances format). Category ids are Ground Truth class ids + 1
  (COCO tools treat 0 as background); each category keeps ``gt_class_id``. ``images[].file_name``
  is the source-ref path below the longest folder all images share, ``coco_url`` the source-ref;
  boxes are ``[left, top, width, height]`` exactly as in the manifest (floats stay floats); the
  per-box ``confidence`` rides along as an extra key.
- ``yolo``: ``classes.txt`` (line n = name of Ground Truth class id n; ids missing from every
  class-map are ``class_<n>``) and ``labels/<image path>.txt`` with ``class cx cy w h`` normalised
  to the image size, 6 decimals; an image without boxes gets an empty file.
- ``voc``: ``Annotations/<image path>.xml`` per image; corners rounded to whole pixels
  (``xmin = round(left)``, ``xmax = round(left + width)``, 0-based), ``truncated`` = 1 for a box the
  fix-by-clipping choice clipped.

Nothing is half-written: files are built in memory, then each is written atomically.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.core.gcpause import gc_paused
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.viewer import opener as audit
from gtcore.viewer.export_resolution import CleanImage, Resolution, resolve

FORMATS = ("coco", "yolo", "voc")
COCO_FILE = "annotations.json"
_UNSAFE = re.compile(r"[\x00-\x1f\\:*?\"<>|]")


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


def _ref_path(ref: str) -> str:
    if ref.startswith("s3://"):
        return ref[5:]
    if ref.startswith("file://"):
        ref = ref[7:]
    return ref.lstrip("/")


def common_dirs(refs: list[str], common: list[str] | None = None) -> list[str]:
    """The folders every one of ``refs`` is in (and in ``common``, when a file is read part by part)."""
    for r in refs:
        d = ([p for p in _ref_path(r).split("/") if p] or ["image"])[:-1]
        if common is None:
            common = d
        else:
            n = 0
            while n < min(len(d), len(common)) and d[n] == common[n]:
                n += 1
            common = common[:n]
    return common or []


class PathNamer:
    """Safe relative paths for source-refs below the folders they all share (``common``), unique even without
    the extension (YOLO and VOC files are named after the image without it); repeats get ``__2``, ``__3``."""

    def __init__(self, common: list[str]) -> None:
        self.common = len(common)
        self.used: set[str] = set()

    def __call__(self, ref: str) -> str:
        p = [c for c in _ref_path(ref).split("/") if c] or ["image"]
        clean = [_UNSAFE.sub("_", c) for c in p[self.common :] if c not in (".", "..")] or ["image"]
        path = "/".join(c.strip() or "_" for c in clean)
        stem, ext = posixpath.splitext(path)
        n, candidate = 1, stem
        while candidate.lower() in self.used:  # unique without the extension: a.jpg and a.png share labels/a.txt
            n += 1
            candidate = f"{stem}__{n}"
        self.used.add(candidate.lower())
        return candidate + ext


def image_paths(refs: list[str]) -> list[str]:
    """:class:`PathNamer` over ``refs`` (all of them known)."""
    namer = PathNamer(common_dirs(refs))
    return [namer(r) for r in refs]


def coco_annotation(ann_id: int, image_id: int, b: Any) -> dict[str, Any]:
    """One COCO annotation of box ``b`` (a ``CleanBox``): category id = Ground Truth class id + 1."""
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


def to_coco(res: Resolution, *, source: str = "") -> bytes:
    paths = image_paths([i.source_ref for i in res.images])
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for n, (img, path) in enumerate(zip(res.images, paths, strict=True), start=1):
        images.append({"id": n, "file_name": path, "width": round(img.width), "height": round(img.height),
                       "coco_url": img.source_ref, "gt_line": img.line})  # fmt: skip
        for b in img.boxes:
            anns.append(coco_annotation(len(anns) + 1, n, b))
    used = sorted({b.class_id for i in res.images for b in i.boxes} | set(res.class_names))
    cats = [{"id": c + 1, "name": res.class_names.get(c, f"class_{c}"), "supercategory": "", "gt_class_id": c}
            for c in used]  # fmt: skip
    doc = {
        "info": {
            "description": f"{source} attribute {res.attribute}, exported by gtcore".strip(),
            "version": "1.0",
            "date_created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "licenses": [],
        "images": images,
        "annotations": anns,
        "categories": cats,
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _yolo_classes(res: Resolution) -> list[str]:
    ids = {b.class_id for i in res.images for b in i.boxes} | set(res.class_names)
    top = max(ids) if ids else -1
    return [res.class_names.get(c, f"class_{c}").replace("\n", " ") for c in range(top + 1)]


def to_yolo(res: Resolution, paths: list[str] | None = None) -> dict[str, bytes]:
    """``classes.txt`` and one label file an image (``paths``: the images' export paths, else named here)."""
    files = {"classes.txt": "".join(n + "\n" for n in _yolo_classes(res)).encode("utf-8")}
    paths = image_paths([i.source_ref for i in res.images]) if paths is None else paths
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
    if fmt not in FORMATS:
        raise GTError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
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


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A zip of ``files`` (fixed timestamps, so the same export gives the same bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name])
    return buf.getvalue()


def write_folder(files: Mapping[str, bytes], dest: str | Path) -> list[Path]:
    """Write ``files`` under the local folder ``dest``, each atomically (temp file + rename)."""
    root = Path(dest).resolve()
    written = []
    for name, data in sorted(files.items()):
        target = (root / name).resolve()
        if root not in target.parents:
            raise GTError(f"refusing to write {name!r} outside {root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".gttmp.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def write_storage(storage: Any, files: Mapping[str, bytes], dest_uri: str) -> list[str]:
    """Write ``files`` below ``dest_uri`` through ``storage`` (local roots / allowed buckets apply)."""
    uris = []
    for name, data in sorted(files.items()):
        uri = storage.join(dest_uri, *name.split("/"))
        storage.write_bytes(uri, data)
        uris.append(uri)
    return uris


def export_manifest(ctx: Any, actor: Actor, uri: str, fmt: str, dest: str, *, attribute: str | None = None,
                    on_problems: str = "abort") -> Export:  # fmt: skip
    """Open ``uri`` as ``actor`` (admin or auditor), export it, write the files below ``dest`` (a URI)."""
    manifest = audit.open_manifest(ctx, actor, uri)
    result = export_files(manifest, attribute, fmt, on_problems)
    write_storage(ctx.storage, result.files, dest)
    return result

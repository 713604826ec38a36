"""The manifest viewer's pure side: the columnar tables of a parsed manifest's label attribute.

A manifest is parsed once (:mod:`gtcore.manifests.augmented`); :func:`attribute_view` turns one label
attribute into two pandas tables, built once and cached on the manifest object:

- ``images``: one row per manifest line (index = position in ``manifest.records``): line number,
  source-ref, label count, human/machine, adjustment status, job name, creation date, lowest confidence;
- ``labels``: one row per box (object detection), class label (classification, multi-label) or
  mask class (semantic segmentation): position, class id and name, left/top/width/height, confidence.

Filtering and paging (:mod:`gtcore.viewer.selection`) and statistics (:mod:`gtcore.viewer.statistics`) are
vectorised over those tables (100,000 lines in milliseconds); images are never decoded for statistics. Opening
files, tiles and provenance (which read storage and check the acting user) live in :mod:`gtcore.viewer.opener`,
:mod:`gtcore.viewer.tiles` and :mod:`gtcore.viewer.provenance`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gtcore.core.colors import class_hex
from gtcore.core.gcpause import gc_paused
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute, as_class_id
from gtcore.manifests.label_values import names_from_maps


@dataclass
class AttributeView:
    manifest: AugmentedManifest
    attr: LabelAttribute | None  # None: a manifest without labels (e.g. an input manifest)
    images: pd.DataFrame
    labels: pd.DataFrame
    class_names: dict[int, str]
    colors: dict[int, str] | None = None  # mask colours by class id (an index stores them; else read from lines)

    @property
    def kind(self) -> str:
        return self.attr.type if self.attr else ""

    def legend(self) -> list[tuple[int, str, str]]:
        """``[(class_id, name, hex colour)]`` for every class the attribute knows, by class id."""
        if self.kind == aug.SEMANTIC_SEGMENTATION:
            return [(cid, name, _mask_hex(self, cid)) for cid, name in self.class_names.items()]
        return [(cid, name, class_hex(cid)) for cid, name in self.class_names.items()]


def _mask_hex(view: AttributeView, cid: int) -> str:
    if view.colors is not None:
        return view.colors.get(cid) or class_hex(cid)
    for rec in view.manifest.records:
        m = aug.mask_of(rec, view.attr) if view.attr else None
        if m and cid in m.classes and m.classes[cid][1]:
            return m.classes[cid][1]
    return class_hex(cid)


_NUM = (int, float)  # exact types: bool is not a number here
_EMPTY: dict = {}  # stands for a missing objects[i] entry


def _numbers(col: pd.Series) -> np.ndarray:
    """Floats of a column read from JSON: NaN where the value was not a JSON number (strings, booleans)."""
    if col.dtype.kind in "fi":
        return col.to_numpy(dtype=np.float64)
    return np.fromiter((v if type(v) in _NUM else math.nan for v in col), np.float64, len(col))


def _od_labels(P: list[int], anns: list[Any], objs: list[Any]) -> dict[str, np.ndarray]:
    """The label columns of an object-detection attribute from every annotation of every line (gathered
    in ``build_view``'s one pass), converted column by column (pandas' record reader does the per-box work)."""
    cols = ["class_id", "left", "top", "width", "height"]
    try:
        frame = pd.DataFrame.from_records(anns, columns=cols, nrows=len(anns))
        conf = pd.DataFrame.from_records(objs, columns=["confidence"], nrows=len(objs))["confidence"]
    except (TypeError, AttributeError, ValueError):  # rare: some annotations or objects are not JSON objects
        keep = [i for i, a in enumerate(anns) if type(a) is dict]
        P, anns = [P[i] for i in keep], [anns[i] for i in keep]
        objs = [objs[i] if type(objs[i]) is dict else _EMPTY for i in keep]
        frame = pd.DataFrame.from_records(anns, columns=cols, nrows=len(anns))
        conf = pd.DataFrame.from_records(objs, columns=["confidence"], nrows=len(objs))["confidence"]
    cid = frame["class_id"]
    if cid.dtype.kind == "i":
        class_ids = np.where(cid.to_numpy() >= 0, cid.to_numpy(), -1)
    else:
        class_ids = np.fromiter((as_class_id(v) for v in cid), np.int64, len(cid))
    return {
        "pos": np.asarray(P, dtype=np.int64),
        "class_id": class_ids.astype(np.int64),
        **{k: _numbers(frame[k]) for k in cols[1:]},
        "confidence": _numbers(conf),
    }


def build_view(
    manifest: AugmentedManifest, attr: LabelAttribute | None, names: dict[int, str] | None = None
) -> AttributeView:
    """The view of ``attr`` over ``manifest``; ``names`` (class id -> name) when known already (a file indexed in
    chunks knows them from the whole file), else from these lines' class maps."""
    recs = manifest.records
    n = len(recs)
    src, human, adj, job, created, has = [""] * n, [""] * n, [""] * n, [""] * n, [""] * n, [False] * n
    img_w, img_h = np.full(n, np.nan), np.full(n, np.nan)
    cols: dict[str, list[Any]] = {k: [] for k in ("pos", "class_id", "left", "top", "width", "height", "confidence")}
    name = attr.name if attr else ""
    meta_key = name + aug.META_SUFFIX
    kind = attr.type if attr else ""

    order = ("pos", "class_id", "left", "top", "width", "height", "confidence")
    col_lists = tuple(cols[k] for k in order)

    def add(pos: int, cid: int, box: tuple[float, float, float, float], conf: float) -> None:
        for lst, v in zip(col_lists, (pos, cid, *box, conf), strict=True):
            lst.append(v)

    nan4 = (math.nan, math.nan, math.nan, math.nan)
    empty: dict = {}
    P: list[int] = []
    anns: list[Any] = []
    objs: list[Any] = []
    maps: dict[Any, int] = {}
    for pos, rec in enumerate(recs):
        s = rec.get("source-ref")
        if s is None:
            s = rec.get("source")
        src[pos] = s if type(s) is str else ""
        if not attr or name not in rec:
            continue
        value = rec[name]
        meta = rec.get(meta_key)
        if type(meta) is not dict:
            meta = empty
        has[pos] = True
        # inlined on purpose: this loop runs once per line (100,000 lines)
        v = meta.get("human-annotated")
        human[pos] = v if type(v) is str else ""
        v = meta.get("adjustment-status")
        adj[pos] = v if type(v) is str else ""
        v = meta.get("job-name")
        job[pos] = v if type(v) is str else ""
        v = meta.get("creation-date")
        created[pos] = v if type(v) is str else ""
        if kind == aug.OBJECT_DETECTION:
            sizes = value.get("image_size") if type(value) is dict else None
            sz = sizes[0] if type(sizes) is list and sizes else None
            if type(sz) is dict:
                w, h = sz.get("width"), sz.get("height")
                img_w[pos] = w if type(w) in _NUM else math.nan
                img_h[pos] = h if type(h) in _NUM else math.nan
            lst = value.get("annotations") if type(value) is dict else None
            if type(lst) is list and lst:
                k = len(lst)
                P.extend([pos] * k)
                anns.extend(lst)
                conf = meta.get("objects")
                objs.extend(conf if type(conf) is list and len(conf) == k else [_EMPTY] * k)
            cm = meta.get("class-map")
            if type(cm) is dict and cm:
                try:
                    items = tuple(cm.items())
                    maps[items] = maps.get(items, 0) + 1
                except TypeError:  # a name that is not hashable (a list ...) is no name
                    pass
        elif kind == aug.SEMANTIC_SEGMENTATION:
            mask = aug.mask_of(rec, name)
            for cid, (cname, _hex, conf) in mask.classes.items() if mask else []:
                if cid != 0 and cname.upper() != "BACKGROUND":
                    add(pos, cid, nan4, math.nan if conf is None else conf)
        else:
            for c in aug.classes_of(rec, name):
                add(pos, c.class_id, nan4, math.nan if c.confidence is None else c.confidence)
    if kind == aug.OBJECT_DETECTION:
        labels = pd.DataFrame(_od_labels(P, anns, objs))
    else:
        labels = pd.DataFrame(
            {
                "pos": np.asarray(cols["pos"], dtype=np.int64),
                "class_id": np.asarray(cols["class_id"], dtype=np.int64),
                **{k: np.asarray(cols[k], dtype=np.float64) for k in ("left", "top", "width", "height", "confidence")},
            }
        )
    od = kind == aug.OBJECT_DETECTION
    if names is None:
        names = names_from_maps(maps) if od else (aug.class_names(recs, attr) if attr else {})
    known = {c: class_label(c, names) for c in labels["class_id"].unique().tolist()}
    labels["class_name"] = labels["class_id"].map(known)
    labels["area"] = labels["width"] * labels["height"]
    counts = np.bincount(labels["pos"].to_numpy(), minlength=n) if n else np.zeros(0, dtype=np.int64)
    min_conf = labels.groupby("pos")["confidence"].min().reindex(range(n)).to_numpy() if n else np.zeros(0)
    images = pd.DataFrame(
        {
            "line": np.asarray(manifest.lines, dtype=np.int64),
            "source_ref": src,
            "has_label": has,
            "labels": counts,
            "human_annotated": human,
            "adjustment_status": adj,
            "job_name": job,
            "creation_date": created,
            "min_confidence": min_conf,
            "image_width": img_w,
            "image_height": img_h,
        }
    )
    return AttributeView(manifest=manifest, attr=attr, images=images, labels=labels, class_names=names)


def attribute_view(manifest: AugmentedManifest, attribute: str | LabelAttribute | None) -> AttributeView:
    """The columnar view of one attribute (``None``: images only), built once per manifest and attribute."""
    attr = manifest.attribute(attribute) if isinstance(attribute, str) else attribute
    key = ("view", attr.name if attr else None)
    if key not in manifest.cache:
        with gc_paused():
            manifest.cache[key] = build_view(manifest, attr)
    view: AttributeView = manifest.cache[key]
    return view


def class_names_of(manifest: AugmentedManifest, attr: LabelAttribute) -> dict[int, str]:
    """Class id -> name of ``attr`` over the whole file, read once (an index stores it ready)."""
    key = ("names", attr.name)
    if key not in manifest.cache:
        manifest.cache[key] = aug.class_names(manifest.records, attr)
    names: dict[int, str] = manifest.cache[key]
    return names


def class_label(cid: int, names: dict[int, str]) -> str:
    """The name the label tables give class id ``cid``: its class-map name, else "class <id>" ("invalid": -1)."""
    if cid in names:
        return names[cid]
    return "invalid" if cid == -1 else f"class {cid}"


def annotations_table(view: AttributeView, pos: int) -> pd.DataFrame:
    """The labels of one line: class, left, top, width, height, confidence (as in the file)."""
    rows = view.labels[view.labels["pos"] == pos]
    return rows[["class_id", "class_name", "left", "top", "width", "height", "confidence"]].reset_index(drop=True)


def detail(view: AttributeView, pos: int) -> dict[str, Any]:
    """What the detail panel shows besides the picture: line, source-ref and the attribute's metadata."""
    rec = view.manifest.records[pos]
    meta = aug.metadata_of(rec, view.attr) if view.attr else {}
    return {"line": int(view.images.at[pos, "line"]), "source-ref": aug.source_of(rec), **meta}

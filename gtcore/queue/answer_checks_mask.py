"""Semantic-segmentation answers (``crowd-semantic-segmentation``, groundtruth-reference.md 1.5, 1.10)::

    {"crowd-semantic-segmentation": {"labeledImage": {"pngImageData": "<base64 PNG>"},
                                     "labelMappings": {"<label>": {"color": "#rrggbb"}, ...},
                                     "inputImageProperties": {"height": h, "width": w}}}

Adjustment answers may add ``initialValueModified`` (bool). Rules: the PNG decodes (at most 100 megapixels,
checked from its header), has exactly the size in ``inputImageProperties``, and every pixel is BACKGROUND
(#ffffff, or fully transparent) or the colour of one of the job's labels (``gtcore.core.colors.semseg_colors``:
Ground Truth's default colours in label order); ``labelMappings`` names only job labels, each with its own
colour. Every problem names its field.
"""

from __future__ import annotations

from typing import Any

from gtcore.core.colors import semseg_colors
from gtcore.core.tasktypes import TaskType
from gtcore.output.mask_png import MaskError, decode_color_png, png_from_base64

_ALLOWED = {"labeledImage", "labelMappings", "inputImageProperties", "workerComment"}


def check_mask(tt: TaskType, labels: list[str], body: dict, el: str, bad: Any) -> dict:
    allowed = _ALLOWED | ({"initialValueModified"} if tt.is_adjustment else set())
    for key in body:
        if key not in allowed:
            bad(f"{el}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
    colors = semseg_colors(labels)
    out: dict[str, Any] = {}
    size = _size(body.get("inputImageProperties"), el, bad)
    mappings = body.get("labelMappings")
    clean_map: dict[str, dict[str, str]] = {}
    if not isinstance(mappings, dict):
        bad(f"{el}.labelMappings", "missing" if mappings is None else "must be an object {label: {color}}")
    else:
        for name, entry in mappings.items():
            field = f"{el}.labelMappings.{name}"
            color = entry.get("color") if isinstance(entry, dict) else None
            if name not in labels:
                bad(field, f"{name!r} is not one of the job's labels")
            elif not isinstance(color, str) or color.lower() != colors[labels.index(name) + 1]:
                bad(f"{field}.color", f"must be {colors[labels.index(name) + 1]} (the label's colour), got {color!r}")
            else:
                clean_map[name] = {"color": color.lower()}
    labeled = body.get("labeledImage")
    png_text = labeled.get("pngImageData") if isinstance(labeled, dict) else None
    if not isinstance(labeled, dict):
        bad(f"{el}.labeledImage", "missing: the painted mask is required")
    elif set(labeled) - {"pngImageData"}:
        bad(f"{el}.labeledImage", "holds only pngImageData")
    else:
        field = f"{el}.labeledImage.pngImageData"
        try:
            data = png_from_base64(png_text, field)
            if size is not None:
                decode_color_png(data, colors, size, field)
        except MaskError as exc:
            bad(exc.problems[0].field or field, exc.reason)
    out["labeledImage"] = {"pngImageData": png_text}
    out["labelMappings"] = clean_map
    if size is not None:
        out["inputImageProperties"] = {"height": size[1], "width": size[0]}
    if "initialValueModified" in body:
        flag = body["initialValueModified"]
        if not isinstance(flag, bool):
            bad(f"{el}.initialValueModified", f"must be true or false, got {flag!r}")
        else:
            out["initialValueModified"] = flag
    return out


def _size(props: Any, el: str, bad: Any) -> tuple[int, int] | None:
    if not isinstance(props, dict):
        bad(f"{el}.inputImageProperties", "missing: the image's width and height are required")
        return None
    ok = True
    for key in props:
        if key not in ("height", "width"):
            bad(f"{el}.inputImageProperties.{key}", "unknown key (allowed: height, width)")
    for key in ("height", "width"):
        v = props.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            bad(f"{el}.inputImageProperties.{key}", f"must be a positive whole number of pixels, got {v!r}")
            ok = False
    return (props["width"], props["height"]) if ok else None

"""A tiny Streamlit script for the canvas browser tests and bench (not part of the product).

Environment:
    GT_CANVAS_DEMO_OUT      JSON file this script rewrites (atomically) after every run of the fragment:
                            {"run", "image", "label", "boxes", "fit", "display", "original", "scale", "jpeg_bytes"}
    GT_CANVAS_DEMO_SOURCE   source image path(s), os.pathsep-separated; "Next image" steps through them.
                            Default: a generated 1600x1200 scene.
    GT_CANVAS_DEMO_MAX_SIDE longest side of the display JPEG (default 800).
    GT_CANVAS_DEMO_INITIAL  JSON file of boxes (original pixels) to open the canvas with, read on each run.
    GT_CANVAS_DEMO_LABELS   JSON list of labels (default ["car", "person *x*"]: the second checks escaping).
    GT_CANVAS_DEMO_READ_ONLY "1" to show the boxes read-only.
    GT_CANVAS_DEMO_MAX_DISPLAY "WxH": the most room the canvas may take (default: the display size).
    GT_CANVAS_DEMO_INLINE   "1" to send the JPEG inline (base64 data URL) instead of by media URL, for
                            comparison in bench/bench_canvas.py.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import streamlit as st
from PIL import Image, ImageDraw

import gtcore.ui.canvas
from gtcore.images.decoding import display_jpeg
from gtcore.ui.canvas import box_canvas, canvas_fit
from gtcore.ui.label_picker import label_picker, md_escape

# Objects in the generated scene, in original pixels: (label, left, top, width, height).
SCENE_SIZE = (1600, 1200)
SCENE_OBJECTS = (("car", 200, 300, 500, 300), ("person *x*", 1000, 200, 200, 600))


def scene_jpeg(index: int) -> bytes:
    img = Image.new("RGB", SCENE_SIZE, (205, 205, 205))
    draw = ImageDraw.Draw(img)
    for i in range(0, SCENE_SIZE[0], 100):
        draw.line([(i, 0), (i, SCENE_SIZE[1])], fill=(185, 185, 185), width=1)
    shade = 40 + 10 * (index % 5)
    for _, left, top, w, h in SCENE_OBJECTS:
        draw.rectangle([left, top, left + w - 1, top + h - 1], fill=(shade, shade, shade + 20))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


@st.cache_data(show_spinner=False, max_entries=16)
def display_image(source: str, index: int, max_side: int) -> tuple[bytes, float, tuple[int, int]]:
    data = Path(source).read_bytes() if source else scene_jpeg(index)
    jpeg, scale, size = display_jpeg(data, max_side)
    return jpeg, scale, size


def write_out(payload: dict[str, Any]) -> None:
    out = os.environ.get("GT_CANVAS_DEMO_OUT")
    if not out:
        return
    tmp = Path(out + ".tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, out)


labels: list[str] = json.loads(os.environ.get("GT_CANVAS_DEMO_LABELS", "") or '["car", "person *x*"]')
sources = [s for s in os.environ.get("GT_CANVAS_DEMO_SOURCE", "").split(os.pathsep) if s]
max_side = int(os.environ.get("GT_CANVAS_DEMO_MAX_SIDE", "800"))
read_only = os.environ.get("GT_CANVAS_DEMO_READ_ONLY") == "1"
max_display_env = os.environ.get("GT_CANVAS_DEMO_MAX_DISPLAY", "")
max_display = tuple(int(v) for v in max_display_env.split("x")) if max_display_env else None
if os.environ.get("GT_CANVAS_DEMO_INLINE") == "1":
    gtcore.ui.canvas.background_url = lambda image_jpeg, key: None  # type: ignore[assignment]
st.session_state.setdefault("demo_image", 0)
st.session_state.setdefault("demo_runs", 0)

st.set_page_config(page_title="Canvas demo", layout="wide")
st.title("Canvas demo")
if st.button("Next image", key="demo_next"):
    st.session_state["demo_image"] += 1


@st.fragment
def labeling() -> None:
    index = st.session_state["demo_image"]
    source = sources[index % len(sources)] if sources else ""
    jpeg, scale, original = display_image(source, index, max_side)
    initial_path = os.environ.get("GT_CANVAS_DEMO_INITIAL", "")
    initial = json.loads(Path(initial_path).read_text()) if initial_path and Path(initial_path).exists() else []
    current = label_picker(labels, key="demo_picker")
    key = f"demo_canvas_{index}"
    boxes = box_canvas(
        jpeg,
        display_scale=scale,
        original_size=original,
        labels=labels,
        current_label=current,
        boxes=initial,
        key=key,
        read_only=read_only,
        max_display=max_display,
    )  # type: ignore[arg-type]
    st.session_state["demo_runs"] += 1
    st.caption(md_escape(f"{len(boxes) if boxes is not None else 'no'} boxes; drawing: {current}"))
    write_out(
        {
            "run": st.session_state["demo_runs"],
            "image": index,
            "label": current,
            "boxes": boxes,
            "fit": canvas_fit(key),
            "original": list(original),
            "scale": scale,
            "jpeg_bytes": len(jpeg),
            "display": list(Image.open(io.BytesIO(jpeg)).size),
        }
    )


labeling()

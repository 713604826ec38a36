"""The mask canvas's vectors -> original pixels at a zoomed view (gtcore.ui.mask_raster): a stroke and an
auto-segment click on a view land at the view's origin plus canvas / scale, and a stroke's width scales too."""

from __future__ import annotations

import numpy as np

from gtcore.ui.mask_raster import clicks, rasterize

COLORS = ["#ffffff", "#2ca02c", "#1f77b4"]
FIT = {"scale_x": 1.0, "scale_y": 1.0, "offset_x": 0.0, "offset_y": 0.0}


def test_a_stroke_on_a_4x_view_lands_in_the_originals_pixels() -> None:
    size = (7168, 4562)
    rect = (3000.0, 2000.0, 200.0, 150.0)  # shown on an 800 x 600 canvas: 4 canvas px per original px
    stroke = {
        "type": "path", "stroke": "rgba(44, 160, 44, 0.55)", "strokeWidth": 16, "left": 0, "top": 0,
        "path": [["M", 100, 300], ["L", 700, 300]], "pathOffset": {"x": 400, "y": 300}, "width": 600, "height": 0,
        "originX": "center", "originY": "center",
    }  # fmt: skip
    stroke["left"], stroke["top"] = 400, 300  # Fabric: the object's centre
    mask = rasterize([stroke], size=size, fit=FIT, display=(800, 600), colors=COLORS, rect=rect)
    assert mask.shape == (4562, 7168)
    rows = np.flatnonzero(mask[:, 3100] == 1)  # canvas x 400 -> original 3100; canvas y 300 -> 2075
    assert abs(rows.mean() - 2074.5) <= 1 and abs(len(rows) - 4) <= 1, rows  # 16 canvas px = 4 original px
    cols = np.flatnonzero(mask[2075] == 1)
    assert abs(cols.min() - 3023) <= 2 and abs(cols.max() - 3177) <= 2, (cols.min(), cols.max())
    assert int(np.count_nonzero(mask)) < 200 * 10  # nothing outside the view's part


def test_auto_segment_clicks_on_a_view_are_in_original_pixels() -> None:
    circle = {"type": "circle", "left": 396.0, "top": 150.0, "radius": 4, "strokeWidth": 0}  # canvas (400, 150)
    got = clicks([circle], fit=FIT, display=(800, 600), size=(7168, 4562), rect=(3000.0, 2000.0, 200.0, 150.0))
    assert got == ((3100.0, 2037.5),)

"""Label verification's read-only view of an earlier mask, zoomed (issue 26 item 5): the mask's part under the
view is blended into the view's JPEG at the view's scale; the summary names the classes of the whole mask."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from gtcore.images.task_images import DisplayImage
from gtcore.images.task_overlays import labeled_jpeg
from gtcore.output.mask_png import encode_palette_png
from tests.fixtures.labeling import LabelWorld

GREEN = "#2ca02c"


@dataclass(frozen=True)
class StandIn:
    previous: dict[str, Any]
    assignment_id: int = -1
    job_id: int = 1
    object_idx: int = 0
    source_ref: str | None = None
    labels: list[str] = field(default_factory=list)


def _jpeg(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 200, 200)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def test_a_zoomed_view_shows_the_masks_part_under_it(label_world: LabelWorld) -> None:
    import numpy as np

    world = label_world
    classes = np.zeros((400, 600), np.uint8)
    classes[100:200, 100:200] = 1  # a square of IC; a second class far from the view
    classes[350:390, 550:590] = 2
    png = world.root / "earlier.png"
    png.write_bytes(encode_palette_png(classes, ["#ffffff", GREEN, "#1f77b4"]))
    cmap = {
        "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
        "1": {"class-name": "IC", "hex-color": GREEN},
        "2": {"class-name": "resistor", "hex-color": "#1f77b4"},
    }
    task = StandIn(previous={"maskUri": str(png), "metadata": {"internal-color-map": cmap}})
    rect = (50.0, 50.0, 200.0, 200.0)  # original x 50-250, y 50-250, shown at 400 x 400 (scale 2)
    img = DisplayImage(str(png), _jpeg((400, 400)), 2.0, (600, 400))
    jpeg, summary = labeled_jpeg(world.ctx, world.admin, task, img, rect)
    out = Image.open(io.BytesIO(jpeg)).convert("RGB")
    assert out.size == (400, 400)

    def tinted(x: int, y: int) -> bool:  # view pixel (x, y): green blended in
        r, g, b = out.getpixel((x, y))
        return g - r > 30

    assert tinted(150, 150) and tinted(290, 290)  # original (125, 125) and (195, 195): inside the square
    assert not tinted(60, 60) and not tinted(380, 120)  # original (80, 80) and (240, 110): outside it
    assert tinted(102, 200) and not tinted(96, 200)  # its left edge at original x 100 = view x 100
    assert summary == "mask classes present: IC, resistor"  # the whole mask's classes, not the view's

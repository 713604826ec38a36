"""Auto-segment from four extreme points (gtcore.images.autosegment) on real pixels: shapes with known masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from gtcore.core.errors import ValidationError
from gtcore.images.autosegment import extreme_points, extreme_points_mask, iou


def _scene(size: tuple[int, int] = (400, 300)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A red disc and a blue triangle on a noisy grey gradient; returns (rgb, disc truth, triangle truth)."""
    w, h = size
    ramp = np.linspace(150, 210, w, dtype=np.float32)[None, :, None] + np.zeros((h, w, 3), np.float32)
    img = Image.fromarray(ramp.astype(np.uint8), "RGB")
    disc, tri = Image.new("L", size, 0), Image.new("L", size, 0)
    draw = ImageDraw.Draw(img)
    draw.ellipse((60, 50, 180, 170), fill=(200, 40, 40))
    ImageDraw.Draw(disc).ellipse((60, 50, 180, 170), fill=1)
    corners = [(300, 60), (230, 250), (370, 250)]
    draw.polygon(corners, fill=(40, 60, 200))
    ImageDraw.Draw(tri).polygon(corners, fill=1)
    noise = np.random.default_rng(3).normal(0, 10, (h, w, 3))
    rgb = np.clip(np.asarray(img, np.float32) + noise, 0, 255).astype(np.uint8)
    return rgb, np.asarray(disc) > 0, np.asarray(tri) > 0


def test_four_extreme_clicks_fill_the_object_and_nothing_else() -> None:
    rgb, disc, tri = _scene()
    for truth in (disc, tri):
        got = extreme_points_mask(rgb, extreme_points(truth))
        assert got.shape == truth.shape and got.dtype == bool
        assert iou(got, truth) > 0.9
        box_alone = np.zeros_like(truth)
        xs, ys = zip(*extreme_points(truth), strict=True)
        box_alone[int(min(ys)) : int(max(ys)) + 1, int(min(xs)) : int(max(xs)) + 1] = True
        assert iou(got, truth) > iou(box_alone, truth) + 0.1  # better than the box the clicks span
    assert not extreme_points_mask(rgb, extreme_points(disc))[tri].any()  # the other object stays out


def test_clicks_a_few_pixels_off_and_a_large_image_still_work() -> None:
    rgb, disc, _ = _scene((2400, 1800))  # the disc is small in a large image: the crop keeps it cheap
    pts = [
        (x + dx, y + dy)
        for (x, y), (dx, dy) in zip(extreme_points(disc), [(2, -1), (-2, 2), (-1, 2), (2, -2)], strict=True)
    ]
    assert iou(extreme_points_mask(rgb, pts), disc) > 0.85


@pytest.mark.parametrize(
    ("points", "said"),
    [
        ([(1, 1), (5, 5), (9, 9)], "click 4 extreme points of the object, not 3"),
        ([(1, 1), (5, 5), (9, 9), (500, 9)], "every point must lie on the 400 x 300 image"),
        ([(10, 10), (11, 10), (10, 11), (11, 11)], "the points span less than 3 pixels"),
    ],
)
def test_bad_clicks_are_refused_with_a_reason(points: list[tuple[int, int]], said: str) -> None:
    rgb, _, _ = _scene()
    with pytest.raises(ValidationError) as exc:
        extreme_points_mask(rgb, points)
    assert said in str(exc.value)

"""Zoom without a browser: the level ladder and views (gtcore.images.views), the view JPEGs cut from real image
files (gtcore.images.task_views), the canvas geometry of a view (gtcore.ui.canvas_geometry), the zoom bar under
AppTest, and the Streamlit configuration that hides the developer toolbar. Drawing at zoom in a real browser is
tests/test_zoom_browser.py."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from gtcore.context import Context
from gtcore.images import task_images as ti
from gtcore.images import task_views
from gtcore.images.views import FIT, NATIVE, ViewSpec, pan, plan_view, step_level, zoom_levels
from gtcore.ui.canvas_geometry import CanvasGeometry, keep_exact, plan_geometry
from tests.fixtures.core import make_settings

REPO = Path(__file__).resolve().parents[1]
BIG = (7168, 4562)


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    ti.CACHE.clear()
    task_views.BASES.clear()
    return Context.from_settings(make_settings(tmp_path))


def names(original: tuple[int, int], box: tuple[int, int]) -> list[str]:
    return [lv.name for lv in zoom_levels(original, box)]


def test_ladder_has_fit_2x_4x_and_1_to_1_in_order() -> None:
    for original, box in ((BIG, (900, 500)), ((3509, 4963), (900, 500)), ((4000, 3000), (667, 500))):
        levels = zoom_levels(original, box)
        got = [lv.name for lv in levels]
        assert got[0] == FIT and {"2x", "4x", NATIVE} <= set(got), got
        assert [lv.scale for lv in levels] == sorted(lv.scale for lv in levels)
        assert next(lv.scale for lv in levels if lv.name == NATIVE) == 1.0
        assert got[-1] == "2:1"
    assert names((640, 480), (900, 600)) == [FIT, "2:1"]  # Fit is already 1:1 (never enlarged)


def test_step_level_clamps_and_carries_names_across_images() -> None:
    levels = zoom_levels(BIG, (900, 500))
    assert step_level(levels, FIT, -1) == FIT
    assert step_level(levels, FIT, 1) == "1.5x"
    assert step_level(levels, "2:1", 1) == "2:1"
    small = zoom_levels((1200, 900), (900, 500))  # no 4x here: the nearest level by zoom factor
    assert step_level(small, "4x", 0) in {lv.name for lv in small}


def test_views_stay_inside_the_image_and_are_exact() -> None:
    v = plan_view(BIG, ViewSpec((900, 500), NATIVE, (0.0, 1.0)))  # a centre in the corner is clamped
    assert v.rect == (0.0, BIG[1] - 500.0, 900.0, 500.0) and v.size == (900, 500) and v.scale == 1.0
    v4 = plan_view(BIG, ViewSpec((900, 500), "4x"))
    x, y, w, h = v4.rect
    assert (w * v4.scale, h * v4.scale) == pytest.approx(v4.size)
    assert x + w / 2 == pytest.approx(BIG[0] / 2) and y + h / 2 == pytest.approx(BIG[1] / 2)
    fit = plan_view(BIG, ViewSpec((900, 500), FIT))
    assert fit.rect == (0.0, 0.0, *map(float, BIG)) and max(fit.size[0] - 900, fit.size[1] - 500) <= 0
    right = pan(v4, 10.0, 0.0)  # far past the edge: clamped
    moved = plan_view(BIG, ViewSpec((900, 500), "4x", right))
    assert moved.rect[0] + moved.rect[2] == pytest.approx(BIG[0])


def scan(path: Path, size: tuple[int, int]) -> Path:
    """A large JPEG: white, a black 20 x 12 px mark at (5000, 3000), and a red top-left corner."""
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.rectangle([5000, 3000, 5019, 3011], fill=(0, 0, 0))
    d.rectangle([0, 0, 99, 99], fill=(255, 0, 0))
    img.save(path, format="JPEG", quality=92)
    return path


def test_view_jpeg_is_the_canvas_size_and_shows_the_right_pixels(ctx: Context, tmp_path: Path) -> None:
    src = scan(tmp_path / "scan.jpg", BIG)
    spec = ViewSpec((900, 500), NATIVE, ((5000 + 10) / BIG[0], (3000 + 6) / BIG[1]))
    img = task_views.view_image(ctx, str(src), spec)
    assert img.ok and img.view is not None and img.jpeg is not None
    with Image.open(io.BytesIO(img.jpeg)) as im:
        assert im.size == img.view.size == (900, 500)
        x, y, _, _ = img.view.rect
        mark = im.convert("L").getpixel((round(5010 - x), round(3006 - y)))
        beside = im.convert("L").getpixel((round(5040 - x), round(3006 - y)))
    assert mark < 60 and beside > 200, (mark, beside)
    # a pan at the same zoom is cut from the decoded source kept in BASES, not decoded again
    assert task_views.BASES.nbytes > 0
    before = task_views.BASES.nbytes
    task_views.view_image(ctx, str(src), ViewSpec((900, 500), NATIVE, (0.6, 0.6)))
    assert task_views.BASES.nbytes == before
    # Fit: the whole image at its fitted size; the red corner is at the top left
    fit = task_views.view_image(ctx, str(src), ViewSpec((900, 500), FIT))
    assert fit.view is not None and fit.jpeg is not None
    with Image.open(io.BytesIO(fit.jpeg)) as im:
        assert im.size == fit.view.size and max(im.size) <= 900
        assert im.getpixel((3, 3))[0] > 200 and im.getpixel((3, 3))[1] < 80


def test_a_zoomed_view_of_a_jpeg_decodes_at_a_reduced_size(ctx: Context, tmp_path: Path) -> None:
    src = scan(tmp_path / "scan.jpg", BIG)
    img = task_views.view_image(ctx, str(src), ViewSpec((900, 500), "2x"))
    assert img.view is not None and task_views.reduction(img.view) == 4
    assert task_views.BASES.nbytes <= (BIG[0] // 4 + 1) * (BIG[1] // 4 + 1) * 3


def test_bad_and_missing_images_give_a_reason_not_an_exception(ctx: Context, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    got = task_views.view_image(ctx, str(bad), ViewSpec((900, 500), "2x"))
    assert not got.ok and got.error and "not an image" in got.error
    missing = task_views.view_image(ctx, str(tmp_path / "nope.jpg"), ViewSpec((900, 500)))
    assert not missing.ok and missing.error and "cannot be read" in missing.error
    outside = task_views.view_image(ctx, "/etc/passwd", ViewSpec((900, 500)))
    assert not outside.ok and outside.error


def test_prefetch_view_renders_in_the_background(ctx: Context, tmp_path: Path) -> None:
    src = scan(tmp_path / "scan.jpg", (4000, 3000))
    spec = ViewSpec((800, 500), "2x")
    assert task_views.prefetch_view(ctx, str(src), spec)
    ti.EXECUTOR.submit(lambda: None).result(timeout=60)  # queued behind the render in the same pool
    import time

    deadline = time.monotonic() + 60
    while task_views.prefetch_view(ctx, str(src), spec) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not task_views.prefetch_view(ctx, str(src), spec)  # cached now


def geom(jpeg_size: tuple[int, int], view: tuple[float, float, float, float]) -> CanvasGeometry:
    buf = io.BytesIO()
    Image.new("RGB", jpeg_size).save(buf, format="JPEG")
    return plan_geometry(buf.getvalue(), display_scale=jpeg_size[0] / view[2], original_size=BIG, view=view)


def test_view_geometry_round_trip_and_boxes_outside_the_view() -> None:
    g = geom((900, 500), (5000.0, 3000.0, 450.0, 250.0))  # 2:1
    box = {"label": "a", "left": 5010.0, "top": 3020.0, "width": 20.0, "height": 12.0}
    c = g.to_canvas(box)
    assert (c["left"], c["top"], c["width"], c["height"]) == (20.0, 40.0, 40.0, 24.0)
    assert g.from_image_space(c) == box
    far = {"label": "b", "left": 10.0, "top": 10.0, "width": 50.0, "height": 50.0}
    assert g.shows(box) and not g.shows(far)
    # a box reaching out of the view, untouched, comes back exactly (its hidden part included)
    edge = {"label": "a", "left": 4990.123, "top": 3100.0, "width": 100.5, "height": 10.0}
    moved = dict(g.to_canvas(box), left=30.0)
    out = keep_exact([g.to_canvas(edge), moved], [edge, box], g)
    assert out[0] == edge
    assert out[1]["left"] == pytest.approx(5015.0) and out[1]["width"] == pytest.approx(20.0)


def test_view_geometry_refuses_a_view_outside_the_image_or_a_wrong_jpeg() -> None:
    from gtcore.core.errors import ImageError, ValidationError

    with pytest.raises(ValidationError, match="view"):
        geom((900, 500), (7000.0, 0.0, 450.0, 250.0))
    buf = io.BytesIO()
    Image.new("RGB", (300, 200)).save(buf, format="JPEG")
    with pytest.raises(ImageError, match="the view 450x250"):
        plan_geometry(buf.getvalue(), display_scale=2.0, original_size=BIG, view=(0.0, 0.0, 450.0, 250.0))


def test_streamlit_config_hides_the_deploy_button_and_developer_menu() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] in ("viewer", "minimal")
    from streamlit import config as st_config

    # Streamlit itself reads it from the folder `streamlit run` starts in (the repository root)
    st_config._config_options = None  # type: ignore[attr-defined]
    try:
        assert st_config.get_option("client.toolbarMode") in ("viewer", "minimal")
    finally:
        st_config._config_options = None  # type: ignore[attr-defined]


def zoom_caption(at: Any) -> str:
    return next(c.value for c in at.caption if str(c.value).startswith("Zoom "))


def test_zoom_bar_under_apptest_zooms_pans_and_keeps_the_level_for_the_next_task(
    app_world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.labeling import app_as, start_in_app

    world = app_world
    worker = world.worker("ann@example.test")
    images = [world.image(f"s{i}", (3200, 2400), fmt="JPEG") for i in range(3)]
    job = world.box_job("zoom-apptest", images)
    at = app_as(world, worker)
    start_in_app(at, job.job_id)
    assert zoom_caption(at).startswith("Zoom Fit")
    at.button(key="label::zoom::Z").click().run()
    assert zoom_caption(at).startswith("Zoom 1.5x")
    at.button(key="label::zoom::O").click().run()
    first = zoom_caption(at)
    assert first.startswith("Zoom 1:1")
    at.button(key="label::zoom::Right").click().run()
    assert zoom_caption(at) != first and zoom_caption(at).startswith("Zoom 1:1")
    at.button(key="label::zoom::F").click().run()
    assert zoom_caption(at).startswith("Zoom Fit")
    assert not at.exception

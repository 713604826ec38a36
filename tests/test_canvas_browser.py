"""The labeling canvas (gtcore.ui.canvas, gtcore.ui.label_picker): geometry, validation, and a real browser.

The browser tests serve tests/apps/canvas_demo.py with ``streamlit run``, drive Debian chromium through
Playwright, draw with the mouse and read the boxes the app received from the JSON file it writes.
The demo's image is 1600x1200, shown at 800x600 (scale 0.5).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from gtcore.core.colors import UNKNOWN_HEX, class_color, class_hex
from gtcore.core.errors import ImageError, ValidationError
from gtcore.ui.canvas import (
    CanvasGeometry,
    canvas_size,
    label_color,
    plan_geometry,
    validate_boxes,
)
from gtcore.ui.canvas_geometry import same_boxes as _same_boxes
from gtcore.ui.label_picker import md_escape, shortcut_for
from tests.browser import (
    Box,
    HttpMeter,
    WsMeter,
    canvas_box,
    canvas_screenshot,
    color_distance,
    draw_box,
    exception_text,
    new_page,
    pixel,
    read_json,
    screenshot,
    wait_for_idle,
    wait_until,
)

DEMO = Path(__file__).parent / "apps" / "canvas_demo.py"
LABELS = ["car", "person *x*"]
CAR, PERSON = LABELS
CAR_RGB, PERSON_RGB = class_color(0), class_color(1)


def jpeg(size: tuple[int, int], exif_orientation: int | None = None) -> bytes:
    img = Image.new("RGB", size, (120, 130, 140))
    buf = io.BytesIO()
    if exif_orientation is None:
        img.save(buf, format="JPEG")
    else:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        img.save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


# ---------------------------------------------------------------- geometry and validation (no browser)


def test_geometry_round_trip_with_contain_fit() -> None:
    geom = CanvasGeometry(original=(4000, 3000), display=(1000, 750), canvas=(500, 375))
    assert geom.fit == (0.5, 0.0, 0.0)
    box = {"label": "car", "left": 1234.5, "top": 100.0, "width": 800.0, "height": 2000.25}
    on_canvas = geom.to_canvas(box)
    assert on_canvas == {"label": "car", "left": 154.3125, "top": 12.5, "width": 100.0, "height": 250.03125}
    # the library reports image space = canvas / fit scale (offset 0 here)
    image_space = {k: (v / 0.5 if k != "label" else v) for k, v in on_canvas.items()}
    assert geom.from_image_space(image_space) == box


def test_geometry_uses_per_axis_scale_and_clips() -> None:
    geom = CanvasGeometry(original=(4000, 2999), display=(1000, 750), canvas=(1000, 750))
    back = geom.from_image_space({"label": "x", "left": 0, "top": 700, "width": 1000, "height": 50})
    assert back == {"label": "x", "left": 0.0, "top": 2799.07, "width": 4000.0, "height": 199.93}
    # dragged past the image: clipped; entirely outside: dropped
    assert geom.from_image_space({"label": "x", "left": -10, "top": 740, "width": 30, "height": 30}) == {
        "label": "x",
        "left": 0.0,
        "top": 2959.01,
        "width": 80.0,
        "height": 39.99,
    }
    assert geom.from_image_space({"label": "x", "left": 1001, "top": 10, "width": 30, "height": 30}) is None


def test_canvas_size_shrinks_never_enlarges() -> None:
    assert canvas_size((800, 600), None) == (800, 600)
    assert canvas_size((800, 600), (400, 1000)) == (400, 300)
    assert canvas_size((800, 600), (2000, 2000)) == (800, 600)


def test_plan_geometry_checks_sizes() -> None:
    geom = plan_geometry(jpeg((800, 600)), display_scale=0.5, original_size=(1600, 1200), max_display=(400, 400))
    assert geom.display == (800, 600) and geom.canvas == (400, 300)
    with pytest.raises(ImageError, match=r"800x600 px but original_size 1600x1200 at display_scale 2 gives 3200x2400"):
        plan_geometry(jpeg((800, 600)), display_scale=2.0, original_size=(1600, 1200))
    with pytest.raises(ImageError, match="cannot be decoded"):
        plan_geometry(b"not an image", display_scale=0.5, original_size=(1600, 1200))
    with pytest.raises(ImageError, match="EXIF orientation 6"):
        plan_geometry(jpeg((800, 600), exif_orientation=6), display_scale=0.5, original_size=(1600, 1200))
    with pytest.raises(ValidationError) as err:
        plan_geometry(jpeg((8, 6)), display_scale=-1, original_size=(0, 5), max_display=(0, 0))
    fields = {p.field for p in err.value.problems}
    assert fields == {"original_size", "display_scale", "max_display"}


def test_validate_boxes_reports_every_problem() -> None:
    good = {"label": "car", "left": 1, "top": 2.5, "width": 3, "height": 4}
    assert validate_boxes([good]) == [good]
    with pytest.raises(ValidationError) as err:
        validate_boxes([good, {"label": 3, "left": "1", "top": float("nan"), "width": -1, "height": True}, "x"])
    assert sorted(p.field or "" for p in err.value.problems) == [
        "boxes[1].height",
        "boxes[1].label",
        "boxes[1].left",
        "boxes[1].top",
        "boxes[1].width",
        "boxes[2]",
    ]


def test_same_boxes_is_order_free_and_tolerates_rounding() -> None:
    a = [
        {"label": "car", "left": 1.0, "top": 2.0, "width": 3.0, "height": 4.0},
        {"label": "bus", "left": 5.0, "top": 6.0, "width": 7.0, "height": 8.0},
    ]
    b = [dict(a[1]), {**a[0], "left": 1.004}]
    assert _same_boxes(a, b)
    assert not _same_boxes(a, [dict(a[1]), {**a[0], "left": 1.02}])
    assert not _same_boxes(a, [dict(a[1]), {**a[0], "label": "bus"}])
    assert not _same_boxes(a, a[:1])
    assert not _same_boxes(a, None)


def test_picker_helpers() -> None:
    assert md_escape("person *x* [a](b) :red[c] 1.") == r"person \*x\* \[a\]\(b\) \:red\[c\] 1\."
    assert [shortcut_for(i) for i in (0, 8, 9, 10)] == ["1", "9", "0", None]
    assert label_color(LABELS, PERSON) == class_hex(1)
    assert label_color(LABELS, "unknown") == UNKNOWN_HEX


def test_picker_under_apptest_switches_label() -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(DEMO), default_timeout=60).run()
    assert not at.exception
    assert [(b.key, b.proto.type) for b in at.button if (b.key or "").startswith("demo_picker")] == [
        ("demo_picker::pick0", "primary"),
        ("demo_picker::pick1", "secondary"),
    ]
    at.button(key="demo_picker::pick1").click().run()
    assert not at.exception
    assert at.session_state["demo_picker::current"] == PERSON
    assert at.button(key="demo_picker::pick1").proto.type == "primary"
    assert at.button(key="demo_picker::pick1").proto.shortcut == "2"


# ---------------------------------------------------------------- real browser


def start_demo(streamlit_app: Any, tmp_path: Path, **env: str) -> tuple[str, Path, Path]:
    out, initial = tmp_path / "out.json", tmp_path / "initial.json"
    base = {"GT_CANVAS_DEMO_OUT": str(out), "GT_CANVAS_DEMO_INITIAL": str(initial)}
    return streamlit_app(DEMO, {**base, **env}), out, initial


def open_demo(page: Any, url: str, out: Path) -> dict[str, Any]:
    """Load the page and wait until the canvas has reported its background fit (boxes not None)."""
    out.unlink(missing_ok=True)
    page.goto(url)
    wait_until(lambda: (d := read_json(out)) is not None and d["boxes"] is not None, what="canvas report")
    wait_for_idle(page)
    assert exception_text(page) is None
    state: dict[str, Any] = read_json(out)
    return state


def wait_boxes(out: Path, n: int, label: str | None = None) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        d = read_json(out)
        ok = d and d["boxes"] is not None and len(d["boxes"]) == n and (label is None or d["label"] == label)
        return d if ok else None

    return wait_until(ready, what=f"{n} boxes (label {label!r})")


def to_original(points: tuple[tuple[float, float], tuple[float, float]], scale: float) -> dict[str, float]:
    (x0, y0), (x1, y1) = points
    return {"left": x0 / scale, "top": y0 / scale, "width": (x1 - x0) / scale, "height": (y1 - y0) / scale}


def assert_box(got: dict[str, Any], label: str, intended: dict[str, float], tol: float = 1.0) -> None:
    assert got["label"] == label
    for k, v in intended.items():
        assert abs(got[k] - v) <= tol, f"{label}.{k}: got {got[k]}, intended {v} (tolerance {tol})"


def edge_color_distance(img: Any, box: dict[str, float], scale: float, rgb: tuple[int, int, int]) -> float:
    """Closest colour to ``rgb`` along the left and top edges of ``box`` (original px) on the canvas image."""
    left, top = box["left"] * scale, box["top"] * scale
    w, h = box["width"] * scale, box["height"] * scale
    best = 1e9
    for dx in range(-2, 5):
        best = min(best, color_distance(pixel(img, (left + dx, top + h / 2)), rgb))
    for dy in range(-2, 5):
        best = min(best, color_distance(pixel(img, (left + w / 2, top + dy)), rgb))
    return best


@pytest.mark.browser
def test_draw_two_labels_then_reopen_in_place(streamlit_app: Any, browser: Any, tmp_path: Path) -> None:
    url, out, initial = start_demo(streamlit_app, tmp_path)
    page = new_page(browser)
    ws, http = WsMeter.attach(page), HttpMeter.attach(page)
    first = open_demo(page, url, out)
    first_ws = ws.received

    # "image space" is the display JPEG we passed (800x600), drawn 1:1 on the 800x600 canvas
    assert first["display"] == [800, 600] and first["original"] == [1600, 1200] and first["scale"] == 0.5
    fit = first["fit"]
    assert (fit["natural_width"], fit["natural_height"]) == (800, 600)
    assert (fit["scale_x"], fit["scale_y"], fit["offset_x"], fit["offset_y"]) == (1, 1, 0, 0)
    assert first["boxes"] == [] and first["label"] == CAR
    # the JPEG is fetched once, raw, from Streamlit's media endpoint; the websocket does not carry it
    media = http.under("/media/", body_only=True)
    assert list(media.values()) == [first["jpeg_bytes"]], media
    first_http = sum(http.under("/media/").values())
    print(
        f"first load: {first_ws} B websocket + {first_http} B image over HTTP for a {first['jpeg_bytes']} B "
        f"display JPEG ({(first_ws + first_http) / first['jpeg_bytes']:.2f}x)"
    )
    assert first_ws < first["jpeg_bytes"]

    car_pts = draw_box(page, (100, 150), (350, 300))
    wait_boxes(out, 1)
    wait_for_idle(page)
    ws.mark("switch")
    page.keyboard.press("2")  # the picker's shortcut for the second label
    wait_until(lambda: (read_json(out) or {}).get("label") == PERSON, what="label switched by key 2")
    assert page.get_by_role("button", name="person *x*").first.is_visible()  # escaped, shown literally
    wait_for_idle(page)
    switch_recv, _ = ws.since("switch")
    ws.mark("draw")
    person_pts = draw_box(page, (500, 100), (600, 400))
    state = wait_boxes(out, 2, PERSON)
    wait_for_idle(page)
    drawn_recv, drawn_sent = ws.since("draw")
    print(f"label switch: {switch_recv} B received; drawing one box: {drawn_recv} B received, {drawn_sent} B sent")
    assert switch_recv < first["jpeg_bytes"] / 2, "a label switch must not re-send the image"
    assert drawn_recv < first["jpeg_bytes"] / 2, "drawing must not re-send the image"
    assert sum(http.under("/media/").values()) == first_http, "the browser must not fetch the image again"

    by_label = {b["label"]: b for b in state["boxes"]}
    assert_box(by_label[CAR], CAR, {"left": 200, "top": 300, "width": 500, "height": 300})
    assert_box(by_label[PERSON], PERSON, {"left": 1000, "top": 200, "width": 200, "height": 600})
    # against the points the browser actually received (whole page pixels), the match is exact
    assert_box(by_label[CAR], CAR, to_original(car_pts, 0.5), tol=0.01)
    assert_box(by_label[PERSON], PERSON, to_original(person_pts, 0.5), tol=0.01)

    # clicking the picker button switches back, and the rerun keeps both boxes
    page.get_by_role("button", name=CAR).first.click()
    assert wait_boxes(out, 2, CAR)["boxes"] == state["boxes"]
    page.context.close()

    # reopen in a new session with the saved boxes as the initial drawing
    initial.write_text(json.dumps(state["boxes"]))
    page = new_page(browser)
    reopened = open_demo(page, url, out)
    assert _same_boxes(reopened["boxes"], state["boxes"])
    img = canvas_screenshot(page, path=tmp_path / "reopened.png")
    assert img.size == (800, 600)
    assert edge_color_distance(img, by_label[CAR], 0.5, CAR_RGB) < 60
    assert edge_color_distance(img, by_label[PERSON], 0.5, PERSON_RGB) < 60
    # and not where there is no box of that colour
    assert edge_color_distance(img, by_label[CAR], 0.5, PERSON_RGB) > 100
    assert edge_color_distance(img, {"left": 1300, "top": 900, "width": 100, "height": 100}, 0.5, CAR_RGB) > 100
    page.context.close()


@pytest.mark.browser
def test_toolbar_undo_redo_delete_and_caller_reset(streamlit_app: Any, page: Any, tmp_path: Path) -> None:
    url, out, initial = start_demo(streamlit_app, tmp_path)
    open_demo(page, url, out)
    draw_box(page, (100, 150), (350, 300))
    wait_boxes(out, 1)
    draw_box(page, (500, 100), (600, 400))
    wait_boxes(out, 2)

    toolbar = page.locator(".dc-toolbar")
    page.locator('button[aria-label="Undo"]').click()
    assert [b["left"] for b in wait_boxes(out, 1)["boxes"]] == [200.0]
    page.locator('button[aria-label="Redo"]').click()
    wait_boxes(out, 2)

    # edit toggle: select the second box, the contextual group appears, delete it
    page.locator('button[aria-label="Edit"]').click()
    cb = canvas_box(page)
    page.mouse.click(round(cb.x + 550), round(cb.y + 250))
    delete = page.locator('button[aria-label="Delete selected"]')
    wait_until(lambda: delete.is_visible() and delete.is_enabled(), what="Delete selected enabled")
    tb = toolbar.bounding_box()
    screenshot(page, tmp_path / "toolbar.png", clip=Box(tb["x"] - 4, tb["y"] - 4, tb["width"] + 8, tb["height"] + 8))
    labels = page.locator(".dc-toolbar button").evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    assert labels == [
        "Update the app with this drawing",
        "Undo",
        "Redo",
        "Edit",
        "Bring forward",
        "Send backward",
        "Delete selected",
        "Reset canvas & history",
    ]
    delete.click()
    assert [b["label"] for b in wait_boxes(out, 1)["boxes"]] == [CAR]

    # the caller passes different boxes: the canvas is reset to them
    replacement: list[dict[str, Any]] = [
        {"label": PERSON, "left": 100.0, "top": 100.0, "width": 300.0, "height": 200.0}
    ]
    initial.write_text(json.dumps(replacement))
    page.get_by_role("button", name=PERSON).first.click()  # any rerun of the fragment
    wait_until(lambda: _same_boxes((read_json(out) or {}).get("boxes"), replacement), what="caller reset")


@pytest.mark.browser
def test_max_display_and_base_url_path(streamlit_app: Any, browser: Any, tmp_path: Path) -> None:
    """A canvas smaller than the display JPEG (contain fit 0.5), in an app served under a path prefix."""
    url, out, initial = start_demo(
        streamlit_app, tmp_path, GT_CANVAS_DEMO_MAX_DISPLAY="400x400", STREAMLIT_SERVER_BASE_URL_PATH="gt/app"
    )
    assert url.endswith("/gt/app")
    saved: list[dict[str, Any]] = [{"label": CAR, "left": 200.0, "top": 300.0, "width": 500.0, "height": 300.0}]
    initial.write_text(json.dumps(saved))
    page = new_page(browser)
    http = HttpMeter.attach(page)
    state = open_demo(page, url, out)
    assert state["fit"]["scale_x"] == 0.5 and state["fit"]["natural_width"] == 800
    assert _same_boxes(state["boxes"], saved)
    wait_until(lambda: http.under("/gt/app/media/", body_only=True), what="the JPEG fetched under the base path")
    assert list(http.under("/gt/app/media/", body_only=True).values()) == [state["jpeg_bytes"]]
    img = canvas_screenshot(page)
    assert img.size == (400, 300)
    assert edge_color_distance(img, saved[0], 0.25, CAR_RGB) < 60
    pts = draw_box(page, (250, 50), (300, 200))  # canvas px; 1 canvas px = 4 original px here
    got = wait_boxes(out, 2)["boxes"][1]
    assert_box(got, CAR, {"left": 1000, "top": 200, "width": 200, "height": 600}, tol=2.0)
    assert_box(got, CAR, to_original(pts, 0.25), tol=0.01)
    page.context.close()


@pytest.mark.browser
def test_read_only_shows_boxes_without_toolbar(streamlit_app: Any, page: Any, tmp_path: Path) -> None:
    url, out, initial = start_demo(streamlit_app, tmp_path, GT_CANVAS_DEMO_READ_ONLY="1")
    saved: list[dict[str, Any]] = [{"label": PERSON, "left": 1000.0, "top": 200.0, "width": 200.0, "height": 600.0}]
    initial.write_text(json.dumps(saved))
    state = open_demo(page, url, out)
    assert _same_boxes(state["boxes"], saved)
    assert not page.locator(".dc-toolbar").is_visible()
    run = state["run"]
    draw_box(page, (100, 150), (350, 300))
    page.get_by_role("button", name=CAR).first.click()  # force a rerun: the drag must not have added a box
    wait_until(lambda: (read_json(out) or {}).get("run", 0) > run, what="a rerun")
    assert _same_boxes(read_json(out)["boxes"], saved)
    assert edge_color_distance(canvas_screenshot(page), saved[0], 0.5, PERSON_RGB) < 60

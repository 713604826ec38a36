"""Hostile and awkward images in a real job: truncated JPEG, PNG bombs, a text file named .jpg, SVG, 16-bit PNG,
CMYK JPEG, and photos with every EXIF orientation.

Bad files never raise on the annotator's screen: ``taskimages.task_image`` returns the reason, the object is
flagged for the team lead once, the annotator can decline it, and the viewer draws a placeholder. An SVG is never
rasterised, so the address it points to receives no request. For EXIF-rotated photos the box an annotator draws
around a red patch on the displayed (rotated) image is converted with the canvas geometry, submitted through the
queue, consolidated, and must land on the red pixels of the oriented original in the output manifest.
"""

from __future__ import annotations

import io
import json
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps
from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import ImageError
from gtcore.images import decoding as images
from gtcore.images import task_images as taskimages
from gtcore.queue import api as queue
from gtcore.ui.canvas import plan_geometry
from gtcore.viewer import tiles
from tests.fixtures.core import run_work
from tests.fixtures.jobs import JobFactory
from tests.fixtures.people import People

DISPLAYED = (1200, 800)  # the photo as a person sees it (after EXIF orientation)
RED_BOX = (720, 160, 240, 200)  # left, top, width, height on the displayed photo
# what EXIF orientation n asks a viewer to do to the stored pixels (Pillow's exif_transpose), and its inverse
TO_DISPLAY = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}  # fmt: skip
TO_STORED = {**TO_DISPLAY, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


class Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        Recorder.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def http_recorder() -> Iterator[str]:
    Recorder.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _png_header_bomb(width: int, height: int) -> bytes:
    """A valid PNG signature + IHDR claiming ``width`` x ``height`` and a tiny IDAT: a few dozen bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _encode(img: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def hostile_files(root: Path, recorder_url: str) -> dict[str, tuple[Path, str]]:
    """name -> (file, words the refusal must say)."""
    folder = root / "images" / "hostile"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    photo = Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8), "RGB")
    jpeg = _encode(photo, "JPEG", quality=90)
    bomb = Image.new("1", (12_000, 12_000))  # 144 megapixels of zeros: about 20 KB as PNG
    files = {
        "truncated.jpg": (jpeg[: len(jpeg) * 3 // 5], "truncated or corrupt"),
        "header-bomb.png": (_png_header_bomb(100_000, 100_000), "decompression bomb"),
        "zeros-bomb.png": (_encode(bomb, "PNG", optimize=True), "decompression bomb"),
        "notes.jpg": (b"this is a text file with a .jpg name\n" * 20, "not an image"),
        "drawing.svg": (
            (
                '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                f'<image href="{recorder_url}/svg-fetch.png" width="10" height="10"/>'
                "<script>alert(1)</script></svg>"
            ).encode(),
            "SVG/XML is not shown",
        ),
        "svg-named.png": (
            f'<svg xmlns="http://www.w3.org/2000/svg"><image href="{recorder_url}/x"/></svg>'.encode(),
            "SVG/XML is not shown",
        ),  # fmt: skip
        "empty.png": (b"", "empty file"),
    }
    out = {}
    for name, (data, words) in files.items():
        (folder / name).write_bytes(data)
        out[name] = (folder / name, words)
    return out


def test_hostile_files_are_refused_with_the_reason_everywhere(ctx: Context, tmp_path: Path, http_recorder: str) -> None:
    files = hostile_files(tmp_path, http_recorder)
    for name, (path, words) in files.items():
        with pytest.raises(ImageError, match=words):
            images.decode(path.read_bytes(), max_side=576, uri=str(path))
    assert files["header-bomb.png"][0].stat().st_size < 200  # tiny file, 10 gigapixels claimed
    assert files["zeros-bomb.png"][0].stat().st_size < 40_000  # 144 real megapixels in a few kilobytes

    people = People(ctx)
    admin = people.root()
    ann = people.worker("team-a")
    paths = [p for p, _ in files.values()]
    job = JobFactory(ctx, tmp_path, actor=admin).create(name="hostile-images", lines=[{"source-ref": str(p)}
                                                                                      for p in paths])  # fmt: skip
    seen = {}
    for _ in paths:
        task = queue.claim_next(ctx, ann, job.job_id)
        assert task is not None
        img = taskimages.task_image(ctx, ann, task)  # never raises: the screen shows the reason
        assert img.jpeg is None and img.error
        seen[Path(str(task.source_ref)).name] = img.error
        queue.decline(ctx, ann, task.assignment_id, "the image cannot be shown")
        tile = tiles.render_image(ctx, admin, str(task.source_ref))  # the auditor's viewer: a placeholder
        assert not tile.ok and tile.reason
    for name, (_, words) in files.items():
        assert words in seen[name], (name, seen[name])
    with ctx.db.read() as conn:
        flags = dict(conn.execute(select(dbm.objects.c.source_ref, dbm.objects.c.image_error)
                                  .where(dbm.objects.c.job_id == job.job_id)).all())  # fmt: skip
    assert all(flags[str(p)] for p in paths), flags  # flagged once for the team lead
    assert Recorder.hits == [], "an SVG's link was fetched"


def test_16_bit_and_cmyk_images_are_shown_with_their_colours(ctx: Context, tmp_path: Path) -> None:
    ramp = np.tile(np.array([0, 16384, 32768, 65535], dtype=np.uint16).repeat(50), (40, 1))
    sixteen = _encode(Image.fromarray(ramp), "PNG")
    cmyk = _encode(Image.new("CMYK", (120, 80), (0, 255, 255, 0)), "JPEG", quality=95)  # pure red in CMYK
    assert Image.open(io.BytesIO(sixteen)).mode.startswith("I")
    grey = np.asarray(images.decode(sixteen).image)
    assert grey.shape == (40, 200, 3)
    assert [int(grey[20, x, 0]) for x in (25, 75, 125, 175)] == pytest.approx([0, 64, 128, 255], abs=1)
    red = np.asarray(images.decode(cmyk).image)[40, 60]
    assert red[0] > 220 and red[1] < 40 and red[2] < 40, red
    # through the task screen too
    people = People(ctx)
    ann = people.worker("team-a")
    folder = tmp_path / "images" / "modes"
    folder.mkdir(parents=True)
    (folder / "deep.png").write_bytes(sixteen)
    (folder / "print.jpg").write_bytes(cmyk)
    job = JobFactory(ctx, tmp_path, actor=people.root()).create(
        name="modes", lines=[{"source-ref": str(folder / n)} for n in ("deep.png", "print.jpg")]
    )
    for _ in range(2):
        task = queue.claim_next(ctx, ann, job.job_id)
        assert task is not None
        img = taskimages.task_image(ctx, ann, task)
        assert img.ok and img.original_size in ((200, 40), (120, 80)), img
        queue.decline(ctx, ann, task.assignment_id)  # on to the other one


def rotated_photo(path: Path, orientation: int) -> Image.Image:
    """Write a JPEG whose stored pixels need EXIF ``orientation`` to look like the displayed photo; return that."""
    shown = Image.new("RGB", DISPLAYED, (200, 200, 200))
    draw = ImageDraw.Draw(shown)
    draw.rectangle([0, 0, 160, 100], fill=(30, 60, 200))  # blue mark top-left: asymmetry for every flip
    x, y, w, h = RED_BOX
    draw.rectangle([x, y, x + w - 1, y + h - 1], fill=(230, 20, 20))
    stored = shown if orientation == 1 else shown.transpose(TO_STORED[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, format="JPEG", quality=95, exif=exif.tobytes())
    assert ImageOps.exif_transpose(Image.open(path)).size == DISPLAYED
    return shown


def _red_bbox(rgb: np.ndarray) -> tuple[int, int, int, int]:
    mask = (rgb[..., 0] > 170) & (rgb[..., 1] < 90) & (rgb[..., 2] < 90)
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _mean(img: Image.Image, box: dict[str, float]) -> np.ndarray:
    l, t, w, h = (round(box[k]) for k in ("left", "top", "width", "height"))  # noqa: E741
    return np.asarray(img.crop((l + 3, t + 3, l + w - 3, t + h - 3)), dtype=float).reshape(-1, 3).mean(axis=0)


def test_boxes_on_exif_rotated_photos_land_on_the_right_pixels(ctx: Context, tmp_path: Path) -> None:
    from gtcore.ui.canvas import CanvasGeometry

    folder = tmp_path / "images" / "exif"
    folder.mkdir(parents=True)
    paths = {o: folder / f"orientation-{o}.jpg" for o in range(1, 9)}
    for o, p in paths.items():
        rotated_photo(p, o)
    people = People(ctx)
    ann = people.worker("team-a")
    job = JobFactory(ctx, tmp_path, actor=people.root()).create(
        name="exif", lines=[{"source-ref": str(p)} for p in paths.values()], labels=["target", "other"]
    )
    drawn = {}
    for _ in paths:
        task = queue.claim_next(ctx, ann, job.job_id)
        assert task is not None
        img = taskimages.task_image(ctx, ann, task)
        assert img.ok and img.original_size == DISPLAYED, img
        geom: CanvasGeometry = plan_geometry(img.jpeg or b"", display_scale=img.scale, original_size=img.original_size)
        shown = np.asarray(Image.open(io.BytesIO(img.jpeg or b"")).convert("RGB"))
        x0, y0, x1, y1 = _red_bbox(shown)  # the annotator draws around the red patch he sees
        box = geom.from_image_space({"label": "target", "left": x0, "top": y0, "width": x1 - x0, "height": y1 - y0})
        assert box is not None
        answer = {"boundingBox": {"boundingBoxes": [box],
                                  "inputImageProperties": {"width": DISPLAYED[0], "height": DISPLAYED[1]}}}  # fmt: skip
        queue.submit(ctx, ann, task.assignment_id, answer)
        drawn[str(task.source_ref)] = box

    run_work(ctx)  # the background worker finishes the job
    out = Path(job.summary.output_manifest_uri).read_text().splitlines()
    assert len(out) == len(paths)
    for line in map(json.loads, out):
        ref = line["source-ref"]
        (ann_box,) = line["exif"]["annotations"]
        assert line["exif"]["image_size"][0]["width"] == DISPLAYED[0]
        assert line["exif"]["image_size"][0]["height"] == DISPLAYED[1]
        got = {k: ann_box[k] for k in ("left", "top", "width", "height")}
        assert [got[k] for k in ("left", "top", "width", "height")] == pytest.approx(list(RED_BOX), abs=3), ref
        oriented = images.decode(Path(ref).read_bytes()).image  # gtcore.images.decoding: the oriented original
        r, g, b = _mean(oriented, got)
        assert r > 200 and g < 50 and b < 50, (ref, (r, g, b))
        raw = Image.open(ref).convert("RGB")  # the stored pixels, orientation ignored
        if not ref.endswith("orientation-1.jpg") and raw.size == DISPLAYED:
            assert _mean(raw, got)[0] < 200 or _mean(raw, got)[2] > 100, f"{ref}: the test photo is symmetric"

"""Semantic segmentation end to end: the mask PNG codec (byte for byte against realdata/semseg-pcb/mask.png), the
per-pixel vote, answer checks (wrong size, stray colours, the 100-megapixel limit), jobs made, answered and
finished through gtcore on SQLite and PostgreSQL with output lines compared key by key with the real Ground Truth
line, adjustment by chaining, and the viewer reading the result back."""

from __future__ import annotations

import base64
import io
import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gtcore.consolidation.segmentation import vote
from gtcore.context import Context
from gtcore.core.colors import semseg_colors
from gtcore.core.errors import SpecError, ValidationError
from gtcore.jobs import api as jobs
from gtcore.manifests.augmented import read_augmented
from gtcore.manifests.label_values import mask_of
from gtcore.output.mask_png import decode_color_png, decode_index_png, encode_palette_png
from gtcore.queue import api as queue
from gtcore.queue.answer_checks import validate_answer
from tests.fixtures.core import make_user, run_work
from tests.fixtures.jobs import JobFactory

LABELS = ["IC", "resistor1", "resistor2"]
EL = "crowd-semantic-segmentation"
PNG_PATH = re.compile(r"/annotations/consolidated-annotation/output/(\d+)_\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\.png$")
W, H = 64, 48


def color_png(classes: np.ndarray, labels: list[str] = LABELS, mode: str = "RGB") -> str:
    """A worker's answer PNG (RGB, each pixel its class colour) as base64."""
    table = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in semseg_colors(labels)], dtype=np.uint8)
    rgb = table[classes]
    im = Image.fromarray(rgb, "RGB").convert(mode)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def answer(classes: np.ndarray, labels: list[str] = LABELS, **extra: Any) -> dict[str, Any]:
    colors = semseg_colors(labels)
    body = {
        "labeledImage": {"pngImageData": color_png(classes, labels)},
        "labelMappings": {name: {"color": colors[i + 1]} for i, name in enumerate(labels)},
        "inputImageProperties": {"height": int(classes.shape[0]), "width": int(classes.shape[1])},
        **extra,
    }
    return {EL: body}


def painted(*rects: tuple[int, int, int, int, int], shape: tuple[int, int] = (H, W)) -> np.ndarray:
    m = np.zeros(shape, dtype=np.uint8)
    for cls, x, y, w, h in rects:
        m[y : y + h, x : x + w] = cls
    return m


# --------------------------------------------------------------------------- codec and vote


def test_palette_png_is_byte_identical_to_ground_truths(realdata: Path) -> None:
    real = (realdata / "semseg-pcb" / "mask.png").read_bytes()
    indices, palette = decode_index_png(real)
    line = json.loads((realdata / "semseg-pcb" / "output.manifest").read_text())
    cmap = line["S10-label3-ref-metadata"]["internal-color-map"]
    colors = [cmap[str(i)]["hex-color"] for i in range(len(cmap))]
    assert palette[: len(colors)] == colors and set(palette[len(colors) :]) == {"#ffffff"}
    assert encode_palette_png(indices, colors) == real
    assert colors == ["#ffffff", *semseg_colors(["a", "b", "c"])[1:]]  # Ground Truth's default colours, in order


def test_vote_single_worker_is_that_mask_with_confidence_zero() -> None:
    m = painted((1, 2, 2, 10, 10), (3, 30, 5, 4, 4))
    r = vote([m], 4)
    assert np.array_equal(r.mask, m) and r.confidence == 0 and isinstance(r.confidence, int)


def test_vote_majority_and_tie_break_by_neighbours() -> None:
    a = painted((1, 10, 10, 20, 20))
    b = painted((1, 10, 10, 20, 20))
    c = painted((2, 10, 10, 20, 20))
    r = vote([a, b, c], 4)
    assert (r.mask[10:30, 10:30] == 1).all() and (r.mask == 0).sum() == W * H - 400
    assert r.confidence == pytest.approx(2 / 3)
    # a 1-1 tie at one pixel follows its neighbours
    x = painted((1, 0, 0, 20, 20))
    y = painted((1, 0, 0, 20, 20))
    y[5, 5] = 2
    r2 = vote([x, y], 3)
    assert r2.mask[5, 5] == 1 and 0 < r2.confidence < 1


# --------------------------------------------------------------------------- answer checks


def test_answer_check_accepts_ground_truths_shape() -> None:
    clean = validate_answer("SemanticSegmentation", LABELS, answer(painted((2, 3, 3, 5, 5))))
    assert list(clean[EL]) == ["labeledImage", "labelMappings", "inputImageProperties"]


def test_answer_check_refuses_wrong_size_and_stray_colours() -> None:
    bad = answer(painted((1, 3, 3, 5, 5)))
    bad[EL]["inputImageProperties"] = {"height": H, "width": W + 1}
    with pytest.raises(ValidationError) as e:
        validate_answer("SemanticSegmentation", LABELS, bad)
    assert "the mask is 64x48 px but the image is 65x48 px" in str(e.value)
    assert "crowd-semantic-segmentation.labeledImage.pngImageData" in str(e.value)
    rgb = np.full((H, W, 3), 255, dtype=np.uint8)
    rgb[1, 2] = (1, 2, 3)
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG")
    stray = answer(painted())
    stray[EL]["labeledImage"]["pngImageData"] = base64.b64encode(buf.getvalue()).decode()
    with pytest.raises(ValidationError) as e:
        validate_answer("SemanticSegmentation", LABELS, stray)
    assert "1 pixel(s) have colours outside the job's palette (#010203; first at x,y (2, 1))" in str(e.value)
    wrong_map = answer(painted())
    wrong_map[EL]["labelMappings"]["IC"] = {"color": "#123456"}
    with pytest.raises(ValidationError, match="must be #2ca02c"):
        validate_answer("SemanticSegmentation", LABELS, wrong_map)


def _png_claiming(w: int, h: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_answer_check_refuses_masks_above_100_megapixels() -> None:
    huge = answer(painted())
    huge[EL]["labeledImage"]["pngImageData"] = base64.b64encode(_png_claiming(12_000, 9_000)).decode()
    huge[EL]["inputImageProperties"] = {"height": 9_000, "width": 12_000}
    with pytest.raises(ValidationError, match="108 megapixels; a mask is at most 100 MP"):
        validate_answer("SemanticSegmentation", LABELS, huge)
    with pytest.raises(ValidationError):
        decode_color_png(_png_claiming(12_000, 9_000), semseg_colors(LABELS), (12_000, 9_000))


# --------------------------------------------------------------------------- jobs


def _crew(ctx: Context, team_id: int, n: int, tag: str) -> list[Any]:
    return [make_user(ctx.db, f"{tag}{k}@example.test", ("worker",), (team_id,)) for k in range(n)]


def _run(ctx: Context, job_id: int, workers: list[Any], answer_for: Any) -> None:
    for w in workers:
        while (task := queue.claim_next(ctx, w, job_id)) is not None:
            if queue.submit(ctx, w, task.assignment_id, answer_for(task, w)).job_done:
                break
    run_work(ctx)  # the background work: worker-response files, finishing the job


def _output(ctx: Context, factory: JobFactory, name: str) -> list[dict[str, Any]]:
    path = factory.root / "output" / name / "manifests" / "output" / "output.manifest"
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(x) for x in text.splitlines()]


def test_attribute_must_end_in_ref(job_factory: JobFactory) -> None:
    with pytest.raises(SpecError, match="must end with -ref for Semantic segmentation jobs"):
        job_factory.create(task_type="SemanticSegmentation", label_attribute="masks")
    with pytest.raises(SpecError, match="BACKGROUND is class 0"):
        job_factory.create(task_type="SemanticSegmentation", label_attribute="m-ref", labels=["BACKGROUND", "x"])


def test_single_worker_output_matches_ground_truths_line(any_job_factory: JobFactory, realdata: Path) -> None:
    f = any_job_factory
    job = f.create(name="S10-label3", task_type="SemanticSegmentation", label_attribute="S10-label3-ref", n_images=2)
    (w,) = _crew(f.ctx, job.team_id, 1, "seg")
    masks = {0: painted((1, 2, 2, 20, 10), (2, 30, 20, 8, 8)), 1: painted((3, 0, 0, 64, 5))}
    _run(f.ctx, job.job_id, [w], lambda t, _w: answer(masks[t.object_idx]))
    assert jobs.describe_labeling_job(f.ctx, f.actor, job.name)["LabelingJobStatus"] == "Completed"
    lines = _output(f.ctx, f, job.name)
    real = json.loads((realdata / "semseg-pcb" / "output.manifest").read_text())
    for idx, line in enumerate(lines):
        assert list(line) == list(real)  # source-ref, <attr>, <attr>-metadata
        meta, real_meta = line["S10-label3-ref-metadata"], real["S10-label3-ref-metadata"]
        assert list(meta) == list(real_meta)
        assert meta["internal-color-map"] == real_meta["internal-color-map"]  # same classes, colours, confidence 0
        assert meta["type"] == real_meta["type"] and meta["human-annotated"] == "yes"
        assert meta["job-name"] == real_meta["job-name"] == "labeling-job/s10-label3"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", meta["creation-date"])
        uri = line["S10-label3-ref"]
        assert PNG_PATH.search(uri) and PNG_PATH.search(uri).group(1) == str(idx)  # type: ignore[union-attr]
        assert uri.startswith(str(f.root / "output" / job.name) + "/")
        png = Path(uri).read_bytes()
        im = Image.open(io.BytesIO(png))
        real_im = Image.open(realdata / "semseg-pcb" / "mask.png")
        assert im.mode == real_im.mode == "P" and im.getpalette() == real_im.getpalette()
        assert np.array_equal(np.asarray(im), masks[idx])
        # the compact serialisation, as Ground Truth's
        raw = (f.root / "output" / job.name / "manifests/output/output.manifest").read_text().splitlines()[idx]
        assert '"S10-label3-ref-metadata":{"internal-color-map":{"0":{"class-name":"BACKGROUND"' in raw
    # the viewer reads it back and finds the mask
    man = read_augmented(f.ctx.storage, str(f.root / "output" / job.name / "manifests/output/output.manifest"))
    seg = mask_of(man.records[0], "S10-label3-ref")
    assert seg is not None and seg.classes[1] == ("IC", "#2ca02c", 0)


def test_three_workers_vote(job_factory: JobFactory) -> None:
    f = job_factory
    job = f.create(task_type="SemanticSegmentation", label_attribute="seg-ref", n_images=1, workers_per_object=3)
    crew = _crew(f.ctx, job.team_id, 3, "v")
    by_worker = {
        crew[0].user_id: painted((1, 10, 10, 20, 20)),
        crew[1].user_id: painted((1, 12, 10, 20, 20)),
        crew[2].user_id: painted((2, 10, 10, 20, 20)),
    }
    _run(f.ctx, job.job_id, crew, lambda t, w: answer(by_worker[w.user_id]))
    (line,) = _output(f.ctx, f, job.name)
    im = np.asarray(Image.open(line["seg-ref"]))
    assert (im[10:30, 12:30] == 1).all()  # 2 of 3 workers
    assert (im[11:29, 11] == 1).all()  # a 1-1-1 tie follows the neighbours
    assert (im[10:30, 30:32] == 0).all() and (im == 2).sum() == 0
    conf = line["seg-ref-metadata"]["internal-color-map"]["0"]["confidence"]
    assert isinstance(conf, float) and 0.5 < conf < 1
    assert {v["confidence"] for v in line["seg-ref-metadata"]["internal-color-map"].values()} == {conf}


def test_adjustment_chain_sets_adjustment_status(job_factory: JobFactory) -> None:
    f = job_factory
    job = f.create(task_type="SemanticSegmentation", label_attribute="seg-ref", n_images=2)
    (w,) = _crew(f.ctx, job.team_id, 1, "a")
    first = painted((1, 5, 5, 10, 10))
    _run(f.ctx, job.job_id, [w], lambda t, _w: answer(first))
    adj = jobs.chain_labeling_job(f.ctx, f.actor, job.name, "seg-fix", task_type="AdjustmentSemanticSegmentation")
    assert adj.label_attribute == "seg-fix-ref"

    def fix(task: Any, _w: Any) -> dict[str, Any]:
        assert task.previous["attribute"] == "seg-ref" and task.previous["maskUri"].endswith(".png")
        if task.object_idx == 0:
            return answer(painted((1, 5, 5, 10, 10), (3, 40, 30, 5, 5)), initialValueModified=True)
        return answer(first, initialValueModified=False)

    _run(f.ctx, adj.job_id, [w], fix)
    lines = _output(f.ctx, f, "seg-fix")
    assert [x["seg-fix-ref-metadata"]["adjustment-status"] for x in lines] == ["adjusted", "unadjusted"]
    assert all(x["seg-ref"] != x["seg-fix-ref"] for x in lines)  # the earlier attribute stays, the new one is added
    assert list(lines[0]["seg-fix-ref-metadata"])[-1] == "adjustment-status"

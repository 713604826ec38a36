"""Round trip of jobs made here through the manifest viewer and export: a semantic-segmentation job's output opens in
the viewer (tiles with the mask blended in), exports as COCO with RLE masks (decoded again with pycocotools) and as
PNG masks (the stored bytes), through gtcore and the CLI; the realdata mask exports too; a verification job's
output is filtered by verdict."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as cocomask

from gtcore.cli.command import main
from gtcore.core.access import Actor
from gtcore.manifests.augmented import read_augmented
from gtcore.viewer import export_masks, tiles
from gtcore.viewer import table as viewer
from tests.fixtures.core import make_user
from tests.fixtures.jobs import JobFactory
from tests.test_segmentation import _run, answer, painted
from tests.test_verification import verdict


def _seg_output(f: JobFactory) -> tuple[Path, dict[int, np.ndarray]]:
    job = f.create(name="pcb", task_type="SemanticSegmentation", label_attribute="pcb-ref", n_images=2)
    w = make_user(f.ctx.db, "painter@example.test", ("worker",), (job.team_id,))
    masks = {0: painted((1, 4, 4, 20, 10), (3, 40, 30, 10, 10)), 1: painted((2, 0, 0, 64, 6))}
    _run(f.ctx, job.job_id, [w], lambda t, _w: answer(masks[t.object_idx]))
    return f.root / "output" / "pcb" / "manifests" / "output" / "output.manifest", masks


def test_viewer_and_export_round_trip(job_factory: JobFactory, tmp_path: Path, monkeypatch: Any) -> None:
    f = job_factory
    out, masks = _seg_output(f)
    manifest = read_augmented(f.ctx.storage, str(out))
    (attr,) = manifest.attributes
    view = viewer.attribute_view(manifest, attr)
    assert [n for _c, n, _h in view.legend()][:4] == ["BACKGROUND", "IC", "resistor1", "resistor2"]
    tile = tiles.render(f.ctx, Actor.system_actor(), view, 0, side=64)
    assert tile.ok and tile.reason == ""
    shown = np.asarray(Image.open(io.BytesIO(tile.jpeg)).convert("RGB")).astype(int)
    plain = np.asarray(Image.open(manifest.records[0]["source-ref"]).convert("RGB")).astype(int)
    assert np.abs(shown[8, 10] - plain[8, 10]).sum() > 60  # the IC region is tinted with its colour
    assert np.abs(shown[45, 5] - plain[45, 5]).sum() < 30  # BACKGROUND is left clear

    coco = export_masks.export_masks(f.ctx.storage, manifest, None, "coco")
    doc = json.loads(coco.files["annotations.json"])
    assert [c["name"] for c in doc["categories"]] == ["IC", "resistor1", "resistor2"]
    assert coco.images == 2 and coco.annotations == 3 and not coco.skipped
    for ann in doc["annotations"]:
        img = doc["images"][ann["image_id"] - 1]
        rle = {"size": ann["segmentation"]["size"], "counts": ann["segmentation"]["counts"].encode()}
        decoded = cocomask.decode(rle)
        want = masks[ann["image_id"] - 1] == ann["category_id"]
        assert decoded.shape == (img["height"], img["width"]) and np.array_equal(decoded.astype(bool), want)
        assert ann["area"] == int(want.sum())
    png = export_masks.export_masks(f.ctx.storage, manifest, "pcb-ref", "png")
    names = sorted(png.files)
    assert names == ["classes.json", "masks/img_0000.png", "masks/img_0001.png"]
    assert png.files["masks/img_0000.png"] == Path(manifest.records[0]["pcb-ref"]).read_bytes()
    assert json.loads(png.files["classes.json"])["2"] == {"class-name": "resistor1", "hex-color": "#1f77b4"}

    # the CLI, as the operator
    dest = tmp_path / "exported"
    monkeypatch.setenv("GT_HOME", str(f.ctx.settings.home))
    monkeypatch.setenv("GT_LOCAL_ROOTS", str(tmp_path))
    assert main(["export", "--format", "png", str(out), str(dest)]) == 0
    assert (dest / "masks" / "img_0001.png").read_bytes() == Path(manifest.records[1]["pcb-ref"]).read_bytes()


def test_real_ground_truth_mask_exports(realdata: Path, tmp_path: Path, job_factory: JobFactory) -> None:
    line = json.loads((realdata / "semseg-pcb" / "output.manifest").read_text())
    line["S10-label3-ref"] = str(realdata / "semseg-pcb" / "mask.png")  # read in place
    path = tmp_path / "real.manifest"
    path.write_text(json.dumps(line) + "\n")
    from gtcore.manifests.augmented import parse_augmented
    from gtcore.storage.store import Storage
    from tests.fixtures.core import make_settings

    storage = Storage(make_settings(tmp_path, GT_LOCAL_ROOTS=f"{tmp_path}:{realdata}"))
    manifest = parse_augmented(path.read_bytes(), where=str(path))
    result = export_masks.export_masks(storage, manifest, None, "coco")
    doc = json.loads(result.files["annotations.json"])
    assert [(c["id"], c["name"], c["hex_color"]) for c in doc["categories"]] == [
        (1, "IC", "#2ca02c"),
        (2, "resistor1", "#1f77b4"),
        (3, "resistor2", "#ff7f0e"),
    ]
    assert sorted(a["area"] for a in doc["annotations"]) == [2677, 2945, 27558]  # pixel counts of mask.png


def test_viewer_filters_on_verification_results(job_factory: JobFactory) -> None:
    f = job_factory
    src = f.create(task_type="BoundingBox", n_images=3)
    w = make_user(f.ctx.db, "w@example.test", ("worker",), (src.team_id,))
    box = {"height": 10, "label": "cat", "left": 3, "top": 4, "width": 20}
    ans = {"boundingBox": {"boundingBoxes": [box], "inputImageProperties": {"height": 48, "width": 64}}}
    _run(f.ctx, src.job_id, [w], lambda t, _w: ans)
    from gtcore.jobs import api as jobs

    labels = f.write_labels("v", ["Correct", "Incorrect"])
    v = jobs.chain_labeling_job(
        f.ctx,
        f.actor,
        src.name,
        "checked",
        task_type="VerificationBoundingBox",
        overrides={"LabelCategoryConfigS3Uri": str(labels)},
    )
    _run(f.ctx, v.job_id, [w], lambda t, _w: verdict("Incorrect" if t.object_idx == 1 else "Correct"))
    out = f.root / "output" / "checked" / "manifests" / "output" / "output.manifest"
    manifest = read_augmented(f.ctx.storage, str(out))
    assert viewer.verification_choices(manifest) == [("checked", "Correct"), ("checked", "Incorrect")]
    boxes_view = viewer.attribute_view(manifest, manifest.attribute(src.name))
    bad = viewer.apply_filters(boxes_view, viewer.Filters(verification=("checked", "Incorrect")))
    assert bad.tolist() == [1]
    good = viewer.apply_filters(boxes_view, viewer.Filters(verification=("checked", "Correct")))
    assert good.tolist() == [0, 2]

"""Round trip of jobs made here through the manifest viewer and export: a semantic-segmentation job's output opens in
the viewer (tiles with the mask blended in), exports as COCO with RLE masks (decoded again with pycocotools) and as
PNG masks (the stored bytes), through gtcore and the CLI; the realdata mask exports too; a verification job's
output is filtered by verdict."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as cocomask

from gtcore.cli.command import main
from gtcore.core.access import Actor
from gtcore.manifests.augmented import read_augmented
from gtcore.viewer import export_masks, selection, tiles
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
    assert {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*") if p.is_file()} == png.files
    assert main(["export", "--format", "coco", str(out), str(tmp_path / "coco")]) == 0  # streamed: the same file
    streamed = json.loads((tmp_path / "coco" / "annotations.json").read_bytes())
    for d in (streamed, doc):
        d["info"].pop("date_created")
    assert streamed == doc


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
    assert selection.verification_choices(manifest) == [("checked", "Correct"), ("checked", "Incorrect")]
    boxes_view = viewer.attribute_view(manifest, manifest.attribute(src.name))
    bad = selection.apply_filters(boxes_view, selection.Filters(verification=("checked", "Incorrect")))
    assert bad.tolist() == [1]
    good = selection.apply_filters(boxes_view, selection.Filters(verification=("checked", "Correct")))
    assert good.tolist() == [0, 2]


def test_viewer_page_exports_masks_and_filters_verdicts(tmp_path: Path, monkeypatch: Any) -> None:
    from streamlit.testing.v1 import AppTest

    from gtcore.context import Context
    from gtcore.core.settings import Settings
    from gtcore.jobs import api as jobs
    from gtcore.viewer import opener
    from tests.fixtures.people import People

    home = tmp_path / "gt-home"
    monkeypatch.setenv("GT_HOME", str(home))
    monkeypatch.setenv("GT_DATABASE_URL", f"sqlite:///{home / 'gt.sqlite3'}")
    monkeypatch.setenv("GT_LOCAL_ROOTS", str(tmp_path))
    opener.clear_cache()
    tiles.clear_caches()
    ctx = Context.from_settings(Settings.from_env())
    f = JobFactory(ctx, tmp_path)
    out, _masks = _seg_output(f)
    labels = f.write_labels("v", ["Correct", "Incorrect"])
    v = jobs.chain_labeling_job(
        ctx, f.actor, "pcb", "pcb-checked", task_type="VerificationSemanticSegmentation",
        overrides={"LabelCategoryConfigS3Uri": str(labels)},
    )  # fmt: skip
    w = make_user(ctx.db, "judge@example.test", ("worker",), (f.team(),))
    _run(ctx, v.job_id, [w], lambda t, _w: verdict("Incorrect" if t.object_idx == 0 else "Correct", "edge off"))
    checked = tmp_path / "output" / "pcb-checked" / "manifests" / "output" / "output.manifest"
    p = People(ctx)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "viewer.py"), default_timeout=60)
    at.session_state["gt_token"] = p.token(p.auditor())
    at.run()
    at.segmented_control(key="viewer_kind").set_value("Path or S3 URI").run()
    at.text_input(key="viewer_uri").input(str(checked)).run()
    at.button(key="viewer_open").click().run()
    assert not at.exception, [e.value for e in at.exception]
    attrs = at.selectbox(key="viewer_attr").options
    at.selectbox(key="viewer_attr").select_index(next(k for k, a in enumerate(attrs) if "semantic" in a)).run()
    at.selectbox(key="viewer_f_verdict").select_index(2).run()  # pcb-checked: Incorrect
    texts = "\n".join(str(e.value) for e in (*at.caption, *at.text, *at.info, *at.markdown))
    assert "1 of 2 lines match" in re.sub(r"\\(.)", r"\1", texts)
    at.radio(key="viewer_xm_fmt").set_value("coco").run()
    at.button(key="viewer_xm_build").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "coco: 2 mask(s), 3 class region(s) exported" in "\n".join(t.value for t in at.text)
    assert at.get("download_button")
    assert out.exists()

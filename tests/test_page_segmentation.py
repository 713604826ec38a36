"""AppTest flows for semantic segmentation and label verification: the Create job page (task type, the -ref
attribute, Ground Truth's default colours, the verification labels and the attribute to verify, chaining a
verification job), and the Label page (the painting tools, the verification screen: earlier boxes drawn,
a verification label and a comment submitted)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.jobs import api as jobs
from gtcore.queue import api as queue
from tests.fixtures.core import run_work
from tests.fixtures.labeling import LabelWorld, app_as, open_page, start_in_app
from tests.fixtures.people import People
from tests.test_page_create_job import _add_label, _images, _ok, _page, _texts


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def test_create_semantic_segmentation_job(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    p.team("team-a")
    folder = _images(tmp_path / "boards", 2)
    at = _page(p.token(admin))
    at.radio(key="cj_task_type").set_value("SemanticSegmentation").run()
    _ok(at)
    assert at.text_input(key="cj_title").value == "Paint every object"
    at.text_input(key="cj_folder").input(str(folder)).run()
    at.button(key="cj_setup").click().run()
    at.text_input(key="cj_name").input("pcb").run()
    assert "Labels go under 'pcb-ref'." in _texts(at)  # the attribute of a semseg job ends in -ref
    at.text_input(key="cj_attr").input("pcb-masks").run()
    assert "must end with -ref for Semantic segmentation jobs" in _plain("\n".join(e.value for e in at.error))
    at.text_input(key="cj_attr").input("").run()
    for label in ("IC", "resistor1", "resistor2"):
        at = _add_label(at, label)
    at.button(key="cj_create").click().run()
    _ok(at)
    assert "Created labeling job pcb with 2 objects" in _texts(at)
    made = jobs.describe_labeling_job(page_ctx, admin, "pcb")
    assert made["LabelAttributeName"] == "pcb-ref"
    assert made["HumanTaskConfig"]["TaskType"] == "SemanticSegmentation"
    assert made["HumanTaskConfig"]["TaskTimeLimitInSeconds"] == 3600


def test_create_verification_over_a_manifest_and_by_chaining(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    p.team("team-a")
    img = _images(tmp_path / "cars", 1) / "img-00.png"
    line = {
        "source-ref": str(img),
        "cars": {"image_size": [{"width": 64, "height": 48, "depth": 3}], "annotations": []},
        "cars-metadata": {"objects": [], "class-map": {}, "type": "groundtruth/object-detection"},
    }
    manifest = tmp_path / "cars.manifest"
    manifest.write_text(json.dumps(line) + "\n")
    at = _page(p.token(admin))
    at.radio(key="cj_task_type").set_value("VerificationBoundingBox").run()
    _ok(at)
    assert [t.value.split(": ", 1)[1] for t in at.text if t.value[:1].isdigit()] == ["Correct", "Incorrect"]
    at.radio(key="cj_input_kind").set_value("uri").run()
    at.text_input(key="cj_manifest_uri").input(str(manifest)).run()
    at.button(key="cj_check").click().run()
    at.text_input(key="cj_name").input("cars-checked").run()
    at.button(key="cj_create").click().run()
    assert "name the input manifest's attribute" in _texts(at) + "\n".join(c.value for c in at.code)
    at.text_input(key="cj_verify_attr").input("cars").run()
    at.button(key="cj_create").click().run()
    _ok(at)
    made = jobs.describe_labeling_job(page_ctx, admin, "cars-checked")
    assert made["HumanTaskConfig"]["TaskType"] == "VerificationBoundingBox"
    labels = json.loads(Path(made["LabelCategoryConfigS3Uri"]).read_text())["labels"]
    assert [x["label"] for x in labels] == ["Correct", "Incorrect"]
    with page_ctx.db.read() as conn:
        spec = json.loads(
            conn.execute(select(dbm.jobs.c.spec_json).where(dbm.jobs.c.name == "cars-checked")).scalar_one()
        )
    assert spec["ChainedFrom"] == {"LabelAttributeName": "cars"}


def _verification_job(world: LabelWorld) -> tuple[Any, Any]:
    src = world.jobs.create(n_images=1, task_type="BoundingBox", labels=["cat", "dog"])
    boxer = world.worker("boxer@example.test")
    task = queue.claim_next(world.ctx, boxer, src.job_id)
    assert task is not None
    box = {"height": 20, "label": "dog", "left": 5, "top": 6, "width": 30}
    queue.submit(
        world.ctx,
        boxer,
        task.assignment_id,
        {"boundingBox": {"boundingBoxes": [box], "inputImageProperties": {"height": 48, "width": 64}}},
    )
    run_work(world.ctx)  # the background workers finish the source job
    labels = world.jobs.write_labels("verdicts", ["Correct", "Incorrect"])
    v = jobs.chain_labeling_job(
        world.ctx,
        world.jobs.actor,
        src.name,
        "checked",
        task_type="VerificationBoundingBox",
        overrides={"LabelCategoryConfigS3Uri": str(labels)},
    )
    return src, v


def test_label_page_verification_flow(app_world: LabelWorld) -> None:
    world = app_world
    _src, v = _verification_job(world)
    ann = world.worker("ann@example.test")
    at = start_in_app(app_as(world, ann), v.job_id)
    _ok(at)
    captions = _plain("\n".join(c.value for c in at.caption))
    assert "Labels to verify (job-1): 1 box(es): dog" in captions
    (radio,) = at.radio
    assert radio.options == ["Correct", "Incorrect"] and radio.value is None
    at.radio[0].set_value("Incorrect").run()
    at.text_area[0].input("the box cuts the tail").run()
    at.button(key="label_submit").click().run()
    _ok(at)
    a = dbm.assignments
    with world.ctx.db.read() as conn:
        (ans,) = [json.loads(r.answer_json) for r in conn.execute(select(a).where(a.c.job_id == v.job_id))]
    assert ans == {"crowd-image-classifier": {"label": "Incorrect", "workerComment": "the box cuts the tail"}}
    run_work(world.ctx)  # the background workers finish the job
    out = world.root / "output" / "checked" / "manifests" / "output" / "output.manifest"
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert line["checked"] == "1"
    assert line["checked-metadata"]["worker-feedback"] == [{"comment": "the box cuts the tail"}]


def test_label_page_semantic_segmentation_tools(app_world: LabelWorld) -> None:
    world = app_world
    job = world.jobs.create(n_images=1, task_type="SemanticSegmentation", label_attribute="m-ref")
    ann = world.worker("ann@example.test")
    at = start_in_app(app_as(world, ann), job.job_id)
    _ok(at)
    (tool,) = [s for s in at.get("segmented_control") if str(s.key).startswith("label::tool::")]
    assert tool.options == ["Brush", "Eraser", "Polygon", "Auto-segment"] and tool.value == "Brush"
    assert at.slider(key="label::brush").value == 16
    # AppTest has no browser: the canvas never reports, so there is nothing to submit yet (said plainly)
    at.button(key="label_submit").click().run()
    assert "the image is still loading" in _plain(" ".join(e.value for e in at.error))
    open_page(at, "pages/label.py")
    _ok(at)


def test_chain_a_verification_job_through_the_form(page_ctx: Context, tmp_path: Path) -> None:
    from tests.test_page_create_job import _source_job

    p = People(page_ctx)
    admin = p.admin()
    p.team("team-a")
    p.team("team-b")
    _source_job(page_ctx, p, admin, _images(tmp_path / "cars", 2))
    src = jobs.job_summary(page_ctx, admin, "source-job")
    worker = p.worker("team-b")
    task = queue.claim_next(page_ctx, worker, src.job_id)
    assert task is not None
    box = {"height": 4, "label": "bus", "left": 1, "top": 1, "width": 5}
    ans = {"boundingBox": {"boundingBoxes": [box], "inputImageProperties": {"height": 48, "width": 64}}}
    queue.submit(page_ctx, worker, task.assignment_id, ans)
    jobs.stop_labeling_job(page_ctx, admin, "source-job")
    run_work(page_ctx)  # Stopping -> Stopped by the background workers
    at = _page(p.token(admin), create_job_prefill={"origin": "chain", "job": "source-job"})
    _ok(at)
    at.checkbox(key="cj_verify").check().run()
    _ok(at)
    assert "Task type: Label verification (bounding boxes)" in _texts(at)
    assert [t.value.split(": ", 1)[1] for t in at.text if t.value[:1].isdigit() and ": " in t.value] == [
        "Correct",
        "Incorrect",
    ]
    at.text_input(key="cj_name").input("source-checked").run()
    assert "different from 'source-job'" in _plain("\n".join(e.value for e in at.error))  # the stopped job's attribute
    at.text_input(key="cj_attr").input("").run()
    at.button(key="cj_create").click().run()
    _ok(at)
    made = jobs.job_summary(page_ctx, admin, "source-checked")
    assert (made.task_type, made.label_attribute, made.origin) == ("VerificationBoundingBox", "source-checked", "chain")
    at.checkbox(key="cj_verify").uncheck().run()  # unticked: the source job's labels come back
    assert [t.value.split(": ", 1)[1] for t in at.text if t.value[:1].isdigit() and ": " in t.value] == ["car", "bus"]

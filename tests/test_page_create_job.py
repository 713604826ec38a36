"""The Create job page through Streamlit's AppTest, signed in with a real session token.

Flows: create a bounding-box job from a local folder (data setup, labels added / reordered / removed,
defaults kept) and see it on the Jobs page; load sample data and preview the labeling screen; every
validation error shown (live checks, limits, a bad manifest with its line numbers, all problems of a
Create together); Clone and Chain prefills; workers and auditors turned away (and refused by gtcore).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import PermissionDenied
from gtcore.jobform.create import create_from_form
from gtcore.jobform.model import JobForm
from gtcore.jobs import api as jobs
from gtcore.queue import api as queue
from tests.fixtures.core import run_work
from tests.fixtures.jobs import write_png
from tests.fixtures.people import People

REPO = Path(__file__).resolve().parents[1]
PAGE = str(REPO / "pages" / "create_job.py")
JOBS_PAGE = str(REPO / "pages" / "jobs.py")


def _page(token: str, path: str = PAGE, **state: object) -> AppTest:
    at = AppTest.from_file(path, default_timeout=60)
    at.session_state["gt_token"] = token
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.error, *at.warning, *at.info, *at.success, *at.caption, *at.text, *at.code)]
    return _plain("\n".join(str(p) for p in parts))


def _plain(markdown: str) -> str:
    """Text as shown: user text in messages is Markdown-escaped (``md_escape``), so drop the backslashes."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _labels(at: AppTest) -> list[str]:
    return [t.value.split(": ", 1)[1] for t in at.text if t.value[:1].isdigit() and ": " in t.value]


def _images(folder: Path, n: int) -> Path:
    for i in range(n):
        write_png(folder / f"img-{i:02d}.png", i)
    return folder


def _add_label(at: AppTest, text: str) -> AppTest:
    at.text_input(key="cj_new_label").input(text).run()
    return at.button(key="cj_add_label").click().run()


def test_create_bounding_box_job_from_a_local_folder(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    p.team("team-a")
    folder = _images(tmp_path / "photos", 3)
    token = p.token(admin)
    at = _page(token)
    _ok(at)
    assert at.radio(key="cj_task_type").value == "BoundingBox"
    assert at.text_input(key="cj_title").value == "Draw a box around each object"  # defaults filled
    assert at.number_input(key="cj_time_min").value == 60
    assert at.text_input(key="cj_output").value == str(page_ctx.settings.home / "output")
    at.text_input(key="cj_folder").input(str(folder)).run()
    at.button(key="cj_setup").click().run()
    _ok(at)
    assert "3 objects from data setup." in _texts(at)
    assert json.loads(at.code[0].value.splitlines()[0]) == {"source-ref": str(folder / "img-00.png")}
    at.text_input(key="cj_name").input("photos-boxes").run()
    assert "The name is free." in _texts(at)
    assert "Labels go under 'photos-boxes'." in _texts(at)
    for label in ("cat", "dog", "bird"):
        at = _add_label(at, label)
    assert _labels(at) == ["cat", "dog", "bird"]
    at.button(key="cj_lab_up_2").click().run()  # bird up
    assert _labels(at) == ["cat", "bird", "dog"]
    at.button(key="cj_lab_del_0").click().run()  # remove cat
    assert _labels(at) == ["bird", "dog"]
    assert at.selectbox(key="cj_team").value == "team-a"
    at.number_input(key="cj_workers").set_value(2).run()
    at.button(key="cj_create").click().run()
    _ok(at)
    assert "Created labeling job photos-boxes with 3 objects" in _texts(at)
    made = jobs.describe_labeling_job(page_ctx, admin, "photos-boxes")
    assert made["LabelingJobStatus"] == "InProgress"
    assert made["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 2
    assert made["HumanTaskConfig"]["TaskTimeLimitInSeconds"] == 3600
    labels_file = Path(made["LabelCategoryConfigS3Uri"])
    assert [x["label"] for x in json.loads(labels_file.read_text())["labels"]] == ["bird", "dog"]

    listing = _page(token, JOBS_PAGE)
    _ok(listing)
    table = listing.dataframe[0].value
    assert table["Job"].tolist() == ["photos-boxes"]
    assert table["Status"].tolist() == ["InProgress"] and table["Unlabeled"].tolist() == [3]
    assert table["Team"].tolist() == ["team-a"]


def test_sample_data_and_the_preview(page_ctx: Context) -> None:
    p = People(page_ctx)
    admin = p.admin()
    p.team("team-a")
    at = _page(p.token(admin))
    at.button(key="cj_sample").click().run()
    _ok(at)
    faces = page_ctx.settings.home / "samples" / "faces"
    assert f"Sample data: 12 faces in {faces}" in _texts(at)
    assert at.text_input(key="cj_name").value == "sample-faces"
    assert _labels(at) == ["eye", "mouth", "ear"]
    at.text_area(key="cj_full").input("# Rules\n<script>alert(1)</script> **tight** boxes").run()
    markdown = "\n".join(m.value for m in at.markdown)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown and "<script>" not in markdown
    assert "HTML tags in the instructions are shown as text" in _texts(at)
    at.toggle(key="cj_preview").set_value(True).run()
    _ok(at)
    assert "Instructions" in [s.value for s in at.subheader]  # the annotator's instructions panel
    picker = [b.label for b in at.button if b.label in ("eye", "mouth", "ear")]  # the label list uses st.text
    assert picker == ["eye", "mouth", "ear"]  # the label picker of the annotators' screen
    assert jobs.list_jobs(page_ctx, admin) == []  # the preview created nothing
    at.button(key="cj_create").click().run()
    assert "Created labeling job sample-faces with 12 objects" in _texts(at)


def test_every_validation_error_is_shown(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    at = _page(p.token(admin))  # no team yet
    assert "No work team exists yet" in _texts(at)
    at.text_input(key="cj_name").input("bad_name").run()
    assert "does not match the pattern" in _plain("\n".join(e.value for e in at.error))
    at.text_input(key="cj_name").input("![x](http://example.invalid/x.png)").run()
    shown = "\n".join(e.value for e in at.error)
    assert "\\!\\[x\\]\\(`http" in shown and "![x](" not in shown  # the URL: a code span
    at.text_input(key="cj_name").input("bad_name").run()
    at.text_input(key="cj_attr").input("boxes-ref").run()
    assert "must not end with -ref" in _plain("\n".join(e.value for e in at.error))
    at.radio(key="cj_task_type").set_value("ImageClassification").run()
    assert at.text_input(key="cj_title").value == "Choose the label of the image"  # default followed the type
    assert at.number_input(key="cj_time_min").value == 5
    at = _add_label(at, "cat")
    assert "needs at least 2 label(s); 1 given" in _plain("\n".join(w.value for w in at.warning))
    at = _add_label(at, "cat")
    assert "Label not added: 'cat' is already in the list" in _texts(at)
    assert "Not available: set up the input data first" in _texts(at)
    assert at.toggle(key="cj_auto").proto.disabled
    at.radio(key="cj_task_type").set_value("ImageMultiClassification").run()
    assert (
        "Automated data labeling is not available for Image classification (multi-label) jobs (only single-label "
        "image and text classification, bounding boxes and semantic segmentation)." in _texts(at)
    )

    img = write_png(tmp_path / "in" / "a.png", 0)
    bad = json.dumps({"source-ref": str(img)}) + "\n{oops\n" + json.dumps({"source-ref": "/etc/hosts"}) + "\n"
    at.radio(key="cj_input_kind").set_value("upload").run()
    at.file_uploader(key="cj_manifest_file").set_value(("in.manifest", bad.encode(), "application/json")).run()
    at.button(key="cj_use_upload").click().run()
    _ok(at)
    assert "2 problem(s) to fix" in _plain("\n".join(e.value for e in at.error))
    listed = at.code[0].value
    assert "line 2: not valid JSON" in listed and "line 3" in listed and "/etc/hosts" in listed

    at.radio(key="cj_input_kind").set_value("uri").run()
    at.text_input(key="cj_manifest_uri").input("/etc/passwd").run()
    at.button(key="cj_check").click().run()
    assert "outside the allowed local folders" in _plain("\n".join(e.value for e in at.error))

    bogus = ("fake.png", b"not an image at all", "image/png")
    at.file_uploader(key="cj_ex_file").set_value(bogus).run()
    at.button(key="cj_add_example").click().run()
    assert "fake.png" in _plain("\n".join(e.value for e in at.error))

    at.text_input(key="cj_title").input("").run()
    at.button(key="cj_create").click().run()
    _ok(at)
    assert any("problem(s) to fix" in e.value for e in at.error)
    listed = "\n".join(c.value for c in at.code)
    for fragment in (
        "Job name (LabelingJobName)",
        "Label attribute name (LabelAttributeName): must not end with -ref",
        "Input manifest (InputConfig.DataSource.S3DataSource.ManifestS3Uri): choose the input data",
        "Labels (labels): Image classification (multi-label) needs at least 2 label(s); 1 given",
        "Task title (HumanTaskConfig.TaskTitle): must not be empty",
        "Work team (HumanTaskConfig.WorkteamArn): choose the private work team",
    ):
        assert fragment in listed, fragment
    assert jobs.list_jobs(page_ctx, admin) == []


def _png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buf, format="PNG")
    return buf.getvalue()


def test_label_file_examples_and_auto_labeling(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    p.team("team-a")
    folder = tmp_path / "many"
    folder.mkdir()
    data = _png((10, 20, 30))
    for i in range(1250):  # the smallest dataset automated data labeling accepts
        (folder / f"img-{i:04d}.png").write_bytes(data)
    bad_example = tmp_path / "examples" / "bad-1.png"
    bad_example.parent.mkdir()
    bad_example.write_bytes(_png((200, 0, 0)))
    at = _page(p.token(admin))
    at.text_input(key="cj_name").input("many-birds").run()
    at.text_input(key="cj_folder").input(str(folder)).run()
    at.button(key="cj_setup").click().run()
    assert "1,250 objects from data setup." in _texts(at)
    config = b'{"document-version":"2018-11-28","labels":[{"label":"Duck"},{"label":"Owl"},{"label":"Swan"}]}'
    at.file_uploader(key="cj_label_file").set_value(("birds.json", config, "application/json")).run()
    at.button(key="cj_load_labels").click().run()
    assert _labels(at) == ["Duck", "Owl", "Swan"] and "Loaded 3 labels from birds.json." in _texts(at)
    at.radio(key="cj_task_type").set_value("ImageClassification").run()
    at.file_uploader(key="cj_ex_file").set_value(("good.png", _png((0, 200, 0)), "image/png")).run()
    at.text_input(key="cj_ex_caption").input("a clear duck").run()
    at.button(key="cj_add_example").click().run()
    _ok(at)
    at.file_uploader(key="cj_ex_file").set_value(None).run()
    at.radio(key="cj_ex_kind").set_value("bad").run()
    at.text_input(key="cj_ex_uri").input(str(bad_example)).run()
    at.text_input(key="cj_ex_caption").input("two birds").run()
    at.button(key="cj_add_example").click().run()
    _ok(at)
    shown = _texts(at)
    assert "Good example: a clear duck" in shown and f"Bad example: two birds\n{bad_example}" in shown
    assert len(at.image) >= 2  # both thumbnails
    assert "Available: the dataset has 1,250 objects" in shown
    assert not at.toggle(key="cj_auto").proto.disabled
    assert (
        "Rule (Ground Truth's): single-label image classification, bounding-box and semantic-segmentation jobs "
        "of at least 1,250" in shown
    )
    at.toggle(key="cj_auto").set_value(True).run()
    plan = _texts(at)
    assert "People label a random probe of 10 objects first" in plan and "a validation set of 250 (20 %)" in plan
    model = tmp_path / "team-model.onnx"
    model.write_bytes(b"any file: it is checked when the loop opens it")
    at.text_input(key="cj_model_uri").input(str(model)).run()
    at.button(key="cj_create").click().run()
    _ok(at)
    assert "Created labeling job many-birds with 1,250 objects" in _texts(at)
    made = jobs.describe_labeling_job(page_ctx, admin, "many-birds")
    assert made["LabelingJobAlgorithmsConfig"]["LabelingJobAlgorithmSpecificationArn"].endswith(
        "labeling-job-algorithm-specification/image-classification"
    )
    assert made["LabelingJobAlgorithmsConfig"]["InitialActiveLearningModelArn"] == str(model)
    examples = made["HumanTaskConfig"]["Instructions"]["Examples"]
    assert [(e["Kind"], e["Caption"]) for e in examples] == [("good", "a clear duck"), ("bad", "two birds")]
    assert Path(examples[0]["ImageUri"]).parent == page_ctx.settings.home / "uploads" / "many-birds"
    assert examples[1]["ImageUri"] == str(bad_example)


def _source_job(ctx: Context, p: People, admin: Actor, folder: Path) -> None:
    png = io.BytesIO()
    Image.new("RGB", (30, 20), (5, 200, 5)).save(png, format="PNG")
    from gtcore.jobform.data import run_data_setup, save_example_upload

    example = save_example_upload(ctx, admin, "source-job", "good.png", png.getvalue())
    from gtcore.jobform.model import ExampleImage

    setup = run_data_setup(ctx, admin, str(folder))
    create_from_form(
        ctx,
        admin,
        JobForm(
            name="source-job",
            manifest_uri=setup.manifest_uri,
            object_count=setup.count,
            output_path=str(ctx.settings.home / "output"),
            labels=["car", "bus"],
            title="Box vehicles",
            description="Box every vehicle",
            full_instructions="Be *tight*",
            team="team-b",
            workers_per_object=3,
            task_time_limit=900,
            examples=[ExampleImage("good", example, "tight box")],
        ),
    )


def test_clone_and_chain_prefill(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    p.team("team-a")
    p.team("team-b")
    _source_job(page_ctx, p, admin, _images(tmp_path / "cars", 2))
    token = p.token(admin)
    at = _page(token, create_job_prefill={"origin": "clone", "job": "source-job"})
    _ok(at)
    assert "Cloning source-job" in _texts(at)
    assert at.text_input(key="cj_name").value == ""
    assert at.radio(key="cj_input_kind").value == "uri"
    src = jobs.job_summary(page_ctx, admin, "source-job")
    assert at.text_input(key="cj_manifest_uri").value == src.input_manifest_uri
    assert "2 objects from the source job." in _texts(at)
    assert (at.text_input(key="cj_title").value, at.text_input(key="cj_description").value) == (
        "Box vehicles",
        "Box every vehicle",
    )
    assert at.text_area(key="cj_full").value == "Be *tight*"
    assert (at.number_input(key="cj_workers").value, at.number_input(key="cj_time_min").value) == (3, 15)
    assert at.selectbox(key="cj_team").value == "team-b" and _labels(at) == ["car", "bus"]
    assert "Good example: tight box" in _texts(at)
    at.button(key="cj_create").click().run()
    assert "Job name (LabelingJobName): must not be empty" in "\n".join(c.value for c in at.code)  # new name required
    at.text_input(key="cj_name").input("source-job-2").run()
    at.button(key="cj_create").click().run()
    _ok(at)
    clone = jobs.job_summary(page_ctx, admin, "source-job-2")
    assert clone.origin == "clone" and clone.parent_job_id == src.job_id and clone.team_name == "team-b"

    worker = p.worker("team-b")
    task = queue.claim_next(page_ctx, worker, src.job_id)
    assert task is not None
    queue.submit(
        page_ctx,
        worker,
        task.assignment_id,
        {
            "boundingBox": {
                "boundingBoxes": [{"height": 4, "label": "bus", "left": 1, "top": 1, "width": 5}],
                "inputImageProperties": {"height": 48, "width": 64},
            }
        },
    )
    jobs.stop_labeling_job(page_ctx, admin, "source-job")
    run_work(page_ctx)
    at = _page(token, create_job_prefill={"origin": "chain", "job": "source-job"})
    _ok(at)
    assert "Chaining from source-job (Stopped)" in _texts(at)
    out = jobs.job_summary(page_ctx, admin, "source-job").output_manifest_uri
    out = out.replace("/manifests/output/", "/manifests/intermediate/1/")  # Stopped: the full-length manifest
    assert f"Input manifest: {out}" in _texts(at) and "2 objects from the source job." in _texts(at)
    assert at.checkbox(key="cj_chain_same").value  # stopped: the same attribute by default
    assert not at.checkbox(key="cj_adjust").value
    at.checkbox(key="cj_adjust").check().run()
    assert "Task type: Bounding box adjustment" in _texts(at)
    at.text_input(key="cj_name").input("source-adjust").run()
    at.text_input(key="cj_attr").input("source-job").run()
    assert "different from 'source-job'" in _plain("\n".join(e.value for e in at.error))
    at.text_input(key="cj_attr").input("").run()
    at.button(key="cj_create").click().run()
    _ok(at)
    chained = jobs.job_summary(page_ctx, admin, "source-adjust")
    assert (chained.origin, chained.task_type, chained.label_attribute) == (
        "chain",
        "AdjustmentBoundingBox",
        "source-adjust",
    )
    assert chained.input_manifest_uri == out


@pytest.mark.parametrize("role", ["worker", "auditor"])
def test_workers_and_auditors_cannot_reach_the_page(page_ctx: Context, tmp_path: Path, role: str) -> None:
    p = People(page_ctx)
    p.admin()
    who = p.worker("team-a") if role == "worker" else p.auditor()
    at = _page(p.token(who))
    _ok(at)
    assert "This page needs the admin role." in [w.value for w in at.warning]
    assert not [b for b in at.button if b.key == "cj_create"] and not at.text_input
    form = JobForm(
        name="sneaky",
        manifest_uri=str(tmp_path / "x.manifest"),
        labels=["a"],
        title="t",
        description="d",
        team="team-a",
    )
    with pytest.raises(PermissionDenied):
        create_from_form(page_ctx, who, form)
    at = _page(p.token(who), create_job_prefill={"origin": "clone", "job": "anything"})
    assert "This page needs the admin role." in [w.value for w in at.warning]


def test_digits_sample_is_big_enough_for_automated_labeling(page_ctx: Context) -> None:
    p = People(page_ctx)
    admin = p.admin()
    p.team("team-a")
    at = _page(p.token(admin))
    at.button(key="cj_sample_digits").click().run()
    _ok(at)
    shown = _texts(at)
    assert "1,797 objects from data setup." in shown and "truth.json" in shown
    assert _labels(at) == [str(i) for i in range(10)]
    assert at.radio(key="cj_task_type").value == "ImageClassification"
    assert "Available: the dataset has 1,797 objects (at least 1,250)" in shown
    assert not at.toggle(key="cj_auto").proto.disabled
    truth = json.loads((page_ctx.settings.home / "samples" / "digits" / "truth.json").read_text())
    assert len(truth) == 1797 and set(truth.values()) == {str(i) for i in range(10)}

"""The Create job form's core (gtcore.jobform.model, jobform_data, jobform_create, textsafe), without Streamlit.

Pure parts: live checks, label edits, defaults, auto-labeling eligibility, the request and the overrides.
With real storage and databases (SQLite and PostgreSQL): data setup, manifest checks with line numbers,
uploads, sample data, the preview task, creating new / cloned / chained jobs, every problem at once, and
the role checks (a worker or an auditor is refused by gtcore itself).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import ImageError, ObjectNotFound, PermissionDenied, SpecError, UriNotAllowed, ValidationError
from gtcore.core.textsafe import escape_html, has_markup, safe_markdown
from gtcore.jobform.auto_labeling import AUTO_LABELING_MIN_OBJECTS, auto_labeling
from gtcore.jobform.create import chain_task_types, create_from_form, form_from_job
from gtcore.jobform.data import (
    check_example_uri,
    check_manifest,
    labels_from_upload,
    load_sample_data,
    preview_task,
    run_data_setup,
    save_example_upload,
    save_manifest_upload,
    write_label_config,
)
from gtcore.jobform.labels import add_label, label_problems, move_label, remove_label
from gtcore.jobform.model import (
    ExampleImage,
    JobForm,
    attribute_problems,
    build_request,
    default_output,
    name_problems,
    overrides_for,
)
from gtcore.jobform.problems import friendly
from gtcore.jobs import api as jobs
from gtcore.jobs.actions import deep_merge
from gtcore.jobs.spec import check_job_spec
from gtcore.queue import api as queue
from tests.fixtures.core import make_settings, run_work
from tests.fixtures.jobs import write_png
from tests.fixtures.people import People


def png_bytes(size: tuple[int, int] = (40, 30), color: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def folder_of_images(root: Path, n: int) -> Path:
    folder = root / "data" / "images"
    for i in range(n):
        write_png(folder / f"img-{i:03d}.png", i)
    return folder


def filled_form(ctx: Context, actor: Actor, folder: Path, **changes: Any) -> JobForm:
    setup = run_data_setup(ctx, actor, str(folder))
    form = JobForm(
        name="faces-1",
        manifest_uri=setup.manifest_uri,
        object_count=setup.count,
        output_path=default_output(str(ctx.settings.home), str(folder)),
        task_type="BoundingBox",
        labels=["eye", "mouth"],
        title="Draw boxes",
        description="Box every eye and mouth",
        full_instructions="# Rules\nTight boxes. <script>alert(1)</script>",
        team="team-a",
        task_time_limit=600,
    )
    for key, value in changes.items():
        setattr(form, key, value)
    return form


# --------------------------------------------------------------------------- pure: text safety and live checks


def test_safe_markdown_escapes_html_but_keeps_markdown() -> None:
    text = "# Title\n**bold** <script>alert('x')</script>\n> a quote with <b>tag</b>\n&lt;i&gt; entity"
    out = safe_markdown(text)
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in out
    assert out.startswith("# Title\n**bold** ")
    assert "\n> a quote with &lt;b&gt;tag&lt;/b&gt;" in out  # block quote marker kept
    assert "&amp;lt;i&amp;gt; entity" in out  # an entity cannot bring a tag back
    assert escape_html("a<b>&c") == "a&lt;b&gt;&amp;c"
    assert safe_markdown(None) == "" and escape_html(None) == ""
    assert has_markup("<img src=x onerror=alert(1)>") and has_markup("</div>")
    assert not has_markup("1 < 2 and 3 > 2")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("bad_name", "does not match"),
        ("", "must not be empty"),
        ("-lead", "does not match"),
        ("x" * 64, "limit is 63"),
        ("a.b", "does not match"),
    ],
)
def test_name_problems(name: str, fragment: str) -> None:
    found = name_problems(name)
    assert found and fragment in found[0]


def test_valid_names_and_attributes() -> None:
    assert name_problems("Faces-2026--v1") == []
    assert attribute_problems("", job_name="faces-1") == []
    assert attribute_problems("boxes") == []


@pytest.mark.parametrize(
    ("attribute", "fragment"),
    [
        ("x-metadata", "-metadata"),
        ("boxes-ref", "-ref"),
        ("source-ref", "reserved"),
        ("source", "reserved"),
        ("a_b", "does not match"),
    ],
)
def test_attribute_problems(attribute: str, fragment: str) -> None:
    assert any(fragment in m for m in attribute_problems(attribute, job_name="ok"))


def test_attribute_blank_without_name_and_adjustment_rule() -> None:
    assert "give a label attribute name" in attribute_problems("", job_name="")[0]
    found = attribute_problems("boxes", source_attribute="boxes", adjustment=True)
    assert found == ["an adjustment job needs a label attribute different from 'boxes'"]
    assert attribute_problems("boxes", source_attribute="boxes", adjustment=False) == []


# --------------------------------------------------------------------------- pure: labels


def test_add_remove_and_reorder_labels() -> None:
    labels, why = add_label([], "  cat ", "BoundingBox")
    assert labels == ["cat"] and why is None
    same, why = add_label(labels, "cat", "BoundingBox")
    assert same == ["cat"] and "already in the list" in str(why)
    same, why = add_label(labels, "   ", "BoundingBox")
    assert same == ["cat"] and why == "type a label first"
    same, why = add_label(labels, "x" * 257, "BoundingBox")
    assert same == ["cat"] and "at most 256 characters" in str(why)
    full = [f"c{i}" for i in range(30)]
    same, why = add_label(full, "one-more", "ImageClassification")
    assert same == full and "at most 30 labels" in str(why)
    labels = ["a", "b", "c", "d"]
    assert move_label(labels, 3, -1) == ["a", "b", "d", "c"]
    assert move_label(labels, 0, -1) == labels  # clamped at the top
    assert move_label(labels, 1, 5) == ["a", "c", "d", "b"]
    assert move_label(labels, 9, 1) == labels
    assert remove_label(labels, 1) == ["a", "c", "d"]
    assert labels == ["a", "b", "c", "d"]  # inputs are never changed in place


def test_label_limits_per_task_type() -> None:
    assert [p.message for p in label_problems(["only"], "ImageClassification")] == [
        "Image classification (single label) needs at least 2 label(s); 1 given"
    ]
    assert label_problems(["only"], "BoundingBox") == []
    assert label_problems([f"c{i}" for i in range(51)], "BoundingBox")[0].message.startswith(
        "Bounding box allows at most 50 labels"
    )


def test_labels_from_upload_names_the_file() -> None:
    good = b'{"document-version":"2018-11-28","labels":[{"label":"Duck"},{"label":"Owl"}]}'
    assert labels_from_upload("birds.json", good) == ["Duck", "Owl"]
    with pytest.raises(ValidationError) as err:
        labels_from_upload("dup.json", b'{"labels":[{"label":"a"},{"label":"a"}]}')
    assert err.value.problems[0].where == "dup.json" and "duplicate label" in err.value.problems[0].message
    with pytest.raises(ValidationError) as err:
        labels_from_upload("latin1.json", b'{"labels":[{"label":"caf\xe9"}]}')
    assert "not valid UTF-8" in str(err.value)


# --------------------------------------------------------------------------- pure: defaults and the request


def test_default_output_location() -> None:
    assert default_output("/srv/gt", "/srv/data/images") == "/srv/gt/output"
    assert default_output("/srv/gt", "s3://bkt/data/images/") == "s3://bkt/data/output/"
    assert default_output("/srv/gt", "s3://bkt/images/") == "s3://bkt/output/"
    assert default_output("/srv/gt", "s3://bkt/") == "s3://bkt/output/"
    assert default_output("/srv/gt", "s3://bkt/data/dataset.manifest") == "s3://bkt/output/"


def test_auto_labeling_eligibility() -> None:
    ok, why = auto_labeling("ImageMultiClassification", 10_000)
    assert not ok and "not available for Image classification (multi-label)" in why
    ok, why = auto_labeling("BoundingBox", None)
    assert not ok and "set up the input data first" in why
    ok, why = auto_labeling("BoundingBox", AUTO_LABELING_MIN_OBJECTS - 1)
    assert not ok and "1,249 objects" in why and "at least 1,250" in why
    ok, _ = auto_labeling("ImageClassification", AUTO_LABELING_MIN_OBJECTS)
    assert ok


def test_auto_labeling_is_not_offered_without_its_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    from gtcore.core import extras

    assert extras.autolabel_missing() == ()  # the test extra installs them
    assert extras.missing(("surely_not_installed_module_x",)) == ("surely_not_installed_module_x",)
    monkeypatch.setattr(extras, "autolabel_missing", lambda: ("sklearn", "onnxruntime"))
    ok, why = auto_labeling("ImageClassification", AUTO_LABELING_MIN_OBJECTS)
    assert not ok and "lacks the automated-labeling libraries (sklearn, onnxruntime)" in why
    assert "pip install 'gtcore[autolabel]'" in why


def test_build_request_is_a_valid_create_labeling_job_request() -> None:
    form = JobForm(
        name="birds",
        manifest_uri="/d/in.manifest",
        object_count=2000,
        output_path="/d/out",
        task_type="ImageClassification",
        labels=["Duck", "Owl"],
        title="Which bird?",
        description="Pick the bird",
        full_instructions="Look closely",
        team="team-a",
        examples=[ExampleImage("good", "/d/good.png", "a duck")],
        auto_labeling=True,
        workers_per_object=3,
        task_time_limit=300,
        availability_lifetime=86_400,
        max_concurrent=50,
    )
    req = build_request(form, label_config_uri="/d/labels.json")
    spec, problems = check_job_spec(req)
    assert problems == [] and spec is not None
    assert spec.label_attribute == "birds" and spec.team == "team-a" and spec.workers_per_object == 3
    assert spec.task_type is not None and spec.task_type.name == "ImageClassification"
    assert spec.instructions == {
        "Short": "Pick the bird",
        "Full": "Look closely",
        "Examples": [{"Kind": "good", "ImageUri": "/d/good.png", "Caption": "a duck"}],
    }
    assert req["HumanTaskConfig"]["WorkteamArn"].endswith(":workteam/private-crowd/team-a")
    assert req["LabelingJobAlgorithmsConfig"]["LabelingJobAlgorithmSpecificationArn"].endswith(
        "labeling-job-algorithm-specification/image-classification"
    )
    form.auto_labeling = False
    assert "LabelingJobAlgorithmsConfig" not in build_request(form, label_config_uri="/d/labels.json")


def test_overrides_turn_the_base_into_the_wanted_request() -> None:
    base = {"A": 1, "Gone": {"x": 1}, "H": {"Keep": 1, "Change": 2, "Drop": 3, "Deep": {"a": 1, "b": 2}}}
    wanted = {"A": 1, "H": {"Keep": 1, "Change": 5, "Deep": {"a": 1}, "New": [1]}, "Added": "x"}
    over = overrides_for(base, wanted)
    assert over == {"Gone": None, "H": {"Change": 5, "Drop": None, "Deep": {"b": None}, "New": [1]}, "Added": "x"}
    assert deep_merge(base, over) == wanted


def test_friendly_names_the_form_field() -> None:
    from gtcore.core.errors import Problem

    out = friendly(
        [
            Problem("required", field="HumanTaskConfig.TaskTitle"),
            Problem("bad", field="HumanTaskConfig.Instructions.Examples[1].ImageUri"),
            Problem("line", where="/m", line=3),
        ]
    )
    assert str(out[0]) == "Task title (HumanTaskConfig.TaskTitle): required"
    assert out[1].field == "Example image 2 (HumanTaskConfig.Instructions.Examples[1].ImageUri)"
    assert str(out[2]) == "/m, line 3: line"


# --------------------------------------------------------------------------- storage and databases


def test_create_bounding_box_job_from_a_folder(any_ctx: Context, tmp_path: Path) -> None:
    p = People(any_ctx)
    admin = p.admin()
    p.team("team-a")
    folder = folder_of_images(tmp_path, 4)
    setup = run_data_setup(any_ctx, admin, str(folder))
    assert setup.count == 4 and Path(setup.manifest_uri).parent == folder
    form = filled_form(any_ctx, admin, folder)
    created = create_from_form(any_ctx, admin, form)
    assert created.name == "faces-1" and created.status == "InProgress" and created.total_objects == 4
    assert created.team_name == "team-a" and created.task_type == "BoundingBox"
    described = jobs.describe_labeling_job(any_ctx, admin, "faces-1")
    human = described["HumanTaskConfig"]
    assert human["TaskTimeLimitInSeconds"] == 600 and human["Instructions"]["Full"].startswith("# Rules")
    label_file = Path(described["LabelCategoryConfigS3Uri"])
    assert label_file.parent == any_ctx.settings.home / "uploads" / "faces-1"
    assert json.loads(label_file.read_text())["labels"] == [{"label": "eye"}, {"label": "mouth"}]
    assert described["OutputConfig"]["S3OutputPath"] == str(any_ctx.settings.home / "output")
    assert [s.name for s in jobs.list_jobs(any_ctx, admin)] == ["faces-1"]


def test_every_problem_is_reported_together_and_nothing_is_created(any_ctx: Context, tmp_path: Path) -> None:
    p = People(any_ctx)
    admin = p.admin()
    p.team("team-a")
    form = JobForm(
        name="bad_name",
        label_attribute="x-metadata",
        manifest_uri="",
        output_path="/etc/out",
        task_type="ImageClassification",
        labels=["only-one"],
        title="",
        description="d",
        team="",
        examples=[ExampleImage("good", "", "no image")],
        auto_labeling=True,
        object_count=10,
    )
    with pytest.raises(SpecError) as err:
        create_from_form(any_ctx, admin, form)
    text = str(err.value)
    for fragment in (
        "Job name (LabelingJobName)",
        "Label attribute name (LabelAttributeName)",
        "Input manifest (InputConfig.DataSource.S3DataSource.ManifestS3Uri): choose the input data",
        "Work team (HumanTaskConfig.WorkteamArn): choose the private work team",
        "Labels (labels): Image classification (single label) needs at least 2 label(s)",
        "Automated data labeling (LabelingJobAlgorithmsConfig): cannot be switched on",
        "Example image 1 (HumanTaskConfig.Instructions.Examples[0].ImageUri)",
        "Task title (HumanTaskConfig.TaskTitle)",
        "Output location (OutputConfig.S3OutputPath)",
    ):
        assert fragment in text, fragment
    fields = [pr.field for pr in err.value.problems]
    assert len(fields) == len(set(fields)) == 9  # one message per field
    assert fields[0].startswith("Job name") and fields[-1].startswith("Automated data labeling")  # page order
    assert not any("LabelCategoryConfigS3Uri" in (f or "") for f in fields)  # labels reported once, by the form
    assert jobs.list_jobs(any_ctx, admin) == []


def test_bad_manifest_lines_are_listed_with_line_numbers(ctx: Context, tmp_path: Path) -> None:
    p = People(ctx)
    admin = p.admin()
    img = write_png(tmp_path / "img" / "a.png", 0)
    data = (
        json.dumps({"source-ref": str(img)})
        + '\nnot json\n{"other": 1}\n'
        + json.dumps({"source-ref": "/etc/passwd"})
        + "\n"
    ).encode()
    check = save_manifest_upload(ctx, admin, "my-job", "in.manifest", data)
    assert check.count == 1 and not check.ok
    assert [pr.line for pr in check.problems] == [2, 3, 4]
    assert "not valid JSON" in check.problems[0].message
    assert Path(check.uri).parent == ctx.settings.home / "uploads" / "my-job"
    assert check.first_lines[1] == "not json"
    form = JobForm(
        name="my-job",
        manifest_uri=check.uri,
        output_path=str(tmp_path / "out"),
        labels=["a"],
        title="t",
        description="d",
        team="team-a",
    )
    p.team("team-a")
    with pytest.raises(ValidationError) as err:
        create_from_form(ctx, admin, form)
    assert [pr.line for pr in err.value.problems] == [2, 3, 4]
    empty = save_manifest_upload(ctx, admin, "my-job", "empty.manifest", b"")
    assert empty.count == 0 and "the manifest is empty" in empty.problems[0].message


def test_uploads_are_content_addressed_and_checked(ctx: Context, tmp_path: Path) -> None:
    admin = People(ctx).admin()
    first = save_example_upload(ctx, admin, "Job 1/..", "../good one.png", png_bytes())
    assert Path(first).parent == ctx.settings.home / "uploads" / "Job-1"
    assert Path(first).name.endswith("-good_one.png")
    assert save_example_upload(ctx, admin, "Job 1/..", "../good one.png", png_bytes()) == first
    other = save_example_upload(ctx, admin, "Job 1/..", "../good one.png", png_bytes(color=(1, 2, 3)))
    assert other != first and Path(first).read_bytes() == png_bytes()
    with pytest.raises(ImageError):
        save_example_upload(ctx, admin, "j", "fake.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    with pytest.raises(ImageError, match="example images must be"):
        save_example_upload(ctx, admin, "j", "notes.txt", b"hello")
    assert check_example_uri(ctx, admin, first) == first
    with pytest.raises(ObjectNotFound):
        check_example_uri(ctx, admin, str(tmp_path / "missing.png"))
    with pytest.raises(UriNotAllowed):
        check_example_uri(ctx, admin, "/etc/passwd")
    labels_uri = write_label_config(ctx, admin, "j", ["a", "b"])
    assert write_label_config(ctx, admin, "j", ["a", "b"]) == labels_uri
    assert write_label_config(ctx, admin, "j", ["b", "a"]) != labels_uri


def test_sample_data_and_preview_task(ctx: Context) -> None:
    p = People(ctx)
    admin = p.admin()
    sample = load_sample_data(ctx, admin)
    assert sample.folder == ctx.settings.home / "samples" / "faces" and sample.images == 12
    setup = run_data_setup(ctx, admin, str(sample.folder))
    assert setup.count == 12
    example = save_example_upload(ctx, admin, "faces", "good.png", png_bytes())
    form = JobForm(
        name="faces",
        manifest_uri=setup.manifest_uri,
        labels=list(sample.labels),
        title="t",
        description="Box the <b>eyes</b>",
        full_instructions="full",
        examples=[ExampleImage("good", example, "tight")],
    )
    task = preview_task(ctx, admin, form)
    assert task.assignment_id == -1 and task.object_idx == 0
    assert task.source_ref == str(sample.folder / "face-000.png")
    assert task.labels == ["eye", "mouth", "ear"] and task.task_type == "BoundingBox"
    assert task.instructions["Short"] == "Box the <b>eyes</b>"  # stored as written; escaped when shown
    assert task.instructions["Examples"] == [{"Kind": "good", "ImageUri": example, "Caption": "tight"}]
    with ctx.db.read() as conn:
        assert conn.execute(select(dbm.jobs.c.id)).first() is None  # the preview created nothing


def test_s3_input_through_data_setup(tmp_path: Path, s3_server: Any, s3_bucket: str) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    try:
        p = People(ctx)
        admin = p.admin()
        p.team("team-a")
        client = s3_server.client()
        for i in range(3):
            client.put_object(Bucket=s3_bucket, Key=f"data/images/img-{i}.png", Body=png_bytes(color=(i, 9, 9)))
        prefix = f"s3://{s3_bucket}/data/images/"
        setup = run_data_setup(ctx, admin, prefix)
        assert setup.count == 3 and setup.manifest_uri.startswith(prefix + "dataset-")
        check = check_manifest(ctx, admin, setup.manifest_uri)
        assert check.ok and check.count == 3
        assert check.first_lines[0] == json.dumps({"source-ref": prefix + "img-0.png"}, separators=(",", ":"))
        form = JobForm(
            name="s3-job",
            manifest_uri=setup.manifest_uri,
            object_count=3,
            labels=["a"],
            output_path=default_output(str(ctx.settings.home), prefix),
            title="t",
            description="d",
            team="team-a",
        )
        assert form.output_path == f"s3://{s3_bucket}/data/output/"
        created = create_from_form(ctx, admin, form)
        assert created.total_objects == 3
        assert created.output_manifest_uri == f"s3://{s3_bucket}/data/output/s3-job/manifests/output/output.manifest"
    finally:
        ctx.db.dispose()


def test_clone_and_chain_through_the_form(any_ctx: Context, tmp_path: Path) -> None:
    p = People(any_ctx)
    admin = p.admin()
    p.team("team-a")
    folder = folder_of_images(tmp_path, 3)
    example = save_example_upload(any_ctx, admin, "faces-1", "good.png", png_bytes())
    source = create_from_form(
        any_ctx,
        admin,
        filled_form(any_ctx, admin, folder, examples=[ExampleImage("bad", example, "loose box")], workers_per_object=2),
    )

    clone = form_from_job(any_ctx, admin, "faces-1", "clone")
    assert clone.name == "" and clone.origin == "clone" and clone.source_job == "faces-1"
    assert clone.manifest_uri == source.input_manifest_uri and clone.object_count == 3
    assert (clone.labels, clone.team, clone.title, clone.workers_per_object) == (
        ["eye", "mouth"],
        "team-a",
        "Draw boxes",
        2,
    )
    assert clone.examples == [ExampleImage("bad", example, "loose box")] and clone.task_time_limit == 600
    with pytest.raises(SpecError, match="Job name"):
        create_from_form(any_ctx, admin, clone)  # a new name is required
    clone.name, clone.labels = "faces-2", ["eye", "mouth", "ear"]
    made = create_from_form(any_ctx, admin, clone)
    assert made.origin == "clone" and made.parent_job_id == source.job_id and made.label_attribute == "faces-2"
    with any_ctx.db.read() as conn:
        labels = conn.execute(select(dbm.jobs.c.labels_json).where(dbm.jobs.c.id == made.job_id)).scalar_one()
    assert json.loads(labels) == ["eye", "mouth", "ear"]

    with pytest.raises(Exception, match="InProgress"):
        form_from_job(any_ctx, admin, "faces-1", "chain")  # only from Completed, Stopped or Failed
    worker = p.worker("team-a")
    task = queue.claim_next(any_ctx, worker, source.job_id)
    assert task is not None
    box = {"height": 5, "label": "eye", "left": 2, "top": 3, "width": 6}
    queue.submit(
        any_ctx,
        worker,
        task.assignment_id,
        {"boundingBox": {"boundingBoxes": [box], "inputImageProperties": {"height": 48, "width": 64}}},
    )
    jobs.stop_labeling_job(any_ctx, admin, "faces-1")
    run_work(any_ctx)
    chain = form_from_job(any_ctx, admin, "faces-1", "chain")
    assert chain.manifest_uri.endswith("/faces-1/manifests/intermediate/1/output.manifest")  # Stopped: every line
    assert chain.label_attribute == "faces-1"  # stopped: carry on with the same attribute (console default)
    assert chain_task_types("BoundingBox") == ["BoundingBox", "AdjustmentBoundingBox", "VerificationBoundingBox"]
    assert chain_task_types("ImageClassification") == ["ImageClassification"]
    chain.name, chain.task_type = "faces-adjust", "AdjustmentBoundingBox"
    with pytest.raises(SpecError, match="different from 'faces-1'"):
        create_from_form(any_ctx, admin, chain)
    chain.label_attribute = "faces-adjusted"
    preview = preview_task(any_ctx, admin, chain)
    assert preview.previous is not None and preview.previous["boundingBoxes"][0]["label"] == "eye"
    adjusted = create_from_form(any_ctx, admin, chain)
    assert adjusted.origin == "chain" and adjusted.task_type == "AdjustmentBoundingBox"
    assert adjusted.label_attribute == "faces-adjusted" and adjusted.total_objects >= 1
    again = form_from_job(any_ctx, admin, "faces-1", "chain")
    again.name = "faces-more"
    same = create_from_form(any_ctx, admin, again)
    assert same.label_attribute == "faces-1" and same.task_type == "BoundingBox"


def test_workers_and_auditors_are_refused_by_gtcore(ctx: Context, tmp_path: Path) -> None:
    p = People(ctx)
    admin = p.admin()
    p.team("team-a")
    folder = folder_of_images(tmp_path, 2)
    made = create_from_form(ctx, admin, filled_form(ctx, admin, folder))
    form = filled_form(ctx, admin, folder, name="other")
    for who in (p.worker("team-a"), p.auditor()):
        calls = [
            lambda w=who: create_from_form(ctx, w, form),
            lambda w=who: run_data_setup(ctx, w, str(folder)),
            lambda w=who: check_manifest(ctx, w, form.manifest_uri),
            lambda w=who: save_example_upload(ctx, w, "j", "a.png", png_bytes()),
            lambda w=who: save_manifest_upload(ctx, w, "j", "a.manifest", b"{}\n"),
            lambda w=who: write_label_config(ctx, w, "j", ["a"]),
            lambda w=who: load_sample_data(ctx, w),
            lambda w=who: preview_task(ctx, w, form),
            lambda w=who: form_from_job(ctx, w, made.name, "clone"),
            lambda w=who: jobs.create_labeling_job(ctx, w, build_request(form, label_config_uri="/x")),
            lambda w=who: jobs.stop_labeling_job(ctx, w, made.name),
            lambda w=who: jobs.clone_labeling_job(ctx, w, made.name, "clone-x"),
            lambda w=who: jobs.chain_labeling_job(ctx, w, made.name, "chain-x"),
        ]
        for call in calls:
            with pytest.raises(PermissionDenied):
                call()
    assert [s.name for s in jobs.list_jobs(ctx, admin)] == [made.name]
    assert jobs.job_summary(ctx, admin, made.name).status == "InProgress"

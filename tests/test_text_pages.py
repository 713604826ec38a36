"""Text classification on the pages (AppTest, the whole app with its sign-in gate): the Label page's text screen
(long text in a scrolling box, number-key buttons, multi-label toggles, Submit), a text file that cannot be read,
the Create job form's text data setup and its task-type picker; and the text data setup itself (``.txt`` one
object per line, ``.csv`` one per row, every bad line named, nothing written).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gtcore.core.access import Actor
from gtcore.core.errors import ManifestError
from gtcore.jobform import data as formdata
from gtcore.manifests.datasetup_text import generate_text_manifest
from gtcore.manifests.text_sources import MAX_TEXT_CHARS
from tests.fixtures.labeling import LabelWorld, app_as, start_in_app

LABELS = ["Positive", "Marketing", "Negative"]


def text_job(world: LabelWorld, lines: list[dict[str, Any]], task_type: str = "TextClassification") -> Any:
    return world.jobs.create(task_type=task_type, labels=LABELS, lines=lines)


def buttons(at: Any, prefix: str) -> list[Any]:
    return [b for b in at.button if str(b.key or "").startswith(prefix)]


def test_text_screen_number_buttons_and_submit(app_world: LabelWorld) -> None:
    world = app_world
    ann = world.worker("ann@example.test")
    long_text = "\n".join(f"Line {i}: <b>not bold</b> **not markdown** [x](javascript:alert(1))" for i in range(60))
    job = text_job(world, [{"source": long_text}, {"source": "short one"}])
    at = start_in_app(app_as(world, ann), job.job_id)
    assert not at.exception
    assert long_text in [t.value for t in at.text]  # plain text, as written (st.text renders no Markdown / HTML)
    assert any("scroll the box" in c.value for c in at.caption)
    picks = [b for b in at.button if "::choice::" in str(b.key)]
    assert [b.label for b in picks] == ["1 · Positive", "2 · Marketing", "3 · Negative"]
    at.button(key="label_submit").click().run()
    assert "pick a label first" in " ".join(str(e.value) for e in at.error)
    picks[1].click().run()
    at.button(key="label_submit").click().run()
    assert not at.exception
    assert world.responses(job.name)[0][0]["answerContent"] == {"crowd-classifier": {"label": "Marketing"}}
    assert "short one" in [t.value for t in at.run().text]


def test_multi_label_buttons_toggle(app_world: LabelWorld) -> None:
    world = app_world
    ann = world.worker("ann@example.test")
    job = text_job(world, [{"source": "a"}, {"source": "b"}], task_type="TextMultiClassification")
    at = start_in_app(app_as(world, ann), job.job_id)

    def picks() -> list[Any]:
        return [b for b in at.button if "::choice::" in str(b.key)]

    picks()[2].click().run()
    picks()[0].click().run()
    picks()[2].click().run()  # toggled off again
    picks()[1].click().run()
    at.button(key="label_submit").click().run()
    assert not at.exception
    answer = world.responses(job.name)[0][0]["answerContent"]
    assert answer == {"crowd-classifier-multi-select": {"labels": ["Positive", "Marketing"]}}


def test_unreadable_text_file_is_reported(app_world: LabelWorld, tmp_path: Path) -> None:
    world = app_world
    ann = world.worker("ann@example.test")
    f = tmp_path / "t.txt"
    f.write_text("fine now", encoding="utf-8")
    job = text_job(world, [{"source-ref": str(f)}])
    f.write_bytes(b"broken \xfe later")  # changed after the job was created
    at = start_in_app(app_as(world, ann), job.job_id)
    assert not at.exception
    assert any("This text cannot be shown" in str(e.value) and "0xfe" in str(e.value) for e in at.error)


# ---------------------------------------------------------------- data setup


def test_text_data_setup_txt_and_csv(tmp_path: Path, page_ctx: Any) -> None:
    ctx = page_ctx
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("first line\r\nsecond 😀 line\n", encoding="utf-8")
    (folder / "sub" / "b.csv").write_text('"one, with comma"\n"two\nlines"\nthree\n', encoding="utf-8")
    (folder / "ignored.json").write_text("{}", encoding="utf-8")
    setup = generate_text_manifest(ctx.storage, str(folder))
    lines = Path(setup.manifest_uri).read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == [
        {"source": "first line"},
        {"source": "second 😀 line"},
        {"source": "one, with comma"},
        {"source": "two\nlines"},
        {"source": "three"},
    ]
    assert setup.count == 5 and "😀" in lines[1]
    assert Path(setup.manifest_uri).name.startswith("dataset-")


def test_text_data_setup_names_every_bad_line(tmp_path: Path, page_ctx: Any) -> None:
    ctx = page_ctx
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.txt").write_text("ok\n\n   \n" + "x" * (MAX_TEXT_CHARS + 1) + "\nok again\n", encoding="utf-8")
    (folder / "b.txt").write_bytes(b"fine\nnot \xc3\x28 utf8\n")
    (folder / "c.csv").write_text('id,text\n"only"\n', encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        generate_text_manifest(ctx.storage, str(folder))
    found = {(Path(p.where).name, p.line) for p in info.value.problems}
    assert found == {("a.txt", 2), ("a.txt", 3), ("a.txt", 4), ("b.txt", 2), ("c.csv", 1)}, info.value
    msgs = str(info.value)
    assert "empty or only whitespace" in msgs and "20,000" in msgs and "0xc3" in msgs and "2 cells" in msgs
    assert not list(folder.glob("dataset-*.manifest"))  # nothing written


def test_form_data_setup_and_check_by_type(tmp_path: Path, page_ctx: Any) -> None:
    ctx = page_ctx
    admin = Actor.system_actor()
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "a.txt").write_text("hello\nworld\n", encoding="utf-8")
    setup = formdata.run_data_setup(ctx, admin, str(folder), kind="text")
    assert setup.count == 2
    as_text = formdata.check_manifest(ctx, admin, setup.manifest_uri, "TextClassification")
    assert as_text.ok and as_text.count == 2
    as_image = formdata.check_manifest(ctx, admin, setup.manifest_uri, "BoundingBox")
    assert not as_image.ok and "pick a text task type" in as_image.problems[0].message


def test_create_job_page_text_classification(page_ctx: Any, tmp_path: Path) -> None:
    """Pick the text type (its own defaults), set up .txt data, see the preview's text screen, create."""
    from gtcore.jobs import api as jobs
    from tests.fixtures.people import People
    from tests.test_page_create_job import _add_label, _ok, _page, _texts

    p = People(page_ctx)
    admin = p.admin()
    p.team("team-a")
    folder = tmp_path / "tweets"
    folder.mkdir()
    (folder / "t.txt").write_text("great phone\nawful battery\n", encoding="utf-8")
    at = _page(p.token(admin))
    at.radio(key="cj_task_type").set_value("TextClassification").run()
    _ok(at)
    assert at.text_input(key="cj_title").value == "Choose the label of the text"
    assert at.number_input(key="cj_time_min").value == 5
    assert at.radio(key="cj_data_kind").value == "text"
    at.text_input(key="cj_folder").input(str(folder)).run()
    at.button(key="cj_setup").click().run()
    _ok(at)
    assert "2 objects from data setup." in _texts(at)
    assert json.loads(at.code[0].value.splitlines()[0]) == {"source": "great phone"}
    at.text_input(key="cj_name").input("tweets").run()
    for label in ("good", "bad"):
        at = _add_label(at, label)
    at.toggle(key="cj_preview").set_value(True).run()
    _ok(at)
    assert "great phone" in [t.value for t in at.text]
    assert [b.label for b in at.button if "::choice::" in str(b.key)] == ["1 · good", "2 · bad"]
    at.button(key="cj_create").click().run()
    _ok(at)
    assert "Created labeling job tweets with 2 objects" in _texts(at)
    made = jobs.describe_labeling_job(page_ctx, admin, "tweets")
    assert made["HumanTaskConfig"]["TaskType"] == "TextClassification"


def test_ner_screen_in_apptest_and_the_form(app_world: LabelWorld, tmp_path: Path) -> None:
    """The NER screen renders under AppTest (the component's default: the draft) and submits its entities; the
    Create job form writes the instructions into the NER label file."""
    from gtcore.jobform.create import create_from_form
    from gtcore.jobform.model import JobForm
    from gtcore.jobs import api as jobs
    from gtcore.queue import api as queue

    world = app_world
    ann = world.worker("ann@example.test")
    src = tmp_path / "ner.manifest"
    src.write_text('{"source":"Bob met Ana in Paris."}\n', encoding="utf-8")
    form = JobForm(
        name="ner-form",
        manifest_uri=str(src),
        output_path=str(world.root / "output"),
        task_type="NamedEntityRecognition",
        labels=["Person", "Place"],
        title="Mark names",
        description="Mark every person and place",
        full_instructions="<b>Names</b> only",
        team="team-a",
    )
    made = create_from_form(world.ctx, Actor.system_actor(), form)
    described = jobs.describe_labeling_job(world.ctx, Actor.system_actor(), "ner-form")
    config = json.loads(Path(described["LabelCategoryConfigS3Uri"]).read_text(encoding="utf-8"))
    assert config["instructions"] == {
        "shortInstruction": "Mark every person and place",
        "fullInstruction": "<b>Names</b> only",
    }
    task = queue.claim_next(world.ctx, ann, made.job_id)
    assert task is not None
    draft = {"crowd-entity-annotation": {"entities": [{"endOffset": 3, "label": "Person", "startOffset": 0}]}}
    queue.save_draft(world.ctx, ann, task.assignment_id, draft)
    queue.stop_and_resume_later(world.ctx, ann, task.assignment_id)
    at = start_in_app(app_as(world, ann), made.job_id, button="Resume")
    assert not at.exception, [e.value for e in at.exception]
    assert any("Shift+arrow" in c.value for c in at.caption)
    at.button(key="label_submit").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert world.responses("ner-form")[0][0]["answerContent"] == draft


def test_create_job_page_ner_preview(page_ctx: Any, tmp_path: Path) -> None:
    """The NER type in the picker: its defaults, the preview renders the span editor on the first text."""
    from tests.fixtures.people import People
    from tests.test_page_create_job import _add_label, _ok, _page, _texts

    p = People(page_ctx)
    admin = p.admin()
    p.team("team-a")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "d.txt").write_text("Bob met Ana in Paris\n", encoding="utf-8")
    at = _page(p.token(admin))
    at.radio(key="cj_task_type").set_value("NamedEntityRecognition").run()
    _ok(at)
    assert at.text_input(key="cj_title").value == "Mark the named entities"
    at.text_input(key="cj_folder").input(str(folder)).run()
    at.button(key="cj_setup").click().run()
    at.text_input(key="cj_name").input("names").run()
    at = _add_label(at, "Person")
    at.toggle(key="cj_preview").set_value(True).run()
    _ok(at)
    assert any("Shift+arrow" in c.value for c in at.caption)
    at.button(key="cj_create").click().run()
    _ok(at)
    assert "Created labeling job names with 1 objects" in _texts(at)


def test_text_data_setup_and_source_refs_on_s3(tmp_path: Path, s3_server: Any, s3_bucket: str) -> None:
    """Text data setup over an S3 prefix (moto's server over HTTP, boto3), and source-ref text files on S3 checked
    line by line: a missing object, a non-UTF-8 object and a bucket outside the allow-list are named."""
    from gtcore.manifests.text_sources import read_text_source, text_source_problems
    from gtcore.storage.store import Storage
    from tests.fixtures.core import make_settings

    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="texts/a.txt", Body="one\ndeux 😀\n".encode())
    client.put_object(Bucket=s3_bucket, Key="texts/b.csv", Body=b'"x, y"\nz\n')
    client.put_object(Bucket=s3_bucket, Key="texts/bad.bin", Body=b"\xff\xfe")
    store = Storage(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url, GT_ALLOWED_BUCKETS=s3_bucket))
    setup = generate_text_manifest(store, f"s3://{s3_bucket}/texts/")
    assert setup.manifest_uri.startswith(f"s3://{s3_bucket}/texts/dataset-")
    body = client.get_object(Bucket=s3_bucket, Key=setup.manifest_uri.split("/", 3)[3])["Body"].read().decode()
    assert [json.loads(x)["source"] for x in body.splitlines()] == ["one", "deux 😀", "x, y", "z"]
    assert read_text_source(store, f"s3://{s3_bucket}/texts/a.txt") == "one\ndeux 😀\n"
    lines = [
        {"source-ref": f"s3://{s3_bucket}/texts/a.txt"},
        {"source-ref": f"s3://{s3_bucket}/texts/missing.txt"},
        {"source-ref": f"s3://{s3_bucket}/texts/bad.bin"},
        {"source-ref": "s3://some-other-bucket/t.txt"},
    ]
    problems = text_source_problems(lines, store, "m.manifest")
    assert [(p.line, p.field) for p in problems] == [(2, "source-ref"), (3, "source-ref"), (4, "source-ref")]
    assert "0xff" in problems[1].message and "some-other-bucket" in problems[2].message

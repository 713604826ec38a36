"""The Label page under AppTest (classification, multi-label, decline, release, stop, refusals, broken images),
the task screen's Preview mode, and gtcore.images.task_images (display JPEGs, cache, prefetch, flags, access).

The app runs as a whole (``app.py`` with its sign-in gate and navigation) with a real session token, on real
SQLite (and PostgreSQL for the taskimages queries) and real image files.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import PermissionDenied
from gtcore.images import task_images as taskimages
from gtcore.queue import api as queue
from tests.fixtures.labeling import LabelWorld, app_as, open_page, start_in_app
from tests.fixtures.queue import QueueWorld

LABELS = ["cat", "dog", "bird"]


def rows(world: LabelWorld, job_id: int) -> list[Any]:
    a = dbm.assignments
    with world.ctx.db.read() as conn:
        return list(conn.execute(select(a).where(a.c.job_id == job_id).order_by(a.c.id)))


def objects(ctx: Context, job_id: int) -> list[Any]:
    o = dbm.objects
    with ctx.db.read() as conn:
        return list(conn.execute(select(o).where(o.c.job_id == job_id).order_by(o.c.idx)))


def caption_object(at: Any) -> int:
    """The datasetObjectId of the task on the screen (the caption says "Object 2 of 3 ...", 1-based)."""
    (text,) = [c.value for c in at.caption if c.value.startswith("Object ")]
    return int(text.split()[1]) - 1


def texts(elements: Any) -> list[str]:
    """The text as a reader sees it: Markdown backslash escapes removed (messages escape user text)."""
    return [re.sub(r"\\(.)", r"\1", str(e.value)) for e in elements]


def settle(at: Any) -> Any:
    """One more run after an action that called st.rerun: under AppTest the widgets of the run that st.rerun
    started get other ids than in later runs, so a value set on them would be dropped."""
    return at.run()


def classify_job(world: LabelWorld, n: int = 3, **kw: Any) -> Any:
    return world.jobs.create(n_images=n, task_type=kw.pop("task_type", "ImageClassification"), labels=LABELS, **kw)


# ---------------------------------------------------------------- AppTest flows


def test_classification_submit_commits_then_opens_the_next(app_world: LabelWorld) -> None:
    world = app_world
    ann = world.worker("ann@example.test")
    job = classify_job(world)
    at = start_in_app(app_as(world, ann), job.job_id)
    assert not at.exception
    assert caption_object(at) == 0
    (radio,) = at.radio
    assert radio.options == LABELS and radio.value is None  # no default: no bias towards the first label

    at.button(key="label_submit").click().run()  # nothing chosen: refused, nothing stored
    assert "nothing to submit yet: pick a label first" in " ".join(texts(at.error))
    assert [r.status for r in rows(world, job.job_id)] == ["leased"]

    at.radio[0].set_value("dog").run()
    (row,) = rows(world, job.job_id)
    assert json.loads(row.draft_json) == {"crowd-image-classifier": {"label": "dog"}}  # saved at once

    at.button(key="label_submit").click().run()
    assert not at.exception
    assert texts(at.success) == ["Submitted: object 1 of 3 is saved. Here is the next task."]
    assert caption_object(at) == 1 and at.radio[0].value is None
    first, second = rows(world, job.job_id)
    assert (first.status, json.loads(first.answer_json)) == ("submitted", {"crowd-image-classifier": {"label": "dog"}})
    assert second.status == "leased" and second.object_idx == 1
    answers = world.responses(job.name)
    assert [a["answerContent"] for a in answers[0]] == [{"crowd-image-classifier": {"label": "dog"}}]

    for label in ("cat", "bird"):
        settle(at).radio[0].set_value(label).run()
        at.button(key="label_submit").click().run()
    # the last answer completed the job: the notice stays, and an end screen says all is done (no error)
    assert texts(at.success)[0] == "Submitted: object 3 of 3 is saved."
    assert "All done: every object of" in texts(at.success)[1] and not at.error
    assert sorted(world.responses(job.name)) == [0, 1, 2]


def test_submit_in_the_same_run_as_a_change_uses_the_fresh_answer(app_world: LabelWorld) -> None:
    """A click that arrives with a widget change the screen has not shown yet: the page draws the screen
    first, then submits what it shows (never the stale answer of the previous run)."""
    world = app_world
    ann = world.worker("ann@example.test")
    job = classify_job(world)
    at = start_in_app(app_as(world, ann), job.job_id)
    at.radio[0].set_value("bird")
    at.button(key="label_submit").click().run()
    assert not at.exception
    settle(at)
    assert caption_object(at) == 1
    answer = world.responses(job.name)[0][0]["answerContent"]
    assert answer == {"crowd-image-classifier": {"label": "bird"}}


def test_multi_label_submits_every_choice(app_world: LabelWorld) -> None:
    world = app_world
    ann = world.worker("ann@example.test")
    job = classify_job(world, n=2, task_type="ImageMultiClassification")
    at = start_in_app(app_as(world, ann), job.job_id)
    (pills,) = at.pills
    pills.set_value(["bird", "cat"]).run()
    assert json.loads(rows(world, job.job_id)[0].draft_json)["crowd-image-classifier-multi-select"]["labels"] == [
        "cat",
        "bird",
    ]
    at.button(key="label_submit").click().run()
    assert not at.exception and caption_object(at) == 1
    answer = world.responses(job.name)[0][0]["answerContent"]
    assert answer == {"crowd-image-classifier-multi-select": {"labels": ["cat", "bird"]}}  # the job's label order


def test_decline_with_reason_never_comes_back(app_world: LabelWorld) -> None:
    world = app_world
    ann = world.worker("ann@example.test")
    job = classify_job(world, workers_per_object=2)
    at = start_in_app(app_as(world, ann), job.job_id)
    assert caption_object(at) == 0
    at.text_input(key=f"label_decline_reason_{rows(world, job.job_id)[0].id}").input("the image is blurred")
    at.button(key="label_decline").click().run()
    assert not at.exception
    assert texts(at.success) == ["Declined object 1 of 3: you will not get it again."]
    assert caption_object(at) == 1
    declined = rows(world, job.job_id)[0]
    assert (declined.status, declined.decline_reason) == ("declined", "the image is blurred")
    for _ in range(2):
        settle(at).radio[0].set_value("cat").run()
        at.button(key="label_submit").click().run()
    # object 0 still needs two workers, but never this one again
    assert "No task is available to you in this job right now" in " ".join(texts(at.info))
    assert "The job is not finished: checking again every 5 seconds" in " ".join(texts(at.info))  # not "done"
    assert not any("All done" in t for t in texts(at.success))
    assert objects(world.ctx, job.job_id)[0].status == "open"


def test_release_puts_the_task_back_for_others(app_world: LabelWorld) -> None:
    world = app_world
    ann, bob = world.worker("ann@example.test"), world.worker("bob@example.test")
    job = classify_job(world)
    at = start_in_app(app_as(world, ann), job.job_id)
    at.radio[0].set_value("bird").run()
    at.button(key="label_release").click().run()
    assert not at.exception
    assert texts(at.success) == ["Released object 1 of 3: it is back in the pool."]
    assert at.button(key="label_paused_again").label == "Start working again"
    (row,) = rows(world, job.job_id)
    assert (row.status, row.draft_json) == ("released", None)  # the work is dropped

    taken = queue.claim_next(world.ctx, bob, job.job_id)  # another worker gets it at once
    assert taken is not None and taken.object_idx == 0
    settle(at).button(key="label_paused_again").click().run()
    assert not at.exception and caption_object(at) == 1


def test_stop_and_resume_brings_the_choice_back(app_world: LabelWorld) -> None:
    world = app_world
    ann = world.worker("ann@example.test")
    job = classify_job(world)
    at = start_in_app(app_as(world, ann), job.job_id)
    at.radio[0].set_value("bird").run()
    at.button(key="label_stop").click().run()
    assert not at.exception
    (message,) = texts(at.success)
    assert message.startswith("Stopped: your work on object 1 of 3 is saved. Resume it while the time limit lasts: ")
    (row,) = rows(world, job.job_id)
    assert row.status == "stopped" and json.loads(row.draft_json)["crowd-image-classifier"]["label"] == "bird"

    # a new session (the browser was closed): the portal offers Resume and the choice comes back
    at = start_in_app(app_as(world, ann), job.job_id, button="Resume")
    assert caption_object(at) == 0 and at.radio[0].value == "bird"
    assert [r.status for r in rows(world, job.job_id)] == ["leased"]


def test_submit_after_the_lease_ended_is_refused_and_keeps_the_choice(app_world: LabelWorld) -> None:
    world = app_world
    ann = world.worker("ann@example.test")
    job = classify_job(world)
    at = start_in_app(app_as(world, ann), job.job_id)
    at.radio[0].set_value("dog").run()
    (row,) = rows(world, job.job_id)
    with world.ctx.db.write() as conn:  # the time limit ran out while the page was open
        conn.execute(
            update(dbm.assignments).where(dbm.assignments.c.id == row.id).values(lease_expires_at=dbm.now() - 1)
        )
    at.button(key="label_submit").click().run()
    assert not at.exception
    errors = " ".join(texts(at.error))
    assert "Not submitted: cannot submit task" in errors and "time limit ended" in errors
    assert at.radio[0].value == "dog" and caption_object(at) == 0  # the work stays on the screen
    assert world.responses(job.name) == {}
    assert rows(world, job.job_id)[0].status in ("leased", "expired")
    # "Get a task" re-claims: the object is still free, so the saved choice comes back
    at.button(key="label_next_after_loss").click().run()
    assert caption_object(at) == 0 and at.radio[0].value == "dog"


def test_broken_image_is_flagged_and_can_be_declined(app_world: LabelWorld) -> None:
    world = app_world
    ann = world.worker("ann@example.test")
    broken = world.root / "images" / "broken.png"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10)
    good = world.image("good", (64, 48))
    job = world.box_job("broken", [broken, good])
    at = start_in_app(app_as(world, ann), job.job_id)
    assert not at.exception
    assert caption_object(at) == 0
    assert any("This image cannot be shown" in e for e in texts(at.error))
    flagged = objects(world.ctx, job.job_id)[0].image_error
    assert flagged and "broken.png" in flagged
    settle(at).button(key="label_decline").click().run()
    assert caption_object(at) == 1 and not any("cannot be shown" in e for e in texts(at.error))


def test_label_page_guards(app_world: LabelWorld) -> None:
    world = app_world
    outsider = world.people.worker("team-b", "eve@example.test")
    job = classify_job(world)
    # no job chosen yet
    at = open_page(app_as(world, world.worker("ann@example.test")), "pages/label.py")
    assert "Choose a job on the Worker portal first." in texts(at.info)
    # a worker of another team asks for the job by URL: gtcore refuses
    at = app_as(world, outsider)
    at.query_params["job"] = str(job.job_id)
    open_page(at, "pages/label.py")
    assert any("is not in the team of job" in e for e in texts(at.error))
    assert rows(world, job.job_id) == []
    # an admin without the worker role does not get the Label page at all
    at = app_as(world, world.admin)
    assert "pages/label.py" not in at.session_state["gt_nav"]


# ---------------------------------------------------------------- the Preview (team lead)


PREVIEW_SCRIPT = """
import json, os
from gtcore.queue.claim import Task
from gtcore.ui.resources import get_context
from gtcore.ui.task_view import render_task_screen
import streamlit as st

spec = json.loads(os.environ["GT_PREVIEW_TASK"])
task = Task(assignment_id=-1, job_id=-1, job_name="draft", object_idx=0, source_ref=spec["source"], line={},
            task_type=spec["type"], labels=spec["labels"], lease_expires_at=0.0, accepted_at=0.0, draft=None,
            status="leased", instructions=spec["instructions"], previous=None)
result = render_task_screen(get_context(), task, preview=True, key_prefix="preview")
st.session_state["preview_answer"] = None if result is None else result.answer
"""


def test_preview_renders_the_same_screen_without_queue_calls(
    app_world: LabelWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    world = app_world
    example = world.image("example", (300, 200))
    instructions = {
        "Short": "Pick the **animal**. <script>alert(1)</script>",
        "Full": "Long text <b>bold</b>",
        "Examples": [
            {"Kind": "good", "ImageUri": str(example), "Caption": "a *clear* cat"},
            {"Kind": "bad", "ImageUri": str(tmp_path / "missing.png"), "Caption": "x"},
        ],
    }
    monkeypatch.setenv(
        "GT_PREVIEW_TASK",
        json.dumps(
            {
                "source": str(world.image("p", (800, 600))),
                "type": "ImageClassification",
                "labels": LABELS,
                "instructions": instructions,
            }
        ),
    )
    script = tmp_path / "preview_app.py"
    script.write_text(PREVIEW_SCRIPT)
    at = AppTest.from_file(str(script), default_timeout=60)
    at.session_state["gt_token"] = world.people.token(world.admin)
    at.run()
    assert not at.exception, at.exception
    markdown = texts(at.markdown)
    assert "Pick the **animal**. &lt;script&gt;alert(1)&lt;/script&gt;" in markdown  # HTML shown as text
    assert "Long text &lt;b&gt;bold&lt;/b&gt;" in markdown
    assert r"a \*clear\* cat" in [c.value for c in at.caption]  # escaped: shown literally
    assert any("Example image not shown" in w for w in texts(at.warning))
    at.radio[0].set_value("cat").run()
    assert at.session_state["preview_answer"] == {"crowd-image-classifier": {"label": "cat"}}
    with world.ctx.db.read() as conn:  # no task was taken, nothing saved, nothing flagged
        assert conn.execute(select(dbm.assignments)).first() is None
    assert not [b for b in at.button if b.key and b.key.startswith("label_")]


# ---------------------------------------------------------------- gtcore.images.task_images


def big_jpeg(path: Path, size: tuple[int, int], color: tuple[int, int, int] = (90, 120, 150)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format="JPEG", quality=90)
    return path


def test_display_jpeg_is_display_sized_and_cached(any_world: QueueWorld) -> None:
    w = any_world
    taskimages.CACHE.clear()
    src = big_jpeg(w.out / "images" / "big.jpg", (4000, 3000))
    job = w.new_job(
        lines=[{"source-ref": str(src)}, {"source-ref": str(big_jpeg(w.out / "images" / "n.jpg", (3000, 4000)))}]
    )
    task = queue.claim_next(w.ctx, w.workers[0], job)
    assert task is not None
    img = taskimages.task_image(w.ctx, w.workers[0], task)
    assert img.ok and img.original_size == (4000, 3000)
    with Image.open(io.BytesIO(img.jpeg or b"")) as shown:
        assert shown.format == "JPEG" and shown.size == (576, 432)  # never the original
    assert img.scale == pytest.approx(576 / 4000)
    assert len(img.jpeg or b"") < src.stat().st_size
    again = taskimages.task_image(w.ctx, w.workers[0], task)
    assert again is img and taskimages.CACHE.hits >= 1  # the same object from the LRU

    # the next task's image is prepared ahead, in the background
    scheduled = taskimages.prefetch_next(w.ctx, w.workers[0], task)
    assert scheduled == [str(w.out / "images" / "n.jpg")]
    key = taskimages._key(w.ctx, scheduled[0], taskimages.DISPLAY_MAX_SIDE)
    nxt = taskimages.display_image(w.ctx, scheduled[0])  # waits for the prefetch, or finds it cached
    assert key in taskimages.CACHE and nxt.original_size == (3000, 4000)

    # only the holder (or a reader) sees a task's image
    with pytest.raises(PermissionDenied):
        taskimages.task_image(w.ctx, w.workers[1], task)
    with pytest.raises(PermissionDenied):
        taskimages.task_image(w.ctx, w.outsider, task)
    with pytest.raises(PermissionDenied):
        taskimages.prefetch_next(w.ctx, w.outsider, task)


def test_undecodable_images_are_reported_and_flagged_once(any_world: QueueWorld) -> None:
    w = any_world
    bad = w.out / "images" / "bad.jpg"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"\xff\xd8\xff" + b"garbage" * 50)
    bomb = w.out / "images" / "bomb.png"
    Image.new("1", (12_000, 9_000)).save(bomb)  # 108 megapixels, a few kilobytes
    job = w.new_job(
        lines=[
            {"source-ref": str(bad)},
            {"source-ref": str(bomb)},
            {"source-ref": str(w.out / "images" / "gone.png")},
            {"no-source": 1},
        ]
    )
    errors = []
    for worker in w.workers:
        task = queue.claim_next(w.ctx, worker, job)
        assert task is not None
        img = taskimages.task_image(w.ctx, worker, task)
        assert not img.ok and img.jpeg is None and img.error
        errors.append(img.error)
    assert "megapixels is above the 100 MP limit" in errors[1]
    assert "cannot be read" in errors[2] and "no source-ref" in errors[3]
    flags = [o.image_error for o in objects(w.ctx, job)]
    assert all(flags) and flags == errors
    # flagged once: a second view does not write again
    with w.ctx.db.write() as conn:
        conn.execute(update(dbm.objects).where(dbm.objects.c.job_id == job).values(image_error=None))
    task = queue.current_task(w.ctx, w.workers[0], job)
    assert task is not None
    taskimages.task_image(w.ctx, w.workers[0], task)
    assert objects(w.ctx, job)[0].image_error is None


def test_image_cache_is_bounded() -> None:
    cache = taskimages.ImageCache(max_bytes=250, max_entries=3)
    item = taskimages.DisplayImage("u", b"x" * 100, 1.0, (1, 1))
    for i in range(4):
        cache.put(i, item)
    assert len(cache) == 2 and cache.nbytes == 200 and 3 in cache and 0 not in cache
    assert cache.get(2) is item and cache.get(0) is None
    cache.put("big", taskimages.DisplayImage("u", b"x" * 300, 1.0, (1, 1)))
    assert "big" not in cache
    small = taskimages.DisplayImage("u", b"", 1.0, (1, 1), error="bad")
    for i in range(5):
        cache.put(("s", i), small)
    assert len(cache) == 3  # the entry bound holds for empty (error) entries too


def test_screens_open_with_the_draft_else_the_chained_boxes() -> None:
    from gtcore.queue.claim import Task
    from gtcore.ui.task_session import seed

    box = {"height": 20, "label": "cat", "left": 1, "top": 2, "width": 30}

    def task(task_type: str, draft: dict | None, previous: dict | None = None) -> Task:
        return Task(
            assignment_id=1,
            job_id=1,
            job_name="j",
            object_idx=0,
            source_ref="x",
            line={},
            task_type=task_type,
            labels=LABELS,
            lease_expires_at=0.0,
            accepted_at=0.0,
            draft=draft,
            status="leased",
            instructions={},
            previous=previous,
        )

    chained = {"attribute": "a", "boundingBoxes": [box, {"label": "dog"}], "inputImageProperties": {}}
    assert seed(task("AdjustmentBoundingBox", None, chained)) == [box]  # malformed boxes are left out
    moved = {**box, "left": 5}
    draft = {"boundingBox": {"boundingBoxes": [moved], "inputImageProperties": {"height": 9, "width": 9}}}
    assert seed(task("AdjustmentBoundingBox", draft, chained)) == [moved]  # the worker's work wins
    assert seed(task("BoundingBox", None)) == []
    assert seed(task("ImageClassification", {"crowd-image-classifier": {"label": "dog"}})) == "dog"
    assert seed(task("ImageClassification", {"crowd-image-classifier": {"label": "zebra"}})) is None
    assert seed(
        task("ImageMultiClassification", {"crowd-image-classifier-multi-select": {"labels": ["bird", "x"]}})
    ) == ["bird"]


def test_task_image_from_s3_is_display_sized(tmp_path: Path, s3_server: Any) -> None:
    from tests.fixtures.core import make_settings
    from tests.fixtures.queue import make_world

    ctx = Context.from_settings(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    try:
        w = make_world(ctx, tmp_path)
        bucket = s3_server.new_bucket()
        buf = io.BytesIO()
        Image.new("RGB", (2000, 1000), (10, 200, 30)).save(buf, format="JPEG")
        s3_server.client().put_object(Bucket=bucket, Key="imgs/a.jpg", Body=buf.getvalue())
        job = w.new_job(lines=[{"source-ref": f"s3://{bucket}/imgs/a.jpg"}, {"source-ref": f"s3://{bucket}/no.jpg"}])
        first = queue.claim_next(ctx, w.workers[0], job)
        second = queue.claim_next(ctx, w.workers[1], job)
        assert first is not None and second is not None
        img = taskimages.task_image(ctx, w.workers[0], first)
        assert img.ok and img.original_size == (2000, 1000) and img.scale == pytest.approx(576 / 2000)
        with Image.open(io.BytesIO(img.jpeg or b"")) as shown:
            assert shown.size == (576, 288)
        missing = taskimages.task_image(ctx, w.workers[1], second)
        assert not missing.ok and f"s3://{bucket}/no.jpg" in (missing.error or "")
        assert objects(ctx, job)[1].image_error == missing.error
    finally:
        ctx.db.dispose()

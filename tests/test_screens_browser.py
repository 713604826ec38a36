"""Issue 26 in Debian chromium: the team lead's and the annotator's screens as a new user meets them.

The real app.py under ``streamlit run``; the worlds are made through gtcore (tests.fixtures.labeling), what
the browser did is checked through gtcore and on screenshots.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gtcore.core.tasktypes import DEFAULT_TEXTS
from gtcore.jobform.data import DIGITS_DESCRIPTION
from gtcore.jobs import api as jobs
from gtcore.queue import api as queue
from tests.browser import Box, canvas_box, exception_text, new_page, screenshot, wait_for_idle, wait_until
from tests.fixtures.core import run_work
from tests.fixtures.labeling import APP, LabelWorld, sign_in, start_job, task_caption, wait_task
from tests.fixtures.people import PASSWORD

pytestmark = pytest.mark.browser

BOX_INSTRUCTIONS = "Draw one tight box around every animal; pick the label first."


def _see(page: Any, text: str, timeout: float = 60.0) -> None:
    page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=timeout * 1000)


def _click(page: Any, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).first.click()
    wait_for_idle(page)


def _nav(page: Any, name: str) -> None:
    page.locator('[data-testid="stSidebarNavLink"]', has_text=name).click()
    wait_for_idle(page)


def _value(page: Any, label: str) -> str:
    return str(page.get_by_label(label, exact=True).input_value())


def _finished_box_job(world: LabelWorld, declined: int | None = None) -> Any:
    """A Completed box job over three images with box instructions and a good example; ``declined`` is
    the object its only worker declined."""
    example = world.image("good-example", (320, 240))
    images = [world.image(f"animal{i}", (640, 480), rects=((100, 100, 200, 150),)) for i in range(3)]
    instructions = {
        "Short": BOX_INSTRUCTIONS,
        "Full": "# Boxes\nTouch the fur.",
        "Examples": [{"Kind": "good", "ImageUri": str(example), "Caption": "a tight box"}],
    }
    job = world.box_job(
        "animals", images, extra_human={"Instructions": instructions, "TaskDescription": BOX_INSTRUCTIONS}
    )
    boxer = world.worker("boxer@example.test")
    box = {"height": 150, "label": "cat", "left": 100, "top": 100, "width": 200}
    answer = {"boundingBox": {"boundingBoxes": [box], "inputImageProperties": {"height": 480, "width": 640}}}
    while (task := queue.claim_next(world.ctx, boxer, job.job_id)) is not None:
        if task.object_idx == declined:
            queue.decline(world.ctx, boxer, task.assignment_id, "too dark")
        else:
            queue.submit(world.ctx, boxer, task.assignment_id, answer)
    run_work(world.ctx)
    assert jobs.job_summary(world.ctx, world.admin, job.name).status == "Completed"
    return job


def _sign_in_lead(page: Any, url: str, world: LabelWorld) -> None:
    sign_in(page, url, world.admin.email, PASSWORD)
    page.locator('[data-testid="stSidebarNavLink"]', has_text="Create job").wait_for(timeout=60_000)


# --------------------------------------------------------------------------- item 1: instructions follow the type


def test_load_digits_writes_classification_instructions(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    url = streamlit_app(APP, world.env)
    page = new_page(browser)
    _sign_in_lead(page, url, world)
    _nav(page, "Create job")
    _see(page, "Create labeling job")
    assert _value(page, "Task description") == DEFAULT_TEXTS["BoundingBox"][1]
    _click(page, "Load digits for automated labeling")
    _see(page, "handwritten digits in", timeout=180)
    wait_for_idle(page)
    description = _value(page, "Task description")
    assert description == DIGITS_DESCRIPTION, f"the box instructions stayed: {description!r}"
    assert "box" not in _value(page, "Task title").lower()
    assert exception_text(page) is None
    page.context.close()


def test_chained_verification_gets_verification_instructions_without_the_box_examples(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    source = _finished_box_job(world)
    url = streamlit_app(APP, world.env)
    page = new_page(browser)
    _sign_in_lead(page, url, world)
    _nav(page, "Jobs")
    _see(page, "Labeling jobs")
    _click(page, "Chain")
    _see(page, f"Chaining from {source.name}")
    wait_until(lambda: _value(page, "Task description") == BOX_INSTRUCTIONS, what="the chained box instructions")
    _see(page, "Good example: a tight box")
    page.get_by_text("Verification job (workers judge", exact=False).click()
    wait_for_idle(page)
    title, description, _ = DEFAULT_TEXTS["VerificationBoundingBox"]
    wait_until(lambda: _value(page, "Task description") == description, what="the verification instructions")
    assert _value(page, "Task title") == title
    assert _value(page, "Full instructions (Markdown)") == ""
    assert page.get_by_text("Good example: a tight box").count() == 0  # the box examples stayed behind
    page.get_by_text("Verification job (workers judge", exact=False).click()  # unticked: the job's own texts return
    wait_for_idle(page)
    wait_until(lambda: _value(page, "Task description") == BOX_INSTRUCTIONS, what="the box instructions back")
    _see(page, "Good example: a tight box")
    assert page.locator('[data-testid="stException"]').count() == 0
    page.context.close()


# --------------------------------------------------------------------------- item 2: verification of labeled objects


def test_verification_worker_never_meets_the_declined_object(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    source = _finished_box_job(world, declined=1)
    labels = world.jobs.write_labels("verify", ["Correct", "Incorrect"])
    check = jobs.chain_labeling_job(
        world.ctx,
        world.admin,
        source.name,
        "animals-checked",
        task_type="VerificationBoundingBox",
        overrides={"LabelCategoryConfigS3Uri": str(labels), "HumanTaskConfig": {"TaskTitle": "Check the animals"}},
    )
    world.worker("judge@example.test")
    url = streamlit_app(APP, world.env)
    page = new_page(browser)
    sign_in(page, url, "judge@example.test", PASSWORD)
    start_job(page, "Check the animals")
    seen = []
    for _ in range(3):
        wait_until(lambda: page.get_by_text("Are these labels right?").count() or page.get_by_text("All done").count())
        if page.get_by_text("All done").count():
            break
        caption = task_caption(page)
        seen.append(caption)
        assert page.get_by_text("no earlier label to verify").count() == 0, caption
        page.get_by_text("Correct", exact=True).first.click()
        wait_for_idle(page)
        page.get_by_role("button", name="Submit").first.click()
        wait_until(lambda c=caption: page.get_by_text("All done").count() or task_caption(page) != c, what="next")
        wait_for_idle(page)
    assert len(seen) == 2, seen
    assert all(" of 2 " in c or " of 3 " in c for c in seen)
    assert jobs.job_summary(world.ctx, world.admin, check.name).already_labeled == 1
    page.context.close()


# --------------------------------------------------------------------------- item 3 and 9: the whole image in view


def _in_view(page: Any, box: Any, what: str) -> None:
    vw, vh = page.viewport_size["width"], page.viewport_size["height"]
    assert box.y >= 0 and box.y + box.height <= vh + 1, f"{what} is not inside the window's height {vh}: {box}"
    assert box.x >= 0 and box.x + box.width <= vw + 1, f"{what} is not inside the window's width {vw}: {box}"


def _rect(page: Any, locator: Any) -> Box:
    bb = locator.bounding_box()
    assert bb is not None
    return Box(bb["x"], bb["y"], bb["width"], bb["height"])


def test_a_portrait_photo_fits_the_window_at_fit_with_submit_in_view(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    images = [world.image(f"portrait{i}", (2448, 3264), rects=((400, 400, 800, 1200),)) for i in range(2)]
    job = world.box_job("portraits", images)
    world.worker("ann@example.test")
    url = streamlit_app(APP, world.env)
    page = new_page(browser, width=1280, height=1200)
    sign_in(page, url, "ann@example.test", PASSWORD)
    start_job(page, job.request["HumanTaskConfig"]["TaskTitle"])
    for width, height in ((1280, 1200), (1280, 820), (1500, 1000)):
        page.set_viewport_size({"width": width, "height": height})

        def fits() -> bool:
            cb = canvas_box(page)
            bottom = cb.y + cb.height  # a portrait photo at Fit takes the height left below the canvas's top
            return height - 60 <= bottom <= height + 1 and abs(cb.width / cb.height - 2448 / 3264) < 0.01

        wait_until(fits, timeout=60, what=f"the canvas inside a {width}x{height} window")
        wait_task(page, boxes=0)
        wait_for_idle(page)
        cb = canvas_box(page)
        _in_view(page, cb, "the canvas")
        assert cb.height >= 0.25 * height, f"the canvas got too small: {cb}"
        _in_view(page, _rect(page, page.get_by_role("button", name="Submit").first), "Submit")
        # the canvas's floating toolbar (shown on hover) keeps off the zoom bar and the overview
        page.mouse.move(cb.x + cb.width / 2, cb.y + cb.height / 2)
        toolbar = page.locator(".dc-toolbar-card").first
        wait_until(lambda: toolbar.is_visible(), what="the canvas toolbar")
        tb = _rect(page, toolbar)
        for name, loc in (
            ("the overview", page.locator(".gt-ov").first),
            ("Zoom in", page.get_by_role("button", name="Z")),
        ):
            other = _rect(page, loc.first)
            apart = tb.y >= other.y + other.height or other.y >= tb.y + tb.height
            apart = apart or tb.x >= other.x + other.width or other.x >= tb.x + tb.width
            assert apart, f"the canvas toolbar {tb} overlaps {name} {other}"
    screenshot(page, world.root / "portrait.png")
    page.context.close()


# --------------------------------------------------------------------------- item 7: messages where they belong


def test_a_just_invited_worker_is_listed_at_once(label_world: LabelWorld, streamlit_app: Any, browser: Any) -> None:
    world = label_world
    url = streamlit_app(APP, world.env)
    page = new_page(browser)
    _sign_in_lead(page, url, world)
    _nav(page, "Workforce")
    page.get_by_role("heading", name="Workforce").wait_for(timeout=30_000)
    page.get_by_role("tab", name="Invite").click()
    wait_for_idle(page)
    page.get_by_label("E-mail addresses (up to 50; commas, spaces or one per line)").fill("zed@example.test")
    page.get_by_role("button", name="Send invitations").click()
    wait_for_idle(page)
    page.get_by_text("give this temporary password to the worker now").first.wait_for(timeout=30_000)
    page.get_by_role("tab", name="Workers").click()  # no other run in between: the list is the one just drawn
    table = page.locator('[data-testid="stDataFrame"]').first
    table.wait_for(timeout=30_000)
    wait_until(lambda: "zed@example.test" in _grid_text(page, table), timeout=10, what="zed in the Workers table")
    page.context.close()


def _grid_text(page: Any, table: Any) -> str:
    """The Workers table's cells (a canvas grid: its text is in the grid's accessibility table)."""
    return str(table.inner_text()) + " ".join(table.locator('[role="gridcell"]').all_inner_texts())


def test_a_missing_folder_is_said_in_full_next_to_the_data_setup_button(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    missing = world.root / "no-such-folder"
    url = streamlit_app(APP, world.env)
    page = new_page(browser)
    _sign_in_lead(page, url, world)
    _nav(page, "Create job")
    _see(page, "Create labeling job")
    box = page.get_by_label("Images folder or S3 prefix", exact=True)
    box.fill(str(missing))
    box.press("Enter")
    wait_for_idle(page)
    _click(page, "Complete data setup")
    message = page.get_by_text(f"the folder {missing} does not exist").first
    message.wait_for(timeout=30_000)
    button = _rect(page, page.get_by_role("button", name="Complete data setup").first)
    said = _rect(page, message)
    assert 0 <= said.y - (button.y + button.height) <= 250, f"the message {said} is far from the button {button}"
    assert said.x + said.width <= page.viewport_size["width"], "the message is cut off sideways"
    assert str(missing) in message.inner_text()  # in full
    page.context.close()


# --------------------------------------------------------------------------- item 9: small things


def test_a_64_px_digit_is_shown_enlarged_with_crisp_pixels(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    digits = []
    for i in range(2):
        img = Image.new("RGB", (64, 64), (255, 255, 255))
        img.paste((0, 0, 0), (0, 0, 32, 64))  # the left half black: a sharp edge in the middle
        path = world.root / "digits" / f"digit-{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
        digits.append(path)
    job = world.jobs.create(
        name="digits", lines=[{"source-ref": str(p)} for p in digits], task_type="ImageClassification",
        labels=[str(d) for d in range(10)],
    )  # fmt: skip
    world.worker("ann@example.test")
    url = streamlit_app(APP, world.env)
    page = new_page(browser)
    sign_in(page, url, "ann@example.test", PASSWORD)
    start_job(page, job.request["HumanTaskConfig"]["TaskTitle"])
    shown = page.locator('[data-testid="stImage"] img').first
    shown.wait_for(timeout=30_000)
    wait_for_idle(page)
    box = _rect(page, shown)
    assert box.width >= 256 and box.height >= 256, f"the digit is shown at {box.width}x{box.height} px"
    grey = screenshot(page, clip=box).convert("L")
    row = [grey.getpixel((x, round(box.height / 2))) for x in range(round(box.width))]
    between = [v for v in row if 40 < v < 215]  # pixels neither black nor white: blur across the edge
    assert len(between) <= 2, f"the edge is blurred over {len(between)} px (not nearest-neighbour)"
    page.context.close()


def test_the_mask_tool_starts_as_the_brush_on_every_task(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    images = [world.image(f"board{i}", (640, 480), rects=((100, 100, 200, 150),)) for i in range(2)]
    job = world.jobs.create(
        name="boards", lines=[{"source-ref": str(p)} for p in images], task_type="SemanticSegmentation",
        label_attribute="boards-ref", labels=["IC", "resistor"],
    )  # fmt: skip
    world.worker("ann@example.test")
    url = streamlit_app(APP, world.env)
    page = new_page(browser)
    sign_in(page, url, "ann@example.test", PASSWORD)
    start_job(page, job.request["HumanTaskConfig"]["TaskTitle"])
    canvas_box(page)
    wait_for_idle(page)

    def chosen() -> str:
        active = page.get_by_role("radiogroup", name="Tool").locator('[aria-checked="true"]')
        return str(active.first.inner_text()).strip() if active.count() else ""

    assert chosen().endswith("Brush")
    page.get_by_text("Eraser", exact=True).click()
    wait_for_idle(page)
    wait_until(lambda: chosen().endswith("Eraser"), what="the eraser chosen")
    cb = canvas_box(page)  # something painted, so Submit has a mask
    page.mouse.move(cb.x + 40, cb.y + 40)
    page.mouse.down()
    page.mouse.move(cb.x + 120, cb.y + 40, steps=8)
    page.mouse.up()
    wait_for_idle(page)
    page.get_by_role("button", name="Submit").first.click()
    page.get_by_text("Submitted: object 1 of 2").first.wait_for(timeout=30_000)
    wait_until(lambda: task_caption(page).startswith("Object 2 "), what="the next task")
    canvas_box(page)
    wait_for_idle(page)
    assert chosen().endswith("Brush"), f"the next task opened with {chosen()!r}"
    page.context.close()


# --------------------------------------------------------------------------- item 6: auto-segment


def test_four_clicks_fill_the_object_and_the_brush_corrects_it(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    chip = (120, 100, 240, 160)  # left, top, width, height in original pixels: a dark chip on a grey board
    image = world.image("board", (640, 480), rects=(chip,))
    job = world.jobs.create(
        name="chips", lines=[{"source-ref": str(image)}], task_type="SemanticSegmentation",
        label_attribute="chips-ref", labels=["IC", "resistor"],
    )  # fmt: skip
    world.worker("ann@example.test")
    url = streamlit_app(APP, world.env)
    page = new_page(browser)
    sign_in(page, url, "ann@example.test", PASSWORD)
    start_job(page, job.request["HumanTaskConfig"]["TaskTitle"])
    canvas_box(page)
    wait_for_idle(page)
    page.get_by_text("Auto-segment", exact=True).click()
    wait_for_idle(page)
    page.get_by_text("(0 of 4)").wait_for(timeout=30_000)
    cb = canvas_box(page)
    k = cb.width / 640
    left, top, w, h = chip
    for x, y in ((left, top + h / 2), (left + w / 2, top), (left + w - 1, top + h / 2), (left + w / 2, top + h - 1)):
        page.mouse.click(round(cb.x + x * k), round(cb.y + y * k))
        page.wait_for_timeout(300)
    wait_until(lambda: page.get_by_text("pixels of this image labelled").count() > 0, what="the filled mask")
    wait_for_idle(page)
    assert page.get_by_text("Not auto-segmented").count() == 0

    def labelled() -> int:
        caption = page.get_by_text("pixels of this image labelled").first.inner_text()
        return int(caption.split(" of ")[0].replace(",", ""))

    chip_px = labelled()
    assert abs(chip_px - w * h) < 0.1 * w * h, chip_px  # the chip's pixels, not the whole box or nothing
    page.get_by_text("Brush", exact=True).click()  # the brush adds to it (the auto mask is editable)
    wait_for_idle(page)
    cb = canvas_box(page)
    page.mouse.move(round(cb.x + 500 * k), round(cb.y + 400 * k))
    page.mouse.down()
    page.mouse.move(round(cb.x + 560 * k), round(cb.y + 400 * k), steps=8)
    page.mouse.up()
    wait_until(lambda: labelled() > chip_px + 500, what="the brush stroke added to the auto mask")
    wait_for_idle(page)
    page.get_by_role("button", name="Submit").first.click()
    page.get_by_text("Submitted: object 1 of 1").first.wait_for(timeout=30_000)
    wait_until(
        lambda: jobs.describe_labeling_job(world.ctx, world.admin, "chips")["LabelingJobStatus"] == "Completed",
        what="the job completed",
        timeout=60,
    )
    out = world.root / "output" / "chips" / "manifests" / "output" / "output.manifest"
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    mask = np.asarray(Image.open(line["chips-ref"]))
    truth = np.zeros((480, 640), bool)
    truth[top : top + h, left : left + w] = True
    got = mask == 1
    assert (got & truth).sum() / (got | truth).sum() > 0.9  # the chip, in the original's pixels
    assert got[400, 520:540].all()  # the brush stroke is there too
    page.context.close()

"""The NER screen in Debian chromium (the real app.py under ``streamlit run``, Playwright): spans made by dragging
the mouse and by Shift+Ctrl+arrow keys, labelled with number keys, a selection across a line break refused,
right-to-left text, an emoji before a span (one code point, two UTF-16 units), relabel with Tab + key, remove
with Delete, submit with Ctrl+Enter; the worker-response file holds Ground Truth's entities in code points.
"""

from __future__ import annotations

from typing import Any

import pytest

from gtcore.jobs import api as jobs
from tests.browser import exception_text, new_page, wait_for_idle, wait_until
from tests.fixtures.labeling import APP, LabelWorld, change_password, sign_in, start_job
from tests.fixtures.people import PASSWORD
from tests.test_ner import ner_request

pytestmark = pytest.mark.browser

TEXTS = ["Bob 🐍 visited Paris\nמשה lives in 서울", "Second text about Ana"]

_RECT_JS = """([start, end]) => {
  // client rectangle of the UTF-16 range [start, end) of the NER text box's text
  const box = document.querySelector('.gt-ner-text');
  const walk = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let u = 0, done = 0;
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (!done && start >= u && start <= u + n.length) { range.setStart(n, start - u); done = 1; }
    if (done && end >= u && end <= u + n.length) { range.setEnd(n, end - u); break; }
    u += n.length;
  }
  const rects = range.getClientRects();
  const first = rects[0], last = rects[rects.length - 1];
  return { x0: first.left, y0: first.top + first.height / 2, x1: last.right, y1: last.top + last.height / 2 };
}"""


def drag_select(page: Any, start: int, end: int) -> None:
    """Drag the mouse over the UTF-16 range [start, end) of the text (as a person selects a word)."""
    r = page.evaluate(_RECT_JS, [start, end])
    page.mouse.move(r["x0"] + 1, r["y0"])
    page.mouse.down()
    page.mouse.move((r["x0"] + r["x1"]) / 2, (r["y0"] + r["y1"]) / 2, steps=4)
    page.mouse.move(r["x1"] - 1, r["y1"], steps=4)
    page.mouse.up()


def chips(page: Any) -> list[str]:
    return [c.inner_text().replace("×", "").strip() for c in page.locator(".gt-ner-chip").all()]


def wait_chips(page: Any, n: int) -> list[str]:
    def ready() -> list[str] | None:
        err = exception_text(page)
        if err:
            raise AssertionError(err)
        got = chips(page)
        return got if len(got) == n else None

    return wait_until(ready, timeout=30, what=f"{n} entities on the screen")


def test_worker_marks_entities_with_mouse_and_keys(label_world: LabelWorld, streamlit_app: Any, browser: Any) -> None:
    world = label_world
    temp = world.invite("ann@example.test")
    req = ner_request(world.jobs, "ner-browser", [{"source": t} for t in TEXTS])
    jobs.create_labeling_job(world.ctx, world.jobs.actor, req)
    url = streamlit_app(APP, world.env)
    page = new_page(browser)
    sign_in(page, url, "ann@example.test", temp)
    change_password(page, temp, PASSWORD)
    start_job(page, req["HumanTaskConfig"]["TaskTitle"])
    box = page.locator(".gt-ner-text")
    box.wait_for(timeout=30_000)
    wait_until(lambda: box.inner_text().startswith("Bob"), timeout=30, what="the text")
    wait_for_idle(page)

    drag_select(page, 0, 3)  # "Bob" with the mouse
    page.keyboard.press("3")  # Person
    assert wait_chips(page, 1) == ["Person Bob (0-3)"]
    wait_for_idle(page)

    # keys: the caret is after "Bob"; Ctrl+Right goes past "🐍 visited", Shift+Ctrl+Right selects " Paris"
    box.focus()
    page.keyboard.press("Control+ArrowRight")
    page.keyboard.press("Shift+Control+ArrowRight")
    page.keyboard.press("2")  # Location
    # code points: "Bob 🐍 visited " is 14 of them (the snake is 2 UTF-16 units): Paris is 14-19
    assert wait_chips(page, 2)[1] == "Location Paris (14-19)"
    wait_for_idle(page)

    drag_select(page, 17, 24)  # "ris\nמשה": across the line break
    page.keyboard.press("3")
    page.get_by_text("An entity cannot cross a line break").wait_for(timeout=10_000)
    assert len(chips(page)) == 2

    drag_select(page, 21, 24)  # "משה" (right to left)
    page.keyboard.press("3")
    assert wait_chips(page, 3)[2] == "Person משה (20-23)"
    wait_for_idle(page)

    box.focus()
    page.keyboard.press("Tab")  # from the newest entity to the first: "Bob"
    page.keyboard.press("1")  # relabelled Date
    wait_until(lambda: chips(page)[0] == "Date Bob (0-3)", timeout=20, what="Bob relabelled")
    page.keyboard.press("Tab")  # Paris
    page.keyboard.press("Delete")
    assert wait_chips(page, 2) == ["Date Bob (0-3)", "Person משה (20-23)"]
    wait_for_idle(page)

    page.keyboard.press("Control+Enter")
    page.get_by_text("Submitted: object 1 of 2 is saved").wait_for(timeout=30_000)
    wait_until(lambda: box.inner_text().startswith("Second"), timeout=30, what="the next text")
    answer = world.responses("ner-browser")[0][0]["answerContent"]
    assert answer == {
        "crowd-entity-annotation": {
            "entities": [
                {"endOffset": 3, "label": "Date", "startOffset": 0},
                {"endOffset": 23, "label": "Person", "startOffset": 20},
            ]
        }
    }
    assert TEXTS[0][20:23] == "משה"
    page.context.close()


def test_text_classification_keys_in_chromium(label_world: LabelWorld, streamlit_app: Any, browser: Any) -> None:
    """Multi-label text: keys 3 and 1 toggle on, 3 again toggles off, Ctrl+Enter submits; the long text scrolls."""
    world = label_world
    temp = world.invite("bo@example.test")
    long_text = "\n".join(f"Paragraph {i}: <b>not bold</b>" for i in range(80))
    job = world.jobs.create(name="tc-keys", task_type="TextMultiClassification", labels=["Sports", "Politics", "Tech"],
                            lines=[{"source": long_text}, {"source": "next one"}])  # fmt: skip
    url = streamlit_app(APP, world.env)
    page = new_page(browser)
    sign_in(page, url, "bo@example.test", temp)
    change_password(page, temp, PASSWORD)
    start_job(page, job.request["HumanTaskConfig"]["TaskTitle"])
    page.get_by_text("Paragraph 79: <b>not bold</b>").wait_for(state="attached", timeout=30_000)
    scroller = page.get_by_text("Paragraph 0: <b>not bold</b>").locator("xpath=ancestor::*[@data-testid][1]")
    assert scroller.count() >= 1
    wait_for_idle(page)
    for key in ("3", "1", "3"):
        page.keyboard.press(key)
        wait_for_idle(page, settle=0.3)
    wait_until(
        lambda: (
            page.locator('[data-testid="stBaseButton-primary"]', has_text="Sports").count() >= 1
            and page.locator('[data-testid="stBaseButton-primary"]', has_text="Tech").count() == 0
        ),
        timeout=20,
        what="Sports on, Tech off",
    )
    page.keyboard.press("Control+Enter")
    page.get_by_text("Submitted: object 1 of 2 is saved").wait_for(timeout=30_000)
    page.get_by_text("next one").wait_for(timeout=30_000)
    assert world.responses("tc-keys")[0][0]["answerContent"] == {
        "crowd-classifier-multi-select": {"labels": ["Sports"]}
    }
    page.context.close()

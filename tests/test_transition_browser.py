"""Issue 26 item 9's leftover: "stray unstyled small boxes appear under the canvas right after a task change", in
Debian chromium on the real Label page. Every animation frame of each Submit -> next task transition is checked:
no element of the page (the canvas component's shadow DOM included) may show below the canvas, between it and
the caption under it, other than the page's own captions and buttons, and the canvas's floating toolbar must
never be laid out outside its place above the canvas's top-right corner (its unstyled state: small bare buttons
in the flow, under the canvas).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import canvas_box, draw_box, new_page, wait_for_idle
from tests.fixtures.labeling import APP, LabelWorld, sign_in, start_job, wait_task
from tests.fixtures.people import PASSWORD

pytestmark = pytest.mark.browser

# Each frame: every visible button or toolbar inside a canvas component (shadow roots included) that lies below the
# canvas's bottom edge (or a .dc-toolbar not above its top), and the kinds of element topmost in a 48-px band under
# the canvas (sampled every 16 x 6 px, through shadow roots). Page layout blocks showing through (the column
# below the canvas shorter for a moment) are not stray elements.
LAYOUT = {"stMainBlockContainer", "stVerticalBlock", "stHorizontalBlock", "stColumn", "stMain", "stAppViewContainer"}
RECORD_JS = """
window.__gtStray = [];
window.__gtFrames = 0;
const roots = () => {
  const out = [];
  const walk = (root) => root.querySelectorAll('*').forEach((el) => {
    if (el.shadowRoot) { out.push(el.shadowRoot); walk(el.shadowRoot); }
  });
  walk(document);
  return out;
};
const visible = (el, r) => {
  if (r.width < 2 || r.height < 2) return false;
  const cs = getComputedStyle(el);
  return cs.visibility !== 'hidden' && cs.display !== 'none' && parseFloat(cs.opacity || '1') > 0.05;
};
const frame = () => {
  window.__gtFrames += 1;
  for (const root of roots()) {
    const canvas = root.querySelector('canvas.upper-canvas');
    if (!canvas) continue;
    const c = canvas.getBoundingClientRect();
    if (c.width < 2) continue;
    root.querySelectorAll('button, .dc-toolbar, .dc-toolbar-card').forEach((el) => {
      const r = el.getBoundingClientRect();
      if (!visible(el, r)) return;
      if (r.top >= c.bottom - 1 || (el.classList.contains('dc-toolbar') && r.top > c.top)) {
        window.__gtStray.push([window.__gtFrames, el.tagName + '.' + el.className, Math.round(r.left - c.left),
                               Math.round(r.top - c.bottom), Math.round(r.width), Math.round(r.height)]);
      }
    });
  }
  let host = null;
  for (const root of roots()) {
    const c = root.querySelector('canvas.upper-canvas');
    if (c) { host = c.getBoundingClientRect(); break; }
  }
  window.__gtSeen = window.__gtSeen || {};
  if (host) {
    for (let x = host.left + 4; x < host.right; x += 16) for (let y = host.bottom + 1; y < host.bottom + 48; y += 6) {
      let el = document.elementFromPoint(x, y);
      while (el && el.shadowRoot) {
        const inner = el.shadowRoot.elementFromPoint(x, y);
        if (!inner || inner === el) break;
        el = inner;
      }
      if (el) {
        const cls = [...el.classList].filter((c) => !c.startsWith('st-emotion') && !/^e[0-9a-z]*[0-9]$/.test(c));
        const k = el.tagName + '.' + (el.getAttribute('data-testid') || cls.join('.'));
        window.__gtSeen[k] = (window.__gtSeen[k] || 0) + 1;
      }
    }
  }
  requestAnimationFrame(frame);
};
requestAnimationFrame(frame);
"""


def test_no_stray_boxes_under_the_canvas_while_the_next_task_opens(
    label_world: LabelWorld, streamlit_app: Any, browser: Any
) -> None:
    world = label_world
    world.worker("steady@example.test")
    images = [world.image(f"t{i}", (1600, 1200), rects=((300 + 40 * i, 300, 400, 300),)) for i in range(4)]
    job = world.box_job("transitions", images, labels=["car", "person"])
    url = streamlit_app(APP, world.env)
    page = new_page(browser, width=1280, height=1000)
    page.add_init_script(RECORD_JS)
    sign_in(page, url, "steady@example.test", PASSWORD)
    start_job(page, job.request["HumanTaskConfig"]["TaskTitle"])
    assert wait_task(page, boxes=0) == 0
    reset = "() => { window.__gtStray = []; window.__gtFrames = 0; window.__gtSeen = {}; }"
    seen = "() => Object.keys(window.__gtSeen)"
    for i in range(3):
        draw_box(page, (60, 60), (200, 160))
        wait_task(page, boxes=1)
        wait_for_idle(page)
        page.mouse.move(5, 5)  # off the canvas: its toolbar hides (nothing is hovered)
        page.evaluate(reset)
        page.wait_for_timeout(800)
        before = set(page.evaluate(seen))  # what the band under the canvas shows on a page at rest
        page.evaluate(reset)
        page.keyboard.press("Control+Enter")
        assert wait_task(page, boxes=0) == i + 1
        canvas_box(page)
        wait_for_idle(page)
        during = set(page.evaluate(seen))
        stray = page.evaluate("() => window.__gtStray")
        frames = page.evaluate("() => window.__gtFrames")
        page.evaluate(reset)
        page.wait_for_timeout(800)
        after = set(page.evaluate(seen))  # the next task at rest
        assert frames > 5 and before and after, (frames, before, after)
        assert not stray, f"task {i + 2}: elements under the canvas in {len({s[0] for s in stray})} frames: {stray[:8]}"
        extra = {k for k in during - before - after if k.split(".", 1)[-1] not in LAYOUT}
        assert not extra, f"task {i + 2}: only while the next task opened, under the canvas: {sorted(extra)}"
    page.context.close()

"""Drags on the drawing canvas that end where they were released: under the canvas's hidden toolbar, and past
the image's edge.

streamlit-drawable-canvas sizes a box (``labeled_rect``) on each mouse move, and:

- its floating toolbar (undo, redo, edit, delete) is an invisible element (opacity 0, 1 rem above the canvas)
  over the canvas's top-right corner until hovered; a drag whose last move lands on it never reaches Fabric,
  so the box was saved at the move before (issue 26 item 8: "the saved box matched the drag's second-to-last
  mouse position", about 1 drag in 16; reproduced in tests/test_box_drags_browser.py, where every drag that
  ended under the toolbar came out short on the code before);
- it stops a box at the canvas's ``mouseout``, so a drag that ends beyond the image (pulling a box to an object
  on the border overshoots) saved the box at the last move inside, one move short of the edge; the tool also
  mirrors a point left of or above the canvas (``abs(x)``).

``GUARD_JS`` (run by the room probe of ``gtcore.ui.zoom``, which stands right above the canvas, so no element
is added to the page) listens on the window in the capture phase. A left-button drag that starts on a drawing
canvas makes the canvas's toolbars transparent to the pointer until the button is released (every canvas:
boxes and masks). With the guard on (box canvases) it also keeps the canvas's ``mouseout`` from Fabric while
the button is down and replaces each move outside the canvas by the same move clamped to the canvas's edge,
so the box follows the pointer to the border and ends at the release. A key pressed within 350 ms of the end
of a stroke or a drag (zoom, pan, Ctrl+Enter) is held back until then: the canvas reports its drawing 200 ms
after the last change (a debounce), and a view change or a submit before that report lost the stroke (a mask
stroke followed at once by an arrow key, tests/test_mask_zoom_browser.py). Nothing else is touched.
"""

from __future__ import annotations

GUARD_JS = """
function gtDragGuard(on) {
  const g = window.__gtDragGuard || (window.__gtDragGuard = { on: false, canvas: null, installed: false });
  g.on = !!on;
  if (g.installed) return;
  g.installed = true;
  const upper = (e) => e.composedPath().find((el) => el.classList && el.classList.contains("upper-canvas"));
  window.addEventListener("mousedown", (e) => {
    const c = e.button === 0 ? upper(e) : null;
    if (!c) return;
    g.bars = Array.from(c.getRootNode().querySelectorAll(".dc-toolbar"));
    g.bars.forEach((b) => { b.style.pointerEvents = "none"; });  // the hidden toolbar must not take the drag
    g.canvas = g.on ? c : null;
    g.drawing = true;
  }, true);
  window.addEventListener("mouseup", () => {
    if (g.drawing) g.lastUp = performance.now();
    g.drawing = false;
    g.canvas = null;
    (g.bars || []).forEach((b) => { b.style.pointerEvents = ""; });
    g.bars = [];
  }, true);
  window.addEventListener("mouseout", (e) => {
    if (g.canvas && (e.buttons & 1) && e.composedPath().includes(g.canvas)) e.stopImmediatePropagation();
  }, true);
  window.addEventListener("mousemove", (e) => {
    const c = g.canvas;
    if (!c || e.__gtClamped) return;
    if (!(e.buttons & 1) || !c.isConnected) { g.canvas = null; return; }
    const r = c.getBoundingClientRect();
    // MouseEvent coordinates are whole pixels: the edge pixel inside (a fractional edge loses under one pixel)
    const x = Math.min(Math.max(e.clientX, Math.ceil(r.left)), Math.floor(r.right));
    const y = Math.min(Math.max(e.clientY, Math.ceil(r.top)), Math.floor(r.bottom));
    if (x === e.clientX && y === e.clientY) return;
    e.stopImmediatePropagation();
    const m = new MouseEvent("mousemove", {
      clientX: x, clientY: y, screenX: e.screenX + x - e.clientX, screenY: e.screenY + y - e.clientY,
      buttons: e.buttons, bubbles: true, composed: true, cancelable: true,
      ctrlKey: e.ctrlKey, shiftKey: e.shiftKey, altKey: e.altKey, metaKey: e.metaKey,
    });
    m.__gtClamped = true;
    (e.target || document).dispatchEvent(m);
  }, true);
  // A key right after a stroke (zoom, pan, submit) waits until the canvas has reported the stroke: the canvas
  // sends its drawing 200 ms after the last change, and a view change or a submit before that lost the stroke.
  window.addEventListener("keydown", (e) => {
    if (e.__gtDeferred || g.lastUp === undefined) return;
    const wait = g.lastUp + DEFER_MS - performance.now();
    const t = e.target;
    if (wait <= 0 || (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName || "")))) return;
    e.stopImmediatePropagation();
    e.preventDefault();
    const k = new KeyboardEvent("keydown", {
      key: e.key, code: e.code, location: e.location, repeat: e.repeat, bubbles: true, composed: true,
      cancelable: true, ctrlKey: e.ctrlKey, shiftKey: e.shiftKey, altKey: e.altKey, metaKey: e.metaKey,
    });
    k.__gtDeferred = true;
    g.held = g.held || {};
    g.held[e.code] = performance.now() + wait;  // its keyup follows it (key handlers track the keys held down)
    setTimeout(() => (t && t.isConnected ? t : document.body).dispatchEvent(k), wait);
  }, true);
  window.addEventListener("keyup", (e) => {
    const at = e.__gtDeferred || !g.held ? undefined : g.held[e.code];
    if (at === undefined) return;
    delete g.held[e.code];
    e.stopImmediatePropagation();
    const u = new KeyboardEvent("keyup", {
      key: e.key, code: e.code, location: e.location, bubbles: true, composed: true, cancelable: true,
      ctrlKey: e.ctrlKey, shiftKey: e.shiftKey, altKey: e.altKey, metaKey: e.metaKey,
    });
    u.__gtDeferred = true;
    const t = e.target;
    const after = Math.max(0, at - performance.now()) + 5;
    setTimeout(() => (t && t.isConnected ? t : document.body).dispatchEvent(u), after);
  }, true);
}
""".replace("DEFER_MS", "350")

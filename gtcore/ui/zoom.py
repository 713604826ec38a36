"""Zoom and pan for the labeling canvas: the room the page gives it, the buttons and keys, the overview.

Used by ``gtcore.ui.task_view`` inside the task fragment (every click or key reruns only that fragment)::

    spec = zoom_spec(key_prefix, task_ident)              # ViewSpec: the room, the level, the centre
    vimg = task_views.task_view_image(ctx, actor, task, spec)
    zoom_bar(key_prefix, vimg, overview_url)              # buttons, keys, level, overview (click to jump)

- *Room*: a tiny component (``room_probe``, drawn by the screen right above its canvas) reports the width of the
  column, the window's height and where on the page the canvas starts (again on resize), so at Fit the whole
  image fits the width the page gives it AND the window's height below the action buttons: no part of it,
  nor Submit, is out of view. Until it has reported (first page of a session, AppTest) ``DEFAULT_ROOM`` is used.
- *Keys* (Streamlit shortcuts; "C" and "R" are Streamlit's): Z zoom in, X zoom out, F fit, O 1:1 (one screen
  pixel per original pixel), arrow keys pan by half a view. Labels keep 1-9 and 0, Submit Ctrl+Enter, and the
  screen's Undo is Ctrl+Z.
- The zoom level carries over to the next task (a worker on large scans keeps zooming in); the centre starts
  in the middle of each image.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from gtcore.images import views
from gtcore.images.task_views import ViewImage
from gtcore.images.views import FIT, NATIVE, ViewSpec
from gtcore.ui.drag_guard import GUARD_JS

DEFAULT_ROOM = (720, 900, 580)  # (column width, window height, canvas top on the page) until the browser told
_CANVAS_MARGIN_PX = 4  # keep the canvas clear of a horizontal scrollbar
_BOTTOM_PX = 16  # between the canvas's bottom and the window's
MIN_CANVAS_HEIGHT = 200  # a window too short for even this scrolls
OVERVIEW_SIDE = 160  # the overview thumbnail's JPEG (sharp on high-density screens)
OVERVIEW_SHOWN = 88  # its longest side on the page
TOOLBAR_BAND_PX = 30  # the probe's height: the band above the canvas where its floating toolbar shows
PAN_STEP = 0.5  # of the view

_PROBE_JS = """
const mounted = new WeakMap();
const GAP = 16;
export default function (component) {
  const { parentElement, setStateValue, data } = component;
  parentElement.style.height = data.band + "px";
  gtDragGuard(data.guard);
  let st = mounted.get(parentElement);
  if (!st) {
    st = { known: null, last: null, timer: null };
    const scrollers = [document.documentElement];
    for (let el = parentElement.parentElement; el && el !== document.body; el = el.parentElement) {
      if (/auto|scroll/.test(getComputedStyle(el).overflowY)) scrollers.push(el);
    }
    scrollers.forEach((el) => { el.style.scrollbarGutter = "stable"; });  // a scrollbar coming must not narrow
    const measure = () => {
      const r = parentElement.getBoundingClientRect();
      const scrolled = scrollers.reduce((sum, el) => sum + el.scrollTop, 0);
      return [Math.round(r.width), Math.round(window.innerHeight), Math.round(r.bottom + scrolled + GAP)];
    };
    const idle = () => {  // Streamlit marks its app with the script's state: a page still being drawn moves
      const app = document.querySelector('[data-testid="stApp"]');
      const state = app && app.getAttribute("data-test-script-state");
      return !state || state === "notRunning";
    };
    const report = () => {  // once the page is drawn and held still for one tick
      if (!idle()) { st.last = null; return; }
      const now = measure(), last = st.last;
      st.last = now;
      if (!last || now.some((v, i) => v !== last[i])) return;
      const [w, h, top] = now, k = st.known;
      if (!w || (k && Math.abs(k[0] - w) < 8 && Math.abs(k[1] - h) < 8 && Math.abs((k[2] || 0) - top) < 16)) return;
      st.known = now;
      st.send({ w, h, top });
    };
    st.timer = setInterval(report, 200);  // also catches the canvas's start moving (content above it changed)
    mounted.set(parentElement, st);
  }
  st.send = (v) => setStateValue("room", v);
  if (data && data.known && !st.known) st.known = data.known;
  return () => {
    clearInterval(st.timer);
    mounted.delete(parentElement);
  };
}
"""

_OVERVIEW_HTML = '<div class="gt-ov"><img alt="overview"><div class="gt-ov-view"></div></div>'
_OVERVIEW_CSS = """
.gt-ov { position: relative; display: inline-block; line-height: 0; cursor: crosshair;
         border: 1px solid rgba(128,128,128,.5); }
.gt-ov img { display: block; max-width: 100%; }
.gt-ov-view { position: absolute; border: 2px solid #ff2b2b; box-shadow: 0 0 0 1px #fff; pointer-events: none; }
"""
_OVERVIEW_JS = """
export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  const box = parentElement.querySelector(".gt-ov");
  const img = box.querySelector("img");
  const rect = box.querySelector(".gt-ov-view");
  if (img.getAttribute("src") !== data.url) img.setAttribute("src", data.url);
  img.style.width = data.width + "px";
  img.style.height = data.height + "px";  // its box before it loads: the canvas below must not move
  const [x, y, w, h] = data.rect;
  Object.assign(rect.style, { left: x * 100 + "%", top: y * 100 + "%", width: w * 100 + "%", height: h * 100 + "%" });
  rect.style.display = data.zoomed ? "block" : "none";
  box.onclick = (ev) => {
    const r = img.getBoundingClientRect();
    setTriggerValue("jump", { x: (ev.clientX - r.left) / r.width, y: (ev.clientY - r.top) / r.height });
  };
}
"""


def _squeeze(code: str) -> str:
    """Inline component code goes over the websocket on every run: drop the indentation."""
    return "\n".join(line.strip() for line in code.strip().splitlines())


_probe = st.components.v2.component("gtcore.room_probe", js=_squeeze(GUARD_JS + _PROBE_JS), isolate_styles=False)
_overview = st.components.v2.component(
    "gtcore.zoom_overview", html=_OVERVIEW_HTML, css=_squeeze(_OVERVIEW_CSS), js=_squeeze(_OVERVIEW_JS)
)


def _state(key_prefix: str) -> dict[str, Any]:
    key = f"{key_prefix}::zoom"
    if key not in st.session_state:
        st.session_state[key] = {"level": FIT, "center": (0.5, 0.5), "ident": None, "view": None}
    state: dict[str, Any] = st.session_state[key]
    return state


def room(key_prefix: str) -> tuple[int, int]:
    """(width, height) the canvas may take: the column's width, the window's height below the canvas's top."""
    w, h, top = st.session_state.get(f"{key_prefix}::room") or DEFAULT_ROOM
    return max(views.MIN_BOX[0], w - _CANVAS_MARGIN_PX), max(MIN_CANVAS_HEIGHT, h - top - _BOTTOM_PX)


def room_known(key_prefix: str) -> bool:
    """Whether the browser has reported the room (``room_probe``) in this session."""
    return st.session_state.get(f"{key_prefix}::room") is not None


def room_probe(key_prefix: str, *, drag_guard: bool = False) -> None:
    """Draw the probe right above the canvas: an empty band that keeps the canvas's floating toolbar (undo, redo,
    edit, delete) off the zoom bar; what it reports sizes the canvas (a change reruns the fragment). With
    ``drag_guard`` (box canvases) a drag past the canvas's edge goes on, clamped (``gtcore.ui.drag_guard``)."""
    key = f"{key_prefix}::room"
    known = st.session_state.get(key)
    data = {"known": known, "band": TOOLBAR_BAND_PX, "guard": drag_guard}
    result = _probe(key=f"{key}_probe", data=data, default={"room": None}, on_room_change=lambda: None)
    reported = result.get("room")
    if isinstance(reported, dict) and reported.get("w") and reported.get("h"):
        now = [int(reported["w"]), int(reported["h"]), int(reported.get("top") or DEFAULT_ROOM[2])]
        if now != known:
            st.session_state[key] = now
            if known is None or _fit_changes(known, now):
                _rerun()  # the canvas drawn this run has the old size


def _fit_changes(old: list[int], new: list[int]) -> bool:
    return bool(old[0] != new[0] or old[1] - old[2] != new[1] - new[2])


def _rerun() -> None:
    try:
        st.rerun(scope="fragment")
    except st.errors.StreamlitAPIException:
        st.rerun()


def zoom_spec(key_prefix: str, ident: Any) -> ViewSpec:
    """The view the worker asked for on the task ``ident`` (the centre starts in the middle of a new task)."""
    state = _state(key_prefix)
    if state["ident"] != ident:
        state.update(ident=ident, center=(0.5, 0.5), view=None)
    return ViewSpec(box=room(key_prefix), level=state["level"], center=state["center"])


def _levels(state: dict[str, Any]) -> list[views.ZoomLevel]:
    view: views.View | None = state["view"]
    return [] if view is None else views.zoom_levels(view.original, state["box"])


def _zoom(key_prefix: str, step: int) -> None:
    state = _state(key_prefix)
    levels = _levels(state)
    if levels:
        state["level"] = views.step_level(levels, state["level"], step)


def _set_level(key_prefix: str, name: str) -> None:
    state = _state(key_prefix)
    levels = _levels(state)
    if levels:
        state["level"] = views.find_level(levels, name).name


def _pan(key_prefix: str, dx: float, dy: float) -> None:
    state = _state(key_prefix)
    if state["view"] is not None:
        state["center"] = views.pan(state["view"], dx, dy)


def level_text(view: views.View) -> str:
    pct = view.scale * 100
    return f"{view.level.name} ({pct:.0f} %)" if view.level.name not in (NATIVE, "2:1") else view.level.name


def zoom_text(view: views.View) -> str:
    """The zoom caption shown under the canvas: the level, the part of the original shown, and the keys."""
    x, y, w, h = view.rect
    return (
        f"Zoom {level_text(view)} of {view.original[0]} x {view.original[1]} px; showing x {x:.1f}-{x + w:.1f}, "
        f"y {y:.1f}-{y + h:.1f}. Keys: Z / X zoom, F fit, O 1:1, arrows pan; click the overview to jump."
    )


def zoom_bar(key_prefix: str, spec: ViewSpec, vimg: ViewImage, overview_url: str | None) -> None:
    """One row: the zoom buttons (with their keys), the level, and the overview (click to jump); remembers the
    view for the buttons' callbacks. The caption (``zoom_text``) belongs under the canvas."""
    assert vimg.view is not None
    view = vimg.view
    state = _state(key_prefix)
    state["view"], state["box"] = view, spec.box
    levels = views.zoom_levels(view.original, spec.box)
    top = levels[-1].name
    k = f"{key_prefix}::zoom"
    row = st.container(horizontal=True, gap="small", vertical_alignment="center")  # one block: fewer deltas
    buttons: list[tuple[str, str, str, Any, tuple[Any, ...], bool]] = [
        (":material/zoom_out:", "X", "Zoom out (X)", _zoom, (key_prefix, -1), view.level.name == FIT),
        (":material/zoom_in:", "Z", "Zoom in (Z)", _zoom, (key_prefix, 1), view.level.name == top),
        (
            ":material/fit_screen:",
            "F",
            "The whole image (F)",
            _set_level,
            (key_prefix, FIT),
            view.level.name == FIT,
        ),
        ("1:1", "O", "One screen pixel per image pixel (O)", _set_level, (key_prefix, NATIVE), False),
        (":material/arrow_back:", "Left", "Pan left (←)", _pan, (key_prefix, -PAN_STEP, 0.0), not view.zoomed),
        (":material/arrow_upward:", "Up", "Pan up (↑)", _pan, (key_prefix, 0.0, -PAN_STEP), not view.zoomed),
        (":material/arrow_downward:", "Down", "Pan down (↓)", _pan, (key_prefix, 0.0, PAN_STEP), not view.zoomed),
        (":material/arrow_forward:", "Right", "Pan right (→)", _pan, (key_prefix, PAN_STEP, 0.0), not view.zoomed),
    ]
    for label, key, tip, fn, args, disabled in buttons:
        row.button(
            label,
            key=f"{k}::{key}",
            shortcut=key,
            help=tip,
            on_click=fn,
            args=args,
            disabled=disabled,
            width="content",
        )
    row.caption(level_text(view), width="content")
    if overview_url:
        with row:
            _overview_ui(key_prefix, view, overview_url)


def _overview_ui(key_prefix: str, view: views.View, overview_url: str) -> None:
    x, y, w, h = view.rect
    ow, oh = view.original
    width, height = round(OVERVIEW_SHOWN * min(1.0, ow / oh)), round(OVERVIEW_SHOWN * min(1.0, oh / ow))
    data = {"url": overview_url, "rect": [x / ow, y / oh, w / ow, h / oh], "zoomed": view.zoomed}
    data.update(width=width, height=height)
    result = _overview(key=f"{key_prefix}::zoom::overview", data=data, on_jump_change=lambda: None)
    jump = result.get("jump")
    if isinstance(jump, dict) and view.zoomed:
        _state(key_prefix)["center"] = views.center_at(jump.get("x", 0.5), jump.get("y", 0.5))
        _rerun()

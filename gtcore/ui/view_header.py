"""The zoomed view of a task's image with its zoom bar, for every image screen that zooms: boxes
(``gtcore.ui.box_screen``), masks (``gtcore.ui.mask_view``) and label verification (``gtcore.ui.verify_view``).

    shown = zoomed_view(ctx, actor, task, state, key_prefix, preview, probe=True)
    if shown.error: ...               # the image cannot be shown (already flagged)
    if shown.waiting: ...             # the session's first canvas waits for the room (one image, at its size)
    shown.vimg.jpeg, shown.view       # the view's JPEG and geometry (``gtcore.images.views.View``)

The zoom bar (``gtcore.ui.zoom``: buttons and keys, the level, the overview) comes first; with ``probe`` the room
probe is drawn right after it, so it stands right above what the caller draws next (the canvas); ``drag_guard``
(box canvases) lets a drag past the canvas's edge end the box at the edge (``gtcore.ui.drag_guard``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.images import task_images as taskimages
from gtcore.images import task_views
from gtcore.images.task_views import ViewImage
from gtcore.images.views import View, ViewSpec
from gtcore.ui import zoom
from gtcore.ui.task_session import TaskLike, canvas_key


@dataclass(frozen=True)
class Shown:
    spec: ViewSpec
    vimg: ViewImage
    error: str | None = None
    waiting: bool = False

    @property
    def view(self) -> View:
        assert self.vimg.view is not None
        return self.vimg.view

    @property
    def jpeg(self) -> bytes:
        assert self.vimg.jpeg is not None
        return self.vimg.jpeg

    @property
    def display_scale(self) -> float:
        return self.view.size[0] / self.view.rect[2]

    @property
    def rect(self) -> tuple[float, float, float, float] | None:
        """The part of the original shown when zoomed in; None at Fit (the whole image)."""
        return self.view.rect if self.view.zoomed else None


def zoomed_view(
    ctx: Context,
    actor: Actor,
    task: TaskLike,
    state: dict[str, Any],
    key_prefix: str,
    preview: bool,
    *,
    probe: bool = True,
    drag_guard: bool = False,
) -> Shown:
    """The view the worker asked for, with the zoom bar (and the room probe) drawn; see the module doc."""
    from gtcore.ui.canvas import background_url, in_browser

    spec = zoom.zoom_spec(key_prefix, state["ident"])
    vimg = task_views.task_view_image(ctx, actor, task, spec, flag=not preview)
    if not vimg.ok or vimg.view is None or vimg.jpeg is None:
        return Shown(spec, vimg, error=vimg.error or "the image cannot be shown")
    thumb = taskimages.display_image(ctx, vimg.uri, zoom.OVERVIEW_SIDE)
    ckey = canvas_key(key_prefix, task)
    overview_url = background_url(thumb.jpeg, f"{ckey}::overview") if thumb.ok and thumb.jpeg else None
    zoom.zoom_bar(key_prefix, spec, vimg, overview_url)
    known = zoom.room_known(key_prefix)
    if probe:
        zoom.room_probe(key_prefix, drag_guard=drag_guard)  # right above the canvas
    waiting = not known and in_browser()
    if not waiting:
        state["spec"] = spec  # the next tasks' prefetch follows it
    return Shown(spec, vimg, waiting=waiting)

"""Auto-segment from four extreme points (Ground Truth's semantic-segmentation "auto-segment" tool).

The worker clicks the object's leftmost, topmost, rightmost and bottommost points (any order); the object's mask
is filled. Built on OpenCV's GrabCut (``opencv-python-headless``, imported here only)::

    mask = extreme_points_mask(rgb, [(x0, y0), (x1, y1), (x2, y2), (x3, y3)])   # H x W bool, original pixels

- The box through the four points, widened by a margin, starts as "probably object"; a band around it (the
  crop's padding) as background, which is what GrabCut learns the background's colours from.
- Each clicked point lies on the object's edge: a small disc there, nudged toward the box's centre, is
  certainly object; so are the straight strokes from each point to the box's centre when they stay inside the
  first GrabCut's object (an object is usually connected through its middle).
- GrabCut runs on a crop around the box, reduced to at most ``WORK_SIDE`` pixels on its longest side (so a click
  on a 7168-px diagram costs about what one on a photo does), and the result is scaled back to the crop.
- Of what GrabCut keeps, only the parts connected to a clicked point stay (a stray patch of similar colour
  elsewhere in the box is dropped).

``extreme_points_mask`` is pure numpy/OpenCV on arrays. ``task_object_mask`` is the screen's entry: the task's
image (read as the worker may, decoded at most ``DECODE_SIDE`` on its longest side: GrabCut works smaller anyway)
and the mask at the original's size. The screen (``gtcore.ui.mask_view``) merges it into the worker's mask in the
current label's class, where brush and eraser can correct it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import ImageError, Problem, ValidationError
from gtcore.images import decoding
from gtcore.images.task_images import MAX_SOURCE_BYTES, TaskLike, check_view

WORK_SIDE = 400  # GrabCut's working size (longest side of the crop, pixels)
ITERATIONS = 5
MIN_BOX = 3  # pixels: points closer than this on either axis are not an object
DECODE_SIDE = 2048


def _check(points: Sequence[tuple[float, float]], size: tuple[int, int]) -> np.ndarray:
    w, h = size
    problems = []
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2) if len(points) else np.zeros((0, 2))
    if len(pts) != 4:
        problems.append(Problem(f"click 4 extreme points of the object, not {len(pts)}", field="points"))
    elif not np.all(np.isfinite(pts)) or np.any(pts < 0) or np.any(pts[:, 0] > w) or np.any(pts[:, 1] > h):
        problems.append(Problem(f"every point must lie on the {w} x {h} image", field="points"))
    elif np.ptp(pts[:, 0]) < MIN_BOX or np.ptp(pts[:, 1]) < MIN_BOX:
        problems.append(
            Problem(f"the points span less than {MIN_BOX} pixels: click the object's extremes", field="points")
        )
    if problems:
        raise ValidationError(problems, summary="cannot auto-segment")
    return pts


def extreme_points_mask(
    rgb: np.ndarray, points: Sequence[tuple[float, float]], *, iterations: int = ITERATIONS
) -> np.ndarray:
    """The object's mask (H x W bool) from four extreme points (x, y) in the image's pixels.

    Raises:
        ValidationError: not four points, points off the image, or points too close together.
    """
    import cv2

    h, w = rgb.shape[:2]
    pts = _check(points, (w, h))
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    bw, bh = x1 - x0, y1 - y0
    pad = max(8.0, 0.15 * max(bw, bh))
    cx0, cy0 = max(0, int(np.floor(x0 - pad))), max(0, int(np.floor(y0 - pad)))
    cx1, cy1 = min(w, int(np.ceil(x1 + pad)) + 1), min(h, int(np.ceil(y1 + pad)) + 1)
    crop = np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1, :3])
    f = min(1.0, WORK_SIDE / max(crop.shape[:2]))
    small = crop if f == 1.0 else cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    local = (pts - [cx0, cy0]) * f  # the points in the working crop
    lx0, ly0 = np.floor(local.min(axis=0)).astype(int)
    lx1, ly1 = np.ceil(local.max(axis=0)).astype(int)
    margin = max(1, round(0.03 * max(lx1 - lx0, ly1 - ly0)))
    mask = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    mask[max(0, ly0 - margin) : ly1 + margin + 1, max(0, lx0 - margin) : lx1 + margin + 1] = cv2.GC_PR_FGD
    centre = local.mean(axis=0)
    seeds = np.zeros((sh, sw), np.uint8)
    radius = max(1, round(margin / 2))
    for p in local:  # the disc lies just inside the edge the point is on
        inward = p + (centre - p) / max(1.0, float(np.hypot(*(centre - p)))) * (radius + 1.5)
        cv2.circle(seeds, (round(inward[0]), round(inward[1])), radius, 1, -1)
    mask[seeds > 0] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    bgr = np.ascontiguousarray(small[:, :, ::-1])
    cv2.grabCut(bgr, mask, (0, 0, 0, 0), bgd, fgd, max(1, iterations // 2), cv2.GC_INIT_WITH_MASK)
    first = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    strokes = np.zeros((sh, sw), np.uint8)
    for p in local:  # a stroke from a point to the centre, where the first pass kept it all as object
        line = np.zeros((sh, sw), np.uint8)
        cv2.line(line, (round(p[0]), round(p[1])), (round(centre[0]), round(centre[1])), 1, 1)
        on = line > 0
        if first[on].mean() > 0.9:
            strokes |= line
    mask[strokes > 0] = cv2.GC_FGD
    cv2.grabCut(bgr, mask, (0, 0, 0, 0), bgd, fgd, max(1, iterations - iterations // 2), cv2.GC_EVAL)
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    n, comp = cv2.connectedComponents(fg, connectivity=8)
    keep = {int(comp[y, x]) for x, y in np.argwhere(seeds.T > 0)} - {0}
    fg = np.isin(comp, list(keep)).astype(np.uint8) if n > 1 and keep else fg
    if f != 1.0:
        fg = cv2.resize(fg, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
    out = np.zeros((h, w), bool)
    out[cy0:cy1, cx0:cx1] = fg > 0
    return out


def extreme_points(mask: np.ndarray) -> list[tuple[float, float]]:
    """The leftmost, topmost, rightmost and bottommost pixels (x, y) of a non-empty object mask (for benches
    and tests: what a careful worker clicks)."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        raise ValueError("the mask is empty")
    picks = (np.argmin(xs), np.argmin(ys), np.argmax(xs), np.argmax(ys))
    return [(float(xs[i]), float(ys[i])) for i in picks]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def task_object_mask(ctx: Context, actor: Actor, task: TaskLike, points: Sequence[tuple[float, float]]) -> np.ndarray:
    """The object's mask (H x W bool, the original's size) from four extreme points in original pixels.

    Raises:
        PermissionDenied: a worker who does not hold the task. StorageError, ImageError: the image cannot be read.
        ValidationError: bad points (``extreme_points_mask``).
    """
    from PIL import Image

    check_view(ctx, actor, task)
    if not task.source_ref:
        raise ImageError("this dataset object has no source-ref: there is no image to segment")
    data = ctx.storage.read_bytes(task.source_ref, max_bytes=MAX_SOURCE_BYTES)
    decoded = decoding.decode(data, max_side=DECODE_SIDE, uri=task.source_ref)
    ow, oh = decoded.orig_size
    _check(points, (ow, oh))
    k = decoded.scale
    mask = extreme_points_mask(np.asarray(decoded.image), [(x * k, y * k) for x, y in points])
    if k == 1.0:
        return mask
    return np.asarray(Image.fromarray(mask).resize((ow, oh), Image.Resampling.NEAREST))

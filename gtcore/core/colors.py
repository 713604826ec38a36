"""Stable class colours: a fixed palette indexed by class id, plus hex helpers.

The same class id gets the same colour on every page, in every tile, legend and export preview, in
every process (no hashing, no randomness). Semantic-segmentation masks carry their own colours in
``internal-color-map``; use :func:`parse_hex` for those.
"""

from __future__ import annotations

RGB = tuple[int, int, int]

# 20 well separated colours (Tableau 10 + their light/dark companions), chosen so neighbours differ.
PALETTE_HEX: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#9edae5", "#dbdb8d", "#393b79",
)  # fmt: skip
UNKNOWN_HEX = "#a0a0a0"

# Semantic segmentation (groundtruth-reference.md 1.5): class 0 is BACKGROUND, white; labels 1.. take Ground
# Truth's default colours in order. The first three are observed (#2ca02c, #1f77b4, #ff7f0e); the rest continue
# the same Tableau-10 set (our choice), enough for the console's 10 labels, then the 20-colour palette.
SEMSEG_BACKGROUND = "BACKGROUND"
SEMSEG_BACKGROUND_HEX = "#ffffff"
SEMSEG_HEX: tuple[str, ...] = (
    "#2ca02c", "#1f77b4", "#ff7f0e", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip  # boxes whose class id is not a number


def parse_hex(value: str) -> RGB:
    """``"#2ca02c"`` (or ``"2ca02c"``, ``"#abc"``) -> ``(44, 160, 44)``; ValueError on anything else."""
    s = value.strip().lstrip("#")
    if len(s) == 3:
        s = "".join(ch * 2 for ch in s)
    if len(s) != 6:
        raise ValueError(f"not a hex colour: {value!r}")
    try:
        return int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16)
    except ValueError:
        raise ValueError(f"not a hex colour: {value!r}") from None


def class_hex(class_id: int | None) -> str:
    """The palette colour of a class id (wraps around after 20 classes); grey for ``None``/negative."""
    if class_id is None or class_id < 0:
        return UNKNOWN_HEX
    return PALETTE_HEX[class_id % len(PALETTE_HEX)]


def class_color(class_id: int | None) -> RGB:
    """The palette colour of a class id as an ``(r, g, b)`` tuple."""
    return parse_hex(class_hex(class_id))


def text_color_on(rgb: RGB) -> RGB:
    """Black or white, whichever reads better on ``rgb`` (relative luminance threshold)."""
    r, g, b = rgb
    return (0, 0, 0) if (0.299 * r + 0.587 * g + 0.114 * b) > 150 else (255, 255, 255)


def semseg_hex(label_index: int) -> str:
    """The default colour of the ``label_index``-th label (0-based) of a semantic-segmentation job."""
    extra = [c for c in PALETTE_HEX if c not in SEMSEG_HEX]
    colours = SEMSEG_HEX + tuple(extra)
    return colours[label_index % len(colours)]


def semseg_colors(labels: list[str]) -> list[str]:
    """Hex colours by class index: ``[BACKGROUND's #ffffff, label 1's, ...]``."""
    return [SEMSEG_BACKGROUND_HEX, *(semseg_hex(i) for i in range(len(labels)))]

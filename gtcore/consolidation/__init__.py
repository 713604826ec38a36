"""Annotation consolidation as pure algorithms (no I/O, no database): bounding-box clustering,
single-label Dawid-Skene EM (also label verification), multi-label agreement, per-pixel vote of
semantic-segmentation masks.

Imports: gtcore.core only (numpy/scipy allowed).
"""

"""Annotation consolidation as pure algorithms (no I/O, no database): bounding-box clustering,
single-label Dawid-Skene EM, multi-label agreement.

Imports: gtcore.core only (numpy/scipy allowed).
"""

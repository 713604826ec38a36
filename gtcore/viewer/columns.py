"""The viewer index's tables on disk: one raw file a column, appended part by part, read back at exactly its size.

A number column is its values' bytes (``<table>.<column>.bin``, read with ``numpy.fromfile``: no pickles); a text
column is its UTF-8 bytes and an int64 end offset a row (read as an Arrow string array over those buffers, no
Python string a row); a column of a few repeated texts (``CATEGORIES``, or every column of a table written with
``categories=True``) is int32 codes plus its values in the schema. Reading a table costs its size in memory and
nothing more (a Parquet file read through pandas cost two to three times that at 1,000,000 lines).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

CATEGORIES = frozenset({"human_annotated", "adjustment_status", "job_name"})
NARROW = {"line": "int32", "labels": "int32", "pos": "int32", "class_id": "int32"}  # well within 2**31
LEFT_OUT = frozenset({"creation_date"})  # unique per line and read by nothing in the viewer


class TableWriter:
    """Append frames of one table (same columns every time) to ``folder``; ``schema()`` describes the result."""

    def __init__(self, folder: Path, name: str, *, categories: bool = False) -> None:
        self.folder, self.name, self.all_categories = folder, name, categories
        self.rows = 0
        self.kinds: dict[str, tuple[str, str]] = {}  # column -> (kind, numpy dtype)
        self.codes: dict[str, dict[str, int]] = {}
        self.ends: dict[str, int] = {}

    def _path(self, column: str, suffix: str = "bin") -> Path:
        return self.folder / f"{self.name}.{column}.{suffix}"

    def _kind(self, column: str, values: pd.Series) -> tuple[str, str]:
        if column in LEFT_OUT:
            return "skip", ""
        if values.dtype.kind in "biuf":
            return "num", NARROW.get(column, values.dtype.str)
        if self.all_categories or column in CATEGORIES:
            return "cat", "int32"
        return "str", "int64"

    def append(self, frame: pd.DataFrame) -> None:
        for column, values in frame.items():
            col = str(column)
            kind, dtype = self.kinds.setdefault(col, self._kind(col, values))
            if kind == "num":
                with open(self._path(col), "ab") as fh:
                    fh.write(values.to_numpy().astype(dtype, copy=False).tobytes())
            elif kind == "cat":
                table = self.codes.setdefault(col, {})
                codes = np.fromiter((table.setdefault(str(v), len(table)) for v in values), np.int32, len(values))
                with open(self._path(col), "ab") as fh:
                    fh.write(codes.tobytes())
            elif kind == "str":
                data = [str(v).encode("utf-8", errors="replace") for v in values]
                lengths = np.fromiter((len(b) for b in data), np.int64, len(data))
                ends = self.ends.get(col, 0) + np.cumsum(lengths)
                self.ends[col] = int(ends[-1]) if len(ends) else self.ends.get(col, 0)
                with open(self._path(col, "text"), "ab") as fh:
                    fh.write(b"".join(data))
                with open(self._path(col), "ab") as fh:
                    fh.write(ends.tobytes())
        self.rows += len(frame)

    def schema(self) -> dict[str, Any]:
        cols = [[c, k, d] for c, (k, d) in self.kinds.items() if k != "skip"]
        cats = {c: list(t) for c, t in self.codes.items()}
        return {"rows": self.rows, "columns": cols, "categories": cats}


def read_table(folder: Path, name: str, schema: dict[str, Any]) -> pd.DataFrame:
    """The table ``name`` as written by :class:`TableWriter` (``schema`` is what it described)."""
    rows = int(schema["rows"])
    frame = pd.DataFrame(index=pd.RangeIndex(rows))
    for column, kind, dtype in schema["columns"]:
        path = folder / f"{name}.{column}.bin"
        if kind == "num":
            values: Any = np.fromfile(path, dtype=np.dtype(dtype)) if rows else np.zeros(0, np.dtype(dtype))
        elif kind == "cat":
            codes = np.fromfile(path, dtype=np.int32) if rows else np.zeros(0, np.int32)
            values = pd.Categorical.from_codes(
                codes, categories=pd.Index(schema["categories"].get(column, []), dtype=str)
            )
        else:
            ends = np.fromfile(path, dtype=np.int64) if rows else np.zeros(0, np.int64)
            text = (folder / f"{name}.{column}.text").read_bytes() if rows else b""
            offsets = np.concatenate([np.zeros(1, np.int64), ends])
            arr = pa.LargeStringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(text))
            values = pd.array(arr, dtype=pd.StringDtype("pyarrow"))
        if len(values) != rows:
            raise ValueError(f"{path}: {len(values)} values for {rows} rows (a damaged index)")
        frame[column] = values
    return frame

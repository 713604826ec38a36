"""Foundation benchmarks: automated data setup over 100,000 local files, and manifest validation speed.

Run: ``python bench/bench_manifest.py [--files 100000] [--lines 100000] [--repeat 3] [--dir /tmp/gt-bench-manifest]``

1. ``generate_manifest`` over a local folder of N small image files in 100 subfolders (plus some
   non-images). The files are created once under ``--dir`` and reused. Target: < 3 s.
2. ``validate_manifest`` over N-line manifests (S3 input lines, bounding-box output lines, and the
   local-path manifest from 1), compared with a bare ``json.loads`` loop over the same file.
   Target: ratio >= 0.5.

Figures are the best of ``--repeat`` runs (warm page cache); the machine is shared, so they vary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.core.settings import Settings  # noqa: E402
from gtcore.manifests.datasetup import generate_manifest  # noqa: E402
from gtcore.manifests.jsonl import dumps_line, validate_manifest  # noqa: E402
from gtcore.storage.store import Storage  # noqa: E402

SUFFIXES = (".jpg", ".png", ".JPG", ".jpeg")


def best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times = []
    result: object = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def make_files(root: Path, n: int) -> Path:
    """N tiny files in 100 subfolders, plus one non-image per folder; reused when already complete."""
    images = root / f"images-{n}"
    marker = images / ".complete"
    if marker.exists():
        return images
    folders = 100
    for i in range(n):
        folder = images / f"batch-{i % folders:03d}"
        if i < folders:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "notes.txt").write_bytes(b"not an image")
        (folder / f"img_{i:06d}{SUFFIXES[i % len(SUFFIXES)]}").write_bytes(b"\xff\xd8\xff\xd9")
    marker.write_text("ok")
    return images


def make_manifest(path: Path, n: int, kind: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            uri = f"s3://gt-bench-bucket/images/batch-{i % 100:03d}/img_{i:06d}.jpg"
            if kind == "input":
                rec: dict = {"source-ref": uri}
            else:
                rec = {
                    "source-ref": uri,
                    "boxes": {
                        "image_size": [{"width": 640, "height": 480, "depth": 3}],
                        "annotations": [
                            {"class_id": j % 3, "top": 10 + j, "left": 20 + j, "height": 50, "width": 60}
                            for j in range(3)
                        ],
                    },
                    "boxes-metadata": {
                        "objects": [{"confidence": 0.87}, {"confidence": 0.91}, {"confidence": 0.55}],
                        "class-map": {"0": "cat", "1": "dog", "2": "bird"},
                        "type": "groundtruth/object-detection",
                        "human-annotated": "yes",
                        "creation-date": "2024-05-01T10:11:12.123456",
                        "job-name": "labeling-job/bench",
                    },
                }
            f.write(dumps_line(rec) + "\n")


def bare_loads(path: Path) -> int:
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            json.loads(line)
            n += 1
    return n


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def bench_validation(storage: Storage, path: Path, label: str, repeat: int) -> None:
    """Runs the bare loop and the validator alternately (the machine is shared) and keeps the best of each."""
    lines = count_lines(path)
    t_json, t_val = float("inf"), float("inf")
    for _ in range(repeat):
        t_json = min(t_json, best(lambda: bare_loads(path), 1)[0])
        elapsed, problems = best(lambda: validate_manifest(storage, str(path)), 1)
        assert problems == [], problems[:3]
        t_val = min(t_val, elapsed)
    size = path.stat().st_size
    print(
        f"  {label:<34} {lines:,} lines, {size / 1e6:.1f} MB: validate_manifest {t_val:.3f} s "
        f"({lines / t_val:,.0f} lines/s); bare json.loads loop {t_json:.3f} s ({lines / t_json:,.0f} lines/s); "
        f"ratio {t_json / t_val:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default="/tmp/gt-bench-manifest")
    args = parser.parse_args()

    root = Path(args.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    home = root / "gt-home"
    home.mkdir(exist_ok=True)
    storage = Storage(Settings.from_env({"GT_HOME": str(home), "GT_LOCAL_ROOTS": str(root)}, cwd=root))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, best of {args.repeat}")

    t0 = time.perf_counter()
    images = make_files(root, args.files)
    made = time.perf_counter() - t0
    print(f"(1) automated data setup over {args.files:,} local files ({images}; created/checked in {made:.1f} s)")
    out = root / "out" / "setup.manifest"
    t_setup, result = best(lambda: generate_manifest(storage, str(images), str(out)), args.repeat)
    count = result.count  # type: ignore[attr-defined]
    t_list, listed = best(lambda: sum(1 for _ in storage.list(str(images))), args.repeat)
    print(f"  generate_manifest: {t_setup:.3f} s for {count:,} images ({count / t_setup:,.0f} files/s); target < 3 s")
    print(f"  of which Storage.list alone: {t_list:.3f} s for {listed:,} entries")

    print(
        f"(2) validating {args.lines:,}-line manifests (ratio = validator speed / bare json.loads loop; target >= 0.5)"
    )
    for kind, label in (("input", "input, s3:// source-ref"), ("output", "bounding-box output lines")):
        path = root / f"{kind}-{args.lines}.manifest"
        if not path.exists():
            make_manifest(path, args.lines, kind)
        bench_validation(storage, path, label, args.repeat)
    bench_validation(storage, out, "input, local paths", args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())

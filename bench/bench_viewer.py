"""Manifest viewer benchmarks (gtcore side of the page, no browser).

Run: ``python bench/bench_viewer.py [--lines 100000] [--images 480] [--size 1280x960] [--repeat 3]
[--dir /tmp/gt-bench-viewer]``

1. Open a 100,000-line object-detection manifest to the first grid page with statistics: read and
   parse the file, find its attributes, build the columnar view, filter, compute statistics, and draw
   the 24 tiles of page 1 from local JPEGs. Every cache is cleared before each run. Target: < 3 s.
2. A grid page of 24 tiles from local images (decode at tile size, draw boxes, encode), each run on
   images not decoded before (cold tile cache), and once more warm. Target: < 1.5 s.
3. The same with the index (large manifests, issue 28): the background build of the index (the
   background thread's code, ``index.build``), then, in a fresh process, the first page with statistics from the
   index; each in its own process so its peak RSS is its own. ``--skip-whole`` leaves out 1-2 and the
   whole-file operations (at 1,000,000 lines the whole-file path needs several GB). Last, the streamed
   lint + COCO export (``gtcore export``'s code) in its own process.
Also printed: a filter change and statistics over the 100,000 lines, the linter and a COCO export.
Each figure is given as wall time and as CPU time of this process (the machine is shared by several
engineers: under load, wall time grows while CPU time stays near what an idle machine shows).
``--stdlib-json`` parses with the standard library even when the optional orjson is installed.

The images (noisy JPEGs of ``--size``) and the manifest are created once under ``--dir`` and reused.
Figures are the median of ``--repeat`` runs; the machine is shared, so they vary.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from gtcore.context import Context  # noqa: E402
from gtcore.core.access import Actor  # noqa: E402
from gtcore.core.settings import Settings  # noqa: E402
from gtcore.manifests import augmented
from gtcore.viewer import export, index, selection, tiles
from gtcore.viewer import export_lint as lint
from gtcore.viewer import opener as audit
from gtcore.viewer import statistics as viewer_stats  # noqa: E402
from gtcore.viewer import table as viewer  # noqa: E402

CLASSES = ("car", "person", "bicycle", "dog", "traffic light")


def make_images(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    paths = []
    for i in range(count):
        path = folder / f"img-{i:05d}.jpg"
        if not path.exists():
            base = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
            img = Image.fromarray(base).resize(size, Image.Resampling.BILINEAR)
            draw = ImageDraw.Draw(img)
            for _ in range(6):
                x, y = int(rng.integers(0, size[0] - 100)), int(rng.integers(0, size[1] - 100))
                draw.ellipse((x, y, x + 100, y + 80), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
            img.save(path, quality=90)
        paths.append(path)
    return paths


def make_links(folder: Path, lines: int, images: list[Path]) -> list[Path]:
    """One symlink per manifest line onto the image pool, so every line has its own source-ref."""
    folder.mkdir(parents=True, exist_ok=True)
    links = []
    for i in range(lines):
        link = folder / f"{i // 1000:03d}" / f"line-{i:06d}.jpg"
        if not link.is_symlink():
            link.parent.mkdir(exist_ok=True)
            link.symlink_to(images[i % len(images)])
        links.append(link)
    return links


def make_manifest(path: Path, lines: int, images: list[Path], size: tuple[int, int]) -> None:
    if path.exists() and sum(1 for _ in path.open()) == lines:
        return
    images = make_links(path.parents[3] / "links", lines, images)
    rng = np.random.default_rng(11)
    with path.open("w") as fh:
        for i in range(lines):
            n = int(rng.integers(0, 6))
            anns, objs, cmap = [], [], {}
            for _ in range(n):
                c = int(rng.integers(0, len(CLASSES)))
                w, h = float(rng.uniform(20, 400)), float(rng.uniform(20, 300))
                left, top = float(rng.uniform(0, size[0] - w)), float(rng.uniform(0, size[1] - h))
                anns.append({"class_id": c, "top": round(top, 2), "left": round(left, 2), "height": round(h, 2),
                             "width": round(w, 2)})  # fmt: skip
                objs.append({"confidence": round(float(rng.uniform(0.05, 0.97)), 2)})
                cmap[str(c)] = CLASSES[c]
            line = {
                "source-ref": str(images[i]),
                "detect": {"image_size": [{"width": size[0], "height": size[1], "depth": 3}], "annotations": anns},
                "detect-metadata": {"objects": objs, "class-map": cmap, "type": "groundtruth/object-detection",
                                    "human-annotated": "yes" if i % 10 else "no",
                                    "creation-date": "2026-01-01T00:00:00.000000", "job-name": "labeling-job/bench"},
            }  # fmt: skip
            fh.write(json.dumps(line, separators=(",", ":")) + "\n")


def measure(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process incl. its threads, result). The machine is shared:
    under load wall time grows, CPU time stays close to what a quiet machine would show."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def fmt(runs: list[tuple[float, float]]) -> str:
    wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    each = ", ".join(f"{w:.3f}" for w, _ in runs)
    return f"{wall:7.3f} s wall (cpu {cpu:6.3f} s)   runs: {each}"


def peak_rss_mb() -> float:
    """This process's peak RSS: Linux's VmHWM (ru_maxrss survives exec, so a child started by a big parent would
    report the parent's peak); elsewhere ru_maxrss."""
    try:
        with open("/proc/self/status") as fh:
            for row in fh:
                if row.startswith("VmHWM:"):
                    return int(row.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(step: str, root: Path, uri: str) -> None:
    """One step of section 3 in this (fresh) process; prints its figures as one JSON line."""
    index.INDEX_FROM_BYTES = 0  # the smoke run's small file goes through the index too
    settings = Settings.from_env({"GT_HOME": str(root / "home"), "GT_LOCAL_ROOTS": str(root)}, cwd=root)
    ctx = Context.from_settings(settings)
    actor = Actor.system_actor()
    out: dict[str, float] = {}
    if step == "export":
        from gtcore.viewer import export_sinks, export_stream

        sink = export_sinks.FolderSink(root / "export-coco")
        blocks = lambda: ctx.storage.chunks(uri)  # noqa: E731
        w, c, res = measure(lambda: export_stream.export_stream(blocks, uri, "coco", sink, on_problems="fix"))
        out["streamed lint + COCO export"] = w
        out["annotations.json MB"] = (root / "export-coco" / "annotations.json").stat().st_size / 1e6
    elif step == "build":
        w, c, _ = measure(lambda: audit._preview(ctx.storage, uri))
        out["first lines while indexing"] = w
        w, c, _ = measure(lambda: index.build(ctx, uri))
        out["index build (background)"] = w
    else:
        w0, c0, m = measure(lambda: audit.open_for_view(ctx, actor, uri))
        assert not isinstance(m, audit.Indexing), "no index"
        w1, c1, v = measure(lambda: viewer.attribute_view(m, "detect"))  # type: ignore[arg-type]
        w2, c2, pos = measure(lambda: selection.apply_filters(v, selection.Filters()))  # type: ignore[arg-type]
        w3, c3, _ = measure(lambda: viewer_stats.statistics(v))  # type: ignore[arg-type]
        page = selection.page_of(pos, 1)  # type: ignore[arg-type]
        w4, c4, _ = measure(lambda: tiles.render_page(ctx, actor, v, page))  # type: ignore[arg-type]
        f = selection.Filters(classes=(1,), confidence_below=0.5, labeled_by="human", text="line-0001")
        w5, _, hits = measure(lambda: selection.apply_filters(v, f))  # type: ignore[arg-type]
        w6, _, _ = measure(lambda: viewer_stats.statistics(v, hits))  # type: ignore[arg-type]
        out = {"open the index": w0, "filter": w2, "statistics": w3, "24 tiles": w4,
               "first page + statistics": w0 + w1 + w2 + w3 + w4,
               "first page + statistics (CPU of this process)": c0 + c1 + c2 + c3 + c4,
               "filter change (4 conditions)": w5,
               "statistics of the filtered set": w6, "cache weight MB": m.cache["bytes"] / 1e6}  # fmt: skip
    out["peak RSS MB"] = peak_rss_mb()
    ctx.db.dispose()
    print(json.dumps(out))


def indexed(root: Path, uri: str, repeat: int) -> None:
    runs: dict[str, list[float]] = {}
    for _ in range(repeat):
        for step in ("build", "open", "export"):
            cmd = [sys.executable, __file__, "--child", step, "--dir", str(root), "--uri", uri]
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if res.returncode:
                raise SystemExit(f"{step} failed:\n{res.stderr[-3000:]}")
            for k, val in json.loads(res.stdout.strip().splitlines()[-1]).items():
                runs.setdefault(f"{step}: {k}", []).append(val)
    print(f"\n3. indexed (load average {os.getloadavg()[0]:.1f}; each step in a fresh process; median of {repeat}):")
    for name, vals in runs.items():
        unit = "" if "MB" in name else " s"
        print(f"   {name:<44} {statistics.median(vals):9.3f}{unit}   runs: {', '.join(f'{x:.2f}' for x in vals)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--images", type=int, default=480)
    ap.add_argument("--size", default="1280x960")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/gt-bench-viewer")
    ap.add_argument("--stdlib-json", action="store_true", help="parse with the json module even if orjson is there")
    ap.add_argument("--skip-whole", action="store_true", help="only the indexed path (3): for 1,000,000 lines")
    ap.add_argument("--child", choices=("build", "open", "export"), help=argparse.SUPPRESS)
    ap.add_argument("--uri", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, Path(args.dir), args.uri)
        return
    if args.stdlib_json:
        augmented._FAST_LOADS = None
    parser = "json (standard library)" if augmented._FAST_LOADS is None else "orjson (optional accelerator)"
    w_h = tuple(int(x) for x in args.size.split("x"))
    size = (w_h[0], w_h[1])
    root = Path(args.dir)
    imgs = make_images(root / "images", args.images, size)
    manifest = root / "job" / "manifests" / "output" / "output.manifest"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    make_manifest(manifest, args.lines, imgs, size)
    mb = manifest.stat().st_size / 1e6
    print(f"data: {args.lines:,} lines ({mb:.1f} MB, one source-ref each), {len(imgs)} JPEGs of {args.size}")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; JSON parser: {parser}")

    settings = Settings.from_env({"GT_HOME": str(root / "home"), "GT_LOCAL_ROOTS": str(root)}, cwd=root)
    ctx = Context.from_settings(settings)
    actor = Actor.system_actor()
    uri = str(manifest)
    if args.skip_whole:
        indexed(root, uri, args.repeat)
        return

    steps: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.repeat):
        audit.clear_cache()
        tiles.clear_caches()
        w0, c0, m = measure(lambda: audit.open_manifest(ctx, actor, uri))
        w1, c1, v = measure(lambda m=m: viewer.attribute_view(m, "detect"))  # type: ignore[misc]
        w2, c2, pos = measure(lambda v=v: selection.apply_filters(v, selection.Filters()))  # type: ignore[misc]
        w3, c3, _ = measure(lambda v=v: viewer_stats.statistics(v))  # type: ignore[misc]
        page = selection.page_of(pos, 1)  # type: ignore[arg-type]
        w4, c4, _ = measure(lambda v=v, page=page: tiles.render_page(ctx, actor, v, page))  # type: ignore[misc]
        named = zip(("read+parse+attributes", "columnar view", "filter", "statistics", "24 tiles"),
                    ((w0, c0), (w1, c1), (w2, c2), (w3, c3), (w4, c4)), strict=True)  # fmt: skip
        total = (w0 + w1 + w2 + w3 + w4, c0 + c1 + c2 + c3 + c4)
        for name, r in [*named, ("TOTAL", total)]:
            steps.setdefault(name, []).append(r)
    print(f"\n1. open a {args.lines:,}-line manifest -> first grid page with statistics (target < 3 s):")
    for name, runs in steps.items():
        print(f"   {name:<22} {fmt(runs)}")

    m = audit.open_manifest(ctx, actor, uri)
    v = viewer.attribute_view(m, "detect")
    pos = selection.apply_filters(v, selection.Filters())
    cold = []
    for k in range(args.repeat):
        tiles.clear_caches()
        page = selection.page_of(pos, 2 + k)  # pages not drawn before: images decoded cold
        w, c, _ = measure(lambda page=page: tiles.render_page(ctx, actor, v, page))  # type: ignore[misc]
        cold.append((w, c))
    w, c, sample = measure(lambda: tiles.render_page(ctx, actor, v, selection.page_of(pos, 2 + args.repeat - 1)))
    print(f"\n2. a grid page of 24 tiles from local {args.size} JPEGs (target < 1.5 s):")
    print(f"   cold (decode+draw+encode) {fmt(cold)}")
    print(f"   warm (decoded tiles cached) {fmt([(w, c)])}")
    kib = statistics.mean(len(t.jpeg) for t in sample) / 1024  # type: ignore[attr-defined]
    print(f"   tile JPEG: mean {kib:.1f} KiB; all 24 shown: {all(t.ok for t in sample)}")  # type: ignore[attr-defined]

    print("\n2b. other operations over the same manifest (whole file parsed):")
    f = selection.Filters(classes=(1,), confidence_below=0.5, labeled_by="human", text="line-0001")
    w, c, hits = measure(lambda: selection.apply_filters(v, f))
    print(f"   filter change (4 conditions)   {fmt([(w, c)])}  ({len(hits)} lines match)")  # type: ignore[arg-type]
    w, c, _ = measure(lambda: viewer_stats.statistics(v, hits))  # type: ignore[arg-type]
    print(f"   statistics of the filtered set {fmt([(w, c)])}")
    w, c, report = measure(lambda: lint.lint(m, "detect"))
    print(f"   linter                         {fmt([(w, c)])}  ({report.boxes:,} boxes, {len(report.issues)} issues)")  # type: ignore[union-attr]
    w, c, result = measure(lambda: export.export_files(m, "detect", "coco", "fix"))
    size_mb = len(result.files["annotations.json"]) / 1e6  # type: ignore[union-attr]
    print(f"   lint + COCO export             {fmt([(w, c)])}  ({size_mb:.1f} MB annotations.json)")
    print(f"   peak RSS of this process so far: {peak_rss_mb():,.0f} MB")
    ctx.db.dispose()
    indexed(root, uri, args.repeat)


if __name__ == "__main__":
    main()

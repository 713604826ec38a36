"""The viewer's index of large manifests (issue 28): built by a background worker, read by byte offset, the same
tables, filters and statistics as the whole-file path, invalidated when the file changes (local and S3)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.manifests import augmented as aug
from gtcore.viewer import chunks, index, selection, tiles
from gtcore.viewer import opener as audit
from gtcore.viewer import table as viewer
from gtcore.viewer.statistics import statistics
from tests.fixtures.core import make_settings

CLASSES = ("car", "person", "dog")


def _line(i: int) -> dict:
    anns = [{"class_id": (i + k) % 3, "left": 10 * k, "top": 5, "width": 20 + k, "height": 10} for k in range(i % 4)]
    meta = {"objects": [{"confidence": round(0.1 + 0.2 * k, 2)} for k in range(i % 4)], "type":
            "groundtruth/object-detection", "class-map": {str((i + k) % 3): CLASSES[(i + k) % 3] for k in range(i % 4)},
            "human-annotated": "yes" if i % 3 else "no", "creation-date": f"2026-01-01T00:00:{i % 60:02d}",
            "job-name": "labeling-job/boxes"}  # fmt: skip
    rec = {"source-ref": f"s3://b/img-{i:05d}.jpg", "box": {"image_size": [{"width": 640, "height": 480,
           "depth": 3}], "annotations": anns}, "box-metadata": meta}  # fmt: skip
    if i % 2:
        rec["check"] = int(i % 5 == 0)
        rec["check-metadata"] = {"class-name": "bad" if i % 5 == 0 else "good", "type":
                                 "groundtruth/label-verification", "job-name": "labeling-job/check"}  # fmt: skip
    return rec


def _write(path: Path, n: int, bad: dict[int, str] | None = None) -> str:
    """``n`` records; ``bad``: raw text inserted before record i (lines that cannot be read)."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write("\ufeff")
        for i in range(n):
            if bad and i in bad:
                fh.write(bad[i] + "\n")
            fh.write(json.dumps(_line(i), ensure_ascii=False) + "\n")
    return str(path)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "CHUNK_LINES", 7)  # many chunks: class names and offsets must join up
    monkeypatch.setattr(index, "INDEX_FROM_BYTES", 0)  # every file goes through the index
    monkeypatch.setattr(index.BUILDS, "hold", True)  # builds wait for run_held: the states in between are seen
    monkeypatch.setattr(index.BUILDS, "held", [])
    audit.clear_cache()


def _same(whole: aug.AugmentedManifest, indexed: aug.AugmentedManifest, attr: str | None) -> None:
    a, b = viewer.attribute_view(whole, attr), viewer.attribute_view(indexed, attr)
    assert "creation_date" not in b.images  # read by nothing in the viewer: not in the index
    whole_images = a.images.drop(columns=["creation_date"])
    pd.testing.assert_frame_equal(whole_images, b.images, check_dtype=False, check_categorical=False)
    la, lb = a.labels.reset_index(drop=True), b.labels.reset_index(drop=True)
    pd.testing.assert_frame_equal(la, lb, check_dtype=False, check_categorical=False)
    assert a.class_names == b.class_names and a.legend() == b.legend()
    filters = (
        selection.Filters(),
        selection.Filters(classes=(1,), confidence_below=0.4),
        selection.Filters(labeled_by="human", text="IMG-0001"),
        selection.Filters(no_labels=True),
        selection.Filters(verification=("check", "bad")),
    )
    for f in filters:
        pa, pb = selection.apply_filters(a, f), selection.apply_filters(b, f)
        assert pa.tolist() == pb.tolist(), f
        sa, sb = statistics(a, pa), statistics(b, pb)
        assert (sa.images, sa.labels, sa.human, sa.machine) == (sb.images, sb.labels, sb.human, sb.machine)
        pd.testing.assert_frame_equal(sa.per_class, sb.per_class, check_dtype=False)
        pd.testing.assert_frame_equal(sa.confidence, sb.confidence)
    for pos in (0, 5, len(whole.records) - 1):
        assert viewer.detail(a, pos) == viewer.detail(b, pos)
        ta, tb = viewer.annotations_table(a, pos), viewer.annotations_table(b, pos).astype({"class_name": str})
        pd.testing.assert_frame_equal(ta, tb, check_dtype=False)


def test_index_matches_the_whole_file_path(ctx: Context, tmp_path: Path, small_chunks: None) -> None:
    bad = {3: "{not json", 10: "", 11: "[1, 2]", 40: "ünïcode but not JSON ✓"}
    uri = _write(tmp_path / "out.manifest", 60, bad)
    whole = aug.parse_augmented(Path(uri).read_bytes(), where=uri)
    index.build(ctx, uri)
    indexed = index.load(ctx, uri, ctx.storage.version(uri))
    assert indexed is not None and audit.is_indexed(indexed)
    assert [str(p) for p in indexed.problems] == [str(p) for p in whole.problems]  # each names its line
    assert [p.line for p in indexed.problems] == [4, 12, 14, 44]
    assert indexed.attributes == whole.attributes
    assert list(indexed.lines) == whole.lines
    choices = [("check", "bad"), ("check", "good")]
    assert selection.verification_choices(indexed) == selection.verification_choices(whole) == choices
    _same(whole, indexed, "box")
    _same(whole, indexed, "check")
    assert list(indexed.records) == whole.records  # streamed in blocks
    assert indexed.records[0] == whole.records[0]  # the byte-order mark is not part of the first record
    indexed.records.prefetch([7, 8, 9, 50])  # type: ignore[attr-defined]
    assert indexed.records[50] == whole.records[50]
    assert 0 < indexed.cache["bytes"] < 200_000


def test_worker_builds_the_index_and_a_changed_file_is_indexed_again(
    any_ctx: Context, tmp_path: Path, small_chunks: None
) -> None:
    ctx = any_ctx  # SQLite and PostgreSQL: the work item is enqueued once and run by the worker
    actor = Actor.system_actor()
    uri = _write(tmp_path / "out.manifest", 30)
    first = audit.open_for_view(ctx, actor, uri)
    assert isinstance(first, audit.Indexing) and first.state == "queued"
    assert first.preview is not None and len(first.preview.records) == 30  # the first lines, read directly
    assert not (index.paths(ctx.settings, uri)[0]).exists()  # nothing built in the request
    assert audit.open_for_view(ctx, actor, uri).state == "queued"  # type: ignore[union-attr]  # asked once
    assert index.BUILDS.held == [uri]  # asked for once, built outside the request
    assert index.BUILDS.run_held(ctx) == 1
    m = audit.open_for_view(ctx, actor, uri)
    assert isinstance(m, aug.AugmentedManifest) and len(m.records) == 30
    assert audit.open_for_view(ctx, actor, uri) is m  # cached while the file is the same

    with open(uri, "a") as fh:  # the file grows: the old index no longer answers for it
        fh.write(json.dumps(_line(30)) + "\n")
    os.utime(uri, ns=(os.stat(uri).st_atime_ns, os.stat(uri).st_mtime_ns + 10**9))
    again = audit.open_for_view(ctx, actor, uri)
    assert isinstance(again, audit.Indexing)
    index.BUILDS.run_held(ctx)
    m2 = audit.open_for_view(ctx, actor, uri)
    assert isinstance(m2, aug.AugmentedManifest) and len(m2.records) == 31


def test_the_index_is_built_by_a_background_thread_of_the_process_that_reads_it(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No shared disk between the app and the workers is needed: the asking process builds it, not in the request
    (the request returns while the build runs) and once (asking again while it runs starts no second build)."""
    monkeypatch.setattr(index, "INDEX_FROM_BYTES", 0)
    audit.clear_cache()
    uri = _write(tmp_path / "out.manifest", 3000)
    actor = Actor.system_actor()
    first = audit.open_for_view(ctx, actor, uri)
    assert isinstance(first, audit.Indexing)
    audit.open_for_view(ctx, actor, uri)  # a rerun of the page while it builds
    assert [t.name for t in __import__("threading").enumerate()].count("gt-viewer-index") <= 1
    assert index.BUILDS.wait(uri, timeout=300)
    m = audit.open_for_view(ctx, actor, uri)
    assert isinstance(m, aug.AugmentedManifest) and len(m.records) == 3000


def test_a_failed_build_says_why(ctx: Context, tmp_path: Path, small_chunks: None) -> None:
    uri = tmp_path / "junk.manifest"
    uri.write_text("not json\n" * 5)
    actor = Actor.system_actor()
    assert isinstance(audit.open_for_view(ctx, actor, str(uri)), audit.Indexing)
    index.BUILDS.run_held(ctx)
    state = audit.open_for_view(ctx, actor, str(uri))
    assert isinstance(state, audit.Indexing) and state.state == "failed"
    assert "line 1" in state.error and "not valid JSON" in state.error


def test_s3_manifest_is_indexed_and_read_by_ranged_gets(  # type: ignore[no-untyped-def]
    tmp_path: Path, s3_server, s3_bucket: str, small_chunks: None
) -> None:
    s3 = s3_server.client()
    local = _write(tmp_path / "src.manifest", 40, {20: "oops"})
    key = "job/manifests/output/output.manifest"
    s3.put_object(Bucket=s3_bucket, Key=key, Body=Path(local).read_bytes())
    ctx = Context.from_settings(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    try:
        actor, uri = Actor.system_actor(), f"s3://{s3_bucket}/{key}"
        assert isinstance(audit.open_for_view(ctx, actor, uri), audit.Indexing)
        index.BUILDS.run_held(ctx)
        m = audit.open_for_view(ctx, actor, uri)
        assert isinstance(m, aug.AugmentedManifest) and audit.is_indexed(m)
        whole = aug.parse_augmented(Path(local).read_bytes(), where=uri)
        _same(whole, m, "box")
        assert [p.line for p in m.problems] == [21]
        v = viewer.attribute_view(m, "box")
        page = selection.page_of(selection.apply_filters(v, selection.Filters()), 1)
        assert len(tiles.render_page(ctx, actor, v, page)) == len(page)  # lines by ranged GET, images missing
        assert not list((index.folder(ctx.settings)).glob("*.tmp"))  # the downloaded copy is gone

        s3.put_object(Bucket=s3_bucket, Key=key, Body=Path(local).read_bytes() + b'{"source-ref": "s3://b/x"}\n')
        assert isinstance(audit.open_for_view(ctx, actor, uri, refresh=True), audit.Indexing)  # new ETag
        index.BUILDS.run_held(ctx)
        m2 = audit.open_for_view(ctx, actor, uri, refresh=True)
        assert isinstance(m2, aug.AugmentedManifest) and len(m2.records) == 41
        assert m2.records[40] == {"source-ref": "s3://b/x"}
    finally:
        ctx.db.dispose()


def test_failed_positions_use_the_index_lines(ctx: Context, tmp_path: Path, small_chunks: None) -> None:
    uri = _write(tmp_path / "out.manifest", 12)
    index.build(ctx, uri)
    m = index.load(ctx, uri, ctx.storage.version(uri))
    assert m is not None
    lines = np.asarray(m.lines)
    assert lines[0] == 1 and lines[-1] == 12 and audit.problems_beyond(m) == 0


def test_a_damaged_index_is_built_again(ctx: Context, tmp_path: Path, small_chunks: None) -> None:
    uri = _write(tmp_path / "out.manifest", 20)
    index.build(ctx, uri)
    folder = index.paths(ctx.settings, uri)[0]
    (folder / "0.labels.left.bin").write_bytes(b"\0" * 5)  # cut short
    assert index.load(ctx, uri, ctx.storage.version(uri)) is None and not folder.exists()
    actor = Actor.system_actor()
    assert isinstance(audit.open_for_view(ctx, actor, uri), audit.Indexing)
    index.BUILDS.run_held(ctx)
    m = audit.open_for_view(ctx, actor, uri)
    assert isinstance(m, aug.AugmentedManifest) and len(m.records) == 20

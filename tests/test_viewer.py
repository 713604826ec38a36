"""The viewer's gtcore side: columnar views, filters, statistics, paging; opening manifests (jobs, paths,
S3 on moto, uploads) with role checks and URI confinement; tiles and placeholders; provenance."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.colors import class_color
from gtcore.core.errors import NotFound, ObjectNotFound, PermissionDenied, UriNotAllowed
from gtcore.manifests.augmented import AugmentedManifest, parse_augmented
from gtcore.viewer import opener as audit
from gtcore.viewer import provenance, selection, tiles
from gtcore.viewer import table as viewer
from gtcore.viewer.statistics import statistics
from tests.fixtures.core import REALDATA, make_settings, make_user, realdata_or_skip
from tests.fixtures.viewer import BACKGROUND, WORKERS, DemoJob, boxes_for

ROLES = {"admin": ("admin",), "auditor": ("auditor",)}


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    audit.clear_cache()
    tiles.clear_caches()


@pytest.fixture
def vctx(tmp_path: Path) -> Context:
    roots = str(tmp_path) + (f":{REALDATA}" if REALDATA.is_dir() else "")
    c = Context.from_settings(make_settings(tmp_path, GT_LOCAL_ROOTS=roots))
    yield c  # type: ignore[misc]
    c.db.dispose()


def test_filters_statistics_and_paging_on_the_demo_job(vctx: Context, demo_job: DemoJob) -> None:
    m = audit.open_manifest(vctx, Actor.system_actor(), str(demo_job.manifest))
    v = viewer.attribute_view(m, "boxes")
    assert viewer.attribute_view(m, "boxes") is v  # built once, cached on the manifest
    counts = [len(boxes_for(i)) for i in range(8)]
    assert v.images["labels"].tolist() == counts
    adj = viewer.attribute_view(m, "boxes-adjusted")
    f = selection.Filters
    assert selection.apply_filters(v, f()).tolist() == list(range(8))
    assert selection.apply_filters(v, f(no_labels=True)).tolist() == [3]
    assert selection.apply_filters(v, f(labeled_by="machine")).tolist() == [5]
    assert selection.apply_filters(v, f(labeled_by="human")).tolist() == [0, 1, 2, 3, 4, 6, 7]
    assert selection.apply_filters(adj, f(adjustment="adjusted")).tolist() == [0, 3, 6]
    assert selection.apply_filters(adj, f(adjustment="unadjusted")).tolist() == [1, 2, 4, 5, 7]
    assert selection.apply_filters(v, f(adjustment="adjusted"), adj).tolist() == [0, 3, 6]  # compare mode
    assert selection.apply_filters(v, f(adjustment="adjusted")).tolist() == []
    with_bird = [i for i in range(8) if any(b["class_id"] == 2 for b in boxes_for(i))]
    assert selection.apply_filters(v, f(classes=(2,))).tolist() == with_bird
    assert selection.apply_filters(v, f(confidence_below=0.45)).tolist() == [0, 1, 6, 7]
    assert selection.apply_filters(v, f(text="IMG-7")).tolist() == [7]
    cats_by_humans = [i for i in range(8) if i != 5 and any(b["class_id"] == 0 for b in boxes_for(i))]
    assert selection.apply_filters(v, f(classes=(0,), labeled_by="human", text="img-")).tolist() == cats_by_humans
    s = statistics(v)
    assert (s.images, s.labels, s.unlabeled_images, s.human, s.machine) == (8, sum(counts), 1, 7, 1)
    assert dict(zip(s.per_class["class_name"], s.per_class["labels"], strict=True)) == {"cat": 3, "dog": 5, "bird": 3}
    assert s.per_class["color"].tolist() == ["#1f77b4", "#ff7f0e", "#2ca02c"]
    assert dict(zip(s.labels_per_image["labels"], s.labels_per_image["images"], strict=True)) == {0: 1, 1: 3, 2: 4}
    assert s.box_sizes["boxes"].sum() == s.labels == s.confidence["labels"].sum()
    sub = statistics(v, selection.apply_filters(v, f(no_labels=True)))
    assert (sub.images, sub.labels) == (1, 0)
    assert selection.page_count(50, 24) == 3 and selection.page_of(np.arange(50), 3, 24) == [48, 49]
    assert selection.page_of(np.arange(50), 99, 24) == [48, 49]  # clamped
    assert viewer.annotations_table(v, 0)[["left", "width"]].values.tolist() == [[30.0, 120.0], [180.0, 100.0]]
    assert viewer.detail(v, 0)["job-name"] == "labeling-job/demo-job"
    assert viewer.detail(adj, 0)["adjustment-status"] == "adjusted"
    assert v.legend() == [(0, "cat", "#1f77b4"), (1, "dog", "#ff7f0e"), (2, "bird", "#2ca02c")]


def test_realdata_views_are_right_for_each_kind() -> None:
    root = realdata_or_skip()
    birds = parse_augmented((root / "bbox-birds-5workers-consolidated" / "sample_output.manifest").read_bytes())
    s = statistics(viewer.attribute_view(birds, "category"))
    assert (s.images, s.labels) == (100, 192)
    low = selection.apply_filters(viewer.attribute_view(birds, "category"), selection.Filters(confidence_below=0.5))
    assert low.tolist() == [16, 32, 45, 49, 60, 77, 96]
    coral = parse_augmented((root / "ic-coral-4class" / "output.manifest").read_bytes())
    cv = viewer.attribute_view(coral, coral.attributes[0])
    assert statistics(cv).labels == 229 and cv.images["labels"].max() == 1
    seg = parse_augmented((root / "semseg-pcb" / "output.manifest").read_bytes())
    sv = viewer.attribute_view(seg, seg.attributes[0])
    assert sv.legend()[1] == (1, "IC", "#2ca02c")  # the mask's own colours, not the palette
    plain = parse_augmented((root / "ic-banana-with-autogen-input" / "dataset-20200530T121341.manifest").read_bytes())
    pv = viewer.attribute_view(plain, None)
    assert len(pv.images) == 119 and statistics(pv).labels == 0


def test_opening_needs_a_reader_and_stays_inside_the_roots(vctx: Context, demo_job: DemoJob) -> None:
    admin = make_user(vctx.db, "lead@example.test", ("admin",))
    auditor = make_user(vctx.db, "aud@example.test", ("auditor",))
    worker = make_user(vctx.db, "w@example.test", ("worker",))
    disabled = Actor(auditor.user_id, auditor.email, auditor.roles, is_active=False)
    uri = str(demo_job.manifest)
    for actor in (admin, auditor):
        assert audit.open_manifest(vctx, actor, uri).records
    for actor in (worker, disabled):
        with pytest.raises(PermissionDenied):
            audit.open_manifest(vctx, actor, uri)
        with pytest.raises(PermissionDenied):
            audit.open_upload(actor, "x.manifest", b'{"source-ref":"s3://b/x"}\n')
        with pytest.raises(PermissionDenied):
            audit.list_job_outputs(vctx, actor)
        v = viewer.attribute_view(audit.open_manifest(vctx, admin, uri), "boxes")
        with pytest.raises(PermissionDenied):
            tiles.render(vctx, actor, v, 0)
        with pytest.raises(PermissionDenied):
            provenance.answers_for(vctx, actor, v.manifest, v.attr, 0)
        denied = [
            lambda a=actor: audit.job_output_uri(vctx, a, 1),
            lambda a=actor: audit.open_job_output_for_view(vctx, a, 1),
            lambda a=actor: tiles.render_page(vctx, a, v, [0, 1]),
            lambda a=actor: tiles.render_image(vctx, a, str(demo_job.images[0])),
            lambda a=actor: provenance.response_index(vctx, a, v.manifest.uri),
            lambda a=actor: provenance.labels_per_worker(vctx, a, v.manifest),
        ]
        for call in denied:
            with pytest.raises(PermissionDenied):
                call()
    for bad in ("/etc/passwd", f"{demo_job.root}/../../../etc/passwd", "file:///etc/passwd",
                "http://169.254.169.254/latest/meta-data/", "relative/output.manifest"):  # fmt: skip
        with pytest.raises(UriNotAllowed):
            audit.open_manifest(vctx, auditor, bad)
    with pytest.raises(ObjectNotFound):
        audit.open_manifest(vctx, auditor, str(demo_job.root / "nope.manifest"))


def test_manifests_are_parsed_once_and_reread_when_changed(vctx: Context, demo_job: DemoJob) -> None:
    a = Actor.system_actor()
    first = audit.open_manifest(vctx, a, str(demo_job.manifest))
    assert audit.open_manifest(vctx, a, "file://" + str(demo_job.manifest)) is first
    assert audit.open_manifest(vctx, a, str(demo_job.manifest), refresh=True) is not first
    with demo_job.manifest.open("a") as fh:
        fh.write(json.dumps({"source-ref": str(demo_job.images[0])}) + "\n")
    assert len(audit.open_manifest(vctx, a, str(demo_job.manifest)).records) == 9
    up = audit.open_upload(a, "mine.manifest", demo_job.manifest.read_bytes())
    assert up.uri == "upload:mine.manifest" and audit.open_upload(a, "other", demo_job.manifest.read_bytes()) is up


def _insert_job(ctx: Context, name: str, output_path: str) -> int:
    t = dbm.now()
    with ctx.db.write() as c:
        return int(
            c.execute(
                dbm.jobs.insert().values(
                    name=name, name_lower=name.lower(), arn=f"arn:aws:sagemaker:local:0:labeling-job/{name.lower()}",
                    reference_code="x", label_attribute="boxes", task_type="BoundingBox", status="Completed",
                    spec_json="{}", labels_json='["cat","dog","bird"]', input_manifest_uri="/x",
                    output_path=output_path, workers_per_object=2, task_time_limit=300, availability_lifetime=3600,
                    max_concurrent=10, total_objects=8, created_at=t, updated_at=t,
                )
            ).inserted_primary_key[0]
        )  # fmt: skip


def test_job_outputs_on_both_databases(tmp_path: Path, db_url: str, demo_job: DemoJob) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, database_url=db_url))
    try:
        auditor = make_user(ctx.db, "aud@example.test", ("auditor",))
        done = _insert_job(ctx, "demo-job", str(demo_job.root))
        empty = _insert_job(ctx, "later-job", str(demo_job.root))
        listed = audit.list_job_outputs(ctx, auditor)
        assert [j.name for j in listed] == ["later-job", "demo-job"]
        assert listed[1].folder == str(demo_job.job) and "Completed" in listed[1].label
        m = audit.open_job_output_for_view(ctx, auditor, done)
        assert isinstance(m, AugmentedManifest)  # a small file: parsed whole, not indexed
        assert m.uri == str(demo_job.manifest) and [a.name for a in m.attributes] == ["boxes", "boxes-adjusted"]
        with pytest.raises(NotFound, match="later-job has no output manifest yet"):
            audit.open_job_output_for_view(ctx, auditor, empty)
        with pytest.raises(NotFound):
            audit.open_job_output_for_view(ctx, auditor, 9999)
        interim = demo_job.root / "later-job" / "manifests" / "intermediate" / "1" / "output.manifest"
        interim.parent.mkdir(parents=True)
        interim.write_bytes(demo_job.manifest.read_bytes())
        assert audit.job_output_uri(ctx, auditor, empty) == str(interim)
    finally:
        ctx.db.dispose()


def _jpeg_pixel(tile: tiles.Tile, xy: tuple[int, int]) -> tuple[int, int, int]:
    return Image.open(io.BytesIO(tile.jpeg)).convert("RGB").getpixel(xy)  # type: ignore[return-value]


def _near(a: tuple[int, ...], b: tuple[int, ...], tol: int = 40) -> bool:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5 < tol


def test_tiles_draw_boxes_and_placeholders_say_why(vctx: Context, demo_job: DemoJob) -> None:
    a = Actor.system_actor()
    m = audit.open_manifest(vctx, a, str(demo_job.manifest))
    v = viewer.attribute_view(m, "boxes")
    t = tiles.render_page(vctx, a, v, [0, 1, 2])
    assert [x.ok for x in t] == [True] * 3 and t[0].scale == 0.75 and t[0].orig_size == (320, 240)
    assert _near(_jpeg_pixel(t[0], (round(31 * 0.75), round(85 * 0.75))), class_color(0))  # left edge of box 1
    assert _near(_jpeg_pixel(t[0], (round(60 * 0.75), round(85 * 0.75))), BACKGROUND)
    demo_job.images[4].write_bytes(b"this is not a picture")
    demo_job.images[6].unlink()
    bad = tiles.render_page(vctx, a, v, [4, 6])
    assert [x.ok for x in bad] == [False, False]
    assert "ImageError" in bad[0].reason and "not an image" in bad[0].reason
    assert "ObjectNotFound" in bad[1].reason
    assert bad[1].orig_size == (320, 240)  # the placeholder keeps the manifest's image size, boxes drawn on it
    assert tiles.render(vctx, a, v, 6, side=tiles.DETAIL_SIDE).scale == 1.0


def test_s3_images_fail_fast_without_an_endpoint_or_outside_the_allow_list(tmp_path: Path) -> None:
    root = realdata_or_skip()
    a = Actor.system_actor()
    refused = {"GT_S3_ENDPOINT_URL": "http://127.0.0.1:9", "GT_ALLOWED_BUCKETS": "mine"}
    for env, expect in (({}, "no S3 endpoint is configured"), (refused, "UriNotAllowed")):
        ctx = Context.from_settings(make_settings(tmp_path, GT_LOCAL_ROOTS=f"{tmp_path}:{root}", **env))
        try:
            audit.clear_cache()
            m = audit.open_manifest(ctx, a, str(root / "bbox-hms-ayo-1worker" / "output.manifest"))
            out = tiles.render_page(ctx, a, viewer.attribute_view(m, "hms-ayo"), list(range(24)))
            assert len(out) == 24 and not any(t.ok for t in out)
            assert all(expect in t.reason for t in out)
        finally:
            ctx.db.dispose()


def test_tiles_from_s3_on_moto_and_a_dead_bucket_is_asked_once(tmp_path: Path, s3_server, s3_bucket: str) -> None:  # type: ignore[no-untyped-def]
    s3 = s3_server.client()
    buf = io.BytesIO()
    Image.new("RGB", (200, 100), BACKGROUND).save(buf, format="PNG")
    s3.put_object(Bucket=s3_bucket, Key="imgs/a.png", Body=buf.getvalue())
    lines = []
    for key, bucket in (("imgs/a.png", s3_bucket), ("imgs/missing.png", s3_bucket), ("x.png", "gt-no-such-bucket")):
        meta = {"class-name": "dog", "confidence": 0.72, "type": "groundtruth/image-classification"}
        lines.append({"source-ref": f"s3://{bucket}/{key}", "c": 1, "c-metadata": meta})
    body = "".join(json.dumps(x) + "\n" for x in lines)
    s3.put_object(Bucket=s3_bucket, Key="job/manifests/output/output.manifest", Body=body.encode())
    ctx = Context.from_settings(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    try:
        a = Actor.system_actor()
        uri = f"s3://{s3_bucket}/job/manifests/output/output.manifest"
        m = audit.open_manifest(ctx, a, uri)
        assert audit.open_manifest(ctx, a, uri) is m
        v = viewer.attribute_view(m, "c")
        ok, missing, dead = tiles.render_page(ctx, a, v, [0, 1, 2])
        assert ok.ok and ok.orig_size == (200, 100)
        assert _near(_jpeg_pixel(ok, (150, 95)), class_color(1))  # the classification band in the class colour
        assert "ObjectNotFound" in missing.reason and not missing.ok
        assert "does not exist" in dead.reason
        again = tiles.render(ctx, a, v, 2)
        assert "does not exist" in again.reason  # remembered: no second request for the dead bucket
        assert provenance.response_index(ctx, a, uri).reason.startswith("no worker-response files")
    finally:
        ctx.db.dispose()


def test_semantic_segmentation_tile_overlays_the_mask(vctx: Context, tmp_path: Path) -> None:
    root = realdata_or_skip()
    line = json.loads((root / "semseg-pcb" / "output.manifest").read_text())
    image = tmp_path / "s10.png"
    Image.new("RGB", (1696, 959), (0, 0, 0)).save(image)
    line["source-ref"] = str(image)
    line["S10-label3-ref"] = str(root / "semseg-pcb" / "mask.png")  # the real mask, read in place
    m = audit.open_upload(Actor.system_actor(), "seg.manifest", (json.dumps(line) + "\n").encode())
    v = viewer.attribute_view(m, "S10-label3-ref")
    tile = tiles.render(vctx, Actor.system_actor(), v, 0, side=848)
    assert tile.ok and tile.reason == ""
    idx = np.asarray(Image.open(root / "semseg-pcb" / "mask.png"))
    ys, xs = np.nonzero(idx == 1)
    y, x = int(ys[len(ys) // 2]) // 2, int(xs[len(xs) // 2]) // 2
    assert _near(_jpeg_pixel(tile, (x, y)), (22, 80, 22))  # half of #2ca02c over black
    line["S10-label3-ref"] = str(tmp_path / "missing.png")
    m2 = audit.open_upload(Actor.system_actor(), "seg2.manifest", (json.dumps(line) + "\n").encode())
    t2 = tiles.render(vctx, Actor.system_actor(), viewer.attribute_view(m2, "S10-label3-ref"), 0)
    assert t2.ok and t2.reason.startswith("mask:") and "does not exist" in t2.reason


def test_provenance_reads_each_workers_answer(vctx: Context, demo_job: DemoJob) -> None:
    a = make_user(vctx.db, "aud@example.test", ("auditor",))
    m = audit.open_manifest(vctx, a, str(demo_job.manifest))
    index = provenance.response_index(vctx, a, m.uri)
    assert sorted(index.files) == list(range(8)) and all(len(f) == 2 for f in index.files.values())
    answers = provenance.answers_for(vctx, a, m, m.attribute("boxes"), 0)
    assert [x.worker_id for x in answers] == list(WORKERS)
    assert [(b.class_id, b.class_name, b.left) for b in answers[1].boxes] == [(0, "cat", 34.0), (1, "dog", 184.0)]
    assert answers[0].time_spent == 12.5 and answers[0].iteration == "iteration-1"
    assert provenance.answers_for(vctx, a, m, m.attribute("boxes"), 3)[0].boxes == ()
    make_user(vctx.db, "w1@example.test", ("worker",))
    with vctx.db.write() as c:
        c.execute(dbm.users.update().where(dbm.users.c.email == "w1@example.test").values(worker_id=WORKERS[0]))
    table, note = provenance.labels_per_worker(vctx, a, m)
    assert note == ""
    assert table.to_dict("records") == [
        {"worker_id": WORKERS[0], "answers": 8, "labels": 11, "email": "w1@example.test"},
        {"worker_id": WORKERS[1], "answers": 8, "labels": 11, "email": ""},
    ]
    assert provenance.job_folder("s3://b/out/job/manifests/intermediate/3/output.manifest") == "s3://b/out/job"
    assert provenance.job_folder("/data/somewhere/output.manifest") is None
    assert "not inside a job's output folder" in provenance.response_index(vctx, a, "upload:x").reason
    boxes, labels = provenance.parse_answer_content({"crowd-image-classifier": {"label": "dog"}}, {})
    assert (boxes, labels) == ([], ["dog"])
    assert provenance.parse_answer_content({"x": {"labels": ["a", "b"]}}, {})[1] == ["a", "b"]

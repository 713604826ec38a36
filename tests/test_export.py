"""COCO / YOLO / Pascal VOC exports: round trips through pycocotools and back-conversion, file naming,
the zip download, the `gtcore export` command, writing through storage (local and S3 on moto)."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from pycocotools.coco import COCO

from gtcore.cli.command import main
from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import GTError, PermissionDenied, UriNotAllowed
from gtcore.manifests.augmented import AugmentedManifest, boxes_of, image_size_of, parse_augmented, source_of
from gtcore.viewer import export, export_paths, export_sinks
from gtcore.viewer import opener as audit
from tests.fixtures.core import make_settings, realdata_or_skip
from tests.fixtures.people import People
from tests.fixtures.viewer import DemoJob

LINT = Path(__file__).parent / "data" / "lint"


def _realdata_boxes() -> list[Path]:
    return sorted(realdata_or_skip().glob("bbox-*/*.manifest"))


def _open(path: Path) -> AugmentedManifest:
    return parse_augmented(path.read_bytes(), where=str(path))


def _expected(manifest: AugmentedManifest) -> dict[str, list[tuple[str, float, float, float, float]]]:
    attr = manifest.attributes[0]
    return {
        source_of(r): sorted((b.class_name, b.left, b.top, b.width, b.height) for b in boxes_of(r, attr))
        for r in manifest.records
    }


def test_coco_export_of_every_realdata_file_loads_in_pycocotools_with_the_same_boxes(tmp_path: Path) -> None:
    for path in _realdata_boxes():
        manifest = _open(path)
        result = export.export_files(manifest, None, "coco")
        target = tmp_path / path.parent.name / "annotations.json"
        export_sinks.write_folder(result.files, target.parent)
        coco = COCO(str(target))
        cats = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
        got = {}
        for img in coco.loadImgs(coco.getImgIds()):
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
            got[img["coco_url"]] = sorted((cats[a["category_id"]], *map(float, a["bbox"])) for a in anns)
        assert got == _expected(manifest), path
        assert len(coco.getImgIds()) == len(manifest.records)
        assert 0 not in cats  # category 0 is background for many COCO tools: ids are class_id + 1


def test_coco_keeps_sizes_confidence_and_file_names() -> None:
    path = realdata_or_skip() / "bbox-birds-5workers-consolidated" / "sample_output.manifest"
    manifest = _open(path)
    doc = json.loads(export.export_files(manifest, "category", "coco").files["annotations.json"])
    first = doc["images"][0]
    assert first["file_name"] == "000062a39995e348.jpg"
    assert (first["width"], first["height"]) == (680, 1024)
    ann = doc["annotations"][0]
    assert ann["bbox"] == [138.8, 164.60000000000002, 443.8, 859] and ann["confidence"] == 0.93
    assert ann["area"] == pytest.approx(443.8 * 859)
    assert doc["categories"] == [{"id": 1, "name": "Bird", "supercategory": "", "gt_class_id": 0}]


def _match_within_one_pixel(got: list[tuple], want: list[tuple]) -> bool:
    """Every wanted box has its own got box of the same class with each of left/top/width/height within 1 px."""
    left = list(got)
    for w in want:
        hit = next((g for g in left if g[0] == w[0] and all(abs(a - b) <= 1.0 for a, b in zip(g[1:], w[1:]))), None)
        if hit is None:
            return False
        left.remove(hit)
    return not left


def _yolo_back(files: dict[str, bytes], manifest: AugmentedManifest) -> dict[str, list[tuple]]:
    names = files["classes.txt"].decode().splitlines()
    attr = manifest.attributes[0]
    paths = export_paths.image_paths([source_of(r) for r in manifest.records])
    out = {}
    for rec, rel in zip(manifest.records, paths, strict=True):
        w, h, _ = image_size_of(rec, attr)  # type: ignore[misc]
        rows = files["labels/" + rel.rsplit(".", 1)[0] + ".txt"].decode().splitlines()
        boxes = []
        for row in rows:
            c, cx, cy, bw, bh = row.split()
            bw_px, bh_px = float(bw) * w, float(bh) * h
            boxes.append((names[int(c)], float(cx) * w - bw_px / 2, float(cy) * h - bh_px / 2, bw_px, bh_px))
        out[source_of(rec)] = sorted(boxes)
    return out


def test_yolo_export_of_realdata_converted_back_is_within_one_pixel() -> None:
    for path in _realdata_boxes():
        manifest = _open(path)
        files = export.export_files(manifest, None, "yolo").files
        back, expected = _yolo_back(files, manifest), _expected(manifest)
        assert back.keys() == expected.keys()
        for ref, boxes in expected.items():
            assert _match_within_one_pixel(back[ref], boxes), (ref, back[ref], boxes)


def test_voc_export_parses_back_within_one_pixel() -> None:
    path = realdata_or_skip() / "bbox-birds-5workers-consolidated" / "sample_output.manifest"
    manifest = _open(path)
    files = export.export_files(manifest, None, "voc").files
    assert len(files) == 100
    expected = _expected(manifest)
    for data in files.values():
        root = ET.fromstring(data)
        ref = root.findtext("path")
        boxes = []
        for obj in root.iter("object"):
            bb = obj.find("bndbox")
            x0, y0, x1, y1 = (float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))  # type: ignore[union-attr]
            boxes.append((obj.findtext("name"), x0, y0, x1 - x0, y1 - y0))
        assert _match_within_one_pixel(boxes, expected[ref]), (ref, boxes, expected[ref])
        assert root.findtext("size/width") and root.findtext("size/depth") == "3"


def test_image_paths_are_safe_and_unique() -> None:
    refs = ["s3://b/x/a.jpg", "s3://b/y/a.jpg", "s3://b/x/../x/c.jpg", "/data/x\\y:z.png", "s3://b/x/A.jpg"]
    paths = export_paths.image_paths(refs)
    assert len(set(p.lower() for p in paths)) == len(paths)
    assert all(".." not in p.split("/") and not p.startswith("/") and "\\" not in p for p in paths)
    assert export_paths.image_paths(["s3://b/imgs/a.jpg", "s3://b/imgs/b.jpg"]) == ["a.jpg", "b.jpg"]
    assert export_paths.image_paths(["s3://b/imgs/a.jpg", "s3://b/imgs/a.jpg"]) == ["a.jpg", "a__2.jpg"]


def test_zip_holds_the_files_and_is_reproducible(demo_job: DemoJob) -> None:
    result = export.export_files(_open(demo_job.manifest), "boxes-adjusted", "voc")
    data = export_sinks.zip_bytes(result.files)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == sorted(result.files)
        assert zf.read("Annotations/img-0.xml") == result.files["Annotations/img-0.xml"]
    assert export_sinks.zip_bytes(result.files) == data


def test_several_box_attributes_need_a_choice(demo_job: DemoJob) -> None:
    manifest = _open(demo_job.manifest)
    with pytest.raises(GTError, match=r"2 object-detection attributes \(boxes, boxes-adjusted\)"):
        export.export_files(manifest, None, "coco")
    yolo = export.export_files(manifest, "boxes-adjusted", "yolo").files
    assert yolo["classes.txt"] == b"cat\ndog\nbird\n"
    assert yolo["labels/img-3.txt"] == b""  # an image without boxes gets an empty label file
    with pytest.raises(GTError, match="unknown export format"):
        export.export_files(manifest, "boxes", "pdf")


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GT_LOCAL_ROOTS", str(tmp_path))


def test_cli_exports_each_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    _env(monkeypatch, tmp_path)
    src = realdata_or_skip() / "bbox-cat-1worker" / "output.manifest"
    assert main(["export", "--format", "coco", str(src), str(tmp_path / "coco")]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"{tmp_path / 'coco'}/annotations.json"
    assert "cat-ground-truth (the file's only object-detection attribute)" in err
    assert len(COCO(str(tmp_path / "coco" / "annotations.json")).getAnnIds()) == 4
    assert main(["export", "--format", "yolo", str(src), str(tmp_path / "yolo")]) == 0
    assert (tmp_path / "yolo" / "classes.txt").read_text() == "Cat\n"
    assert len(list((tmp_path / "yolo" / "labels").glob("*.txt"))) == 4
    assert main(["export", "--format", "voc", str(src), str(tmp_path / "voc")]) == 0
    assert sorted(p.name for p in (tmp_path / "voc" / "Annotations").iterdir()) == [
        "0001.xml", "0002.xml", "0003.xml", "0004.xml"
    ]  # fmt: skip


def test_cli_asks_for_an_attribute_and_aborts_on_lint_issues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, demo_job: DemoJob
) -> None:
    _env(monkeypatch, tmp_path)
    assert main(["export", "--format", "coco", str(demo_job.manifest), str(tmp_path / "o")]) == 1
    assert "choose one with --label-attribute" in capsys.readouterr().err
    args = ["--label-attribute", "boxes-adjusted", str(demo_job.manifest), str(tmp_path / "o")]
    assert main(["export", "--format", "coco", *args]) == 0
    bad = str(LINT / "many_problems.manifest")
    assert main(["export", "--format", "yolo", bad, str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err
    assert "linter: 7 issue(s)" in err and "line 3: boxes.annotations[0]: not-a-number" in err
    assert not (tmp_path / "bad").exists()  # nothing half-written
    assert main(["export", "--format", "yolo", "--on-problems", "fix", bad, str(tmp_path / "bad")]) == 0
    assert (tmp_path / "bad" / "labels" / "a.txt").read_text().count("\n") == 2
    assert main(["export", "--format", "coco", str(tmp_path / "missing.manifest"), str(tmp_path / "x")]) == 1
    assert "does not exist" in capsys.readouterr().err


def _export_to(ctx: Context, actor: Actor, uri: str, fmt: str, dest: str, attribute: str | None = None
               ) -> export.Export:  # fmt: skip
    """Open ``uri`` as ``actor`` (admin or auditor), export it, write the files below ``dest`` (a URI)."""
    result = export.export_files(audit.open_manifest(ctx, actor, uri), attribute, fmt)
    export_sinks.write_storage(ctx.storage, result.files, dest)
    return result


def test_exporting_checks_the_actor_and_writes_to_s3(
    tmp_path: Path,
    people: type[People],
    demo_job: DemoJob,
    s3_server,
    s3_bucket: str,  # type: ignore[no-untyped-def]
) -> None:
    ctx = Context.from_settings(
        make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url, GT_ALLOWED_BUCKETS=s3_bucket)
    )
    try:
        p = people(ctx)
        auditor, worker = p.auditor(), p.worker("team-a")
        dest = f"s3://{s3_bucket}/exports/demo"
        with pytest.raises(PermissionDenied):
            _export_to(ctx, worker, str(demo_job.manifest), "coco", dest, attribute="boxes")
        result = _export_to(ctx, auditor, str(demo_job.manifest), "coco", dest, attribute="boxes")
        body = s3_server.client().get_object(Bucket=s3_bucket, Key="exports/demo/annotations.json")["Body"].read()
        assert body == result.files["annotations.json"]
        with pytest.raises(UriNotAllowed):
            _export_to(ctx, auditor, str(demo_job.manifest), "coco", "s3://other-bucket/x", attribute="boxes")
        with pytest.raises(UriNotAllowed):
            _export_to(ctx, Actor.system_actor(), "/etc/passwd", "coco", dest)
    finally:
        ctx.db.dispose()


def test_images_that_differ_only_by_extension_get_distinct_label_files() -> None:
    paths = export_paths.image_paths(["s3://b/i/300x0w.jpg", "s3://b/i/300x0w.png", "s3://b/i/x.jpg"])
    assert paths == ["300x0w.jpg", "300x0w__2.png", "x.jpg"]


def test_voc_xml_escapes_names_and_paths() -> None:
    box = {"class_id": 0, "left": 1, "top": 2, "width": 3, "height": 4}
    line = {
        "source-ref": "s3://b/dir/a&b<c>.jpg",
        "boxes": {"image_size": [{"width": 10, "height": 10, "depth": 3}], "annotations": [box]},
        "boxes-metadata": {"objects": [{"confidence": 0.5}], "class-map": {"0": 'cat <b>&"x"\x01'},
                           "type": "groundtruth/object-detection"},
    }  # fmt: skip
    files = export.export_files(parse_augmented(json.dumps(line).encode()), "boxes", "voc").files
    ((name, data),) = files.items()
    root = ET.fromstring(data)
    assert root.findtext("path") == "s3://b/dir/a&b<c>.jpg" and root.findtext("filename") == "a&b_c_.jpg"
    assert root.findtext("object/name") == 'cat <b>&"x"?'
    assert [root.findtext(f"object/bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")] == ["1", "2", "4", "6"]

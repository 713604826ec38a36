"""Streamed object-detection exports (issue 28): the same files as the whole-file export, read part by part."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gtcore.context import Context
from gtcore.core.errors import GTError, ManifestError, ValidationError
from gtcore.manifests import augmented as aug
from gtcore.viewer import chunks, export, export_coco, export_sinks, export_stream
from tests.fixtures.core import make_settings


def _line(i: int) -> dict:
    anns = [{"class_id": (i + k) % 3, "left": 10 * k - (5 if i % 7 == 0 else 0), "top": 5, "width": 20 + k,
             "height": 10 if i % 11 else 0} for k in range(i % 4)]  # fmt: skip
    cmap = {str((i + k) % 3): ("car", "person", "dog")[(i + k) % 3] for k in range(i % 4) if i % 13}
    meta = {"objects": [{"confidence": 0.5 if i % 17 else "high"} for _ in anns], "class-map": cmap,
            "type": "groundtruth/object-detection", "human-annotated": "yes", "job-name": "labeling-job/b"}  # fmt: skip
    folder = "a" if i % 2 else "a/b"
    ref = f"s3://bucket/data/{folder}/img-{i % 40:03d}.{'jpg' if i % 3 else 'png'}"
    return {"source-ref": ref, "box": {"image_size": [{"width": 640, "height": 480, "depth": 3}], "annotations": anns},
            "box-metadata": meta}  # fmt: skip


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(chunks, "CHUNK_LINES", 9)  # many parts: duplicates and names cross them
    path = tmp_path / "in" / "out.manifest"
    path.parent.mkdir()
    rows = [json.dumps(_line(i)) for i in range(70)]
    rows.insert(30, "{broken")
    path.write_text("\n".join(rows) + "\n")
    return path


def _blocks(path: Path) -> export_stream.Blocks:
    def read() -> list[bytes]:
        data = path.read_bytes()
        return [data[i : i + 777] for i in range(0, len(data), 777)]  # blocks that cut lines anywhere

    return read


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _coco(data: bytes) -> dict:
    doc = json.loads(data)
    doc["info"].pop("date_created")
    return doc


@pytest.mark.parametrize("fmt", export.FORMATS)
@pytest.mark.parametrize("mode", ["fix", "drop"])
def test_streamed_export_equals_the_whole_file_export(manifest: Path, tmp_path: Path, fmt: str, mode: str) -> None:
    where = str(manifest)
    whole = export.export_files(aug.parse_augmented(manifest.read_bytes(), where=where), "box", fmt, mode)
    out = tmp_path / "out"
    reports = []
    res = export_stream.export_stream(_blocks(manifest), where, fmt, export_sinks.FolderSink(out),
                                      on_problems=mode, on_report=reports.append)  # fmt: skip
    got = _files(out)
    if fmt == "coco":
        assert _coco(got[export_coco.COCO_FILE]) == _coco(whole.files[export_coco.COCO_FILE])
    else:
        assert got == whole.files
    assert res.summary().split("; ", 1)[1] == whole.summary().split("; ", 1)[1]
    assert [(i.line, i.code, i.field) for i in reports[0].issues] == [
        (i.line, i.code, i.field) for i in whole.resolution.report.issues
    ]
    assert [p.line for p in res.problems] == [31]


def test_abort_writes_nothing_and_names_the_issues(manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ValidationError) as err:
        export_stream.export_stream(_blocks(manifest), str(manifest), "coco", export_sinks.FolderSink(out))
    assert "issue(s) found by the export linter" in str(err.value)
    assert any(p.line == 12 and "duplicate" not in p.message for p in err.value.problems)
    assert not out.exists()


def test_refusals(tmp_path: Path) -> None:
    empty = tmp_path / "e.manifest"
    empty.write_text("oops\n")
    with pytest.raises(ManifestError, match="nothing to show"):
        export_stream.export_stream(_blocks(empty), str(empty), "coco", export_sinks.FolderSink(tmp_path / "o"))
    cls = tmp_path / "c.manifest"
    cls.write_text(json.dumps({"source-ref": "s3://b/x", "c": 1, "c-metadata": {"class-name": "x"}}) + "\n")
    with pytest.raises(GTError, match="no object-detection attribute"):
        export_stream.export_stream(_blocks(cls), str(cls), "coco", export_sinks.FolderSink(tmp_path / "o"))


def test_streamed_coco_to_s3(manifest: Path, tmp_path: Path, s3_server, s3_bucket: str) -> None:  # type: ignore[no-untyped-def]
    s3 = s3_server.client()
    s3.put_object(Bucket=s3_bucket, Key="in/out.manifest", Body=manifest.read_bytes())
    ctx = Context.from_settings(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    try:
        uri = f"s3://{s3_bucket}/in/out.manifest"
        sink = export_sinks.StorageSink(ctx.storage, f"s3://{s3_bucket}/exports/")
        export_stream.export_stream(lambda: ctx.storage.chunks(uri, 1000), uri, "coco", sink, on_problems="fix")
        body = s3.get_object(Bucket=s3_bucket, Key="exports/annotations.json")["Body"].read()
        whole = export.export_files(aug.parse_augmented(manifest.read_bytes(), where=uri), "box", "coco", "fix")
        assert _coco(body) == _coco(whole.files[export_coco.COCO_FILE])
    finally:
        ctx.db.dispose()

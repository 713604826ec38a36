"""gtcore.manifests.datasetup: automated data setup over a local folder and over S3 (moto's server over HTTP)."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image

from gtcore.core.errors import GTError, ManifestError, UriNotAllowed
from gtcore.manifests.datasetup import IMAGE_SUFFIXES, generate_manifest, image_uris, manifest_name
from gtcore.manifests.jsonl import read_manifest, validate_manifest
from gtcore.storage.store import Storage
from tests.fixtures.core import make_settings
from tests.fixtures.services import S3Server

BANANA = "ic-banana-with-autogen-input/dataset-20200530T121341.manifest"


def png_bytes(color: str = "red", fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), color).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return Storage(make_settings(tmp_path))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Images with mixed-case suffixes, subfolders, non-images and an old generated manifest."""
    root = tmp_path / "images"
    files = {
        "b.jpg": png_bytes(fmt="JPEG"),
        "A.PNG": png_bytes(),
        "c.JpEg": png_bytes(fmt="JPEG"),
        "sub/d.png": png_bytes("blue"),
        "sub/deeper/e.jpeg": png_bytes("green", fmt="JPEG"),
        "sub-x/f.jpg": png_bytes(fmt="JPEG"),
        "notes.txt": b"not an image",
        "clip.mp4": b"\x00\x00",
        "g.jpg.bak": b"x",
        "png": b"no suffix",
        "dataset-20200101T000000.manifest": b'{"source-ref":"/old.jpg"}\n',
        "sub/labels.json": b"{}",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_manifest_name_matches_ground_truth_shape() -> None:
    assert manifest_name(datetime(2020, 5, 30, 12, 13, 41, 999, tzinfo=UTC)) == "dataset-20200530T121341.manifest"
    # aware times are converted to UTC, naive ones taken as UTC
    plus2 = timezone(timedelta(hours=2))
    assert manifest_name(datetime(2020, 5, 30, 14, 13, 41, tzinfo=plus2)) == "dataset-20200530T121341.manifest"
    assert manifest_name(datetime(2020, 5, 30, 12, 13, 41)) == "dataset-20200530T121341.manifest"
    assert re.fullmatch(r"dataset-\d{8}T\d{6}\.manifest", manifest_name())


def test_local_folder_lists_images_only_sorted_by_key(folder: Path, storage: Storage) -> None:
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    result = generate_manifest(storage, str(folder), now=now)
    assert result.manifest_uri == str(folder / "dataset-20240102T030405.manifest")
    expected = [
        str(folder / rel) for rel in ("A.PNG", "b.jpg", "c.JpEg", "sub-x/f.jpg", "sub/d.png", "sub/deeper/e.jpeg")
    ]
    text = Path(result.manifest_uri).read_text(encoding="utf-8")
    assert text == "".join(json.dumps({"source-ref": u}, separators=(",", ":")) + "\n" for u in expected)
    assert result.count == 6
    assert result.first_lines == text.splitlines()[:5]
    # the generated file is a valid input manifest, and a second run does not pick it (or the old one) up
    assert validate_manifest(storage, result.manifest_uri) == []
    again = generate_manifest(storage, str(folder) + "/", now=now + timedelta(seconds=1))
    assert read_manifest(storage, again.manifest_uri) == [{"source-ref": u} for u in expected]


def test_explicit_output_uri_and_few_images(folder: Path, tmp_path: Path, storage: Storage) -> None:
    out = tmp_path / "manifests" / "in.manifest"
    result = generate_manifest(storage, str(folder / "sub" / "deeper"), str(out))
    assert result.manifest_uri == str(out)
    assert result.count == 1
    assert result.first_lines == [json.dumps({"source-ref": str(folder / "sub/deeper/e.jpeg")}, separators=(",", ":"))]
    assert out.read_bytes().endswith(b'e.jpeg"}\n')


def test_no_images_names_the_prefix_and_writes_nothing(tmp_path: Path, storage: Storage) -> None:
    empty = tmp_path / "docs"
    empty.mkdir()
    (empty / "readme.txt").write_text("hi")
    with pytest.raises(ManifestError) as info:
        generate_manifest(storage, str(empty))
    assert str(empty) in str(info.value)
    assert isinstance(info.value, GTError)
    assert sorted(p.name for p in empty.iterdir()) == ["readme.txt"]


def test_missing_folder_does_not_match_siblings_by_prefix(folder: Path, storage: Storage) -> None:
    with pytest.raises(ManifestError) as info:
        generate_manifest(storage, str(folder / "su"))  # "sub" and "sub-x" exist, "su" does not
    assert str(folder / "su") in str(info.value)


def test_prefix_outside_the_roots_is_refused(storage: Storage) -> None:
    with pytest.raises(UriNotAllowed):
        generate_manifest(storage, "/usr/share")


def test_same_shape_as_ground_truth_generated_manifest(realdata: Path, tmp_path: Path, storage: Storage) -> None:
    """Recreate the real dataset manifest's keys as local files: our output is the same, line for line."""
    real = (realdata / BANANA).read_text(encoding="utf-8")
    real_uris = [json.loads(line)["source-ref"] for line in real.splitlines()]
    prefix = "s3://testfruit/"
    root = tmp_path / "testfruit"
    for uri in real_uris:
        path = root / uri[len(prefix) :]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    result = generate_manifest(storage, str(root), str(tmp_path / "out.manifest"))
    ours = Path(result.manifest_uri).read_text(encoding="utf-8")
    assert ours.replace(json.dumps(str(root) + "/")[:-1], json.dumps(prefix)[:-1]) == real
    assert result.count == len(real_uris) == 119


# --- S3 through moto's server over HTTP -----------------------------------------------------------------


def s3_storage(tmp_path: Path, s3_server: S3Server) -> Storage:
    return Storage(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))


def test_s3_prefix(tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    keys = [
        "data/b.jpg",
        "data/A.JPG",
        "data/sub/c.png",
        "data/sub/d.Jpeg",
        "data/zero\u200bwidth.jpg",
        "data/notes.txt",
        "data/video.mp4",
        "data/folder/",
        "data2/not-in-prefix.jpg",
        "other/x.png",
    ]
    for key in keys:
        client.put_object(Bucket=s3_bucket, Key=key, Body=b"" if key.endswith("/") else png_bytes())
    store = s3_storage(tmp_path, s3_server)
    now = datetime(2020, 5, 30, 12, 13, 41, tzinfo=UTC)
    result = generate_manifest(store, f"s3://{s3_bucket}/data", now=now)
    assert result.manifest_uri == f"s3://{s3_bucket}/data/dataset-20200530T121341.manifest"
    want = ["data/A.JPG", "data/b.jpg", "data/sub/c.png", "data/sub/d.Jpeg", "data/zero\u200bwidth.jpg"]
    body = client.get_object(Bucket=s3_bucket, Key="data/dataset-20200530T121341.manifest")["Body"].read()
    expected = "".join('{"source-ref":"s3://' + s3_bucket + "/" + k + '"}\n' for k in want)
    assert body == expected.encode("utf-8")  # raw UTF-8: the zero-width space is not escaped
    assert result.count == 5
    assert validate_manifest(store, result.manifest_uri) == []
    # a second run with an explicit output does not list the generated manifest
    again = generate_manifest(store, f"s3://{s3_bucket}/data/", f"s3://{s3_bucket}/manifests/in.manifest")
    assert again.count == 5
    assert read_manifest(store, again.manifest_uri) == [{"source-ref": f"s3://{s3_bucket}/{k}"} for k in want]


def test_s3_empty_prefix_and_disallowed_bucket(tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.client().put_object(Bucket=s3_bucket, Key="docs/readme.txt", Body=b"x")
    store = s3_storage(tmp_path, s3_server)
    with pytest.raises(ManifestError) as info:
        generate_manifest(store, f"s3://{s3_bucket}/docs/")
    assert f"s3://{s3_bucket}/docs/" in str(info.value)
    limited = Storage(
        make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url, GT_ALLOWED_BUCKETS="gt-somewhere-else")
    )
    with pytest.raises(UriNotAllowed):
        generate_manifest(limited, f"s3://{s3_bucket}/docs/")


def test_image_uris_suffixes(folder: Path, storage: Storage) -> None:
    assert IMAGE_SUFFIXES == (".jpg", ".jpeg", ".png")
    assert [Path(u).name for u in image_uris(storage, str(folder))] == [
        "A.PNG",
        "b.jpg",
        "c.JpEg",
        "f.jpg",
        "d.png",
        "e.jpeg",
    ]

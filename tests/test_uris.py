"""URI parsing and safety: what Storage.normalize accepts, and everything it must refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from gtcore.core.errors import UriNotAllowed
from gtcore.storage.store import Storage, is_s3, split_s3
from gtcore.storage.uris import s3_join, s3_parent
from tests.fixtures.core import make_settings


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "img.jpg").write_bytes(b"x")
    (tmp_path / "data" / "escape").symlink_to("/etc")
    (tmp_path / "data" / "escape-file").symlink_to("/etc/passwd")
    (tmp_path / "data" / "alias").symlink_to(tmp_path / "data")
    # a dead endpoint: normalize must never contact it
    env = {"GT_ALLOWED_BUCKETS": "gt-allowed,other-ok", "GT_S3_ENDPOINT_URL": "http://127.0.0.1:9"}
    return Storage(make_settings(tmp_path, **env))


def _bad(tmp_path: Path) -> list[str]:
    root = str(tmp_path)
    return [
        f"{root}/data/../../etc/passwd",  # ../ traversal out of the root
        f"{root}/../../../etc/passwd",
        f"{root}/data/escape/passwd",  # symlinked folder pointing outside
        f"{root}/data/escape-file",  # symlinked file pointing outside
        "file:///etc/passwd",
        f"file://{root}/%2e%2e/%2e%2e/etc/passwd",  # percent-encoded traversal
        "file://evil.example.com/etc/passwd",  # remote host in a file URI
        "file:relative.jpg",
        "/etc/passwd",  # absolute path elsewhere
        "/",
        "s3://not-allowed-bucket/x.jpg",  # outside GT_ALLOWED_BUCKETS
        "s3://gt-allowed.evil/x.jpg",
        "s3:///key.jpg",  # empty bucket
        "s3://",
        "s3://gt-allowed/a/../other/x.jpg",
        "s3://gt-allowed/./x.jpg",
        "s3://user@gt-allowed/x.jpg",
        "s3://gt-allowed:443/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "https://example.com/x.jpg",
        "HTTP://example.com/x.jpg",
        "ftp://example.com/x.jpg",
        "data:text/plain,hello",
        "javascript:alert(1)",
        "gs://bucket/x.jpg",
        "relative/path.jpg",
        "./x.jpg",
        "../x.jpg",
        "~/x.jpg",
        "img.jpg",
        f"{root}/data/img.jpg\x00.png",  # NUL byte
        f"file://{root}/data/img%00.jpg",  # NUL byte after percent-decoding
        "s3://gt-allowed/x\x00.jpg",
        f"{root}/data/line\nbreak.jpg",
        " ",
        "",
    ]


def test_refused_uris_name_the_uri(storage: Storage, tmp_path: Path) -> None:
    for uri in _bad(tmp_path):
        with pytest.raises(UriNotAllowed) as err:
            storage.normalize(uri)
        msg = str(err.value)
        assert err.value.uri == uri, uri
        if uri.strip():
            assert uri in msg or repr(uri) in msg, (uri, msg)
    assert storage._s3._client is None  # no S3 client was even built: nothing went over the network


@pytest.mark.parametrize("method", ["read_bytes", "read_text", "exists", "size", "presigned_url", "iter_lines"])
def test_every_operation_checks_uris(storage: Storage, method: str) -> None:
    for uri in ["/etc/passwd", "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/", "s3://nope-x/k"]:
        with pytest.raises(UriNotAllowed):
            getattr(storage, method)(uri)


def test_writes_and_listing_check_uris(storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(UriNotAllowed):
        storage.write_bytes(f"{tmp_path}/data/../../evil.txt", b"x")
    with pytest.raises(UriNotAllowed):
        storage.write_if_absent(f"{tmp_path}/data/escape/evil.txt", b"x")
    with pytest.raises(UriNotAllowed):
        storage.write_text("https://example.com/upload", "x")
    with pytest.raises(UriNotAllowed):
        list(storage.list("/etc/"))
    with pytest.raises(UriNotAllowed):
        storage.join(str(tmp_path / "data"), "..", "..", "etc", "passwd")
    with pytest.raises(UriNotAllowed):
        storage.join("s3://gt-allowed/out/", "..", "x")
    assert not (tmp_path.parent / "evil.txt").exists()


def test_accepted_local_forms(storage: Storage, tmp_path: Path) -> None:
    img = str(tmp_path / "data" / "img.jpg")
    assert storage.normalize(img) == img
    assert storage.normalize(f"{tmp_path}/data/sub/../img.jpg") == img
    assert storage.normalize(f"{tmp_path}//data/./img.jpg") == img
    assert storage.normalize(f"file://{img}") == img
    assert storage.normalize(f"file://localhost{img}") == img
    assert storage.normalize(f"FILE://{img}") == img
    assert storage.normalize(f"{tmp_path}/data/alias/img.jpg") == img  # symlink inside the root: resolved
    assert storage.normalize(f"file://{tmp_path}/data/my%20photo.jpg") == str(tmp_path / "data" / "my photo.jpg")
    assert storage.normalize(f"{tmp_path}/data/not-yet-written/x.json") == f"{tmp_path}/data/not-yet-written/x.json"
    assert storage.normalize(str(tmp_path)) == str(tmp_path)  # the root itself
    assert storage.normalize(f"{tmp_path}/data/") == f"{tmp_path}/data"


def test_root_prefix_is_not_a_sibling(tmp_path: Path) -> None:
    root = tmp_path / "gt"
    root.mkdir()
    (tmp_path / "gt-evil").mkdir()
    storage = Storage(make_settings(tmp_path, GT_LOCAL_ROOTS=str(root)))
    assert storage.normalize(str(root / "x.jpg")) == str(root / "x.jpg")
    with pytest.raises(UriNotAllowed):
        storage.normalize(str(tmp_path / "gt-evil" / "x.jpg"))


def test_accepted_s3_forms(storage: Storage) -> None:
    assert storage.normalize("s3://gt-allowed/a/b c.jpg") == "s3://gt-allowed/a/b c.jpg"
    assert storage.normalize("S3://gt-allowed/K.JPG") == "s3://gt-allowed/K.JPG"
    assert storage.normalize("s3://gt-allowed") == "s3://gt-allowed/"
    assert storage.normalize("s3://other-ok/x/") == "s3://other-ok/x/"
    assert storage.normalize("s3://gt-allowed/a..b/x...jpg") == "s3://gt-allowed/a..b/x...jpg"


def test_any_bucket_without_allow_list(tmp_path: Path) -> None:
    storage = Storage(make_settings(tmp_path))
    assert storage.normalize("s3://b/out/x.json") == "s3://b/out/x.json"
    assert storage.normalize("s3://Legacy_Bucket.1/x") == "s3://Legacy_Bucket.1/x"
    with pytest.raises(UriNotAllowed, match="not a valid S3 bucket name"):
        storage.normalize("s3://bad..bucket/x")


def test_is_s3_and_split_s3() -> None:
    assert is_s3("s3://b/k") and is_s3("S3://b/k")
    assert not is_s3("/data/s3://b") and not is_s3("https://s3.amazonaws.com/b/k")
    assert split_s3("s3://bucket/a/b.jpg") == ("bucket", "a/b.jpg")
    assert split_s3("s3://bucket") == ("bucket", "")
    assert split_s3("s3://bucket/") == ("bucket", "")
    with pytest.raises(UriNotAllowed, match="no bucket"):
        split_s3("s3:///k")
    with pytest.raises(UriNotAllowed, match="not an s3:// URI"):
        split_s3("/data/x")


def test_s3_join_and_parent_helpers() -> None:
    assert s3_join("s3://b/out/", ["job", "x.json"]) == "s3://b/out/job/x.json"
    assert s3_join("s3://b/out", ["", "/job/", "x.json"]) == "s3://b/out/job/x.json"
    assert s3_join("s3://b/out/", ["job/"]) == "s3://b/out/job/"
    assert s3_join("s3://b/out/", []) == "s3://b/out/"
    assert s3_parent("s3://b/a/b/c.json") == "s3://b/a/b/"
    assert s3_parent("s3://b/") == "s3://b/"

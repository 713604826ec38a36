"""Contract tests for gtcore.storage.store: the same suite over a local folder and S3 (moto's server over HTTP)."""

from __future__ import annotations

import os
import socket
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from gtcore.core.errors import AccessDenied, ObjectNotFound, StorageError, StoreUnavailable
from gtcore.storage.store import TEMP_PREFIX, BackendStatus, Storage
from tests.fixtures.core import make_settings


@dataclass
class Store:
    kind: str
    storage: Storage
    base: str  # a prefix with no trailing slash: "<tmp>/data" or "s3://bucket/data"

    def uri(self, *parts: str) -> str:
        return "/".join([self.base, *parts])


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return Store("local", Storage(make_settings(tmp_path)), str(tmp_path / "data"))
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    settings = make_settings(tmp_path, GT_S3_ENDPOINT_URL=server.endpoint_url)
    return Store("s3", Storage(settings), f"s3://{bucket}/data")


def _dead_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # closed again: connections are refused


# --- read / write / exists / size ---------------------------------------------------------------------


def test_bytes_round_trip_exists_size(store: Store) -> None:
    data = bytes(range(256)) * 5
    uri = store.uri("a", "b", "blob.bin")
    assert not store.storage.exists(uri)
    store.storage.write_bytes(uri, data)
    assert store.storage.exists(uri)
    assert store.storage.size(uri) == len(data)
    assert store.storage.read_bytes(uri) == data
    store.storage.write_bytes(uri, b"shorter")
    assert store.storage.read_bytes(uri) == b"shorter"
    assert store.storage.size(uri) == 7


def test_text_round_trip_and_bom(store: Store) -> None:
    uri = store.uri("t.json")
    store.storage.write_text(uri, '{"label": "čaj ☕"}')
    assert store.storage.read_text(uri) == '{"label": "čaj ☕"}'
    store.storage.write_bytes(uri, "\ufeff{}".encode())
    assert store.storage.read_text(uri) == "{}"


def test_undecodable_text_names_uri_and_offset(store: Store) -> None:
    uri = store.uri("bad.txt")
    store.storage.write_bytes(uri, b"abc\xff\xfedef")
    with pytest.raises(StorageError) as err:
        store.storage.read_text(uri)
    assert uri in str(err.value) and "byte offset 3" in str(err.value)
    assert err.value.uri == uri


def test_read_bytes_max_bytes(store: Store) -> None:
    uri = store.uri("ten.bin")
    store.storage.write_bytes(uri, b"0123456789")
    assert store.storage.read_bytes(uri, max_bytes=10) == b"0123456789"
    with pytest.raises(StorageError) as err:
        store.storage.read_bytes(uri, max_bytes=9)
    assert not isinstance(err.value, ObjectNotFound)
    assert uri in str(err.value) and "10 bytes" in str(err.value)


def test_iter_lines_endings_and_bom(store: Store) -> None:
    uri = store.uri("m.manifest")
    store.storage.write_bytes(uri, b'\xef\xbb\xbf{"a":1}\n{"b":2}\r\n\nx\ry\nlast')
    assert list(store.storage.iter_lines(uri)) == ['{"a":1}', '{"b":2}', "", "x\ry", "last"]
    store.storage.write_bytes(uri, b"one\ntwo\n")
    assert list(store.storage.iter_lines(uri)) == ["one", "two"]
    store.storage.write_bytes(uri, b"")
    assert list(store.storage.iter_lines(uri)) == []


def test_iter_lines_streams_many_lines(store: Store) -> None:
    n = 100_000 if store.kind == "local" else 30_000
    uri = store.uri("big.manifest")
    store.storage.write_bytes(uri, "".join(f'{{"source-ref": "s3://b/img{i:06d}.jpg"}}\n' for i in range(n)).encode())
    count = 0
    for i, line in enumerate(store.storage.iter_lines(uri)):
        assert line == f'{{"source-ref": "s3://b/img{i:06d}.jpg"}}'
        count += 1
    assert count == n


def test_iter_lines_bad_utf8_names_line_and_offset(store: Store) -> None:
    uri = store.uri("bad.manifest")
    store.storage.write_bytes(uri, b"ok\nfine\r\nxy\xc3(z\n")
    lines = store.storage.iter_lines(uri)
    assert next(lines) == "ok"
    assert next(lines) == "fine"
    with pytest.raises(StorageError) as err:
        next(lines)
    assert uri in str(err.value) and "line 3" in str(err.value) and "byte offset 11" in str(err.value)


def test_write_if_absent(store: Store) -> None:
    uri = store.uri("once", "x.json")
    assert store.storage.write_if_absent(uri, b"first") is True
    assert store.storage.write_if_absent(uri, b"second") is False
    assert store.storage.read_bytes(uri) == b"first"


# --- missing things -----------------------------------------------------------------------------------


def test_missing_object(store: Store) -> None:
    uri = store.uri("nope", "missing.jpg")
    for call in (store.storage.read_bytes, store.storage.read_text, store.storage.size, store.storage.iter_lines):
        with pytest.raises(ObjectNotFound) as err:
            call(uri)
        assert uri in str(err.value)
    assert store.storage.exists(uri) is False


def test_missing_bucket(s3_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    storage = Storage(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    uri = "s3://gt-no-such-bucket-4711/key.json"
    with pytest.raises(ObjectNotFound) as err:
        storage.read_bytes(uri)
    assert "gt-no-such-bucket-4711" in str(err.value) and "does not exist" in str(err.value)
    with pytest.raises(ObjectNotFound, match="bucket 'gt-no-such-bucket-4711' does not exist"):
        list(storage.list("s3://gt-no-such-bucket-4711/"))
    assert storage.exists(uri) is False


def test_missing_local_folder_lists_nothing(tmp_path: Path) -> None:
    storage = Storage(make_settings(tmp_path))
    assert list(storage.list(str(tmp_path / "absent") + "/")) == []
    assert list(storage.list(str(tmp_path / "absent" / "deeper"))) == []


# --- listing ------------------------------------------------------------------------------------------

KEYS = ["b.jpg", "a/2.PNG", "a/1.jpeg", "a-b.txt", "a/sub/3.jpg", "a/sub/notes.md", "img9.JPG", "c/d/e/f.png"]


def _fill(store: Store, keys: list[str]) -> None:
    for k in keys:
        store.storage.write_bytes(store.uri(k), k.encode())


def test_list_sorted_like_s3(store: Store) -> None:
    _fill(store, KEYS)
    listed = list(store.storage.list(store.base + "/"))
    # S3 orders by key bytes: "a-b.txt" < "a/1.jpeg" because "-" < "/".
    assert listed == [store.uri(k) for k in sorted(KEYS)]
    assert listed[0] == store.uri("a-b.txt")


def test_list_suffixes_case_insensitive(store: Store) -> None:
    _fill(store, KEYS)
    images = list(store.storage.list(store.base + "/", suffixes=(".jpg", ".jpeg", ".png")))
    assert images == [store.uri(k) for k in ["a/1.jpeg", "a/2.PNG", "a/sub/3.jpg", "b.jpg", "c/d/e/f.png", "img9.JPG"]]
    assert list(store.storage.list(store.base + "/", suffixes=(".MD",))) == [store.uri("a/sub/notes.md")]


def test_list_sub_prefix(store: Store) -> None:
    _fill(store, KEYS)
    assert list(store.storage.list(store.uri("a") + "/")) == [
        store.uri(k) for k in ["a/1.jpeg", "a/2.PNG", "a/sub/3.jpg", "a/sub/notes.md"]
    ]
    # a prefix that is not a folder matches names, like S3
    assert list(store.storage.list(store.uri("im"))) == [store.uri("img9.JPG")]
    assert list(store.storage.list(store.uri("zzz") + "/")) == []


def test_list_paginates(store: Store) -> None:
    keys = [f"p/{i:02d}-{'x' * (i % 3)}.jpg" for i in range(30)]
    _fill(store, keys)
    calls: list[int] = []
    if store.kind == "s3":
        store.storage._s3.client.meta.events.register(
            "after-call.s3.ListObjectsV2", lambda **kw: calls.append(len(kw["parsed"].get("Contents", [])))
        )
    listed = list(store.storage.list(store.uri("p") + "/", page_size=7))
    assert listed == [store.uri(k) for k in sorted(keys)]
    if store.kind == "s3":
        assert calls == [7, 7, 7, 7, 2]
        calls.clear()
        it = store.storage.list(store.uri("p") + "/", page_size=7)
        first = [next(it) for _ in range(7)]
        assert first == listed[:7] and calls == [7]  # lazily one page at a time


def test_list_page_size_from_constructor(s3_server, s3_bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    storage = Storage(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url), page_size=4)
    for i in range(10):
        storage.write_bytes(f"s3://{s3_bucket}/k/{i}.txt", b"x")
    pages: list[int] = []
    storage._s3.client.meta.events.register("after-call.s3.ListObjectsV2", lambda **kw: pages.append(1))
    assert len(list(storage.list(f"s3://{s3_bucket}/k/"))) == 10
    assert len(pages) == 3
    with pytest.raises(ValueError):
        Storage(storage.settings, page_size=5000)


def test_local_list_folder_semantics_and_hidden_temps(tmp_path: Path) -> None:
    storage = Storage(make_settings(tmp_path))
    for rel in ["img/a.jpg", "img-old/b.jpg", "img/.gttmp.abc123.c.jpg", "img/.keep"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    # an existing folder lists that folder only; dotfiles other than our temp files are objects like on S3
    assert list(storage.list(str(tmp_path / "img"))) == [str(tmp_path / "img/.keep"), str(tmp_path / "img/a.jpg")]
    assert list(storage.list(f"file://{tmp_path}/img/", suffixes=(".jpg",))) == [str(tmp_path / "img/a.jpg")]


def test_local_list_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "data").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"s")
    (root / "data" / "real.jpg").write_bytes(b"r")
    (root / "data" / "inside-link.jpg").symlink_to(root / "data" / "real.jpg")
    (root / "data" / "outside-link.jpg").symlink_to(outside / "secret.jpg")
    (root / "data" / "dirlink").symlink_to(root / "data")  # a loop if followed
    storage = Storage(make_settings(tmp_path, GT_LOCAL_ROOTS=str(root)))
    listed = list(storage.list(str(root / "data") + "/"))
    assert listed == [str(root / "data" / "inside-link.jpg"), str(root / "data" / "real.jpg")]


# --- join / parent / presigned URLs ---------------------------------------------------------------------


def test_join_and_parent(store: Store) -> None:
    s = store.storage
    assert s.join(store.base + "/", "job", "x.json") == store.uri("job", "x.json")
    assert s.join(store.base, "job/", "/annotations/", "x.json") == store.uri("job", "annotations", "x.json")
    assert s.parent(store.uri("job", "x.json")).rstrip("/") == store.uri("job")
    assert s.parent(s.parent(store.uri("job", "x.json"))).rstrip("/") == store.base


def test_join_s3_forms(s3_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = Storage(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    assert s.join("s3://b/out/", "job", "x.json") == "s3://b/out/job/x.json"
    assert s.join("s3://b", "x.json") == "s3://b/x.json"
    assert s.join("s3://b/out", "job/") == "s3://b/out/job/"
    assert s.parent("s3://b/a/x.json") == "s3://b/a/"
    assert s.parent("s3://b/a/") == "s3://b/"
    assert s.parent("s3://b/x") == "s3://b/"


def test_presigned_url(store: Store) -> None:
    uri = store.uri("img", "p.png")
    store.storage.write_bytes(uri, b"\x89PNG fake")
    url = store.storage.presigned_url(uri, expires=120)
    if store.kind == "local":
        assert url is None
        return
    assert url is not None and url.startswith("http://")
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - our moto endpoint
        assert resp.read() == b"\x89PNG fake"
        assert resp.headers["Content-Type"] == "image/png"


# --- atomic local writes --------------------------------------------------------------------------------


def _visible(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def test_failed_replace_keeps_old_content_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = Storage(make_settings(tmp_path))
    target = tmp_path / "out" / "manifest.json"
    storage.write_text(str(target), "old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(StorageError) as err:
        storage.write_text(str(target), "new content")
    assert str(target) in str(err.value)
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert _visible(target.parent) == ["manifest.json"]


def test_failed_fsync_midway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = Storage(make_settings(tmp_path))
    target = tmp_path / "out" / "new.json"
    storage.write_text(str(tmp_path / "out" / "other.json"), "x")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(StorageError, match="No space left"):
        storage.write_bytes(str(target), b"y" * 100_000)
    with pytest.raises(StorageError):
        storage.write_if_absent(str(target), b"z")
    monkeypatch.undo()
    assert _visible(target.parent) == ["other.json"]
    assert storage.exists(str(target)) is False


def test_write_if_absent_race_has_one_winner(tmp_path: Path) -> None:
    storage = Storage(make_settings(tmp_path))
    target = str(tmp_path / "claim" / "lock.json")
    results: dict[int, bool] = {}
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        barrier.wait()
        results[i] = storage.write_if_absent(target, f"writer {i}".encode() * 1000)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, ok in results.items() if ok]
    assert len(winners) == 1
    assert storage.read_bytes(target) == f"writer {winners[0]}".encode() * 1000
    assert _visible(tmp_path / "claim") == ["lock.json"]
    assert not any(name.startswith(TEMP_PREFIX) for name in _visible(tmp_path / "claim"))


def test_local_folder_is_not_an_object(tmp_path: Path) -> None:
    storage = Storage(make_settings(tmp_path))
    (tmp_path / "d").mkdir()
    with pytest.raises(StorageError, match="is a folder"):
        storage.read_bytes(str(tmp_path / "d"))
    with pytest.raises(StorageError, match="is a folder"):
        storage.size(str(tmp_path / "d"))
    assert storage.exists(str(tmp_path / "d")) is False


def test_s3_bucket_root_is_not_an_object(s3_server, s3_bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    storage = Storage(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    with pytest.raises(StorageError, match="names a bucket"):
        storage.write_bytes(f"s3://{s3_bucket}/", b"x")


def test_odd_key_names_round_trip(store: Store) -> None:
    names = ["sp ace+plus#hash?q=1&b.jpg", "ünïcødé 猫.png", "%41%2F.jpg"]
    for n in names:
        store.storage.write_bytes(store.uri("odd", n), n.encode())
    listed = list(store.storage.list(store.uri("odd") + "/"))
    assert listed == [store.uri("odd", n) for n in sorted(names)]
    for uri in listed:
        assert store.storage.read_bytes(uri) == uri.rsplit("/", 1)[1].encode()
        url = store.storage.presigned_url(uri)
        if url is not None:
            with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - our moto endpoint
                assert resp.read() == uri.rsplit("/", 1)[1].encode()


# --- access denied / unavailable ------------------------------------------------------------------------


def test_local_permission_error_is_access_denied(tmp_path: Path) -> None:
    storage = Storage(make_settings(tmp_path))
    locked = tmp_path / "locked"
    locked.mkdir()
    secret = locked / "secret.json"
    secret.write_text("{}")
    secret.chmod(0o000)
    locked.chmod(0o500)
    if os.geteuid() != 0:
        with pytest.raises(AccessDenied, match="permission denied") as err:
            storage.read_bytes(str(secret))
        assert str(secret) in str(err.value)
        with pytest.raises(AccessDenied):
            storage.write_bytes(str(locked / "new.json"), b"x")
        return
    # root ignores file modes: check in a forked child that drops to nobody (modules already imported)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 9
        try:
            os.setgid(65534)
            os.setuid(65534)
            code = 1
            try:
                storage.read_bytes(str(secret))
            except AccessDenied as exc:
                code = 0 if str(secret) in str(exc) else 2
            if code == 0:
                code = 3
                try:
                    storage.write_bytes(str(locked / "new.json"), b"x")
                except AccessDenied as exc:
                    code = 0 if str(locked / "new.json") in str(exc) else 4
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child exit status {status}"


def test_s3_bad_credentials_are_access_denied(
    s3_server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # moto's server checks keys only with authentication switched on (its /moto-api/reset-auth switch).
    def set_auth(count: str) -> None:
        req = urllib.request.Request(
            f"{s3_server.endpoint_url}/moto-api/reset-auth",
            data=count.encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(req, timeout=10).read()  # noqa: S310

    s3_server.client().put_object(Bucket=s3_bucket, Key="k.json", Body=b"{}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    storage = Storage(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    set_auth("0")
    try:
        with pytest.raises(AccessDenied) as err:
            storage.read_bytes(f"s3://{s3_bucket}/k.json")
        assert f"s3://{s3_bucket}/k.json" in str(err.value) and "InvalidAccessKeyId" in str(err.value)
        with pytest.raises(AccessDenied):
            list(storage.list(f"s3://{s3_bucket}/"))
        with pytest.raises(AccessDenied):
            storage.exists(f"s3://{s3_bucket}/k.json")
    finally:
        set_auth("inf")


def test_endpoint_down_is_unavailable(tmp_path: Path) -> None:
    storage = Storage(make_settings(tmp_path, GT_S3_ENDPOINT_URL=_dead_endpoint()))
    for call in (
        lambda: storage.read_bytes("s3://bucket/x.json"),
        lambda: storage.write_bytes("s3://bucket/x.json", b"x"),
        lambda: storage.exists("s3://bucket/x.json"),
        lambda: list(storage.list("s3://bucket/")),
    ):
        with pytest.raises(StoreUnavailable) as err:
            call()
        assert "s3://bucket/" in str(err.value)
    statuses = storage.ping()
    assert [s.ok for s in statuses if s.name == "s3"] == [False]


def test_ping(s3_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ok = Storage(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url)).ping()
    assert all(isinstance(s, BackendStatus) for s in ok)
    assert [(s.name, s.ok) for s in ok] == [(f"local {tmp_path}", True), ("s3", True)]
    missing = tmp_path / "gone"
    bad = Storage(make_settings(tmp_path, GT_LOCAL_ROOTS=str(missing))).ping()
    assert [(s.name, s.ok) for s in bad] == [(f"local {missing}", False)]  # no S3 configured: not pinged


def test_allowed_bucket_ping_names_missing_bucket(s3_server, s3_bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"GT_S3_ENDPOINT_URL": s3_server.endpoint_url, "GT_ALLOWED_BUCKETS": f"{s3_bucket},gt-absent-bucket-99"}
    status = [s for s in Storage(make_settings(tmp_path, **env)).ping() if s.name == "s3"]
    assert len(status) == 1 and not status[0].ok and "gt-absent-bucket-99" in status[0].detail


def test_client_created_once_across_threads(s3_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    storage = Storage(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    seen: list[int] = []
    barrier = threading.Barrier(6)

    def grab() -> None:
        barrier.wait()
        seen.append(id(storage._s3.client))

    threads = [threading.Thread(target=grab) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 6 and len(set(seen)) == 1


def test_write_if_absent_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system without hard links: an exclusive create and a copy of the finished temp file instead."""
    import errno

    def no_links(_src: str, _dst: str) -> None:
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    storage = Storage(make_settings(tmp_path))
    target = str(tmp_path / "nolinks" / "once.json")
    assert storage.write_if_absent(target, b"first" * 1000) is True
    assert storage.write_if_absent(target, b"second") is False
    assert storage.read_bytes(target) == b"first" * 1000
    assert sorted(os.listdir(tmp_path / "nolinks")) == ["once.json"]  # no temp file left

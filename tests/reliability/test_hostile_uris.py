"""URIs that point where they must not: ``../`` traversal and symlinks out of the local root, ``file:///etc/passwd``,
buckets outside the allow-list, ``http://169.254.169.254/`` and other URLs where only storage URIs are allowed.

Each is tried in every place a user can put a URI: a manifest's ``source-ref``, the job's InputConfig,
OutputConfig, label category file, UI template and example images, the viewer's "open a manifest", the
viewer's image tiles, the task screen's image, automated data setup and the export destination. Every one is
refused with an error naming the URI (and the line or field), and no server-side request is made: the S3
endpoint is a local HTTP server that records every request (it must receive none, while a permitted URI does
reach it), and a Python audit hook records every socket connection, DNS lookup and file opened meanwhile.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import GTError, ManifestError, SpecError, UriNotAllowed
from gtcore.images import task_images as taskimages
from gtcore.jobs import api as jobs
from gtcore.manifests import datasetup
from gtcore.queue import api as queue
from gtcore.viewer import export, export_sinks, tiles
from gtcore.viewer import opener as audit
from tests.fixtures.core import make_settings, make_team, make_user
from tests.fixtures.jobs import JobFactory, write_png
from tests.fixtures.queue import insert_job

SYSTEM = Actor.system_actor()
ALLOWED_BUCKET = "allowed-bucket"

# ----------------------------------------------------------------------------------- instruments

_events: list[tuple[str, Any]] | None = None
_installed: list[bool] = []
WATCHED = ("socket.connect", "socket.getaddrinfo", "urllib.Request", "http.client.connect", "open")


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _events is not None and event in WATCHED:
        _events.append((event, args[1] if event == "socket.connect" else args[0]))


@contextmanager
def watching() -> Iterator[list[tuple[str, Any]]]:
    """Record network events and opened files (a Python audit hook, installed once, active only inside)."""
    global _events
    if not _installed:
        sys.addaudithook(_hook)
        _installed.append(True)
    _events = []
    try:
        yield _events
    finally:
        _events = None


class Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def _answer(self) -> None:
        Recorder.hits.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_POST = _answer  # noqa: N815

    def log_message(self, *args: Any) -> None:
        return None


@dataclass
class Setup:
    ctx: Context
    root: Path
    recorder: str  # http://127.0.0.1:port: also the S3 endpoint
    secret: Path  # a file outside the local root
    vectors: dict[str, str]
    forbidden: set[str]  # real paths that must never be opened
    factory: JobFactory
    auditor: Actor
    good_manifest: str


@pytest.fixture
def setup(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(key, value)  # no credential lookup (which could itself ask 169.254.169.254)
    Recorder.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    recorder = f"http://127.0.0.1:{server.server_address[1]}"
    root = tmp_path_factory.mktemp("root")
    outside = tmp_path_factory.mktemp("outside")
    secret = outside / "secret.png"
    write_png(secret, 1)
    inside = root / "inside"
    write_png(inside / "img.png", 0)
    (inside / "evil.png").symlink_to("/etc/passwd")
    (inside / "escape.png").symlink_to(secret)
    (root / "linkdir").symlink_to("/etc")
    ctx = Context.from_settings(make_settings(root, GT_S3_ENDPOINT_URL=recorder, GT_ALLOWED_BUCKETS=ALLOWED_BUCKET))
    vectors = {
        "dotdot": f"{inside}/../../{outside.name}/secret.png",
        "dotdot-etc": f"{inside}/../../../../../../etc/passwd",
        "symlink-file": f"{inside}/evil.png",
        "symlink-out": f"{inside}/escape.png",
        "symlink-folder": f"{root}/linkdir/passwd",
        "file-etc-passwd": "file:///etc/passwd",
        "file-percent-dotdot": f"file://{inside}/%2e%2e/%2e%2e/{outside.name}/secret.png",
        "file-with-host": "file://169.254.169.254/latest/meta-data/x.png",
        "metadata-http": "http://169.254.169.254/latest/meta-data/iam/security-credentials/x",
        "local-http": f"{recorder}/img.png",
        "https": "https://example.com/img.png",
        "ftp": f"ftp://127.0.0.1:{server.server_address[1]}/img.png",
        "gopher": f"gopher://127.0.0.1:{server.server_address[1]}/_GET",
        "data": "data:image/png;base64,iVBORw0KGgo=",
        "scheme-relative": "//169.254.169.254/latest/meta-data/x.png",
        "bucket-not-allowed": "s3://other-bucket/img.png",
        "bucket-dotdot": f"s3://{ALLOWED_BUCKET}/images/../../other-bucket/img.png",
        "bad-bucket-name": "s3://169.254.169.254:80/img.png",
        "tilde": "~/.ssh/id_rsa",
        "relative": "images/img.png",
        "nul": "/etc/passwd\x00.png",
        "newline": f"{inside}/img.png\n{recorder}/x",
    }
    forbidden = {"/etc/passwd", "/etc/shadow", os.path.realpath(secret)}
    people_team = make_team(ctx.db, "team-a")
    auditor = make_user(ctx.db, "auditor@example.test", ("auditor",), ())
    good = root / "out" / "good.manifest"
    good.parent.mkdir(parents=True)
    line = {"source-ref": str(inside / "img.png"), "b": {"image_size": [{"width": 64, "height": 48, "depth": 3}],
            "annotations": [{"class_id": 0, "left": 1, "top": 1, "width": 5, "height": 5}]},
            "b-metadata": {"class-map": {"0": "cat"}, "type": "groundtruth/object-detection",
                           "human-annotated": "yes", "objects": [{"confidence": 1}], "job-name": "labeling-job/b",
                           "creation-date": "2024-01-01T00:00:00"}}  # fmt: skip
    good.write_text(json.dumps(line) + "\n")
    assert people_team
    yield Setup(ctx, root, recorder, secret, vectors, forbidden, JobFactory(ctx, root), auditor, str(good))
    server.shutdown()
    server.server_close()
    ctx.db.dispose()


def assert_no_request(s: Setup, events: list[tuple[str, Any]], what: str) -> None:
    network = [e for e in events if e[0] != "open"]
    assert network == [], f"{what}: a network request was made: {network[:5]}"
    opened = {os.path.realpath(p) for kind, p in events if kind == "open" and isinstance(p, str | bytes | Path)
              and not isinstance(p, int)}  # fmt: skip
    assert not (opened & s.forbidden), f"{what}: opened {opened & s.forbidden}"
    assert Recorder.hits == [], f"{what}: the HTTP server received {Recorder.hits}"


def refused(s: Setup, what: str, call: Callable[[], Any], expected: type[GTError] = UriNotAllowed) -> GTError:
    with watching() as events, pytest.raises(expected) as err:
        call()
    assert_no_request(s, events, what)
    return err.value


# ------------------------------------------------------------------------------------------- tests


def test_the_instruments_do_see_a_permitted_request(setup: Setup) -> None:
    """Control: a URI that is allowed does reach the endpoint, so silence below means no request was made."""
    with watching() as events:
        assert setup.ctx.storage.exists(f"s3://{ALLOWED_BUCKET}/img.png") is False
    assert any(kind == "socket.connect" for kind, _ in events)
    assert Recorder.hits and Recorder.hits[0].startswith("HEAD /allowed-bucket/img.png")
    Recorder.hits.clear()
    with watching() as events:
        assert setup.ctx.storage.read_bytes(str(setup.root / "inside" / "img.png"))
    assert str(setup.root / "inside" / "img.png") in {str(p) for kind, p in events if kind == "open"}


def test_manifest_source_refs(setup: Setup) -> None:
    s = setup
    names = list(s.vectors)
    lines = [{"source-ref": str(s.root / "inside" / "img.png")}] + [{"source-ref": s.vectors[n]} for n in names]
    req = s.factory.request(name="uri-manifest", lines=lines)
    err = refused(s, "manifest", lambda: jobs.create_labeling_job(s.ctx, SYSTEM, req), ManifestError)
    by_line = {p.line: p for p in err.problems}  # type: ignore[attr-defined]
    assert sorted(by_line) == list(range(2, 2 + len(names))), [str(p) for p in err.problems]  # type: ignore
    for i, name in enumerate(names, start=2):
        p = by_line[i]
        assert p.field == "source-ref", (name, p)
        uri = s.vectors[name]
        assert uri in p.message or repr(uri) in p.message, (name, p.message)  # the message names the URI
    assert s.ctx.storage.normalize(str(s.root / "inside" / "img.png"))  # line 1 was fine


@pytest.mark.parametrize(
    "field",
    [
        "InputConfig.DataSource.S3DataSource.ManifestS3Uri",
        "OutputConfig.S3OutputPath",
        "LabelCategoryConfigS3Uri",
        "HumanTaskConfig.UiConfig.UiTemplateS3Uri",
        "HumanTaskConfig.Instructions.Examples[0].ImageUri",
    ],
)
def test_job_request_uris(setup: Setup, field: str) -> None:
    s = setup
    for name, uri in s.vectors.items():
        req = s.factory.request(name=f"uri-{abs(hash((field, name))) % 10**8}")
        human = req["HumanTaskConfig"]
        if field.endswith("ManifestS3Uri"):
            req["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] = uri
        elif field.startswith("OutputConfig"):
            req["OutputConfig"]["S3OutputPath"] = uri
        elif field == "LabelCategoryConfigS3Uri":
            req["LabelCategoryConfigS3Uri"] = uri
        elif field.endswith("UiTemplateS3Uri"):
            human.pop("PreHumanTaskLambdaArn")  # the task type must then come from the template
            human["UiConfig"] = {"UiTemplateS3Uri": uri}
        else:
            human["Instructions"] = {"Short": "draw boxes", "Examples": [{"Kind": "good", "ImageUri": uri}]}
        err = refused(s, f"{field} = {name}", lambda: jobs.create_labeling_job(s.ctx, SYSTEM, req), SpecError)
        fields = {p.field for p in err.problems}  # type: ignore[attr-defined]
        assert field in fields, (name, [str(p) for p in err.problems])  # type: ignore[attr-defined]
    assert jobs.list_jobs(s.ctx, SYSTEM) == []  # nothing was created


def test_viewer_export_data_setup_and_images(setup: Setup) -> None:
    s = setup
    files = export.export_files(audit.open_manifest(s.ctx, s.auditor, s.good_manifest), None, "coco").files
    for name, uri in s.vectors.items():  # each lambda runs at once, inside its own iteration
        refused(s, f"viewer open {name}", lambda: audit.open_manifest(s.ctx, s.auditor, uri))
        refused(s, f"export to {name}", lambda: export_sinks.write_storage(s.ctx.storage, files, uri))
        refused(s, f"data setup of {name}", lambda: datasetup.generate_manifest(s.ctx.storage, uri))
        refused(s, f"data setup into {name}",
                lambda: datasetup.generate_manifest(s.ctx.storage, str(s.root / "inside"), uri))  # fmt: skip
        refused(s, f"presigned URL of {name}", lambda: s.ctx.storage.presigned_url(uri))
        with watching() as events:
            tile = tiles.render_image(s.ctx, s.auditor, uri)
            shown = taskimages.display_image(s.ctx, uri)
        assert_no_request(s, events, f"image {name}")
        assert not tile.ok and shown.jpeg is None and shown.error, name
    assert not list((s.root / "inside").glob("dataset-*.manifest"))  # nothing written for refused targets


def test_tasks_whose_stored_source_ref_is_hostile(setup: Setup) -> None:
    """Lines stored before the allow-list changed (inserted directly): the task screen refuses them, reads nothing."""
    s = setup
    team = make_team(s.ctx.db, "team-b")
    worker = make_user(s.ctx.db, "w@example.test", ("worker",), (team,))
    names = list(s.vectors)
    job = insert_job(s.ctx.db, team_id=team, output_path=str(s.root / "out"),
                     lines=[{"source-ref": s.vectors[n]} for n in names])  # fmt: skip
    for _ in names:
        task = queue.claim_next(s.ctx, worker, job)
        assert task is not None
        with watching() as events:
            img = taskimages.task_image(s.ctx, worker, task)
        assert_no_request(s, events, f"task image {task.source_ref!r}")
        assert img.jpeg is None and "cannot be read" in (img.error or ""), (task.source_ref, img)
        queue.decline(s.ctx, worker, task.assignment_id, "broken image")


OTHER_BUCKET_URIS = [
    "s3://other-bucket/img.png",
    "S3://other-bucket/img.png",  # the scheme in capitals
    f"s3://{ALLOWED_BUCKET.upper()}/img.png",  # another bucket name to S3 (names are lower case)
    f"s3://{ALLOWED_BUCKET}.evil/img.png",
    f"s3://{ALLOWED_BUCKET}-2/img.png",
    f"s3://other-bucket/{ALLOWED_BUCKET}/img.png",
    f"s3://{ALLOWED_BUCKET}@other-bucket/img.png",
    f"s3://{ALLOWED_BUCKET}:other-bucket/img.png",
    f"s3://{ALLOWED_BUCKET}/../other-bucket/img.png",
    f"s3://{ALLOWED_BUCKET}/a/./../../other-bucket/img.png",
    "s3://arn:aws:s3:us-east-1:123456789012:accesspoint/other/img.png",  # an access point ARN as the bucket
    "s3://other-bucket",
    "s3:///img.png",
    f"s3://{ALLOWED_BUCKET}\u200b/img.png",  # an invisible character after an allowed name
    "https://other-bucket.s3.amazonaws.com/img.png",
    f"{ALLOWED_BUCKET}/img.png",
]


@pytest.mark.parametrize("uri", OTHER_BUCKET_URIS)
def test_allowed_buckets_refuse_every_other_bucket(setup: Setup, uri: str) -> None:
    """GT_ALLOWED_BUCKETS: no spelling of another bucket reaches S3, for reading, listing, writing or sizing."""
    store = setup.ctx.storage
    for what, call in (
        ("read", lambda: store.read_bytes(uri)),
        ("exists", lambda: store.exists(uri)),
        ("size", lambda: store.size(uri)),
        ("write", lambda: store.write_bytes(uri, b"x")),
        ("list", lambda: list(store.list(uri))),
    ):
        refused(setup, f"{what} {uri!r}", call)

"""The manifest viewer page through Streamlit's AppTest, signed in with a real session token.

Flows: open a realdata file by path, pick attributes, filter, page, select an image (detail panel
with its annotation table and each worker's answer), compare two attributes, build an export;
and the guards: a worker is turned away, /etc/passwd is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gtcore.context import Context
from gtcore.core.settings import Settings
from gtcore.viewer import opener as audit
from gtcore.viewer import tiles
from tests.fixtures.core import REALDATA, realdata_or_skip
from tests.fixtures.people import People
from tests.fixtures.viewer import DemoJob

REPO = Path(__file__).resolve().parents[1]
PAGE = str(REPO / "pages" / "viewer.py")


@pytest.fixture
def page_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    home = tmp_path / "gt-home"
    monkeypatch.setenv("GT_HOME", str(home))
    monkeypatch.setenv("GT_DATABASE_URL", f"sqlite:///{home / 'gt.sqlite3'}")
    roots = [str(tmp_path)] + ([str(REALDATA)] if REALDATA.is_dir() else [])
    monkeypatch.setenv("GT_LOCAL_ROOTS", ":".join(roots))
    for name in ("GT_SMTP_HOST", "GT_S3_ENDPOINT_URL", "GT_ALLOWED_BUCKETS"):
        monkeypatch.delenv(name, raising=False)
    audit.clear_cache()
    tiles.clear_caches()
    c = Context.from_settings(Settings.from_env())
    yield c  # type: ignore[misc]
    c.db.dispose()


def _page(token: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["gt_token"] = token
    return at.run()


def _open_path(at: AppTest, path: str | Path) -> AppTest:
    at.segmented_control(key="viewer_kind").set_value("Path or S3 URI").run()
    at.text_input(key="viewer_uri").input(str(path)).run()
    return at.button(key="viewer_open").click().run()


def _texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.error, *at.info, *at.warning, *at.success, *at.caption, *at.text, *at.code)]
    return re.sub(r"\\(.)", r"\1", "\n".join(str(p) for p in parts))  # markdown escapes removed


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _frames(at: AppTest, *columns: str) -> list:
    """The st.dataframe values having all ``columns``, in page order (AppTest keeps no dataframe keys)."""
    return [d.value for d in at.dataframe if all(c in d.value.columns for c in columns)]


def _open_buttons(at: AppTest) -> list[str]:
    return sorted(b.key for b in at.button if b.key and b.key.startswith("viewer_open_"))


def test_realdata_file_opens_filters_and_selects(page_ctx: Context, people: type[People]) -> None:
    realdata = realdata_or_skip()
    p = people(page_ctx)
    at = _page(p.token(p.auditor()))
    _no_exception(at)
    at = _open_path(at, realdata / "bbox-bcbs-logo-1worker" / "output.manifest")
    _no_exception(at)
    assert "470 lines" in _texts(at)
    assert at.selectbox(key="viewer_attr").value.name == "bcbs-logo-labeling"
    # first grid page: 24 tiles, placeholders say why (S3 without an endpoint) but the page works
    assert len(_open_buttons(at)) == 24
    assert "470 of 470 lines match" in _texts(at)
    assert len(at.get("image")) >= 24

    # filter: images with no labels (42 in this file), then free text on source-ref
    at.checkbox(key="viewer_f_empty").check().run()
    _no_exception(at)
    assert "42 of 470 lines match" in _texts(at)
    at.checkbox(key="viewer_f_empty").uncheck().run()
    at.text_input(key="viewer_f_text").input("BCBSopening").run()
    keys = _open_buttons(at)
    assert keys and len(keys) < 24
    assert "viewer_open_1" in keys  # line 2 is 090315_BCBSopening51.jpg

    # select the image: detail panel with its annotation table
    at.button(key="viewer_open_1").click().run()
    _no_exception(at)
    assert "Line 2: 1 box" in [s.value for s in at.subheader]
    table = _frames(at, "class_name", "left", "confidence")[0]
    assert table[["left", "top", "width", "height"]].values.tolist() == [[94.0, 115.0, 111.0, 57.0]]
    assert table["class_name"].tolist() == ["BCBS"]
    assert any("090315_BCBSopening51.jpg" in str(j.value) for j in at.json)


def test_classification_and_statistics(page_ctx: Context, people: type[People]) -> None:
    realdata = realdata_or_skip()
    p = people(page_ctx)
    at = _open_path(_page(p.token(p.admin())), realdata / "ic-coral-4class" / "output.manifest")
    _no_exception(at)
    classes = _frames(at, "class_name", "labels", "images")[0]
    assert dict(zip(classes["class_name"], classes["labels"], strict=True)) == {
        "Definitely yes": 58, "Probably yes": 111, "Probably no": 18, "Definitely no": 42
    }  # fmt: skip
    at.sidebar.multiselect(key="viewer_f_class").select(2).run()
    assert "18 of 229 lines match" in _texts(at)
    at.checkbox(key="viewer_f_low").check().run()
    at.slider(key="viewer_f_thr").set_value(0.6).run()
    _no_exception(at)
    assert "of 229 lines match" in _texts(at)


def test_demo_job_compare_provenance_and_export(page_ctx: Context, people: type[People], demo_job: DemoJob) -> None:
    p = people(page_ctx)
    at = _open_path(_page(p.token(p.auditor())), demo_job.manifest)
    _no_exception(at)
    at.selectbox(key="viewer_compare").select_index(1).run()
    at.radio(key="viewer_f_adj").set_value("adjusted").run()
    assert "3 of 8 lines match" in _texts(at)  # lines 0, 3, 6
    at.radio(key="viewer_f_adj").set_value("all").run()
    at.button(key="viewer_open_0").click().run()
    _no_exception(at)
    a, b = _frames(at, "class_name", "left", "confidence")[:2]
    assert (b["left"] - a["left"]).tolist() == [10.0, 10.0]  # the adjustment moved both boxes
    workers = [t.value for t in at.text if t.value.startswith("private.local.")]
    assert len(workers) == 2
    w0 = _frames(at, "class_name", "left")[3]  # after the two annotation tables and the first worker
    assert w0["left"].tolist() == [34.0, 184.0]  # the second worker's own boxes (shifted by 4)

    at.radio(key="viewer_x_fmt").set_value("yolo").run()
    at.button(key="viewer_x_build").click().run()
    _no_exception(at)
    assert "8 images, 11 boxes exported" in _texts(at)
    assert at.get("download_button")


def test_worker_is_turned_away_and_paths_are_confined(page_ctx: Context, people: type[People]) -> None:
    p = people(page_ctx)
    at = _page(p.token(p.worker("team-a")))
    assert any("needs the admin or auditor role" in w.value for w in at.warning)
    assert not at.get("segmented_control")
    at = _open_path(_page(p.token(p.auditor())), "/etc/passwd")
    assert any("outside the allowed local folders" in e.value for e in at.error)
    assert not _open_buttons(at)


REALDATA_FILES = (
    sorted(str(p.relative_to(REALDATA)) for p in REALDATA.glob("*/*.manifest")) if REALDATA.is_dir() else []
)


@pytest.mark.parametrize("rel", REALDATA_FILES or ["(realdata missing)"])
def test_every_realdata_file_opens_in_the_page(rel: str, page_ctx: Context, people: type[People]) -> None:
    realdata = realdata_or_skip()
    path = realdata / rel
    lines = path.read_bytes().count(b"\n")
    p = people(page_ctx)
    at = _open_path(_page(p.token(p.auditor())), path)
    _no_exception(at)
    assert f"{lines} lines" in _texts(at)
    assert f"{lines} of {lines} lines match" in _texts(at)
    assert len(_open_buttons(at)) == min(24, lines)
    assert len(at.get("image")) >= min(24, lines)  # tiles (placeholders: the S3 images are out of reach)
    at.button(key=_open_buttons(at)[0]).click().run()
    _no_exception(at)
    assert any(s.value.startswith("Line ") for s in at.subheader)


def test_upload_and_labels_per_worker(page_ctx: Context, people: type[People], demo_job: DemoJob) -> None:
    realdata = realdata_or_skip()
    p = people(page_ctx)
    at = _page(p.token(p.auditor()))
    at.segmented_control(key="viewer_kind").set_value("Upload").run()
    data = (realdata / "ic-vehicles-2023" / "output.manifest").read_bytes()
    at.file_uploader(key="viewer_upload").set_value(("vehicles.manifest", data, "application/octet-stream")).run()
    at.button(key="viewer_open").click().run()
    _no_exception(at)
    assert "upload:vehicles.manifest: 10 lines" in _texts(at)
    assert len(_open_buttons(at)) == 10
    assert "Labels per worker: unknown" in _texts(at)

    at = _open_path(at, demo_job.manifest)
    at.button(key="viewer_workers").click().run()
    _no_exception(at)
    table = _frames(at, "worker_id", "answers", "labels")[0]
    assert table["answers"].tolist() == [8, 8] and table["labels"].tolist() == [11, 11]


def test_large_manifest_waits_for_its_index_then_shows_everything(
    page_ctx: Context, people: type[People], demo_job: DemoJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 28: a large file (here: any file, the threshold lowered) is indexed by a background worker, never in
    the request; meanwhile the page says so and shows the first lines; then filters, compare and statistics."""
    from gtcore.viewer import index
    from gtcore.work import runner

    monkeypatch.setattr(index, "INDEX_FROM_BYTES", 0)
    p = people(page_ctx)
    at = _open_path(_page(p.token(p.auditor())), demo_job.manifest)
    _no_exception(at)
    texts = _texts(at)
    assert "waiting for a background worker to index it" in texts, texts
    assert "Read directly from the start of the file" in texts
    assert len(_open_buttons(at)) == 8  # the first lines' tiles, each can be opened
    assert not index.paths(page_ctx.settings, str(demo_job.manifest))[0].exists()
    assert runner.run_until_idle(page_ctx, kinds=[index.WORK_KIND]) == 1
    at.run()
    _no_exception(at)
    assert "waiting for a background worker" not in _texts(at)
    at.selectbox(key="viewer_compare").select_index(1).run()
    at.radio(key="viewer_f_adj").set_value("adjusted").run()
    assert "3 of 8 lines match" in _texts(at)  # the same answer as the whole-file path
    at.radio(key="viewer_f_adj").set_value("all").run()
    at.button(key="viewer_open_0").click().run()
    _no_exception(at)
    a, b = _frames(at, "class_name", "left", "confidence")[:2]
    assert (b["left"] - a["left"]).tolist() == [10.0, 10.0]
    assert len([t.value for t in at.text if t.value.startswith("private.local.")]) == 2  # worker answers
    assert "gtcore export --format coco --label-attribute boxes" in _texts(at)  # exports: the streaming CLI
    assert not at.get("download_button")


def test_large_text_manifest_points_to_the_command_line(
    page_ctx: Context, people: type[People], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text attribute's list reads every line: for an indexed (large) file the page gives the export command."""
    import json

    from gtcore.viewer import index

    monkeypatch.setattr(index, "INDEX_FROM_BYTES", 0)
    path = tmp_path / "text.manifest"
    meta = {"class-name": "spam", "type": "groundtruth/text-classification", "human-annotated": "yes"}
    path.write_text("".join(json.dumps({"source": f"text {i}", "t": 0, "t-metadata": meta}) + "\n" for i in range(5)))
    index.build(page_ctx, str(path))
    p = people(page_ctx)
    at = _open_path(_page(p.token(p.auditor())), path)
    _no_exception(at)
    assert f"gtcore export --format jsonl --label-attribute t {path}" in _texts(at)

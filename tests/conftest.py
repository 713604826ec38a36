"""Shared fixtures. Fixture modules live in tests/fixtures/ and are loaded as plugins."""

import os
import threading

import pytest

# In-process AppTest runs of app.py must not start the embedded background worker thread: tests run the work
# explicitly (tests.fixtures.core.run_work). Real `streamlit run` servers started by tests get it (tests/browser.py).
os.environ["GT_EMBEDDED_WORKER"] = "0"

pytest_plugins = [
    "tests.fixtures.core",
    "tests.fixtures.services",
    "tests.fixtures.people",
    "tests.fixtures.queue",
    "tests.fixtures.browser",
    "tests.fixtures.jobs",
    "tests.fixtures.viewer",
    "tests.fixtures.labeling",
    "tests.fixtures.autolabel",
    "tests.fixtures.oidc",
]


@pytest.fixture(autouse=True)
def _no_embedded_worker_unless_asked(request: pytest.FixtureRequest):
    """Fail a test that leaves an embedded background worker thread running in pytest's own process (an AppTest
    run whose environment lost ``GT_EMBEDDED_WORKER=0``): tests run background work explicitly."""
    before = {t.ident for t in threading.enumerate() if t.name.startswith("embedded-")}
    yield
    stray = [t.name for t in threading.enumerate() if t.name.startswith("embedded-") and t.ident not in before]
    if stray:
        pytest.fail(f"an embedded background worker started inside pytest: {stray} (GT_EMBEDDED_WORKER=0 was lost)")


@pytest.fixture(autouse=True)
def _linear_head_only_unless_marked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Automated labeling's rounds run with the linear head alone in tests not marked ``map_head``: the map head
    (the linear head's rival, 10-25 s of training a round on 2 cores) has its own tests
    (``tests/test_autolabel_maphead.py``). Workers and servers started as subprocesses use the product's value."""
    if request.node.get_closest_marker("map_head") is None:
        from gtcore.autolabel import maphead

        monkeypatch.setattr(maphead, "MIN_LABELS", 10**9)
    yield

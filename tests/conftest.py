"""Shared fixtures. Fixture modules live in tests/fixtures/ and are loaded as plugins."""

import os

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

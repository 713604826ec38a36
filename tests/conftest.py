"""Shared fixtures. Fixture modules live in tests/fixtures/ and are loaded as plugins."""

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
]

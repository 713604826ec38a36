"""The ``gtcore`` command as a whole: the README's command list matches ``gtcore --help``, chain's task types come
from the task-type catalogue, and every failure is a one-line message (exit 1), never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gtcore.cli.command import build_parser
from gtcore.core import tasktypes

REPO = Path(__file__).resolve().parents[1]


def _subcommands() -> set[str]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return set(sub.choices)  # type: ignore[arg-type]


def test_readme_command_list_matches_gtcore_help() -> None:
    block = (REPO / "README.md").read_text().split("## Command line", 1)[1].split("```", 2)[1]
    named = set(re.findall(r"gtcore ([a-z][a-z-]*)", block)) | set(re.findall(r"/ ([a-z]+-[a-z-]+)", block))
    real = _subcommands()
    assert named - real == set(), f"the README names commands gtcore does not have: {sorted(named - real)}"
    assert real - named == set(), f"gtcore has commands the README's Command line section omits: {sorted(real - named)}"


def test_chain_offers_every_task_type_of_the_catalogue() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    chain = sub.choices["chain-labeling-job"]  # type: ignore[index]
    (opt,) = [a for a in chain._actions if "--task-type" in a.option_strings]
    assert set(opt.choices) == set(tasktypes.TASK_TYPES)
    for source in tasktypes.TASK_TYPES:  # every target the catalogue allows is accepted by the command line
        assert set(tasktypes.chain_targets(source)) <= set(opt.choices)


def _run(args: list[str], tmp_path: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GT_") or k.startswith("GT_TEST_")}
    env.update({"GT_HOME": str(tmp_path / "home"), "GT_LOCAL_ROOTS": str(tmp_path), "GT_EMBEDDED_WORKER": "0"})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "gtcore.cli.command", *args],
        input=stdin, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["create-admin", "--email", "lead@example.com"], "secret\n", "pass --password-stdin"),
        (["create-labeling-job", "--cli-input-json", "file:///nonexistent/job.json"], "", "/nonexistent/job.json"),
        (["validate-manifest", "/nonexistent/in.manifest"], "", "nonexistent"),
        (["describe-labeling-job", "--labeling-job-name", "nobody"], "", "nobody"),
    ],
)
def test_every_failure_is_a_message_not_a_traceback(tmp_path: Path, args: list[str], stdin: str, says: str) -> None:
    r = _run(args, tmp_path, stdin)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    assert says in r.stderr, r.stderr

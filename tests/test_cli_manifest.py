"""`gtcore generate-manifest` and `gtcore validate-manifest`, run in-process through gtcore.cli.command.main."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from gtcore.cli.command import main

CORPUS = Path(__file__).parent / "data" / "bad_manifests"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "gt-home"
    monkeypatch.setenv("GT_HOME", str(home))
    monkeypatch.setenv("GT_LOCAL_ROOTS", str(tmp_path))
    for name in ("GT_DATABASE_URL", "GT_S3_ENDPOINT_URL", "GT_ALLOWED_BUCKETS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_generate_prints_the_uri_it_wrote(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images = env / "imgs"
    (images / "sub").mkdir(parents=True)
    for rel in ("a.JPG", "sub/b.png", "notes.txt"):
        (images / rel).write_bytes(b"x")
    assert main(["generate-manifest", str(images)]) == 0
    out, err = capsys.readouterr()
    uri = out.strip()
    assert re.fullmatch(re.escape(str(images)) + r"/dataset-\d{8}T\d{6}\.manifest", uri)
    assert Path(uri).read_text() == (
        '{"source-ref":"' + str(images / "a.JPG") + '"}\n{"source-ref":"' + str(images / "sub/b.png") + '"}\n'
    )
    assert "2 line(s)" in err


def test_generate_with_output(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (env / "imgs").mkdir()
    (env / "imgs" / "a.jpeg").write_bytes(b"x")
    out_uri = env / "m" / "input.manifest"
    assert main(["generate-manifest", str(env / "imgs"), "--output", str(out_uri)]) == 0
    assert capsys.readouterr().out.strip() == str(out_uri)
    assert out_uri.is_file()


def test_generate_errors_exit_1(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (env / "empty").mkdir()
    assert main(["generate-manifest", str(env / "empty")]) == 1
    assert str(env / "empty") in capsys.readouterr().err
    assert main(["generate-manifest", "/usr/share"]) == 1
    assert "/usr/share" in capsys.readouterr().err


def test_validate_clean(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = env / "ok.manifest"
    path.write_text('{"source-ref":"s3://gt-bucket/a.jpg"}\n{"source":"text"}\n')
    assert main(["validate-manifest", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: 2 lines, no problems\n"


def test_validate_prints_every_problem_with_its_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = env / "multi.manifest"
    shutil.copy(CORPUS / "multi_problem.manifest", path)
    assert main(["validate-manifest", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [int(m.group(1)) for line in out if (m := re.search(r", line (\d+)", line))] == [2, 3, 4, 5, 6, 6, 7, 8, 9]
    assert all(line.startswith(str(path)) for line in out)
    assert out[-1] == f"{path}: 9 problem(s)"


def test_validate_missing_file_exits_1(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-manifest", str(env / "nope.manifest")]) == 1
    assert "nope.manifest" in capsys.readouterr().err


def test_validate_real_output_manifest(
    realdata: Path, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GT_LOCAL_ROOTS", os.pathsep.join([str(env), str(realdata)]))
    path = realdata / "bbox-bcbs-logo-1worker" / "output.manifest"
    assert main(["validate-manifest", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: 470 lines, no problems\n"


@pytest.mark.parametrize("command", ["generate-manifest", "validate-manifest"])
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert f"gtcore {command}" in text
    assert ("Exit status 0" in text) if command == "validate-manifest" else ("--output" in text)

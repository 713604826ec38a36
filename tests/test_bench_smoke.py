"""Every script in ``bench/`` runs, with tiny sizes (issue 28: two benches had broken on main unnoticed).

Each script is started as its own process exactly as a person would (``python bench/x.py ...``) with the
smallest sizes it accepts; the test checks it ends with status 0 and prints something. Helper modules (imported
by the benches, no command line) are imported. A new script in ``bench/`` without an entry here fails
``test_every_bench_script_is_covered``, so the list cannot silently fall behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"

# script -> its arguments ("{tmp}" is a fresh folder); None: a helper module, imported only
TINY: dict[str, list[str] | None] = {
    "bench_api.py": ["--jobs", "50", "--seconds", "1", "--clients", "1", "--rounds", "1"],
    "bench_decode.py": ["--side", "1000"],
    "bench_scaleout.py": ["--objects", "20", "--needed", "2", "--annotators", "2", "--workers", "1"],
    "bench_text.py": ["--objects", "200", "--pairs", "20", "--sim", "100", "--ner-tasks", "2", "--skip-browser"],
    "bench_autolabel.py": ["--images", "{tmp}/digits", "--truth", "{tmp}/digits/truth.json",
                           "--task-type", "ImageClassification", "--answer-seconds", "0", "--background", "1"],
    "bench_canvas.py": ["--tasks", "2", "--max-side", "256"],
    "bench_crowd.py": ["--sizes", "200", "--seeds", "1"],
    "bench_jobform.py": ["--images", "5", "--jobs", "3", "--repeat", "1"],
    "bench_drain.py": ["--objects", "120", "--workers", "1", "2", "--db", "sqlite"],
    "bench_growth.py": ["--sizes", "300", "--pairs", "20", "--dir", "{tmp}/growth"],
    "bench_jobs.py": ["--lines", "200", "--repeat", "2"],
    "bench_label.py": ["--tasks", "10", "--fit-tasks", "0", "--mask-tasks", "2", "--size", "1600x1200",
                       "--dir", "{tmp}/label"],
    "bench_manifest.py": ["--files", "50", "--lines", "100", "--repeat", "1", "--dir", "{tmp}/manifest"],
    "bench_output.py": ["--objects", "50", "--dir", "{tmp}/output"],
    "bench_queue.py": ["--objects", "40", "--procs", "1", "2", "--db", "sqlite", "--rounds", "1"],
    "bench_segmentation.py": [],
    "bench_viewer.py": ["--lines", "300", "--images", "4", "--size", "640x480", "--repeat", "1", "--dir", "{tmp}/v"],
    "bench_work.py": ["--objects", "30", "--live", "2", "--workers", "1"],
    "bench_workforce.py": ["--db", "sqlite", "--rounds", "2", "--leases", "20"],
    "make_digits.py": ["{tmp}/digits-only", "--count", "20"],
    "make_shapes.py": ["{tmp}/shapes", "--count", "10"],
    "profile_queue.py": ["--objects", "40", "--procs", "1", "--db", "sqlite"],
    "report_reliability.py": ["--procs", "3", "--objects", "20", "--needed", "2", "--db", "sqlite"],
    "bench_autosegment.py": ["--shapes", "2", "--pcb", "{shared}/realdata/semseg-pcb"],
    "bench_embeddings.py": ["{tmp}/photos", "--labels", "12", "--validation", "12"],
    "make_photos.py": ["{tmp}/photos-only", "--count", "12"],
    "make_letters.py": ["{tmp}/letters", "--count", "12"],
    "make_scenes.py": ["{tmp}/scenes", "--count", "2"],
    "make_blobs.py": ["{tmp}/blobs", "--count", "4"],
    "bench_noisy_bound.py": ["--validation", "60", "--draws", "2"],
    "bench_map_head.py": ["{tmp}/letters-head", "--labels", "8", "--epochs", "1", "--validation", "8"],
    "bench_crowd_parts.py": None,
    "bench_caches.py": None,
    "bench_quality.py": None,
    "bench_annotators.py": None,
    "bench_label_jobs.py": None,
    "crowd_sim.py": None,
    "queue_bare.py": None,
}  # fmt: skip
NEEDS_BROWSER = {"bench_label.py"}


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["GT_AUTOLABEL_MIN_OBJECTS"] = "20"  # bench_autolabel's tiny dataset (the floor the settings allow)
    env.pop("GT_DATABASE_URL", None)
    env["GT_HOME"] = str(tmp / "home")
    return env


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=tmp, env=_env(tmp), capture_output=True, text=True,
                          timeout=900)  # fmt: skip


def test_every_bench_script_is_covered() -> None:
    missing = sorted(p.name for p in BENCH.glob("*.py") if p.name not in TINY)
    assert missing == [], f"add {missing} to TINY in tests/test_bench_smoke.py (the smallest sizes it accepts)"


@pytest.mark.parametrize("script", sorted(TINY))
def test_bench_script_runs_tiny(script: str, tmp_path: Path) -> None:
    args = TINY[script]
    if not (BENCH / script).exists():
        pytest.skip(f"{script} is not in this tree")
    if args is None:
        done = _run(["-c", f"import sys; sys.path.insert(0, {str(BENCH)!r}); import {script[:-3]}"], tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        return
    if script in NEEDS_BROWSER and not Path(os.environ.get("GT_CHROMIUM", "/usr/bin/chromium")).exists():
        pytest.skip("no Chromium for the browser bench")
    if script == "bench_autolabel.py":
        made = _run([str(BENCH / "make_digits.py"), str(tmp_path / "digits"), "--count", "40"], tmp_path)
        assert made.returncode == 0, made.stderr[-3000:]
    if script == "bench_map_head.py":
        made = _run([str(BENCH / "make_letters.py"), str(tmp_path / "letters-head"), "--count", "30"], tmp_path)
        assert made.returncode == 0, made.stderr[-3000:]
    if script == "bench_embeddings.py":
        made = _run([str(BENCH / "make_photos.py"), str(tmp_path / "photos"), "--count", "40"], tmp_path)
        assert made.returncode == 0, made.stderr[-3000:]
    shared = REPO.parent / "shared"
    filled = [a.replace("{tmp}", str(tmp_path)).replace("{shared}", str(shared)) for a in args]
    done = _run([str(BENCH / script), *filled], tmp_path)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    assert done.stdout.strip(), f"{script} printed nothing"

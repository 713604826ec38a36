"""Benchmark: the team lead's pages. Data setup, manifest check and Create through the form's core, then the
Create job and Jobs pages under Streamlit's AppTest (one full script run each, as a rerun costs).

    python bench/bench_jobform.py [--images 10000] [--jobs 200] [--repeat 5]

Figures printed (seconds unless noted):

- data setup: list a local folder of N images and write the input manifest;
- manifest check: read and validate the N-line manifest (what "Check manifest" does);
- create from form: write the label file, validate everything, insert the job and its N objects (SQLite);
- Create page rerun: one run of pages/create_job.py with the sample data loaded (median of --repeat), and with
  the preview (the annotators' screen with the canvas) switched on;
- Jobs page rerun: one run of pages/jobs.py listing --jobs jobs with a job's detail (median of --repeat).

No target is asserted here; the README quotes the figures.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from gtcore.context import Context  # noqa: E402
from gtcore.core.settings import Settings  # noqa: E402
from gtcore.jobform.create import create_from_form  # noqa: E402
from gtcore.jobform.data import check_manifest, run_data_setup  # noqa: E402
from gtcore.jobform.model import JobForm, default_output  # noqa: E402
from gtcore.jobs import api as jobs  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(buf, format="PNG")
    return buf.getvalue()


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _median_run(at: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t, _ = _timed(at.run)
        assert not at.exception, [e.value for e in at.exception]
        times.append(t)
    return statistics.median(times)


def core(root: Path, ctx: Context, admin: Any, n: int) -> None:
    folder = root / "data" / "images"
    folder.mkdir(parents=True)
    data = _png()
    for i in range(n):
        (folder / f"img_{i:06d}.png").write_bytes(data)
    t_setup, setup = _timed(lambda: run_data_setup(ctx, admin, str(folder)))
    t_check, check = _timed(lambda: check_manifest(ctx, admin, setup.manifest_uri))
    assert check.ok and check.count == n
    form = JobForm(
        name=f"bench-{n}",
        manifest_uri=setup.manifest_uri,
        object_count=n,
        output_path=default_output(str(ctx.settings.home), str(folder)),
        labels=["cat", "dog", "bird"],
        title="Draw boxes",
        description="Box every animal",
        team="bench-team",
    )
    t_create, made = _timed(lambda: create_from_form(ctx, admin, form))
    assert made.total_objects == n
    print(f"data setup, {n:,} local images:            {t_setup:8.3f} s")
    print(f"manifest check, {n:,} lines:               {t_check:8.3f} s")
    print(f"create from form, {n:,} objects (SQLite):  {t_create:8.3f} s")


def pages(root: Path, ctx: Context, people: Any, admin: Any, n_jobs: int, repeat: int) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.fixtures.jobs import JobFactory

    token = people.token(admin)
    at = AppTest.from_file(str(REPO / "pages" / "create_job.py"), default_timeout=120)
    at.session_state["gt_token"] = token
    at.run()
    at.button(key="cj_sample").click().run()
    assert not at.exception
    print(f"Create page rerun, sample data loaded:      {_median_run(at, repeat):8.3f} s (median of {repeat})")
    at.toggle(key="cj_preview").set_value(True).run()
    assert not at.exception
    print(f"Create page rerun, preview on:              {_median_run(at, repeat):8.3f} s (median of {repeat})")

    factory = JobFactory(ctx, root / "jobs")
    t0 = time.perf_counter()
    for i in range(n_jobs):
        factory.create(name=f"list-{i:04d}", n_images=1, team="bench-team")
    made = time.perf_counter() - t0
    at = AppTest.from_file(str(REPO / "pages" / "jobs.py"), default_timeout=120)
    at.session_state["gt_token"] = token
    at.run()
    assert len(at.dataframe[0].value) == n_jobs + 1
    print(
        f"Jobs page rerun, {n_jobs + 1} jobs + detail:          {_median_run(at, repeat):8.3f} s "
        f"(median of {repeat}; {n_jobs} jobs made in {made:.1f} s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-jobform-") as tmp:
        root = Path(tmp)
        home = root / "gt-home"
        env = {"GT_HOME": str(home), "GT_DATABASE_URL": f"sqlite:///{home / 'gt.sqlite3'}", "GT_LOCAL_ROOTS": str(root)}
        os.environ.update(env)  # the pages read the environment through get_context()
        for name in ("GT_S3_ENDPOINT_URL", "GT_ALLOWED_BUCKETS", "GT_SMTP_HOST"):
            os.environ.pop(name, None)
        ctx = Context.from_settings(Settings.from_env(env, cwd=root))
        from tests.fixtures.people import People

        people = People(ctx)
        admin = people.admin()
        people.team("bench-team")
        print(f"bench_jobform: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        core(root, ctx, admin, args.images)
        pages(root, ctx, people, admin, args.jobs, args.repeat)
        print(f"jobs in the database at the end: {len(jobs.list_jobs(ctx, admin))}")
        ctx.db.dispose()


if __name__ == "__main__":
    main()

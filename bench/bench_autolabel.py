"""Benchmark: automated data labeling end to end, as a team would run it.

    python bench/bench_autolabel.py --images DIR --truth FILE
                                    --task-type ImageClassification|BoundingBox|SemanticSegmentation
                                    [--worker-error 0.05] [--workers 3] [--answer-seconds 2]
                                    [--annotators 3] [--batch 100] [--background 2]
                                    [--embeddings-cache FILE.npz] [--maps-cache FILE.npz]

Make DIR and FILE with ``python bench/make_digits.py DIR [--boxes] [--count N]`` (scikit-learn's digits,
upscaled; FILE = DIR/truth.json), or for semantic segmentation ``python bench/make_shapes.py DIR`` (synthetic
shapes with known masks; the labels are read from DIR/labels.txt); ``--boxes --mixed-sizes`` rescales the box
scenes to four sizes in one set. The script:

1. builds a fresh home (SQLite + local store in a temp folder) with a team of simulated annotators;
2. creates a job over every image in DIR through the real API (``gtcore.jobs.api.create_labeling_job``) with
   ``LabelingJobAlgorithmsConfig`` (the real 1,250-object rule applies), ``--workers`` annotators per object
   (NumberOfHumanWorkersPerDataObject) and MaxConcurrentTaskCount = ``--batch`` (default 100; Ground Truth's
   console uses 1000, which on 1,797 objects leaves too little for the model after the 20 % validation set);
3. starts ``--background 2`` real ``gtcore worker`` processes (they run the loop's train / infer steps), while
   this process plays ``--annotators`` people, one thread each: claim -> answer from FILE (wrong with probability
   ``--worker-error``; a box answer declares that image's own size) -> take ``--answer-seconds`` -> submit,
   through the real queue, until the job is final;
4. prints: objects, human-labeled, machine-labeled (count, fraction), the machine labels' accuracy
   (classification), mean IoU and precision / recall at IoU 0.5 (boxes) or mean IoU without BACKGROUND (masks)
   against FILE, the same for the whole output, wall time; per round: sent to people, trained on, the validation
   estimate, its 95 % lower bound, the threshold, the check on the round's fresh human labels, the threshold used,
   machine-labeled, and the REALIZED accuracy / mean IoU of that round's machine labels against FILE; how long
   annotators found nothing to claim while the job ran ("waited"), the background workers' peak RSS (VmHWM), and
   the load average (the machine is shared).

``--embeddings-cache FILE.npz`` (classification): the backbone's vectors of the set's images (by file name, for
the current backbone key) are stored into the new job before the workers start and the job's vectors are saved
back at the end, so runs of one set at several error rates pay the embedding once (``bench_embeddings.py``
measures its time); the loop's wall time then excludes embedding, and the script says so. ``--maps-cache
FILE.npz`` does the same for the block-10 maps the classification map head reads (``gtcore.autolabel.clsmaps``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_annotators as annotators  # noqa: E402
import bench_caches as caches  # noqa: E402
import bench_quality as quality  # noqa: E402

from gtcore.autolabel.status import loop_status  # noqa: E402
from gtcore.context import Context  # noqa: E402
from gtcore.core import autolabeling  # noqa: E402
from gtcore.core.access import Actor  # noqa: E402
from gtcore.core.settings import Settings  # noqa: E402
from gtcore.jobs import api as jobs  # noqa: E402
from tests.fixtures.core import make_team, make_user  # noqa: E402

SYSTEM = Actor.system_actor()
SEMSEG = "SemanticSegmentation"
SUFFIX = {"ImageClassification": "ImageMultiClass", "BoundingBox": "BoundingBox", SEMSEG: SEMSEG}
FAMILY = autolabeling.ALGORITHM_FAMILY
ATTR = "bench-autolabel"


def _env(home: Path, images: Path) -> dict[str, str]:
    return {
        "GT_HOME": str(home),
        "GT_LOCAL_ROOTS": os.pathsep.join([str(home), str(images.resolve())]),
        "GT_DATABASE_URL": f"sqlite:///{home / 'gt.sqlite3'}",
        # the 1,250-object floor of automated labeling, lowered only where asked (the smoke run's tiny sizes)
        **({"GT_AUTOLABEL_MIN_OBJECTS": v} if (v := os.environ.get("GT_AUTOLABEL_MIN_OBJECTS")) else {}),
    }


def _labels(truth: dict[str, Any], task_type: str, images: Path) -> list[str]:
    if task_type == SEMSEG:
        return (images / "labels.txt").read_text().split()
    if task_type == "ImageClassification":
        return sorted({str(v) for v in truth.values()})
    return sorted({str(b["label"]) for boxes in truth.values() for b in boxes})


def _request(name: str, manifest: Path, labels_file: Path, out: Path, task_type: str, workers: int, batch: int) -> dict:
    s = SUFFIX[task_type]
    return {
        "LabelingJobName": name,
        "LabelAttributeName": name + ("-ref" if task_type == SEMSEG else ""),
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": str(manifest)}}},
        "OutputConfig": {"S3OutputPath": str(out)},
        "RoleArn": "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole",
        "LabelCategoryConfigS3Uri": str(labels_file),
        "HumanTaskConfig": {
            "WorkteamArn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/bench",
            "PreHumanTaskLambdaArn": f"arn:aws:lambda:us-east-1:432418664414:function:PRE-{s}",
            "TaskTitle": "Bench",
            "TaskDescription": "Label the digits",
            "NumberOfHumanWorkersPerDataObject": workers,
            "TaskTimeLimitInSeconds": 300,
            "TaskAvailabilityLifetimeInSeconds": 864000,
            "MaxConcurrentTaskCount": batch,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": f"arn:aws:lambda:us-east-1:432418664414:function:ACS-{s}"
            },
        },
        "LabelingJobAlgorithmsConfig": {
            "LabelingJobAlgorithmSpecificationArn": "arn:aws:sagemaker:us-east-1:027400017018:"
            f"labeling-job-algorithm-specification/{FAMILY[task_type]}"
        },
    }


def _peak_rss_mb(pid: int) -> float | None:
    """A live process's peak resident set size (VmHWM, Linux), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--task-type", choices=list(FAMILY), required=True)
    ap.add_argument("--worker-error", type=float, default=0.0)
    ap.add_argument("--answer-seconds", type=float, default=0.0, help="each simulated answer takes this long")
    ap.add_argument("--annotators", type=int, default=3, help="simulated people working at once (threads)")
    ap.add_argument("--workers", type=int, default=1, help="annotators per object (NumberOfHumanWorkersPerDataObject)")
    ap.add_argument("--batch", type=int, default=100, help="MaxConcurrentTaskCount")
    ap.add_argument("--background", type=int, default=2, help="gtcore worker processes")
    ap.add_argument("--embeddings-cache", type=Path, help="classification: reuse / keep the set's backbone vectors")
    ap.add_argument("--maps-cache", type=Path, help="classification: reuse / keep the set's block-10 maps")
    args = ap.parse_args()
    truth = json.loads(args.truth.read_text())
    images = sorted(p for p in args.images.resolve().iterdir() if p.name in truth)
    labels = _labels(truth, args.task_type, args.images)
    home = Path(tempfile.mkdtemp(prefix="gt-bench-autolabel-"))
    env = _env(home, args.images)
    ctx = Context.from_settings(Settings.from_env(env, cwd=home))
    team = make_team(ctx.db, "bench")
    people = [
        make_user(ctx.db, f"a{i}@example.com", team_ids=(team,)) for i in range(max(args.annotators, args.workers))
    ]
    manifest = home / "input.manifest"
    manifest.write_text("".join(json.dumps({"source-ref": str(p)}) + "\n" for p in images))
    labels_file = home / "labels.json"
    labels_file.write_text(json.dumps({"document-version": "2018-11-28", "labels": [{"label": x} for x in labels]}))
    sizes = {}
    from PIL import Image

    for p in images:
        with Image.open(p) as im:
            sizes[p.name] = (int(im.width), int(im.height))
    kinds = sorted(set(sizes.values()))
    print(f"image sizes: {len(kinds)} different ({', '.join(f'{w}x{h}' for w, h in kinds[:6])}"
          f"{' ...' if len(kinds) > 6 else ''})")  # fmt: skip
    print(f"load average at start: {os.getloadavg()}")
    t0 = time.perf_counter()
    req = _request("bench-autolabel", manifest, labels_file, home / "output", args.task_type, args.workers, args.batch)
    job_id = jobs.create_labeling_job(ctx, SYSTEM, req).job_id
    if args.embeddings_cache:
        print(f"embeddings from {args.embeddings_cache}: {caches.cache_in(ctx, job_id, args.embeddings_cache)} "
              "(the wall time excludes embedding those)")  # fmt: skip
    if args.maps_cache:
        print(f"block-10 maps from {args.maps_cache}: {caches.maps_in(ctx, job_id, args.maps_cache)} "
              "(the wall time excludes computing those)")  # fmt: skip
    code = "import sys; from gtcore.cli.command import main; sys.exit(main(['worker', '--poll-seconds', '0.2']))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env={**os.environ, **env},
            cwd=str(Path(__file__).resolve().parents[1]),
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(args.background)
    ]
    peaks: dict[int, float] = {}
    stop = threading.Event()

    def watch_rss() -> None:  # VmHWM is kept by the kernel; read it while the workers live
        while not stop.wait(1.0):
            for p in procs:
                mb = _peak_rss_mb(p.pid)
                if mb is not None:
                    peaks[p.pid] = max(peaks.get(p.pid, 0.0), mb)

    watcher = threading.Thread(target=watch_rss, daemon=True)
    watcher.start()
    try:
        waited = annotators.annotate_until_final(
            ctx, people, job_id, truth, labels, args.worker_error, sizes, args.answer_seconds
        )
    finally:
        for p in procs:
            mb = _peak_rss_mb(p.pid)
            if mb is not None:
                peaks[p.pid] = max(peaks.get(p.pid, 0.0), mb)
        stop.set()
        for p in procs:
            p.terminate()
        for p in procs:  # a worker finishes the step it is running (a training may take a minute) first
            try:
                p.wait(600)
            except subprocess.TimeoutExpired:
                p.kill()
    wall = time.perf_counter() - t0
    if args.embeddings_cache:
        caches.cache_out(ctx, job_id, args.embeddings_cache)
    if args.maps_cache:
        caches.maps_out(ctx, job_id, args.maps_cache)
    d = jobs.describe_labeling_job(ctx, SYSTEM, "bench-autolabel")
    c = d["LabelCounters"]
    lines = [json.loads(x) for x in ctx.storage.read_text(d["LabelingJobOutput"]["OutputDatasetS3Uri"]).splitlines()]
    n = len(images)
    print(f"task type: {args.task_type}; worker error {args.worker_error}; {args.workers} annotator(s) per object, "
          f"{args.answer_seconds} s per answer; "
          f"MaxConcurrentTaskCount {args.batch}; status {d['LabelingJobStatus']}")  # fmt: skip
    print(f"objects: {n}")
    print(f"human-labeled: {c['HumanLabeled']}")
    print(f"machine-labeled: {c['MachineLabeled']} ({c['MachineLabeled'] / n:.1%})")
    attr = ATTR + ("-ref" if args.task_type == SEMSEG else "")
    print(f"machine labels vs truth: {quality.quality(lines, attr, truth, labels, args.task_type, True)}")
    print(f"human labels vs truth:   {quality.quality(lines, attr, truth, labels, args.task_type, False)}")
    as_one = [x | {f"{attr}-metadata": {**x[f"{attr}-metadata"], "human-annotated": "no"}} for x in lines if attr in x]
    whole = quality.quality(as_one, attr, truth, labels, args.task_type, True)
    print(f"whole output vs truth:   {whole}")
    print(f"wall time: {wall:.1f} s; annotators found nothing to claim for {waited:.1f} s while the job ran")
    st = loop_status(ctx, SYSTEM, job_id)
    by_round = quality.machine_lines_by_round(ctx, job_id)
    target = autolabeling.target_for(args.task_type)
    print(f"per round (target {target[0]} {target[1]}, on a one-sided {autolabeling.CONFIDENCE:.0%} lower bound):")
    for it in st.iterations:
        if it.number < 3:
            print(f"  round {it.number}: sent {it.released} to people ({it.stage})")
            continue
        realized = (
            quality.quality(by_round[it.number], attr, truth, labels, args.task_type, True)
            if by_round.get(it.number)
            else "-"
        )

        def f(x: float | None) -> str:
            return "-" if x is None else f"{x:.3f}"

        checked = (  # the fresh labels at or above the threshold checked (none when no threshold was found)
            f"checked {f(it.check_metric)} on {it.check_count} fresh"
            if it.check_count
            else "checked - (no fresh label at or above a threshold)"
        )
        print(f"  round {it.number}: sent {it.released}; trained on {it.human_labeled} "
              f"in {it.training_seconds or 0:.1f} s; "
              f"estimate {f(it.metric)} bound {f(it.bound)} on {it.validation_count} validation -> threshold "
              f"{f(it.validation_threshold)}; {checked}; used "
              f"{f(it.threshold)} ({it.decision or it.stage}); inference {it.inference_seconds or 0:.1f} s; "
              f"machine-labeled {it.machine_labeled or 0}; REALIZED {realized}"
              + (f"; error: {it.error}" if it.error else ""))  # fmt: skip
    print(f"rounds with machine labels: {sum(1 for v in by_round.values() if v)}")
    rss = ", ".join(f"{mb:.0f}" for mb in peaks.values()) or "n/a"
    print(f"background workers' peak RSS (MB): {rss}")
    if st.error:
        print(f"loop error: {st.error}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()

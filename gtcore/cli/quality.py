"""`gtcore` subcommands for consolidation quality (extensions; nothing like them exists in Ground Truth).

    gtcore worker-quality --labeling-job-name NAME
    gtcore consolidate --manifest URI --worker-responses URI/annotations/worker-response/ --label-attribute NAME
                       --task-type ImageClassification|ImageMultiClassification|BoundingBox|... --output URI
                       [--label-category-config URI] [--job-name NAME]

``worker-quality`` prints the job status page's worker-quality table as JSON (``gtcore.jobs.quality``).
``consolidate`` re-runs this project's consolidation on a Ground Truth job's own worker-response tree
(``gtcore.output.reconsolidate``) and writes an output manifest; it needs no database.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gtcore.cli.common import context, operator, print_json
from gtcore.core import tasktypes
from gtcore.jobs.quality import job_quality
from gtcore.output.reconsolidate import reconsolidate


def _quality(args: argparse.Namespace) -> int:
    print_json(job_quality(context(), operator(), name=args.labeling_job_name).to_json())
    return 0


def _consolidate(args: argparse.Namespace) -> int:
    ctx = context()
    res = reconsolidate(
        ctx.storage,
        manifest_uri=args.manifest,
        responses_uri=args.worker_responses,
        label_attribute=args.label_attribute,
        task_type=args.task_type,
        output_uri=args.output,
        label_config_uri=args.label_category_config,
        job_name=args.job_name,
    )
    print_json(
        {
            "OutputManifest": res.output_uri,
            "Lines": res.lines,
            "Consolidated": res.consolidated,
            "Answers": res.answers,
            "WorkerResponseFiles": res.response_files,
            "Labels": res.labels,
        }
    )
    if res.consolidated == 0:
        print("warning: no worker response matched a manifest line", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "worker-quality",
        help="each worker's estimated accuracy, most frequent confusion and spammer/adversary flags (JSON)",
        description="Fit the single-label consolidation model on the job's answers (gold objects as fixed "
        "truths) and print every worker's estimated accuracy, most frequent confusion, flags and gold score.",
    )
    p.add_argument("--labeling-job-name", required=True, metavar="NAME", help="the labeling job's name")
    p.set_defaults(func=_quality)

    p = sub.add_parser(
        "consolidate",
        help="re-consolidate a Ground Truth job from its worker-response files into an output manifest",
        description="Read <job>/annotations/worker-response/ (any iteration layout) and the job's input or "
        "output manifest, consolidate with this project's algorithms and write an output manifest.",
    )
    p.add_argument("--manifest", required=True, metavar="URI", help="the job's input or output manifest")
    p.add_argument("--worker-responses", required=True, metavar="URI", help=".../annotations/worker-response/")
    p.add_argument("--label-attribute", required=True, metavar="NAME", help="the label attribute to write")
    p.add_argument("--task-type", required=True, choices=list(tasktypes.TASK_TYPES), help="the job's task type")
    p.add_argument("--output", required=True, metavar="URI", help="where to write the output manifest")
    p.add_argument("--label-category-config", metavar="URI", help="the job's label category config (class order)")
    p.add_argument("--job-name", metavar="NAME", help="job name for job-name (default: from the folder)")
    p.set_defaults(func=_consolidate)

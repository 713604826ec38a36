"""`gtcore` subcommands for labeling jobs, spelled like the AWS CLI's ``aws sagemaker ...`` commands.

    gtcore create-labeling-job --cli-input-json file://job.json
    gtcore describe-labeling-job --labeling-job-name NAME
    gtcore list-labeling-jobs [--name-contains S] [--status-equals STATUS] [--sort-by Name|CreationTime|Status]
                              [--sort-order Ascending|Descending] [--max-results N] [--next-token T]
    gtcore stop-labeling-job --labeling-job-name NAME
    gtcore clone-labeling-job --labeling-job-name OLD --new-labeling-job-name NEW        (gtcore extension)
    gtcore chain-labeling-job --labeling-job-name OLD --new-labeling-job-name NEW
                              [--label-attribute-name ATTR] [--task-type TYPE]  (extension)

Output is JSON shaped like the AWS CLI's (timestamps in ISO 8601 with UTC offset). There is no delete.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from gtcore.cli.common import context, operator, print_json
from gtcore.core import tasktypes
from gtcore.core.errors import Problem, SpecError
from gtcore.jobs import api as jobs
from gtcore.jobs.listing import SORT_BY, SORT_ORDER, STATUSES


def _iso(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {k: _iso(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_iso(v) for v in obj]
    return obj


def read_cli_input(value: str) -> tuple[dict[str, Any], Path, str]:
    """``file://job.json`` (relative to the working directory) or the JSON text itself.

    Returns the request, the folder relative local paths inside it are resolved against (the file's
    folder, or the working directory for inline JSON) and a name for messages.
    """
    if value.startswith("file://"):
        path = Path(value[len("file://") :]).expanduser()
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise SpecError(
                [Problem(f"cannot read the job spec file: {exc.strerror or exc}", where=str(path))],
                summary="--cli-input-json could not be read",
            ) from None
        return jobs.load_request(text, where=str(path)), path.resolve().parent, str(path)
    if value.lstrip().startswith("{"):
        return jobs.load_request(value, where="--cli-input-json"), Path.cwd(), "--cli-input-json"
    raise SpecError(
        [Problem("give file://<path to the job JSON> or the JSON text itself", field="--cli-input-json")],
        summary=f"--cli-input-json {value[:60]!r} is neither file://... nor JSON",
    )


def _time(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a time (ISO 8601 or epoch seconds)") from None
    return when.timestamp()


def _create(args: argparse.Namespace) -> int:
    request, base, where = read_cli_input(args.cli_input_json)
    if args.labeling_job_name:
        request["LabelingJobName"] = args.labeling_job_name
    request = jobs.resolve_relative_paths(request, base)
    summary = jobs.create_labeling_job(context(), operator(), request, where=where)
    print_json({"LabelingJobArn": summary.arn})
    return 0


def _describe(args: argparse.Namespace) -> int:
    print_json(_iso(jobs.describe_labeling_job(context(), operator(), args.labeling_job_name)))
    return 0


def _list(args: argparse.Namespace) -> int:
    out = jobs.list_labeling_jobs(
        context(),
        operator(),
        max_results=args.max_results,
        next_token=args.next_token,
        name_contains=args.name_contains,
        status_equals=args.status_equals,
        sort_by=args.sort_by,
        sort_order=args.sort_order,
        creation_time_after=args.creation_time_after,
        creation_time_before=args.creation_time_before,
        last_modified_time_after=args.last_modified_time_after,
        last_modified_time_before=args.last_modified_time_before,
    )
    print_json(_iso(out))
    return 0


def _stop(args: argparse.Namespace) -> int:
    jobs.stop_labeling_job(context(), operator(), args.labeling_job_name)
    return 0  # like `aws sagemaker stop-labeling-job`: no output on success


def _clone(args: argparse.Namespace) -> int:
    summary = jobs.clone_labeling_job(context(), operator(), args.labeling_job_name, args.new_labeling_job_name)
    print_json({"LabelingJobArn": summary.arn})
    return 0


def _chain(args: argparse.Namespace) -> int:
    summary = jobs.chain_labeling_job(
        context(),
        operator(),
        args.labeling_job_name,
        args.new_labeling_job_name,
        label_attribute_name=args.label_attribute_name,
        task_type=args.task_type,
    )
    print_json({"LabelingJobArn": summary.arn})
    return 0


def _name_arg(p: argparse.ArgumentParser, help_text: str = "the labeling job's name (case-insensitive)") -> None:
    p.add_argument("--labeling-job-name", required=True, metavar="NAME", help=help_text)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "create-labeling-job",
        help="create a labeling job from CreateLabelingJob-shaped JSON",
        description="Create a labeling job from the JSON you would pass to `aws sagemaker create-labeling-job "
        "--cli-input-json`. ManifestS3Uri, S3OutputPath and LabelCategoryConfigS3Uri may be s3:// URIs "
        "or local paths (relative paths are taken from the JSON file's folder); WorkteamArn may be a "
        "team name. Every problem is reported at once and nothing is created unless all is valid.",
    )
    p.add_argument(
        "--cli-input-json",
        required=True,
        metavar="file://job.json",
        help="file://<path> to the request JSON, or the JSON text",
    )
    p.add_argument("--labeling-job-name", metavar="NAME", help="override LabelingJobName from the JSON")
    p.set_defaults(func=_create)

    p = sub.add_parser(
        "describe-labeling-job",
        help="status, counters and setup of a labeling job",
        description="Print the job as DescribeLabelingJob does: LabelingJobStatus, LabelCounters, "
        "timestamps, FailureReason, the accepted request and LabelingJobOutput.",
    )
    _name_arg(p)
    p.set_defaults(func=_describe)

    p = sub.add_parser(
        "list-labeling-jobs",
        help="list labeling jobs",
        description="Print LabelingJobSummaryList like ListLabelingJobs (every job unless "
        "--max-results is given; then NextToken continues).",
    )
    p.add_argument("--name-contains", metavar="S", help="only names containing S (case-insensitive)")
    p.add_argument("--status-equals", choices=STATUSES, help="only jobs in this status")
    p.add_argument("--sort-by", choices=SORT_BY, default="CreationTime", help="default CreationTime")
    p.add_argument("--sort-order", choices=SORT_ORDER, default="Ascending", help="default Ascending")
    p.add_argument("--max-results", type=int, metavar="N", help="page size, 1-100")
    p.add_argument("--next-token", metavar="T", help="NextToken from the previous page")
    for flag in (
        "creation-time-after",
        "creation-time-before",
        "last-modified-time-after",
        "last-modified-time-before",
    ):
        p.add_argument(f"--{flag}", type=_time, metavar="TIME", help="ISO 8601 or epoch seconds")
    p.set_defaults(func=_list)

    p = sub.add_parser(
        "stop-labeling-job",
        help="stop a labeling job (it cannot be restarted)",
        description="Stop a job: Stopping, then the answers so far are written to the output "
        "and it becomes Stopped. A stopped job never restarts; chain a new job to carry on.",
    )
    _name_arg(p)
    p.set_defaults(func=_stop)

    p = sub.add_parser(
        "clone-labeling-job",
        help="new job with the setup and input of another (extension)",
        description="Create a job with the same request and input manifest as another, under a new name.",
    )
    _name_arg(p, "the job to copy")
    p.add_argument("--new-labeling-job-name", required=True, metavar="NEW")
    p.set_defaults(func=_clone)

    p = sub.add_parser(
        "chain-labeling-job",
        help="new job whose input is another job's output (extension)",
        description="Chain from a Completed, Stopped or Failed job: its output manifest is the new "
        "input. The same label attribute labels only objects not labeled yet; a new one "
        "labels all again. --task-type AdjustmentBoundingBox adjusts a box job's boxes "
        "(needs a new attribute).",
    )
    _name_arg(p, "the job to chain from")
    p.add_argument("--new-labeling-job-name", required=True, metavar="NEW")
    p.add_argument(
        "--label-attribute-name",
        metavar="ATTR",
        help="default: the new job's name from a Completed job, the old attribute otherwise",
    )
    p.add_argument(
        "--task-type",
        choices=list(tasktypes.TASK_TYPES),  # the catalogue; chain_labeling_job says which fit the old job
        help="default: the old job's task type; which types a job can chain to depends on its own",
    )
    p.set_defaults(func=_chain)

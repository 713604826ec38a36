"""What the Jobs page shows of a job, without Streamlit: table rows, a JSON-safe spec, the actions a status allows.

Pure functions over ``gtcore.jobs.api`` results (``JobSummary``, ``describe_labeling_job``); reading the jobs
(with the actor's permission checked) is ``gtcore.jobs.api``' business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gtcore.core import tasktypes
from gtcore.jobs.actions import CHAINABLE, RUNNING
from gtcore.jobs.describe import JobSummary

STOPPABLE = (*RUNNING, "Stopping")


def when(ts: float | None) -> str:
    """Epoch seconds as ``2026-01-31 14:05 UTC`` ("" for None)."""
    return "" if ts is None else datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def type_title(name: str) -> str:
    found = tasktypes.TASK_TYPES.get(name)
    return found.title if found else name


def table_rows(summaries: list[JobSummary]) -> list[dict[str, Any]]:
    """One row per job: status, counters, progress (percent), team, created time."""
    return [
        {
            "Job": s.name,
            "Status": s.status,
            "Task type": type_title(s.task_type),
            "Team": s.team_name or "",
            "Labeled": s.counters.total_labeled,
            "Failed": s.counters.failed_non_retryable_error,
            "Unlabeled": s.counters.unlabeled,
            "Already labeled": s.already_labeled,
            "Objects": s.total_objects,
            "Progress": round(100 * s.progress, 1),
            "Created": when(s.created_at),
        }
        for s in summaries
    ]


def json_safe(value: Any) -> Any:
    """``value`` with datetimes as ISO-8601 strings (for ``st.json`` and JSON files)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


@dataclass(frozen=True)
class Actions:
    """Which actions a job's status allows, and why not when it does not."""

    stop: bool
    chain: bool
    clone: bool = True

    @property
    def stop_reason(self) -> str:
        return "" if self.stop else "only a running job can be stopped; a stopped job never restarts"

    @property
    def chain_reason(self) -> str:
        return "" if self.chain else "chain from a Completed, Stopped or Failed job"


def actions_for(status: str) -> Actions:
    return Actions(stop=status in STOPPABLE, chain=status in CHAINABLE)


def status_line(s: JobSummary) -> str:
    """``InProgress: 3 of 12 objects finished (25%)`` for the detail header."""
    c = s.counters
    finished = c.total_labeled + c.failed_non_retryable_error + s.already_labeled
    return f"{s.status}: {finished:,} of {s.total_objects:,} objects finished ({100 * s.progress:.0f}%)"

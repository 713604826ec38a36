"""The queue's public calls in one place (``from gtcore.queue import api as queue``): claims, the worker's
actions, lease expiry, the worker's job list, worker-response flushing."""

from gtcore.output.worker_responses import flush_worker_responses
from gtcore.queue.actions import (
    decline,
    flag_object,
    heartbeat,
    release,
    save_draft,
    stop_and_resume_later,
)
from gtcore.queue.claim import claim_next, current_task
from gtcore.queue.leases import (
    expire_leases,
)
from gtcore.queue.portal import WorkerJobSummary, worker_jobs
from gtcore.queue.submit import SubmitResult, submit
from gtcore.queue.task import Task

__all__ = [
    "Task",
    "SubmitResult",
    "WorkerJobSummary",
    "claim_next",
    "current_task",
    "heartbeat",
    "save_draft",
    "submit",
    "decline",
    "release",
    "stop_and_resume_later",
    "expire_leases",
    "flag_object",
    "worker_jobs",
    "flush_worker_responses",
]

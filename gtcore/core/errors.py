"""The gtcore exception tree.

Every error a user can see is a ``GTError`` with a message a team lead understands and the
context that locates the problem (file, line, field, URI)::

    GTError
    ├── ConfigError              a setting in the environment is unusable
    ├── DatabaseUnavailable      the database did not answer (core.db): try again
    ├── StorageError(uri)        object store problems, always naming the URI
    │   ├── ObjectNotFound       key / file / bucket does not exist
    │   ├── AccessDenied         the store refused the credentials
    │   ├── UriNotAllowed        outside the local roots, bucket not allowed, scheme not a storage URI
    │   └── StoreUnavailable     endpoint unreachable, timeouts, 5xx
    ├── ValidationError(problems)  one or more Problem records, all collected before raising
    │   ├── ManifestError        problems in a manifest (each Problem carries a line number)
    │   ├── SpecError            problems in a job spec (each Problem names the field)
    │   └── MaskError            a worker's or a manifest's mask PNG that is not a valid label mask (output.mask_png)
    ├── NotFound                 a job, user, team or task that does not exist (or is not visible)
    ├── Conflict                 name taken, state does not allow the transition
    │   └── LimitExceeded        a limit on how many there may be (teams, access keys)
    ├── PermissionDenied         the acting user's role or team does not allow the call
    ├── AuthError                sign-in problems
    │   ├── InvalidCredentials
    │   ├── Throttled            too many failures; ``retry_after`` seconds
    │   ├── SessionExpired
    │   └── PasswordChangeRequired
    ├── TaskError                queue refusals (lease expired, not the lease holder, already submitted)
    │   └── JobClosed            the job is not InProgress (completed, stopped, failed): no more tasks
    ├── ImageError               an image that cannot be decoded safely
    ├── ModelError               a saved or team model that cannot be used (autolabel.models: checksum, shape)
    │   └── BackboneError        the pretrained backbone's weights are missing or corrupt (autolabel.backbone)
    └── TrainingError            automated labeling could not train a model on the labels it has (autolabel.classifier)

Errors raised elsewhere are defined there (beside the code that raises them) but drawn here: a test walks every
``GTError`` subclass in gtcore and checks that its name is in this tree.
"""

from __future__ import annotations

from dataclasses import dataclass


class GTError(Exception):
    """Base of every error gtcore raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(GTError):
    pass


class StorageError(GTError):
    def __init__(self, message: str, uri: str = "") -> None:
        super().__init__(message)
        self.uri = uri


class ObjectNotFound(StorageError):
    pass


class AccessDenied(StorageError):
    pass


class UriNotAllowed(StorageError):
    pass


class StoreUnavailable(StorageError):
    pass


@dataclass(frozen=True)
class Problem:
    """One validation problem. ``where`` is a file or URI, ``line`` is 1-based, ``field`` a dotted path."""

    message: str
    where: str = ""
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        loc = []
        if self.where:
            loc.append(self.where)
        if self.line is not None:
            loc.append(f"line {self.line}")
        if self.field:
            loc.append(self.field)
        return f"{': '.join([', '.join(loc)]) + ': ' if loc else ''}{self.message}"


class ValidationError(GTError):
    def __init__(self, problems: list[Problem], summary: str | None = None) -> None:
        self.problems = list(problems)
        self.summary = summary
        head = summary or f"{len(self.problems)} problem(s)"
        shown = "\n".join(f"- {p}" for p in self.problems[:50])
        more = f"\n- ... and {len(self.problems) - 50} more" if len(self.problems) > 50 else ""
        super().__init__(f"{head}:\n{shown}{more}" if self.problems else head)


class ManifestError(ValidationError):
    pass


class SpecError(ValidationError):
    pass


class NotFound(GTError):
    pass


class Conflict(GTError):
    pass


class LimitExceeded(Conflict):
    pass


class PermissionDenied(GTError):
    pass


class AuthError(GTError):
    pass


class InvalidCredentials(AuthError):
    pass


class Throttled(AuthError):
    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SessionExpired(AuthError):
    pass


class PasswordChangeRequired(AuthError):
    pass


class TaskError(GTError):
    pass


class JobClosed(TaskError):
    """The job hands out no more tasks; ``status`` says why (Completed, Stopped, Failed ...)."""

    def __init__(self, message: str, job_name: str = "", status: str = "") -> None:
        super().__init__(message)
        self.job_name = job_name
        self.status = status


class ImageError(GTError):
    def __init__(self, message: str, uri: str = "") -> None:
        super().__init__(message)
        self.uri = uri

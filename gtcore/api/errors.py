"""AWS-shaped errors: HTTP 400 (5xx for server faults) with ``{"__type": code, "message": text}``.

``from_gt`` maps gtcore's errors onto the codes botocore's model declares (``ResourceNotFound``,
``ResourceInUse``, ``ResourceLimitExceeded``) and AWS's common ones (``ValidationException``,
``AccessDeniedException``, ``ThrottlingException``). boto3 raises ``client.exceptions.<Code>`` for the codes an
operation declares and ``ClientError`` carrying the code for the others.
"""

from __future__ import annotations

from gtcore.core import errors as gt


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, str]:
        return {"__type": self.code, "message": self.message}


def validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def _problems_text(exc: gt.ValidationError) -> str:
    if not exc.problems:
        return exc.message
    shown = "; ".join(str(p) for p in exc.problems[:50])
    more = f"; ... and {len(exc.problems) - 50} more" if len(exc.problems) > 50 else ""
    return f"{len(exc.problems)} validation error(s) detected: {shown}{more}"


def from_gt(exc: gt.GTError) -> ApiError:
    if isinstance(exc, gt.ValidationError):
        return validation(_problems_text(exc))
    if isinstance(exc, gt.NotFound):
        return ApiError("ResourceNotFound", exc.message)
    if isinstance(exc, gt.LimitExceeded):
        return ApiError("ResourceLimitExceeded", exc.message)
    if isinstance(exc, gt.Conflict):
        return ApiError("ResourceInUse", exc.message)
    if isinstance(exc, gt.PermissionDenied):
        return ApiError("AccessDeniedException", exc.message)
    if isinstance(exc, gt.Throttled):
        return ApiError("ThrottlingException", exc.message)
    if isinstance(exc, gt.StorageError):
        return validation(f"{exc.uri}: {exc.message}" if exc.uri and exc.uri not in exc.message else exc.message)
    if isinstance(exc, gt.ConfigError):
        return ApiError("InternalFailure", f"the server is misconfigured: {exc.message}", status=500)
    return validation(exc.message)

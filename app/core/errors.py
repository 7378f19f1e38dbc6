"""One error shape for the whole application (problem+json for the API, a page for browsers).

Raised during a request, an error's message and per-field messages are in the user's
language where the catalogue has them (``app.core.i18n``); elsewhere they stay English.
"""

from app.core.i18n import translate, translate_errors


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 details: dict | None = None):
        message = translate(message)
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details or {}

    def to_problem(self) -> dict:
        body = {"type": f"about:blank#{self.code}", "title": self.message, "status": self.status,
                "code": self.code, "detail": self.message}
        body.update(self.details)
        return body


class NotFound(AppError):
    status = 404
    code = "not_found"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Conflict(AppError):
    """A stale or double action: someone else changed the thing first."""

    status = 409
    code = "conflict"


class ValidationFailed(AppError):
    """Input did not validate; ``errors`` maps field name → list of messages."""

    status = 422
    code = "validation_failed"

    def __init__(self, errors: dict, message: str = "Validation failed"):
        errors = translate_errors(errors)
        super().__init__(message, details={"errors": errors})
        self.errors = errors


class DeployError(AppError):
    """A BPMN/DMN file was rejected; ``problems`` carry file, element id and line."""

    status = 422
    code = "invalid_process"

    def __init__(self, problems: list[dict]):
        first = problems[0] if problems else {}
        super().__init__(f"{len(problems)} problem(s) in process model: {first.get('message', '')}",
                         details={"problems": problems})
        self.problems = problems


class WorkflowError(AppError):
    """The engine failed at a task; carries process, task and BPMN element id."""

    status = 422
    code = "workflow_error"

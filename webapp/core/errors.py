"""Errors that the API turns into JSON ``{"error": {"code", "message", "field"?}}``."""
from __future__ import annotations


class ApiError(Exception):
    """An error a client caused or must handle, with its HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict:
        """The JSON body of the error response."""
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return {"error": body}


class ValidationError(ApiError):
    """A field of the request is missing or invalid."""

    status = 400
    code = "invalid"


class NotFound(ApiError):
    """The named resource does not exist."""

    status = 404
    code = "not_found"


class Conflict(ApiError):
    """The request conflicts with the current state (duplicate name, active run)."""

    status = 409
    code = "conflict"


class QueueUnavailable(ApiError):
    """Redis could not take the job."""

    status = 503
    code = "queue_unavailable"


class DatabaseUnavailable(ApiError):
    """The database cannot be reached right now (a restart, a failover): try again."""

    status = 503
    code = "database_unavailable"

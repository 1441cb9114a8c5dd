"""Domain errors. Each maps to one HTTP status in the web layer."""


class RemoteAppError(Exception):
    """Base class of every error the core raises on purpose.

    ``message`` is meant for the person who caused the error: one clear sentence.
    """

    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(RemoteAppError):
    """The input is invalid; nothing was changed."""

    status = 400


class PermissionDenied(RemoteAppError):
    """The caller is known but lacks the permission for this action."""

    status = 403


class NotFound(RemoteAppError):
    """The object does not exist, or does not belong to the caller."""

    status = 404


class Exists(RemoteAppError):
    """The object exists already."""

    status = 409


class OperationInProgress(RemoteAppError):
    """Another start or stop of the same object is running right now."""

    status = 409


class ReadOnly(RemoteAppError):
    """The accounting backend cannot be written (for example the CSV backend)."""

    status = 409


class Unavailable(RemoteAppError):
    """A service the core depends on (the docker engine, the database) is unreachable."""

    status = 503

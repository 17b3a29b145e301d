"""The SDK's exceptions: one class per kind of API error.

The API answers every error as ``{"error": {"code": ..., "message": ...}}``
(docs/api.md, "Errors"); :func:`exception_for` picks the class from the
code (the status when the code is unknown) and keeps the server's message.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Type

if TYPE_CHECKING:
    from .models import CommandResult


class SandboxException(Exception):
    """The base of every error this SDK raises.

    ``code`` is the API's error code (``not_found``, ``illegal_state``, ...)
    or None for errors that did not come from the server; ``status`` the
    HTTP status, or None.
    """

    def __init__(self, message: str, *, code: Optional[str] = None, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class InvalidArgumentException(SandboxException):
    """The server refused the request's input (400): a bad field, value or path."""


class AuthenticationException(SandboxException):
    """TCP without the right token (401): set KRUNBOX_API_KEY or pass api_key."""


class PermissionDeniedException(SandboxException):
    """The host's OS refused (403), a volume's host path, say."""


class NotFoundException(SandboxException):
    """No such sandbox, command, file or image (404)."""


class EndpointNotFoundException(NotFoundException):
    """The server has no such endpoint (404 ``no_route``): it is older than this SDK."""


class IllegalStateException(SandboxException):
    """The sandbox or command is in the wrong state for this (409): not running, already paused."""


class AlreadyExistsException(SandboxException):
    """The name (or path) is taken (409 ``already_exists``)."""


class LimitExceededException(SandboxException):
    """A body or value over a documented limit (413, 431)."""


class UnsupportedException(SandboxException):
    """The backend cannot do this (422), pause where the engine has no freezer."""


class UnavailableException(SandboxException):
    """The server is at its connection limit or the host lacks a facility (503)."""


class TimeoutException(SandboxException):
    """Something took longer than it was allowed.

    From the server (504 ``timeout``), a request that took longer than its
    ``request_timeout``, or a command past its ``timeout``: then ``result``
    holds what it wrote until it was killed (its exit code is 124).
    """

    def __init__(self, message: str, *, code: Optional[str] = None, status: Optional[int] = None,
                 result: Optional["CommandResult"] = None) -> None:
        super().__init__(message, code=code, status=status)
        self.result = result


class ConnectionException(SandboxException):
    """The server could not be reached (no socket, refused, reset)."""


class CommandExitException(SandboxException):
    """A command ended with a non-zero exit code (as E2B's ``commands.run`` raises).

    Carries the whole :class:`~krunbox.CommandResult` as ``result``; its
    ``stdout``, ``stderr``, ``exit_code``, ``error`` (and ``signal``) are
    also attributes of the exception itself.
    """

    def __init__(self, result: "CommandResult") -> None:
        how = "was killed by signal %d" % result.signal if result.signal else "exited with code %d" % result.exit_code
        message = "Command %s" % how
        if result.stderr:
            message += " and error:\n" + result.stderr
        super().__init__(message)
        self.result = result

    @property
    def stdout(self) -> str:
        return self.result.stdout

    @property
    def stderr(self) -> str:
        return self.result.stderr

    @property
    def exit_code(self) -> int:
        return self.result.exit_code

    @property
    def error(self) -> Optional[str]:
        return self.result.error

    @property
    def signal(self) -> int:
        return self.result.signal


_BY_CODE: Dict[str, Type[SandboxException]] = {
    "invalid_argument": InvalidArgumentException,
    "bad_request": InvalidArgumentException,
    "unauthorized": AuthenticationException,
    "permission_denied": PermissionDeniedException,
    "not_found": NotFoundException,
    "no_route": EndpointNotFoundException,
    "illegal_state": IllegalStateException,
    "already_exists": AlreadyExistsException,
    "body_too_large": LimitExceededException,
    "limit_exceeded": LimitExceededException,
    "header_too_large": LimitExceededException,
    "unsupported": UnsupportedException,
    "unavailable": UnavailableException,
    "cancelled": UnavailableException,
    "timeout": TimeoutException,
}

_BY_STATUS: Dict[int, Type[SandboxException]] = {
    400: InvalidArgumentException,
    401: AuthenticationException,
    403: PermissionDeniedException,
    404: NotFoundException,
    409: IllegalStateException,
    413: LimitExceededException,
    422: UnsupportedException,
    431: LimitExceededException,
    503: UnavailableException,
    504: TimeoutException,
}


def exception_for(code: Optional[str], message: str, status: Optional[int] = None) -> SandboxException:
    """The exception for an API error: by its code, else by its status."""
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status or 0) or SandboxException
    if cls is AuthenticationException and "KRUNBOX_API_KEY" not in message:
        message += " (set KRUNBOX_API_KEY, or pass api_key=, to the server's --token-file token)"
    return cls(message, code=code, status=status)


__all__ = [
    "SandboxException",
    "InvalidArgumentException",
    "AuthenticationException",
    "PermissionDeniedException",
    "NotFoundException",
    "EndpointNotFoundException",
    "IllegalStateException",
    "AlreadyExistsException",
    "LimitExceededException",
    "UnsupportedException",
    "UnavailableException",
    "TimeoutException",
    "ConnectionException",
    "CommandExitException",
]

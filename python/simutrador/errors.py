"""The SDK's exceptions: every failure carries a stable ``error_code``, the server's own (from a
``session_error`` or ``error`` frame, or an HTTP error body) or one the client detected itself
(timeout, dropped connection), with ``message``, ``details`` and whether retrying the same request may work.
A strategy's own exception comes out as :class:`StrategyError`, its original chained as ``__cause__``."""

from __future__ import annotations

from typing import Any, Literal, Mapping

ErrorSource = Literal["session_error", "error", "http", "client"]

# Codes the SDK itself raises; every other code comes from the server (schemas/errors.ts).
CLIENT_ERROR_CODES = frozenset({
    "REQUEST_TIMEOUT", "CONNECTION_LOST", "CONNECTION_FAILED", "NOT_CONNECTED", "CLIENT_CLOSED", "RUN_IN_PROGRESS",
})

# Worth retrying unchanged: limits that reset with time and transient server failures (the same set as the
# TypeScript SDK's client/session-error.ts).
_RETRIABLE = frozenset({
    "RATE_LIMIT_EXCEEDED", "CONNECTION_LIMIT_EXCEEDED", "INTERNAL_ERROR", "BUS_UNAVAILABLE", "STORE_UNAVAILABLE",
    "REQUEST_TIMEOUT", "CONNECTION_LOST", "CONNECTION_FAILED",
})

_AUTH_CODES = frozenset({"UNAUTHORIZED", "TOKEN_EXPIRED", "INVALID_API_KEY"})
_ORDER_CODES = frozenset({"INVALID_ORDER", "INSUFFICIENT_BUYING_POWER", "ORDER_NOT_FOUND"})


class SimutradorError(Exception):
    """Base of every SDK exception: ``error_code``, ``message``, ``details`` and ``retriable``."""

    error_code: str
    message: str
    details: dict[str, Any]
    request_id: str | None
    source: ErrorSource
    retriable: bool
    #: The HTTP status when the error came as an HTTP reply (a refused upgrade or REST call).
    http_status: int | None = None

    def __init__(self, error_code: str, message: str, *, details: Mapping[str, Any] | None = None,
                 request_id: str | None = None, source: ErrorSource = "client", retriable: bool | None = None) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message
        self.details = dict(details or {})
        self.request_id = request_id
        self.source = source
        self.retriable = error_code in _RETRIABLE if retriable is None else retriable

    def to_json(self) -> dict[str, Any]:
        """The ``{error_code, message, details}`` body, as the runner prints it with ``--json``."""
        return {"error_code": self.error_code, "message": self.message, "details": self.details}


class ServerError(SimutradorError):
    """The server refused a request (``session_error``, ``error`` or an HTTP error body). ``frame`` is the
    whole ``error`` payload (error_type, severity, recoverable, retry_after_ms…) when it came in one."""

    frame: dict[str, Any] | None = None


class AuthError(ServerError):
    """UNAUTHORIZED, TOKEN_EXPIRED or INVALID_API_KEY."""


class OrderError(ServerError):
    """INVALID_ORDER, INSUFFICIENT_BUYING_POWER or ORDER_NOT_FOUND (a cancel or replace refused)."""


class ConnectionLostError(SimutradorError):
    """The connection failed or dropped before the reply (CONNECTION_FAILED, CONNECTION_LOST)."""


class RequestTimeoutError(SimutradorError):
    """No reply within the request's timeout (REQUEST_TIMEOUT)."""


class ClientClosedError(SimutradorError):
    """The client was closed, or was never connected (CLIENT_CLOSED, NOT_CONNECTED)."""


class StrategyError(SimutradorError):
    """The strategy's own code raised; ``original`` is that exception (also ``__cause__``) and the server
    has ended the run in state ``error`` with ``message``."""

    original: BaseException
    traceback_text: str

    def __init__(self, message: str, original: BaseException, traceback_text: str, *, session_id: str) -> None:
        super().__init__("STRATEGY_ERROR", message, details={"session_id": session_id}, retriable=False)
        self.original = original
        self.traceback_text = traceback_text


def server_error(body: Mapping[str, Any], *, source: ErrorSource, request_id: str | None = None) -> ServerError:
    """The typed exception for a server error body ``{error_code, message, details}``."""
    code = str(body.get("error_code", "INTERNAL_ERROR"))
    message = str(body.get("message", code))
    details = body.get("details")
    cls: type[ServerError] = AuthError if code in _AUTH_CODES else OrderError if code in _ORDER_CODES else ServerError
    err = cls(code, message, details=details if isinstance(details, Mapping) else None, request_id=request_id, source=source)
    if source == "error":
        err.frame = dict(body)
    return err


def client_error(code: str, message: str, *, details: Mapping[str, Any] | None = None,
                 request_id: str | None = None) -> SimutradorError:
    """A failure the SDK detected itself, as its typed exception."""
    cls: type[SimutradorError]
    if code in ("CONNECTION_LOST", "CONNECTION_FAILED"):
        cls = ConnectionLostError
    elif code == "REQUEST_TIMEOUT":
        cls = RequestTimeoutError
    elif code in ("CLIENT_CLOSED", "NOT_CONNECTED"):
        cls = ClientClosedError
    else:
        cls = SimutradorError
    return cls(code, message, details=details, request_id=request_id, source="client")

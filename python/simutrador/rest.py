"""The few REST calls the SDK makes (the API key → token exchange, the results and session reads of the
runner), with the standard library's urllib in a worker thread so the event loop keeps running. Error
bodies (``{error_code, message, details}``) become the typed exceptions of errors.py."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from .decimals import loads
from .errors import SimutradorError, client_error, server_error

USER_AGENT = "simutrador-python"


def _request(method: str, url: str, headers: Mapping[str, str], body: Optional[bytes], timeout: float) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method=method, headers={"user-agent": USER_AGENT, **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:  # noqa: S310 (http/https URLs checked in urls.py)
            return res.status, res.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", errors="replace")


async def http_json(method: str, url: str, *, headers: Mapping[str, str] | None = None, body: Any = None,
                    timeout: float = 10.0, raw: bool = False) -> Any:
    """The JSON reply of one request (numbers as Decimal; with ``raw``, the body text); a typed exception for
    an error status (the server's code) or no answer (CONNECTION_FAILED)."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    hdrs = {**(headers or {}), **({"content-type": "application/json"} if data is not None else {})}
    try:
        status, text = await asyncio.to_thread(_request, method, url, hdrs, data, timeout)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        reason = getattr(err, "reason", err)
        raise client_error("CONNECTION_FAILED", f"Cannot reach {url}: {reason}") from err
    if status >= 400:
        try:
            parsed = loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("error_code"), str):
            refused = server_error(parsed, source="http")
            refused.http_status = status
            if status >= 500:
                refused.retriable = True
            raise refused
        plain = SimutradorError("INTERNAL_ERROR", f"HTTP {status} from {url}", source="http", retriable=status >= 500)
        plain.http_status = status
        raise plain
    return text if raw else loads(text)


@dataclass(slots=True)
class _Token:
    value: str
    expires_at: float  # time.monotonic()


class TokenCache:
    """An access token from the API key (``POST /auth/token``), renewed before it expires; a given token
    without a key is used as is until the server refuses it."""

    def __init__(self, api_key: str | None, access_token: str | None, refresh_margin: float = 30.0) -> None:
        if api_key is None and access_token is None:
            raise ValueError("the client needs an api_key or an access_token")
        self.api_key = api_key
        self._token = _Token(access_token, float("inf")) if access_token is not None else None
        self._margin = refresh_margin

    def invalidate(self) -> None:
        if self.api_key is not None:
            self._token = None

    async def get(self, http_base: str, timeout: float) -> str:
        tok = self._token
        if tok is not None and tok.expires_at - self._margin > time.monotonic():
            return tok.value
        if self.api_key is None:
            if tok is not None:
                return tok.value
            raise client_error("NOT_CONNECTED", "no token and no API key to get one")
        reply = await http_json("POST", f"{http_base}auth/token", headers={"x-api-key": self.api_key}, timeout=timeout)
        self._token = _Token(str(reply["access_token"]), time.monotonic() + float(reply.get("expires_in", 3600)))
        return self._token.value

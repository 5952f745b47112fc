"""HTTP to a learning record store: one keep-alive ``httpx.Client`` per destination, with connect and
read timeouts, the xAPI version header and Basic auth. Network errors surface as ``httpx.TransportError``
(the caller decides about retries); HTTP statuses are returned, not raised.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import httpx

from xapi import metrics
from xapi.db import utcnow
from xapi.targets import Destination

XAPI_VERSION = "1.0.3"


@dataclass(frozen=True)
class Answer:
    """An LRS's answer to a statement POST."""

    status: int
    reason: str
    retry_after: float | None = None


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), None if absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


def reason(response: httpx.Response) -> str:
    """The LRS's explanation: its JSON message or warnings if any, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("message", "warnings", "error") if body.get(k)]
        if parts:
            return f"HTTP {response.status_code}: {'; '.join(parts)}"[:2000]
    return f"HTTP {response.status_code}: {response.text[:500]}".strip()


class LrsClient:
    """A keep-alive connection to one LRS endpoint (the endpoint ends with ``/``)."""

    def __init__(self, destination: Destination, *, connect_timeout: float, read_timeout: float,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = destination.endpoint if destination.endpoint.endswith("/") else destination.endpoint + "/"
        self.key = destination.key  # the metrics label: a key, never the endpoint URL
        self._http = httpx.Client(
            auth=httpx.BasicAuth(destination.username, destination.password),
            headers={"X-Experience-API-Version": XAPI_VERSION},
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def _request(self, operation: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request, timing it for the metrics (also when no answer comes)."""
        started, status = time.perf_counter(), None
        try:
            response = self._http.request(method, url, **kwargs)
            status = response.status_code
            return response
        finally:
            metrics.observe_request(self.key, operation, status, time.perf_counter() - started)

    def post_statements(self, statements: Sequence[dict[str, Any]]) -> Answer:
        response = self._request("post_statements", "POST", self.endpoint + "statements", json=list(statements))
        if response.is_success:
            return Answer(response.status_code, "")
        return Answer(response.status_code, reason(response), retry_after(response))

    def statement_status(self, statement_id: str) -> int:
        """GET one statement by id: 200 when the LRS has it, 404 when not (other statuses as they come)."""
        return self._request("get_statement", "GET", self.endpoint + "statements",
                             params={"statementId": statement_id}).status_code

    def about(self) -> dict[str, Any]:
        response = self._request("about", "GET", self.endpoint + "about")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def statement_ids(self, *, registration: str, since: str) -> Iterator[str]:
        """Ids of the statements stored for a registration since an ISO 8601 time, following ``more``."""
        url: str | None = self.endpoint + "statements"
        params: dict[str, str] | None = {"registration": registration, "since": since, "format": "ids"}
        while url:
            response = self._request("query_statements", "GET", url, params=params)
            response.raise_for_status()
            body = response.json()
            yield from (str(item["id"]) for item in body.get("statements", []))
            more = body.get("more") or ""
            # ``more`` is relative to the LRS's host (xAPI 1.0.3 §2.1.3 StatementResult).
            url, params = (urljoin(self.endpoint, more), None) if more else (None, None)


class ClientPool:
    """One client per destination, rebuilt when its endpoint or credentials change."""

    def __init__(self, *, connect_timeout: float, read_timeout: float,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._timeouts = (connect_timeout, read_timeout)
        self._transport = transport
        self._clients: dict[str, tuple[Destination, LrsClient]] = {}

    def get(self, destination: Destination) -> LrsClient:
        known = self._clients.get(destination.key)
        if known is not None and (known[0].endpoint, known[0].username, known[0].password) == (
                destination.endpoint, destination.username, destination.password):
            return known[1]
        if known is not None:
            known[1].close()
        client = LrsClient(destination, connect_timeout=self._timeouts[0], read_timeout=self._timeouts[1],
                           transport=self._transport)
        self._clients[destination.key] = (destination, client)
        return client

    def close(self) -> None:
        for _, client in self._clients.values():
            client.close()
        self._clients.clear()

"""Assignment and Grade Services 2.0 client (https://www.imsglobal.org/spec/lti-ags/v2p0).

API::

    items = ags.list_line_items(session, http, platform, lineitems_url, resource_link_id=..., resource_id=...)
    item = ags.find_or_create(session, http, platform, lineitems_url, ags.NewLineItem(label, 100, ...))
    ags.post_score(session, http, platform, item.id, ags.Score(user_id, 80, 100, timestamp))  # FullyGraded
    ags.results(session, http, platform, item.id, user_id=None) -> list[Result]

Every call gets a cached access token with the scope it needs, retries once on 401 with a fresh
token and raises ``ServiceError`` otherwise. No call commits; none belongs in a request handler
(the gradebook sender makes them from the delivery worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy.orm import Session

from lti_tool.lti import claims as c
from lti_tool.lti.service_token import ServiceError, TokenCache, authorized_request, json_body
from lti_tool.models import Platform

LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
RESULTS_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"
MAX_PAGES = 100

__all__ = ["LineItem", "NewLineItem", "Result", "Score", "ServiceError", "find_or_create", "list_line_items",
           "post_score", "results"]


@dataclass(frozen=True)
class LineItem:
    """A gradebook column as the platform describes it."""

    id: str
    label: str
    score_maximum: float
    resource_id: str = ""
    resource_link_id: str = ""
    tag: str = ""

    @classmethod
    def from_json(cls, body: Any) -> LineItem:
        if not isinstance(body, dict) or not body.get("id"):
            raise ServiceError("a line item without an id", 502, str(body))
        return cls(id=str(body["id"]), label=str(body.get("label") or ""),
                   score_maximum=float(body.get("scoreMaximum") or 0), resource_id=str(body.get("resourceId") or ""),
                   resource_link_id=str(body.get("resourceLinkId") or ""), tag=str(body.get("tag") or ""))


@dataclass(frozen=True)
class NewLineItem:
    """What the tool asks for when it creates a column."""

    label: str
    score_maximum: float
    resource_id: str = ""
    tag: str = ""
    resource_link_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"label": self.label, "scoreMaximum": self.score_maximum,
                                "resourceId": self.resource_id, "tag": self.tag}
        if self.resource_link_id:
            body["resourceLinkId"] = self.resource_link_id
        return body


@dataclass(frozen=True)
class Score:
    """A learner's score; by default a finished, fully graded activity (AGS §3.4)."""

    user_id: str
    score_given: float
    score_maximum: float
    timestamp: datetime
    comment: str = ""
    activity_progress: str = "Completed"
    grading_progress: str = "FullyGraded"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "userId": self.user_id, "scoreGiven": self.score_given, "scoreMaximum": self.score_maximum,
            "activityProgress": self.activity_progress, "gradingProgress": self.grading_progress,
            # ISO 8601 with sub-second precision: platforms order a learner's scores by it.
            "timestamp": self.timestamp.astimezone(UTC).isoformat(timespec="milliseconds"),
        }
        if self.comment:
            body["comment"] = self.comment
        return body


@dataclass(frozen=True)
class Result:
    """The platform's current result for one learner on one line item."""

    user_id: str
    result_score: float | None
    result_maximum: float | None
    comment: str = ""


def _with_path_suffix(url: str, suffix: str) -> str:
    # The line item URL may carry a query; /scores and /results go on the path (AGS §3.4.1).
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


def list_line_items(session: Session, http: httpx.Client, platform: Platform, lineitems_url: str, *,
                    resource_link_id: str | None = None, resource_id: str | None = None, tag: str | None = None,
                    cache: TokenCache | None = None) -> list[LineItem]:
    """Return the context's line items matching the filters, following ``next`` links."""
    params = {k: v for k, v in (("resource_link_id", resource_link_id), ("resource_id", resource_id),
                                 ("tag", tag)) if v is not None}
    found: list[LineItem] = []
    url: str | None = lineitems_url
    for _ in range(MAX_PAGES):
        if url is None:
            return found
        response = authorized_request(session, http, platform, [c.SCOPE_LINEITEM], "GET", url, cache=cache,
                                      headers={"Accept": CONTAINER_TYPE}, params=params or None)
        body = _json_list(response)
        found.extend(LineItem.from_json(item) for item in body)
        link = response.links.get("next")
        url, params = (str(response.request.url.join(link["url"])) if link and link.get("url") else None), {}
    raise ServiceError(f"line item paging at {lineitems_url} does not end", 502)


def create_line_item(session: Session, http: httpx.Client, platform: Platform, lineitems_url: str,
                     item: NewLineItem, *, cache: TokenCache | None = None) -> LineItem:
    """Add a line item to the context; return it as the platform created it."""
    response = authorized_request(
        session, http, platform, [c.SCOPE_LINEITEM], "POST", lineitems_url, cache=cache,
        headers={"Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE}, json=item.to_json(),
    )
    return LineItem.from_json(json_body(response))


def find_or_create(session: Session, http: httpx.Client, platform: Platform, lineitems_url: str,
                   item: NewLineItem, *, cache: TokenCache | None = None) -> LineItem:
    """Return the line item with the same resource link, resource id and tag, creating it if missing."""
    existing = list_line_items(session, http, platform, lineitems_url, resource_link_id=item.resource_link_id,
                               resource_id=item.resource_id, tag=item.tag or None, cache=cache)
    # Filters are optional for a platform (AGS §3.2.4): check what came back ourselves.
    for found in existing:
        if (found.resource_id == item.resource_id and found.tag == item.tag
                and found.resource_link_id == (item.resource_link_id or "")):
            return found
    return create_line_item(session, http, platform, lineitems_url, item, cache=cache)


def post_score(session: Session, http: httpx.Client, platform: Platform, lineitem_url: str, score: Score, *,
               cache: TokenCache | None = None) -> httpx.Response:
    """Publish a score to a line item; return the platform's (2xx) answer."""
    return authorized_request(
        session, http, platform, [c.SCOPE_SCORE], "POST", _with_path_suffix(lineitem_url, "/scores"),
        cache=cache, headers={"Content-Type": SCORE_TYPE}, json=score.to_json(),
    )


def results(session: Session, http: httpx.Client, platform: Platform, lineitem_url: str, *,
            user_id: str | None = None, cache: TokenCache | None = None) -> list[Result]:
    """Return the platform's results on a line item (one learner's with ``user_id``)."""
    response = authorized_request(
        session, http, platform, [c.SCOPE_RESULT_READONLY], "GET", _with_path_suffix(lineitem_url, "/results"),
        cache=cache, headers={"Accept": RESULTS_TYPE}, params={"user_id": user_id} if user_id else None,
    )
    return [Result(user_id=str(r.get("userId", "")), result_score=_number(r.get("resultScore")),
                   result_maximum=_number(r.get("resultMaximum")), comment=str(r.get("comment") or ""))
            for r in _json_list(response)]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _json_list(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError as exc:
        raise ServiceError(f"{response.request.url} sent invalid JSON", 502, response.text) from exc
    if not isinstance(body, list):
        raise ServiceError(f"{response.request.url} sent JSON that is not a list", 502, response.text)
    return [item for item in body if isinstance(item, dict)]

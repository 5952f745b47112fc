"""Names and Role Provisioning Services 2.0 client (https://www.imsglobal.org/spec/lti-nrps/v2p0).

API (for roster sync)::

    from lti_tool import http
    from lti_tool.lti import nrps

    url = nrps.memberships_url(context)          # LtiContext -> str | None (None: the platform offers no NRPS)
    members = nrps.fetch_members(session, http.client(), deployment, url)   # -> list[Member], every page
    for m in members:
        m.user_id, m.name, m.given_name, m.family_name, m.email, m.roles, m.status   # status: Active|Inactive|Deleted

``fetch_members`` gets (and caches) an access token with the NRPS scope, follows ``Link: <...>; rel="next"``
until the last page, and raises ``ServiceError`` (from ``lti_tool.lti.service_token``) when the platform
refuses or cannot be reached; ``error.retryable`` says whether trying later may help. It never commits.
Members the platform no longer lists are simply absent: marking them as left is the caller's decision.

Call it from a session that has not written yet (or after committing): on SQLite a pending write holds
the database lock, and the demo LMS, which shares the database, must store the access token it issues.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.orm import Session

from lti_tool.lti import claims as c
from lti_tool.lti.service_token import ServiceError, TokenCache, authorized_request, json_body
from lti_tool.models import Deployment, LtiContext

MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
ACTIVE, INACTIVE, DELETED = "Active", "Inactive", "Deleted"
# A platform that links a page to itself (or loops) must not keep us here for ever.
MAX_PAGES = 1000

__all__ = ["ACTIVE", "DELETED", "INACTIVE", "Member", "ServiceError", "fetch_members", "memberships_url"]


@dataclass(frozen=True)
class Member:
    """One member of a course as NRPS lists them."""

    user_id: str
    name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""
    roles: tuple[str, ...] = ()
    status: str = ACTIVE

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Member:
        """Read a member object; optional fields may be absent (the platform's privacy settings)."""
        status = str(body.get("status") or ACTIVE)
        roles = body.get("roles")
        return cls(
            user_id=str(body["user_id"]), name=str(body.get("name") or ""),
            given_name=str(body.get("given_name") or ""), family_name=str(body.get("family_name") or ""),
            email=str(body.get("email") or ""), roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
            status=status if status in (ACTIVE, INACTIVE, DELETED) else ACTIVE,
        )


def memberships_url(context: LtiContext) -> str | None:
    """Return the context's memberships URL as the latest launch advertised it, if any."""
    if context.memberships_url:
        return context.memberships_url
    claim = (context.services or {}).get(c.NRPS)
    url = claim.get("context_memberships_url") if isinstance(claim, dict) else None
    return str(url) if url else None


def fetch_members(session: Session, http: httpx.Client, deployment: Deployment, url: str, *,
                  role: str | None = None, cache: TokenCache | None = None) -> list[Member]:
    """Return every member of the context at ``url``, following the ``next`` links page by page."""
    platform = deployment.platform
    members: list[Member] = []
    seen: set[str] = set()
    next_url: str | None = url
    params = {"role": role} if role else None
    while next_url is not None:
        if next_url in seen or len(seen) >= MAX_PAGES:
            raise ServiceError(f"NRPS paging at {url} does not end (page {next_url} again)", 502)
        seen.add(next_url)
        response = authorized_request(session, http, platform, [c.SCOPE_NRPS], "GET", next_url, cache=cache,
                                      headers={"Accept": MEDIA_TYPE}, params=params)
        members.extend(_page(response))
        next_url, params = _next(response), None  # the next link carries the query already
    return members


def _page(response: httpx.Response) -> list[Member]:
    body = json_body(response)
    listed = body.get("members")
    if not isinstance(listed, list):
        raise ServiceError(f"{response.request.url} sent no members list", 502, response.text)
    try:
        return [Member.from_json(m) for m in listed if isinstance(m, dict)]
    except KeyError as exc:
        raise ServiceError(f"{response.request.url} lists a member without user_id", 502, response.text) from exc


def _next(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    url = link.get("url") if link else None
    # A relative next link is resolved against the page it came from (RFC 8288 §3.2).
    return str(response.request.url.join(url)) if url else None

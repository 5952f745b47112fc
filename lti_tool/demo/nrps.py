"""Names and Role Provisioning Services 2.0 (https://www.imsglobal.org/spec/lti-nrps/v2p0)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from . import roster
from .site import Site

MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_LIMIT = 100


@dataclass(frozen=True)
class Page:
    """One page of the membership container and the URL of the next, if any."""

    body: dict[str, Any]
    next_url: str | None


def _member(person: roster.Person) -> dict[str, Any]:
    return {
        "status": "Active", "name": person.name, "given_name": person.given_name,
        "family_name": person.family_name, "email": person.email, "user_id": person.user_id,
        "roles": list(person.roles),
    }


def memberships(site: Site, limit: int | None, offset: int, role: str | None) -> Page:
    """Return a page of the course roster, filtered by role (a full URI or its short name)."""
    people = [p for p in roster.ROSTER
              if role is None or any(r == role or r.endswith("#" + role) for r in p.roles)]
    size = min(limit or MAX_LIMIT, MAX_LIMIT)
    chosen = people[offset:offset + size]
    next_url = None
    if offset + size < len(people):
        query = {"limit": size, "offset": offset + size, **({"role": role} if role else {})}
        next_url = f"{site.memberships_url}?{urlencode(query)}"
    body = {
        "id": site.memberships_url,
        "context": {"id": roster.COURSE_ID, "label": roster.COURSE_LABEL, "title": roster.COURSE_TITLE},
        "members": [_member(p) for p in chosen],
    }
    return Page(body, next_url)

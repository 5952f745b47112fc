"""Receive a Deep Linking response (https://www.imsglobal.org/spec/lti-dl/v2p0): new placements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from itsdangerous import BadSignature
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from lti_tool.lti import claims as c
from lti_tool.models.demo import DemoLineItem, DemoLink, DemoTool

from .auth import DEEP_LINK_DATA_MAX_AGE
from .errors import PageError
from .registration import tool_by_client_id
from .schemas import ContentItemSchema, first_error
from .site import Site
from .toolkeys import ToolJwtInvalid, unverified_claims, verify


@dataclass
class Added:
    """What a deep linking response put in the course."""

    links: list[DemoLink] = field(default_factory=list)
    line_items: list[DemoLineItem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _verified(site: Site, http: httpx.Client, tool: DemoTool, token: str) -> dict[str, Any]:
    try:
        claims = verify(http, tool, token)
    except ToolJwtInvalid as exc:
        raise PageError(str(exc), "JWT") from exc
    aud = claims.get("aud")
    if site.issuer not in (aud if isinstance(aud, list) else [aud]):
        raise PageError(f"aud must be this LMS's issuer {site.issuer}", "aud")
    expected = {c.MESSAGE_TYPE: c.DEEP_LINKING_RESPONSE, c.VERSION: c.LTI_VERSION,
                c.DEPLOYMENT_ID: tool.deployment_id}
    for name, value in expected.items():
        if claims.get(name) != value:
            raise PageError(f"{name} must be {value!r}, not {claims.get(name)!r}", name)
    try:
        site.serializer("deep-link-data").loads(str(claims.get(c.DL_DATA)), max_age=DEEP_LINK_DATA_MAX_AGE)
    except BadSignature as exc:
        raise PageError("the data claim is not the one this LMS sent (or it expired)", c.DL_DATA) from exc
    return claims


def _add(session: Session, tool: DemoTool, item: dict[str, Any], added: Added) -> None:
    link = DemoLink(tool_id=tool.id, title=item["title"], url=item["url"], custom=item["custom"])
    session.add(link)
    session.flush()
    added.links.append(link)
    spec = item["lineItem"]
    if spec is not None:
        line_item = DemoLineItem(link_id=link.id, label=spec["label"], score_maximum=spec["scoreMaximum"],
                                 resource_id=spec["resourceId"], tag=spec["tag"])
        session.add(line_item)
        added.line_items.append(line_item)


def accept_response(session: Session, site: Site, http: httpx.Client, token: str) -> Added:
    """Verify a deep linking response JWT and add a placement per ``ltiResourceLink`` it carries."""
    tool = tool_by_client_id(session, str(unverified_claims(token).get("iss", "")))
    if tool is None:
        raise PageError("iss is not the client id of a tool registered with this LMS", "iss")
    claims = _verified(site, http, tool, token)
    items = claims.get(c.DL_CONTENT_ITEMS, [])
    if not isinstance(items, list):
        raise PageError("content_items must be a list", c.DL_CONTENT_ITEMS)
    added = Added()
    for index, raw in enumerate(items):
        try:
            item = ContentItemSchema().load(raw if isinstance(raw, dict) else {})
        except ValidationError as exc:
            name, message = first_error(exc)
            raise PageError(f"content item {index + 1}: {name}: {message}", c.DL_CONTENT_ITEMS) from exc
        if item["type"] != "ltiResourceLink":
            added.skipped.append(f"{item['title']} ({item['type']})")
            continue
        _add(session, tool, item, added)
    session.flush()
    return added

"""The OIDC authorization endpoint: check the tool's auth request, then build and sign the id_token."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from lti_tool.lti import claims as c
from lti_tool.models.demo import DemoLink, DemoTool

from . import keys, roster
from .errors import PageError
from .launch import MessageHint, line_item_for, target_link_uri
from .registration import PRODUCT_FAMILY_CODE, tool_by_client_id
from .site import Site

# The fixed values of an LTI authentication request (LTI Security Framework §5.1.1.2).
_FIXED = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none"}
DEEP_LINK_DATA_MAX_AGE = 3600


@dataclass(frozen=True)
class AuthResponse:
    """What the auto-submitting form posts back to the tool."""

    redirect_uri: str
    id_token: str
    state: str


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise PageError(f"the parameter {name} is missing", name)
    return value


def _check_request(session: Session, site: Site, params: Mapping[str, str]) -> tuple[DemoTool, MessageHint]:
    for name, expected in _FIXED.items():
        if params.get(name) != expected:
            raise PageError(f"{name} must be {expected!r}, not {params.get(name)!r}", name)
    tool = tool_by_client_id(session, _required(params, "client_id"))
    if tool is None:
        raise PageError("client_id is not the client id of a tool registered with this LMS", "client_id")
    if _required(params, "redirect_uri") not in tool.config.get("redirect_uris", []):
        raise PageError("redirect_uri is not one of the tool's registered redirect URIs", "redirect_uri")
    _required(params, "nonce")
    hint = MessageHint.loads(site, _required(params, "lti_message_hint"))
    if hint.user_id != _required(params, "login_hint"):
        raise PageError("login_hint names another user than the one who started the launch", "login_hint")
    return tool, hint


def authorize(session: Session, site: Site, params: Mapping[str, str]) -> AuthResponse:
    """Check an authentication request and return the signed id_token to post to the tool."""
    tool, hint = _check_request(session, site, params)
    person = roster.find(hint.user_id)
    if person is None:
        raise PageError("login_hint is not a member of the course", "login_hint")
    link = session.get(DemoLink, hint.link_id) if hint.link_id is not None else None
    if hint.message_type == c.RESOURCE_LINK_REQUEST and (link is None or link.tool_id != tool.id):
        raise PageError("lti_message_hint names a placement that no longer exists", "lti_message_hint")
    body = _identity(site, tool, person, params["nonce"])
    body.update(_message(site, tool, hint, link))
    body.update(_services(session, site, link))
    token = keys.sign(session, body)
    if hint.tamper:
        token = tampered(token)
    return AuthResponse(params["redirect_uri"], token, params.get("state", ""))


def tampered(token: str) -> str:
    """Flip one character in the middle of the signature, so only the signature check can catch it."""
    head, _, signature = token.rpartition(".")
    # The middle, not the end: the last base64url character partly encodes padding bits.
    i = len(signature) // 2
    flipped = "B" if signature[i] == "A" else "A"
    return f"{head}.{signature[:i]}{flipped}{signature[i + 1:]}"


def _identity(site: Site, tool: DemoTool, person: roster.Person, nonce: str) -> dict[str, Any]:
    return {
        "iss": site.issuer, "aud": tool.client_id, "azp": tool.client_id, "sub": person.user_id,
        "nonce": nonce, "name": person.name, "given_name": person.given_name,
        "family_name": person.family_name, "email": person.email,
        c.VERSION: c.LTI_VERSION,
        c.DEPLOYMENT_ID: tool.deployment_id,
        c.ROLES: list(person.roles),
        c.CONTEXT: {"id": roster.COURSE_ID, "label": roster.COURSE_LABEL, "title": roster.COURSE_TITLE,
                    "type": [roster.COURSE_OFFERING]},
        c.TOOL_PLATFORM: {"guid": str(uuid.uuid5(uuid.NAMESPACE_URL, site.issuer)),
                          "name": "Demo LMS", "product_family_code": PRODUCT_FAMILY_CODE},
        c.LAUNCH_PRESENTATION: {"document_target": "iframe", "return_url": site.url("/")},
    }


def _message(site: Site, tool: DemoTool, hint: MessageHint, link: DemoLink | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        c.MESSAGE_TYPE: hint.message_type,
        c.TARGET_LINK_URI: target_link_uri(tool, link, hint.message_type),
    }
    if link is not None:
        body[c.RESOURCE_LINK] = {"id": f"link-{link.id}", "title": link.title}
        body[c.CUSTOM] = dict(link.custom)
    else:
        body[c.DEEP_LINKING_SETTINGS] = {
            "deep_link_return_url": site.url("/deep-link/return"),
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": True,
            "auto_create": True,
            "data": site.serializer("deep-link-data").dumps({"u": hint.user_id, "n": uuid.uuid4().hex}),
        }
    return body


def _services(session: Session, site: Site, link: DemoLink | None) -> dict[str, Any]:
    ags: dict[str, Any] = {
        "scope": [c.SCOPE_LINEITEM, c.SCOPE_SCORE, c.SCOPE_RESULT_READONLY],
        "lineitems": site.lineitems_url,
    }
    item = line_item_for(session, link.id) if link is not None else None
    if item is not None:
        ags["lineitem"] = site.lineitem_url(item.id)
    nrps = {"context_memberships_url": site.memberships_url, "service_versions": ["2.0"]}
    return {c.AGS_ENDPOINT: ags, c.NRPS: nrps}

"""Answer an LtiDeepLinkingRequest with the modules an instructor chose (LTI-DL 2.0 §4)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lti_tool.catalogue import ModuleEntry
from lti_tool.lti import claims as c
from lti_tool.lti import keys
from lti_tool.models import ToolSession

SCORE_MAXIMUM = 100


def content_item(module: ModuleEntry, launch_url: str) -> dict[str, Any]:
    """Return the ltiResourceLink content item for one module, with its gradebook line item."""
    return {
        "type": "ltiResourceLink",
        "title": module.title,
        "text": module.summary,
        "url": launch_url,
        "custom": {"module": module.slug},
        "lineItem": {
            "scoreMaximum": SCORE_MAXIMUM, "label": module.title,
            "resourceId": module.slug, "tag": "upstander",
        },
    }


def response_jwt(
    session: Session, tool_session: ToolSession, chosen: list[ModuleEntry], launch_url: str
) -> tuple[str, str]:
    """Sign the LtiDeepLinkingResponse; return (JWT, the platform's return URL)."""
    settings = tool_session.deep_linking or {}
    launch = tool_session.launch
    platform = launch.deployment.platform
    items = [content_item(m, launch_url) for m in chosen]
    if not settings.get("accept_multiple", True):
        items = items[:1]
    body: dict[str, Any] = {
        "iss": platform.client_id,
        "aud": [platform.issuer],
        "nonce": tool_session.id,
        c.DEPLOYMENT_ID: launch.deployment.deployment_id,
        c.MESSAGE_TYPE: c.DEEP_LINKING_RESPONSE,
        c.VERSION: c.LTI_VERSION,
        c.DL_CONTENT_ITEMS: items,
        c.DL_MSG: f"Added {len(items)} Upstander module(s).",
    }
    if "data" in settings:
        body[c.DL_DATA] = settings["data"]
    return keys.sign(session, body), str(settings["deep_link_return_url"])

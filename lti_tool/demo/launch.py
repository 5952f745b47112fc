"""Start launches: the login initiation URL, the signed message hint and the tool placements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti import claims as c
from lti_tool.models.demo import DemoLineItem, DemoLink, DemoTool

from . import roster
from .errors import PageError
from .site import Site

DEFAULT_LINK_TITLE = "Upstander — course home"
# A launch page left open for a while can still be used; an hour is what real LMSs allow too.
HINT_MAX_AGE = 3600
# LTI Platform Storage: the name of the launch page's frame that keeps data for the tool (sent to the
# tool as ``lti_storage_target``).
STORAGE_FRAME = "lti-platform-storage"


@dataclass(frozen=True)
class MessageHint:
    """What the launch page asked for, carried through the tool's login in ``lti_message_hint``."""

    user_id: str
    message_type: str
    link_id: int | None = None
    tamper: bool = False

    def dumps(self, site: Site) -> str:
        payload = {"u": self.user_id, "m": self.message_type, "l": self.link_id, "t": self.tamper}
        return site.serializer("message-hint").dumps(payload)

    @classmethod
    def loads(cls, site: Site, value: str) -> MessageHint:
        try:
            data = site.serializer("message-hint").loads(value, max_age=HINT_MAX_AGE)
        except BadSignature as exc:
            raise PageError("lti_message_hint is not a hint this LMS signed, or it expired",
                            "lti_message_hint") from exc
        return cls(str(data["u"]), str(data["m"]), data["l"], bool(data["t"]))


def placements(session: Session, tool: DemoTool) -> list[DemoLink]:
    """Return the course's placements of the tool, creating the default one the first time."""
    links = list(session.scalars(select(DemoLink).where(DemoLink.tool_id == tool.id).order_by(DemoLink.id)))
    if not links:
        link = DemoLink(tool_id=tool.id, title=DEFAULT_LINK_TITLE, url=None, custom={})
        session.add(link)
        session.flush()
        links = [link]
    return links


def line_item_for(session: Session, link_id: int) -> DemoLineItem | None:
    """Return the gradebook column attached to a placement, if any."""
    stmt = select(DemoLineItem).where(DemoLineItem.link_id == link_id).order_by(DemoLineItem.id).limit(1)
    return session.scalars(stmt).first()


def tool_configuration(tool: DemoTool) -> dict[str, Any]:
    """Return the tool's registered ``lti-tool-configuration`` claim."""
    found: dict[str, Any] = tool.config[c.TOOL_CONFIGURATION]
    return found


def target_link_uri(tool: DemoTool, link: DemoLink | None, message_type: str) -> str:
    """Return where the launch should land: the placement's URL, the message's, or the tool's default."""
    config = tool_configuration(tool)
    if link is not None and link.url:
        return link.url
    for message in config.get("messages", []):
        if message.get("type") == message_type and message.get("target_link_uri"):
            return str(message["target_link_uri"])
    return str(config["target_link_uri"])


def login_url(site: Site, tool: DemoTool, link: DemoLink | None, hint: MessageHint, storage: bool = False) -> str:
    """Return the tool's login initiation URL for this launch (LTI core §4.1, third-party login).

    With ``storage`` the login names the frame offering LTI Platform Storage (``lti_storage_target``).
    """
    params = {
        "iss": site.issuer,
        "login_hint": hint.user_id,
        "target_link_uri": target_link_uri(tool, link, hint.message_type),
        "lti_message_hint": hint.dumps(site),
        "client_id": tool.client_id,
        "lti_deployment_id": tool.deployment_id,
    }
    if storage:
        params["lti_storage_target"] = STORAGE_FRAME
    return f"{tool.config['initiate_login_uri']}?{urlencode(params)}"


@dataclass(frozen=True)
class Started:
    """The launch page's two login URLs: for its iframe, and for a new window (without platform storage)."""

    frame_url: str
    window_url: str


def start(session: Session, site: Site, tool: DemoTool, user_id: str, link_id: int | None,
          tamper: bool = False, storage: bool = True) -> Started:
    """Check who launches what and return the tool's login URLs for the launch page."""
    person = roster.find(user_id)
    if person is None:
        raise PageError(f"nobody with user id {user_id!r} is enrolled in the course", "user")
    if link_id is None:
        if not person.is_coordinator:
            raise PageError(f"{person.name} cannot add modules: only instructors can", "user")
        link, hint = None, MessageHint(user_id, c.DEEP_LINKING_REQUEST)
    else:
        link = session.get(DemoLink, link_id)
        if link is None or link.tool_id != tool.id:
            raise PageError(f"there is no placement {link_id} in the course", "link")
        hint = MessageHint(user_id, c.RESOURCE_LINK_REQUEST, link.id, tamper)
    return Started(login_url(site, tool, link, hint, storage), login_url(site, tool, link, hint))

"""Assignment and Grade Services 2.0 (https://www.imsglobal.org/spec/lti-ags/v2p0): the gradebook."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models.demo import DemoLineItem, DemoLink, DemoScore

from . import roster
from .errors import ApiError
from .site import Site

LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
RESULTS_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
# Ids are INTEGER columns: a larger number from a URL names no row, and the database would refuse to compare it.
MAX_ID = 2**31 - 1


def line_item_json(site: Site, item: DemoLineItem) -> dict[str, Any]:
    """Return a line item in its AGS JSON form."""
    body: dict[str, Any] = {"id": site.lineitem_url(item.id), "scoreMaximum": item.score_maximum,
                            "label": item.label, "resourceId": item.resource_id, "tag": item.tag}
    if item.link_id is not None:
        body["resourceLinkId"] = f"link-{item.link_id}"
    return body


def list_line_items(session: Session, site: Site, filters: dict[str, str]) -> list[dict[str, Any]]:
    """Return the course's line items, filtered as AGS §3.2.4 allows."""
    if any("\x00" in value for value in filters.values()):
        return []  # no stored value holds U+0000 (PostgreSQL could not even compare it)
    stmt = select(DemoLineItem).order_by(DemoLineItem.id)
    if "resource_id" in filters:
        stmt = stmt.where(DemoLineItem.resource_id == filters["resource_id"])
    if "tag" in filters:
        stmt = stmt.where(DemoLineItem.tag == filters["tag"])
    if "resource_link_id" in filters:
        stmt = stmt.where(DemoLineItem.link_id == _link_id(session, filters["resource_link_id"]))
    return [line_item_json(site, item) for item in session.scalars(stmt)]


def _is_id(text: str) -> bool:
    # ASCII only: str.isdigit() also accepts digits that int() refuses, like "²".
    return text.isascii() and text.isdigit() and int(text) <= MAX_ID


def _link_id(session: Session, resource_link_id: str) -> int | None:
    number = resource_link_id.removeprefix("link-")
    link = session.get(DemoLink, int(number)) if _is_id(number) else None
    return link.id if link is not None else None


def create_line_item(session: Session, site: Site, data: dict[str, Any]) -> dict[str, Any]:
    """Add a gradebook column from validated line item JSON."""
    link_id = None
    if data.get("resourceLinkId"):
        link_id = _link_id(session, data["resourceLinkId"])
        if link_id is None:
            raise ApiError("resourceLinkId is not a placement in this course", "resourceLinkId")
    item = DemoLineItem(link_id=link_id, label=data["label"], score_maximum=data["scoreMaximum"],
                        resource_id=data["resourceId"], tag=data["tag"])
    session.add(item)
    session.flush()
    return line_item_json(site, item)


def get_line_item(session: Session, item_id: int) -> DemoLineItem:
    """Return a line item or refuse with 404."""
    item = session.get(DemoLineItem, item_id) if 0 < item_id <= MAX_ID else None
    if item is None:
        raise ApiError(f"there is no line item {item_id}", "lineitem", 404)
    return item


def _latest_timestamp(session: Session, item_id: int, user_id: str) -> datetime | None:
    stmt = (select(DemoScore.timestamp).where(DemoScore.line_item_id == item_id, DemoScore.user_id == user_id)
            .order_by(DemoScore.timestamp.desc()).limit(1))
    return session.scalar(stmt)


def post_score(session: Session, site: Site, item_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Store a validated score; refuse one not newer than the last for that user (AGS §3.4.6)."""
    item = get_line_item(session, item_id)
    if roster.find(data["userId"]) is None:
        raise ApiError("userId is not a member of the course", "userId")
    latest = _latest_timestamp(session, item.id, data["userId"])
    if latest is not None and data["timestamp"] <= latest:
        detail = f"timestamp must be later than the last score's ({latest.isoformat()})"
        raise ApiError(detail, "timestamp", 409)
    session.add(DemoScore(
        line_item_id=item.id, user_id=data["userId"], score_given=data["scoreGiven"],
        score_maximum=data["scoreMaximum"], activity_progress=data["activityProgress"],
        grading_progress=data["gradingProgress"], comment=data["comment"], timestamp=data["timestamp"],
    ))
    session.flush()
    return {"resultUrl": f"{site.lineitem_url(item.id)}/results?user_id={data['userId']}"}


def latest_scores(session: Session, item_ids: list[int] | None = None) -> dict[tuple[int, str], DemoScore]:
    """Return the newest score per (line item, user)."""
    stmt = select(DemoScore).order_by(DemoScore.timestamp, DemoScore.id)
    if item_ids is not None:
        stmt = stmt.where(DemoScore.line_item_id.in_(item_ids))
    return {(s.line_item_id, s.user_id): s for s in session.scalars(stmt)}


def results(session: Session, site: Site, item_id: int, user_id: str | None) -> list[dict[str, Any]]:
    """Return the latest result of each user for a line item (AGS §3.3)."""
    item = get_line_item(session, item_id)
    url = site.lineitem_url(item.id)
    found = []
    for (_, uid), score in sorted(latest_scores(session, [item.id]).items()):
        if user_id is not None and uid != user_id:
            continue
        body: dict[str, Any] = {"id": f"{url}/results/{uid}", "scoreOf": url, "userId": uid}
        if score.score_given is not None and score.score_maximum:
            body["resultScore"] = score.score_given
            body["resultMaximum"] = score.score_maximum
        if score.comment:
            body["comment"] = score.comment
        found.append(body)
    return found

"""What the demo course page shows: placements, the gradebook and the log of score posts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models.demo import DemoLineItem, DemoLink, DemoScore, DemoTool

from .ags import latest_scores
from .launch import placements
from .registration import current_tool


@dataclass
class CoursePage:
    """Everything the course page renders."""

    tool: DemoTool | None
    links: list[DemoLink] = field(default_factory=list)
    line_items: list[DemoLineItem] = field(default_factory=list)
    latest: dict[tuple[int, str], DemoScore] = field(default_factory=dict)
    posts: list[DemoScore] = field(default_factory=list)

    def label(self, item_id: int) -> str:
        """Return a column's label, for the list of posts."""
        return next((item.label for item in self.line_items if item.id == item_id), f"column {item_id}")


def course_page(session: Session) -> CoursePage:
    """Gather the course page: the current tool's placements and the whole gradebook."""
    tool = current_tool(session)
    if tool is None:
        return CoursePage(tool=None)
    items = list(session.scalars(select(DemoLineItem).order_by(DemoLineItem.id)))
    posts = list(session.scalars(select(DemoScore).order_by(DemoScore.received_at.desc(), DemoScore.id.desc())
                                 .limit(200)))
    return CoursePage(tool=tool, links=placements(session, tool), line_items=items,
                      latest=latest_scores(session), posts=posts)

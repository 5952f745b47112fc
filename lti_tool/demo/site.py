"""Where the demo platform lives: its issuer, the URLs it publishes and its signing secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import URLSafeTimedSerializer

COURSE_PATH = "/api/contexts/demo-course"


@dataclass(frozen=True)
class Site:
    """The demo platform's settings, taken from the app configuration once per request."""

    base_url: str
    tool_url: str
    secret_key: str

    @property
    def issuer(self) -> str:
        return self.base_url + "/demo-lms"

    def url(self, path: str) -> str:
        """Return the absolute URL of a demo page; always built from DEMO_LMS_URL, never the request."""
        return self.issuer + path

    @property
    def tool_origin(self) -> str:
        """Return scheme://host[:port] of the tool: the only origin the storage frame answers."""
        parts = urlsplit(self.tool_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def token_endpoint(self) -> str:
        return self.url("/token")

    @property
    def lineitems_url(self) -> str:
        return self.url(COURSE_PATH + "/lineitems")

    def lineitem_url(self, item_id: int) -> str:
        return f"{self.lineitems_url}/{item_id}"

    @property
    def memberships_url(self) -> str:
        return self.url(COURSE_PATH + "/memberships")

    def serializer(self, purpose: str) -> URLSafeTimedSerializer:
        """Return a signer for one purpose; the salt keeps a token of one kind from passing as another."""
        return URLSafeTimedSerializer(self.secret_key, salt="upstander-demo-lms/" + purpose)


def site_from(config: Mapping[str, Any]) -> Site:
    """Build the settings from ``app.config``."""
    return Site(
        base_url=str(config["DEMO_LMS_URL"]).rstrip("/"),
        tool_url=str(config["PUBLIC_URL"]).rstrip("/"),
        secret_key=str(config["SECRET_KEY"]),
    )

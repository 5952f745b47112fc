"""Why the demo platform refused a request; the blueprint renders each family its own way."""

from __future__ import annotations

_TITLES = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict",
           415: "Unsupported media type"}


class DemoError(Exception):
    """Base of every refusal: a status, a short title and the detail a developer needs."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, field: str | None = None) -> None:
        self.detail = detail
        self.field = field
        super().__init__(detail)


class PageError(DemoError):
    """A refusal shown to a person as an HTML page (authorization, deep linking return)."""

    title = "The demo LMS refused this request"


class ApiError(DemoError):
    """A refusal answered as problem+json (registration, AGS, NRPS)."""

    def __init__(self, detail: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(detail, field)
        self.status = status
        self.title = _TITLES.get(status, "Bad request")


class OAuthError(DemoError):
    """A token endpoint refusal in the RFC 6749 §5.2 shape."""

    def __init__(self, error: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.error = error
        self.status = status

"""A learner's browser over plain HTTP (httpx, no JavaScript): demo LMS launch, then a whole module.

Every request goes to the next instance in turn (a learner's consecutive requests never land on the
same one, as behind a load balancer without sticky sessions). URLs are the public ones the app writes
(``PUBLIC_URL`` for the tool, ``DEMO_LMS_URL`` for the demo LMS); the browser sends each to the chosen
instance instead. Cookies are kept by hand: the tool's are ``Secure``, which a cookie jar withholds
over http://127.0.0.1, where browsers send them (loopback counts as a secure context).
"""

from __future__ import annotations

import re
from collections import Counter
from html import unescape
from urllib.parse import urljoin, urlsplit

import httpx

from lti_tool.content import DecisionScreen, Module

FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.DOTALL)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
LOGIN_URL = re.compile(r'(?:src|href)="([^"]*/lti/login\?[^"]*)"')
MAX_STEPS = 200


class Browser:
    """Sends each request to the next instance; follows redirects; keeps cookies by name."""

    def __init__(self, publics: tuple[str, ...], instances: list[str], first: int) -> None:
        self.publics, self.instances, self.turn = publics, instances, first
        self.http = httpx.Client(timeout=30, follow_redirects=False)
        self.cookies: dict[str, str] = {}
        self.hits: Counter[str] = Counter()  # requests per instance

    def close(self) -> None:
        self.http.close()

    def _route(self, url: str) -> str:
        instance = self.instances[self.turn % len(self.instances)]
        self.turn += 1
        self.hits[instance] += 1
        for public in self.publics:
            if url.startswith(public):
                return instance + url[len(public):]
        raise AssertionError(f"a link outside the installation: {url}")

    def _keep_cookies(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            pair, _, attributes = header.partition(";")
            name, _, value = pair.strip().partition("=")
            gone = "max-age=0" in attributes.lower().replace(" ", "") or not value.strip('"')
            if gone:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def request(self, method: str, url: str, data: dict[str, str] | None = None) -> tuple[str, httpx.Response]:
        """Send one request (following redirects); return the final public URL and the response."""
        for _ in range(10):
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
            response = self.http.request(method, self._route(url), data=data, headers=headers)
            self._keep_cookies(response)
            if response.status_code not in (301, 302, 303, 307):
                assert response.status_code < 400, f"{method} {url}: {response.status_code}\n{response.text[:2000]}"
                return url, response
            url, method, data = urljoin(url, response.headers["location"]), "GET", None
        raise AssertionError(f"too many redirects from {url}")

    def post_form(self, page_url: str, action: str, fields: dict[str, str]) -> tuple[str, httpx.Response]:
        return self.request("POST", urljoin(page_url, unescape(action)), data=fields)


def forms(html: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Return the page's post forms by the last path segment of their action: action, hidden fields."""
    found = {}
    for action, body in FORM.findall(html):
        fields = {name: unescape(value) for name, value in HIDDEN.findall(body)}
        found[urlsplit(unescape(action)).path.rstrip("/").rsplit("/", 1)[-1]] = (action, fields)
    return found


def launch(browser: Browser, lms_url: str, link_id: int, user_id: str) -> str:
    """Open a placement in the demo LMS and complete the LTI launch; return the tool's landing URL."""
    page_url, page = browser.request("GET", f"{lms_url}/demo-lms/launch/{link_id}?user={user_id}")
    logins = [unescape(u) for u in LOGIN_URL.findall(page.text)]
    # The new-window login (no platform storage) runs without JavaScript: login, authorise, launch.
    login = next((u for u in logins if "lti_storage_target" not in u), None) or logins[0]
    auth_url, auth = browser.request("GET", urljoin(page_url, login))
    (action, fields), = forms(auth.text).values()
    landing_url, landing = browser.post_form(auth_url, action, fields)
    assert "/app/" in landing_url, f"the launch ended at {landing_url}:\n{landing.text[:2000]}"
    return landing_url


def play(browser: Browser, landing_url: str, module: Module, best: bool) -> int:
    """Play ``module`` from the landing page to its end screen (best or worst choices); return the steps."""
    overview_url = urljoin(landing_url, f"play/{module.slug}/")
    url, page = browser.request("GET", overview_url)
    url, page = browser.post_form(url, *forms(page.text)["start"])
    for step in range(MAX_STEPS):
        found = forms(page.text)
        if "answer" in found:
            action, fields = found["answer"]
            screen = module.screen(fields["screen"])
            assert isinstance(screen, DecisionScreen), f"{module.slug}: an answer form on {screen.id}"
            choices = sorted(screen.choices, key=lambda c: (c.best, c.points))
            url, page = browser.post_form(url, action, {**fields, "choice": choices[-1 if best else 0].id})
        elif "continue" in found:
            url, page = browser.post_form(url, *found["continue"])
        elif "acknowledge" in found:
            action, fields = found["acknowledge"]
            url, page = browser.post_form(url, action, {**fields, "read": "yes"})
        else:
            return step  # the end screen: no form to go on with
    raise AssertionError(f"{module.slug}: no end after {MAX_STEPS} steps")

"""The ``upstander lrs`` commands: clients add/list/remove, and ``lrs serve`` accepting the same credentials
as the LRS mounted in the tool (both hash secrets with the key derived from the installation's secret)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from flask import Flask

from lti_tool import cli

ROOT = Path(__file__).resolve().parents[2]
V103 = {"X-Experience-API-Version": "1.0.3"}
STATE_QUERY = {"activityId": "https://example.com/a", "agent": json.dumps({"mbox": "mailto:a@example.com"})}


def _invoke(app: Flask, args: list[str]) -> Result:
    # The group builds its own app from the environment; give it the test app instead.
    original = cli.create_app
    cli.create_app = lambda: app  # type: ignore[assignment]
    try:
        return CliRunner().invoke(cli.main, args)
    finally:
        cli.create_app = original  # type: ignore[assignment]


def _add(app: Flask, *args: str) -> tuple[str, str]:
    result = _invoke(app, ["lrs", "clients", "add", *args])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    return lines["key"].strip(), lines["secret"].strip()


def test_add_prints_credentials_that_work_on_the_mounted_lrs(app: Flask) -> None:
    key, secret = _add(app, "Reporting tool")
    client = app.test_client()
    ok = client.get("/xapi/activities/state", query_string=STATE_QUERY, headers=V103, auth=(key, secret))
    assert ok.status_code == 200  # scope "all" by default
    assert ok.get_json() == []
    assert client.get("/xapi/activities/state", query_string=STATE_QUERY, headers=V103,
                      auth=(key, secret + "x")).status_code == 401


def test_scopes_are_given_by_repeating_the_option(app: Flask) -> None:
    key, secret = _add(app, "State only", "--scope", "state", "--scope", "all/read")
    listed = json.loads(_invoke(app, ["lrs", "clients", "list", "--json"]).stdout)
    assert [row["scopes"] for row in listed if row["key"] == key] == [["state", "all/read"]]
    profile = app.test_client().put("/xapi/activities/profile", query_string={"activityId": "https://e.x/a",
                                    "profileId": "p"}, headers={**V103, "If-None-Match": "*"}, json={},
                                    auth=(key, secret))
    assert profile.status_code == 403


def test_an_unknown_scope_is_refused(app: Flask) -> None:
    result = _invoke(app, ["lrs", "clients", "add", "x", "--scope", "everything"])
    assert result.exit_code == 2
    assert "everything" in result.output


def test_list_never_shows_secrets(app: Flask) -> None:
    key, secret = _add(app, "Listed client")
    result = _invoke(app, ["lrs", "clients", "list"])
    assert result.exit_code == 0
    assert f"{key}  Listed client  scopes=all" in result.stdout
    assert secret not in result.stdout
    assert secret not in _invoke(app, ["lrs", "clients", "list", "--json"]).stdout


def test_remove_disables_the_client(app: Flask) -> None:
    key, secret = _add(app, "Short-lived")
    result = _invoke(app, ["lrs", "clients", "remove", key])
    assert result.exit_code == 0, result.output
    assert app.test_client().get("/xapi/activities/state", query_string=STATE_QUERY, headers=V103,
                                 auth=(key, secret)).status_code == 401
    assert "disabled" in _invoke(app, ["lrs", "clients", "list"]).stdout
    missing = _invoke(app, ["lrs", "clients", "remove", "no-such-key"])
    assert missing.exit_code == 1
    assert "no client with key no-such-key" in missing.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served_lrs(app: Flask) -> Iterator[str]:
    """Run ``upstander lrs serve`` on the test database with the test app's secret key."""
    port = _free_port()
    env = {**os.environ, "UPSTANDER_DATABASE_URL": app.config["DATABASE_URL"],
           "UPSTANDER_SECRET_KEY": app.config["SECRET_KEY"], "UPSTANDER_PUBLIC_URL": app.config["PUBLIC_URL"]}
    cmd = [sys.executable, "-c", "from lti_tool.cli import main; main()", "lrs", "serve", "--port", str(port),
           "--workers", "1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)  # noqa: S603  (our interpreter)
    base = f"http://127.0.0.1:{port}/xapi"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/about", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert proc.poll() is None, "lrs serve exited"
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_lrs_serve_accepts_clients_made_by_the_cli(app: Flask, served_lrs: str) -> None:
    key, secret = _add(app, "Served")
    about = httpx.get(f"{served_lrs}/about")
    assert "2.0.0" in about.json()["version"]
    ok = httpx.get(f"{served_lrs}/activities/state", params=STATE_QUERY, headers=V103, auth=(key, secret))
    assert ok.status_code == 200
    assert httpx.get(f"{served_lrs}/activities/state", params=STATE_QUERY, headers=V103).status_code == 401
    assert httpx.get(f"{served_lrs.removesuffix('/xapi')}/").status_code == 404  # only the LRS is served

"""The ``upstander content check`` command."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from lti_tool import cli
from lti_tool.content import registry

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "content"


def _invoke(app: Flask, args: list[str]) -> Result:
    # The group builds its own app from the environment; give it the test app instead.
    original = cli.create_app
    cli.create_app = lambda: app  # type: ignore[assignment]
    try:
        return CliRunner().invoke(cli.main, args)
    finally:
        cli.create_app = original  # type: ignore[assignment]


def test_check_passes_valid_folders(app: Flask) -> None:
    result = _invoke(app, ["content", "check", str(FIXTURES / "valid"), str(FIXTURES / "agency")])
    assert result.exit_code == 0, result.output
    assert result.stdout == "3 modules, 9 screens, no problems\n"
    assert result.stderr == ""


def test_check_prints_each_problem_and_fails(app: Flask) -> None:
    result = _invoke(app, ["content", "check", str(FIXTURES / "broken")])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert f"{FIXTURES / 'broken' / 'modules' / 'too-long.yaml'}:5: minutes: Must be between 1 and 20 minutes; " \
           "split a longer module." in lines
    assert result.stdout.endswith(f", {len(lines)} problems\n")


def test_check_defaults_to_built_in_and_configured_folders(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "BUILT_IN", FIXTURES / "valid")
    app.config["CONTENT_PATH"] = str(FIXTURES / "agency")
    result = _invoke(app, ["content", "check"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "3 modules, 9 screens, no problems\n"

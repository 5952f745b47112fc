"""Configuration: environment variables, the stored secret key, the demo LMS default."""

from __future__ import annotations

from pathlib import Path

import pytest

from lti_tool import config, create_app
from lti_tool.config import secret_key


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = secret_key(str(tmp_path))
    assert len(first) >= 40
    assert secret_key(str(tmp_path)) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # readable by the owner only


def test_environment_configures_the_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("UPSTANDER_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv("UPSTANDER_PUBLIC_URL", "https://upstander.agency.example/")
    monkeypatch.setenv("UPSTANDER_SECRET_KEY", "from-env")
    app = create_app()
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path}/x.db"
    assert app.config["PUBLIC_URL"] == "https://upstander.agency.example"
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["DEMO_LMS"] is False  # a public deployment has no demo LMS unless asked
    assert "demo_lms" not in app.blueprints


def test_demo_lms_can_be_enabled_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTANDER_PUBLIC_URL", "https://upstander.agency.example")
    monkeypatch.setenv("UPSTANDER_SECRET_KEY", "x")
    monkeypatch.setenv("UPSTANDER_DEMO_LMS", "true")
    assert create_app().config["DEMO_LMS"] is True


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UPSTANDER_DATABASE_URL", "UPSTANDER_PUBLIC_URL", "UPSTANDER_DEMO_LMS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UPSTANDER_SECRET_KEY", "x")
    app = create_app()
    assert app.config["DATABASE_URL"].startswith("sqlite:///")
    assert app.config["DATABASE_URL"].endswith("upstander.db")
    assert app.config["DEMO_LMS"] is True


def test_every_setting_is_in_the_readme_configuration_reference() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    reference = readme[readme.index("### Configuration reference"):]
    # Settings read without a default in defaults(): the secret key, the demo switch, agency content.
    names = {*config.defaults("/instance"), "SECRET_KEY", "DEMO_LMS", "CONTENT_PATH"}
    missing = sorted(n for n in names if f"`UPSTANDER_{n}`" not in reference)
    assert missing == [], f"add these to README's configuration reference: {missing}"

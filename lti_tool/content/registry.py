"""The content this process serves: built-in modules plus an agency's folders, loaded once."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from flask import current_app, has_app_context

import lti_tool
from lti_tool.content.loader import load_content
from lti_tool.content.model import Content

BUILT_IN = Path(lti_tool.__file__).resolve().parent.parent / "content"
ENVIRONMENT_VARIABLE = "UPSTANDER_CONTENT_PATH"


def configured_paths() -> tuple[Path, ...]:
    """Return the built-in content folder, then the agency folders configured for this app."""
    # In an app, config.load has mapped UPSTANDER_CONTENT_PATH to CONTENT_PATH (tests set it directly).
    extra = current_app.config.get("CONTENT_PATH") if has_app_context() else os.environ.get(ENVIRONMENT_VARIABLE)
    return (BUILT_IN, *parse_paths(str(extra or "")))


def parse_paths(value: str) -> tuple[Path, ...]:
    """Return the folders in a ``:``-separated list, skipping empty entries."""
    return tuple(Path(part) for part in value.split(":") if part.strip())


def get_content() -> Content:
    """Return the configured content, loading it on first use; raise ContentInvalid if it has problems."""
    return _load(configured_paths())


@cache
def _load(paths: tuple[Path, ...]) -> Content:
    """Load these folders once per process: content changes only with a deployment."""
    return load_content(list(paths))

"""Run axe-core (pinned in package-lock.json, installed by ``npm ci``) in a page or frame and fail on violations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Frame, Page

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

_RUN = """async (tags) => {
    // iframes: false: each frame is checked on its own (axe would wait a minute for a frame without axe).
    const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}, iframes: false});
    return {
        url: document.location.href,
        version: axe.version,
        violations: results.violations.map(v => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            helpUrl: v.helpUrl,
            nodes: v.nodes.map(n => ({target: n.target.map(t => String(t)).join(' '), summary: n.failureSummary})),
        })),
    };
}"""


def _axe_available() -> None:
    if not AXE_JS.is_file():
        message = f"{AXE_JS} is missing: run `npm ci` in the project folder (bin/test does so)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _inject(target: Page | Frame) -> None:
    """Load axe into the document: a script tag, or, where the page's CSP refuses inline scripts, evaluation."""
    if target.evaluate("typeof window.axe") == "object":
        return
    try:
        target.add_script_tag(path=str(AXE_JS))
    except PlaywrightError as error:
        if "Content Security Policy" not in error.message:
            raise
        # The pages' CSP (script-src 'self') refuses the inline tag; a DevTools evaluation is not subject to it,
        # so the pages are checked under their real CSP rather than in a context that bypasses it.
        target.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;void 0")
    assert target.evaluate("typeof window.axe") == "object", "axe-core could not be loaded into the document"


def format_violations(violations: list[dict[str, Any]]) -> str:
    """Return one readable block per violation: rule id, impact, help text, then each failing target."""
    lines: list[str] = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}  <{v['helpUrl']}>")
        for node in v["nodes"]:
            lines.append(f"    {node['target']}")
            summary = " ".join((node.get("summary") or "").split())
            if summary:
                lines.append(f"      {summary}")
    return "\n".join(lines)


def assert_no_axe_violations(target: Page | Frame) -> None:
    """Fail unless axe finds no WCAG 2.0/2.1 A or AA violation in the page or frame's current document."""
    _axe_available()
    _inject(target)
    result = target.evaluate(_RUN, WCAG_TAGS)
    violations = result["violations"]
    assert not violations, (
        f"axe-core {result['version']} found {len(violations)} accessibility violation(s) in {result['url']}:\n"
        + format_violations(violations)
    )

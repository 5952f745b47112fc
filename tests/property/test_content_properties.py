"""Bad input, generated: module files mutated from a real module of the curriculum.

Loading either succeeds or raises ContentInvalid whose every problem names a file of the folder and a
line inside that file; no other exception escapes, whatever the file holds.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lti_tool.content import BUILT_IN, ContentInvalid, check, load_content

MODULES = sorted((BUILT_IN / "modules").glob("*.yaml"))
ORIGINALS = {path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) for path in MODULES}

scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
           | st.dates() | st.sampled_from(["intro", "end", "", "distract", "peer", "-1"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=3), max_leaves=6)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in parsed YAML (mappings and sequences)."""
    found = [prefix] if prefix else []
    children = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in children:
        found.extend(_paths(value, (*prefix, key)))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def _screen_ids(data: Any) -> list[str]:
    screens = data.get("screens") if isinstance(data, dict) else None
    return [s["id"] for s in screens if isinstance(s, dict) and isinstance(s.get("id"), str)] \
        if isinstance(screens, list) else []


@st.composite
def mutated_data(draw: st.DrawFn) -> tuple[str, Any]:
    """Return a module's slug and its data with a few keys dropped, retyped, duplicated or re-pointed."""
    slug = draw(st.sampled_from(sorted(ORIGINALS)))
    data = yaml.safe_load(yaml.safe_dump(ORIGINALS[slug]))  # a deep copy
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _parent(data, path), path[-1]
        kind = draw(st.sampled_from(["drop", "retype", "duplicate", "repoint"]))
        if kind == "drop":
            del parent[key]
        elif kind == "retype":
            parent[key] = draw(values)
        elif kind == "duplicate" and isinstance(parent, list):
            parent.append(yaml.safe_load(yaml.safe_dump(parent[key])))  # e.g. a second screen with the same id
        else:  # a branch target (start, next, a choice's next) that may dangle
            ids = _screen_ids(data) or ["intro"]
            parent[key] = draw(st.sampled_from(ids) | st.text(max_size=6))
    return slug, data


@st.composite
def broken_text(draw: st.DrawFn) -> tuple[str, str]:
    """Return a module's slug and its text with a piece cut, inserted or repeated (often no longer YAML)."""
    slug = draw(st.sampled_from(sorted(ORIGINALS)))
    text = (BUILT_IN / "modules" / f"{slug}.yaml").read_text(encoding="utf-8")
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        kind = draw(st.sampled_from(["cut", "insert", "repeat-line"]))
        if kind == "cut":
            text = text[:at] + text[at + draw(st.integers(min_value=1, max_value=80)):]
        elif kind == "insert":
            text = text[:at] + draw(st.text(alphabet=":-[]{}&*!|>'\"#%@` \t\n\\x0", max_size=8)) + text[at:]
        else:
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            text = text[:start] + text[start:end + 1] * 2 + text[end + 1:] if end != -1 else text
    return slug, text


@contextmanager
def folder_with(slug: str, text: str) -> Iterator[Path]:
    """A content folder with the curriculum listing one module, whose file holds ``text``."""
    with tempfile.TemporaryDirectory(prefix="upstander-content-") as tmp:
        root = Path(tmp)
        (root / "modules").mkdir()
        shutil.copytree(BUILT_IN / "images", root / "images")
        (root / "curriculum.yaml").write_text(f"id: sample\ntitle: Sample\nmodules:\n  - {slug}\n", encoding="utf-8")
        (root / "modules" / f"{slug}.yaml").write_text(text, encoding="utf-8")
        yield root


def _loads_or_names_file_and_line(slug: str, text: str) -> None:
    with folder_with(slug, text) as root:
        try:
            content = load_content([root])
        except ContentInvalid as exc:
            problems = exc.problems
        else:
            assert list(content.modules) == [slug]
            return
        assert problems
        files = {root / "curriculum.yaml", root / "modules" / f"{slug}.yaml"}
        for problem in problems:
            assert problem.path in files, str(problem)
            lines = len(problem.path.read_text(encoding="utf-8").splitlines())
            assert 1 <= problem.line <= lines + 1, str(problem)
            assert str(problem).startswith(f"{problem.path}:{problem.line}: ")


def test_a_control_character_is_reported_at_its_line() -> None:
    text = (BUILT_IN / "modules" / "three-ds.yaml").read_text(encoding="utf-8").replace("title:", "ti\x1ftle:", 1)
    with folder_with("three-ds", text) as root:
        problems = check([root])
    assert [(p.line, p.message) for p in problems] == [
        (3, "YAML error: unacceptable character #x001f: special characters are not allowed")]


def test_deeply_nested_data_is_a_problem_not_a_crash() -> None:
    with folder_with("three-ds", "[" * 5000) as root:
        problems = check([root])
    assert [p.message for p in problems] == ["YAML error: the data is nested too deeply"]


@given(mutated_data())
@settings(max_examples=80)
def test_a_mutated_module_loads_or_is_refused_at_its_file_and_line(case: tuple[str, Any]) -> None:
    slug, data = case
    _loads_or_names_file_and_line(slug, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@given(broken_text())
@settings(max_examples=80)
def test_broken_module_text_loads_or_is_refused_at_its_file_and_line(case: tuple[str, str]) -> None:
    _loads_or_names_file_and_line(*case)


@given(st.sampled_from(sorted(ORIGINALS)), st.text(max_size=200))
@settings(max_examples=100)
def test_any_text_as_a_module_loads_or_is_refused(slug: str, text: str) -> None:
    _loads_or_names_file_and_line(slug, text)


def test_every_real_module_loads_unchanged() -> None:
    for slug in ORIGINALS:
        text = (BUILT_IN / "modules" / f"{slug}.yaml").read_text(encoding="utf-8")
        with folder_with(slug, text) as root:
            assert list(load_content([root]).modules) == [slug]

"""Load content folders into a Content, collecting every problem instead of stopping at the first."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError

from lti_tool.content.model import Content, ContentInvalid, ContentProblem, Curriculum, Module
from lti_tool.content.rules import check_module
from lti_tool.content.schemas import CurriculumSchema, ModuleSchema
from lti_tool.content.source import Document, KeyPath, read

CURRICULUM_FILE = "curriculum.yaml"
MODULES_FOLDER = "modules"

# Marshmallow's wording for these two, and ours: a field name reads better than "this field".
_MISSING = "Missing data for required field."
_UNKNOWN = "Unknown field."


@dataclass
class _Folder:
    """What one content folder holds: its curriculum, if any, and its modules in order."""

    curriculum: Curriculum | None = None
    modules: list[Module] = field(default_factory=list)
    slug_lines: dict[str, int] = field(default_factory=dict)


def load_content(paths: Sequence[Path]) -> Content:
    """Load the content folders, or raise ContentInvalid listing every problem."""
    content, problems = read_content(paths)
    if problems:
        raise ContentInvalid(problems)
    return content


def check(paths: Sequence[Path]) -> list[ContentProblem]:
    """Return every problem in the content folders."""
    return read_content(paths)[1]


def read_content(paths: Sequence[Path]) -> tuple[Content, list[ContentProblem]]:
    """Load what is valid in the content folders, and list every problem found."""
    problems: list[ContentProblem] = []
    folders = [_read_folder(Path(path), problems, first=n == 0) for n, path in enumerate(paths)]
    modules: dict[str, Module] = {}
    for folder in folders:
        for module in folder.modules:
            if module.slug in modules:
                problems.append(ContentProblem(module.source, folder.slug_lines[module.slug],
                                               f"module '{module.slug}' is already defined in "
                                               f"{modules[module.slug].source}"))
            else:
                modules[module.slug] = module
    head = folders[0].curriculum if folders else None
    curriculum = Curriculum(head.id if head else "", head.title if head else "", tuple(modules))
    return Content(curriculum, modules), problems


def _read_folder(folder: Path, problems: list[ContentProblem], *, first: bool) -> _Folder:
    """Read one folder's curriculum and modules, adding their problems to the list."""
    result = _Folder()
    if not folder.is_dir():
        problems.append(ContentProblem(folder, 1, "not a content folder (no such directory)"))
        return result
    listed: Document | None = None
    if (folder / CURRICULUM_FILE).is_file():
        listed = read(folder / CURRICULUM_FILE)
        result.curriculum = _load(listed, CurriculumSchema())
    elif first:
        # The first folder names the curriculum; later folders (an agency's) may only add modules.
        problems.append(ContentProblem(folder / CURRICULUM_FILE, 1, "missing: the first content folder needs a "
                                                                   "curriculum"))
    docs = [read(path) for path in sorted((folder / MODULES_FOLDER).glob("*.yaml"))]
    found = {doc.path.stem: _module(doc, result) for doc in docs}
    order = _order(listed, result.curriculum, found, folder)
    result.modules = [m for slug in order if (m := found.get(slug)) is not None]
    for doc in [listed, *docs] if listed else docs:
        problems.extend(sorted(doc.problems, key=lambda problem: problem.line))
    return result


def _module(doc: Document, folder: _Folder) -> Module | None:
    """Return the module a document holds if its structure is valid, checking its rules."""
    module: Module | None = _load(doc, ModuleSchema())
    if module is None:
        return None  # the rules need a well-formed module; fix the structure first
    module = dataclasses.replace(module, source=doc.path)
    check_module(module, doc)
    folder.slug_lines[module.slug] = doc.line(("slug",))
    return module


def _order(listed: Document | None, curriculum: Curriculum | None, found: dict[str, Module | None],
           folder: Path) -> list[str]:
    """Return the folder's module slugs in order, recording names missing from either side."""
    if listed is None or curriculum is None:
        return list(found)  # no curriculum here: file-name order
    for position, slug in enumerate(curriculum.modules):
        if slug in curriculum.modules[:position]:
            listed.problem(("modules", position), f"module '{slug}' is listed twice")
        elif slug not in found:
            listed.problem(("modules", position), f"no module '{slug}' (expected "
                                                  f"{folder / MODULES_FOLDER / (slug + '.yaml')})")
    for slug in sorted(found.keys() - set(curriculum.modules)):
        listed.problem(("modules",), f"module file {MODULES_FOLDER}/{slug}.yaml is not listed in modules")
    return [slug for slug in dict.fromkeys(curriculum.modules) if slug in found]


def _load(doc: Document, schema: Schema) -> Any:
    """Return the document's data loaded by the schema, or None, recording problems."""
    if doc.data is None:
        return None  # unreadable or empty: there is nothing to validate
    try:
        return schema.load(doc.data)
    except ValidationError as exc:
        _record(doc, exc.messages, ())
        return None


def _record(doc: Document, messages: Any, key_path: KeyPath) -> None:
    """Record marshmallow's nested error messages, each at the line of its field."""
    if isinstance(messages, dict):
        for key, nested in messages.items():
            _record(doc, nested, key_path if key == "_schema" else (*key_path, key))
    elif isinstance(messages, list):
        for message in messages:
            _record(doc, message, key_path)
    else:
        doc.problem(key_path, _wording(key_path, str(messages)))


def _wording(key_path: KeyPath, message: str) -> str:
    """Return a message that names the field it is about."""
    label = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in key_path).lstrip(".")
    if message == _MISSING:
        return f"missing required field '{label}'"
    if message == _UNKNOWN:
        return f"unknown field '{label}'"
    if message == "Invalid input type.":
        message = "Must be a mapping."
    return f"{label}: {message}" if label else message

"""Read YAML into plain data while remembering the line each value came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lti_tool.content.model import ContentProblem

# A path into parsed data: mapping keys and sequence indexes, e.g. ("screens", 2, "next").
KeyPath = tuple[str | int, ...]


@dataclass
class Document:
    """A parsed YAML file: its data, the line of each key path, and problems found while reading."""

    path: Path
    data: Any = None
    lines: dict[KeyPath, int] = field(default_factory=dict)
    problems: list[ContentProblem] = field(default_factory=list)

    def line(self, key_path: KeyPath) -> int:
        """Return the line of a key path, or of its nearest ancestor that exists (a missing field)."""
        for end in range(len(key_path), -1, -1):
            found = self.lines.get(key_path[:end])
            if found is not None:
                return found
        return 1

    def problem(self, key_path: KeyPath, message: str) -> None:
        """Record a problem at the line of a key path."""
        self.problem_at(self.line(key_path), message)

    def problem_at(self, line: int, message: str) -> None:
        """Record a problem at a line."""
        self.problems.append(ContentProblem(self.path, line, message))


def read(path: Path) -> Document:
    """Parse one YAML file, recording a problem instead of raising on bad YAML."""
    doc = Document(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        doc.problem((), f"cannot read the file: {exc}")
        return doc
    try:
        _parse(doc, text)
    except yaml.reader.ReaderError as exc:
        # A control character (or similar) is refused before the parser has a mark: locate it by position.
        doc.problem_at(text.count("\n", 0, exc.position) + 1, f"YAML error: {str(exc).splitlines()[0]}")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        doc.problem_at(mark.line + 1 if mark else 1, f"YAML syntax error: {exc.problem or exc.context}")
    except (yaml.YAMLError, ValueError) as exc:
        # PyYAML raises a bare ValueError for impossible dates such as 2026-13-01.
        doc.problem((), f"YAML error: {exc}")
    except RecursionError:
        # PyYAML composes nested collections recursively; thousands of levels exhaust the stack.
        doc.data = None
        doc.problem((), "YAML error: the data is nested too deeply")
    if doc.data is None and not doc.problems:
        doc.problem((), "the file is empty")
    return doc


def _parse(doc: Document, text: str) -> None:
    """Parse the text into ``doc.data`` and record the line of every key path."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            # Construct first: resolving merge keys ("<<") rewrites the node tree we walk next.
            doc.data = loader.construct_document(node)
            _walk(doc, node, ())
    finally:
        loader.dispose()


def _walk(doc: Document, node: yaml.Node, key_path: KeyPath) -> None:
    """Record the line of every key and item under a node."""
    doc.lines.setdefault(key_path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key: str = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                # PyYAML keeps the last value silently; a repeated key is almost always a mistake.
                doc.problem_at(line, f"duplicate key '{key}' (first at line {seen[key]})")
                continue
            seen[key] = line
            doc.lines[(*key_path, key)] = line
            _walk(doc, value_node, (*key_path, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            doc.lines[(*key_path, index)] = item.start_mark.line + 1
            _walk(doc, item, (*key_path, index))

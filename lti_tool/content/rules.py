"""The checks a schema cannot make: ids, links between screens, stages, points, notices."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path

from lti_tool.content.model import DecisionScreen, EndScreen, Module, Screen, TeachScreen
from lti_tool.content.source import Document


def check_module(module: Module, doc: Document) -> None:
    """Record every rule the module breaks in its document."""
    if module.slug != doc.path.stem:
        doc.problem(("slug",), f"slug '{module.slug}' must equal the file name '{doc.path.stem}'")
    index = _screen_index(module, doc)
    _check_links(module, doc, index)
    _check_paths(module, doc, index)
    _check_stages(module, doc)
    for position, screen in enumerate(module.screens):
        if isinstance(screen, DecisionScreen):
            _check_choices(screen, doc, position)
        if screen.image is not None:
            _check_image(screen.image.src, module.images, doc, ("screens", position, "image", "src"))
    if module.legal_notice and module.review_date is None:
        doc.problem(("legal_notice",), "legal_notice is true, so review_date (when a reviewer last checked it) "
                                       "is required")


def _screen_index(module: Module, doc: Document) -> dict[str, int]:
    """Return each screen id's position, recording repeated ids."""
    index: dict[str, int] = {}
    for position, screen in enumerate(module.screens):
        if screen.id in index:
            first = doc.line(("screens", index[screen.id]))
            doc.problem(("screens", position, "id"), f"duplicate screen id '{screen.id}' (first at line {first})")
        else:
            index[screen.id] = position
    return index


def _targets(screen: Screen) -> list[tuple[tuple[str | int, ...], str]]:
    """Return each screen this one leads to, with the key path (below the screen) that names it."""
    if isinstance(screen, TeachScreen):
        return [(("next",), screen.next)]
    if isinstance(screen, DecisionScreen):
        return [(("choices", n, "next"), choice.next) for n, choice in enumerate(screen.choices)]
    return []


def _check_links(module: Module, doc: Document, index: Mapping[str, int]) -> None:
    """Record every ``start`` or ``next`` that names no screen."""
    if module.start not in index:
        doc.problem(("start",), f"start: no screen '{module.start}' in this module")
    for position, screen in enumerate(module.screens):
        for key_path, target in _targets(screen):
            if target not in index:
                doc.problem(("screens", position, *key_path), f"next: no screen '{target}' in this module")


def _check_paths(module: Module, doc: Document, index: Mapping[str, int]) -> None:
    """Record screens that start cannot reach, and screens from which no end can be reached."""
    forward: dict[int, set[int]] = {p: set() for p in range(len(module.screens))}
    backward: dict[int, set[int]] = {p: set() for p in range(len(module.screens))}
    for position, screen in enumerate(module.screens):
        for _, target in _targets(screen):
            if target in index:
                forward[position].add(index[target])
                backward[index[target]].add(position)
    # A screen whose id repeats an earlier one is reported as a duplicate, not again as unreachable.
    distinct = [(p, screen) for p, screen in enumerate(module.screens) if index.get(screen.id) == p]
    if module.start in index:
        reached = _closure([index[module.start]], forward)
        for position, screen in distinct:
            if position not in reached:
                doc.problem(("screens", position), f"screen '{screen.id}' cannot be reached from start "
                                                   f"'{module.start}'")
    finishing = _closure([p for p, screen in distinct if isinstance(screen, EndScreen)], backward)
    for position, screen in distinct:
        if position not in finishing:
            doc.problem(("screens", position), f"screen '{screen.id}' never leads to an end screen "
                                               "(a dead end or a loop without an exit)")


def _closure(starts: Iterable[int], edges: Mapping[int, set[int]]) -> set[int]:
    """Return every node reachable from the starts along the edges, the starts included."""
    seen = set(starts)
    queue = deque(seen)
    while queue:
        for following in edges[queue.popleft()] - seen:
            seen.add(following)
            queue.append(following)
    return seen


def _check_stages(module: Module, doc: Document) -> None:
    """Record stages listed but never scored, listed twice, or scored but not listed."""
    scored = {s.stage for s in module.screens if isinstance(s, DecisionScreen)}
    for position, stage in enumerate(module.stages):
        if stage in module.stages[:position]:
            doc.problem(("stages", position), f"stage {stage} is listed twice")
        elif stage not in scored:
            doc.problem(("stages", position), f"stage {stage} is listed in stages but no decision scores it")
    for position, screen in enumerate(module.screens):
        if isinstance(screen, DecisionScreen) and screen.stage not in module.stages:
            doc.problem(("screens", position, "stage"), f"stage {screen.stage} is not listed in the module's "
                                                        "stages")


def _check_choices(screen: DecisionScreen, doc: Document, position: int) -> None:
    """Record repeated choice ids, a decision that earns nothing, and a best choice that is not."""
    here: tuple[str | int, ...] = ("screens", position, "choices")
    seen: dict[str, int] = {}
    for n, choice in enumerate(screen.choices):
        if choice.id in seen:
            first = doc.line((*here, seen[choice.id]))
            doc.problem((*here, n, "id"), f"duplicate choice id '{choice.id}' in screen '{screen.id}' "
                                          f"(first at line {first})")
        seen.setdefault(choice.id, n)
    most = max(choice.points for choice in screen.choices)
    if most <= 0:
        doc.problem(here, f"no choice of decision '{screen.id}' earns points")
    for n, choice in enumerate(screen.choices):
        if choice.best and choice.points < most:
            doc.problem((*here, n, "best"), f"choice '{choice.id}' is marked best but earns {choice.points} "
                                            f"points; the most this decision gives is {most}")


def _check_image(src: str, folder: Path, doc: Document, key_path: tuple[str | int, ...]) -> None:
    """Record an image file that does not exist."""
    if not (folder / src).is_file():
        doc.problem(key_path, f"image '{src}' is not in {folder}")

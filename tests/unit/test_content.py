"""The content loader and checker: every kind of problem, reported at its file and line."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from lti_tool.content import (
    BUILT_IN,
    ContentInvalid,
    ContentProblem,
    DecisionScreen,
    TeachScreen,
    check,
    load_content,
)
from lti_tool.content.source import read

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "content"
VALID, BROKEN, AGENCY = FIXTURES / "valid", FIXTURES / "broken", FIXTURES / "agency"

# Each broken module has one defect; these are all the problems each one must produce.
EXPECTED: dict[str, list[tuple[int, str]]] = {
    "yaml-syntax": [(5, "YAML syntax error: mapping values are not allowed here")],
    "unknown-field": [(29, "unknown field 'screens[1].choices[0].feedbak'")],
    "missing-field": [(19, "missing required field 'screens[1].prompt'")],
    "wrong-type": [(5, "minutes: Not a valid integer.")],
    "slug-mismatch": [(1, "slug 'another-slug' must equal the file name 'slug-mismatch'")],
    "duplicate-key": [(4, "duplicate key 'title' (first at line 3)")],
    "duplicate-screen-id": [(41, "duplicate screen id 'done' (first at line 37)")],
    "duplicate-choice-id": [(31, "duplicate choice id 'a' in screen 'choose' (first at line 26)")],
    "unknown-next": [(30, "next: no screen 'nowhere' in this module")],
    "unknown-start": [(12, "start: no screen 'intra' in this module")],
    "unreachable": [(41, "screen 'orphan' cannot be reached from start 'intro'")],
    "dead-end": [(41, "screen 'stuck' never leads to an end screen")],
    "loop-without-exit": [(41, "screen 'spin' never leads to an end screen"),
                          (46, "screen 'spin-again' never leads to an end screen")],
    "teach-without-next": [(14, "missing required field 'screens[0].next'")],
    "end-with-choices": [(41, "screens[2].choices: An end screen has no choices.")],
    "end-with-next": [(41, "screens[2].next: An end screen has no next screen.")],
    "stage-not-scored": [(9, "stage 2 is listed in stages but no decision scores it")],
    "stage-not-claimed": [(9, "stage 1 is listed in stages but no decision scores it"),
                          (24, "stage 2 is not listed in the module's stages")],
    "no-points": [(25, "no choice of decision 'choose' earns points")],
    "best-not-highest": [(30, "choice 'a' is marked best but earns 0 points; the most this decision gives is 1")],
    "legal-without-review-date": [(12, "legal_notice is true, so review_date")],
    "too-long": [(5, "minutes: Must be between 1 and 20 minutes")],
    "mastery-out-of-range": [(6, "mastery: Must be greater than or equal to 0 and less than or equal to 1.")],
    "too-few-choices": [(25, "screens[1].choices: Give 2 to 4 choices.")],
    "too-many-choices": [(25, "screens[1].choices: Give 2 to 4 choices.")],
    "bad-tactic-and-rank": [(25, "screens[1].tactic: Must be one of: distract, direct, delegate."),
                            (26, "screens[1].rank: Must be one of: peer, superior.")],
    "missing-image": [(19, "image 'missing.svg' is not in")],
}


@pytest.fixture(scope="module")
def broken_problems() -> list[ContentProblem]:
    return check([BROKEN])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_broken_module_reports_its_problems_at_the_right_line(
    name: str, broken_problems: list[ContentProblem]
) -> None:
    path = BROKEN / "modules" / f"{name}.yaml"
    found = [p for p in broken_problems if p.path == path]
    assert [p.line for p in found] == [line for line, _ in EXPECTED[name]], [str(p) for p in found]
    for problem, (line, message) in zip(found, EXPECTED[name], strict=True):
        assert message in problem.message
        assert str(problem).startswith(f"{path}:{line}: ")


def test_every_broken_file_is_covered_and_all_problems_are_collected(broken_problems: list[ContentProblem]) -> None:
    assert {p.stem for p in (BROKEN / "modules").glob("*.yaml")} == set(EXPECTED)
    assert len(broken_problems) == sum(len(v) for v in EXPECTED.values()) + 1  # + the curriculum's


def test_curriculum_naming_a_missing_module(broken_problems: list[ContentProblem]) -> None:
    [problem] = [p for p in broken_problems if p.path.name == "curriculum.yaml"]
    assert problem.line == 31
    assert problem.message.startswith("no module 'ghost' (expected ")


def test_load_content_raises_with_every_problem() -> None:
    with pytest.raises(ContentInvalid) as raised:
        load_content([BROKEN])
    assert len(raised.value.problems) == len(check([BROKEN]))
    assert f"{BROKEN / 'modules' / 'too-long.yaml'}:5: minutes" in str(raised.value)


def test_valid_content_loads_into_typed_values() -> None:
    content = load_content([VALID])
    assert content.curriculum.id == "sample"
    assert list(content.modules) == ["first-steps", "speaking-up"]
    module = content.modules["first-steps"]
    assert (module.version, module.minutes, module.mastery, module.stages) == (2, 10, 0.75, (1, 2))
    assert module.legal_notice and module.review_date == dt.date(2026, 1, 15)
    assert module.images == VALID / "images"
    intro, notice = module.screen("intro"), module.screen("notice")
    assert isinstance(intro, TeachScreen) and intro.image is not None and intro.image.src == "steps.svg"
    assert isinstance(notice, DecisionScreen)
    assert (notice.tactic, notice.rank, notice.back, notice.scenario) == ("distract", "peer", True, "traffic-stop")
    assert notice.choice("step-in").best and not notice.choice("wait").best
    speaking = content.modules["speaking-up"]
    assert speaking.mastery == 0.8 and speaking.policy_acknowledgement and speaking.review_date is None


def test_agency_folders_are_appended_in_file_name_order() -> None:
    content = load_content([VALID, AGENCY])
    assert list(content.modules) == ["first-steps", "speaking-up", "local-policy"]
    assert content.curriculum.modules == ("first-steps", "speaking-up", "local-policy")
    assert content.curriculum.title == "A small valid curriculum"


def test_a_module_defined_twice_across_folders(tmp_path: Path) -> None:
    shutil.copytree(AGENCY, tmp_path / "other")
    problems = check([VALID, AGENCY, tmp_path / "other"])
    assert [str(p) for p in problems] == [
        f"{tmp_path / 'other' / 'modules' / 'local-policy.yaml'}:1: module 'local-policy' is already defined in "
        f"{AGENCY / 'modules' / 'local-policy.yaml'}"
    ]


def test_module_file_missing_from_its_curriculum(tmp_path: Path) -> None:
    shutil.copytree(VALID, tmp_path / "valid")
    shutil.copy(AGENCY / "modules" / "local-policy.yaml", tmp_path / "valid" / "modules")
    [problem] = check([tmp_path / "valid"])
    assert (problem.path.name, problem.line) == ("curriculum.yaml", 3)
    assert problem.message == "module file modules/local-policy.yaml is not listed in modules"


def test_first_folder_needs_a_curriculum_and_folders_must_exist(tmp_path: Path) -> None:
    problems = check([AGENCY, tmp_path / "nowhere"])
    assert [(p.path, p.line) for p in problems] == [(AGENCY / "curriculum.yaml", 1), (tmp_path / "nowhere", 1)]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "the file is empty"),
        ("- a list\n", 1, "Must be a mapping."),
        ("id: x\ntitle: T\nmodules: [a, a]\n", 3, "module 'a' is listed twice"),
        ("id: Bad Id\ntitle: T\nmodules:\n  - a\n", 1, "id: Must be lowercase letters"),
        ("id: x\ntitle: T\nmodules:\n  - a\nextra: 1\n", 5, "unknown field 'extra'"),
        ("id: x\nmodules:\n  - a\n", 1, "missing required field 'title'"),
        ("id: x\ntitle: [unclosed\n", 3, "YAML syntax error"),
    ],
)
def test_curriculum_problems(tmp_path: Path, text: str, line: int, message: str) -> None:
    shutil.copytree(AGENCY, tmp_path, dirs_exist_ok=True)
    (tmp_path / "modules" / "local-policy.yaml").rename(tmp_path / "modules" / "a.yaml")
    (tmp_path / "modules" / "a.yaml").write_text(
        (tmp_path / "modules" / "a.yaml").read_text().replace("slug: local-policy", "slug: a")
    )
    (tmp_path / "curriculum.yaml").write_text(text)
    problems = [p for p in check([tmp_path]) if p.path.name == "curriculum.yaml"]
    assert [(p.line, message in p.message) for p in problems] == [(line, True)], [str(p) for p in problems]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("minutes", "true", "minutes: Not a valid integer."),
        ("mastery", '"0.8"', "mastery: Not a valid number."),
        ("legal_notice", "yes please", "legal_notice: Not a valid boolean."),
        ("review_date", "soon", "review_date: Not a valid date."),
        ("version", "0", "version: Must be greater than or equal to 1."),
        ("title", '""', "title: Must not be empty."),
        ("stages", "[6]", "stages[0]: Must be greater than or equal to 1 and less than or equal to 5."),
        ("objectives", "[Only one.]", "objectives: Give 2 to 5 objectives."),
    ],
)
def test_wrong_types_are_reported_at_their_field(tmp_path: Path, field: str, value: str, message: str) -> None:
    shutil.copytree(VALID, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "modules" / "speaking-up.yaml"
    kept = _without_field(path.read_text(), field)
    path.write_text(kept + f"{field}: {value}\n")
    assert [(p.line, p.message) for p in check([tmp_path])] == [(len(kept.splitlines()) + 1, message)]


def _without_field(text: str, field: str) -> str:
    """Return YAML text without a top-level field and its indented block."""
    kept: list[str] = []
    dropping = False
    for line in text.splitlines(keepends=True):
        if not line.startswith(" "):
            dropping = line.startswith(f"{field}:")
        if not dropping:
            kept.append(line)
    return "".join(kept)


def test_source_maps_key_paths_to_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\nlist:\n  - id: x\n    next:\n      deep: 2\n  - plain\n")
    doc = read(path)
    assert doc.data == {"a": 1, "list": [{"id": "x", "next": {"deep": 2}}, "plain"]}
    assert doc.line(("list", 0, "next", "deep")) == 5
    assert doc.line(("list", 1)) == 6
    assert doc.line(("list", 0, "missing")) == 3  # a missing field: its mapping's line
    assert doc.line(("nothing",)) == 1


def test_a_bad_date_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("review_date: 2026-13-45\n")
    assert [p.message.startswith("YAML error") for p in read(path).problems] == [True]


def test_built_in_content_passes_the_check() -> None:
    if not (BUILT_IN / "curriculum.yaml").exists():
        pytest.skip("content/curriculum.yaml is not written yet")
    problems = check([BUILT_IN])
    assert problems == [], "\n".join(str(p) for p in problems)
    content = load_content([BUILT_IN])
    # GUIDE section 6's modules; the role-play scenarios may be split over several modules.
    core = ["why-intervene", "policy-and-culture", "five-stages", "three-ds", "intervening-with-a-superior",
            "legal-duty"]
    assert list(content.modules)[:6] == core
    assert len(content.modules) > 6
    assert all(slug.startswith("role-play") for slug in list(content.modules)[6:])

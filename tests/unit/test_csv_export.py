"""The CSV export: every GUIDE §7 field as a column, one row per officer and module, formula-safe, streamed."""

from __future__ import annotations

import csv as pycsv
import io
from datetime import UTC, date, datetime

import pytest

from lti_tool.exports import csv
from lti_tool.services.reports import (
    AccreditationReport,
    Acknowledgement,
    AttemptFacts,
    ChoiceMade,
    ModuleFacts,
    OfficerFacts,
    ReportScope,
    WaiverFacts,
    assemble,
)
from xapi.builders import Requirement

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CHOICE = ChoiceMade(1, "see-it", "b", "Say something now", True, 1, "direct", "peer", T0)


def report(name: str = "Pat Doe", reason: str = "Academy equivalent") -> AccreditationReport:
    scope = ReportScope("https://lms.example", "dep-1", "course-1", "Refresher", datetime(2026, 1, 1, tzinfo=UTC),
                        datetime(2027, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC), "Sgt. Lee (c-1)",
                        "database")
    done = AttemptFacts(1, 2, T0, datetime(2026, 3, 1, 9, 20, tzinfo=UTC), 0.9, True, (CHOICE,))
    officers = [
        OfficerFacts("https://lms.example", "u-1", name, "B-7", attempts={"three-ds": [done]},
                     acknowledgement=Acknowledgement(3, "GO 4.12", T0)),
        OfficerFacts("https://lms.example", "u-2", "Sam Roe",
                     waivers={"legal-duty": WaiverFacts("legal-duty", reason, "Sgt. Lee (c-1)", T0)}),
    ]
    modules = {"three-ds": ModuleFacts("three-ds", "The 3 D's", ("Name them", "Use them"), 15),
               "legal-duty": ModuleFacts("legal-duty", "Legal duty", (), 15)}
    reqs = {"three-ds": Requirement("three-ds", date(2026, 5, 1), 12, 20), "legal-duty": Requirement("legal-duty")}
    return assemble(scope, modules, reqs, officers, [])


def rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(pycsv.DictReader(io.StringIO(text[1:])))


def test_one_row_per_officer_and_module_with_every_field() -> None:
    found = rows("".join(csv.stream(report())))
    assert [(r["lms_account"], r["module"]) for r in found] == [
        ("u-1", "legal-duty"), ("u-1", "three-ds"), ("u-2", "legal-duty"), ("u-2", "three-ds")]
    pat = found[1]
    assert pat["name"] == "Pat Doe" and pat["agency_id"] == "B-7" and pat["lms_issuer"] == "https://lms.example"
    assert pat["content_version"] == "2" and pat["objectives"] == "Name them | Use them"
    assert (pat["started_at"], pat["completed_at"]) == ("2026-03-01T09:00:00.000Z", "2026-03-01T09:20:00.000Z")
    assert (pat["minutes_credited"], pat["best_score"], pat["passed"], pat["attempts"]) == ("20", "0.9", "yes", "1")
    assert (pat["policy_version_acknowledged"], pat["policy_acknowledged_at"]) == ("3", "2026-03-01T09:00:00.000Z")
    assert (pat["status"], pat["recertification_due"], pat["overdue"]) == ("Passed", "2027-03-01", "no")
    assert pat["choices"] == "a1 see-it=b (best)"
    assert pat["generated_by"] == "Sgt. Lee (c-1)" and pat["range_until"] == "2027-01-01T00:00:00.000Z"
    sam = found[2]
    assert (sam["status"], sam["waiver_reason"], sam["waived_by"]) == ("Waived", "Academy equivalent",
                                                                       "Sgt. Lee (c-1)")
    assert found[0]["status"] == "Not started" and found[3]["status"] == "Overdue" and found[3]["overdue"] == "yes"
    assert set(found[0]) == set(csv.HEADER)


@pytest.mark.parametrize("evil", ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(evil: str) -> None:
    found = rows("".join(csv.stream(report(name=evil, reason=evil))))
    assert found[0]["name"] == "'" + evil
    assert next(r for r in found if r["waiver_reason"])["waiver_reason"] == "'" + evil


def test_plain_values_are_left_alone() -> None:
    assert csv.safe("Pat O'Neil") == "Pat O'Neil" and csv.safe(-3) == "'-3" and csv.safe(None) == ""


def test_the_export_streams_a_line_at_a_time() -> None:
    chunks = list(csv.stream(report()))
    assert chunks[0] == "\ufeff" and len(chunks) == 1 + 1 + 4
    assert all(chunk.endswith("\r\n") for chunk in chunks[1:])


def test_item_level_choices_have_their_own_csv() -> None:
    found = rows("".join(csv.stream_choices(report())))
    assert found == [{"lms_issuer": "https://lms.example", "lms_account": "u-1", "name": "Pat Doe",
                      "module": "three-ds", "attempt": "1", "decision": "see-it", "stage": "1", "tactic": "direct",
                      "target_rank": "peer", "choice": "b", "choice_text": "Say something now",
                      "best_choice": "yes", "answered_at": "2026-03-01T09:00:00.000Z"}]

"""Dashboard reports over HTTP: where officers struggle, exports (CSV, HTML, PDF), and who may see them."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.db import utcnow
from lti_tool.lti import claims as c
from lti_tool.models import LtiContext
from tests.conftest import TOOL_URL, Router
from tests.functional.test_player import Learner, best, worst
from tests.platform import INSTRUCTOR, FakePlatform, launch

DB = Callable[[], AbstractContextManager[Session]]


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        return FakePlatform().install(session, router)


def coordinator(client: FlaskClient, platform: FakePlatform, db: DB, course: str = "course-1") -> tuple[str, int]:
    """Launch as the course's coordinator; return the dashboard base URL and the course's id."""
    location = launch(client, platform, role=INSTRUCTOR, sub="coordinator",
                      **{c.CONTEXT: {"id": course, "title": "Annual refresher"}}).headers["Location"]
    with db() as session:
        cid = session.scalars(select(LtiContext.id).where(LtiContext.context_id == course)).one()
    return location.rstrip("/") + "/dashboard", cid


def get(client: FlaskClient, url: str) -> object:
    return client.get(url, base_url=TOOL_URL)


def test_the_struggle_page_shows_accessible_charts_with_tables(client: FlaskClient, platform: FakePlatform,
                                                               db: DB) -> None:
    Learner(client, platform, "three-ds", sub="officer-a").walk(best)
    Learner(client, platform, "three-ds", sub="officer-b").walk(worst)
    base, cid = coordinator(client, platform, db)
    page = client.get(f"{base}/{cid}/reports/struggle", base_url=TOOL_URL)
    assert page.status_code == 200
    charts = re.findall(r'<svg[^>]*role="img"[^>]*aria-labelledby="([^"]+)"', page.text)
    assert len(charts) >= 4  # stage, tactic, rank and at least one decision
    for ids in charts:
        for ident in ids.split():
            assert f'id="{ident}"' in page.text
    assert page.text.count("<caption>") == len(charts)
    assert 'scope="col"' in page.text and 'scope="row"' in page.text
    assert "Distract" in page.text and "(best)" in page.text
    other = client.get(f"{base}/{cid}/reports/struggle?module=five-stages", base_url=TOOL_URL)
    assert other.status_code == 200 and "No decisions answered yet." in other.text
    assert 'value="five-stages" selected' in other.text


def test_exports_download_csv_pdf_and_a_printable_report(client: FlaskClient, platform: FakePlatform,
                                                         db: DB) -> None:
    Learner(client, platform, "three-ds", sub="officer-a").walk(best)
    base, cid = coordinator(client, platform, db)
    form = client.get(f"{base}/{cid}/reports/exports", base_url=TOOL_URL)
    assert form.status_code == 200 and 'type="date"' in form.text
    today = utcnow().date()
    since, until = today - timedelta(days=1), today + timedelta(days=1)
    query = f"?since={since}&until={until}"
    csv = client.get(f"{base}/{cid}/reports/accreditation.csv{query}", base_url=TOOL_URL)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.headers["Content-Disposition"] == \
        f'attachment; filename="upstander-accreditation-course-1-{since:%Y%m%d}-{until:%Y%m%d}.csv"'
    lines = csv.data.decode("utf-8").splitlines()
    assert lines[0].startswith("\ufefflms_issuer,lms_account,name,") and "officer-a" in lines[1]
    choices = client.get(f"{base}/{cid}/reports/choices.csv{query}", base_url=TOOL_URL)
    assert choices.status_code == 200 and "attachment" in choices.headers["Content-Disposition"]
    assert len(choices.data.decode("utf-8").splitlines()) > 2
    pdf = client.get(f"{base}/{cid}/reports/accreditation.pdf{query}", base_url=TOOL_URL)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-") and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"].endswith('.pdf"')
    html = client.get(f"{base}/{cid}/reports/accreditation{query}", base_url=TOOL_URL)
    assert html.status_code == 200
    for heading in ("Modules, versions and objectives", "Roster and completions", "Policy acknowledgements",
                    "Waivers", "Overdue", "Audit trail"):
        assert f">{heading}</h2>" in html.text
    assert "officer-a" in html.text and "reports.css" in html.text


def test_a_bad_period_is_refused(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    base, cid = coordinator(client, platform, db)
    for query in ("?since=2026-05-01&until=2026-01-01", "?since=yesterday&until=2026-01-01", "?since=2026-01-01"):
        assert client.get(f"{base}/{cid}/reports/accreditation.csv{query}", base_url=TOOL_URL).status_code == 400


def test_a_download_filename_keeps_only_safe_characters(client: FlaskClient, platform: FakePlatform,
                                                        db: DB) -> None:
    base, cid = coordinator(client, platform, db, course='../x"; evil\r\n.csv')
    response = client.get(f"{base}/{cid}/reports/accreditation.csv?since=2026-01-01&until=2026-01-31",
                          base_url=TOOL_URL)
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="upstander-accreditation-x-evil-.csv-20260101-20260131.csv"'


REPORT_URLS = ("reports/struggle", "reports/exports", "reports/accreditation", "reports/accreditation.csv",
               "reports/choices.csv", "reports/accreditation.pdf")


@pytest.mark.parametrize("path", REPORT_URLS)
def test_learners_are_refused(client: FlaskClient, platform: FakePlatform, db: DB, path: str) -> None:
    _, cid = coordinator(client, platform, db)
    learner = launch(client, platform, sub="officer-a").headers["Location"].rstrip("/")
    assert client.get(f"{learner}/dashboard/{cid}/{path}", base_url=TOOL_URL).status_code == 403


@pytest.mark.parametrize("path", REPORT_URLS)
def test_another_course_or_a_guessed_id_is_refused(client: FlaskClient, platform: FakePlatform, db: DB,
                                                   path: str) -> None:
    _, other = coordinator(client, platform, db, course="course-2")
    base, cid = coordinator(client, platform, db)
    for guess in (other, cid + 1000):
        assert client.get(f"{base}/{guess}/{path}", base_url=TOOL_URL).status_code == 404
    assert client.get(f"{base}/{cid}/{path}", base_url=TOOL_URL).status_code == 200


def test_without_the_session_cookie_nothing_is_shown(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    base, cid = coordinator(client, platform, db)
    client.delete_cookie(f"us_{base.split('/')[2]}", path=f"/app/{base.split('/')[2]}/", domain="tool.test")
    response = client.get(f"{base}/{cid}/reports/accreditation.csv", base_url=TOOL_URL)
    assert response.status_code in (401, 403) and b"lms_issuer" not in response.data

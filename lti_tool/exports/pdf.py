"""The accreditation report as PDF (reportlab): the same sections as the HTML report.

Tables are Platypus ``LongTable``s with ``repeatRows=1``: they break across pages and repeat their
header row on each. Text is set in the standard PDF fonts (no font files to ship); characters outside
their Windows-1252 repertoire are replaced rather than dropped silently into empty boxes.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle
from reportlab.platypus.flowables import Flowable

from lti_tool.exports.sections import Section, sections, summary
from lti_tool.services.reports import AccreditationReport

TITLE = "Accreditation report: peer intervention training"


def _printable(value: str) -> str:
    # The standard fonts cover Windows-1252; anything else would print as an empty box.
    return value.encode("cp1252", errors="replace").decode("cp1252")


def _para(value: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(_printable(value)), style)


def _table(section: Section, cell: ParagraphStyle, head: ParagraphStyle, width: float) -> list[Flowable]:
    if not section.rows:
        return [_para(section.empty, cell)]
    data = [[_para(h, head) for h in section.headers], *([_para(v, cell) for v in row] for row in section.rows)]
    table = LongTable(data, repeatRows=1, colWidths=[width / len(section.headers)] * len(section.headers))
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return [table]


def render(report: AccreditationReport) -> bytes:
    """Return the report as a PDF document (A4 landscape)."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title=TITLE,
                            author=_printable(report.scope.generated_by), subject=report.scope.context_title)
    sample = getSampleStyleSheet()
    styles = {name: ParagraphStyle(name, parent=sample[name]) for name in ("Title", "Heading2", "BodyText")}
    cell = ParagraphStyle("cell", parent=styles["BodyText"], fontSize=7, leading=8.5)
    head = ParagraphStyle("head", parent=cell, fontName="Helvetica-Bold")
    story: list[Flowable] = [_para(TITLE, styles["Title"])]
    story += [_para(f"{label}: {value}", styles["BodyText"]) for label, value in summary(report)]
    for section in sections(report):
        story += [Spacer(1, 4 * mm), _para(section.title, styles["Heading2"]), _para(section.caption, cell)]
        story += _table(section, cell, head, doc.width)
    if report.limitations:
        story += [Spacer(1, 4 * mm), _para("What this source cannot show", styles["Heading2"])]
        story += [_para(f"• {line}", cell) for line in report.limitations]
    doc.build(story)
    return buffer.getvalue()

"""Server-side charts: accessible SVG (role, title, desc, text labels) and the data table beside it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from lti_tool.charts import Bar, bar_chart, data_table, describe, format_percent, percent

SVG = "{http://www.w3.org/2000/svg}"


def test_a_bar_chart_is_one_named_and_described_image() -> None:
    bars = [Bar("Distract", 72.5, "n = 40"), Bar("Delegate", 30.0, "n = 10")]
    chart = str(bar_chart("tactic", "Best choices by tactic", describe(bars), bars))
    svg = ET.fromstring(chart)  # noqa: S314  (our own output)
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "tactic-title tactic-desc"
    assert svg.find(f"{SVG}title").text == "Best choices by tactic"  # type: ignore[union-attr]
    assert svg.find(f"{SVG}desc").text == "Distract: 72.5%; Delegate: 30%."  # type: ignore[union-attr]


def test_every_bar_says_its_label_and_value_in_text_not_only_by_length_or_colour() -> None:
    bars = [Bar("Distract", 72.5, "n = 40"), Bar("Delegate", None)]
    svg = str(bar_chart("c", "t", "d", bars))
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert texts == ["Distract", "72.5% (n = 40)", "Delegate", "no data"]
    widths = [float(w) for w in re.findall(r'width="([\d.]+)" height="22" class="chart-bar', svg)]
    assert widths[0] > 0 and widths[1] == 0


def test_the_best_choice_is_marked_in_text_too() -> None:
    svg = str(bar_chart("c", "t", "d", [Bar("Call for EMS", 50.0, emphasis=True), Bar("Wait", 50.0)]))
    assert "★ Call for EMS" in svg and "chart-bar--emphasis" in svg


def test_labels_and_titles_are_escaped() -> None:
    svg = str(bar_chart("c", "<script>", "a & b", [Bar('"><img src=x>', 10.0)]))
    assert "<script>" not in svg and "<img" not in svg
    ET.fromstring(svg)  # noqa: S314  (our own output; still well-formed)


def test_percentages_are_clamped_to_the_track() -> None:
    svg = str(bar_chart("c", "t", "d", [Bar("over", 250.0), Bar("under", -5.0)]))
    widths = [float(w) for w in re.findall(r'width="([\d.]+)" height="22" class="chart-bar', svg)]
    assert widths == [270.0, 0.0]


def test_an_empty_chart_says_so() -> None:
    assert ">No data<" in str(bar_chart("c", "t", describe([]), []))
    assert describe([]) == "No answers recorded yet."


def test_the_data_table_has_a_caption_column_and_row_headers() -> None:
    html = str(data_table("Figures", ["Group", "Answers"], [["Peer", 3], ["Superior <b>", None]]))
    assert "<caption>Figures</caption>" in html
    assert html.count('<th scope="col">') == 2 and html.count('<th scope="row">') == 2
    assert "<td>3</td>" in html and "<td>—</td>" in html and "Superior &lt;b&gt;" in html
    assert 'colspan="2">No data' in str(data_table("Empty", ["A", "B"], []))


def test_percent_helpers() -> None:
    assert percent(1, 3) == 33.3 and percent(1, 0) is None
    assert (format_percent(50.0), format_percent(33.3), format_percent(None)) == ("50%", "33.3%", "no data")

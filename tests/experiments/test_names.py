"""Country names for group codes, and the report blocks that fold away and sort."""

from __future__ import annotations

import html5lib
import pandas as pd

from experiments.reports.run import name_blocks
from experiments.writing.document import Details, Document, Heading, Paragraph, Table
from experiments.writing.names import (
    country_name,
    group_names,
    name_text,
    named_labels,
    with_name_columns,
)


def test_codes_are_named_by_their_common_name_and_other_words_are_not_codes():
    assert country_name("SAU") == "Saudi Arabia"
    assert country_name("KOR") == "South Korea"  # not ISO's inverted "Korea, Republic of"
    assert country_name("IRN") == "Iran"
    for word in ("FPR", "sau", "SAUD", "", None):
        assert country_name(word) is None


def test_whole_tokens_are_replaced_and_a_name_beside_its_code_is_kept():
    names = group_names(["SAU", "CHN × F", "Middle East and North Africa", "IND"])
    assert names == {"SAU": "Saudi Arabia", "CHN": "China", "IND": "India"}
    text = ("People from SAU were stripped of their visas at 53.9 times the rate of people "
            "from CHN; CHN × F; nationality=IND; Saudi Arabia (SAU); SAUDI; xSAU; SAU_x.")
    assert name_text(text, names) == (
        "People from Saudi Arabia were stripped of their visas at 53.9 times the rate of "
        "people from China; China × F; nationality=India; Saudi Arabia (SAU); SAUDI; xSAU; "
        "SAU_x.")
    assert name_text("GBR", {}) == "GBR"  # a code not among the run's groups stays


def test_csv_tables_keep_the_code_and_add_the_name_beside_it():
    frame = pd.DataFrame({"grouping": ["nationality"] * 3, "group": ["SAU", "CHN", None],
                          "reference": ["CHN"] * 3, "value": [0.1, 0.2, 0.3]})
    named = with_name_columns(frame, group_names(frame["group"].dropna()))
    assert list(named.columns) == ["grouping", "group", "group_name", "reference",
                                   "reference_name", "value"]
    assert named["group"].tolist()[:2] == ["SAU", "CHN"]
    assert named["group_name"].tolist()[:2] == ["Saudi Arabia", "China"]
    assert pd.isna(named["group_name"].iloc[2])
    assert "group_name" not in frame.columns  # the input is not changed
    assert with_name_columns(named, {}) is named


def test_details_fold_in_html_stay_sections_in_markdown_and_tables_sort_offline():
    document = Document("A report")
    document.add(Heading("First page"), Paragraph("People from SAU."),
                 Details("By nationality", [Table(["group", "rate"], [["SAU", "1.0%"]])]))
    document.blocks = name_blocks(document.blocks, {"SAU": "Saudi Arabia"})
    markdown = document.to_markdown()
    assert "## By nationality" in markdown and "| Saudi Arabia | 1.0% |" in markdown
    assert "People from Saudi Arabia." in markdown
    html = document.to_html()
    tree = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html)
    (details,) = tree.iter("details")
    assert "open" not in details.attrib
    assert details.find("summary/h2").text == "By nationality"
    assert details.find(".//table").attrib["class"] == "sortable"
    (script,) = tree.iter("script")
    assert "src" not in script.attrib and "aria-sort" in script.text


def test_figure_labels_name_codes_and_leave_other_groups_alone():
    assert named_labels(["SAU", "CHN × F", "East Asia and Pacific", "yes"]) == [
        "Saudi Arabia", "China × F", "East Asia and Pacific", "yes"]
    assert named_labels([]) == []

"""Server-drawn SVG charts: well-formed, accessible, escaped, free of inline styles and scripts, with
a readable integer scale, and sensible for all-zero or empty data."""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET

import pytest

from web.admin import charts, statistics
from web.admin.charts import bar_chart, nice_scale

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))


def texts_of(root: ET.Element, group_class: str) -> list[str]:
    group = next(g for g in root.iter(f"{SVG}g") if group_class in g.get("class", "").split())
    return ["".join(t.itertext()) for t in group.findall(f"{SVG}text")]


def series_rects(root: ET.Element, index: int) -> list[ET.Element]:
    group = next(g for g in root.iter(f"{SVG}g") if f"series-{index}" in g.get("class", "").split()
                 and "series" in g.get("class", "").split())
    return group.findall(f"{SVG}rect")


def sample(**kw):
    return bar_chart("日別の予約件数", ["1", "2", "3"],
                     [("来庁済み", [1, 3, 0], "status-attended"), ("予約中", [1, 0, 2], "status-confirmed")], **kw)


def test_chart_is_well_formed_svg_with_accessible_name_and_description():
    """The markup parses as XML; role="img" and aria-labelledby point at a <title> and a <desc> that
    name the chart and summarise every series (total and maximum)."""
    root = parse(sample())
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    ids = root.get("aria-labelledby").split()
    found = {el.get("id"): el for el in root.iter() if el.get("id")}
    title, desc = found[ids[0]], found[ids[1]]
    assert (title.tag, desc.tag) == (f"{SVG}title", f"{SVG}desc")
    assert title.text == "日別の予約件数"
    assert "来庁済み：合計4、最大3（2）" in desc.text and "予約中：合計3、最大2（3）" in desc.text


def test_legend_names_every_series_beside_a_coloured_swatch_with_default_fill():
    """Meaning never rests on colour: each series has legend text; groups carry series-N and the
    caller's class for the stylesheet, and a fill attribute so print without CSS still works."""
    root = parse(sample())
    assert texts_of(root, "legend") == ["来庁済み", "予約中"]
    swatches = [r for r in root.iter(f"{SVG}rect") if "swatch" in r.get("class", "")]
    assert [s.get("class").split()[1:] for s in swatches] == [["series-0", "status-attended"],
                                                              ["series-1", "status-confirmed"]]
    for index in (0, 1):
        group = next(g for g in root.iter(f"{SVG}g") if f"series-{index}" in g.get("class", "").split())
        assert re.fullmatch(r"#[0-9a-f]{6}", group.get("fill"))


def test_stacked_bars_are_proportional_and_sit_on_each_other():
    """A value of 3 is three times as tall as a value of 1; in a stack the second series starts where
    the first ends; zero values draw no bar; each bar's <title> gives label, series and value."""
    root = parse(sample())
    first, second = series_rects(root, 0), series_rects(root, 1)
    assert len(first) == 2 and len(second) == 2
    h = [float(r.get("height")) for r in first]
    assert h[1] == pytest.approx(3 * h[0], abs=0.2)
    assert float(second[0].get("y")) + float(second[0].get("height")) == pytest.approx(float(first[0].get("y")),
                                                                                       abs=0.2)
    assert first[1].find(f"{SVG}title").text == "2 来庁済み：3"


def test_side_by_side_bars_share_one_baseline():
    """stacked=False draws the series next to each other, each from the axis."""
    root = parse(sample(stacked=False))
    first, second = series_rects(root, 0), series_rects(root, 1)
    bottom = {round(float(r.get("y")) + float(r.get("height")), 1) for r in first + second}
    assert len(bottom) == 1
    assert float(second[0].get("x")) > float(first[0].get("x"))


@pytest.mark.parametrize(("maximum", "expected"), [
    (0, (1, 1)), (1, (1, 1)), (5, (5, 1)), (7, (8, 2)), (10, (10, 2)), (101, (125, 25)), (1000, (1000, 200)),
    (12345, (12500, 2500)),
])
def test_scale_is_readable_integers(maximum, expected):
    """The axis goes from 0 to a round top in at most 5 steps of 1, 2, 2.5 or 5 x 10^k, whole numbers."""
    assert nice_scale(maximum) == expected


def test_axis_labels_are_the_ticks():
    """The y axis shows 0, 2, 4, 6, 8 for a maximum of 7 (stack of 4 + 3)."""
    root = parse(bar_chart("t", ["a", "b"], [("x", [4, 1], "x"), ("y", [3, 0], "y")]))
    assert texts_of(root, "y-axis") == ["0", "2", "4", "6", "8"]


def test_text_is_escaped_everywhere():
    """Labels, series names and the title holding <, & and > come through as text, never as markup
    (venue names are typed by staff)."""
    evil = '<b>北&南</b>"\'>'
    markup = str(bar_chart(evil, [evil, "x"], [(evil, [1, 2], "s")]))
    assert "<b>" not in markup and "</b>" not in markup
    root = parse(markup)
    assert root.find(f"{SVG}title").text == evil
    assert texts_of(root, "legend") == [evil]
    assert evil in [t.text for t in root.iter(f"{SVG}title")]


def test_characters_xml_cannot_hold_are_dropped():
    """A control character in a label does not break the page."""
    root = parse(bar_chart("t", ["a\x00b\x1bc"], [("s", [1], "s")]))
    assert "abc" in "".join(root.itertext())


def test_no_style_no_script():
    """The CSP forbids inline styles and scripts: no style attribute or element, no script, no
    event handler attribute, no external reference."""
    markup = str(sample())
    root = parse(markup)
    assert "style=" not in markup
    for el in root.iter():
        assert el.tag not in (f"{SVG}style", f"{SVG}script", f"{SVG}foreignObject")
        assert not any(name == "style" or name.startswith("on") or "href" in name for name in el.attrib)


def test_all_zero_data_draws_an_axis_and_no_bars():
    """Zero everywhere: no division by zero, axis 0..1, no bars, and the description says so."""
    root = parse(bar_chart("t", ["1", "2"], [("来庁済み", [0, 0], "a"), ("予約中", [0, 0], "b")]))
    assert series_rects(root, 0) == [] and series_rects(root, 1) == []
    assert texts_of(root, "y-axis") == ["0", "1"]
    assert "来庁済み：すべて0。" in root.find(f"{SVG}desc").text


def test_no_labels_and_no_series_draw_a_no_data_chart():
    """Empty data sets still give a well-formed chart that says there is no data."""
    for chart in (bar_chart("t", [], [("s", [], "s")]), bar_chart("t", ["a"], [])):
        root = parse(chart)
        assert root.find(f"{SVG}desc").text == "データがありません。"
    assert "データがありません" in "".join(parse(bar_chart("t", [], [])).itertext())


def test_crowded_labels_are_thinned_and_sparse_ones_kept():
    """31 dates like 12/31 do not fit side by side in 720 px: every other one (or fewer) is shown,
    starting with the first; three labels are all shown."""
    days = [f"12/{d}" for d in range(1, 32)]
    shown = texts_of(parse(bar_chart("t", days, [("s", [1] * 31, "s")])), "x-axis")
    assert 8 <= len(shown) < 31 and shown[0] == "12/1" and shown[1] != "12/2"
    assert texts_of(parse(sample()), "x-axis") == ["1", "2", "3"]


def test_long_labels_are_cut_with_the_full_text_in_a_title():
    """A long venue name is shortened with … on the axis; its full text stays in the SVG."""
    name = "北部市民サービスセンター出張所分室"
    root = parse(bar_chart("t", [name] * 12, [("s", [1] * 12, "s")]))
    first = next(t for t in root.iter(f"{SVG}text") if "…" in "".join(t.itertext()))
    assert first.find(f"{SVG}title").text == name


@pytest.mark.parametrize(("labels", "series"), [
    (["a", "b"], [("s", [1], "s")]),
    (["a"], [("s", [-1], "s")]),
    (["a"], [("s", [1], 'x" onload="alert(1)')]),
])
def test_inconsistent_data_is_refused(labels, series):
    """Too few values, negative counts and class names that are not CSS identifiers are errors."""
    with pytest.raises(ValueError):
        bar_chart("t", labels, series)


def test_statistics_page_charts_for_an_empty_month(db):
    """The four charts of a month without any data are well-formed, have 31 day bars' worth of
    labels available and no bars."""
    s = statistics.summary(datetime.date(2026, 12, 1), datetime.date(2026, 12, 31))
    drawn = charts.summary_charts(s)
    assert set(drawn) == {"by_day", "by_venue", "by_channel", "by_hour"}
    for chart in drawn.values():
        root = parse(chart)
        assert not [r for g in root.iter(f"{SVG}g") if "series" in g.get("class", "").split()
                    for r in g.findall(f"{SVG}rect")]
        assert "style=" not in str(chart)
    assert "1" in texts_of(parse(drawn["by_day"]), "x-axis")

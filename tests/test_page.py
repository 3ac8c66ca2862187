"""The HTML page builder (sim.observe.page): escaping, stable attributes, the same bytes
for the same content, nothing to fetch, figures inline with ids of their own."""

from __future__ import annotations

import re

import pytest

from sim.observe.page import Column, Number, Page, Row
from sim.observe.plots import Bars, bar_chart

NASTY = '<b>Tom & "Jerry"</b>'


def _page() -> Page:
    page = Page(title=f"report of {NASTY}", command="sim run 'a <&\">.toml' --report out.html")
    page.section(NASTY)
    page.paragraph(NASTY, note=True)
    page.facts([(NASTY, NASTY)])
    page.table(
        name="campaigns",
        columns=[
            Column(title="Campaign", key="name"),
            Column(title="runs", key="started"),
            Column(title="p95", key="p95"),
        ],
        rows=[
            Row(key=NASTY, cells=(NASTY, 1234, Number(value=0.0421, shown="42ms"))),
            Row(key="none", cells=("none", 0.5, Number(value=None, shown="-"))),
        ],
    )
    page.preformatted(f"  {NASTY}\n    indented")
    return page


def test_every_text_the_user_wrote_is_escaped() -> None:
    text = _page().html()
    assert "<b>" not in text and 'Jerry"</b>' not in text
    escaped = '&lt;b&gt;Tom &amp; "Jerry"&lt;/b&gt;'
    assert f"<h2>{escaped}</h2>" in text
    assert 'data-row="&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;"' in text  # in an attribute, quotes too
    assert '<code data-command="">sim run \'a &lt;&amp;"&gt;.toml\' --report out.html</code>' in text
    assert f"<title>report of {escaped}</title>" in text
    assert f"<pre>  {escaped}\n    indented</pre>" in text


def test_numbers_are_right_aligned_with_their_exact_value_and_text_is_not() -> None:
    text = _page().html()
    assert '<td data-column="started" data-value="1234" class=num>1,234</td>' in text
    assert '<td data-column="p95" data-value="0.0421" class=num>42ms</td>' in text
    assert '<td data-column="started" data-value="0.5" class=num>0.5</td>' in text
    assert '<td data-column="p95" class=num>-</td>' in text  # no value: no data-value
    assert '<td data-column="name">none</td>' in text
    assert '<th data-column="started" class=num>runs</th>' in text


def test_the_same_content_gives_the_same_bytes() -> None:
    assert _page().html() == _page().html()


def test_figures_are_inline_svg_with_ids_of_their_own_and_nothing_to_fetch() -> None:
    svg = bar_chart(["a", "b"], [Bars(label="runs", values=(1, 2))], title="t", xlabel="runs")
    page = _page()
    page.figure(svg, name="first", caption="one")
    page.figure(svg, name="second")
    text = page.html()
    assert page.figures == 2 and '<main data-figures="2">' in text
    assert re.findall(r'<figure data-figure="(\w+)"><svg', text) == ["first", "second"]
    assert "<figcaption>one</figcaption>" in text
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids)) > 0
    for reference in re.findall(r'(?:href="#|url\(#)([^")]+)', text):
        assert reference in ids
    assert "http" not in text and "src=" not in text and "<script" not in text and "<link" not in text
    assert "<?xml" not in text and "<!DOCTYPE svg" not in text


def test_mistakes_in_building_a_page_are_refused() -> None:
    page = _page()
    with pytest.raises(ValueError, match="has 1 cells for 2"):
        page.table(
            name="t",
            columns=[Column(title="a", key="a"), Column(title="b", key="b")],
            rows=[Row(key="r", cells=("x",))],
        )
    with pytest.raises(ValueError, match="already has a table named 'campaigns'"):
        page.table(name="campaigns", columns=[], rows=[])
    with pytest.raises(ValueError, match="is not an SVG document"):
        page.figure("<img src='x.png'>", name="f")

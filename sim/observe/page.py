"""A self-contained HTML page: a title, the command that made it, sections of paragraphs,
tables and figures (inline SVG), with its style inline and no script.

It opens without a network: nothing on it is fetched (no ``src=``, no ``href=`` but
links within an SVG). Tables and figures carry stable attributes for a test, or a
script, to read the figures back: ``<table data-table=NAME>``, ``<tr data-row=KEY>``,
``<td data-column=KEY data-value=NUMBER>`` (the exact number, as Python's ``repr``, of
which the cell shows a rounded text), ``<figure data-figure=NAME><svg>``, and on
``<main data-figures=N>`` how many figures the page has. The same content gives the same
bytes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import attrs


@attrs.frozen(kw_only=True)
class Number:
    """A table cell holding ``value``, shown as ``shown`` (e.g. 0.0421 shown as "42ms");
    None: no value (e.g. a percentile of no sample, shown as "-"), aligned as numbers are."""

    value: float | None
    shown: str


#: What a table cell may hold: text (left-aligned) or a number (right-aligned, with its
#: exact value in ``data-value``). An int is shown with thousands separators, a float as
#: ``{:,.4g}``.
Cell = str | int | float | Number


@attrs.frozen(kw_only=True)
class Column:
    """A table column: its heading and the key of its cells (``data-column``)."""

    title: str
    key: str


@attrs.frozen(kw_only=True)
class Row:
    """A table row: its key (``data-row``) and a cell per column."""

    key: str
    cells: tuple[Cell, ...]


@attrs.define(eq=False)
class Page:
    """An HTML page built in order: `section`, then its `paragraph`s, `table`s, `figure`s
    and `preformatted` text; `html` gives the whole page."""

    title: str
    #: The command that made the page, shown as written (escaped, never run).
    command: str
    _body: list[str] = attrs.field(factory=list, init=False)
    _names: set[tuple[str, str]] = attrs.field(factory=set, init=False)
    figures: int = attrs.field(default=0, init=False)

    def section(self, heading: str) -> None:
        self._body.append(f"<h2>{_text(heading)}</h2>")

    def paragraph(self, text: str, *, note: bool = False) -> None:
        """A paragraph of plain text; ``note``: set apart (e.g. why a plot is missing)."""
        self._body.append(f"<p{' class=note' if note else ''}>{_text(text)}</p>")

    def preformatted(self, text: str) -> None:
        """Text laid out in a fixed-width font, as a terminal shows it (a text report)."""
        self._body.append(f"<pre>{_text(text)}</pre>")

    def facts(self, items: Sequence[tuple[str, str]]) -> None:
        """Labelled values, a line each (scenario, seed, duration, ...)."""
        lines = "".join(f"<dt>{_text(label)}</dt><dd>{_text(value)}</dd>" for label, value in items)
        self._body.append(f"<dl>{lines}</dl>")

    def table(self, *, name: str, columns: Sequence[Column], rows: Sequence[Row], caption: str = "") -> None:
        """A table with a heading row; the first column names each row."""
        self._claim("table", name)
        out = [f'<div class=wide><table data-table="{_attribute(name)}">']
        if caption:
            out.append(f"<caption>{_text(caption)}</caption>")
        heads = "".join(
            f'<th data-column="{_attribute(c.key)}"{"" if i == 0 else " class=num"}>{_text(c.title)}</th>'
            for i, c in enumerate(columns)
        )
        out.append(f"<thead><tr>{heads}</tr></thead><tbody>")
        for row in rows:
            if len(row.cells) != len(columns):
                raise ValueError(f"row {row.key!r} of table {name!r} has {len(row.cells)} cells for {len(columns)}")
            cells = "".join(_cell(cell, column.key) for cell, column in zip(row.cells, columns, strict=True))
            out.append(f'<tr data-row="{_attribute(row.key)}">{cells}</tr>')
        out.append("</tbody></table></div>")
        self._body.append("".join(out))

    def figure(self, svg: str, *, name: str, caption: str = "") -> None:
        """An SVG document (`sim.observe.plots`) inline, its ids made unique on the page."""
        self._claim("figure", name)
        if not svg.lstrip().startswith("<svg"):
            raise ValueError(f"figure {name!r} is not an SVG document: it starts {svg[:20]!r}")
        self.figures += 1
        shown = f"<figcaption>{_text(caption)}</figcaption>" if caption else ""
        inline = _scope_ids(_XMLNS.sub("", svg), name)
        self._body.append(f'<figure data-figure="{_attribute(name)}">{inline}{shown}</figure>')

    def html(self) -> str:
        """The whole page."""
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_text(self.title)}</title><style>{STYLE}</style></head>\n"
            f'<body><main data-figures="{self.figures}">\n'
            f"<h1>{_text(self.title)}</h1>\n"
            f'<p class=command>Made by <code data-command="">{_text(self.command)}</code></p>\n'
            + "\n".join(self._body)
            + "\n</main></body></html>\n"
        )

    def _claim(self, kind: str, name: str) -> None:
        if (kind, name) in self._names:
            raise ValueError(f"the page already has a {kind} named {name!r}; give each {kind} its own name")
        self._names.add((kind, name))


def _text(text: str) -> str:
    return html.escape(text, quote=False)


def _attribute(text: str) -> str:
    return html.escape(text, quote=True)


def _cell(cell: Cell, column: str) -> str:
    key = _attribute(column)
    if isinstance(cell, str):
        return f'<td data-column="{key}">{_text(cell)}</td>'
    if isinstance(cell, Number):
        value, shown = cell.value, cell.shown
    elif isinstance(cell, int):
        value, shown = cell, f"{cell:,}"
    else:
        value, shown = cell, f"{cell:,.4g}"
    exact = "" if value is None else f' data-value="{value!r}"'
    return f'<td data-column="{key}"{exact} class=num>{_text(shown)}</td>'


#: Namespace declarations: an SVG inside HTML is in the SVG namespace without them (and
#: its xlink:href still works), and the page then names no URL at all.
_XMLNS = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_ID = re.compile(r'\bid="([^"]+)"')


def _scope_ids(svg: str, prefix: str) -> str:
    """The SVG with every id, and every reference to one, prefixed: two figures of a page
    may use the same ids (matplotlib's come from their content) for different things."""
    ids = set(_ID.findall(svg))
    if not ids:
        return svg
    scope = re.sub(r"[^A-Za-z0-9_-]", "_", prefix)

    def renamed(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"{match.group(1)}{scope}-{name}" if name in ids else match.group(0)

    svg = _ID.sub(lambda m: f'id="{scope}-{m.group(1)}"', svg)
    return re.sub(r'(url\(#|href="#)([^)"]+)', renamed, svg)


#: The page's whole style: readable on screen and printed, tables with aligned numbers.
STYLE = """
body{margin:0;background:#fff;color:#1d1d1f;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"DejaVu Sans",sans-serif}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
code,pre{font:12.5px/1.4 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
.command code{background:#f3f3f5;padding:2px 6px;border-radius:4px;word-break:break-all}
pre{background:#f7f7f9;border:1px solid #e3e3e8;padding:10px 12px;overflow-x:auto;white-space:pre}
.note{color:#555;font-style:italic}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:8px 0}dt{color:#555}dd{margin:0}
.wide{overflow-x:auto}table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{padding:3px 8px;border-bottom:1px solid #e6e6ea;text-align:left;white-space:nowrap}
th{background:#f3f3f5;font-weight:600}.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:hover{background:#fafafc}
figure{margin:12px 0 20px}figure svg{display:block;max-width:100%;height:auto}
figcaption{color:#555;font-size:12.5px;margin-top:2px}
"""

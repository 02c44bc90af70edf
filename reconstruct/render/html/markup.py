"""HTML built so that every string is escaped unless built here, and the one style sheet
with the Content-Security-Policy that admits it by its hash.

Images are untrusted and the page is rendered by a browser: `el` escapes every string it is
given (`html.escape`, quotes too, in text and attribute values alike, SVG included) after
`text.terminal_safe` has spelled out terminal and bidi controls (`\\x1b`, `\\u202e`) and lone
surrogates are spelled out (`\\udc80`: the file is always valid UTF-8). Only `Markup` built
here is inserted as it is.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable

from ...text import human_size, terminal_safe


class Markup(str):
    """Markup this module built; inserted as it is (every other string is escaped)."""

    __slots__ = ()


_VOID = frozenset({"meta", "br", "col", "hr"})


def escape(value: object) -> str:
    """`value` as HTML text (or an attribute value): controls spelled out, then escaped."""
    shown = terminal_safe(str(value))
    try:
        shown.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON `\\udc80`): spelled out
        shown = shown.encode("utf-8", "backslashreplace").decode("utf-8")
    return html.escape(shown, quote=True)


def _children(children: Iterable) -> str:
    out = []
    for child in children:
        if child is None:
            continue
        if isinstance(child, Markup):
            out.append(child)
        elif isinstance(child, str | int):
            out.append(escape(child))
        else:
            out.append(_children(child))
    return "".join(out)


def el(tag: str, *children: object, **attributes: object) -> Markup:
    """`<tag attr="…">children</tag>`: attribute names from keywords (`class_` is `class`,
    `aria_label` is `aria-label`; a dict for others), every value and every string escaped."""
    parts = [tag]
    for name, value in attributes.items():
        if value is None or value is False:
            continue
        name = name.rstrip("_").replace("_", "-")
        parts.append(name if value is True else f'{name}="{escape(value)}"')
    opening = f"<{' '.join(parts)}>"
    if tag in _VOID:
        return Markup(opening)
    return Markup(f"{opening}{_children(children)}</{tag}>")


def table(headings: tuple[str, ...], rows: object, **attributes: object) -> Markup:
    """A table with one heading row and the rows given (`el`'s children: built `tr`s)."""
    heading = el("tr", [el("th", title) for title in headings])
    return el("table", el("thead", heading), el("tbody", rows), **attributes)


def svg(tag: str, *children: object, **attributes: object) -> Markup:
    """An SVG element: attribute names kept as written (`stroke-width` through a dict)."""
    return el(tag, *children, **attributes)


CSS = """
:root { --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --band: #1f4e79; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "Liberation Sans", "DejaVu Sans", Arial, sans-serif;
  color: var(--ink); background: #ffffff; }
header.band { background: var(--band); color: #ffffff; padding: 18px 28px; }
header.band h1 { margin: 0 0 4px; font-size: 22px; word-break: break-all; }
header.band p { margin: 0; color: #dbe7f3; }
main { padding: 8px 28px 40px; max-width: 1400px; }
h2 { margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--band);
  font-size: 19px; }
h3 { margin: 20px 0 6px; font-size: 16px; word-break: break-all; }
h4 { margin: 14px 0 4px; font-size: 14px; }
nav.toc { margin: 12px 0; padding: 8px 12px; background: var(--soft);
  border: 1px solid var(--line); }
nav.toc a { margin-right: 16px; color: var(--band); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { border: 1px solid var(--line); padding: 3px 6px; text-align: left;
  vertical-align: top; }
th { background: var(--soft); }
td.num { text-align: right; white-space: nowrap; }
code, pre, .mono { font-family: "Liberation Mono", "DejaVu Sans Mono", monospace;
  font-size: 12px; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; }
.digest { font-family: "Liberation Mono", "DejaVu Sans Mono", monospace; font-size: 11px;
  word-break: break-all; }
.muted { color: var(--muted); }
.bytes { color: var(--muted); font-size: 11px; }
td.date { white-space: nowrap; font-size: 12px; }
div.layer { margin-top: 2px; color: var(--muted); font-size: 11px; }
.mark { display: inline-block; padding: 0 5px; margin: 1px 2px 1px 0; border-radius: 3px;
  border: 1px solid var(--line); font-size: 11px; white-space: nowrap; }
.mark.foreign { background: #fff1e0; border-color: #c76a00; color: #7a3e00; }
.mark.empty { background: #f6f8fa; color: var(--muted); }
.mark.uncertain { background: #fff8c5; border-color: #bf8700; }
.verdict-ok { color: #116329; font-weight: bold; }
.verdict-bad { color: #a40e26; font-weight: bold; }
.verdict-normal, .verdict-na { color: var(--muted); }
.sev-critical, .sev-high { color: #a40e26; font-weight: bold; }
.sev-medium { color: #9a6700; font-weight: bold; }
.sev-low, .sev-info { color: var(--muted); font-weight: bold; }
.summary { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
.summary dt { font-weight: bold; }
.summary dd { margin: 0; }
ul.warnings { margin: 4px 0; color: #7a3e00; }
svg.chart { width: 100%; height: auto; max-width: 1100px; display: block; margin: 6px 0 10px; }
@media print {
  @page { margin: 14mm; }
  body { font-size: 10pt; color: #000000; background: #ffffff; }
  header.band { background: #ffffff; color: #000000; border-bottom: 2px solid #000000;
    padding: 0 0 6px; }
  header.band p { color: #000000; }
  main { padding: 0; max-width: none; }
  nav.toc { display: none; }
  h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  tr, svg.chart { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  th { background: #eeeeee; }
}
""".lstrip()


_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii")


CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; base-uri 'none'; form-action 'none'"
)


def dl(rows: Iterable[tuple[str, object]]) -> Markup:
    items = []
    for term, value in rows:
        if value is None or value == "":
            continue
        items += [el("dt", term), el("dd", value)]
    return el("dl", items, class_="summary")


def digest_span(value: str | None) -> Markup | None:
    return el("span", value, class_="digest") if value else None


def size_text(size: int | None) -> str:
    return human_size(size) if size is not None else "unknown"


def mark(label: str, kind: str) -> Markup:
    return el("span", label, class_=f"mark {kind}")


def warnings_list(warnings: Iterable[str]) -> Markup | None:
    items = [el("li", w) for w in warnings]
    if not items:
        return None
    return el("div", el("strong", "Warnings (reconstruct):"), el("ul", items, class_="warnings"))


def compact_size(size: int) -> str:
    """`51.4 MB`: human_size without the byte count."""
    return human_size(size).split(" (", 1)[0]

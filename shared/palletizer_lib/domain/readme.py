"""A crate's README (the Markdown text cargo sends at publish) as HTML that is safe to show in a browser.

markdown-it-py renders CommonMark (with tables and strikethrough, as READMEs use them, and the raw HTML
READMEs often carry); nh3 (the Ammonia sanitiser) then keeps only an allow-list of tags and attributes:
no `<script>`, `<style>`, `<iframe>`, event handlers, `style` attributes, or URLs but http(s), mailto
and relative ones. Whatever a publisher puts in a README, no script of theirs runs in a visitor's browser.

A README is rendered once, when its version is stored (the catalog keeps the result), never on a page
view, and the work is bounded before it starts. markdown-it-py costs up to about 20 µs per line or markup
character, and a table's cells cost as much each: a README larger than MAX_BYTES, with more than
MAX_MARKUP lines and markup characters, or tables of more than MAX_TABLE_CELLS cells, is shown as plain
text, as is one whose HTML would exceed MAX_HTML (a link reference repeats its URL at each use). Between
the two, the rendered HTML is rewritten with every element closed inside its parent and no comment
(`_balanced`): html5ever, under nh3, costs time in proportion to the depth of open elements at each tag
(150,000 unclosed `<div>` took two minutes), which is then at most MAX_DEPTH; a README nested deeper is
shown as plain text too. The worst cases measured take about 0.15 s.

Both libraries are imported when the first README is rendered, not at start: a server that never renders
one does not carry them (idle memory).
"""

import html
import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer"
MAX_BYTES = 512 * 1024
MAX_MARKUP = 10_000
MAX_TABLE_CELLS = 5_000
MAX_HTML = 4 * 1024 * 1024
MAX_DEPTH = 64
TOO_LARGE = "too large"
TOO_DEEP = "too deeply nested"
_ALIGNED = ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6")
_MARKUP = re.compile(r"[\n!#$%&*+\-:<=>@\[\\\]^_`{|}~]")
_DELIMITER_ROW = re.compile(r"[|:\- \t]+")
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "keygen",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
_BLOCKS = (
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "ul",
)
_CLOSE_P = (
    frozenset({"p"}),
    frozenset({"button", "table", "td", "th", "caption", "object", "marquee", "applet", "template"}),
)
_LIST_ITEM = (frozenset({"li"}), frozenset({"ul", "ol", "menu", "table", "td", "th"}))
_DEFINITION = (frozenset({"dt", "dd"}), frozenset({"dl", "table", "td", "th"}))
_CELL = (frozenset({"td", "th"}), frozenset({"tr", "table"}))
_ROW = (frozenset({"tr"}), frozenset({"table", "thead", "tbody", "tfoot"}))
_SECTION = (frozenset({"thead", "tbody", "tfoot"}), frozenset({"table"}))
_IMPLIED: dict[str, tuple[tuple[frozenset[str], frozenset[str]], ...]] = {
    **{block: (_CLOSE_P,) for block in _BLOCKS},
    "li": (_LIST_ITEM, _CLOSE_P),
    "dt": (_DEFINITION, _CLOSE_P),
    "dd": (_DEFINITION, _CLOSE_P),
    "td": (_CELL,),
    "th": (_CELL,),
    "tr": (_ROW,),
    "thead": (_SECTION,),
    "tbody": (_SECTION,),
    "tfoot": (_SECTION,),
}
_TAG_NAME = re.compile(r"[A-Za-z][^\t\n\f\r />]*")
_ATTRIBUTE_NAME = re.compile(r"[^\t\n\f\r />][^\t\n\f\r /=>]*")
_WHITESPACE = re.compile(r"[\t\n\f\r ]*")
_SPACE = re.compile(r"[\t\n\f\r /]*")
_UNQUOTED = re.compile(r"[^\t\n\f\r >]*")
_SAFE_NAME = re.compile(r"[a-z][a-z0-9-]*")
_SAFE_ATTRIBUTE = re.compile(r"[a-z_:][a-z0-9_:.-]*")


class _TooDeep(Exception):
    """The HTML opens more than MAX_DEPTH elements inside one another."""


def render_readme(markdown: str) -> str:
    """The README's Markdown as sanitised HTML (an empty string for an empty README); one too large or too
    deeply nested to render is its text, escaped, in a `<pre>` after a note saying why."""
    if (
        len(markdown.encode("utf-8", "surrogatepass")) > MAX_BYTES
        or markup_count(markdown) > MAX_MARKUP
        or table_cells(markdown) > MAX_TABLE_CELLS
    ):
        return plain_readme(markdown, TOO_LARGE)
    md = _markdown()
    env: dict[str, object] = {}
    tokens = md.parse(markdown, env)
    if _output_size(tokens) > MAX_HTML:
        return plain_readme(markdown, TOO_LARGE)
    try:
        balanced = _balanced(md.renderer.render(tokens, md.options, env))
    except _TooDeep:
        return plain_readme(markdown, TOO_DEEP)
    return sanitise_html(balanced)


def markup_count(markdown: str) -> int:
    """Lines and markup characters (those markdown-it-py's inline parser stops at) of `markdown`."""
    return len(_MARKUP.findall(markdown))


def table_cells(markdown: str) -> int:
    """At least as many cells as the tables of `markdown` have, once markdown-it-py fills their short rows:
    for each line that could be a table's delimiter row, its columns times the lines up to a blank one."""
    cells = to_blank = 0
    for line in reversed(markdown.splitlines()):
        if not line.strip():
            to_blank = 0
            continue
        to_blank += 1
        row = line.lstrip(" \t>")
        if "-" in row and "|" in row and _DELIMITER_ROW.fullmatch(row):
            cells += (row.strip().strip("|").count("|") + 1) * (to_blank + 1)
    return cells


def _output_size(tokens: list["Token"]) -> int:
    """About how many characters rendering `tokens` makes (a link reference used many times repeats its
    URL each time), counted without making them."""
    size = 0
    for token in tokens:
        if token.children:
            size += _output_size(token.children)
        else:
            size += len(token.content) + len(token.info) + 16
        size += sum(len(str(value)) + len(name) + 4 for name, value in token.attrs.items())
    return size


def plain_readme(markdown: str, reason: str) -> str:
    """`markdown` shown as it is (escaped), after a note that it was not rendered because it is `reason`."""
    return (
        f'<p class="readme-note">This README is shown as plain text: it is {reason} to render.</p>\n'
        f'<pre class="readme-plain">{html.escape(markdown)}</pre>\n'
    )


def sanitise_html(fragment: str) -> str:
    """`fragment` with everything that could run script or restyle the page removed."""
    import nh3

    return nh3.clean(fragment, attributes=_attributes(), url_schemes=set(URL_SCHEMES), link_rel=LINK_REL)


def _balanced(fragment: str) -> str:
    """`fragment` rewritten so that every element is closed inside its parent and none nests deeper than
    MAX_DEPTH (_TooDeep otherwise): an end tag closes the elements opened after its own, one that closes
    nothing is dropped, and so are comments and declarations; `<` and `>` in text become entities. Tags
    are read as HTML's tokenizer reads them (quoted attribute values may hold `>`); one time through."""
    out: list[str] = []
    stack: list[str] = []
    pos, end = 0, len(fragment)
    while pos < end:
        lt = fragment.find("<", pos)
        if lt < 0:
            out.append(fragment[pos:].replace(">", "&gt;"))
            break
        out.append(fragment[pos:lt].replace(">", "&gt;"))
        closing = fragment.startswith("</", lt)
        name = _TAG_NAME.match(fragment, lt + 2 if closing else lt + 1)
        if name is None:
            if fragment.startswith("<!--", lt):
                close = fragment.find("-->", lt + 4)
                pos = end if close < 0 else close + 3
            elif fragment.startswith(("<!", "<?", "</"), lt):
                close = fragment.find(">", lt + 2)
                pos = end if close < 0 else close + 1
            else:
                out.append("&lt;")
                pos = lt + 1
            continue
        attributes, pos = _attributes_of(fragment, name.end())
        if pos < 0:
            break
        tag = name.group().lower()
        if closing:
            if tag in stack:
                while True:
                    top = stack.pop()
                    out.append(f"</{top}>")
                    if top == tag:
                        break
            continue
        if not _SAFE_NAME.fullmatch(tag):
            continue
        _close_implied(tag, stack, out)
        out.append(f"<{tag}{attributes}>")
        if tag not in _VOID:
            if len(stack) >= MAX_DEPTH:
                raise _TooDeep()
            stack.append(tag)
    out.extend(f"</{tag}>" for tag in reversed(stack))
    return "".join(out)


def _close_implied(tag: str, stack: list[str], out: list[str]) -> None:
    """Close what opening `tag` closes in HTML without an end tag: a `p` before a block, the previous `li`
    of a list, cell of a row, row of a table..."""
    for siblings, bounds in _IMPLIED.get(tag, ()):
        for depth in range(len(stack) - 1, -1, -1):
            if stack[depth] in bounds:
                break
            if stack[depth] in siblings:
                while len(stack) > depth:
                    out.append(f"</{stack.pop()}>")
                break


def _end_of(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where a match of `pattern` (one that matches the empty string too) starting at `pos` ends."""
    match = pattern.match(text, pos)
    return match.end() if match else pos


def _attributes_of(fragment: str, pos: int) -> tuple[str, int]:
    """The attributes of the tag whose name ends at `pos`, rewritten with plain names and double-quoted
    values (the first of a repeated name), and where the tag ends; (-1 if it never does)."""
    seen: set[str] = set()
    parts: list[str] = []
    end = len(fragment)
    while True:
        pos = _end_of(_SPACE, fragment, pos)
        if pos >= end:
            return "", -1
        if fragment[pos] == ">":
            return "".join(parts), pos + 1
        name_match = _ATTRIBUTE_NAME.match(fragment, pos)
        assert name_match is not None
        name, pos = name_match.group().lower(), name_match.end()
        value: str | None = None
        after = _end_of(_WHITESPACE, fragment, pos)
        if after < end and fragment[after] == "=":
            pos = _end_of(_WHITESPACE, fragment, after + 1)
            if pos < end and fragment[pos] in "\"'":
                close = fragment.find(fragment[pos], pos + 1)
                if close < 0:
                    return "", -1
                value, pos = fragment[pos + 1 : close], close + 1
            else:
                end_of_value = _end_of(_UNQUOTED, fragment, pos)
                value, pos = fragment[pos:end_of_value], end_of_value
        if name in seen or not _SAFE_ATTRIBUTE.fullmatch(name):
            continue
        seen.add(name)
        if value is None:
            parts.append(f" {name}")
        else:
            escaped = value.replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
            parts.append(f' {name}="{escaped}"')


@cache
def _markdown() -> "MarkdownIt":
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


@cache
def _attributes() -> dict[str, set[str]]:
    import nh3

    return {
        **{tag: set(allowed) for tag, allowed in nh3.ALLOWED_ATTRIBUTES.items()},
        **{tag: {"align"} | nh3.ALLOWED_ATTRIBUTES.get(tag, set()) for tag in _ALIGNED},
    }


def safe_url(url: object) -> str | None:
    """`url` if it is an absolute http(s) URL (a link from crate metadata that is safe to show), else None."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or any(c in url for c in "\"'<> \t\r\n"):
        return None
    return url

"""A crate's README (the Markdown text cargo sends at publish) as HTML that is safe to show in a browser.

markdown-it-py renders CommonMark (with tables and strikethrough, as READMEs use them, and the raw HTML
READMEs often carry); nh3 (the Ammonia sanitiser) then keeps only an allow-list of tags and attributes:
no `<script>`, `<style>`, `<iframe>`, event handlers, `style` attributes, or URLs but http(s), mailto
and relative ones. Whatever a publisher puts in a README, no script of theirs runs in a visitor's browser.

Both are imported when the first README is rendered, not at start: a server that never renders a page
does not carry them (issue 7's idle memory).
"""

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer"
_ALIGNED = ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6")


def render_readme(markdown: str) -> str:
    """The README's Markdown as sanitised HTML (an empty string for an empty README)."""
    return sanitise_html(_markdown().render(markdown))


def sanitise_html(html: str) -> str:
    """`html` with everything that could run script or restyle the page removed."""
    import nh3

    return nh3.clean(html, attributes=_attributes(), url_schemes=set(URL_SCHEMES), link_rel=LINK_REL)


@cache
def _markdown() -> "MarkdownIt":
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


@cache
def _attributes() -> dict[str, set[str]]:
    import nh3

    return {**{tag: set(allowed) for tag, allowed in nh3.ALLOWED_ATTRIBUTES.items()},
            **{tag: {"align"} | nh3.ALLOWED_ATTRIBUTES.get(tag, set()) for tag in _ALIGNED}}


def safe_url(url: object) -> str | None:
    """`url` if it is an absolute http(s) URL (a link from crate metadata that is safe to show), else None."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or any(c in url for c in "\"'<> \t\r\n"):
        return None
    return url

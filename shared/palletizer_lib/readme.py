"""A crate's README (the Markdown text cargo sends at publish) as HTML that is safe to show in a browser.

markdown-it-py renders CommonMark (with tables and strikethrough, as READMEs use them, and the raw HTML
READMEs often carry); nh3 (the Ammonia sanitiser) then keeps only an allow-list of tags and attributes:
no `<script>`, `<style>`, `<iframe>`, event handlers, `style` attributes, or URLs but http(s), mailto
and relative ones. Whatever a publisher puts in a README, no script of theirs runs in a visitor's browser.
"""

import nh3
from markdown_it import MarkdownIt

URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer"
_ALIGNED = ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6")

_markdown = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
_attributes = {**{tag: set(allowed) for tag, allowed in nh3.ALLOWED_ATTRIBUTES.items()},
               **{tag: {"align"} | nh3.ALLOWED_ATTRIBUTES.get(tag, set()) for tag in _ALIGNED}}


def render_readme(markdown: str) -> str:
    """The README's Markdown as sanitised HTML (an empty string for an empty README)."""
    return sanitise_html(_markdown.render(markdown))


def sanitise_html(html: str) -> str:
    """`html` with everything that could run script or restyle the page removed."""
    return nh3.clean(html, attributes=_attributes, url_schemes=set(URL_SCHEMES), link_rel=LINK_REL)


def safe_url(url: object) -> str | None:
    """`url` if it is an absolute http(s) URL (a link from crate metadata that is safe to show), else None."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or any(c in url for c in "\"'<> \t\r\n"):
        return None
    return url

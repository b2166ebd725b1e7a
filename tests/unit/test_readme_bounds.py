"""A README's rendering is bounded: too large or too deeply nested is shown as plain text, and the HTML
handed to the sanitiser is balanced and shallow whatever the README holds."""

from html.parser import HTMLParser

import pytest

from palletizer_lib.domain import readme
from palletizer_lib.domain.readme import MAX_BYTES, MAX_DEPTH, TOO_DEEP, TOO_LARGE, plain_readme, render_readme

NOTE = '<p class="readme-note">This README is shown as plain text: it is {} to render.</p>'
VOID = {"area", "br", "col", "hr", "img", "wbr"}


class Depth(HTMLParser):
    """The deepest nesting of elements in an HTML fragment, and whether every element was closed in order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.deepest = 0
        self.misnested = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in VOID:
            self.stack.append(tag)
            self.deepest = max(self.deepest, len(self.stack))

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.misnested += 1


@pytest.mark.parametrize(
    ("markdown", "reason"),
    [
        ("<div>" * 150_000, TOO_LARGE),
        ("x" * (MAX_BYTES + 1), TOO_LARGE),
        ("- a\n" * 20_000, TOO_LARGE),
        ("<http://a> " * 5_000, TOO_LARGE),
        ("|" + "a|" * 100 + "\n|" + "-|" * 100 + "\n" + "x\n" * 100, TOO_LARGE),
        ("[a]: http://" + "x" * 100_000 + "\n\n" + "[a]" * 1_000, TOO_LARGE),
        ("".join(f'<b title="{i}">' for i in range(3_000)), TOO_DEEP),
        ("<div>" * (MAX_DEPTH + 1), TOO_DEEP),
        ("<a href=x>" * 3_000, TOO_DEEP),
    ],
)
def test_a_readme_too_costly_to_render_is_plain_escaped_text_with_a_note(markdown: str, reason: str) -> None:
    html = render_readme(markdown)
    assert html.startswith(NOTE.format(reason))
    assert html == plain_readme(markdown, reason)
    assert "<div>" not in html and "<b " not in html and "<a " not in html


def test_plain_text_keeps_every_character_escaped() -> None:
    text = '<script>alert("x")</script> & <div>'
    html = plain_readme(text, TOO_LARGE)
    assert '<pre class="readme-plain">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;div&gt;</pre>' in html


def test_a_readme_within_the_bounds_renders() -> None:
    assert render_readme("<div>" * MAX_DEPTH + "x") == "<div>" * MAX_DEPTH + "x" + "</div>" * MAX_DEPTH
    assert render_readme("# Big\n\n" + "Some prose, with *emphasis* and `code`.\n\n" * 1_000).startswith("<h1>Big</h1>")


@pytest.mark.parametrize(
    "markdown",
    [
        "<b><div></b>x" * 500,
        "".join(f'<b title="{i}">' for i in range(40)) + "\n\n" + "x\n\n" * 2_000,
        "<p><b><div>x</div></b></p>\n" * 300,
        '<div title="</div>">' * 50 + "x",
        "<!-- </div> -->" * 50 + "<div>" * 50,
        "<ul><li>a<li>b<p>c<li>d</ul>" * 200,
        "<table><tr><td>1<td>2<tr><td>3</table>" * 200,
        "<svg><![CDATA[ > </div> ]]></svg>" * 100,
        "<textarea></div></textarea><div>" * 40,
    ],
)
def test_the_html_given_to_the_sanitiser_is_balanced_and_shallow(
    markdown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    sanitise = readme.sanitise_html
    monkeypatch.setattr(readme, "sanitise_html", lambda html: seen.append(html) or sanitise(html))
    render_readme(markdown)
    if seen:
        depth = Depth(seen[0])
        assert depth.deepest <= MAX_DEPTH and depth.misnested == 0 and not depth.stack
        assert "<!--" not in seen[0]


def test_html_readmes_write_without_end_tags_stays_shallow() -> None:
    rows = "".join(f"<tr><td>{i}<td>{i * i}" for i in range(500))
    items = "".join(f"<li>item {i}" for i in range(500))
    html = render_readme(f"<table>{rows}</table>\n\n<ul>{items}</ul>\n")
    assert "<td>499</td><td>249001</td></tr>" in html and "<li>item 499</li></ul>" in html

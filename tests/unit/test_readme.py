"""A README's Markdown as HTML: rendered as READMEs are written, and never able to run script."""

from html.parser import HTMLParser

import pytest

from palletizer_lib.domain.readme import render_readme, safe_url

ACTIVE_TAGS = {
    "script",
    "iframe",
    "svg",
    "math",
    "object",
    "embed",
    "form",
    "input",
    "meta",
    "base",
    "link",
    "style",
    "noscript",
}


class StartTags(HTMLParser):
    """The start tags of an HTML fragment, as a browser's parser sees them (entities decoded)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str]]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, [(name, value or "") for name, value in attrs]))


def test_markdown_renders_as_readmes_use_it() -> None:
    html = render_readme(
        "# Title\n\n*a* **b** `c` ~~d~~\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n```rust\nfn f() {}\n```\n"
    )
    assert "<h1>Title</h1>" in html
    assert "<em>a</em> <strong>b</strong> <code>c</code> <s>d</s>" in html
    assert "<table>" in html and "<td>1</td>" in html
    assert "<pre><code>fn f() {}\n</code></pre>" in html


def test_raw_html_that_readmes_carry_survives() -> None:
    html = render_readme(
        '<p align="center"><img src="https://img.example/logo.png" alt="logo" width="80"></p>\n\n'
        "<details><summary>More</summary>\n\nhidden\n\n</details>\n"
    )
    assert '<p align="center"><img src="https://img.example/logo.png" alt="logo" width="80"></p>' in html
    assert "<details><summary>More</summary>" in html


def test_links_open_safely() -> None:
    assert render_readme("[a](https://a.example)") == (
        '<p><a href="https://a.example" rel="nofollow noopener noreferrer">a</a></p>\n'
    )
    assert 'href="#usage"' in render_readme("[usage](#usage)")
    assert 'href="mailto:a@b.example"' in render_readme("[mail](mailto:a@b.example)")


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<a href=" javascript:alert(1)">x</a>',
        "[x](javascript:alert(1))",
        "[x](<javascript:alert(1)>)",
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        '<a href="vbscript:msgbox(1)">x</a>',
        '<iframe src="https://evil.example"></iframe>',
        '<svg onload="alert(1)"></svg>',
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
        '<object data="x.swf"></object><embed src="x.swf">',
        '<form action="https://evil.example"><input name="token"></form>',
        '<div style="position:fixed;inset:0;background:url(javascript:alert(1))" onmouseover="alert(1)">x</div>',
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
        '<base href="https://evil.example/">',
        '<link rel="stylesheet" href="https://evil.example/x.css">',
        "<style>body { display: none }</style>",
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
        "<!--<img src=x onerror=alert(1)>-->",
    ],
)
def test_nothing_that_could_run_script_or_restyle_the_page_survives(hostile: str) -> None:
    html = render_readme(f"before\n\n{hostile}\n\nafter")
    for tag, attrs in StartTags(html).tags:
        assert tag not in ACTIVE_TAGS, (tag, html)
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", (tag, name, html)
            if name in ("href", "src", "action", "data"):
                scheme = value.partition(":")[0].lower() if ":" in value.split("/", 1)[0] else None
                assert scheme in (None, "http", "https", "mailto"), (tag, name, value)
    assert "<p>after</p>" in html


@pytest.mark.parametrize(
    "url, safe",
    [
        ("https://example.org/x", "https://example.org/x"),
        ("  http://example.org ", "http://example.org"),
        ("HTTPS://EXAMPLE.ORG", "HTTPS://EXAMPLE.ORG"),
        ("javascript:alert(1)", None),
        ("javascript://example.org/%0Aalert(1)", None),
        ("data:text/html,x", None),
        ("//example.org", None),
        ("example.org", None),
        ('https://example.org/"onmouseover="x', None),
        ("https://", None),
        (None, None),
        (42, None),
    ],
)
def test_metadata_links_must_be_http(url: object, safe: str | None) -> None:
    assert safe_url(url) == safe

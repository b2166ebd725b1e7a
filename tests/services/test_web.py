"""The web pages of an open registry (no `auth_required`): the crate list, search, crate pages."""

import html
import re
import sqlite3
from html.parser import HTMLParser

import pytest

from tests.support.cratekit import dep
from tests.support.inprocess import InProcess
from tests.support.showcase import CORE, CORE_VERSIONS, EVIL, FORKLIFT, MACROS, YANKED, publish_showcase


class Elements(HTMLParser):
    """Every start tag of a page with its attributes, in order."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {key: value or "" for key, value in attrs}))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        """The attributes of every `tag` whose attributes include `attrs` (`class_` for `class`)."""
        wanted = {key.rstrip("_"): value for key, value in attrs.items()}
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in wanted.items())]


@pytest.fixture(scope="module")
def site(app: InProcess) -> InProcess:
    publish_showcase(app)
    return app


def page(app: InProcess, path: str, status: int = 200, **params: str) -> str:
    response = app.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response.text


def text_of(markup: str) -> str:
    """The page's text, tags dropped and whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def listed(markup: str) -> list[str]:
    """The crate names of a list page, in order."""
    return [html.unescape(name) for name in re.findall(r'class="crate-name" href="/crates/[^"]+">([^<]+)<', markup)]


def test_the_list_shows_every_crate_newest_publication_first(site: InProcess) -> None:
    markup = page(site, "/")
    assert listed(markup) == [FORKLIFT, EVIL, CORE, MACROS]
    text = text_of(markup)
    assert "Moves pallets between warehouses" in text
    assert "pallet-core 0.3.0" in text  # the newest version that is not yanked
    assert "2 downloads" in text


def test_search_filters_by_name_and_description(site: InProcess) -> None:
    assert listed(page(site, "/", q="warehouses")) == [FORKLIFT]
    assert listed(page(site, "/", q="pallet")) == [FORKLIFT, CORE, MACROS]
    assert listed(page(site, "/", q="pallet-core")) == [CORE, FORKLIFT, MACROS]  # an exact name first
    nothing = page(site, "/", q="no such thing")
    assert listed(nothing) == [] and "No crate matches" in text_of(nothing)


def test_a_page_past_the_last_is_the_last(site: InProcess) -> None:
    assert listed(page(site, "/", page="99")) == listed(page(site, "/"))


@pytest.mark.parametrize("bad", ["nonsense", "0", "-1", "9" * 5000])
def test_a_page_that_is_no_page_number_is_400_json(site: InProcess, bad: str) -> None:
    response = site.get("/", params={"page": bad})
    assert response.status_code == 400 and response.json["errors"][0]["detail"]


def test_the_crate_page_answers_to_any_spelling(site: InProcess) -> None:
    for spelling in ("pallet-core", "PALLET_CORE", "Pallet-Core"):
        assert "<h1>pallet-core <span" in page(site, f"/crates/{spelling}")


def test_the_crate_page_shows_every_version_and_marks_the_yanked_one(site: InProcess) -> None:
    elements = Elements(page(site, f"/crates/{CORE}"))
    links = [a["href"] for a in elements.find("a") if a["href"].startswith(f"/crates/{CORE}/")]
    assert links == [f"/crates/{CORE}/{v}" for v in reversed(CORE_VERSIONS)]
    assert [li["class"] for li in elements.find("li") if "yanked" in li.get("class", "")] == ["yanked"]
    markup = page(site, f"/crates/{CORE}")
    row = re.search(rf'<li class="yanked">\s*<span class="vers"><a href="/crates/{CORE}/{re.escape(YANKED)}">', markup)
    assert row and '<span class="badge yanked">yanked</span>' in markup[row.end() :][:200]


def test_the_crate_page_shows_what_the_catalog_knows(site: InProcess) -> None:
    markup = page(site, f"/crates/{CORE}")
    text = text_of(markup)
    assert "Stack, wrap and ship anything: the core pallet types" in text
    assert re.search(r"Published \d{4}-\d\d-\d\d \d\d:\d\d UTC by tester", text)
    assert "Owners tester" in text
    assert "Downloads 2 (this version: 2)" in text
    assert "License MIT OR Apache-2.0" in text and "Rust 1.70 or newer" in text
    assert "#logistics" in text
    elements = Elements(markup)
    for label, url in [
        ("Repository", "https://example.org/pallet/core"),
        ("Homepage", "https://example.org/pallet"),
        ("Documentation", "https://docs.example.org/pallet-core"),
    ]:
        assert elements.find("a", href=url), label


def test_the_readme_is_rendered_as_html(site: InProcess) -> None:
    markup = page(site, f"/crates/{CORE}")
    readme = markup[markup.index('<section class="readme">') :]
    assert "<h1>pallet-core</h1>" in readme
    assert "<strong>anything</strong>" in readme and "<em>pallet</em>" in readme
    assert "<pre><code>use pallet_core::Pallet;" in readme
    assert "<table>" in readme and "<th>feature</th>" in readme
    assert "<s>unsafe</s>" in readme
    assert Elements(readme).find("a", href="https://example.org/pallet/guide", rel="nofollow noopener noreferrer")


def test_each_version_has_its_own_page(site: InProcess) -> None:
    markup = page(site, f"/crates/{CORE}/{YANKED}")
    assert f'<span class="version">{YANKED}</span>' in markup
    assert re.search(r'<h1>pallet-core <span class="version">0\.2\.1</span>\s*<span class="badge yanked">', markup)
    assert f"<h1>pallet-core {YANKED}</h1>" in markup  # that version's README
    assert "<h1>pallet-core <span" in page(site, f"/crates/{CORE}/0.1.0")


def test_a_readme_cannot_run_script(site: InProcess) -> None:
    markup = page(site, f"/crates/{EVIL}")
    elements = Elements(markup)
    assert "Only this text should remain." in text_of(markup)
    ours = [("form", "/")]  # the search box; the page has no other form, and no script of its own
    assert [
        (tag, attrs.get("action"))
        for tag, attrs in elements.tags
        if tag in ("script", "iframe", "svg", "form", "object", "embed")
    ] == ours
    for tag, attrs in elements.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            assert name != "style", (tag, name, value)
            assert not value.replace(" ", "").lower().startswith(("javascript:", "&#106;")), (tag, name, value)
    assert "document.title" not in markup  # the script's content is gone too, not only its tags
    assert not elements.find("a", href="javascript:window.pwned=true")  # the homepage link in the metadata


def test_the_page_allows_no_script_at_all(site: InProcess) -> None:
    response = site.get(f"/crates/{EVIL}")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"


def test_dependencies_link_to_the_registrys_own_crates(site: InProcess) -> None:
    markup = page(site, f"/crates/{CORE}")
    deps = markup[markup.index('<section class="dependencies">') : markup.index('<section class="dependents">')]
    elements = Elements(deps)
    assert [a["href"] for a in elements.find("a")] == [f"/crates/{MACROS}"]
    text = text_of(deps)
    assert "serde ^1.0" in text and "from crates.io" in text
    assert "tokio ^1 optional" in text and "tempfile ^3 dev" in text
    assert Elements(page(site, f"/crates/{FORKLIFT}")).find("a", href=f"/crates/{CORE}")


def test_features_are_listed(site: InProcess) -> None:
    markup = page(site, f"/crates/{CORE}")
    features = text_of(markup[markup.index('<section class="features">') :])
    assert "default std" in features and "async dep:tokio" in features and "std nothing else" in features


def test_the_lines_to_paste_into_cargo_files(site: InProcess) -> None:
    markup = page(site, f"/crates/{CORE}")
    cargo_toml = re.search(r'<pre class="snippet" id="cargo-toml"><code>(.*?)</code>', markup, re.S)
    assert html.unescape(cargo_toml.group(1)) == f'{CORE} = {{ version = "0.3.0", registry = "palletizer" }}'
    config = re.search(r'<pre class="snippet" id="cargo-config"><code>(.*?)</code>', markup, re.S)
    assert html.unescape(config.group(1)) == f'[registries.palletizer]\nindex = "sparse+{site.url}/index/"'


@pytest.mark.parametrize(
    "path",
    [
        "/crates/no-such-crate",
        "/crates/%2E%2E",
        "/crates/a%20b",
        f"/crates/{CORE}/9.9.9",
        f"/crates/{CORE}/not-a-version",
    ],
)
def test_unknown_crates_and_versions_are_a_404_page(site: InProcess, path: str) -> None:
    markup = page(site, path, status=404)
    assert "<h1>Not Found</h1>" in markup and 'href="/"' in markup


def test_the_stylesheet_is_served_from_here(site: InProcess) -> None:
    markup = page(site, "/")
    (link,) = Elements(markup).find("link", rel="stylesheet")
    assert link["href"].startswith("/static/style.css?v=")
    response = site.get(link["href"])
    assert response.status_code == 200 and response.headers["content-type"] == "text/css; charset=utf-8"
    assert "@media" in response.text
    assert "http" not in markup[: markup.index("<main>")]  # nothing in the page's frame comes from elsewhere


def test_without_auth_required_there_is_no_login(site: InProcess) -> None:
    response = site.get("/login")
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "Log out" not in page(site, "/")


def test_the_readme_served_is_the_one_stored_at_publish(site: InProcess) -> None:
    site.publish("stored-readme", readme="# Stored\n\n*once*\n")
    with sqlite3.connect(site.data / "catalog.sqlite3") as db:
        [(stored,)] = db.execute("SELECT html FROM readmes WHERE crate = 'stored-readme'").fetchall()
    assert stored == "<h1>Stored</h1>\n<p><em>once</em></p>\n"
    assert stored in page(site, "/crates/stored-readme")


def test_a_hostile_readme_is_shown_as_plain_text(site: InProcess) -> None:
    site.publish("hostile-readme", readme="<div>" * 150_000)
    markup = page(site, "/crates/hostile-readme")
    readme = markup[markup.index('<section class="readme">') :]
    assert "This README is shown as plain text: it is too large to render." in text_of(readme)
    assert "&lt;div&gt;" * 150_000 in readme
    site.publish("harmless-readme", readme="harmless")
    assert len(Elements(markup).find("div")) == len(Elements(page(site, "/crates/harmless-readme")).find("div"))


def test_keywords_and_categories_link_to_the_crates_that_have_them(site: InProcess) -> None:
    markup = page(site, f"/crates/{CORE}")
    assert '<a class="keyword" href="/?keyword=logistics">#logistics</a>' in markup
    assert '<a class="category" href="/?category=no-std">no-std</a>' in markup
    assert '<a class="category" href="/?category=data-structures">data-structures</a>' in markup
    assert listed(page(site, "/", keyword="logistics")) == [FORKLIFT, CORE]
    assert listed(page(site, "/", keyword="LOGISTICS", q="fork")) == [FORKLIFT]
    in_category = page(site, "/", category="no-std")
    assert listed(in_category) == [CORE] and "1 crate in the category “no-std”" in text_of(in_category)
    none = page(site, "/", keyword="nothing-has-this")
    assert listed(none) == [] and "No crate matches with the keyword #nothing-has-this" in text_of(none)
    assert 'class="categories"' not in page(site, f"/crates/{FORKLIFT}")


def test_the_list_is_sorted_by_name_downloads_or_recent_publication(site: InProcess) -> None:
    every = listed(page(site, "/"))
    assert listed(page(site, "/", sort="name")) == sorted(every, key=str.lower) != every
    by_downloads = listed(page(site, "/", sort="downloads"))
    assert by_downloads[0] == CORE and by_downloads[1:] == sorted(set(every) - {CORE}, key=str.lower)
    assert listed(page(site, "/", sort="recent")) == every
    links = {a["href"] for a in Elements(page(site, "/", q="pallet")).find("a")}
    assert {"/?q=pallet&sort=name", "/?q=pallet&sort=downloads"} <= links
    assert "sorted by one of recent, name, downloads" in text_of(page(site, "/", status=400, sort="stars"))


def test_pages_of_a_sorted_list_keep_its_order(fresh_app: InProcess) -> None:
    for i in range(51):
        fresh_app.publish(f"sorted-{i:02}")
    first = page(fresh_app, "/", sort="name")
    assert listed(first)[:2] == ["sorted-00", "sorted-01"]
    assert Elements(first).find("a", href="/?q=&sort=name&page=2")
    assert listed(page(fresh_app, "/", sort="name", page="2")) == ["sorted-50"]


def snippet(markup: str, name: str) -> str | None:
    found = re.search(rf'<pre class="snippet" id="{name}"><code>(.*?)</code>', markup, re.S)
    return html.unescape(found.group(1)) if found else None


def test_the_crate_page_shows_cargo_add_and_cargo_install_for_binaries(fresh_app: InProcess) -> None:
    fresh_app.publish("just-lib", files={"src/lib.rs": b""})
    fresh_app.publish("main-tool", files={"src/main.rs": b"fn main() {}\n"})
    fresh_app.publish(
        "named-tool",
        files={"src/tool.rs": b"fn main() {}\n"},
        manifest_extra='[[bin]]\nname = "tool"\npath = "src/tool.rs"\n',
    )
    library = page(fresh_app, "/crates/just-lib")
    assert snippet(library, "cargo-add") == "cargo add just-lib --registry palletizer"
    assert snippet(library, "cargo-install") is None
    for name in ("main-tool", "named-tool"):
        assert (
            snippet(page(fresh_app, f"/crates/{name}"), "cargo-install")
            == f"cargo install {name} --registry palletizer"
        )
    bins = {
        name: fresh_app.get(f"/api/v1/crates/{name}/1.0.0").json["version"]["bin_names"]
        for name in ("just-lib", "main-tool", "named-tool")
    }
    assert bins == {"just-lib": [], "main-tool": ["main-tool"], "named-tool": ["tool"]}


def test_the_crate_page_shows_the_crates_that_depend_on_it(site: InProcess) -> None:
    markup = page(site, f"/crates/{CORE}")
    used_by = markup[markup.index('<section class="dependents">') : markup.index('<section class="features">')]
    assert [a["href"] for a in Elements(used_by).find("a")] == [f"/crates/{FORKLIFT}"]
    assert "Used by (1)" in text_of(used_by)
    assert "No crate of this registry depends on it" in text_of(page(site, f"/crates/{FORKLIFT}"))


def test_the_crate_page_shows_ten_dependents_and_links_to_all(fresh_app: InProcess) -> None:
    fresh_app.publish("many-used")
    for i in range(12):
        fresh_app.publish(f"user-{i:02}", deps=[dep("many-used", "^1")])
    markup = page(fresh_app, "/crates/many-used")
    used_by = markup[markup.index('<section class="dependents">') : markup.index('<section class="features">')]
    hrefs = [a["href"] for a in Elements(used_by).find("a")]
    assert len(hrefs) == 11 and hrefs[-1] == "/api/v1/crates/many-used/reverse_dependencies?per_page=100"
    assert "Used by (12)" in text_of(used_by)

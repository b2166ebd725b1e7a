"""A README is rendered when its version is stored and the pages read what was stored: a page view runs
neither markdown-it nor nh3. A version recorded before READMEs were stored rendered is rendered once, by
its first view or by `verify --repair`."""

import sqlite3
from pathlib import Path

import falcon.testing
import markdown_it
import nh3
import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.publish_body import encode_publish_body
from palletizer_lib.domain.readme import render_readme
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.catalog import Catalog
from tests.support.cli import run_cli
from tests.support.cratekit import make_crate, metadata
from tests.support.inprocess import build_app
from tests.support.server import issue_token

README = "# Stored\n\nSome *emphasis* and a [link](https://example.org/x).\n"


class Site:
    """`palletizer-all`'s app in process over a real registry, with an admin token."""

    def __init__(self, data: Path) -> None:
        self.registry = Registry.create(data, RegistryConfig())
        app, self.site = build_app(self.registry, url=None)
        self.client = falcon.testing.TestClient(app)
        self.token = issue_token(data)

    def publish(self, name: str, version: str, readme: str) -> None:
        body = encode_publish_body(metadata(name, version, readme=readme), make_crate(name, version))
        response = self.client.simulate_put("/api/v1/crates/new", body=body, headers={"Authorization": self.token})
        assert response.status_code == 200, response.text

    def page(self, path: str) -> str:
        response = self.client.simulate_get(path)
        assert response.status_code == 200, response.text
        return response.text


def stored_readmes(data: Path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(data / "catalog.sqlite3") as db:
        return {(crate, vers): html for crate, vers, html in db.execute("SELECT crate, vers, html FROM readmes")}


def forget_rendered_readmes(data: Path) -> None:
    """Make the catalog look like one written before READMEs were stored rendered."""
    with sqlite3.connect(data / "catalog.sqlite3") as db:
        db.execute("DELETE FROM readmes")


def forbid_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a page view ran the README renderer or sanitiser")

    monkeypatch.setattr(nh3, "clean", refuse)
    monkeypatch.setattr(markdown_it.MarkdownIt, "render", refuse)
    monkeypatch.setattr(markdown_it.MarkdownIt, "parse", refuse)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path / "data")


def test_a_page_view_serves_the_readme_rendered_at_publish(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.publish("stored", "1.0.0", README)
    stored = stored_readmes(site.registry.layout.root)
    assert stored == {("stored", "1.0.0"): render_readme(README)}
    forbid_rendering(monkeypatch)
    for path in ("/crates/stored", "/crates/stored/1.0.0", "/"):
        site.page(path)
    assert stored[("stored", "1.0.0")] in site.page("/crates/stored")


def test_a_readme_stored_before_is_rendered_by_its_first_view_only(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.publish("lazy", "1.0.0", README)
    forget_rendered_readmes(site.registry.layout.root)
    first = site.page("/crates/lazy")
    assert stored_readmes(site.registry.layout.root) == {("lazy", "1.0.0"): render_readme(README)}
    forbid_rendering(monkeypatch)
    assert site.page("/crates/lazy") == first


def test_verify_repair_renders_the_readmes_not_rendered_yet(site: Site) -> None:
    data = site.registry.layout.root
    site.publish("old", "1.0.0", README)
    site.publish("old", "1.1.0", "# Newer\n")
    forget_rendered_readmes(data)
    repaired = run_cli(data, "verify", "--repair")
    assert "repaired: rendered the README of old 1.0.0" in repaired.out
    assert "repaired: rendered the README of old 1.1.0" in repaired.out
    assert stored_readmes(data) == {
        ("old", "1.0.0"): render_readme(README),
        ("old", "1.1.0"): render_readme("# Newer\n"),
    }
    again = run_cli(data, "verify", "--repair")
    assert "README" not in again.out


def test_a_hostile_readme_is_stored_as_plain_text(site: Site) -> None:
    hostile = "<div>" * 150_000
    site.publish("hostile", "1.0.0", hostile)
    markup = site.page("/crates/hostile")
    assert "This README is shown as plain text: it is too large to render." in markup
    assert "&lt;div&gt;" * 1000 in markup
    assert markup.count("<div") < 20


def test_removing_a_version_forgets_its_rendered_readme(site: Site) -> None:
    site.publish("gone", "1.0.0", README)
    Catalog(site.registry.layout.catalog).forget_version("gone", "1.0.0")
    assert stored_readmes(site.registry.layout.root) == {}

"""What the web pages show, assembled from the index, the catalog and the accounts."""

from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import NotFound
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.accounts import Accounts
from palletizer_lib.stores.catalog import Catalog
from palletizer_lib.views.browse import cargo_config, cargo_toml_line, crate_list, crate_page
from tests.support import publishing
from tests.support.cratekit import dep, make_crate, metadata


def publish(registry: Registry, catalog: Catalog, name: str, version: str, when: float, **fields: object) -> None:
    """Publish a crate and record it in the catalog as alice's, published at `when`."""
    publishing.publish(registry, name, version, **fields)
    catalog.record_version(name, version, "alice", metadata(name, version, **fields), published=when)


@pytest.fixture
def catalog(registry: Registry) -> Catalog:
    return Catalog(registry.layout.catalog)


@pytest.fixture
def accounts(registry: Registry) -> Accounts:
    return Accounts(registry.layout.accounts)


def test_the_list_is_newest_publication_first_with_an_exact_name_first(registry: Registry, catalog: Catalog) -> None:
    publish(registry, catalog, "old", "1.0.0", 100.0, description="the oldest, mentions new")
    publish(registry, catalog, "new", "1.0.0", 300.0)
    publish(registry, catalog, "middle", "1.0.0", 200.0, description="also new-ish")
    publish(registry, catalog, "old", "1.1.0", 400.0, description="the oldest, mentions new")
    catalog.count_download("old", "1.0.0")
    listing = crate_list(registry, catalog)
    assert [c.name for c in listing.crates] == ["old", "new", "middle"]
    assert listing.crates[0].downloads == 1 and listing.crates[0].last_published.timestamp() == 400.0
    assert [c.name for c in crate_list(registry, catalog, "new").crates] == ["new", "old", "middle"]
    assert crate_list(registry, catalog, "nothing matches").total == 0


def test_the_list_comes_in_pages(registry: Registry, catalog: Catalog) -> None:
    for i in range(5):
        publish(registry, catalog, f"c{i}", "1.0.0", 100.0 + i)
    first = crate_list(registry, catalog, per_page=2)
    assert (first.total, first.page, first.pages, [c.name for c in first.crates]) == (5, 1, 3, ["c4", "c3"])
    assert [c.name for c in crate_list(registry, catalog, page=3, per_page=2).crates] == ["c0"]
    assert crate_list(registry, catalog, page=99, per_page=2).page == 3
    assert crate_list(registry, catalog, page=-1, per_page=2).page == 1


def test_a_crate_page(registry: Registry, catalog: Catalog, accounts: Accounts) -> None:
    accounts.add_user("alice")
    accounts.add_owner("Page_Me", "alice")
    publish(registry, catalog, "Page_Me", "0.1.0", 100.0, readme="# old")
    publish(
        registry,
        catalog,
        "Page_Me",
        "0.2.0",
        200.0,
        readme="# Page\n<script>x</script>",
        repository="https://example.org/r",
        homepage="javascript:alert(1)",
        keywords=["k"],
        deps=[
            dep("other", "^1"),
            dep("serde", "^1", registry="https://github.com/rust-lang/crates.io-index"),
            dep("real-name", "^2", explicit_name_in_toml="alias", kind="dev"),
        ],
        features={"std": [], "default": ["std"], "x": ["dep:other"]},
    )
    publish(registry, catalog, "Page_Me", "0.3.0-rc.1", 300.0)
    registry.set_yanked("Page_Me", "0.1.0", True)
    page = crate_page(registry, catalog, accounts, "page-me", None, "http://unused.test")
    assert page.name == "Page_Me" and page.version.vers == "0.2.0"  # the release search shows, not the rc
    assert [(v.vers, v.yanked) for v in page.versions] == [("0.3.0-rc.1", False), ("0.2.0", False), ("0.1.0", True)]
    assert page.version.publisher == "alice" and page.version.published.timestamp() == 200.0
    assert page.owners == ["alice"]
    assert page.readme_html == "<h1>Page</h1>\n"
    assert page.links == [("Repository", "https://example.org/r")]
    assert page.keywords == ["k"]
    assert [(d.name, d.crate, d.kind, d.registry is None) for d in page.dependencies] == [
        ("other", "other", "normal", True),
        ("serde", "serde", "normal", False),
        ("alias", "real-name", "dev", True),
    ]
    assert list(page.features) == ["default", "std", "x"]
    assert page.cargo_toml == 'Page_Me = { version = "0.2.0", registry = "palletizer" }'
    assert page.cargo_config == '[registries.palletizer]\nindex = "sparse+http://registry.test/index/"'
    old = crate_page(registry, catalog, accounts, "PAGE_ME", "0.1.0", "http://unused.test")
    assert old.version.yanked and old.readme_html == "<h1>old</h1>\n"
    assert old.cargo_toml == page.cargo_toml


def test_a_version_the_catalog_does_not_know_shows_what_the_index_says(
    registry: Registry, catalog: Catalog, accounts: Accounts
) -> None:
    publish(registry, catalog, "known", "1.0.0", 100.0, description="from the catalog")
    registry.clock = lambda: 150.0
    registry.publish(metadata("known", "1.1.0"), make_crate("known", "1.1.0"))
    page = crate_page(registry, catalog, accounts, "known", None, "http://unused.test")
    assert page.version.vers == "1.1.0" and page.version.published.timestamp() == 150.0  # its pubtime
    assert page.version.publisher is None and page.version.downloads == 0
    assert page.description == "from the catalog"


@pytest.mark.parametrize(
    "name, version", [("missing", None), ("..", None), ("a/b", None), ("known", "9.9.9"), ("known", "not-a-version")]
)
def test_unknown_crates_and_versions_are_not_found(
    registry: Registry, catalog: Catalog, accounts: Accounts, name: str, version: str | None
) -> None:
    publish(registry, catalog, "known", "1.0.0", 100.0)
    with pytest.raises(NotFound):
        crate_page(registry, catalog, accounts, name, version, "http://unused.test")


def test_cargo_config_before_the_server_wrote_its_url(tmp_path: Path) -> None:
    registry = Registry.create(tmp_path / "data", RegistryConfig(auth_required=True))
    assert cargo_config(registry, "http://here.test:8000/") == (
        '[registries.palletizer]\nindex = "sparse+http://here.test:8000/index/"\ncredential-provider = ["cargo:token"]'
    )
    assert cargo_toml_line("a-b", "1.0.0") == 'a-b = { version = "1.0.0", registry = "palletizer" }'

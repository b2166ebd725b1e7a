"""The benchmarks' fast seeder writes what publishing the same crates one by one writes."""

import dataclasses
from pathlib import Path

from dulwich.repo import Repo

from bench.big_registry import ADDRESS, PUBLISHER, releases, seed_registry
from palletizer_lib.core.actor import Actor
from palletizer_lib.core.composition import compose
from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.accounts import Accounts
from palletizer_lib.stores.catalog import Catalog
from palletizer_lib.stores.git_index import BRANCH
from tests.support.files import tree

COUNT = 50
PUBLISHED = 1_700_000_000.0
PUBLIC_URL = "http://registry.test"


def published_registry(data: Path) -> Registry:
    """The crates of a seeded registry of COUNT, published one by one as the web API publishes them."""
    registry = Registry.create(data, RegistryConfig(public_url=PUBLIC_URL))
    registry.clock = lambda: PUBLISHED
    accounts = Accounts(registry.layout.accounts)
    accounts.add_user(PUBLISHER)
    who = Actor.user(accounts.authenticate(accounts.create_token(PUBLISHER, ("publish",))[1]), ADDRESS)
    operations = compose(registry, accounts).operations
    for _, crates in releases(COUNT, registry.own_index_urls()[0]):
        for metadata, crate in crates:
            operations.publish(who, metadata, crate)
    return registry


def catalog_and_accounts(registry: Registry) -> tuple[dict, list, dict]:
    """Each version's catalog record (but when it was recorded), the audit log (but times), the owners."""
    catalog, accounts = Catalog(registry.layout.catalog), Accounts(registry.layout.accounts)
    names = sorted(summary.name for summary in registry.summaries())
    versions = {
        (name, vers): dataclasses.replace(info, published=0)
        for name in names
        for vers, info in catalog.versions(name).items()
    }
    audit = [dataclasses.replace(entry, time=0) for entry in accounts.audit(10 * COUNT)]
    return versions, audit, {name: accounts.owners(name) for name in names}


def head_tree(registry: Registry) -> bytes:
    with Repo(str(registry.layout.git)) as repo:
        return repo[repo.refs.read_ref(BRANCH)].tree


def test_a_seeded_registry_verifies_and_holds_what_publishing_its_crates_makes(tmp_path: Path) -> None:
    seeded = seed_registry(tmp_path / "seeded", COUNT, PUBLIC_URL, PUBLISHED)
    published = published_registry(tmp_path / "published")
    assert seeded.verify() == []
    seeded_index, published_index = tree(seeded.layout.index), tree(published.layout.index)
    assert seeded_index.pop(".head") != published_index.pop(".head")
    assert len(seeded_index) > COUNT and seeded_index == published_index
    for part in ("names", "crates"):
        assert tree(seeded.layout.root / part) == tree(published.layout.root / part)
    assert head_tree(seeded) == head_tree(published)
    assert catalog_and_accounts(seeded) == catalog_and_accounts(published)

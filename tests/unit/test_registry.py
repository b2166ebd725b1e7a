"""The registry on disk: publish, yank, remove, search, verify and recovery from interrupted writes."""

import hashlib
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from dulwich.repo import Repo

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import (
    AlreadyPublished,
    Conflict,
    Forbidden,
    InvalidCrate,
    NotFound,
    PalletizerError,
    PayloadTooLarge,
)
from palletizer_lib.domain.index_entry import dump_line, dump_lines, make_entry, parse_lines
from palletizer_lib.domain.names import index_path
from palletizer_lib.domain.urls import CRATES_IO_INDEX, ServedUrls
from palletizer_lib.settings.config import RegistryConfig
from tests.support.archives import manifest, tar_gz
from tests.support.cratekit import crate_for, dep, make_crate, metadata
from tests.support.publishing import publish

OTHER_REGISTRY = "https://other.example/index"


def commit_count(registry: Registry) -> int:
    """How many commits the index history holds."""
    return len(list(Repo(str(registry.layout.git)).get_walker()))


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (except the lock) and its content."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != "lock"
    }


def make_registry(tmp_path: Path, **settings: object) -> Registry:
    """A fresh registry with custom settings."""
    return Registry.create(tmp_path / "custom", RegistryConfig(public_url="http://registry.test", **settings))


# -- publishing -----------------------------------------------------------------------------


def test_publish_then_read(registry: Registry) -> None:
    meta = metadata("foo", "1.0.0", features={"std": []})
    crate = crate_for(meta)
    entry = registry.publish(meta, crate)
    assert entry["name"] == "foo" and entry["vers"] == "1.0.0"
    assert entry["cksum"] == hashlib.sha256(crate).hexdigest()
    assert registry.entries("foo") == [entry]
    stored = registry.stored_crate("foo", "1.0.0")
    assert stored == (registry.layout.crates / "foo" / "foo-1.0.0.crate").read_bytes()
    assert hashlib.sha256(stored).hexdigest() == entry["cksum"]
    served = registry.layout.index / "3" / "f" / "foo"
    assert served.read_bytes() == registry.log.read("3/f/foo") == dump_lines([entry])


def test_publish_makes_one_commit_and_a_summary(registry: Registry) -> None:
    before = commit_count(registry)
    publish(registry, "foo", "1.0.0", description="Frobs widgets")
    assert commit_count(registry) == before + 1
    assert registry.canonical_name("FOO") == "foo"
    [summary] = list(registry.summaries())
    assert (summary.name, summary.max_version, summary.description) == ("foo", "1.0.0", "Frobs widgets")
    assert registry.layout.index_head.read_text().strip() == registry.log.head().decode()


def test_versions_accumulate_in_publish_order(registry: Registry) -> None:
    for version in ("1.0.0", "0.9.0", "1.1.0-rc.1", "1.0.1"):
        publish(registry, "foo", version)
    assert [e["vers"] for e in registry.entries("foo")] == ["1.0.0", "0.9.0", "1.1.0-rc.1", "1.0.1"]
    [summary] = list(registry.summaries())
    assert summary.max_version == "1.0.1", "releases are preferred over a newer pre-release"


def test_entries_of_an_unknown_crate(registry: Registry) -> None:
    with pytest.raises(NotFound):
        registry.entries("nope")


def test_republishing_a_version_is_a_conflict(registry: Registry) -> None:
    publish(registry, "foo", "1.0.0")
    before = snapshot(registry.layout.root)
    with pytest.raises(Conflict, match="already published") as error:
        registry.publish(metadata("foo", "1.0.0"), make_crate("foo", "1.0.0", 'description = "other bytes"\n'))
    assert error.value.status == 409
    assert snapshot(registry.layout.root) == before


@pytest.mark.parametrize(("first", "second"), [("1.0.0+a", "1.0.0+b"), ("1.0.0", "1.0.0+b"), ("1.0.0+a", "1.0.0")])
def test_versions_differing_only_in_build_metadata_conflict(registry: Registry, first: str, second: str) -> None:
    publish(registry, "foo", first)
    with pytest.raises(Conflict, match=f"version {first.replace('+', '[+]')} is already published"):
        publish(registry, "foo", second)
    assert [e["vers"] for e in registry.entries("foo")] == [first]


@pytest.mark.parametrize("spelling", ["Foo-Bar", "foo_bar", "FOO_BAR", "fOO-bAR"])
def test_names_differing_in_case_or_separator_conflict(registry: Registry, spelling: str) -> None:
    publish(registry, "foo-bar", "1.0.0")
    head = registry.log.head()
    with pytest.raises(Conflict, match="existing crate `foo-bar`") as error:
        publish(registry, spelling, "2.0.0")
    assert error.value.status == 409
    assert registry.log.head() == head
    assert not (registry.layout.crates / spelling).exists()
    publish(registry, "foo-bar", "2.0.0")
    assert [e["vers"] for e in registry.entries(spelling)] == ["1.0.0", "2.0.0"]


def test_dependency_from_a_foreign_registry_is_forbidden(registry: Registry) -> None:
    head = registry.log.head()
    deps = [dep("ok", registry=CRATES_IO_INDEX), dep("evil", registry=OTHER_REGISTRY)]
    with pytest.raises(Forbidden) as error:
        publish(registry, "foo", "1.0.0", deps=deps)
    assert error.value.status == 403
    assert "`evil`" in error.value.detail and OTHER_REGISTRY in error.value.detail
    assert registry.log.head() == head
    assert not registry.layout.crate_file("foo", "1.0.0").exists()


def test_forbidden_renamed_dependency_is_named_by_its_package(registry: Registry) -> None:
    with pytest.raises(Forbidden, match="`real-name`"):
        publish(
            registry, "foo", "1.0.0", deps=[dep("real-name", registry=OTHER_REGISTRY, explicit_name_in_toml="alias")]
        )


def test_default_config_allows_crates_io_and_this_registry(registry: Registry) -> None:
    entry = publish(registry, "foo", "1.0.0", deps=[dep("serde", "^1", registry=CRATES_IO_INDEX), dep("local")])
    assert [d.get("registry") for d in entry["deps"]] == [CRATES_IO_INDEX, None]


def test_allowed_registries_are_accepted(tmp_path: Path) -> None:
    registry = make_registry(tmp_path, allowed_registries=[OTHER_REGISTRY + "/"])
    deps = [dep("a", registry=OTHER_REGISTRY), dep("b", registry=CRATES_IO_INDEX)]
    entry = publish(registry, "foo", "1.0.0", deps=deps)
    assert entry["deps"][0]["registry"] == OTHER_REGISTRY
    with pytest.raises(Forbidden, match="https://third.example/index"):
        publish(registry, "bar", "1.0.0", deps=[dep("c", registry="https://third.example/index")])


@pytest.mark.parametrize("crates_io", [CRATES_IO_INDEX, "sparse+https://index.crates.io/"])
def test_crates_io_can_be_refused(tmp_path: Path, crates_io: str) -> None:
    registry = make_registry(tmp_path, allow_crates_io=False, allowed_registries=[OTHER_REGISTRY])
    with pytest.raises(Forbidden, match="`serde`"):
        publish(registry, "foo", "1.0.0", deps=[dep("serde", registry=crates_io)])
    publish(registry, "foo", "1.0.0", deps=[dep("a", registry=OTHER_REGISTRY), dep("local")])
    assert len(registry.entries("foo")) == 1


def test_crate_above_max_crate_size_is_refused(tmp_path: Path) -> None:
    registry = make_registry(tmp_path, max_crate_size=4096)
    big = make_crate("foo", "1.0.0", files={"noise.bin": random.Random(0).randbytes(8192)})
    before = snapshot(registry.layout.root)
    for attempt in (lambda: registry.publish(metadata("foo", "1.0.0"), big), lambda: registry.add(big)):
        with pytest.raises(PayloadTooLarge, match="max_crate_size") as error:
            attempt()
        assert error.value.status == 413
    assert snapshot(registry.layout.root) == before
    publish(registry, "foo", "1.0.0")


def test_gzip_bomb_is_refused(tmp_path: Path) -> None:
    registry = make_registry(tmp_path, max_crate_size=10_000)
    bomb = tar_gz({"foo-1.0.0/zeros": bytes(4 * 1024 * 1024), "foo-1.0.0/Cargo.toml": manifest("foo", "1.0.0")})
    assert len(bomb) < 10_000
    with pytest.raises(InvalidCrate, match="unpacks to more than"):
        registry.publish(metadata("foo", "1.0.0"), bomb)
    with pytest.raises(InvalidCrate, match="unpacks to more than"):
        registry.add(bomb)


@pytest.mark.parametrize(
    ("meta_name", "meta_vers", "crate_name", "crate_vers"),
    [
        ("foo", "1.0.0", "bar", "1.0.0"),
        ("foo", "1.0.0", "foo", "1.0.1"),
        ("foo", "1.0.0", "Foo", "1.0.0"),
    ],
)
def test_metadata_disagreeing_with_the_crate_stores_nothing(
    registry: Registry, meta_name: str, meta_vers: str, crate_name: str, crate_vers: str
) -> None:
    publish(registry, "other", "1.0.0")
    before = snapshot(registry.layout.root)
    head = registry.log.head()
    with pytest.raises(InvalidCrate):
        registry.publish(metadata(meta_name, meta_vers), make_crate(crate_name, crate_vers))
    assert registry.log.head() == head
    assert snapshot(registry.layout.root) == before
    assert not (registry.layout.crates / meta_name).exists()


@pytest.mark.parametrize("fields", [{"vers": "1.0"}, {"name": "1foo"}, {"deps": [dep("x", kind="weird")]}])
def test_invalid_metadata_stores_nothing(registry: Registry, fields: dict) -> None:
    before = snapshot(registry.layout.root)
    with pytest.raises(InvalidCrate):
        registry.publish({**metadata("foo", "1.0.0"), **fields}, make_crate("foo", "1.0.0"))
    assert snapshot(registry.layout.root) == before


def test_add_uses_the_packaged_manifest(registry: Registry) -> None:
    crate = make_crate(
        "foo-2d",
        "1.0.0-rc.1",
        'description = "from add"\n[dependencies.serde]\nversion = "1.0"\n'
        '[dependencies.local]\nversion = "0.1"\nregistry-index = "sparse+http://registry.test/index/"\n',
    )
    entry = registry.add(crate)
    assert (entry["name"], entry["vers"]) == ("foo-2d", "1.0.0-rc.1")
    deps = {d["name"]: d for d in entry["deps"]}
    assert deps["serde"]["registry"] == CRATES_IO_INDEX and deps["serde"]["req"] == "^1.0"
    assert "registry" not in deps["local"]
    assert registry.entries("foo-2d") == [entry]
    assert [s.description for s in registry.summaries()] == ["from add"]
    with pytest.raises(Conflict):
        registry.add(crate)


def test_add_checks_foreign_registries(registry: Registry) -> None:
    crate = make_crate("foo", "1.0.0", f'[dependencies.x]\nversion = "1"\nregistry-index = "{OTHER_REGISTRY}"\n')
    with pytest.raises(Forbidden, match=OTHER_REGISTRY):
        registry.add(crate)


# -- yank, unyank, remove -------------------------------------------------------------------


def test_yank_and_unyank_flip_the_flag_with_one_commit_each(registry: Registry) -> None:
    publish(registry, "foo", "1.0.0")
    publish(registry, "foo", "1.1.0")
    commits = commit_count(registry)

    registry.set_yanked("foo", "1.1.0", True)
    assert [e["yanked"] for e in registry.entries("foo")] == [False, True]
    assert commit_count(registry) == commits + 1
    assert "Yank foo 1.1.0" in Repo(str(registry.layout.git))[registry.log.head()].message.decode()
    assert [s.max_version for s in registry.summaries()] == ["1.0.0"]

    registry.set_yanked("foo", "1.1.0", True)
    assert commit_count(registry) == commits + 1, "yanking twice changes nothing"

    registry.set_yanked("FOO", "1.1.0", False)
    assert [e["yanked"] for e in registry.entries("foo")] == [False, False]
    assert commit_count(registry) == commits + 2
    assert [s.max_version for s in registry.summaries()] == ["1.1.0"]
    assert registry.layout.index_file("foo").read_bytes() == registry.log.read(index_path("foo"))


def test_yank_finds_a_version_by_precedence(registry: Registry) -> None:
    publish(registry, "foo", "1.0.0+build.1")
    registry.set_yanked("foo", "1.0.0", True)
    assert registry.entries("foo")[0]["yanked"] is True


@pytest.mark.parametrize(("name", "version"), [("nope", "1.0.0"), ("foo", "2.0.0"), ("foo", "1.0.0-rc.1")])
def test_yank_or_remove_of_something_unknown_is_not_found(registry: Registry, name: str, version: str) -> None:
    publish(registry, "foo", "1.0.0")
    head = registry.log.head()
    for change in (
        lambda: registry.set_yanked(name, version, True),
        lambda: registry.set_yanked(name, version, False),
        lambda: registry.remove(name, version),
    ):
        with pytest.raises(NotFound) as error:
            change()
        assert error.value.status == 404
    assert registry.log.head() == head


def test_remove_deletes_the_entry_and_the_file(registry: Registry) -> None:
    publish(registry, "foo", "1.0.0")
    publish(registry, "foo", "2.0.0")
    commits = commit_count(registry)
    registry.remove("foo", "2.0.0")
    assert [e["vers"] for e in registry.entries("foo")] == ["1.0.0"]
    assert not registry.layout.crate_file("foo", "2.0.0").exists()
    assert registry.layout.crate_file("foo", "1.0.0").exists()
    assert commit_count(registry) == commits + 1
    assert [s.max_version for s in registry.summaries()] == ["1.0.0"]
    assert registry.verify() == []


def test_removing_the_last_version_deletes_the_index_file(registry: Registry) -> None:
    publish(registry, "foo", "1.0.0")
    registry.remove("Foo", "1.0.0")
    assert registry.log.read("3/f/foo") is None
    assert "3/f/foo" not in dict(registry.log.files())
    assert not (registry.layout.index / "3" / "f" / "foo").exists()
    assert not (registry.layout.crates / "foo").exists()
    assert list(registry.summaries()) == []
    assert registry.served_index_file("foo") is None
    with pytest.raises(NotFound):
        registry.entries("foo")
    assert registry.verify() == []
    publish(registry, "FOO", "1.0.0")
    assert registry.entries("foo")[0]["name"] == "FOO"


# -- search and lookup -------------------------------------------------------------------------


@pytest.fixture
def catalogue(registry: Registry) -> Registry:
    """A registry holding a few crates with short and mixed-spelling names."""
    for name, description in [
        ("a", "first letter"),
        ("ab", "two letters"),
        ("abc-def", "three"),
        ("Foo_Bar", "mixed spelling"),
        ("zzz", "sleepy widget"),
        ("widgets", "many"),
    ]:
        publish(registry, name, "1.0.0", description=description)
    return registry


def search_names(registry: Registry, query: str, limit: int = 100) -> list[str]:
    """The names `search` returns for `query`."""
    return [s.name for s in registry.search(query, limit)[1]]


def test_search_finds_one_and_two_letter_names(catalogue: Registry) -> None:
    assert search_names(catalogue, "a")[0] == "a"
    assert {"a", "ab", "abc-def"} <= set(search_names(catalogue, "a"))
    assert search_names(catalogue, "ab")[:2] == ["ab", "abc-def"]
    assert "a" not in search_names(catalogue, "ab")


@pytest.mark.parametrize("query", ["foo_bar", "foo-bar", "FOO-BAR", "Foo_Bar", "foo bar", "o-b", "BAR"])
def test_search_is_loose_about_case_and_separators(catalogue: Registry, query: str) -> None:
    assert search_names(catalogue, query)[0] == "Foo_Bar"


def test_search_matches_descriptions(catalogue: Registry) -> None:
    assert set(search_names(catalogue, "widget")) == {"zzz", "widgets"}
    assert search_names(catalogue, "widget")[0] == "widgets", "name matches come first"
    assert search_names(catalogue, "sleepy zzz") == ["zzz"]
    assert search_names(catalogue, "no-such-thing") == []


def test_search_returns_the_total_and_respects_the_limit(catalogue: Registry) -> None:
    total, found = catalogue.search("", 2)
    assert total == 6
    assert len(found) == 2
    total, found = catalogue.search("a", 1)
    assert total >= 3 and [s.name for s in found] == ["a"]
    assert catalogue.search("ab", 0) == (2, [])


@pytest.mark.parametrize("spelling", ["Foo_Bar", "foo_bar", "FOO_BAR", "foo-bar", "Foo-Bar"])
def test_index_file_resolves_any_spelling(catalogue: Registry, spelling: str) -> None:
    stored = catalogue.layout.index / "fo" / "o_" / "foo_bar"
    assert catalogue.served_index_file(spelling).data == stored.read_bytes()
    assert catalogue.entries(spelling)[0]["name"] == "Foo_Bar"


def test_index_file_of_an_unknown_crate(catalogue: Registry) -> None:
    assert catalogue.served_index_file("foobar") is None
    assert catalogue.served_index_file("nope") is None


def test_a_stored_crate_needs_the_exact_version(registry: Registry) -> None:
    publish(registry, "foo", "1.0.0")
    with pytest.raises(NotFound):
        registry.stored_crate("foo", "1.0.1")
    with pytest.raises(InvalidCrate):
        registry.stored_crate("../foo", "1.0.0")
    with pytest.raises(InvalidCrate):
        registry.stored_crate("foo", "../../1.0.0")


# -- verify and recovery -------------------------------------------------------------------------


@pytest.fixture
def published(registry: Registry) -> Registry:
    """A registry holding foo 1.0.0, foo 1.1.0 and bar 0.1.0."""
    publish(registry, "foo", "1.0.0")
    publish(registry, "foo", "1.1.0")
    publish(registry, "bar", "0.1.0")
    return registry


def test_verify_is_empty_on_a_consistent_registry(tmp_path: Path, published: Registry) -> None:
    assert Registry.create(tmp_path / "fresh", RegistryConfig()).verify() == []
    assert published.verify() == []


def test_verify_reports_a_corrupted_crate_file(published: Registry) -> None:
    published.layout.crate_file("foo", "1.1.0").write_bytes(make_crate("foo", "1.1.0", "# tampered\n"))
    assert published.verify() == ["foo 1.1.0: the crate file's checksum does not match the index"]


def test_verify_reports_a_missing_crate_file(published: Registry) -> None:
    published.layout.crate_file("bar", "0.1.0").unlink()
    assert published.verify() == ["bar 0.1.0: the crate file is missing"]


def test_verify_reports_an_orphan_crate_file(published: Registry) -> None:
    (published.layout.crates / "foo" / "foo-9.9.9.crate").write_bytes(make_crate("foo", "9.9.9"))
    (published.layout.crates / "baz").mkdir()
    (published.layout.crates / "baz" / "baz-1.0.0.crate").write_bytes(b"")
    assert published.verify() == [
        "crates/baz/baz-1.0.0.crate: no index entry refers to it",
        "crates/foo/foo-9.9.9.crate: no index entry refers to it",
    ]


def test_verify_reports_a_stray_file_among_the_crate_directories(published: Registry) -> None:
    (published.layout.crates / ".DS_Store").write_bytes(b"junk")
    assert published.verify() == ["crates/.DS_Store: no index entry refers to it"]


def test_verify_reports_an_index_file_edited_behind_gits_back(published: Registry) -> None:
    served = published.layout.index / "3" / "f" / "foo"
    served.write_bytes(served.read_bytes().replace(b'"yanked":false', b'"yanked":true', 1))
    assert published.verify() == ["index/3/f/foo: differs from the git index"]
    served.unlink()
    assert published.verify() == ["index/3/f/foo: differs from the git index"]


def test_verify_reports_a_missing_summary(published: Registry) -> None:
    published.layout.summary_file("bar").unlink()
    assert published.verify() == ["index/3/b/bar: the crate has no summary in names/"]


def interrupt_a_write(registry: Registry) -> bytes:
    """Commit foo 1.2.0 and remove bar in git only, as a writer killed before syncing `index/` would."""
    synced = registry.log.head()
    foo = parse_lines(registry.log.read("3/f/foo"))
    foo.append({**foo[-1], "vers": "1.2.0"})
    head = registry.log.commit({"3/f/foo": dump_lines(foo), "3/b/bar": None}, "interrupted")
    registry.layout.index_head.write_text(synced.decode() + "\n")
    return head


@pytest.mark.parametrize(
    "next_write",
    [
        lambda r: publish(r, "baz", "1.0.0"),
        lambda r: r.set_yanked("foo", "1.0.0", True),
        lambda r: r.set_urls(ServedUrls("http://elsewhere.test", "http://elsewhere.test", "http://elsewhere.test")),
    ],
)
def test_the_next_write_repairs_an_interrupted_one(
    published: Registry, next_write: Callable[[Registry], object]
) -> None:
    interrupted = interrupt_a_write(published)
    problems = published.verify()
    assert "the served index files are behind the git index (a write was interrupted)" in problems
    assert "index/3/f/foo: differs from the git index" in problems
    assert [e["vers"] for e in published.entries("foo")] == ["1.0.0", "1.1.0"], "readers still see the old files"

    next_write(published)

    head = published.log.head()
    assert Repo(str(published.layout.git))[head].parents == [interrupted]
    assert published.layout.index_head.read_text().strip() == head.decode()
    assert (published.layout.index / "3" / "f" / "foo").read_bytes() == published.log.read("3/f/foo")
    assert [e["vers"] for e in published.entries("foo")] == ["1.0.0", "1.1.0", "1.2.0"]
    assert not (published.layout.index / "3" / "b" / "bar").exists()
    # what is left is the simulation's doing: its git-only commit wrote no crate file and removed none
    assert published.verify() == [
        "foo 1.2.0: the crate file is missing",
        "crates/bar/bar-0.1.0.crate: no index entry refers to it",
    ]


def test_the_repair_also_serves_files_git_gained(published: Registry) -> None:
    synced = published.log.head()
    line = dump_line(
        make_entry(name="qq", vers="1.0.0", deps=[], cksum="0" * 64, features={}, links=None, rust_version=None)
    )
    published.log.commit({"2/qq": line}, "new file")
    published.layout.index_head.write_text(synced.decode())
    publish(published, "baz", "1.0.0")
    assert (published.layout.index / "2" / "qq").read_bytes() == line
    assert published.canonical_name("QQ") == "qq"


def test_an_interrupted_first_publish_does_not_let_the_crate_be_overwritten(registry: Registry) -> None:
    """A writer killed after committing a new crate but before writing its index file and summary."""
    before = registry.log.head()
    crate = make_crate("foo", "1.0.0")
    first = registry.publish(metadata("foo", "1.0.0"), crate)
    registry.layout.summary_file("foo").unlink()
    registry.layout.index_file("foo").unlink()
    registry.layout.index_head.write_text(before.decode())
    with pytest.raises(Conflict, match="already published"):
        registry.publish(metadata("foo", "1.0.0"), make_crate("foo", "1.0.0", 'description = "other bytes"\n'))
    with pytest.raises(Conflict, match="existing crate `foo`"):
        publish(registry, "FOO", "2.0.0")
    assert registry.entries("foo") == [first]
    assert registry.stored_crate("foo", "1.0.0") == crate

    publish(registry, "foo", "1.0.1")
    assert [e["vers"] for e in registry.entries("foo")] == ["1.0.0", "1.0.1"]
    assert registry.verify() == [], "the next writer completes the interrupted write"


def test_every_error_is_a_palletizer_error(registry: Registry) -> None:
    for bad in (b"", b"\x1f\x8b", b"not a crate", make_crate("foo", "1.0.0")[:40]):
        with pytest.raises(PalletizerError):
            registry.add(bad)


def test_an_interrupted_remove_is_completed_by_the_next_writer(registry: Registry) -> None:
    """A writer killed after committing the removal of a crate's last version."""
    publish(registry, "gone", "1.0.0")
    before = registry.log.head()
    registry.remove("gone", "1.0.0")
    registry.layout.index_head.write_text(before.decode())
    registry.layout.summary_file("gone").write_text('{"name": "gone", "max_version": "1.0.0"}')
    publish(registry, "other", "1.0.0")
    assert registry.canonical_name("gone") is None
    assert [s.name for s in registry.summaries()] == ["other"]
    assert registry.verify() == []


def test_publishing_a_version_again_says_whether_the_bytes_are_identical(registry: Registry) -> None:
    """So a front end can treat a retried upload (answer lost, say the server died) as a success."""
    crate = make_crate("again", "1.0.0")
    first = registry.publish(metadata("again", "1.0.0"), crate)
    head = registry.log.head()
    with pytest.raises(AlreadyPublished, match="with these exact bytes") as same:
        registry.publish(metadata("again", "1.0.0"), crate)
    assert same.value.identical and same.value.status == 409
    with pytest.raises(AlreadyPublished, match="bump the version") as other:
        registry.publish(metadata("again", "1.0.0"), make_crate("again", "1.0.0", 'description = "other"\n'))
    assert not other.value.identical
    assert registry.log.head() == head and registry.entries("again") == [first]

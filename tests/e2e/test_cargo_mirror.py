"""Real cargo with crates-io replaced by Palletizer, which mirrors a static sparse upstream made by the test."""

import shutil
from pathlib import Path

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cargo import REGISTRY, Cargo, write_crate
from tests.support.cli import run_cli
from tests.support.cratekit import pack
from tests.support.server import issue_token, palletizer, running_server
from tests.support.static_upstream import StaticUpstream, upstream_dep

REPLACE = f'\n[source.crates-io]\nreplace-with = "{REGISTRY}"\n'


def _upstream_crate(name: str, version: str, body: str, deps: dict[str, str] | None = None) -> bytes:
    manifest = f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n'
    if deps:
        manifest += "\n[dependencies]\n" + "".join(f'{d} = "{req}"\n' for d, req in deps.items())
    return pack(name, version, manifest, {"src/lib.rs": body.encode()})


def _replacing(cargo: Cargo) -> Cargo:
    with (cargo.home / "config.toml").open("a") as config:
        config.write(REPLACE)
    return cargo


def _leaf_and_middle(tmp_path: Path) -> StaticUpstream:
    """An upstream with `leaf` 1.0.0 and `mid_dle` 1.2.0, which depends on it."""
    upstream = StaticUpstream(tmp_path / "upstream")
    upstream.add("leaf", "1.0.0", _upstream_crate("leaf", "1.0.0", "pub fn leaf() -> u32 { 1 }\n"))
    upstream.add(
        "mid_dle",
        "1.2.0",
        _upstream_crate("mid_dle", "1.2.0", "pub fn mid() -> u32 { leaf::leaf() + 10 }\n", {"leaf": "1"}),
        deps=[upstream_dep("leaf", "^1")],
    )
    return upstream


def test_cargo_builds_from_the_mirror_and_then_offline(tmp_path: Path) -> None:
    upstream = _leaf_and_middle(tmp_path)
    data = tmp_path / "data"
    run_cli(data, "init", "--upstream", upstream.index_url)
    token = issue_token(data)
    try:
        with running_server(data) as url:
            index = f"sparse+{url}/index/"
            publisher = _replacing(Cargo.create(tmp_path / "publisher", index, token=token))
            lib = write_crate(
                tmp_path / "src",
                "private-lib",
                (
                    '[package]\nname = "private-lib"\nversion = "0.1.0"\nedition = "2021"\n'
                    'description = "private"\nlicense = "MIT"\n\n[dependencies]\nmid_dle = "1"\n'
                ),
                {"src/lib.rs": "pub fn private() -> u32 { mid_dle::mid() + 100 }\n"},
            )
            publisher.publish(lib)
            app = write_crate(
                tmp_path / "src",
                "app",
                (
                    '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n'
                    f'leaf = "1"\nprivate-lib = {{ version = "0.1", registry = "{REGISTRY}" }}\n'
                ),
                {"src/main.rs": 'fn main() { println!("{}", leaf::leaf() + private_lib::private()); }\n'},
            )
            builder = _replacing(Cargo.create(tmp_path / "builder", index))
            assert builder.run(app, "run", "-q").stdout.strip() == "112"
            assert upstream.requests["/crates/leaf/1.0.0/download"] == 1
            assert upstream.requests["/crates/mid_dle/1.2.0/download"] == 1
            assert (data / "mirror/crates/mid_dle/mid_dle-1.2.0.crate").is_file()

            upstream.stop()
            offline = _replacing(builder.fresh(tmp_path / "offline"))
            assert offline.run(app, "run", "-q").stdout.strip() == "112"
    finally:
        upstream.stop()


def test_cargo_sees_new_versions_refuses_corrupted_crates_and_shadowed_names(tmp_path: Path) -> None:
    upstream = StaticUpstream(tmp_path / "upstream")
    upstream.add("leaf", "1.0.0", _upstream_crate("leaf", "1.0.0", "pub fn leaf() -> u32 { 1 }\n"))
    upstream.add("shadow", "5.0.0", _upstream_crate("shadow", "5.0.0", "pub fn shadow() -> u32 { 5 }\n"))
    broken = _upstream_crate("broken", "1.0.0", "pub fn broken() {}\n")
    upstream.add("broken", "1.0.0", broken, served=broken + b"tampered")
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig(upstream=upstream.index_url, upstream_freshness=0))
    token = issue_token(data)
    try:
        with running_server(data) as url:
            index = f"sparse+{url}/index/"
            publisher = _replacing(Cargo.create(tmp_path / "publisher", index, token=token))
            shadow = write_crate(
                tmp_path / "src",
                "shadow",
                (
                    '[package]\nname = "shadow"\nversion = "0.1.0"\nedition = "2021"\ndescription = "private"\n'
                    'license = "MIT"\n'
                ),
                {"src/lib.rs": "pub fn shadow() -> u32 { 0 }\n"},
            )
            refused = publisher.run(
                shadow, "publish", "--registry", REGISTRY, "--no-verify", "--allow-dirty", check=False
            )
            assert refused.returncode != 0
            assert "exists on the upstream registry" in refused.stderr
            assert "palletizer allow-name shadow" in refused.stderr
            run_cli(data, "allow-name", "shadow")
            publisher.publish(shadow)
            upstream.requests.clear()

            builder = _replacing(Cargo.create(tmp_path / "builder", index))
            wants_upstream = write_crate(
                tmp_path / "src",
                "wants-upstream",
                (
                    '[package]\nname = "wants-upstream"\nversion = "0.1.0"\nedition = "2021"\n\n'
                    '[dependencies]\nshadow = "5"\n'
                ),
                {"src/main.rs": "fn main() {}\n"},
            )
            unresolved = builder.run(wants_upstream, "generate-lockfile", check=False)
            assert unresolved.returncode != 0 and "shadow" in unresolved.stderr
            assert upstream.requests["/index/sh/ad/shadow"] == 0

            wants_broken = write_crate(
                tmp_path / "src",
                "wants-broken",
                (
                    '[package]\nname = "wants-broken"\nversion = "0.1.0"\nedition = "2021"\n\n'
                    '[dependencies]\nbroken = "1"\n'
                ),
                {"src/main.rs": "fn main() {}\n"},
            )
            failed = builder.run(wants_broken, "fetch", check=False)
            assert failed.returncode != 0 and "502" in failed.stderr
            assert not (data / "mirror/crates/broken/broken-1.0.0.crate").exists()

            wants_leaf = write_crate(
                tmp_path / "src",
                "wants-leaf",
                ('[package]\nname = "wants-leaf"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nleaf = "1"\n'),
                {"src/main.rs": 'fn main() { println!("{}", leaf::leaf()); }\n'},
            )
            builder.run(wants_leaf, "generate-lockfile")
            assert 'name = "leaf"\nversion = "1.0.0"' in (wants_leaf / "Cargo.lock").read_text()
            upstream.add("leaf", "1.1.0", _upstream_crate("leaf", "1.1.0", "pub fn leaf() -> u32 { 11 }\n"))
            builder.run(wants_leaf, "update")
            assert builder.run(wants_leaf, "run", "-q").stdout.strip() == "11"
    finally:
        upstream.stop()


def test_mirror_fetch_of_a_lockfile_lets_it_build_with_no_upstream(tmp_path: Path) -> None:
    """`palletizer mirror fetch Cargo.lock` into an empty cache, then the upstream is gone: real cargo builds
    the lockfile `--locked` from an empty CARGO_HOME."""
    upstream = _leaf_and_middle(tmp_path)
    data = tmp_path / "data"
    run_cli(data, "init", "--upstream", upstream.index_url)
    app = write_crate(
        tmp_path / "src",
        "app",
        ('[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nmid_dle = "1"\n'),
        {"src/main.rs": 'fn main() { println!("{}", mid_dle::mid()); }\n'},
    )
    try:
        with running_server(data) as url:
            locker = _replacing(Cargo.create(tmp_path / "locker", f"sparse+{url}/index/"))
            locker.run(app, "generate-lockfile")
        assert 'name = "mid_dle"' in (app / "Cargo.lock").read_text()
        shutil.rmtree(data / "mirror")

        fetched = palletizer(data, "mirror", "fetch", str(app / "Cargo.lock"))
        assert "leaf" in fetched.stdout + fetched.stderr and "mid_dle" in fetched.stdout + fetched.stderr
        assert (data / "mirror/crates/leaf/leaf-1.0.0.crate").is_file()
        assert (data / "mirror/crates/mid_dle/mid_dle-1.2.0.crate").is_file()
        upstream.stop()

        with running_server(data) as url:
            builder = _replacing(Cargo.create(tmp_path / "builder", f"sparse+{url}/index/"))
            assert builder.run(app, "run", "-q", "--locked").stdout.strip() == "11"
        run_cli(data, "verify")
    finally:
        upstream.stop()

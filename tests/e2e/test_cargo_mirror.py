"""Real cargo with crates-io replaced by Palletizer, which mirrors a static sparse upstream made by the test."""

from pathlib import Path

from tests.cratekit import pack
from tests.e2e.cargo import REGISTRY, Cargo, write_crate
from tests.server import issue_token, palletizer, running_server
from tests.static_upstream import StaticUpstream, upstream_dep

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


def test_cargo_builds_from_the_mirror_and_then_offline(tmp_path: Path) -> None:
    upstream = StaticUpstream(tmp_path / "upstream")
    upstream.add("leaf", "1.0.0", _upstream_crate("leaf", "1.0.0", "pub fn leaf() -> u32 { 1 }\n"))
    upstream.add("mid_dle", "1.2.0", _upstream_crate("mid_dle", "1.2.0", "pub fn mid() -> u32 { leaf::leaf() + 10 }\n",
                                                     {"leaf": "1"}), deps=[upstream_dep("leaf", "^1")])
    data = tmp_path / "data"
    palletizer(data, "init", "--upstream", upstream.index_url)
    token = issue_token(data)
    try:
        with running_server(data) as url:
            index = f"sparse+{url}/index/"
            publisher = _replacing(Cargo.create(tmp_path / "publisher", index, token=token))
            lib = write_crate(tmp_path / "src", "private-lib", (
                '[package]\nname = "private-lib"\nversion = "0.1.0"\nedition = "2021"\n'
                'description = "private"\nlicense = "MIT"\n\n[dependencies]\nmid_dle = "1"\n'),
                {"src/lib.rs": "pub fn private() -> u32 { mid_dle::mid() + 100 }\n"})
            publisher.publish(lib)
            app = write_crate(tmp_path / "src", "app", (
                '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n'
                f'leaf = "1"\nprivate-lib = {{ version = "0.1", registry = "{REGISTRY}" }}\n'),
                {"src/main.rs": 'fn main() { println!("{}", leaf::leaf() + private_lib::private()); }\n'})
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

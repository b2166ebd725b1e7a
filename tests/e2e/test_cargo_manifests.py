"""Real cargo publishes what it packages: the packaged Cargo.toml is checked against the metadata.

A workspace member inheriting its package fields and dependencies, with a dependency from another
(allowed) registry, a renamed one without default features, optional ones with and without features,
target-specific normal and build-dependencies, a path-only dev-dependency (which cargo strips) and
features naming optional dependencies, is published by `cargo publish` and accepted as it is.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cargo import REGISTRY, Cargo, write_crate
from tests.support.server import issue_token, running_server

LIB = '[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\nlicense = "MIT"\ndescription = "d"\n'
WORKSPACE = (
    '[workspace]\nmembers = ["member", "helper"]\nresolver = "2"\n\n'
    '[workspace.package]\nversion = "1.2.3"\nedition = "2021"\nlicense = "MIT"\ndescription = "a member"\n\n'
    '[workspace.dependencies]\next = { version = "0.3", registry = "other", features = ["f"] }\n'
    f'ab = {{ version = "0.1", registry = "{REGISTRY}" }}\n'
)
MEMBER = (
    '[package]\nname = "member"\nversion.workspace = true\nedition.workspace = true\n'
    "license.workspace = true\ndescription.workspace = true\n\n"
    "[dependencies]\next = { workspace = true, optional = true }\nab = { workspace = true }\n"
    f'renamed = {{ version = "0.1", package = "ab", registry = "{REGISTRY}", default-features = false }}\n'
    f'x = {{ version = "=0.1.0", registry = "{REGISTRY}", optional = true }}\n\n'
    f'[target."cfg(windows)".build-dependencies]\nabc = {{ version = ">= 0.1, < 0.2", registry = "{REGISTRY}" }}\n\n'
    f'[target.\'cfg(unix)\'.dependencies]\nabc = {{ version = "0.1.0", registry = "{REGISTRY}" }}\n\n'
    '[dev-dependencies]\nhelper = { path = "../helper" }\n'
    f'x = {{ version = "0.1", registry = "{REGISTRY}", features = [] }}\n\n'
    '[features]\nall = ["ext/f", "x"]\nfancy = ["dep:ext"]\n'
)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, Cargo, Path]]:
    """`ext` published on an `other` registry; `ab`, `abc`, `x` and then `member` published with cargo
    on a registry allowing `other`."""
    root = tmp_path_factory.mktemp("manifests")
    other_data = root / "other"
    Registry.create(other_data, RegistryConfig())
    with running_server(other_data) as other_url:
        other_index = f"sparse+{other_url}/index/"
        other = Cargo.create(root / "other-publisher", other_index, token=issue_token(other_data))
        ext = write_crate(
            root / "src", "ext", LIB.format(name="ext", version="0.3.0") + "[features]\nf = []\n", {"src/lib.rs": ""}
        )
        other.publish(ext)
        data = root / "data"
        Registry.create(data, RegistryConfig(allowed_registries=[other_index]))
        with running_server(data) as url:
            cargo = Cargo.create(root / "publisher", f"sparse+{url}/index/", token=issue_token(data))
            config = cargo.home / "config.toml"
            config.write_text(config.read_text() + f'\n[registries.other]\nindex = "{other_index}"\n')
            for name in ("ab", "abc", "x"):
                cargo.publish(
                    write_crate(root / "src", name, LIB.format(name=name, version="0.1.0"), {"src/lib.rs": ""})
                )
            workspace = write_crate(root / "src", "ws", WORKSPACE, {})
            write_crate(
                workspace,
                "helper",
                '[package]\nname = "helper"\nversion = "0.0.1"\nedition = "2021"\npublish = false\n',
                {"src/lib.rs": ""},
            )
            member = write_crate(workspace, "member", MEMBER, {"src/lib.rs": ""})
            cargo.publish(member)
            yield Registry(data), cargo, root


def test_cargo_publishes_a_workspace_member_with_every_kind_of_dependency(
    published: tuple[Registry, Cargo, Path],
) -> None:
    registry, _, _ = published
    [entry] = registry.entries("member")
    deps = {(d["name"], d["kind"], d["target"]): d for d in entry["deps"]}
    assert set(deps) == {
        ("ab", "normal", None),
        ("ext", "normal", None),
        ("renamed", "normal", None),
        ("x", "normal", None),
        ("abc", "build", "cfg(windows)"),
        ("abc", "normal", "cfg(unix)"),
        ("x", "dev", None),
    }
    assert deps[("ext", "normal", None)]["registry"].endswith("/index/")
    assert deps[("renamed", "normal", None)]["package"] == "ab"
    assert deps[("renamed", "normal", None)]["default_features"] is False
    assert entry["features"] == {"all": ["ext/f", "x"]} and entry["features2"] == {"fancy": ["dep:ext"]}
    assert registry.verify() == []

"""Real cargo over `sparse+https://` to palletizer-all's TLS listener, trusting a throwaway CA."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cargo import Cargo, write_crate
from tests.support.graph import reg
from tests.support.listening import palletizer_all, write_config
from tests.support.server import free_port, issue_token, running_process
from tests.support.tls import CertificateAuthority


@dataclass
class TrustingCargo(Cargo):
    """Cargo that trusts the certificate authority in `cainfo` (CARGO_HTTP_CAINFO)."""

    cainfo: Path = Path()

    def env(self) -> dict[str, str]:
        return {**super().env(), "CARGO_HTTP_CAINFO": str(self.cainfo)}


@dataclass
class TlsRegistry:
    """A registry served over TLS with a certificate of `ca`, and over TLS with another CA's certificate."""

    root: Path
    ca: Path
    port: int
    foreign_port: int
    token: str

    def cargo(self, name: str, port: int, token: str | None = None) -> TrustingCargo:
        cargo = Cargo.create(self.root / name, f"sparse+https://127.0.0.1:{port}/index/", token=token)
        return TrustingCargo(**vars(cargo), cainfo=self.ca)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRegistry]:
    root = tmp_path_factory.mktemp("cargo-tls")
    ca = CertificateAuthority(root / "ca", "Palletizer test CA")
    cert = ca.issue("server")
    foreign = CertificateAuthority(root / "foreign-ca", "Some other CA").issue("foreign")
    data = root / "data"
    Registry.create(data, RegistryConfig())
    served = TlsRegistry(root, ca.pem, free_port(), free_port(), issue_token(data))
    plain = free_port()
    config = write_config(
        root / "server.yaml",
        [
            {
                "address": f"127.0.0.1:{served.port}",
                "tls": {"certificate": str(cert.certificate), "key": str(cert.key)},
            },
            {"address": f"127.0.0.1:{plain}"},
            {
                "address": f"127.0.0.1:{served.foreign_port}",
                "tls": {"certificate": str(foreign.certificate), "key": str(foreign.key)},
            },
        ],
    )
    with running_process(palletizer_all(data, config), f"http://127.0.0.1:{plain}/index/config.json", root / "log"):
        yield served


def _lib(root: Path, name: str, body: str, deps: str = "") -> Path:
    toml = (
        f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\nlicense = "MIT"\n'
        f'description = "{name} over TLS"\n\n[dependencies]\n{deps}'
    )
    return write_crate(root, name, toml, {"src/lib.rs": body})


def _app(root: Path, name: str, deps: str) -> Path:
    toml = f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\npublish = false\n\n[dependencies]\n{deps}'
    return write_crate(root, name, toml, {"src/main.rs": 'fn main() { println!("{}", tls_top::value()); }\n'})


def test_cargo_publishes_and_builds_over_https(served: TlsRegistry) -> None:
    cargo = served.cargo("publisher", served.port, served.token)
    src = served.root / "src"
    cargo.publish(_lib(src, "tls_base", "pub fn base() -> u32 { 40 }\n"))
    cargo.publish(_lib(src, "tls_top", "pub fn value() -> u32 { tls_base::base() + 2 }\n", reg("tls_base", "0.1")))
    app = _app(served.root / "apps", "tls_app", reg("tls_top", "0.1"))
    fresh = served.cargo("builder", served.port)
    assert fresh.run(app, "run", "-q").stdout.strip() == "42"
    assert 'name = "tls_base"' in (app / "Cargo.lock").read_text()


def test_cargo_rejects_a_certificate_from_another_ca(served: TlsRegistry) -> None:
    app = _app(served.root / "apps", "foreign_app", reg("tls_top", "0.1"))
    result = served.cargo("foreign", served.foreign_port).run(app, "generate-lockfile", check=False)
    assert result.returncode != 0
    assert "SSL certificate problem" in result.stderr, result.stderr

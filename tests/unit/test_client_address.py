"""Who the client is: the peer, or what a trusted front says in X-Forwarded-For; and the setting's checks."""

from pathlib import Path

import pytest

from palletizer_lib.domain.errors import BadRequest
from palletizer_lib.settings.client_address import TrustedProxies
from palletizer_lib.settings.config import RegistryConfig

FRONTS = TrustedProxies(["10.0.0.5", "192.168.1.0/24"])


def test_with_no_trusted_front_the_header_is_never_read() -> None:
    assert TrustedProxies().client("10.0.0.5", "1.2.3.4") == "10.0.0.5"
    assert not TrustedProxies().trusts("10.0.0.5")


def test_an_untrusted_peer_cannot_name_another_client() -> None:
    assert FRONTS.client("10.0.0.6", "1.2.3.4") == "10.0.0.6"


def test_a_trusted_front_names_the_client() -> None:
    assert FRONTS.client("10.0.0.5", "1.2.3.4") == "1.2.3.4"
    assert FRONTS.client("10.0.0.5", None) == "10.0.0.5"
    assert FRONTS.client("::ffff:10.0.0.5", " 1.2.3.4 ") == "1.2.3.4"


def test_the_client_is_the_rightmost_address_no_trusted_front_wrote() -> None:
    # what the client sent comes first; each trusted front appended the peer it saw
    assert FRONTS.client("10.0.0.5", "6.6.6.6, 1.2.3.4, 192.168.1.7") == "1.2.3.4"
    assert FRONTS.client("10.0.0.5", "192.168.1.7, 192.168.1.8") == "192.168.1.7"


def test_garbage_in_the_header_leaves_the_last_trusted_hop() -> None:
    assert FRONTS.client("10.0.0.5", "1.2.3.4, not-an-address") == "10.0.0.5"
    assert FRONTS.client("10.0.0.5", "nope, 192.168.1.7") == "192.168.1.7"


def test_config_checks_and_normalises_trusted_proxies(tmp_path: Path) -> None:
    config = RegistryConfig(trusted_proxies=["10.0.0.5", "10.1.2.3/16"]).checked(tmp_path / "config.yaml")
    assert config.trusted_proxies == ["10.0.0.5/32", "10.1.0.0/16"]
    for bad in (["10.0.0.0/33"], ["front"], "10.0.0.5"):
        with pytest.raises(BadRequest, match="trusted_proxies"):
            RegistryConfig(trusted_proxies=bad).checked(tmp_path / "config.yaml")
    config.save(tmp_path / "config.yaml")
    assert RegistryConfig.load(tmp_path / "config.yaml").trusted_proxies == ["10.0.0.5/32", "10.1.0.0/16"]
    RegistryConfig().save(tmp_path / "empty.yaml")
    assert "trusted_proxies" not in (tmp_path / "empty.yaml").read_text()

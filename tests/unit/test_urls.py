"""Where cargo is sent: the served URLs, `config.json` built from them, and this registry's own index URLs."""

import json
from pathlib import Path

import pytest
from dulwich.repo import Repo

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.urls import ServedUrls, config_json, from_config_json
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cratekit import make_crate

LISTEN = "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("config", "arguments", "expected"),
    [
        (RegistryConfig(), (None, None, None), ServedUrls(LISTEN, LISTEN, LISTEN)),
        (
            RegistryConfig(public_url="http://pub.test/"),
            (None, None, None),
            ServedUrls("http://pub.test", "http://pub.test", "http://pub.test"),
        ),
        (
            RegistryConfig(public_url="http://pub.test", api_url="http://api.test"),
            (None, None, None),
            ServedUrls("http://pub.test", "http://api.test", "http://pub.test"),
        ),
        (
            RegistryConfig(public_url="http://pub.test", api_url="http://api.test", files_url="http://files.test"),
            ("http://p2.test", None, "http://f2.test/"),
            ServedUrls("http://p2.test", "http://api.test", "http://f2.test"),
        ),
        (RegistryConfig(), (None, "http://api.test:1", None), ServedUrls(LISTEN, "http://api.test:1", LISTEN)),
    ],
)
def test_each_url_comes_from_the_argument_then_the_file_then_the_public_url(
    config: RegistryConfig, arguments: tuple, expected: ServedUrls
) -> None:
    assert config.served_urls(LISTEN, *arguments) == expected


def test_api_and_files_urls_are_kept_in_config_yaml(tmp_path: Path) -> None:
    config = RegistryConfig(public_url="http://pub.test", api_url="http://api.test", files_url="http://files.test")
    Registry.create(tmp_path / "data", config)
    assert Registry(tmp_path / "data").config == config


def test_config_json_sends_cargo_to_the_api_and_files_services(registry: Registry) -> None:
    registry.set_urls(ServedUrls("http://index.test:1", "http://api.test:2", "http://files.test:3"))
    served = json.loads((registry.layout.index / "config.json").read_bytes())
    assert served == {
        "dl": "http://files.test:3/files/{crate}/{crate}-{version}.crate",
        "api": "http://api.test:2",
        "public-url": "http://index.test:1",
    }
    assert registry.log.read("config.json") == (registry.layout.index / "config.json").read_bytes()
    message = Repo(str(registry.layout.git))[registry.log.head()].message
    assert message == (
        b"Serve the registry at http://index.test:1 (web API at http://api.test:2, downloads at http://files.test:3)\n"
    )


def test_unchanged_urls_make_no_commit(registry: Registry) -> None:
    urls = ServedUrls("http://index.test", "http://api.test", "http://files.test")
    registry.set_urls(urls)
    head = registry.log.head()
    registry.set_urls(urls)
    assert registry.log.head() == head
    registry.set_urls(ServedUrls("http://index.test", "http://api.test", "http://other.test"))
    assert registry.log.head() != head


def test_own_index_urls_follow_the_public_url_not_the_api(registry: Registry) -> None:
    registry.set_urls(ServedUrls("http://index.test:1", "http://api.test:2", "http://files.test:3"))
    assert registry.own_index_urls() == ["sparse+http://index.test:1/index/", "http://index.test:1/git/index"]


def test_own_index_urls_of_a_config_json_from_before_the_split(registry: Registry) -> None:
    old = b'{"dl": "http://old.test/files/{crate}/{crate}-{version}.crate", "api": "http://old.test"}\n'
    registry.log.commit({"config.json": old}, "written by an older version")
    assert Registry(registry.layout.root).own_index_urls() == [
        "sparse+http://old.test/index/",
        "http://old.test/git/index",
    ]


def test_add_treats_dependencies_on_the_public_url_as_this_registrys(registry: Registry) -> None:
    registry.set_urls(ServedUrls("http://index.test:1", "http://api.test:2", "http://files.test:3"))
    ours = '[dependencies]\nmine = { version = "1", registry-index = "sparse+http://index.test:1/index/" }\n'
    entry = registry.add(make_crate("user", "1.0.0", ours))
    assert [(d["name"], d.get("registry")) for d in entry["deps"]] == [("mine", None)]


def test_the_shapes_of_the_served_urls() -> None:
    urls = ServedUrls("http://index.test", "http://api.test", "http://files.test")
    assert urls.dl == "http://files.test/files/{crate}/{crate}-{version}.crate"
    assert urls.login_url == "http://api.test/me"
    assert urls.index_urls() == ["sparse+http://index.test/index/", "http://index.test/git/index"]
    assert from_config_json(config_json(urls, auth_required=True)) == urls


@pytest.mark.parametrize("content", [None, b"", b"not json", b"[]", b'{"dl": "http://x/{crate}"}'])
def test_no_served_urls_from_a_missing_or_unusable_config_json(content: bytes | None) -> None:
    assert from_config_json(content) is None

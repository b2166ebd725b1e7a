"""`palletizer-all`'s app in process, driven by Falcon's `TestClient`: no server, no socket.

`build_app` is the one place that composes the app the way the server does at start-up; everything else
reaches the registry through HTTP only (`InProcess`, the same methods as a real server's `Live`).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import falcon
import falcon.testing

from palletizer_lib.core.composition import Site, compose
from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from palletizer_services import all as all_services
from tests.support.handle import Handle
from tests.support.server import issue_token

URL = f"http://{falcon.testing.helpers.DEFAULT_HOST}"


def build_app(registry: Registry, url: str | None = URL) -> tuple[falcon.App, Site]:
    """The app `palletizer-all` serves over `registry`, and the parts it was built on (its SQLite stores, to
    close). With `url`, `config.json` first points at it, as the server's start-up does; with None it stays as
    the registry has it."""
    if url is not None:
        registry.set_urls(registry.config.served_urls(url))
    site = compose(registry)
    return all_services.create(site), site


@dataclass
class InProcess(Handle):
    """A registry's app in process (see `Handle`): answers are `falcon.testing.Result` (`.json` is a property).
    Cookies a response sets are kept and sent back, as a browser (or a `requests.Session`) does."""

    BODY_KEYWORD = "body"
    client: falcon.testing.TestClient | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, **kwargs: Any) -> falcon.testing.Result:
        result = self.client.simulate_request(
            method, path, cookies={**self.cookies, **kwargs.pop("cookies", {})}, **kwargs
        )
        now = datetime.now(UTC)
        for name, cookie in result.cookies.items():
            if cookie.expires is not None and cookie.expires <= now or cookie.max_age == 0:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie.value
        return result

    def session(self) -> "InProcess":
        """Another client of the same app, with no cookies yet."""
        return InProcess(self.url, self.data, self.token, self._counter, client=self.client)


def in_process(root: Path, config: RegistryConfig) -> Iterator[InProcess]:
    """A fresh registry with `config` in `root/data`, its app in process and an admin token (for a fixture)."""
    data = root / "data"
    registry = Registry.create(data, config)
    token = issue_token(data)
    app, site = build_app(registry)
    try:
        yield InProcess(URL, data, token, client=falcon.testing.TestClient(app))
    finally:
        site.catalog.download_counter.close()

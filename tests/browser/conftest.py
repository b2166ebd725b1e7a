"""Fixtures for the browser tests: Debian's chromium driven by Playwright, over real `palletizer-all` servers
holding the showcase crates (one open, one with `auth_required`).

Run by `make test-browser` only (pyproject's norecursedirs keeps them out of `make test`).
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from palletizer_lib.settings.config import RegistryConfig
from tests.support.http import Live, serve_live
from tests.support.showcase import publish_showcase

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000
ROOT = Path(__file__).resolve().parents[2]
# Test artifacts; `make screenshots` points this at docs/screenshots/ to refresh the README's pictures.
SCREENSHOTS = ROOT / os.environ.get("PALLETIZER_SCREENSHOTS", "build/screenshots")


@dataclass(frozen=True)
class Viewport:
    """A screen to look at the pages on."""

    name: str
    width: int
    height: int
    mobile: bool


VIEWPORTS = [Viewport("desktop", 1280, 860, False), Viewport("phone", 390, 844, True)]


def _serve(tmp_path_factory: pytest.TempPathFactory, config: RegistryConfig) -> Iterator[Live]:
    for live in serve_live(tmp_path_factory, config):
        publish_showcase(live)
        yield live


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """An open registry with the showcase crates."""
    yield from _serve(tmp_path_factory, RegistryConfig())


@pytest.fixture(scope="session")
def private_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A registry with `auth_required` and the showcase crates."""
    yield from _serve(tmp_path_factory, RegistryConfig(auth_required=True))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless (never a browser build of Playwright's own)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(params=VIEWPORTS, ids=[v.name for v in VIEWPORTS])
def viewport(request: pytest.FixtureRequest) -> Viewport:
    return request.param


def open_page(browser: Browser, viewport: Viewport, bypass_csp: bool = False) -> Page:
    """A fresh page (own cookies) in a `viewport`-sized window."""
    context = browser.new_context(
        viewport={"width": viewport.width, "height": viewport.height},
        device_scale_factor=2 if viewport.mobile else 1,
        is_mobile=viewport.mobile,
        has_touch=viewport.mobile,
        bypass_csp=bypass_csp,
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


@pytest.fixture
def page(browser: Browser, viewport: Viewport) -> Iterator[Page]:
    page = open_page(browser, viewport)
    yield page
    page.context.close()


def screenshot(page: Page, name: str, viewport: Viewport) -> Path:
    """Save the whole page as SCREENSHOTS/NAME.png (NAME-phone.png on a phone)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (f"{name}-phone.png" if viewport.mobile else f"{name}.png")
    page.screenshot(path=str(path), full_page=True)
    return path

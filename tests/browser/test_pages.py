"""The web pages in a real browser, on a desktop and a phone screen; screenshots go to build/screenshots/."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Viewport, open_page, screenshot
from tests.support.http import Live
from tests.support.showcase import CORE, CORE_VERSIONS, EVIL, FORKLIFT, YANKED


def fits_the_screen(page: Page, viewport: Viewport) -> None:
    """Nothing is wider than the screen: no sideways scrolling on a phone."""
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport.width


def test_search_finds_a_published_crate(site: Live, page: Page, viewport: Viewport) -> None:
    page.goto(site.url + "/")
    expect(page.locator(".crate-name")).to_have_text([FORKLIFT, EVIL, CORE, "pallet_macros"])
    expect(page.locator(".crate-card").nth(2)).to_contain_text("2 downloads")
    fits_the_screen(page, viewport)
    screenshot(page, "crate-list", viewport)

    page.get_by_placeholder("Search crates").fill("warehouses")
    page.get_by_placeholder("Search crates").press("Enter")
    page.wait_for_url(re.compile(r"/\?q=warehouses$"))
    expect(page.locator(".crate-name")).to_have_text([FORKLIFT])
    page.get_by_role("link", name=FORKLIFT, exact=True).click()
    expect(page.locator("h1").first).to_contain_text(f"{FORKLIFT} 1.2.0")


def test_the_crate_page_shows_its_readme_and_versions(site: Live, page: Page, viewport: Viewport) -> None:
    page.goto(f"{site.url}/crates/{CORE}")
    readme = page.locator(".readme")
    expect(readme.locator("h1")).to_have_text(CORE)
    expect(readme.locator("table th").first).to_have_text("feature")
    expect(readme.locator("pre code")).to_contain_text("Pallet::new()")
    versions = page.locator(".version-list li")
    expect(versions.locator("a")).to_have_text(list(reversed(CORE_VERSIONS)))
    expect(page.locator("#cargo-toml")).to_have_text(f'{CORE} = {{ version = "0.3.0", registry = "palletizer" }}')
    expect(page.locator(".dependencies a")).to_have_text(["pallet_macros"])
    fits_the_screen(page, viewport)
    screenshot(page, "crate-page", viewport)

    page.locator(".dependencies a").click()
    expect(page.locator("h1").first).to_contain_text("pallet_macros 0.1.0")


def test_a_yanked_version_is_marked(site: Live, page: Page, viewport: Viewport) -> None:
    page.goto(f"{site.url}/crates/{CORE}")
    yanked = page.locator(".version-list li.yanked")
    expect(yanked).to_have_count(1)
    expect(yanked.locator("a")).to_have_text(YANKED)
    expect(yanked.locator(".badge")).to_have_text("yanked")
    expect(yanked.locator(".badge")).to_be_visible()
    assert "line-through" in yanked.locator("a").evaluate("a => getComputedStyle(a).textDecorationLine")

    yanked.locator("a").click()
    expect(page.locator("h1 .badge.yanked")).to_be_visible()
    expect(page.locator(".readme h1")).to_have_text(f"{CORE} {YANKED}")


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "sanitiser-alone"])
def test_a_readme_with_script_does_not_run_it(
    site: Live, browser: Browser, viewport: Viewport, bypass_csp: bool
) -> None:
    """Nothing from the README runs, even with the Content-Security-Policy switched off (the sanitiser alone)."""
    page = open_page(browser, viewport, bypass_csp=bypass_csp)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(f"{site.url}/crates/{EVIL}")
        expect(page.locator(".readme")).to_contain_text("Only this text should remain.")
        page.get_by_text("hover me").hover()
        for name in ("a script link", "mixed case", "encoded"):
            page.get_by_text(name, exact=True).click()  # links the sanitiser left without a target
        page.wait_for_timeout(300)
        assert page.evaluate("typeof window.pwned") == "undefined"
        assert page.title() == f"{EVIL} 0.1.0 · Palletizer"
        assert page.url == f"{site.url}/crates/{EVIL}"
        assert dialogs == []
        assert page.locator(".readme script, .readme iframe, .readme svg, .readme [onerror]").count() == 0
        if bypass_csp:  # the control: scripts can run in this page, so nothing above was stopped by the policy
            page.add_script_tag(content="window.control = true")
            assert page.evaluate("window.control") is True
    finally:
        page.context.close()


def test_login_opens_a_private_registry(private_site: Live, page: Page, viewport: Viewport) -> None:
    page.goto(f"{private_site.url}/crates/{CORE}")
    page.wait_for_url(re.compile(r"/login\?next="))
    expect(page.locator("h1")).to_have_text("This registry needs a token")
    fits_the_screen(page, viewport)
    screenshot(page, "login", viewport)

    page.get_by_label("Token").fill("pltz_wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".error")).to_contain_text("not valid")

    page.get_by_label("Token").fill(private_site.token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{private_site.url}/crates/{CORE}")
    expect(page.locator(".readme h1")).to_have_text(CORE)
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script could read the token

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.goto(f"{private_site.url}/")
    page.wait_for_url(re.compile(r"/login\?next="))

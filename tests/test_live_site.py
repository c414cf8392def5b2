from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # Playwright is imported when a browser is started (see tests/conftest.py)
    from playwright.sync_api import Page


@pytest.mark.browser
def test_the_live_site_serves_the_home_page_to_chromium(live_site: str, page: "Page") -> None:
    page.goto(live_site + "/")
    assert page.title() == "Wireflow"
    assert page.get_by_role("link", name="Create an account").is_visible()

import pytest


@pytest.mark.browser
def test_the_live_site_serves_the_home_page_to_chromium(live_site, page):
    page.goto(live_site + "/")
    assert page.title() == "Wireflow"
    assert page.get_by_role("link", name="Create an account").is_visible()

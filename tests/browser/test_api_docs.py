"""The interactive API docs (Swagger UI at /api/v1/docs) in Chromium: drawn from the site's own
static files, so that a self-hosted install without internet access has them too."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

from accounts.models import User
from accounts.services import api_key_create

from .editor_page import open_page


@pytest.mark.browser
def test_the_api_docs_render_every_operation_from_the_sites_own_files(live_site: str,
                                                                      page: Page) -> None:
    requested: list[str] = []
    failures: list[str] = []

    def note(request: Request) -> None:
        requested.append(request.url)

    page.on("request", note)
    page.on("requestfailed", lambda request: failures.append(request.url))
    page.on("pageerror", lambda error: failures.append(str(error)))
    page.goto(f"{live_site}/api/v1/docs")
    # Swagger UI drew the operations it read from the site's OpenAPI document.
    execute = page.locator(".opblock-summary-path",
                           has_text="/api/v1/workflows/{workflow_id}/execute")
    expect(execute.first).to_be_visible()
    assert page.locator(".opblock").count() > 50
    origin = urlsplit(live_site).netloc
    assert {urlsplit(url).netloc for url in requested if url.startswith("http")} == {origin}
    assert failures == []


@pytest.mark.browser
def test_a_key_given_to_the_docs_authorize_button_runs_a_call_from_them(
        live_site: str, page: Page, owner: User) -> None:
    assert owner.current_team is not None
    secret = api_key_create(user=owner, team=owner.current_team, name="docs").secret
    page.goto(f"{live_site}/api/v1/docs")
    page.locator("button.authorize").first.click()
    dialog = page.locator(".dialog-ux")
    dialog.locator("input").first.fill(secret)
    dialog.locator("button.authorize").click()
    dialog.locator("button.btn-done, button.close-modal").first.click()

    team = page.locator(".opblock-get").filter(
        has=page.locator(".opblock-summary-path", has_text="/api/v1/team")).filter(
        has_not=page.locator(".opblock-summary-path", has_text="/api/v1/team/")).first
    team.locator(".opblock-summary").click()
    team.locator("button.try-out__btn").click()
    team.locator("button.execute").click()
    answer = team.locator(".live-responses-table tbody tr.response")
    expect(answer.locator(".response-col_status")).to_have_text("200")
    expect(answer.locator(".microlight").first).to_contain_text(owner.current_team.name)


@pytest.mark.browser
def test_signed_in_the_docs_try_a_write_with_the_browsers_session(live_site: str, page: Page,
                                                                   owner: User) -> None:
    """No key: the session's cookie and the page's CSRF token carry the call."""
    open_page(page, live_site, owner, "/api/v1/docs")
    lint = page.locator(".opblock-post").filter(
        has=page.locator(".opblock-summary-path", has_text="/api/v1/workflows/lint")).first
    lint.locator(".opblock-summary").click()
    lint.locator("button.try-out__btn").click()
    lint.locator("textarea.body-param__text").fill('{"nodes": [], "edges": []}')
    lint.locator("button.execute").click()
    answer = lint.locator(".live-responses-table tbody tr.response")
    expect(answer.locator(".response-col_status")).to_have_text("200")
    expect(answer.locator(".microlight").first).to_contain_text('"ok"')

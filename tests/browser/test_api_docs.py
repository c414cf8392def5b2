"""The interactive API docs (Swagger UI at /api/v1/docs) in Chromium: drawn from the site's own
static files, so that a self-hosted install without internet access has them too."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect


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

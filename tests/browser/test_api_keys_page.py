"""Settings > API Keys in Chromium: sign up, create a key, see it once, copy it, revoke it."""

import re

import pytest
from django.test import RequestFactory
from playwright.sync_api import Page, expect

from accounts import keys
from accounts.auth import ApiAuth
from accounts.models import ApiKey, User
from wireflow_site.errors import Unauthenticated

KEY_FORMAT = re.compile(r"^sk-wf_[0-9A-Za-z]{38}$")


def sign_up(page: Page, site: str, email: str) -> None:
    # next= keeps the test off /workflows/ (another app's page) right after signing up.
    page.goto(f"{site}/accounts/signup/?next=/settings/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill("a-long-new-pass")
    page.get_by_label("Password (again)").fill("a-long-new-pass")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{site}/settings/")


def authenticate(secret: str) -> None:
    request = RequestFactory().get("/api/v1/nodes", headers={"Authorization": f"Bearer {secret}"})
    ApiAuth()(request)


@pytest.mark.browser
def test_a_new_user_creates_a_key_sees_it_once_and_revokes_it(live_site: str, page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_site)
    sign_up(page, live_site, "chromium@example.com")
    assert User.objects.get(email="chromium@example.com").current_team is not None

    page.get_by_role("navigation", name="Main").get_by_role("link", name="API Keys").click()
    page.wait_for_url(f"{live_site}/settings/api-keys/")
    page.get_by_label("Name").fill("From Chromium")
    page.get_by_test_id("create-key").click()

    secret = page.get_by_test_id("api-key-secret").inner_text().strip()
    assert KEY_FORMAT.match(secret)
    assert keys.is_well_formed(secret)
    authenticate(secret)  # the shown key works

    page.get_by_test_id("copy-key").click()
    expect(page.get_by_test_id("copy-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    page.reload()
    assert page.get_by_test_id("api-key-secret").count() == 0
    assert secret not in page.content()
    api_key = ApiKey.objects.get(user__email="chromium@example.com")
    assert page.get_by_test_id(f"key-masked-{api_key.pk}").inner_text() == \
        f"sk-wf_…{secret[-4:]}"
    assert page.get_by_test_id(f"status-{api_key.pk}").inner_text() == "Active"

    page.get_by_test_id(f"revoke-{api_key.pk}").click()
    page.get_by_test_id("confirm-revoke").click()
    page.wait_for_url(f"{live_site}/settings/api-keys/")

    expect(page.get_by_test_id(f"status-{api_key.pk}")).to_have_text("Revoked")
    assert page.get_by_test_id(f"revoke-{api_key.pk}").count() == 0
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    with pytest.raises(Unauthenticated) as refused:
        authenticate(secret)
    assert refused.value.code == "invalid_api_key"

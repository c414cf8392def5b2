from django.test import RequestFactory

from accounts.auth import ApiAuth, Caller


def authenticate(secret: str) -> Caller:
    """Run a request carrying this key through the API's authentication."""
    request = RequestFactory().get("/api/v1/nodes", headers={"Authorization": f"Bearer {secret}"})
    return ApiAuth()(request)

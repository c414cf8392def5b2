from django.test import Client, RequestFactory

from accounts.auth import ApiAuth, Caller
from accounts.models import User


def logged_in(user: User) -> Client:
    """A Django test client with `user` logged in (a browser session)."""
    client = Client()
    client.force_login(user)
    return client


def authenticate(secret: str) -> Caller:
    """Run a request carrying this key through the API's authentication."""
    request = RequestFactory().get("/api/v1/nodes", headers={"Authorization": f"Bearer {secret}"})
    return ApiAuth()(request)

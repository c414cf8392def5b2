"""Team provider keys (bring your own): set, remove, and the per-provider overview.

Services write (`provider_key_set`, `provider_key_delete`), `provider_overview` reads. The key
is sealed before it reaches the database and is never returned: only its last 4 characters.
Where a node's key comes from at run time is executions/providers/credentials.py's business.
"""

from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.utils import timezone

from executions import ssrf
from wireflow_site.errors import NotFound, Unprocessable
from workflows.secretbox import reseal_provider_key, seal_provider_key

from .models import Provider, ProviderKey, Team, User
from .permissions import Action, require_role

PROVIDERS: tuple[str, ...] = tuple(Provider.values)
LABELS = {"fal": "fal.ai", "openai": "OpenAI", "anthropic": "Anthropic",
          "replicate": "Replicate", "stability": "Stability AI"}
# The setting holding the platform's key of each provider (read from the environment).
PLATFORM_SETTINGS = {"fal": "FAL_KEY", "openai": "OPENAI_API_KEY",
                     "anthropic": "ANTHROPIC_API_KEY", "replicate": "REPLICATE_API_TOKEN",
                     "stability": "STABILITY_API_KEY"}
MIN_KEY_LENGTH = 8
MAX_KEY_LENGTH = 500
MAX_BASE_URL_LENGTH = 500


class KeyNotUsable(Unprocessable):
    code = "invalid_provider_key"


def provider_check(provider: str) -> str:
    if provider not in PROVIDERS:
        raise NotFound("Provider not found")
    return provider


def platform_key_of(provider: str) -> str:
    return str(getattr(settings, PLATFORM_SETTINGS[provider], "") or "")


@dataclass(frozen=True)
class ProviderRow:
    provider: str
    label: str
    configured: bool
    source: str | None  # "team", "platform" or None
    base_url: str
    last4: str
    simulated: bool  # runs on the built-in simulator (make dev, tests)

    def as_json(self) -> dict[str, object]:
        return {"provider": self.provider, "configured": self.configured,
                "source": self.source, "baseUrl": self.base_url or None,
                "last4": self.last4 or None, "simulated": self.simulated}


def provider_overview(team: Team) -> list[ProviderRow]:
    """A row per provider: the team's key, else the platform's, else none."""
    own = {key.provider: key for key in ProviderKey.objects.filter(team=team)}
    return [_row(provider, own.get(provider)) for provider in PROVIDERS]


def _row(provider: str, own: ProviderKey | None) -> ProviderRow:
    if own is not None:
        return ProviderRow(provider, LABELS[provider], True, "team", own.base_url, own.last4,
                           False)
    platform = bool(platform_key_of(provider))
    # Without a platform key every provider still runs on its built-in simulator (make dev,
    # tests): not "configured" for real.
    simulated = not platform and settings.SIMULATORS_ENABLED
    return ProviderRow(provider, LABELS[provider], platform, "platform" if platform else None,
                       "", "", simulated)


def _clean_key(api_key: str) -> str:
    key = api_key.strip()
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        raise KeyNotUsable(f"apiKey must be {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} characters")
    if not key.isprintable() or any(ch.isspace() for ch in key):
        raise KeyNotUsable("apiKey must be one line without spaces")
    return key


def _clean_base_url(base_url: str | None) -> str:
    """An http(s) URL the server may call with the team's key: through the SSRF guard's check
    (the site itself, where the simulators live, passes it)."""
    url = (base_url or "").strip().rstrip("/")
    if not url:
        return ""
    if len(url) > MAX_BASE_URL_LENGTH:
        raise KeyNotUsable(f"baseUrl must be at most {MAX_BASE_URL_LENGTH} characters")
    if _is_simulator(url):
        return url
    try:
        ssrf.check_url(url)
    except ssrf.FetchError as exc:  # BlockedUrl is a FetchError
        raise KeyNotUsable(f"baseUrl refused: {exc}") from exc
    return url


def _is_simulator(url: str) -> bool:
    """The site's own built-in simulators (make dev, tests): trusted like the operator's."""
    site = str(settings.SITE_URL).rstrip("/")
    return bool(settings.SIMULATORS_ENABLED) and url.startswith(f"{site}/_sim/")


def provider_key_set(team: Team, provider: str, api_key: str, base_url: str | None, *,
                     by: User) -> ProviderKey:
    provider_check(provider)
    require_role(by, team, Action.MANAGE_PROVIDER_KEYS)
    key, url = _clean_key(api_key), _clean_base_url(base_url)  # DNS: outside any transaction
    now = timezone.now()
    fields = {"key_sealed": seal_provider_key(key), "base_url": url, "last4": key[-4:],
              "updated_at": now}
    row, _ = ProviderKey.objects.update_or_create(
        team=team, provider=provider, defaults=fields,
        create_defaults={**fields, "created_by": by, "created_at": now})
    return row


def provider_key_delete(team: Team, provider: str, *, by: User) -> None:
    """Remove the team's key (nodes then use the platform's). Removing none is fine."""
    provider_check(provider)
    require_role(by, team, Action.MANAGE_PROVIDER_KEYS)
    ProviderKey.objects.filter(team=team, provider=provider).delete()


@dataclass(frozen=True)
class Rotation:
    resealed: int
    unreadable: list[int]  # ids no configured key decrypts: left as they are


def provider_keys_rotate() -> Rotation:
    """Re-seal every team provider key with the first of ENCRYPTION_KEYS, row by row."""
    resealed, unreadable = 0, []
    for pk, token in ProviderKey.objects.values_list("pk", "key_sealed").iterator():
        try:
            fresh = reseal_provider_key(token)
        except (InvalidToken, ValueError):
            unreadable.append(pk)
            continue
        # Conditional: a key replaced meanwhile is left as its new value.
        resealed += ProviderKey.objects.filter(pk=pk, key_sealed=token).update(key_sealed=fresh)
    return Rotation(resealed, unreadable)

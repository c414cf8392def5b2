"""Whose key a provider call runs on: the team's own (Settings > Providers), else the
platform's (FAL_KEY, OPENAI_API_KEY, ... from the environment).

A node run on its team's key is billed by the provider to the team: it costs 0 credits
(executions/engine and executions/services.line_items read `source`). Read in sync code only
(the engine resolves it before its async provider calls).
"""

from typing import Literal, NamedTuple

from django.conf import settings

from accounts.models import ProviderKey
from accounts.provider_keys import platform_key_of
from wireflow_site.rows import values_where
from workflows.secretbox import unseal_provider_key

Source = Literal["team", "platform"]
# The setting that holds each provider's platform base URL (the simulator's under make dev).
BASE_URL_SETTINGS = {"fal": "FAL_QUEUE_URL", "openai": "OPENAI_BASE_URL",
                     "anthropic": "ANTHROPIC_BASE_URL", "replicate": "REPLICATE_API_URL",
                     "stability": "STABILITY_API_URL"}


class Credentials(NamedTuple):
    api_key: str
    base_url: str
    source: Source


class NoProviderKey(Exception):
    def __init__(self, provider: str) -> None:
        super().__init__(f"no API key for {provider}: set one in Settings > Providers")


def platform_base_url(provider: str) -> str:
    return str(getattr(settings, BASE_URL_SETTINGS[provider]))


def simulator_key(provider: str) -> str:
    """The built-in simulator's own key for `provider` (derived from SECRET_KEY, so every
    process of one deployment agrees on it and nobody outside can guess it)."""
    from django.utils.crypto import salted_hmac

    return "sim-" + salted_hmac(f"wireflow.simulators.{provider}", "key").hexdigest()[:32]


def team_credentials(team_id: int, provider: str) -> Credentials | None:
    # One per team and provider (a unique pair); read on every pass that submits or checks.
    found = values_where(ProviderKey, ("key_sealed", "base_url"),
                         {"team_id": team_id, "provider": provider})
    if not found:
        return None
    sealed, base_url = found[0]
    key = unseal_provider_key(sealed)
    if key is None:  # sealed with a key no longer configured: never fall back silently
        raise NoProviderKey(provider)
    return Credentials(key, base_url or platform_base_url(provider), "team")


def withdrawn_team_key(provider: str) -> Credentials:
    """For a job submitted on its team's own key, which the team has removed since: the job
    is still the team's (its provider bills the team: it costs no credits), and no call about
    it can be made without that key (the provider refuses an empty one)."""
    return Credentials("", platform_base_url(provider), "team")


def provider_credentials(team_id: int, provider: str) -> Credentials:
    """(api_key, base_url, source) for the team's calls to `provider`; raises NoProviderKey
    when nobody configured one (with the simulators on, fal falls back to the simulator's)."""
    own = team_credentials(team_id, provider)
    if own is not None:
        return own
    return platform_credentials(provider)


def platform_credentials(provider: str) -> Credentials:
    """The platform's own key for `provider` (no database read); raises NoProviderKey when
    none is configured (with the simulators on, each falls back to the simulator's)."""
    if provider == "fal":
        from .fal import platform_key  # FAL_KEY, else the simulator's own key

        if settings.FAL_KEY or settings.SIMULATORS_ENABLED:
            return Credentials(platform_key(), platform_base_url("fal"), "platform")
        raise NoProviderKey(provider)
    if provider == "replicate" and not settings.REPLICATE_API_TOKEN \
            and settings.SIMULATORS_ENABLED:
        from .replicate import platform_token  # the simulator's own token

        return Credentials(platform_token(), platform_base_url(provider), "platform")
    key = platform_key_of(provider)
    if not key and settings.SIMULATORS_ENABLED:
        return Credentials(simulator_key(provider), platform_base_url(provider), "platform")
    if not key:
        raise NoProviderKey(provider)
    return Credentials(key, platform_base_url(provider), "platform")


def team_pays(team_id: int, provider: str | None) -> bool:
    """Whether the team's own key would run a node of `provider` (so it costs no credits)."""
    return provider is not None and ProviderKey.objects.filter(
        team_id=team_id, provider=provider).exists()


def is_a_team_key(provider: str, key: str) -> bool:
    """Whether some team stored this key for `provider`: the built-in simulators accept the
    teams' own keys as the real provider accepts its customers' (linear: simulators only)."""
    import hmac

    tokens = ProviderKey.objects.filter(provider=provider).values_list("key_sealed", flat=True)
    return any(hmac.compare_digest((unseal_provider_key(token) or "").encode(), key.encode())
               for token in tokens[:10_000])

"""The fal simulator and teams' own keys (Settings > Providers): it accepts a key a team stored,
records which key each submission came with, and, like fal, a job belongs to the key that
submitted it."""

import json
from typing import Any

import pytest
from django.test import Client

from accounts.models import Team, User
from accounts.provider_keys import provider_key_set
from executions.providers.fal import platform_key
from executions.simulators.state import key_fingerprint, reset_simulator, simulator_stats

pytestmark = pytest.mark.django_db

TEAM_KEY = "fal-team-own-key-for-the-simulator-9876"


@pytest.fixture(autouse=True)
def fresh_simulator(settings: Any) -> Any:
    settings.SIM_DEFAULT_LATENCY = 0.2
    reset_simulator()
    yield
    reset_simulator()


def key(value: str) -> dict[str, str]:
    return {"Authorization": f"Key {value}"}


def submit(client: Client, api_key: str) -> Any:
    return client.post("/_sim/fal/fal-ai/flux-2", data=json.dumps({"prompt": "a fox"}),
                       content_type="application/json", headers=key(api_key))


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_a_teams_stored_key_is_accepted_and_recorded(owner: User, team: Team) -> None:
    client = Client()
    assert submit(client, TEAM_KEY).status_code == 401  # not stored yet: unknown to "fal"
    provider_key_set(team, "fal", TEAM_KEY, None, by=owner)
    assert submit(client, TEAM_KEY).status_code == 200
    assert submit(client, platform_key()).status_code == 200
    assert simulator_stats()["byKey"] == {key_fingerprint(TEAM_KEY): 1,
                                          key_fingerprint(platform_key()): 1}


def test_a_job_is_found_only_with_the_key_that_submitted_it(owner: User, team: Team) -> None:
    provider_key_set(team, "fal", TEAM_KEY, None, by=owner)
    client = Client()
    job = submit(client, TEAM_KEY).json()
    status = path_of(job["status_url"])
    assert client.get(status, headers=key(TEAM_KEY)).status_code in (200, 202)
    assert client.get(status, headers=key(platform_key())).status_code == 404
    cancel = path_of(job["cancel_url"])
    assert client.put(cancel, headers=key(platform_key())).status_code == 404
    assert client.put(cancel, headers=key(TEAM_KEY)).status_code in (202, 400)

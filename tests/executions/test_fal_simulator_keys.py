"""The fal simulator and teams' own keys (Settings > Providers): it accepts a key a team stored,
records which key each submission came with, and, like fal, a job belongs to the key that
submitted it."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from accounts.models import Team, User
from accounts.provider_keys import provider_key_set
from executions.providers.fal import platform_key
from executions.simulators.state import key_fingerprint, simulator_stats

from .fal_sim import auth, fresh_fal_simulator, path_of, submit

pytestmark = pytest.mark.django_db

TEAM_KEY = "fal-team-own-key-for-the-simulator-9876"


@pytest.fixture(autouse=True)
def fresh_simulator(settings: Any) -> Iterator[None]:
    with fresh_fal_simulator(settings, latency=0.2):
        yield


def submit_fox(client: Client, api_key: str) -> Any:
    return submit(client, "fal-ai/flux-2", {"prompt": "a fox"}, headers=auth(api_key))


def test_a_teams_stored_key_is_accepted_and_recorded(owner: User, team: Team) -> None:
    client = Client()
    assert submit_fox(client, TEAM_KEY).status_code == 401  # not stored yet: unknown to "fal"
    provider_key_set(team, "fal", TEAM_KEY, None, by=owner)
    assert submit_fox(client, TEAM_KEY).status_code == 200
    assert submit_fox(client, platform_key()).status_code == 200
    assert simulator_stats()["byKey"] == {key_fingerprint(TEAM_KEY): 1,
                                          key_fingerprint(platform_key()): 1}


def test_a_job_is_found_only_with_the_key_that_submitted_it(owner: User, team: Team) -> None:
    provider_key_set(team, "fal", TEAM_KEY, None, by=owner)
    client = Client()
    job = submit_fox(client, TEAM_KEY).json()
    status = path_of(job["status_url"])
    assert client.get(status, headers=auth(TEAM_KEY)).status_code in (200, 202)
    assert client.get(status, headers=auth(platform_key())).status_code == 404
    cancel = path_of(job["cancel_url"])
    assert client.put(cancel, headers=auth(platform_key())).status_code == 404
    assert client.put(cancel, headers=auth(TEAM_KEY)).status_code in (202, 400)

"""The editor is typed and tested against checked-in copies of the OpenAPI document and the
node catalogue; they must be what the server serves now."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from pytest_django import Settings

from tests.conftest import ApiClient
from workflows.management.commands import apisnapshot


def test_the_checked_in_snapshots_are_what_the_server_serves(api: ApiClient) -> None:
    call_command("apisnapshot", "--check")  # raises, naming the stale file, when they differ
    served = api.get("/nodes").json()
    assert apisnapshot.render(served) == apisnapshot.CATALOGUE_PATH.read_text()
    assert apisnapshot.render(api.get("/openapi.json").json()) == \
        apisnapshot.OPENAPI_PATH.read_text()


def test_a_stale_snapshot_fails_the_check_and_writing_mends_it(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               settings: Settings) -> None:
    stale = tmp_path / "catalogue.json"
    stale.write_text('{"nodes": []}\n')
    monkeypatch.setattr(apisnapshot, "CATALOGUE_PATH", stale)
    monkeypatch.setattr(apisnapshot, "OPENAPI_PATH", tmp_path / "openapi.json")
    settings.BASE_DIR = tmp_path
    with pytest.raises(CommandError, match="Stale API snapshot: openapi.json, catalogue.json"):
        call_command("apisnapshot", "--check")
    call_command("apisnapshot")
    call_command("apisnapshot", "--check")
    assert '"inputParam": "text"' in stale.read_text()

"""On PostgreSQL the server binds the parameters and psycopg prepares a statement once a
connection has run it settings.DB_PREPARE_AFTER times: the engine's and the API's few hundred
statement shapes are then parsed and planned once per connection, not on every run of them."""

from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import Team
from tests.test_settings import _print_setting
from wireflow_site.rows import one_row

POSTGRES = "postgres://postgres@127.0.0.1:5432/wireflow"


@pytest.mark.django_db
def test_a_statement_a_connection_runs_often_is_prepared_on_it(team: Team) -> None:
    assert connection.vendor == "postgresql", "prepared statements are PostgreSQL's"
    shape = 'WHERE "accounts_team"."id" = $1'
    for _ in range(settings.DB_PREPARE_AFTER + 1):
        assert one_row(Team.objects.filter(pk=team.pk)) == team
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [statement for statement, in cursor.fetchall()]
    assert any(shape in statement for statement in prepared), prepared


@pytest.mark.parametrize(("value", "options"), [
    ("", "'server_side_binding': True, 'prepare_threshold': 5"),  # the default
    ("2", "'server_side_binding': True, 'prepare_threshold': 2"),
    ("0", None),
])
def test_prepared_statements_are_on_unless_switched_off(tmp_path: Path, value: str,
                                                        options: str | None) -> None:
    done = _print_setting("DATABASES['default'].get('OPTIONS', {})", DEBUG="1",
                          WIREFLOW_VAR_DIR=str(tmp_path), DATABASE_URL=POSTGRES,
                          WIREFLOW_DB_POOL_SIZE="0", WIREFLOW_DB_PREPARE_AFTER=value)
    assert done.returncode == 0, done.stderr
    if options is None:
        assert "server_side_binding" not in done.stdout and "prepare" not in done.stdout
    else:
        assert options in done.stdout, done.stdout

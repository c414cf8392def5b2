"""`one_row`: the row of a query by key, or None, read without the ORDER BY that `.first()`
adds (every API lookup by id goes through it, in accounts/permissions.readable_one)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Team, User
from wireflow_site.rows import one_row

pytestmark = pytest.mark.django_db


def test_one_row_is_the_row_or_none_read_with_a_limit_and_no_sort(team: Team,
                                                                  stranger: User) -> None:
    with CaptureQueriesContext(connection) as queries:
        found = one_row(Team.objects.filter(pk=team.pk))
        missing = one_row(Team.objects.filter(pk=-1))
        name = one_row(Team.objects.filter(pk=team.pk).values_list("name", flat=True))
    assert found == team and missing is None and name == team.name
    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) == 3
    assert all("LIMIT 1" in sql and "ORDER BY" not in sql for sql in statements), statements

"""The embedded `make dev` mode runs on SQLite: every page and every API read must work there
too, not only on PostgreSQL (a query in PostgreSQL's dialect once broke the versions list and
every form that offers versions). In a separate process on a fresh SQLite database, a team with
a workflow, versions, runs, a schedule, a batch and a template; then every page of the URLconf
and every GET of the OpenAPI document, with ids filled in, must answer below 500."""

from decimal import Decimal
from pathlib import Path

from tests.harness import dev_shell_json

SCRIPT = r'''
import json, re
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from accounts.models import User

assert connection.vendor == "sqlite", connection.vendor
owner = User.objects.create_user(email="owner@example.com", password="correct-horse-battery")
client = Client(raise_request_exception=False)
client.force_login(owner)

def call(method, path, body=None):
    answer = getattr(client, method)(path, json.dumps(body) if body is not None else None,
                                     content_type="application/json")
    assert answer.status_code < 300, (method, path, answer.status_code, answer.content[:300])
    return answer.json() if answer.content else None

def node(i, t, x, **params):
    return {"id": i, "type": "basedNode", "position": {"x": x, "y": 0},
            "data": {"label": i.title(), "nodeType": t, "params": params}}
graph = {"nodes": [node("words", "input:text", 0, text="hello"), node("out", "output:result", 300)],
         "edges": [{"id": "e", "source": "words", "target": "out", "sourceHandle": "out-text",
                    "targetHandle": "in-value"}]}
workflow = call("post", "/api/v1/workflows", {"name": "Hello", **graph})
graph["nodes"][0]["data"]["params"]["text"] = "hello again"
call("put", f"/api/v1/workflows/{workflow['id']}", {"name": "Hello", **graph})
execution = call("post", f"/api/v1/workflows/{workflow['id']}/execute", {})
# The engine runs on SQLite too (the in-process scheduler; pure nodes recorded together).
import time
for _ in range(600):
    polled = call("get", f"/api/v1/workflows/executions/{execution['executionId']}/poll")
    if polled["status"] != "RUNNING":
        break
    time.sleep(0.05)
assert polled["status"] == "COMPLETED", polled
assert polled["finalOutput"]["out"]["value"] == "hello again", polled
schedule = call("post", f"/api/v1/workflows/{workflow['id']}/schedules",
                {"cron": "0 9 * * *", "timezone": "Europe/Berlin"})
batch = call("post", f"/api/v1/workflows/{workflow['id']}/batches",
             {"rows": [{"Words": "a"}, {"Words": "b"}], "concurrency": 1})
template = call("post", "/api/v1/templates", {"workflowId": workflow["id"], "scope": "team"})
from accounts.services import api_key_create
secret = api_key_create(user=owner, team=owner.current_team, name="k").secret
by_key = Client(raise_request_exception=False).get(
    "/api/v1/team", headers={"Authorization": f"Bearer {secret}"})
assert by_key.status_code == 200, (by_key.status_code, by_key.content[:300])
ids = {"workflow_id": workflow["id"], "execution_id": execution["executionId"],
       "schedule_id": schedule["id"], "batch_id": batch["batchId"], "template_id": template["id"],
       "team_id": str(owner.current_team_id), "user_id": str(owner.pk), "number": "2",
       "a": "1", "b": "2"}
SKIP = ("admin/", "accounts/", "_sim/", "media/", "hooks/", "api/", "workflow/", "^api")

def patterns(resolver, prefix=""):
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from patterns(entry, route)
        elif isinstance(entry, URLPattern):
            yield route

paths = set()
for route in patterns(get_resolver()):
    if route.startswith(SKIP) or "(?P" in route or route.startswith("^"):
        continue
    names = re.findall(r"<(?:\w+:)?(\w+)>", route)
    if all(name in ids for name in names):
        paths.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: ids[m.group(1)], route))
document = client.get("/api/v1/openapi.json").json()
for template_path, methods in document["paths"].items():
    names = re.findall(r"{(\w+)}", template_path)
    if "get" in methods and all(name in ids for name in names) and "events" not in template_path:
        paths.add(template_path.format(**ids))
answers = {path: client.get(path).status_code for path in sorted(paths)}
print(json.dumps(answers))
'''


def test_every_page_and_api_read_works_on_sqlite(tmp_path: Path) -> None:
    answers = dev_shell_json(tmp_path, SCRIPT, timeout=600)
    for page in ("/runs/", "/dashboard/", "/settings/usage/", "/workflows/"):
        assert page in answers, sorted(answers)
    assert any("/schedules/" in path for path in answers), sorted(answers)
    assert any(path.endswith("/versions") for path in answers), sorted(answers)
    broken = {path: status for path, status in answers.items() if status >= 500}
    assert not broken, broken


LEDGER_SCRIPT = r'''
import json, random, uuid
from decimal import Decimal
from django.db import connection
from django.db.models import Sum
from accounts.credits import (LineItem, credit_balance, credits_charge_node, credits_grant,
                              credits_release_execution, credits_reserve, credits_used_since,
                              reservation_outstanding)
from accounts.models import CreditEntry, CreditKind, User

assert connection.vendor == "sqlite", connection.vendor
owner = User.objects.create_user(email="owner@example.com", password="correct-horse-battery")
team = owner.current_team
credits_grant(team, 100000)
since = CreditEntry.objects.earliest("created_at").created_at
draw = random.Random(7)
amount = lambda low, high: Decimal(draw.randint(low * 10000, high * 10000)) / 10000
wrong, charged = [], Decimal(0)
# Runs shaped like the README's (reserve 40; charge 20 and 5.2429; release the rest 14.7571),
# then 200 more: a reservation of 2-4 nodes, each charged a four-decimal cost within its line.
runs = [([Decimal(20), Decimal(20)], [Decimal(20), Decimal("5.2429")])]
for _ in range(200):
    lines = [amount(1, 50) for _ in range(draw.randint(2, 4))]
    runs.append((lines, [amount(0, 1) * line for line in lines]))
for lines, costs in runs:
    run = uuid.uuid4()
    items = [LineItem(f"n{i}", f"N{i}", "fal:x", line) for i, line in enumerate(lines)]
    credits_reserve(team.pk, run, items)
    costs = [cost.quantize(Decimal("0.0001")) for cost in costs]
    for i, cost in enumerate(costs):
        charged += credits_charge_node(team.pk, run, f"n{i}", cost)
    rest, expected = reservation_outstanding(run), sum(lines) - sum(costs)
    released = credits_release_execution(team.pk, run)
    after, again = reservation_outstanding(run), credits_release_execution(team.pk, run)
    if (rest, released, after, again) != (expected, expected, 0, 0) or after.as_tuple().exponent:
        wrong.append([str(x) for x in (rest, released, after, again, expected)])
ledger = CreditEntry.objects.filter(team=team).aggregate(total=Sum("amount"))["total"]
print(json.dumps({"wrong": wrong[:5], "runs": len(runs),
                  "used": str(credits_used_since(team.pk, since)), "charged": str(charged),
                  "balance": str(credit_balance(team.pk)), "ledger": str(ledger)}))
'''


def test_the_ledger_adds_up_exactly_on_sqlite(tmp_path: Path) -> None:
    """SQLite adds Decimal columns as floats: every sum the ledger's logic reads must still
    come out exact to 0.0001, or a spent reservation reads a few 1e-15 credits and releasing
    it again writes a second release (and meets the one-release-per-execution constraint)."""
    found = dev_shell_json(tmp_path, LEDGER_SCRIPT, timeout=600)
    assert found["runs"] == 201
    assert found["wrong"] == [], found["wrong"]
    assert found["used"] == found["charged"], found
    assert Decimal(found["balance"]) == Decimal(found["ledger"]).quantize(Decimal("0.0001"))

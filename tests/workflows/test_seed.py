"""`manage.py seed`: the demo account and the starter templates, idempotently."""

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import Membership, Role, User
from workflows import graph
from workflows.models import Workflow, WorkflowVersion
from workflows.nodes import catalogue
from workflows.selectors import workflow_templates
from workflows.services import DEMO_EMAIL, DEMO_PASSWORD, starter_templates

TEMPLATES = starter_templates()


def seed() -> str:
    out = StringIO()
    call_command("seed", stdout=out)
    return out.getvalue()


def test_there_are_at_least_four_starter_templates() -> None:
    assert len(TEMPLATES) >= 4
    assert "seed-pipeline" in TEMPLATES


@pytest.mark.parametrize("slug", sorted(TEMPLATES))
def test_every_starter_template_is_a_valid_graph(slug: str) -> None:
    template = TEMPLATES[slug]
    violations = graph.validate(template["nodes"], template["edges"], catalogue)
    assert [v.to_dict() for v in violations] == []
    assert template["name"] and template["description"]


def _node_type(template: dict[str, Any], node_id: str) -> str:
    return next(n["data"]["nodeType"] for n in template["nodes"] if n["id"] == node_id)


def test_the_seed_pipeline_is_prompt_then_nano_banana_then_upscaler_then_result() -> None:
    template = TEMPLATES["seed-pipeline"]
    chain = [(_node_type(template, e["source"]), _node_type(template, e["target"]))
             for e in template["edges"]]
    assert chain == [("input:text", "generate:nano_banana_pro"),
                     ("generate:nano_banana_pro", "upscale:crystal_upscaler"),
                     ("upscale:crystal_upscaler", "output:result")]


@pytest.mark.django_db
def test_seed_creates_the_demo_account_with_its_own_team() -> None:
    seed()
    demo = User.objects.get(email=DEMO_EMAIL)
    assert demo.check_password(DEMO_PASSWORD)
    assert demo.current_team is not None
    assert Membership.objects.get(user=demo, team=demo.current_team).role == Role.OWNER
    assert Client().login(email=DEMO_EMAIL, password=DEMO_PASSWORD)


@pytest.mark.django_db
def test_seed_installs_every_template_in_the_demo_team_marked_as_a_template() -> None:
    output = seed()
    demo = User.objects.get(email=DEMO_EMAIL)
    installed = workflow_templates(demo.current_team)  # type: ignore[arg-type]
    assert sorted(w.template_slug for w in installed) == sorted(TEMPLATES)
    assert all(w.is_template and w.version == 1 and w.created_by == demo for w in installed)
    assert f"{len(TEMPLATES)} starter workflow(s) added" in output


@pytest.mark.django_db
def test_installed_templates_have_their_categories_filled() -> None:
    seed()
    pipeline = Workflow.objects.get(template_slug="seed-pipeline")
    categories = [n["data"]["category"] for n in pipeline.nodes]
    assert categories == ["input", "model", "model", "output"]
    assert pipeline.edges == TEMPLATES["seed-pipeline"]["edges"]


@pytest.mark.django_db
def test_running_seed_twice_creates_nothing_new() -> None:
    seed()
    counts = (User.objects.count(), Workflow.objects.count(), WorkflowVersion.objects.count())
    output = seed()
    assert (User.objects.count(), Workflow.objects.count(),
            WorkflowVersion.objects.count()) == counts
    assert "0 starter workflow(s) added" in output


@pytest.mark.django_db
def test_seed_keeps_an_existing_demo_password() -> None:
    seed()
    demo = User.objects.get(email=DEMO_EMAIL)
    demo.set_password("changed-by-the-operator")
    demo.save(update_fields=["password"])
    seed()
    demo.refresh_from_db()
    assert demo.check_password("changed-by-the-operator")

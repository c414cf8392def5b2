"""`manage.py seed` and every `migrate`: the demo account and the starter templates in the
gallery, idempotently."""

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import Membership, Role, User
from workflows import graph
from workflows.models import Template, TemplateScope, Workflow, WorkflowVersion
from workflows.nodes import catalogue
from workflows.services import DEMO_EMAIL, DEMO_PASSWORD, starter_templates
from workflows.templates import starter_templates_sync

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
    node_type: str = next(n["data"]["nodeType"] for n in template["nodes"] if n["id"] == node_id)
    return node_type


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


def starters() -> list[Template]:
    return list(Template.objects.filter(scope=TemplateScope.STARTER).order_by("slug"))


@pytest.mark.django_db
def test_migrate_puts_every_starter_template_in_the_gallery_without_a_seed() -> None:
    # The test database was made by `migrate`: its post_migrate installed them.
    installed = starters()
    assert [t.slug for t in installed] == sorted(TEMPLATES)
    assert all(t.team is None and t.author is None and t.version == 1 for t in installed)
    assert [t.name for t in installed] == [TEMPLATES[slug]["name"] for slug in sorted(TEMPLATES)]


@pytest.mark.django_db
def test_seed_copies_no_starter_into_the_demo_team() -> None:
    output = seed()
    demo = User.objects.get(email=DEMO_EMAIL)
    assert not Workflow.objects.filter(team=demo.current_team).exists()
    assert f"{len(TEMPLATES)} starter template(s) in the gallery (0 added, 0 updated)" in output


@pytest.mark.django_db
def test_installed_templates_have_their_categories_filled() -> None:
    pipeline = Template.objects.get(scope=TemplateScope.STARTER, slug="seed-pipeline")
    categories = [n["data"]["category"] for n in pipeline.nodes]
    assert categories == ["input", "model", "model", "output"]
    assert pipeline.edges == TEMPLATES["seed-pipeline"]["edges"]


@pytest.mark.django_db
def test_a_missing_starter_is_added_a_changed_one_updated_and_a_dropped_one_removed() -> None:
    Template.objects.filter(scope=TemplateScope.STARTER, slug="seed-pipeline").delete()
    Template.objects.filter(scope=TemplateScope.STARTER, slug="router-branching") \
        .update(name="An old name")
    Template.objects.create(scope=TemplateScope.STARTER, slug="retired", name="Retired")
    synced = starter_templates_sync()
    assert (synced.added, synced.updated, synced.removed) == (1, 1, 1)
    router = Template.objects.get(scope=TemplateScope.STARTER, slug="router-branching")
    assert router.name == TEMPLATES["router-branching"]["name"] and router.version == 2
    assert [t.slug for t in starters()] == sorted(TEMPLATES)


@pytest.mark.django_db
def test_running_seed_twice_creates_nothing_new() -> None:
    seed()
    counts = (User.objects.count(), Workflow.objects.count(), WorkflowVersion.objects.count(),
              Template.objects.count())
    updated = [t.updated_at for t in starters()]
    output = seed()
    assert (User.objects.count(), Workflow.objects.count(), WorkflowVersion.objects.count(),
            Template.objects.count()) == counts
    assert [t.updated_at for t in starters()] == updated
    assert "(0 added, 0 updated)" in output


@pytest.mark.django_db
def test_seed_keeps_an_existing_demo_password() -> None:
    seed()
    demo = User.objects.get(email=DEMO_EMAIL)
    demo.set_password("changed-by-the-operator")
    demo.save(update_fields=["password"])
    seed()
    demo.refresh_from_db()
    assert demo.check_password("changed-by-the-operator")

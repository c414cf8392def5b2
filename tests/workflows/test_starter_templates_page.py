"""A new team's empty workflow list offers the gallery's starter templates, each one click from
a workflow of the team's own."""

import pytest
from django.test import Client

from accounts.models import Team, User
from workflows.models import Template, TemplateScope, Workflow
from workflows.services import starter_templates

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def starter(slug: str = "seed-pipeline") -> Template:
    return Template.objects.get(scope=TemplateScope.STARTER, slug=slug)


def test_an_empty_list_offers_every_starter_template_and_the_gallery(owner: User) -> None:
    html = logged_in(owner).get("/workflows/").content.decode()
    assert 'data-testid="workflow-list-empty"' in html
    for slug, template in starter_templates().items():
        assert f'action="/templates/{starter(slug).pk}/use"' in html
        assert template["name"] in html
    assert "about 40 credits a run" in html  # the seed pipeline: an image, upscaled
    assert 'href="/templates/"' in html


def test_using_a_starter_makes_a_workflow_of_the_team_and_opens_it(owner: User,
                                                                    team: Team) -> None:
    template = starter_templates()["seed-pipeline"]
    response = logged_in(owner).post(f"/templates/{starter().pk}/use",
                                     {"name": template["name"]})
    workflow = Workflow.objects.get(team=team)
    assert response.status_code == 302
    assert response["Location"] == f"/workflows/{workflow.pk}/edit"
    assert workflow.name == template["name"]
    assert [n["id"] for n in workflow.nodes] == [n["id"] for n in template["nodes"]]
    assert workflow.created_by == owner
    assert workflow.template == starter() and workflow.template_version == starter().version
    assert starter().use_count == 1
    html = logged_in(owner).get("/workflows/").content.decode()
    assert template["name"] in html and "/use" not in html  # no longer empty


def test_a_viewer_is_offered_no_starters_and_cannot_use_one(team: Team, viewer: User) -> None:
    client = logged_in(viewer)
    html = client.get("/workflows/").content.decode()
    assert "/use" not in html
    assert "can view workflows but not create them" in html
    response = client.post(f"/templates/{starter().pk}/use", {"name": "Mine"})
    assert response.status_code == 403
    assert "Your role in this team cannot do this" in response.content.decode()
    assert not Workflow.objects.filter(team=team).exists()


@pytest.mark.parametrize("template_id", ["no-such-template", "..%2Fsecret", "x" * 300,
                                         "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_template_is_404_and_creates_nothing(owner: User, template_id: str) -> None:
    response = logged_in(owner).post(f"/templates/{template_id}/use", {"name": "x"})
    assert response.status_code == 404
    assert not Workflow.objects.exists()


def test_using_a_starter_needs_a_post_and_a_login(owner: User) -> None:
    path = f"/templates/{starter().pk}/use"
    assert logged_in(owner).get(path).status_code == 405
    anonymous = Client().post(path, {"name": "x"})
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert not Workflow.objects.exists()

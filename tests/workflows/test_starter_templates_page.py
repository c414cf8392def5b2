"""A new team's empty workflow list offers the starter templates, each one click from a
workflow of the team's own."""

import pytest
from django.test import Client

from accounts.models import Membership, Role, Team, User
from workflows.models import Workflow
from workflows.services import starter_templates

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_empty_list_offers_every_starter_template(owner: User) -> None:
    html = logged_in(owner).get("/workflows/").content.decode()
    assert 'data-testid="workflow-list-empty"' in html
    for slug, template in starter_templates().items():
        assert f'/workflows/new/from-starter/{slug}"' in html
        assert template["name"] in html
    assert "about 40 credits a run" in html  # the seed pipeline: an image, upscaled


def test_using_a_starter_copies_it_into_the_team_and_opens_it(owner: User, team: Team) -> None:
    response = logged_in(owner).post("/workflows/new/from-starter/seed-pipeline")
    workflow = Workflow.objects.get(team=team)
    assert response.status_code == 302
    assert response["Location"] == f"/workflows/{workflow.pk}/edit"
    template = starter_templates()["seed-pipeline"]
    assert workflow.name == template["name"]
    assert [n["id"] for n in workflow.nodes] == [n["id"] for n in template["nodes"]]
    assert workflow.created_by == owner and not workflow.is_template
    html = logged_in(owner).get("/workflows/").content.decode()
    assert template["name"] in html and "from-starter" not in html  # no longer empty


def test_a_viewer_is_offered_no_starters_and_cannot_use_one(owner: User, team: Team,
                                                            make_user) -> None:
    viewer = make_user("viewer@example.com")
    Membership.objects.create(team=team, user=viewer, role=Role.VIEWER)
    viewer.current_team = team
    viewer.save(update_fields=["current_team"])
    client = logged_in(viewer)
    html = client.get("/workflows/").content.decode()
    assert "from-starter" not in html
    assert "can view workflows but not create them" in html
    response = client.post("/workflows/new/from-starter/seed-pipeline", follow=True)
    assert "viewers cannot modify workflows" in response.content.decode()
    assert not Workflow.objects.filter(team=team).exists()


@pytest.mark.parametrize("slug", ["no-such-template", "..%2Fsecret", "x" * 300])
def test_an_unknown_starter_is_404_and_creates_nothing(owner: User, slug: str) -> None:
    response = logged_in(owner).post(f"/workflows/new/from-starter/{slug}")
    assert response.status_code == 404
    assert not Workflow.objects.exists()


def test_using_a_starter_needs_a_post_and_a_login(owner: User) -> None:
    assert logged_in(owner).get("/workflows/new/from-starter/seed-pipeline").status_code == 405
    anonymous = Client().post("/workflows/new/from-starter/seed-pipeline")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert not Workflow.objects.exists()

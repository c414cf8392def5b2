"""The template gallery's pages, through the Django test client, as the owner, an editor, a
viewer and a stranger: the gallery, a template's page, Use, Unpublish, Republish and "Publish as
template" from the workflow list."""

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Team, User
from executions.models import Execution, ExecutionStatus, NodeRun, NodeStatus
from workflows.models import Template, TemplateScope, Workflow
from workflows.services import starter_templates
from workflows.templatetags import editor_assets

from .graph_builders import node, prompt_to_flux_to_result, sticky

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_workflow(team: Team, user: User, name: str = "Fox pipeline",
                  prompt: str = "a red fox") -> Workflow:
    nodes, edges = prompt_to_flux_to_result()
    nodes[0]["data"]["params"]["text"] = prompt
    for item in nodes:
        item["data"]["category"] = "input" if item["id"] == "prompt" else \
            "model" if item["id"] == "flux" else "output"
    return Workflow.objects.create(team=team, created_by=user, name=name, nodes=[
        *nodes, sticky("note")], edges=edges, description="Prompt to print", tags=["fox"])


def make_template(workflow: Workflow, author: User, name: str = "Fox template",
                  scope: str = TemplateScope.TEAM, **fields: Any) -> Template:
    return Template.objects.create(team=workflow.team, scope=scope, name=name,
                                   description=fields.pop("description", "A fox, printed"),
                                   tags=fields.pop("tags", ["fox", "image"]),
                                   nodes=workflow.nodes, edges=workflow.edges, author=author,
                                   source_workflow=workflow, **fields)


@pytest.fixture
def workflow(team: Team, owner: User) -> Workflow:
    return make_workflow(team, owner)


@pytest.fixture
def template(workflow: Workflow, owner: User) -> Template:
    return make_template(workflow, owner)


@pytest.fixture
def unbuilt_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(editor_assets, "manifest_path", lambda: tmp_path / "missing.json")


def page(client: Client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.content[:500]
    return str(response.content.decode())


def cards_of(html: str) -> list[str]:
    """The text of each card, in order."""
    return re.findall(r'<a class="template-card".*?</a>', html, flags=re.S)


def card_named(html: str, name: str) -> str:
    [card] = [c for c in cards_of(html) if f"<h3>{name}</h3>" in c]
    return card


def editor_config(html: str) -> dict[str, Any]:
    start = html.index('<script id="editor-config" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(body)  # type: ignore[no-any-return]


def complete_run(workflow: Workflow, url: str) -> None:
    now = timezone.now()
    execution = Execution.objects.create(workflow=workflow, team=workflow.team,
                                         status=ExecutionStatus.COMPLETED,
                                         deadline_at=now + timedelta(hours=1), finished_at=now)
    NodeRun.objects.create(execution=execution, node_id="flux", node_type="generate:flux_2",
                           status=NodeStatus.COMPLETED, ports={"image": url})


# --- The gallery ----------------------------------------------------------------------------

def test_the_gallery_shows_starters_the_teams_templates_and_public_ones(
        owner: User, stranger: User, template: Template) -> None:
    their_team = stranger.current_team
    assert their_team is not None
    theirs = make_workflow(their_team, stranger, "Their pipeline")
    make_template(theirs, stranger, "Their public one", scope=TemplateScope.PUBLIC)
    make_template(theirs, stranger, "Their secret one")
    html = page(logged_in(owner), "/templates/")
    assert "<title>Templates · Wireflow</title>" in html
    names = re.findall(r"<h3>(.*?)</h3>", "".join(cards_of(html)))
    assert "Fox template" in names and "Their public one" in names
    assert "Their secret one" not in html
    for starter in starter_templates().values():
        assert starter["name"] in names
    assert 'href="/templates/" aria-current="page">Templates</a>' in html  # the top bar


def test_a_card_shows_what_the_template_is(owner: User, template: Template) -> None:
    card = card_named(page(logged_in(owner), "/templates/"), "Fox template")
    assert f'href="/templates/{template.pk}/"' in card
    assert "A fox, printed" in card
    assert '<span class="badge">fox</span>' in card and '<span class="badge">image</span>' in card
    assert "3 nodes" in card  # the sticky note is not counted
    assert re.search(r"about [\d.]+ credits a run", card)
    assert 'data-testid="scope-badge">Team<' in card
    assert "by owner" in card and "owner@example.com" not in card
    # No run yet: a placeholder for the first model node, in the palette's model colour.
    assert 'data-category="model"' in card and ">FLUX.2</span>" in card


def test_a_card_shows_the_source_workflows_last_output_as_its_preview(
        owner: User, workflow: Workflow, template: Template) -> None:
    complete_run(workflow, "/media/fox.png")
    card = card_named(page(logged_in(owner), "/templates/"), "Fox template")
    assert '<img src="/media/fox.png"' in card and "template-placeholder" not in card


def test_starter_and_public_cards_have_their_badges(owner: User, workflow: Workflow) -> None:
    make_template(workflow, owner, "Shared fox", scope=TemplateScope.PUBLIC)
    html = page(logged_in(owner), "/templates/")
    assert 'data-testid="scope-badge">Public<' in card_named(html, "Shared fox")
    seed = starter_templates()["seed-pipeline"]["name"]
    assert 'data-testid="scope-badge">Starter<' in card_named(html, seed)
    assert "by Wireflow" in card_named(html, seed)


def test_chips_filter_by_scope_and_tag_and_the_box_searches(owner: User, workflow: Workflow,
                                                           template: Template) -> None:
    make_template(workflow, owner, "Whale", description="A whale", tags=["sea"])
    client = logged_in(owner)
    html = page(client, "/templates/")
    assert 'href="?scope=team"' in html and 'href="?scope=starter"' in html
    assert 'href="?tag=sea"' in html and 'href="?tag=fox"' in html
    assert [c for c in cards_of(page(client, "/templates/?scope=team"))] == \
        [card_named(html, "Whale"), card_named(html, "Fox template")]
    assert len(cards_of(page(client, "/templates/?scope=starter"))) == len(starter_templates())
    assert "<h3>Whale</h3>" in "".join(cards_of(page(client, "/templates/?tag=sea")))
    assert len(cards_of(page(client, "/templates/?tag=sea"))) == 1
    searched = page(client, "/templates/?q=WHALE")
    assert len(cards_of(searched)) == 1 and 'value="WHALE"' in searched
    combined = page(client, "/templates/?scope=team&tag=sea&q=whale")
    assert len(cards_of(combined)) == 1
    assert 'href="?scope=team&amp;q=whale"' in combined  # the current tag chip turns it off


def test_no_match_shows_an_empty_state_that_clears_the_filters(owner: User) -> None:
    html = page(logged_in(owner), "/templates/?q=nothing-like-this")
    assert 'data-testid="gallery-empty"' in html and "No template matches" in html
    assert cards_of(html) == []


@pytest.mark.parametrize("query", ["q=" + "x" * 5000, "tag=" + "t" * 500, "scope=everyone",
                                   "cursor=garbage", "cursor=" + "c" * 5000, "q=%00",
                                   "tag=%00fox"])
def test_odd_queries_still_show_the_gallery(owner: User, query: str) -> None:
    page(logged_in(owner), f"/templates/?{query}")


def test_the_gallery_pages_with_a_cursor(owner: User, workflow: Workflow) -> None:
    for index in range(30):
        make_template(workflow, owner, f"Template {index:02d}")
    client = logged_in(owner)
    first = page(client, "/templates/?scope=team")
    assert len(cards_of(first)) == 24
    match = re.search(r'href="(\?[^"]*cursor=[^"]+)" data-testid="next-page"', first)
    assert match is not None
    second = page(client, "/templates/" + match.group(1).replace("&amp;", "&"))
    assert len(cards_of(second)) == 6 and 'data-testid="next-page"' not in second
    shown = {c for c in cards_of(first)} | {c for c in cards_of(second)}
    assert len(shown) == 30


def test_the_gallery_needs_a_login() -> None:
    response = Client().get("/templates/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- A template's page ------------------------------------------------------------------------

def test_the_template_page_shows_the_graph_on_the_editors_read_only_canvas(
        owner: User, team: Team, template: Template, built_editor: Path) -> None:
    html = page(logged_in(owner), f"/templates/{template.pk}/")
    assert "<title>Fox template · Templates · Wireflow</title>" in html
    assert '<div id="wireflow-editor" data-testid="editor-root"></div>' in html
    assert "/static/editor/assets/main-abc123.js" in html
    assert "/static/editor/assets/main-def456.css" in html
    config = editor_config(html)
    assert config["mode"] == "view" and config["workflowId"] is None
    assert config["graph"] == {"nodes": template.nodes, "edges": template.edges}
    assert config["listUrl"] == "/templates/" and config["apiBase"] == "/api/v1"
    assert config["team"] == {"id": team.pk, "name": team.name} and config["csrfToken"]


def test_without_a_built_editor_the_page_says_so(owner: User, template: Template,
                                                 unbuilt_editor: None) -> None:
    html = page(logged_in(owner), f"/templates/{template.pk}/")
    assert 'data-testid="editor-missing"' in html and "The editor has not been built" in html
    assert 'id="wireflow-editor"' not in html


def test_the_template_page_lists_inputs_credits_version_and_example_output(
        owner: User, workflow: Workflow, template: Template) -> None:
    client = logged_in(owner)
    html = page(client, f"/templates/{template.pk}/")
    inputs = html[html.index('data-testid="template-inputs"'):].split("</ul>", 1)[0]
    assert "prompt" in inputs and "text" in inputs
    assert re.search(r'data-testid="estimated-credits">about [\d.]+ credits a run<', html)
    assert 'data-testid="template-version">1<' in html
    assert 'data-testid="node-count">3<' in html
    assert 'data-testid="no-example"' in html
    complete_run(workflow, "/media/fox.png")
    assert '<img src="/media/fox.png"' in page(client, f"/templates/{template.pk}/")


def test_use_asks_for_a_name_prefilled_and_opens_the_new_workflow(
        teammate: User, team: Team, template: Template) -> None:
    client = logged_in(teammate)
    html = page(client, f"/templates/{template.pk}/")
    assert 'data-testid="use-form"' in html and 'value="Fox template"' in html
    response = client.post(f"/templates/{template.pk}/use", {"name": "  My fox  "})
    made = Workflow.objects.get(name="My fox")
    assert response.status_code == 302 and response["Location"] == f"/workflows/{made.pk}/edit"
    assert made.team == team and made.created_by == teammate and made.template == template
    assert Template.objects.get(pk=template.pk).use_count == 1


@pytest.mark.parametrize("name", ["", "   ", "n" * 201])
def test_use_with_a_bad_name_shows_the_error_and_makes_nothing(owner: User, template: Template,
                                                               workflow: Workflow,
                                                               name: str) -> None:
    response = logged_in(owner).post(f"/templates/{template.pk}/use", {"name": name})
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert Workflow.objects.count() == 1


def test_a_viewer_sees_the_gallery_and_the_page_but_cannot_use_it(viewer: User,
                                                                  template: Template) -> None:
    client = logged_in(viewer)
    assert "Fox template" in page(client, "/templates/")
    html = page(client, f"/templates/{template.pk}/")
    assert 'data-testid="use-form"' not in html and 'data-testid="use-template"' not in html
    assert 'data-testid="use-not-allowed"' in html
    assert 'data-testid="template-manage"' not in html
    response = client.post(f"/templates/{template.pk}/use", {"name": "Forged"})
    assert response.status_code == 403
    assert "Your role in this team cannot do this" in response.content.decode()
    for action in ("unpublish", "republish"):
        assert client.post(f"/templates/{template.pk}/{action}").status_code == 403
    assert Workflow.objects.count() == 1
    assert Template.objects.get(pk=template.pk).version == 1


def test_a_stranger_gets_404_for_another_teams_template(stranger: User,
                                                        template: Template) -> None:
    client = logged_in(stranger)
    page(client, f"/templates/{template.pk}/", status=404)
    for action in ("use", "unpublish", "republish"):
        assert client.post(f"/templates/{template.pk}/{action}",
                           {"name": "x"}).status_code == 404
    assert Template.objects.filter(pk=template.pk).exists()
    assert not Workflow.objects.filter(team=stranger.current_team).exists()


def test_a_stranger_may_use_a_public_template_but_not_manage_it(stranger: User,
                                                                workflow: Workflow,
                                                                owner: User) -> None:
    public = make_template(workflow, owner, "Shared fox", scope=TemplateScope.PUBLIC)
    client = logged_in(stranger)
    html = page(client, f"/templates/{public.pk}/")
    assert 'data-testid="use-form"' in html and 'data-testid="template-manage"' not in html
    response = client.post(f"/templates/{public.pk}/use", {"name": "Mine now"})
    assert response.status_code == 302
    assert Workflow.objects.get(name="Mine now").team == stranger.current_team
    assert client.post(f"/templates/{public.pk}/unpublish").status_code == 403
    assert Template.objects.filter(pk=public.pk).exists()


@pytest.mark.parametrize("template_id", ["nope", "x" * 300, "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_template_page_is_404(owner: User, template_id: str) -> None:
    page(logged_in(owner), f"/templates/{template_id}/", status=404)


# --- Unpublish and republish --------------------------------------------------------------------

def test_the_author_unpublishes_after_confirming(owner: User, template: Template) -> None:
    client = logged_in(owner)
    html = page(client, f"/templates/{template.pk}/")
    assert 'data-testid="template-manage"' in html and 'href="?confirm=unpublish"' in html
    assert 'data-testid="confirm-unpublish"' not in html
    confirm = page(client, f"/templates/{template.pk}/?confirm=unpublish")
    assert 'data-testid="confirm-unpublish"' in confirm
    assert f'action="/templates/{template.pk}/unpublish"' in confirm
    response = client.post(f"/templates/{template.pk}/unpublish", follow=True)
    assert response.redirect_chain[-1][0] == "/templates/"
    assert "was unpublished" in response.content.decode()
    assert not Template.objects.filter(pk=template.pk).exists()


def test_an_editor_manages_only_their_own_templates_and_an_admin_anyones(
        teammate: User, admin: User, workflow: Workflow, template: Template) -> None:
    mate = logged_in(teammate)
    assert 'data-testid="template-manage"' not in page(mate, f"/templates/{template.pk}/")
    assert mate.post(f"/templates/{template.pk}/unpublish").status_code == 403
    own = make_template(workflow, teammate, "Teammate's")
    assert 'data-testid="template-manage"' in page(mate, f"/templates/{own.pk}/")
    boss = logged_in(admin)
    assert 'data-testid="template-manage"' in page(boss, f"/templates/{own.pk}/")
    assert boss.post(f"/templates/{own.pk}/unpublish").status_code == 302
    assert not Template.objects.filter(pk=own.pk).exists()


def test_a_starter_template_has_no_manage_controls(owner: User) -> None:
    seed = Template.objects.get(scope=TemplateScope.STARTER, slug="seed-pipeline")
    client = logged_in(owner)
    html = page(client, f"/templates/{seed.pk}/")
    assert 'data-testid="template-manage"' not in html
    assert 'data-testid="template-author">Wireflow<' in html
    assert 'data-testid="scope-badge">Starter<' in html
    assert client.post(f"/templates/{seed.pk}/unpublish").status_code == 403


def test_republishing_takes_the_source_workflows_current_graph(owner: User, workflow: Workflow,
                                                               template: Template) -> None:
    workflow.nodes = [*workflow.nodes[:-1], node("extra", "input:text", {"text": "more"})]
    workflow.save(update_fields=["nodes"])
    response = logged_in(owner).post(f"/templates/{template.pk}/republish", follow=True)
    assert response.redirect_chain[-1][0] == f"/templates/{template.pk}/"
    assert "now version 2" in response.content.decode()
    template.refresh_from_db()
    assert template.version == 2 and template.nodes == workflow.nodes


def test_republishing_without_the_source_workflow_says_why(owner: User, workflow: Workflow,
                                                           template: Template) -> None:
    workflow.delete()
    client = logged_in(owner)
    assert "cannot be republished" in page(client, f"/templates/{template.pk}/")
    response = client.post(f"/templates/{template.pk}/republish")
    assert response.status_code == 409 and "no longer exists" in response.content.decode()
    assert Template.objects.get(pk=template.pk).version == 1


# --- Publish as template from the workflow list -----------------------------------------------

def test_the_workflow_list_offers_publish_to_members_who_may(owner: User, viewer: User,
                                                             workflow: Workflow) -> None:
    link = f'href="/workflows/{workflow.pk}/publish"'
    assert link in page(logged_in(owner), "/workflows/")
    assert link not in page(logged_in(viewer), "/workflows/")


def test_publishing_from_the_form_makes_a_template_and_opens_it(teammate: User, team: Team,
                                                                workflow: Workflow) -> None:
    client = logged_in(teammate)
    html = page(client, f"/workflows/{workflow.pk}/publish")
    assert "<title>Publish as template · Fox pipeline · Wireflow</title>" in html
    assert 'value="Fox pipeline"' in html and 'value="public"' in html
    response = client.post(f"/workflows/{workflow.pk}/publish", {
        "name": "Teammate's fox", "description": "Shared", "tags": "fox, print, fox, ",
        "scope": "team"})
    made = Template.objects.get(name="Teammate's fox")
    assert response.status_code == 302 and response["Location"] == f"/templates/{made.pk}/"
    assert made.team == team and made.author == teammate and made.scope == "team"
    assert made.tags == ["fox", "print"] and made.version == 1
    assert made.source_workflow == workflow


def test_publishing_again_offers_republishing_which_bumps_the_version(
        owner: User, workflow: Workflow, template: Template) -> None:
    client = logged_in(owner)
    html = page(client, f"/workflows/{workflow.pk}/publish")
    assert 'data-testid="republish-note"' in html and "Republish (version 2)" in html
    assert 'value="Fox template"' in html  # the template's card, to change or keep
    response = client.post(f"/workflows/{workflow.pk}/publish", {
        "name": "Fox template", "description": "Better", "tags": "fox", "scope": "public"})
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.version, template.description, template.scope) == (2, "Better", "public")
    assert Template.objects.filter(team__isnull=False).count() == 1
    separate = page(client, f"/workflows/{workflow.pk}/publish?new=1")
    assert 'data-testid="republish-note"' not in separate and 'name="mode" value="new"' in separate
    client.post(f"/workflows/{workflow.pk}/publish?new=1", {
        "name": "Another", "tags": "", "scope": "team", "mode": "new"})
    assert Template.objects.filter(team__isnull=False).count() == 2


def test_an_editor_who_cannot_republish_anothers_template_publishes_a_new_one(
        teammate: User, workflow: Workflow, template: Template) -> None:
    client = logged_in(teammate)
    html = page(client, f"/workflows/{workflow.pk}/publish")
    assert 'data-testid="republish-note"' not in html
    client.post(f"/workflows/{workflow.pk}/publish", {"name": "Mine", "scope": "team",
                                                      "mode": "new"})
    assert Template.objects.get(pk=template.pk).version == 1
    assert Template.objects.get(name="Mine").author == teammate


@pytest.mark.parametrize(("fields", "error"), [
    ({"name": " "}, "This field is required."),
    ({"name": "n" * 201}, "at most 200 characters"),
    ({"description": "d" * 2001}, "at most 2000 characters"),
    ({"tags": ",".join(f"t{i}" for i in range(21))}, "Up to 20 tags"),
    ({"tags": "t" * 51}, "Up to 20 tags"),
    ({"scope": "starter"}, "Select a valid choice"),
])
def test_publishing_shows_form_errors(owner: User, workflow: Workflow, fields: dict[str, str],
                                      error: str) -> None:
    response = logged_in(owner).post(f"/workflows/{workflow.pk}/publish",
                                     {"name": "Fox", "scope": "team", **fields})
    assert response.status_code == 200 and error in response.content.decode()
    assert not Template.objects.filter(team__isnull=False).exists()


def test_with_public_templates_turned_off_the_form_offers_the_team_only(
        owner: User, workflow: Workflow, settings: Any) -> None:
    settings.PUBLIC_TEMPLATES_ENABLED = False
    client = logged_in(owner)
    html = page(client, f"/workflows/{workflow.pk}/publish")
    assert 'value="public"' not in html and 'data-testid="public-disabled"' in html
    response = client.post(f"/workflows/{workflow.pk}/publish", {"name": "Fox",
                                                                 "scope": "public"})
    assert "Select a valid choice" in response.content.decode()
    assert not Template.objects.filter(team__isnull=False).exists()


def test_a_viewer_cannot_publish_and_a_stranger_gets_404(viewer: User, stranger: User,
                                                         workflow: Workflow) -> None:
    client = logged_in(viewer)
    html = page(client, f"/workflows/{workflow.pk}/publish")
    assert 'data-testid="publish-not-allowed"' in html and 'data-testid="publish-form"' not in html
    response = client.post(f"/workflows/{workflow.pk}/publish", {"name": "x", "scope": "team"})
    assert response.status_code == 403
    page(logged_in(stranger), f"/workflows/{workflow.pk}/publish", status=404)
    assert logged_in(stranger).post(f"/workflows/{workflow.pk}/publish",
                                    {"name": "x", "scope": "team"}).status_code == 404
    page(logged_in(stranger), "/workflows/not-a-uuid/publish", status=404)
    assert not Template.objects.filter(team__isnull=False).exists()

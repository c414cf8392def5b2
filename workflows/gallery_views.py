"""The template gallery's pages: the gallery, a template's page (its graph on the editor's
read-only canvas, Use, Unpublish, Republish) and "Publish as template" for a workflow.

Every member sees the gallery and a template's page; using, publishing and changing ask
accounts/permissions.py (through workflows/templates.py), so a forged POST is a 403 page.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Team, User
from accounts.permissions import Action, ForbiddenRole, user_may
from accounts.selectors import current_team_for_user
from executions.run_inputs import run_inputs
from wireflow_site.errors import ApiError, InvalidRequest, NotFound

from . import services
from . import templates as gallery
from .models import Template, TemplateScope, Workflow
from .pages import workflow_or_404

PAGE_SIZE = 24
SCOPE_LABELS: dict[str, str] = {TemplateScope.STARTER: "Starter", TemplateScope.TEAM: "Team",
                                TemplateScope.PUBLIC: "Public"}
FORBIDDEN = "Your role in this team cannot do this"


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required guarantees it
    return request.user


def _team_json(team: Team | None) -> dict[str, Any] | None:
    return {"id": team.pk, "name": team.name} if team else None


# --- Forms --------------------------------------------------------------------------------

class TemplateForm(forms.Form):
    name = forms.CharField(max_length=gallery.NAME_MAX)
    description = forms.CharField(required=False, max_length=gallery.DESCRIPTION_MAX,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    tags = forms.CharField(required=False, max_length=gallery.TAGS_MAX * (gallery.TAG_MAX + 2),
                           help_text=f"Separated by commas: up to {gallery.TAGS_MAX} tags of "
                                     f"{gallery.TAG_MAX} characters each.")
    scope = forms.ChoiceField(label="Share with", widget=forms.RadioSelect, choices=[])

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(TemplateScope.TEAM.value, f"{team.name} only (Team)")]
        if settings.PUBLIC_TEMPLATES_ENABLED:
            choices.append((TemplateScope.PUBLIC.value,
                            "Everyone on this Wireflow site (Public)"))
        scope = self.fields["scope"]
        assert isinstance(scope, forms.ChoiceField)
        scope.choices = choices

    def clean_tags(self) -> list[str]:
        tags: list[str] = []
        for tag in (t.strip() for t in self.cleaned_data["tags"].split(",")):
            if tag and tag not in tags:
                tags.append(tag)
        if len(tags) > gallery.TAGS_MAX or any(len(t) > gallery.TAG_MAX for t in tags):
            raise forms.ValidationError(f"Up to {gallery.TAGS_MAX} tags of "
                                        f"{gallery.TAG_MAX} characters each.")
        return tags

    def data_for_template(self) -> gallery.TemplateData:
        cleaned = self.cleaned_data
        return gallery.TemplateData(name=cleaned["name"], description=cleaned["description"],
                                    tags=cleaned["tags"], scope=cleaned["scope"])


class UseForm(forms.Form):
    name = forms.CharField(label="Name of the new workflow", max_length=gallery.NAME_MAX)


# --- The gallery --------------------------------------------------------------------------

@dataclass(frozen=True)
class Card:
    template: Template
    preview: gallery.Preview | None
    node_count: int
    estimated_credits: float
    scope_label: str
    author: str
    category: str  # of the node a card without a preview is drawn for
    lead_label: str


def cards(templates: list[Template]) -> list[Card]:
    found = gallery.previews(templates)
    return [_card(t, found.get(t.pk)) for t in templates]


def _card(template: Template, preview: gallery.Preview | None) -> Card:
    category, label = gallery.lead_node(template.nodes)
    return Card(template=template, preview=preview, node_count=gallery.node_count(template.nodes),
                estimated_credits=services.estimate_credits(template.nodes),
                scope_label=SCOPE_LABELS.get(template.scope, template.scope),
                author=_author(template), category=category, lead_label=label)


def _author(template: Template) -> str:
    author = gallery.author_of(template)
    return author["name"] if author else "Wireflow"


def _filters(request: HttpRequest) -> gallery.TemplateFilter:
    scope = request.GET.get("scope", "")
    return gallery.TemplateFilter(
        scope=scope if scope in TemplateScope.values else None,
        q=request.GET.get("q", "").replace("\x00", "").strip()[:gallery.QUERY_MAX],
        tag=request.GET.get("tag", "").replace("\x00", "").strip()[:gallery.TAG_MAX])


def _link(filters: gallery.TemplateFilter, **changes: str | None) -> str:
    params = {"scope": filters.scope or "", "q": filters.q, "tag": filters.tag, **changes}
    query = urlencode({k: v for k, v in params.items() if v})
    return f"?{query}" if query else "?"


def _chips(filters: gallery.TemplateFilter, tags: list[str]) -> dict[str, list[dict[str, Any]]]:
    scopes = [{"label": "All", "url": _link(filters, scope=None),
               "current": filters.scope is None}]
    scopes += [{"label": label, "url": _link(filters, scope=scope),
                "current": filters.scope == scope} for scope, label in SCOPE_LABELS.items()]
    shown = tags if not filters.tag or filters.tag in tags else [filters.tag, *tags]
    return {"scopes": scopes, "tags": [
        {"label": tag, "current": tag == filters.tag,
         "url": _link(filters, tag=None if tag == filters.tag else tag)} for tag in shown]}


@login_required
@never_cache
def template_gallery(request: HttpRequest) -> HttpResponse:
    team = current_team_for_user(_user(request))
    filters = _filters(request)
    page = gallery.TemplatePage(templates=[], next_cursor=None)
    if team is not None:
        try:
            page = gallery.templates_for_team(team, filters=filters, limit=PAGE_SIZE,
                                              cursor=request.GET.get("cursor", "")[:200])
        except InvalidRequest:  # a cursor edited by hand: the first page
            page = gallery.templates_for_team(team, filters=filters, limit=PAGE_SIZE)
    return render(request, "workflows/gallery.html", {
        "team": team, "cards": cards(page.templates), "filters": filters,
        "chips": _chips(filters, gallery.template_tags(team) if team else []),
        "filtered": bool(filters.scope or filters.q or filters.tag),
        "next_url": _link(filters, cursor=page.next_cursor) if page.next_cursor else None,
        "first_url": _link(filters) if request.GET.get("cursor") else None,
    })


# --- A template's page ----------------------------------------------------------------------

def _template_or_404(user: User, template_id: str) -> Template:
    try:
        return gallery.template_get_for_user(user, template_id)
    except NotFound as exc:
        raise Http404("Template not found") from exc


def _detail(request: HttpRequest, template: Template, *, use_form: UseForm | None = None,
            status: int = 200) -> HttpResponse:
    user = _user(request)
    team = current_team_for_user(user)
    config = {"mode": "view", "workflowId": None,
              "graph": {"nodes": template.nodes, "edges": template.edges},
              "csrfToken": get_token(request), "apiBase": "/api/v1", "listUrl": "/templates/",
              "team": _team_json(team)}
    card = cards([template])[0]
    return render(request, "workflows/template_detail.html", {
        "template": template, "card": card, "config": config, "team": team,
        "inputs": run_inputs(template.nodes),
        "can_use": team is not None and user_may(user, team, Action.USE_TEMPLATE),
        "can_change": gallery.template_may_change(template, user),
        "use_form": use_form or UseForm(initial={"name": template.name}),
        "confirm_unpublish": request.GET.get("confirm") == "unpublish",
        "source_exists": template.source_workflow_id is not None,
    }, status=status)


@login_required
@never_cache
def template_detail(request: HttpRequest, template_id: str) -> HttpResponse:
    return _detail(request, _template_or_404(_user(request), template_id))


def _refused(request: HttpRequest, template: Template, message: str = FORBIDDEN
             ) -> HttpResponse:
    messages.error(request, f"{message}. Ask an owner or admin of the team for another role.")
    return _detail(request, template, status=403)


@login_required
@require_POST
def template_use(request: HttpRequest, template_id: str) -> HttpResponse:
    user = _user(request)
    template = _template_or_404(user, template_id)
    team = current_team_for_user(user)
    if team is None or not user_may(user, team, Action.USE_TEMPLATE):
        return _refused(request, template)
    form = UseForm(request.POST)
    if not form.is_valid():
        return _detail(request, template, use_form=form, status=400)
    try:
        workflow = gallery.template_use(template, user=user, team=team,
                                        name=form.cleaned_data["name"])
    except ForbiddenRole:
        return _refused(request, template)
    except ApiError as error:
        messages.error(request, error.message)
        return _detail(request, template, use_form=form, status=error.status)
    messages.success(request, f"{workflow.name} was made from the template {template.name}.")
    return redirect("workflow_edit", workflow_id=workflow.pk)


@login_required
@require_POST
def template_unpublish(request: HttpRequest, template_id: str) -> HttpResponse:
    user = _user(request)
    template = _template_or_404(user, template_id)
    try:
        gallery.template_delete(template, user=user)
    except ForbiddenRole:
        return _refused(request, template)
    messages.success(request, f"The template {template.name} was unpublished. Workflows "
                              "made from it keep their graph.")
    return redirect("template_gallery")


@login_required
@require_POST
def template_republish(request: HttpRequest, template_id: str) -> HttpResponse:
    user = _user(request)
    template = _template_or_404(user, template_id)
    source = template.source_workflow
    if source is None:
        if not gallery.template_may_change(template, user):
            return _refused(request, template)
        messages.error(request, "The workflow this template was published from no longer "
                                "exists: publish another workflow instead.")
        return _detail(request, template, status=409)
    try:
        updated = gallery.template_update(template, user=user, data=gallery.TemplateData(),
                                          workflow=source)
    except ForbiddenRole:
        return _refused(request, template)
    except ApiError as error:
        messages.error(request, error.message)
        return _detail(request, template, status=error.status)
    messages.success(request, f"Republished from {source.name}: now version "
                              f"{updated.version}.")
    return redirect("template_detail", template_id=template.pk)


# --- Publish a workflow as a template -------------------------------------------------------

def _publish_initial(workflow: Workflow, existing: Template | None) -> dict[str, Any]:
    source: Any = existing or workflow
    tags = source.tags if isinstance(source.tags, list) else []
    return {"name": source.name[:gallery.NAME_MAX],
            "description": source.description[:gallery.DESCRIPTION_MAX],
            "tags": ", ".join(t for t in tags if isinstance(t, str)),
            "scope": existing.scope if existing else TemplateScope.TEAM.value}


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def workflow_publish(request: HttpRequest, workflow_id: str) -> HttpResponse:
    user = _user(request)
    workflow = workflow_or_404(user, workflow_id)
    published = gallery.template_published_from(workflow)
    as_new = request.GET.get("new") == "1" or request.POST.get("mode") == "new"
    existing = published if published and not as_new \
        and gallery.template_may_change(published, user) else None
    can_publish = user_may(user, workflow.team, Action.PUBLISH_TEMPLATE)
    form = TemplateForm(initial=_publish_initial(workflow, existing), team=workflow.team)
    status = 200
    if request.method == "POST":
        if not can_publish:
            messages.error(request, f"{FORBIDDEN}: viewers cannot publish templates.")
            status = 403
        else:
            form = TemplateForm(request.POST, team=workflow.team)
            template = _publish(form, workflow, existing, user)
            if template is not None:
                messages.success(request, _published_message(template, existing))
                return redirect("template_detail", template_id=template.pk)
    return render(request, "workflows/publish.html", {
        "workflow": workflow, "form": form, "existing": existing, "published": published,
        "can_publish": can_publish,
        "public_enabled": settings.PUBLIC_TEMPLATES_ENABLED}, status=status)


def _publish(form: TemplateForm, workflow: Workflow, existing: Template | None,
             user: User) -> Template | None:
    if not form.is_valid():
        return None
    try:
        if existing is not None:
            return gallery.template_update(existing, user=user, data=form.data_for_template(),
                                           workflow=workflow)
        return gallery.template_publish(workflow, user=user, data=form.data_for_template())
    except ApiError as error:
        form.add_error(None, error.message)
        return None


def _published_message(template: Template, existing: Template | None) -> str:
    if existing is not None:
        return f"Republished {template.name}: now version {template.version}."
    return f"Published {template.name} to the gallery."

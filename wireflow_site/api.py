"""The one NinjaAPI. Every error — ours, ninja's, Django's — leaves here as the error body."""

import json
import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import Swagger, render_template
from ninja.parser import Parser

from .errors import (
    ApiError,
    InternalError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    render_error,
    unavailable_error,
)
from .jsonbody import RENDERER, MalformedJson, parse_json

logger = logging.getLogger("wireflow.api")


InvalidJson = MalformedJson


class JsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        return parse_json(request.body)


class SessionSwagger(Swagger):
    """Swagger UI whose "Try it out" also works for the person signed in to the site: its calls
    carry the page's CSRF token, which the API checks on a browser session's writes (a call
    with a key from "Authorize" needs none). ninja adds the token only for an API-wide auth."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {"swagger_settings": json.dumps(self.settings, indent=1), "api": api,
                   "add_csrf": True}
        return render_template(request, self.template, self.template_cdn, context)


api = NinjaAPI(
    title="Wireflow API",
    version="1.0.0",
    description="Build and run AI pipelines. Authenticate with `Authorization: Bearer sk-wf_...`.",
    urls_namespace="api",
    parser=JsonParser(),
    renderer=RENDERER,
    docs=SessionSwagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return render_error(exc)


_PARAM_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}


def _describe(error: dict[str, Any]) -> str:
    # ninja's loc is (source, [body parameter name], field...); clients know only the field.
    loc = [str(part) for part in error.get("loc", ())]
    if loc and loc[0] in _PARAM_SOURCES:
        loc = loc[1:]
    if loc and loc[0] == "payload":
        loc = loc[1:]
    field = ".".join(loc) or "body"
    return f"{field}: {error.get('msg', 'invalid')}"


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = [_describe(e) for e in exc.errors]
    fields = sorted({p.split(":", 1)[0] for p in problems})
    message = "Invalid request: " + "; ".join(problems[:10])
    return render_error(InvalidRequest(message, fields=fields))


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 429: "rate_limited"}


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, InvalidJson):
        return render_error(InvalidRequest("Malformed JSON body", code="invalid_json"))
    if isinstance(exc.__cause__, RequestDataTooBig):
        return render_error(PayloadTooLarge())
    if isinstance(exc, AuthenticationError):
        return render_error(Unauthenticated("Missing Authorization header",
                                      code="missing_authorization"))
    return render_error(ApiError(str(exc), code=_HTTP_CODES.get(exc.status_code, "error"),
                           status=exc.status_code))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return render_error(NotFound())


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return render_error(PayloadTooLarge())


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    busy = unavailable_error(exc)
    if busy is not None:
        logger.warning("busy on %s %s: %s", request.method, request.path, exc)
        return render_error(busy)
    logger.exception("unhandled API error on %s %s", request.method, request.path)
    return render_error(InternalError())


def _mount_routers() -> None:
    from accounts.api import router as developer_router
    from accounts.providers_api import router as providers_router
    from accounts.team_api import router as team_router
    from executions.api import router as executions_router
    from executions.batches_api import router as batches_router
    from executions.estimate_api import router as estimate_router
    from executions.run_api import router as run_router
    from executions.runs_api import router as runs_router
    from executions.schedules_api import router as schedules_router
    from executions.sse import router as events_router
    from executions.stats_api import router as stats_router
    from executions.uploads_api import router as uploads_router
    from workflows.api import router as workflows_router
    from workflows.generate_api import router as generate_router
    from workflows.nodes.api import router as nodes_router
    from workflows.sharing_api import router as sharing_router
    from workflows.templates_api import router as templates_router
    from workflows.versions_api import router as versions_router

    api.add_router("/nodes", nodes_router)
    # Routers whose paths span several prefixes (/executions and /workflows/executions/...).
    api.add_router("", runs_router)
    api.add_router("", stats_router)
    api.add_router("", schedules_router)
    api.add_router("", batches_router)
    api.add_router("", uploads_router)
    # Executions first: its literal "executions/..." paths must win over "{workflow_id}".
    api.add_router("/workflows", executions_router)
    api.add_router("/workflows", run_router)
    api.add_router("/workflows", estimate_router)
    api.add_router("/workflows", events_router)
    api.add_router("/workflows", versions_router)
    api.add_router("/workflows", generate_router)  # "generate/stream" before "{workflow_id}"
    api.add_router("/workflows", sharing_router)
    api.add_router("/workflows", workflows_router)
    api.add_router("/developer", developer_router)
    api.add_router("/team", team_router)
    api.add_router("/providers", providers_router)
    api.add_router("/templates", templates_router)


_mount_routers()

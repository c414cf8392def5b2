"""Provider completion webhooks: a signed URL per node run, so deliveries cannot be forged."""

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from wireflow_site.errors import NotFound, render_error
from workflows.schemas import storable_json_problem

from .engine.nodectx import note_webhook_arrived, read_hook_token
from .services import provider_hook_received


@csrf_exempt
@require_POST
def provider_hook(request: HttpRequest, token: str) -> JsonResponse:
    parsed = read_hook_token(token)
    if parsed is None:
        return render_error(NotFound("Webhook not found"))
    run_id, attempt = parsed
    provider_hook_received(run_id, attempt, _json_object(request.body))
    note_webhook_arrived()
    return JsonResponse({"ok": True})


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """The delivery, or None when it cannot be kept (not a JSON object, or JSON PostgreSQL
    refuses to store): the engine then asks the provider for the result itself."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or storable_json_problem(body):
        return None
    return body

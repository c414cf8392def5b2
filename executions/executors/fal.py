"""The executor shared by every named fal.ai model node (workflows/nodes/fal.py): params
become fal's input JSON, the queue job is submitted, checked and fetched through FalClient, and
fal's output becomes ports. Each node type's executor is configured from its declaration."""

from dataclasses import dataclass
from typing import Any, Literal, cast

from django.conf import settings

from executions.engine.contracts import (
    NodeContext,
    NodeFailure,
    NodeResult,
    RemoteJob,
    RemoteStatus,
)
from executions.providers.credentials import NoProviderKey
from executions.providers.fal import FalClient, fal_client, parse_webhook
from workflows.nodes import catalogue
from workflows.nodes.fal import VIDEO_OUTPUTS
from workflows.nodes.registry import BaseParams, NodeType

from .runtime import absolute
from .table import executes

MEDIA_FIELDS = ("image_url", "image_urls", "audio_url", "video_url")
COMMON_PARAMS = frozenset(BaseParams.model_fields)  # retries, timeout, …: never sent to fal


def client(ctx: NodeContext | None = None) -> FalClient:
    """The node's team's key and base URL when it set one (Settings > Providers), else the
    platform's; without FAL_KEY that is the built-in simulator, which wants its own key."""
    if ctx is None:
        return fal_client()
    if ctx.credentials is None:
        raise NodeFailure(str(NoProviderKey("fal")))
    return FalClient(ctx.credentials.base_url, ctx.credentials.api_key)


async def submit_job(ctx: NodeContext, model_id: str, body: dict[str, Any]) -> RemoteJob:
    """Submit to fal's queue on the node's key, the engine's webhook attached."""
    sub = await client(ctx).submit(model_id, body, webhook_url=ctx.webhook_url or None)
    return RemoteJob(request_id=sub.request_id,
                     urls={"status": sub.status_url, "response": sub.response_url,
                           "cancel": sub.cancel_url},
                     webhook=bool(ctx.webhook_url))


async def check_job(ctx: NodeContext, job: RemoteJob) -> RemoteStatus:
    """Done once the webhook delivered; else fal's status answer."""
    if job.delivered is not None:
        return RemoteStatus(done=True)
    status = await client(ctx).status(job.urls["status"])
    if status.failed:
        raise NodeFailure(status.error or "the model reported an error")
    return RemoteStatus(done=status.done, progress=status.progress, logs=status.logs)


@dataclass(frozen=True)
class FalModelExecutor:
    model_id: str
    output: Literal["images", "video"]
    price: float
    unit: Literal["image", "second", "megapixel"]
    edit_model_id: str | None = None
    kind: Literal["remote"] = "remote"

    def payload(self, ctx: NodeContext) -> dict[str, Any]:
        params = ctx.params
        fields = set(type(params).model_fields) - COMMON_PARAMS
        body = {key: value for key, value in params.model_dump(include=fields).items()
                if value is not None and value != ""}
        for key in MEDIA_FIELDS:
            if key in body:
                body[key] = absolute(body[key])
        simulate = (params.model_extra or {}).get("simulate")
        if settings.SIMULATORS_ENABLED and isinstance(simulate, str):
            body["simulate"] = simulate
        return body

    def model_for(self, body: dict[str, Any]) -> str:
        if self.edit_model_id and body.get("image_urls"):
            return self.edit_model_id
        return self.model_id

    async def submit(self, ctx: NodeContext) -> RemoteJob:
        body = self.payload(ctx)
        return await submit_job(ctx, self.model_for(body), body)

    async def check(self, ctx: NodeContext, job: RemoteJob) -> RemoteStatus:
        return await check_job(ctx, job)

    async def fetch(self, ctx: NodeContext, job: RemoteJob) -> NodeResult:
        output = self._from_webhook(job.delivered) if job.delivered is not None else None
        if output is None:
            output = await client(ctx).result(job.urls["response"])
        ports = self.ports(output)
        return NodeResult(ports=ports, output=output, credits=self.credits(ctx, output))

    @staticmethod
    def _from_webhook(body: dict[str, Any]) -> dict[str, Any] | None:
        """fal's completion webhook carries the output; a failure there fails the node. A body
        we cannot read falls back to fetching the result."""
        try:
            hook = parse_webhook(body)
        except ValueError:
            return None
        if not hook.ok:
            raise NodeFailure(hook.error or "the model reported an error")
        return hook.payload if isinstance(hook.payload, dict) else None

    async def cancel(self, job: RemoteJob) -> None:
        if job.urls.get("cancel"):
            key = job.credentials  # the team's own key when the job runs on it
            fal = FalClient(key.base_url, key.api_key) if key is not None else client()
            await fal.cancel(job.urls["cancel"])

    def ports(self, output: dict[str, Any]) -> dict[str, Any]:
        if self.output == "video":
            video = output.get("video")
            url = video.get("url") if isinstance(video, dict) else None
            if not isinstance(url, str):
                raise NodeFailure("the model answered without a video URL")
            return {"video": url}
        images = output.get("images")
        urls = [img["url"] for img in images or [] if isinstance(img, dict)
                and isinstance(img.get("url"), str)]
        if not urls:
            raise NodeFailure("the model answered without images")
        return {"image": urls[0], "images": urls}

    def credits(self, ctx: NodeContext, output: dict[str, Any]) -> float:
        if ctx.credentials is not None and ctx.credentials.source == "team":
            return 0.0  # the team's own key: fal bills the team directly
        if self.unit == "image":
            units = float(len(output.get("images") or []))
        elif self.unit == "megapixel":
            units = sum((img.get("width") or 0) * (img.get("height") or 0)
                        for img in output.get("images") or [] if isinstance(img, dict)) / 1e6
        else:
            units = _video_seconds(ctx, output)
        return round(self.price * units, 4)


def _video_seconds(ctx: NodeContext, output: dict[str, Any]) -> float:
    video = output.get("video")
    video = video if isinstance(video, dict) else {}
    for value in (video.get("duration"), output.get("duration"),
                  getattr(ctx.params, "duration", None)):
        try:
            if value is not None:
                return float(value)
        except (TypeError, ValueError):
            continue
    return cast(BaseParams, ctx.params).billable_units()


def for_model(node_type: NodeType) -> FalModelExecutor:
    """A named fal node's executor, configured from its declaration."""
    assert node_type.fal_model_id and node_type.credit_unit in ("image", "second", "megapixel")
    return FalModelExecutor(
        model_id=node_type.fal_model_id,
        output="video" if node_type.outputs == VIDEO_OUTPUTS else "images",
        price=node_type.credits,
        unit=cast(Literal["image", "second", "megapixel"], node_type.credit_unit),
        edit_model_id=node_type.fal_edit_model_id)


for _node_type in catalogue.values():
    if _node_type.fal_model_id:
        executes(_node_type.node_type, for_model(_node_type))

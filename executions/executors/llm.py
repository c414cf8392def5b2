"""The LLM nodes' one call each (`llm:chat` on any OpenAI-compatible API, `llm:claude` on
Anthropic's), made on the remote path (executions.engine.calls.Direct): the answer streams to the
node's viewers, and the run is charged what the provider reports it used (workflows/nodes/llm.py
prices it), or 0 on the team's own key."""

import asyncio
import base64
import json
from typing import Any

from executions.engine.calls import Direct, Stream
from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from executions.media import open_media_by_url
from executions.providers import anthropic_chat, openai_chat
from executions.providers.openai_chat import Image
from workflows.nodes.llm import TIMEOUT_SECONDS, LlmParams, token_credits

from .runtime import MAX_IMAGE_BYTES, absolute
from .table import executes

QUOTED_CHARS = 200  # of an answer that is not JSON, in the failure
def parse_json_answer(text: str, stop_reason: str | None = None) -> Any:
    """The answer as JSON (a ```json fence around it is accepted), else a NodeFailure that
    quotes its start."""
    body = text.strip()
    if body.startswith("```"):
        body = body.partition("\n")[2].rstrip().removesuffix("```")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        cut = " (it stopped at max_tokens)" if stop_reason in ("length", "max_tokens") else ""
        raise NodeFailure(f"JSON output was asked for, but the answer is not valid JSON{cut}: "
                          f"{text[:QUOTED_CHARS]!r}") from exc


async def _answer(ctx: NodeContext, stream: Stream, provider: str) -> NodeResult:
    params = ctx.params
    assert isinstance(params, LlmParams)
    credentials = ctx.credentials
    if credentials is None:
        raise NodeFailure(f"no API key for {provider}: set one in Settings > Providers")
    if not params.prompt.strip():
        raise NodeFailure("The prompt is empty: write one or connect the prompt input.")
    client = openai_chat if provider == "openai" else anthropic_chat
    image = await asyncio.to_thread(_read_image, params.image_url) if params.image_url else None
    answer = await client.complete(
        openai_chat.ChatRequest(model=params.model, prompt=params.prompt, system=params.system,
                                temperature=params.temperature, max_tokens=params.max_tokens,
                                json_mode=params.json_output, image=image),
        api_key=credentials.api_key, base_url=credentials.base_url, on_text=stream.text,
        deadline=float(params.timeoutSeconds or TIMEOUT_SECONDS))
    output: dict[str, Any] = {
        "text": answer.text, "model": answer.model,
        "usage": {"inputTokens": answer.input_tokens, "outputTokens": answer.output_tokens}}
    ports: dict[str, Any] = {"text": answer.text}
    if params.json_output:
        output["json"] = ports["json"] = parse_json_answer(answer.text, answer.stop_reason)
    if answer.simulated:
        output["simulated"] = True
    credits = 0.0 if credentials.source == "team" else round(
        token_credits(params.model, answer.input_tokens, answer.output_tokens), 4)
    return NodeResult(ports=ports, output=output, credits=credits)


_IMAGE_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
                (b"GIF8", "image/gif"))


def _read_image(url: str) -> Any:
    """This site's own image inline (the provider cannot reach our media); any other https
    image by its URL, for the provider to fetch (nothing user-supplied is fetched here)."""
    content = open_media_by_url(str(absolute(url)))
    if content is None:
        if not url.startswith("https://"):
            raise NodeFailure("The image must be an upload or a public https:// URL.")
        return Image(url=url)
    if len(content) > MAX_IMAGE_BYTES:
        raise NodeFailure(f"The image is larger than {MAX_IMAGE_BYTES:,} bytes.")
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        media_type = "image/webp"
    else:
        media_type = next((kind for magic, kind in _IMAGE_MAGIC if content.startswith(magic)),
                          "")
    if not media_type:
        raise NodeFailure("The image is not a PNG, JPEG, GIF or WebP file.")
    return Image(media_type, base64.b64encode(content).decode())


async def chat_call(ctx: NodeContext, stream: Stream) -> NodeResult:
    return await _answer(ctx, stream, "openai")


async def claude_call(ctx: NodeContext, stream: Stream) -> NodeResult:
    return await _answer(ctx, stream, "anthropic")


executes("llm:chat", Direct(call=chat_call))
executes("llm:claude", Direct(call=claude_call))

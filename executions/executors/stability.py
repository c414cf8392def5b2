"""`stability:generate`'s one call to Stability AI (executions.engine.calls.Direct): the image
is stored as the node's media and charged at workflows/nodes/stability.py's price per model, or
0 on the team's own key."""

import asyncio
import io
from typing import Any, cast

from PIL import Image

from executions.engine.calls import Direct, Stream
from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from executions.media import save_media
from executions.providers.errors import ProviderError
from executions.providers.stability import StabilityClient
from workflows.nodes.stability import CONTENT_TYPES, EXTENSIONS, MODEL_PRICES, StabilityParams

from .table import executes


async def generate(ctx: NodeContext, stream: Stream) -> NodeResult:
    params = cast(StabilityParams, ctx.params)
    credentials = ctx.credentials
    if credentials is None:
        raise NodeFailure("no API key for stability: set one in Settings > Providers")
    if not params.prompt.strip():
        raise NodeFailure("there is no prompt to draw")
    client = StabilityClient(credentials.base_url, credentials.api_key)
    image = await client.generate(
        model=params.model, prompt=params.prompt, negative_prompt=params.negative_prompt,
        aspect_ratio=params.aspect_ratio, seed=params.seed, output_format=params.output_format,
        style_preset=params.style_preset)
    width, height = _size_of(image.content)
    content_type = CONTENT_TYPES[params.output_format]
    url = await asyncio.to_thread(save_media, image.content, EXTENSIONS[params.output_format],
                                  content_type, folder="nodes")
    output: dict[str, Any] = {"images": [{"url": url, "width": width, "height": height,
                                          "content_type": content_type}],
                              "seed": image.seed}
    if image.simulated:
        output["simulated"] = True
    credits = 0.0 if credentials.source == "team" else MODEL_PRICES[params.model]
    return NodeResult(ports={"image": url, "images": [url]}, output=output, credits=credits)


def _size_of(content: bytes) -> tuple[int, int]:
    """From the image's header (no pixels decoded); a body that is no image is the
    provider's error."""
    try:
        with Image.open(io.BytesIO(content), formats=("PNG", "JPEG", "WEBP")) as opened:
            width, height = opened.size
    except Exception as exc:  # Pillow raises many kinds on a corrupt file
        raise ProviderError("stability answered an image that cannot be read") from exc
    return int(width), int(height)


executes("stability:generate", Direct(call=generate))

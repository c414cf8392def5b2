"""What a priced node may cost, known before it runs: its line of the estimate (reserved when
the execution started) and the bound measured on the params and media it runs with, which the
execution's reservation must cover before the node is submitted (accounts/credits.py)."""

import asyncio
import io
import logging
from collections.abc import Callable

from accounts.credits import LineItem, to_credits
from executions.executors.runtime import absolute, read_media
from workflows.nodes.llm import estimate_tokens
from workflows.nodes.registry import BaseParams, NodeType

from .graphview import GraphView
from .nodectx import NodeInput

logger = logging.getLogger("wireflow.engine")


def line_item(graph: GraphView, node_id: str) -> LineItem:
    """The node's line of the estimate, priced as execute priced it."""
    spec: NodeType = graph.specs[node_id]
    connected = {link.target_port for link in graph.incoming[node_id]}
    price = spec.estimate_credits(graph.params(node_id), connected)
    return LineItem(node_id=node_id, node_label=graph.label(node_id),
                    node_type=spec.node_type, credits=to_credits(price))


async def cost_bound(prepared: NodeInput) -> float:
    """The most this run can cost: the params that run, and the measured input media."""
    params: BaseParams = prepared.params
    media = type(params).measured_media
    measured = None
    if media is not None:
        field, kind = media
        url = getattr(params, field, "")
        measured = await asyncio.to_thread(MEASURES[kind], url) if url else None
    return round(prepared.spec.credits * params.bound_units(measured), 4)


def image_megapixels(url: str) -> float | None:
    """From the image's header (Pillow reads no pixels to tell its size)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(_read(url))) as image:
            width, height = image.size
    except Exception:  # unreadable: the caller assumes the worst
        logger.info("could not measure the image %s", url, exc_info=True)
        return None
    return width * height / 1e6


def audio_seconds(url: str) -> float | None:
    import mutagen

    try:
        audio = mutagen.File(io.BytesIO(_read(url)))
        length = float(audio.info.length)
    except Exception:  # unreadable or not audio: the caller assumes the worst
        logger.info("could not measure the audio %s", url, exc_info=True)
        return None
    return length if length > 0 else None


def _read(url: str) -> bytes:
    return read_media(str(absolute(url)))


def text_tokens(text: str) -> float | None:
    """A text param's tokens, overestimated (UTF-8 bytes / 3 + 1): LLM nodes' prompts."""
    return estimate_tokens(text)


MEASURES: dict[str, Callable[[str], float | None]] = {
    "megapixels": image_megapixels, "seconds": audio_seconds, "tokens": text_tokens}

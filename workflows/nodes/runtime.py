"""Helpers for the node executors declared beside each node type.

Django is imported inside the functions, so that importing the catalogue (as the pure graph
tests do) needs no configured Django.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from executions.engine.contracts import NodeContext, NodeFailure, NodeResult

MAX_IMAGE_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class Inline:
    """An inline executor made of a function from the context to the output port values;
    the node's output, as users see it, is those values."""

    fn: Callable[[NodeContext], dict[str, Any]]
    kind: Literal["inline"] = "inline"

    def run(self, ctx: NodeContext) -> NodeResult:
        ports = self.fn(ctx)
        return NodeResult(ports=ports, output=dict(ports))


def read_media(url: str) -> bytes:
    """A file's bytes: ours straight from storage, anyone else's through the SSRF guard."""
    from executions import ssrf
    from executions.media import open_media_by_url

    own = open_media_by_url(url)
    if own is not None:
        return own
    try:
        response = ssrf.fetch("GET", url, max_bytes=MAX_IMAGE_BYTES, timeout=30)
    except ssrf.FetchError as exc:
        raise NodeFailure(f"could not fetch {url}: {exc}") from exc
    if response.status_code != 200:
        raise NodeFailure(f"could not fetch {url}: HTTP {response.status_code}")
    return response.content


def save_image(content: bytes, ext: str) -> str:
    from executions.media import save_media

    content_type = "image/jpeg" if ext in ("jpg", "jpeg") else f"image/{ext}"
    return save_media(content, ext, content_type, folder="nodes")

"""Helpers shared by the node executors: inline functions, bounded text, media in and out."""

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings

from executions import ssrf
from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from executions.media import open_media_by_url, save_media
from workflows.nodes.utility import MAX_IMAGE_SIDE

MAX_IMAGE_BYTES = 25 * 1024 * 1024
MAX_IMAGE_PIXELS = MAX_IMAGE_SIDE * MAX_IMAGE_SIDE
# What the local image nodes decode: the web's formats, not every format Pillow knows (some
# call out to other programs, such as Ghostscript for EPS).
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
# What a corrupt or hostile file makes Pillow's decoders raise (some plugins use SyntaxError).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError)
# Every user-supplied regular expression runs with this time bound (the regex package's
# `timeout=`, which releases the GIL while it matches).
REGEX_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Inline:
    """An inline executor made of a function from the context to the output port values;
    the node's output, as users see it, is those values.

    `pure`: the function reads nothing but its context and does no I/O (text, JSON, logic),
    bounded in time and size by itself. The engine then runs it straight away, several in a
    row, and records them together (engine/runner.py, `_pure_step`)."""

    fn: Callable[[NodeContext], dict[str, Any]]
    kind: Literal["inline"] = "inline"
    pure: bool = False
    repeatable: bool = True

    def run(self, ctx: NodeContext) -> NodeResult:
        ports = self.fn(ctx)
        return NodeResult(ports=ports, output=dict(ports))


# --- Text: bounded in time and in size ---------------------------------------------------

@contextmanager
def regex_bounds() -> Iterator[None]:
    """Turns the regex package's timeout into the node's failure. Use it around every match,
    search or substitution of a user's pattern, each called with timeout=REGEX_TIMEOUT_SECONDS."""
    try:
        yield
    except TimeoutError:
        raise NodeFailure(f"the regular expression took longer than "
                          f"{REGEX_TIMEOUT_SECONDS:g} s on this text") from None


def max_text_bytes() -> int:
    return int(settings.MAX_TEXT_BYTES)


def text_size(text: str) -> int:
    """The UTF-8 size of `text`, without encoding it when it is ASCII."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class TextBudget:
    """The bytes of text a node is about to build, counted before it builds them: a runaway
    (20,000 placeholders over a large value, a replacement multiplying its input) fails the node
    at MAX_TEXT_BYTES instead of exhausting the worker's memory."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.limit = max_text_bytes()
        self.used = 0

    def spend(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise NodeFailure(f"{self.what} would be larger than {self.limit:,} bytes (the "
                              "limit on text passed between nodes)")


# --- Media ---------------------------------------------------------------------------------

def read_media(url: str) -> bytes:
    """A file's bytes: ours straight from storage, anyone else's through the SSRF guard."""
    own = open_media_by_url(url)
    if own is not None:
        if len(own) > MAX_IMAGE_BYTES:
            raise NodeFailure(f"{url} is larger than {MAX_IMAGE_BYTES:,} bytes")
        return own
    try:
        response = ssrf.fetch("GET", url, max_bytes=MAX_IMAGE_BYTES, timeout=30)
    except ssrf.FetchError as exc:
        raise NodeFailure(f"could not fetch {url}: {exc}") from exc
    if response.status_code != 200:
        raise NodeFailure(f"could not fetch {url}: HTTP {response.status_code}")
    return response.content


def decode_image(content: bytes) -> Any:
    """A decoded PIL image, its pixel count checked from the header before decoding: a few KB
    of PNG can declare gigapixels (a decompression bomb), and decoded, each pixel costs bytes."""
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(content), formats=IMAGE_FORMATS)
    except Image.DecompressionBombError:
        raise NodeFailure(_too_many_pixels()) from None
    except _DECODE_ERRORS as exc:
        raise NodeFailure(f"not an image: {exc}") from None
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise NodeFailure(_too_many_pixels(image.size))
    try:
        image.load()
    except _DECODE_ERRORS as exc:
        raise NodeFailure(f"not an image: {exc}") from None
    return image


def _too_many_pixels(size: tuple[int, int] | None = None) -> str:
    shown = f" ({size[0]}x{size[1]})" if size else ""
    return (f"the image is too large{shown}: at most {MAX_IMAGE_PIXELS:,} pixels "
            f"({MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE})")


def check_output_size(size: tuple[int, int]) -> None:
    if max(size) > MAX_IMAGE_SIDE:
        raise NodeFailure(f"the result ({size[0]}x{size[1]}) would exceed {MAX_IMAGE_SIDE} "
                          "pixels per side")


def save_image(content: bytes, ext: str) -> str:
    content_type = "image/jpeg" if ext in ("jpg", "jpeg") else f"image/{ext}"
    return save_media(content, ext, content_type, folder="nodes")


def absolute(url: Any) -> Any:
    """Uploads and simulator media are site paths; a provider needs whole URLs."""
    if isinstance(url, str) and url.startswith("/"):
        return settings.SITE_URL + url
    if isinstance(url, list):
        return [absolute(item) for item in url]
    return url

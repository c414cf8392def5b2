"""Real media for simulated model outputs: Pillow images, MP4 videos (ffmpeg from the
imageio-ffmpeg wheel), WAV audio (stdlib `wave`).

Sizes follow the provider's rules exactly, then shrink by WIREFLOW_SIM_IMAGE_SCALE (default 0.5:
a 1024x768 request gives 512x384) to keep simulated runs fast; the aspect ratio is kept.
"""

import io
import math
import os
import random
import struct
import tempfile
import textwrap
import wave
from collections.abc import Iterable

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont

from executions import ssrf
from executions.media import open_media_by_url
from wireflow_site.env import env_float

FLUX_SIZES = {
    "square_hd": (1024, 1024), "square": (512, 512),
    "portrait_4_3": (768, 1024), "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768), "landscape_16_9": (1024, 576),
}
LONG_SIDE = {"1K": 1024, "2K": 2048, "4K": 4096}
IMAGE_FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"),
                 "jpg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp")}
MAX_INPUT_BYTES = 32 * 1024 * 1024
INPUT_TIMEOUT_SECONDS = 15.0
MAX_SIDE = 8192


class MediaInputError(Exception):
    """An input URL the simulated model could not read (the job then fails, like on fal)."""


def image_scale() -> float:
    configured = getattr(settings, "SIM_IMAGE_SCALE", None)
    scale = configured if configured is not None else env_float("WIREFLOW_SIM_IMAGE_SCALE", 0.5)
    return min(max(float(scale), 0.01), 1.0)


def scaled(size: tuple[int, int], scale: float | None = None) -> tuple[int, int]:
    factor = image_scale() if scale is None else scale
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


def size_for_aspect(aspect_ratio: str | None, resolution: str | None) -> tuple[int, int]:
    """imagen4 / nano-banana: the long side comes from the resolution (1K = 1024)."""
    long_side = LONG_SIDE.get(resolution or "1K", 1024)
    width, height = _ratio(aspect_ratio or "1:1")
    if width >= height:
        return long_side, round(long_side * height / width)
    return round(long_side * width / height), long_side


def _ratio(text: str) -> tuple[float, float]:
    left, _, right = text.partition(":")
    try:
        width, height = float(left), float(right)
    except ValueError:
        return 1.0, 1.0
    return (width, height) if width > 0 and height > 0 else (1.0, 1.0)


# --- Drawing ------------------------------------------------------------------------------

def draw_image(size: tuple[int, int], text: str, seed: int, index: int = 0) -> Image.Image:
    """A seeded two-colour gradient with the prompt and the word "simulated" on it."""
    rng = random.Random(seed * 1000 + index)
    top, bottom = _colour(rng), _colour(rng)
    image = _gradient(size, top, bottom)
    _circles(image, rng)
    _write(image, text, ink=_contrast(top, bottom))
    return image


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(30, 226), rng.randrange(30, 226), rng.randrange(30, 226)


def _gradient(size: tuple[int, int], top: tuple[int, int, int],
              bottom: tuple[int, int, int]) -> Image.Image:
    """Top to bottom, blended in C (Pillow's 256-step ramp as the mask): a tenth of the time
    of a column drawn pixel by pixel, which was most of a simulated image's cost."""
    mask = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


def _circles(image: Image.Image, rng: random.Random, count: int = 3) -> None:
    """Translucent seeded discs, so two seeds of one prompt tell apart at a glance."""
    draw = ImageDraw.Draw(image, "RGBA")
    width, height = image.size
    small = max(2, min(width, height))
    for _ in range(count):
        radius = rng.randrange(small // 8 + 1, small // 3 + 2)
        x, y = rng.randrange(width), rng.randrange(height)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(*_colour(rng), 90))


def _contrast(*colours: tuple[int, int, int]) -> tuple[int, int, int]:
    light = sum(sum(colour) for colour in colours) / (3 * len(colours))
    return (20, 20, 20) if light > 128 else (245, 245, 245)


def _write(image: Image.Image, text: str, ink: tuple[int, int, int]) -> None:
    width, height = image.size
    draw = ImageDraw.Draw(image)
    size = max(8, min(width, height) // 14)
    font = ImageFont.load_default(size=size)
    columns = max(8, int(width / (size * 0.55)))
    lines = textwrap.wrap(text, columns)[: max(1, height // (size * 2))] or [""]
    draw.multiline_text((size // 2, size // 2), "\n".join(lines), font=font, fill=ink)
    label = ImageFont.load_default(size=max(8, size // 2 + 2))
    draw.text((size // 2, height - size), "simulated", font=label, fill=ink)


def encode_image(image: Image.Image, output_format: str) -> tuple[bytes, str, str]:
    """(bytes, file extension, content type) in the requested format, PNG when unknown."""
    pil_format, content_type = IMAGE_FORMATS.get(output_format, IMAGE_FORMATS["png"])
    buffer = io.BytesIO()
    # zlib level 3: a third faster than the default for these flat pictures, hardly larger.
    options = {"compress_level": 3} if pil_format == "PNG" else {}
    image.convert("RGB").save(buffer, format=pil_format, **options)
    ext = "jpg" if pil_format == "JPEG" else pil_format.lower()
    return buffer.getvalue(), ext, content_type


def open_image(content: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(content))
        image.load()
    except (OSError, ValueError) as exc:
        raise MediaInputError("the input is not an image the simulator can read") from exc
    return image


def upscale(image: Image.Image, factor: float) -> Image.Image:
    width, height = round(image.width * factor), round(image.height * factor)
    if max(width, height) > MAX_SIDE:
        raise MediaInputError(f"the upscaled image would exceed {MAX_SIDE} pixels a side")
    return image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)


# --- Video and audio -----------------------------------------------------------------------

def render_video(size: tuple[int, int], seconds: float, text: str, seed: int,
                 first_frame: Image.Image | None = None, fps: int = 8) -> bytes:
    """An H.264 MP4 (yuv420p, so every browser plays it): a slow pan over the first frame."""
    width, height = _even(size[0]), _even(size[1])
    base = (first_frame.convert("RGB").resize((width, height)) if first_frame
            else draw_image((width, height), text, seed))
    count = max(1, round(seconds * fps))
    return _encode_mp4(_frames(base, count), (width, height), fps)


def _even(value: int) -> int:
    return max(2, value - value % 2)  # yuv420p wants even sides


def _frames(base: Image.Image, count: int) -> Iterable[bytes]:
    width, height = base.size
    for index in range(count):
        frame = base.copy()
        x = round((width - 12) * index / max(1, count - 1))
        ImageDraw.Draw(frame).rectangle((x, height - 10, x + 12, height - 4), fill=(255, 255, 255))
        yield frame.tobytes()


def _encode_mp4(frames: Iterable[bytes], size: tuple[int, int], fps: int) -> bytes:
    import imageio_ffmpeg  # heavy import (locates the bundled binary): only when a video is made

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "out.mp4")
        writer = imageio_ffmpeg.write_frames(path, size, fps=fps, codec="libx264",
                                             pix_fmt_out="yuv420p", macro_block_size=2,
                                             ffmpeg_log_level="error")
        writer.send(None)
        for frame in frames:
            writer.send(frame)
        writer.close()
        with open(path, "rb") as file:
            return file.read()


def render_wav(seconds: float, seed: int, rate: int = 16_000) -> bytes:
    """A mono 16-bit tone whose pitch comes from the seed."""
    pitch = 220 + seed % 440
    samples = (round(8000 * math.sin(2 * math.pi * pitch * i / rate))
               for i in range(round(seconds * rate)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", sample) for sample in samples))
    return buffer.getvalue()


def wav_seconds(content: bytes) -> float | None:
    try:
        with wave.open(io.BytesIO(content), "rb") as audio:
            return audio.getnframes() / float(audio.getframerate())
    except (wave.Error, EOFError, ZeroDivisionError):
        return None


# --- Inputs --------------------------------------------------------------------------------

def fetch_input(url: str) -> bytes:
    """The bytes behind an input URL. Our own media is read from storage (no HTTP round trip
    to ourselves); anything else is fetched through the SSRF guard. The simulator plays fal,
    but it runs inside the site: whoever can submit a job must not make the site fetch an
    internal address, nor read its errors."""
    own = open_media_by_url(url)
    if own is not None:
        return own
    try:
        response = ssrf.fetch("GET", url, timeout=INPUT_TIMEOUT_SECONDS, max_bytes=MAX_INPUT_BYTES)
    except ssrf.FetchError as exc:
        raise MediaInputError(f"could not fetch the input URL: {exc}") from exc
    if response.status_code >= 400:
        raise MediaInputError(f"could not fetch the input URL: HTTP {response.status_code}")
    return response.content

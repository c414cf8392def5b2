"""What each simulated fal model accepts and what it answers.

Inputs are validated at submit with pydantic, whose error list is already fal's `detail` format
(fal's apps are FastAPI). Outputs have the shapes of docs/nodes.md, with real media and
`"simulated": true`. Unknown model ids are accepted and guessed from their name, then from the
input's keys (family_for); anything else answers like fal's image models (`images` list, a PNG
with the prompt written on it).
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from executions.media import save_media

from . import media
from .directives import strip_directives
from .state import Job

OutputFormat = Literal["png", "jpeg", "jpg", "webp"]
FluxSize = Literal["square_hd", "square", "portrait_4_3", "portrait_16_9", "landscape_4_3",
                   "landscape_16_9"]
MEDIA_FOLDER = "sim"
VIDEO_LONG_SIDE = 1280
TALKING_SIZES = {"720p": (1280, 720), "480p": (854, 480)}
MAX_TALKING_SECONDS = 30.0


class _Input(BaseModel):
    model_config = ConfigDict(extra="allow")
    simulate: str | None = None  # directives for nodes without a prompt
    seed: int | None = None


class CustomSize(BaseModel):
    width: int = Field(ge=16, le=4096)
    height: int = Field(ge=16, le=4096)


class ImageIn(_Input):
    prompt: str = Field(min_length=1)
    image_size: FluxSize | CustomSize | None = None
    aspect_ratio: str | None = Field(None, pattern=r"^(auto|\d+(\.\d+)?:\d+(\.\d+)?)$")
    resolution: Literal["1K", "2K", "4K"] | None = None
    num_images: int = Field(1, ge=1, le=4)
    output_format: OutputFormat = "png"


class AnyImageIn(ImageIn):
    prompt: str = ""


class EditIn(ImageIn):
    image_urls: list[str] = Field(min_length=1, max_length=4)


class UpscaleIn(_Input):
    image_url: str = Field(min_length=1)
    scale_factor: float = Field(2, ge=1, le=4)
    output_format: OutputFormat = "png"


class VideoIn(_Input):
    prompt: str = ""
    image_url: str | None = None
    duration: int = Field(5, ge=1, le=10)  # fal sends "5" / "10"; lax mode reads them


class ImageToVideoIn(VideoIn):
    image_url: str = Field(min_length=1)


class TalkingIn(_Input):
    image_url: str = Field(min_length=1)
    audio_url: str = Field(min_length=1)
    resolution: Literal["720p", "480p"]


class AudioIn(_Input):
    prompt: str = ""
    text: str = ""
    duration: float | None = Field(None, gt=0, le=60)


Builder = Callable[[Job, Any], dict[str, Any]]


@dataclass(frozen=True)
class Family:
    schema: type[_Input]
    build: Builder


# --- Builders -----------------------------------------------------------------------------

def _seed(data: _Input, text: str) -> int:
    if data.seed is not None:
        return data.seed
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _store_image(image: Image.Image, output_format: str) -> dict[str, Any]:
    content, ext, content_type = media.encode_image(image, output_format)
    url = save_media(content, ext, content_type, folder=MEDIA_FOLDER)
    return {"url": url, "width": image.width, "height": image.height,
            "content_type": content_type}


def _store_file(content: bytes, ext: str, content_type: str) -> dict[str, Any]:
    url = save_media(content, ext, content_type, folder=MEDIA_FOLDER)
    return {"url": url, "content_type": content_type, "file_name": url.rsplit("/", 1)[-1],
            "file_size": len(content)}


def _requested_size(job: Job, data: ImageIn) -> tuple[int, int]:
    if isinstance(data.image_size, CustomSize):
        size = (data.image_size.width, data.image_size.height)
    elif data.image_size or "flux" in job.model_id:
        size = media.FLUX_SIZES[data.image_size or "landscape_4_3"]
    else:
        ratio = None if data.aspect_ratio == "auto" else data.aspect_ratio
        size = media.size_for_aspect(ratio, data.resolution)
    return media.scaled(size)


def build_images(job: Job, data: ImageIn) -> dict[str, Any]:
    text = strip_directives(data.prompt)
    seed = _seed(data, text)
    size = _requested_size(job, data)
    images = [_store_image(media.draw_image(size, text, seed, index), data.output_format)
              for index in range(data.num_images)]
    if "flux" in job.model_id or type(data) is AnyImageIn:  # as fal-ai/flux-2 answers
        return {"images": images, "timings": {"inference": job.latency}, "seed": seed,
                "has_nsfw_concepts": [False] * len(images), "prompt": data.prompt}
    return {"images": images, "seed": seed, "description": f"A simulated image of: {text}"}


def build_upscale(job: Job, data: UpscaleIn) -> dict[str, Any]:
    image = media.upscale(_open_image(data.image_url), data.scale_factor)
    return {"images": [_store_image(image, data.output_format)]}


def build_video(job: Job, data: VideoIn) -> dict[str, Any]:
    text = strip_directives(data.prompt)
    first = _open_image(data.image_url) if data.image_url else None
    shape = first.size if first else (16, 9)
    long_side = round(VIDEO_LONG_SIDE * media.image_scale())
    factor = long_side / max(shape)
    size = (round(shape[0] * factor), round(shape[1] * factor))
    video = media.render_video(size, data.duration, text, _seed(data, text), first)
    return {"video": _store_file(video, "mp4", "video/mp4")}


def build_talking(job: Job, data: TalkingIn) -> dict[str, Any]:
    face = _open_image(data.image_url)
    seconds = media.wav_seconds(media.fetch_input(data.audio_url)) or 5.0
    size = media.scaled(TALKING_SIZES[data.resolution])
    video = media.render_video(size, min(seconds, MAX_TALKING_SECONDS), "", 0, face)
    return {"video": _store_file(video, "mp4", "video/mp4")}


def build_audio(job: Job, data: AudioIn) -> dict[str, Any]:
    text = strip_directives(data.text or data.prompt)
    seconds = data.duration or min(max(len(text.split()) * 0.4, 1.0), 30.0)
    audio = {**_store_file(media.render_wav(seconds, _seed(data, text)), "wav", "audio/wav"),
             "duration": seconds}
    return {"audio": audio}


def _open_image(url: str) -> Image.Image:
    return media.open_image(media.fetch_input(url))


# --- Which model is which -----------------------------------------------------------------

IMAGE = Family(ImageIn, build_images)
ANY_IMAGE = Family(AnyImageIn, build_images)
EDIT = Family(EditIn, build_images)
UPSCALE = Family(UpscaleIn, build_upscale)
VIDEO = Family(VideoIn, build_video)
IMAGE_TO_VIDEO = Family(ImageToVideoIn, build_video)
TALKING = Family(TalkingIn, build_talking)
AUDIO = Family(AudioIn, build_audio)

KNOWN_MODELS = {
    "fal-ai/flux-2": IMAGE,
    "fal-ai/flux-2/edit": EDIT,
    "fal-ai/imagen4/preview": IMAGE,
    "fal-ai/nano-banana-pro": IMAGE,
    "fal-ai/nano-banana-pro/edit": EDIT,
    "fal-ai/kling-video/v2.5-turbo/pro/image-to-video": IMAGE_TO_VIDEO,
    "veed/fabric-1.0": TALKING,
    "clarityai/crystal-upscaler": UPSCALE,
}

# For other ids, the first word found in the id decides (fal:custom accepts any endpoint).
_GUESSES = [("upscal", UPSCALE), ("fabric", TALKING), ("lipsync", TALKING),
            ("image-to-video", IMAGE_TO_VIDEO), ("video", VIDEO), ("tts", AUDIO),
            ("speech", AUDIO), ("audio", AUDIO), ("/edit", EDIT)]


# When the id says nothing, the input's keys may: a key naming video (`video_length`, `fps`,
# `num_frames`) makes a video, one naming audio (`audio_format`, `voice`, `speech_rate`) a WAV.
# Media inputs (`audio_url`, `image_urls`) say what goes in, not what comes out: not counted.
_VIDEO_KEYS = ("video", "fps", "num_frames")
_AUDIO_KEYS = ("audio", "voice", "speech")


def family_for(model_id: str, payload: dict[str, Any] | None = None) -> Family:
    """The simulated model behind an id: a known one, else a guess from the id's words, else
    from the input's keys (above), else an image model (fal:custom accepts any endpoint)."""
    if model_id in KNOWN_MODELS:
        return KNOWN_MODELS[model_id]
    lowered = model_id.lower()
    guessed = next((family for word, family in _GUESSES if word in lowered), None)
    if guessed is not None:
        return guessed
    keys = [key.lower() for key in list(payload or {})[:1000]
            if isinstance(key, str) and not key.lower().endswith(("_url", "_urls"))]
    if any(word in key for key in keys for word in _VIDEO_KEYS):
        return VIDEO
    if any(word in key for key in keys for word in _AUDIO_KEYS):
        return AUDIO
    return ANY_IMAGE

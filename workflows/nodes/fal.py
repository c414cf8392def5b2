"""The named fal.ai model nodes (docs/nodes.md): ids, params as fal names them, and prices.

Param names, enums and defaults are fal's own, so a node's params are sent to fal as they are
(minus the common ones). Ports carry the media and text fields: a connected port overrides the
param of the same name.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from workflows.graph import Port, PortType

from .fields import LongText, MediaUrl, Seed
from .registry import BaseParams, NodeType, register

IMAGE_TIMEOUT_SECONDS = 300
VIDEO_TIMEOUT_SECONDS = 600
MAX_IMAGES = 4
# Unknown before the run (they depend on the input media), so estimates assume these...
ESTIMATED_INPUT_MEGAPIXELS = 1.0
ESTIMATED_SPEECH_SECONDS = 10.0
# ...and before a node runs the engine measures its media; these are the providers' limits,
# the most a run can cost when the media cannot be measured.
MAX_SPEECH_SECONDS = 300.0  # VEED Fabric takes at most 5 minutes of speech
MAX_OUTPUT_MEGAPIXELS = 100.0  # the Crystal upscaler's largest output
MAX_VIDEO_SECONDS = 10.0

ImageSize = Literal["square_hd", "square", "portrait_4_3", "portrait_16_9", "landscape_4_3",
                    "landscape_16_9"]


def _seconds_as_text(value: Any) -> Any:
    """fal takes the duration as text ("5"); a client sending the number 5 means the same."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


KlingDuration = Annotated[Literal["5", "10"], BeforeValidator(_seconds_as_text)]
NanoAspectRatio = Literal["21:9", "16:9", "3:2", "4:3", "5:4", "1:1", "4:5", "3:4", "2:3",
                          "9:16"]


class PromptParams(BaseParams):
    prompt: LongText = Field("", description="What to generate, unless a text is connected.")


class ImageCountParams(PromptParams):
    price_fields = frozenset({"num_images"})
    num_images: int = Field(1, ge=1, le=MAX_IMAGES, description="How many images.")
    seed: Seed = None

    def billable_units(self) -> float:
        return float(self.num_images)

    @classmethod
    def max_billable_units(cls) -> float:
        return float(MAX_IMAGES)


class Flux2Params(ImageCountParams):
    image_size: ImageSize = Field("landscape_4_3", description="Size and shape of the image.")
    num_inference_steps: int = Field(28, ge=1, le=50, description="More steps: finer, slower.")
    guidance_scale: float = Field(2.5, ge=0, le=20, description="How closely to follow the "
                                                                "prompt.")
    output_format: Literal["png", "jpeg", "webp"] = Field("png", description="File format.")


class Flux2EditParams(Flux2Params):
    image_urls: list[MediaUrl] = Field(default_factory=list, max_length=MAX_IMAGES,
                                       description="Up to 4 images to edit.")


class Imagen4Params(ImageCountParams):
    aspect_ratio: Literal["1:1", "16:9", "9:16", "4:3", "3:4"] = Field(
        "1:1", description="Shape of the image.")
    resolution: Literal["1K", "2K"] = Field("1K", description="Output resolution.")


class NanoBananaProParams(ImageCountParams):
    aspect_ratio: NanoAspectRatio = Field("1:1", description="Shape of the image.")
    resolution: Literal["1K", "2K", "4K"] = Field("1K", description="Output resolution.")
    image_urls: list[MediaUrl] = Field(default_factory=list, description="Images to edit "
                                       "(the edit model is used when there are any).")


class KlingParams(PromptParams):
    image_url: MediaUrl = Field("", description="The first frame, unless one is connected.")
    duration: KlingDuration = Field("5", description="Length in seconds.")
    negative_prompt: LongText = Field("blur, distort, and low quality",
                                      description="What to avoid.")
    cfg_scale: float = Field(0.5, ge=0, le=1, description="How closely to follow the prompt.")
    price_fields = frozenset({"duration"})

    def billable_units(self) -> float:
        return float(self.duration)

    @classmethod
    def max_billable_units(cls) -> float:
        return MAX_VIDEO_SECONDS


class FabricParams(BaseParams):
    image_url: MediaUrl = Field("", description="The face that talks, unless connected.")
    audio_url: MediaUrl = Field("", description="The speech, unless connected.")
    resolution: Literal["720p", "480p"] = Field(description="Video resolution.")

    measured_media = ("audio_url", "seconds")

    def billable_units(self) -> float:
        return ESTIMATED_SPEECH_SECONDS  # the video is as long as the audio

    @classmethod
    def max_billable_units(cls) -> float:
        return MAX_SPEECH_SECONDS

    def bound_units(self, measured: float | None) -> float:
        return MAX_SPEECH_SECONDS if measured is None else min(MAX_SPEECH_SECONDS, measured)


class CrystalParams(BaseParams):
    image_url: MediaUrl = Field("", description="The image to upscale, unless connected.")
    scale_factor: float = Field(2, ge=1, le=200, description="Multiplies width and height.")
    creativity: float = Field(0, ge=0, le=10, description="Higher: more invented detail.")
    output_format: Literal["png", "jpg"] = Field("png", description="File format.")

    price_fields = frozenset({"scale_factor"})
    measured_media = ("image_url", "megapixels")

    def billable_units(self) -> float:  # output megapixels
        return self.bound_units(ESTIMATED_INPUT_MEGAPIXELS)

    @classmethod
    def max_billable_units(cls) -> float:
        return MAX_OUTPUT_MEGAPIXELS

    def bound_units(self, measured: float | None) -> float:
        if measured is None:
            return MAX_OUTPUT_MEGAPIXELS
        return min(MAX_OUTPUT_MEGAPIXELS, measured * self.scale_factor**2)


PROMPT = Port("prompt", PortType.TEXT, "Prompt", required=True)
IMAGE_OUTPUTS = (Port("image", PortType.IMAGE, "Image"), Port("images", PortType.IMAGE, "Images"))
VIDEO_OUTPUTS = (Port("video", PortType.VIDEO, "Video"),)


def _image_urls(required: bool) -> Port:
    return Port("image_urls", PortType.IMAGE, "Images", required=required, multiple=True)


def _image_url() -> Port:
    return Port("image_url", PortType.IMAGE, "Image", required=True)


register(
    NodeType(
        node_type="generate:flux_2", label="FLUX.2", category="model",
        description="Text to image with FLUX.2 [dev] by Black Forest Labs.", params=Flux2Params,
        inputs=(PROMPT,), outputs=IMAGE_OUTPUTS, timeout_seconds=IMAGE_TIMEOUT_SECONDS,
        credits=3, credit_unit="image", fal_model_id="fal-ai/flux-2", provider="fal",
    ),
    NodeType(
        node_type="edit:flux_2_edit", label="FLUX.2 Edit", category="model",
        description="Edits up to 4 images following a prompt, with FLUX.2.",
        params=Flux2EditParams, inputs=(PROMPT, _image_urls(required=True)),
        outputs=IMAGE_OUTPUTS, timeout_seconds=IMAGE_TIMEOUT_SECONDS,
        credits=4, credit_unit="image", fal_model_id="fal-ai/flux-2/edit", provider="fal",
    ),
    NodeType(
        node_type="generate:imagen4", label="Imagen 4", category="model",
        description="Text to image with Google's Imagen 4.", params=Imagen4Params,
        inputs=(PROMPT,), outputs=IMAGE_OUTPUTS, timeout_seconds=IMAGE_TIMEOUT_SECONDS,
        credits=10, credit_unit="image", fal_model_id="fal-ai/imagen4/preview", provider="fal",
    ),
    NodeType(
        node_type="generate:nano_banana_pro", label="Nano Banana Pro", category="model",
        description="Google's Gemini image model: text to image, or edits when images are "
                    "connected.",
        params=NanoBananaProParams, inputs=(PROMPT, _image_urls(required=False)),
        outputs=IMAGE_OUTPUTS, timeout_seconds=IMAGE_TIMEOUT_SECONDS,
        credits=20, credit_unit="image", fal_model_id="fal-ai/nano-banana-pro", provider="fal",
        fal_edit_model_id="fal-ai/nano-banana-pro/edit",
    ),
    NodeType(
        node_type="video:kling_video_2_5_i2v", label="Kling 2.5 image to video",
        category="model", description="Animates an image into a 5 or 10 second video.",
        params=KlingParams, inputs=(PROMPT, _image_url()), outputs=VIDEO_OUTPUTS,
        timeout_seconds=VIDEO_TIMEOUT_SECONDS, credits=10, credit_unit="second",
        fal_model_id="fal-ai/kling-video/v2.5-turbo/pro/image-to-video", provider="fal",
    ),
    NodeType(
        node_type="talking:veed_fabric", label="VEED Fabric talking video", category="model",
        description="Makes the face in an image speak the given audio.", params=FabricParams,
        inputs=(_image_url(), Port("audio_url", PortType.AUDIO, "Audio", required=True)),
        outputs=VIDEO_OUTPUTS, timeout_seconds=VIDEO_TIMEOUT_SECONDS, credits=15,
        credit_unit="second", fal_model_id="veed/fabric-1.0", provider="fal",
    ),
    NodeType(
        node_type="upscale:crystal_upscaler", label="Crystal upscaler", category="model",
        description="Upscales an image faithfully, restoring faces and fine texture.",
        params=CrystalParams, inputs=(_image_url(),), outputs=IMAGE_OUTPUTS,
        timeout_seconds=IMAGE_TIMEOUT_SECONDS, credits=5, credit_unit="megapixel",
        fal_model_id="clarityai/crystal-upscaler", provider="fal",
    ),
)

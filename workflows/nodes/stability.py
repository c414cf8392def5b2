"""`stability:generate`: an image from Stability AI's Stable Image models (core, ultra and
Stable Diffusion 3.5), one direct call (executions/executors/stability.py) on the team's Stability
key, else the platform's.

Priced per image by model (MODEL_PRICES, credits; 1 credit = $0.01); the node type shows the
default model's price. A run on the team's own key costs 0.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from workflows.graph import Port, PortType

from .registry import TEXTAREA, BaseParams, NodeType, register

TIMEOUT_SECONDS = 180
MAX_PROMPT_CHARS = 10_000  # Stability's limit on the prompt and the negative prompt
MAX_SEED = 4_294_967_294
MODEL_PRICES = {"core": 3.0, "ultra": 8.0, "sd3.5-large": 6.5, "sd3.5-medium": 3.5,
                "sd3.5-flash": 2.5}
DEFAULT_MODEL = "core"
SD3_MODELS = frozenset({"sd3.5-large", "sd3.5-medium", "sd3.5-flash"})
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}

StabilityModel = Literal["core", "ultra", "sd3.5-large", "sd3.5-medium", "sd3.5-flash"]
AspectRatio = Literal["1:1", "16:9", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"]
OutputFormat = Literal["png", "jpeg", "webp"]
StylePreset = Literal["", "3d-model", "analog-film", "anime", "cinematic", "comic-book",
                      "digital-art", "enhance", "fantasy-art", "isometric", "line-art",
                      "low-poly", "modeling-compound", "neon-punk", "origami", "photographic",
                      "pixel-art", "tile-texture"]


class StabilityParams(BaseParams):
    price_fields = frozenset({"model"})

    model: StabilityModel = Field("core", description="Stable Image Core (fast), Ultra "
                                  "(finest) or a Stable Diffusion 3.5 model.")
    prompt: str = Field("", max_length=MAX_PROMPT_CHARS, json_schema_extra=TEXTAREA,
                        description="What to draw, unless a text is connected.")
    negative_prompt: str = Field("", max_length=MAX_PROMPT_CHARS, json_schema_extra=TEXTAREA,
                                 description="What not to draw.")
    aspect_ratio: AspectRatio = Field("1:1", description="The image's shape.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="0 for a random seed.")
    output_format: OutputFormat = Field("png", description="The image file's format "
                                        "(webp: core and ultra only).")
    style_preset: StylePreset = Field("", description="A style to lean towards (optional).")

    @model_validator(mode="after")
    def _format_of_the_model(self) -> StabilityParams:
        if self.model in SD3_MODELS and self.output_format == "webp":
            raise ValueError("Stable Diffusion 3.5 answers png or jpeg, not webp")
        return self

    def billable_units(self) -> float:
        """Images, in units of the node type's price (its default model's)."""
        return MODEL_PRICES[self.model] / MODEL_PRICES[DEFAULT_MODEL]

    @classmethod
    def max_billable_units(cls) -> float:
        return max(MODEL_PRICES.values()) / MODEL_PRICES[DEFAULT_MODEL]


register(NodeType(
    node_type="stability:generate", label="Stability image", category="model",
    description="Draws an image from a prompt with Stability AI's Stable Image Core, "
                "Ultra or Stable Diffusion 3.5.",
    params=StabilityParams,
    inputs=(Port("prompt", PortType.TEXT, "Prompt", required=True),),
    outputs=(Port("image", PortType.IMAGE, "Image"),
             Port("images", PortType.IMAGE, "Images")),
    timeout_seconds=TIMEOUT_SECONDS, credits=MODEL_PRICES[DEFAULT_MODEL],
    credit_unit="image", provider="stability"))

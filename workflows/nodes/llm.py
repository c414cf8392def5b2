"""LLM nodes: `llm:chat` (any OpenAI-compatible chat API) and `llm:claude` (Anthropic).

Both stream their answer (the editor shows the text as it grows) and run on the remote path
(executions/executors/llm.py). Priced per 1,000 tokens: the node type's `credits` is its
default model's output price per 1k tokens; a run is charged what the provider reports it
used, at its model's prices (PRICES; 1 credit = US$0.01), or 0 on the team's own key. Before it
runs, the most it can cost is bounded from the prompt's size (the engine's "tokens" measure:
UTF-8 bytes / 3 + 1, more than any tokenizer counts) and max_tokens.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, field_validator

from workflows.graph import Port, PortType

from .registry import TEXTAREA, URL, BaseParams, NodeType, register

TIMEOUT_SECONDS = 300
MAX_PROMPT_CHARS = 200_000
MAX_SYSTEM_CHARS = 50_000
MAX_MODEL_CHARS = 200
MAX_OUTPUT_TOKENS = 32_000
TYPICAL_PROMPT_TOKENS = 500  # the estimate's prompt, before the real one is known
# Message framing and the JSON instruction the clients add to the system prompt.
OVERHEAD_TOKENS = 64
IMAGE_TOKENS = 2_000  # what one image costs at most (OpenAI high detail, Claude's 1.15 MP)
MAX_URL_CHARS = 2_000

# US$ per 1M (input, output) tokens, from the providers' price pages.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00), "gpt-4.1-mini": (0.40, 1.60), "gpt-4.1-nano": (0.10, 0.40),
    "o4-mini": (1.10, 4.40), "o3": (2.00, 8.00), "o3-mini": (1.10, 4.40),
    "o1": (15.00, 60.00), "gpt-5": (1.25, 10.00), "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "claude-sonnet-4-5": (3.00, 15.00), "claude-sonnet-4-0": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00), "claude-haiku-4-5": (1.00, 5.00),
    "claude-opus-4-5": (5.00, 25.00), "claude-opus-4-1": (15.00, 75.00),
    "claude-opus-4-0": (15.00, 75.00), "claude-opus-4": (15.00, 75.00),
    "claude-3-7-sonnet": (3.00, 15.00), "claude-3-5-haiku": (0.80, 4.00),
}
# Any other model (another OpenAI-compatible server's, a newer one) is priced as the dearest
# listed, so the platform never pays for what it did not charge.
DEFAULT_PRICE = (15.00, 75.00)
# A listed model's dated snapshot or alias: "claude-sonnet-4-5-20250929", "gpt-4o-2024-08-06".
_SNAPSHOT = re.compile(r"-(?:\d{4}-?\d{2}-?\d{2}|latest)")


def model_price(model: str) -> tuple[float, float]:
    """(input, output) US$ per 1M tokens; "openai/gpt-4o" (OpenRouter's form) reads as gpt-4o."""
    name = model.strip().lower().rpartition("/")[2]
    if name in PRICES:
        return PRICES[name]
    for known, price in PRICES.items():
        if name.startswith(known) and _SNAPSHOT.fullmatch(name[len(known):]):
            return price
    return DEFAULT_PRICE


def token_credits(model: str, input_tokens: float, output_tokens: float) -> float:
    price_in, price_out = model_price(model)
    return (input_tokens * price_in + output_tokens * price_out) / 1e6 * 100


def estimate_tokens(text: str) -> float:
    """More tokens than any tokenizer makes of `text` in practice (the engine's measure)."""
    return len(text.encode()) / 3 + 1


class LlmParams(BaseParams):
    """What both LLM nodes take; each subclass sets its default model and temperature range."""

    default_model: ClassVar[str] = "gpt-4o-mini"
    price_fields: ClassVar[frozenset[str]] = frozenset({"model", "max_tokens"})
    measured_media: ClassVar[tuple[str, str] | None] = ("prompt", "tokens")

    model: str = Field("gpt-4o-mini", min_length=1, max_length=MAX_MODEL_CHARS)
    system: str = Field("", max_length=MAX_SYSTEM_CHARS, title="System prompt",
                        description="Instructions for the model (optional).",
                        json_schema_extra=TEXTAREA)
    prompt: str = Field("", max_length=MAX_PROMPT_CHARS, json_schema_extra=TEXTAREA,
                        description="The message to answer; the prompt input replaces it "
                                    "when connected.")
    temperature: float = Field(0.7, ge=0, le=2, description="Higher is more varied.")
    max_tokens: int = Field(1024, ge=1, le=MAX_OUTPUT_TOKENS, title="Max tokens",
                            description="The longest answer, in tokens.")
    image_url: str = Field("", max_length=MAX_URL_CHARS, title="Image URL",
                           description="An image for the model to look at (optional); the "
                                       "image input replaces it when connected.",
                           json_schema_extra=URL)
    json_output: bool = Field(False, title="JSON output",
                              description="Ask for a JSON object and deliver it on the json "
                                          "output.")

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name a model")
        return value.strip()

    @classmethod
    def unit_credits(cls) -> float:
        """The node type's price: its default model's output price per 1k tokens."""
        return token_credits(cls.default_model, 0, 1000)

    def _units(self, input_tokens: float) -> float:
        images = IMAGE_TOKENS if self.image_url else 0
        return token_credits(self.model, input_tokens + images, self.max_tokens) \
            / self.unit_credits()

    def billable_units(self) -> float:
        return self._units(TYPICAL_PROMPT_TOKENS + estimate_tokens(self.system))

    @classmethod
    def max_billable_units(cls) -> float:
        longest = estimate_tokens("\U0001F600" * (MAX_PROMPT_CHARS + MAX_SYSTEM_CHARS))
        dearest = max([DEFAULT_PRICE, *PRICES.values()], key=lambda price: price[1])
        worst = (longest + OVERHEAD_TOKENS + IMAGE_TOKENS) * dearest[0] \
            + MAX_OUTPUT_TOKENS * dearest[1]
        return worst / 1e6 * 100 / cls.unit_credits()

    def bound_units(self, measured: float | None) -> float:
        prompt = estimate_tokens(self.prompt) if measured is None else measured
        # A hair above, so rounding never leaves the bound under an equal charge.
        return self._units(prompt + estimate_tokens(self.system) + OVERHEAD_TOKENS) * 1.000001


class ChatParams(LlmParams):
    model: str = Field("gpt-4o-mini", min_length=1, max_length=MAX_MODEL_CHARS,
                       description="The model id, as the API names it (gpt-4o-mini, or "
                                   "another OpenAI-compatible server's).")


class ClaudeParams(LlmParams):
    default_model: ClassVar[str] = "claude-sonnet-4-5"

    model: str = Field("claude-sonnet-4-5", min_length=1, max_length=MAX_MODEL_CHARS,
                       description="The Claude model id (claude-sonnet-4-5, "
                                   "claude-haiku-4-5, claude-opus-4-1, ...).")
    temperature: float = Field(0.7, ge=0, le=1, description="Higher is more varied.")


_INPUTS = (Port("prompt", PortType.TEXT, "Prompt"), Port("system", PortType.TEXT, "System"),
           Port("image_url", PortType.IMAGE, "Image"))
_OUTPUTS = (Port("text", PortType.TEXT, "Text"), Port("json", PortType.JSON, "JSON"))

register(
    NodeType(
        node_type="llm:chat", label="LLM (OpenAI-compatible)", category="model",
        description="Chat with OpenAI's models or any OpenAI-compatible API (OpenRouter, "
                    "Groq, Together, vLLM, Ollama); the answer streams in as it is written.",
        params=ChatParams, inputs=_INPUTS, outputs=_OUTPUTS, timeout_seconds=TIMEOUT_SECONDS,
        credits=round(ChatParams.unit_credits(), 4), credit_unit="1k tokens",
        provider="openai",
    ),
    NodeType(
        node_type="llm:claude", label="Claude", category="model",
        description="Chat with Anthropic's Claude; the answer streams in as it is written.",
        params=ClaudeParams, inputs=_INPUTS, outputs=_OUTPUTS, timeout_seconds=TIMEOUT_SECONDS,
        credits=round(ClaudeParams.unit_credits(), 4), credit_unit="1k tokens",
        provider="anthropic",
    ),
)

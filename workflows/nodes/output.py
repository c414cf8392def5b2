"""Output nodes: where a run's results go (the execution's finalOutput, or a webhook)."""

from __future__ import annotations

from pydantic import Field, field_validator

from workflows import secretbox
from workflows.graph import Port, PortType

from .fields import WebUrl
from .registry import BaseParams, NodeType, register

WEBHOOK_TIMEOUT_SECONDS = 30


class ResultParams(BaseParams):
    name: str = Field("", max_length=200, description="A name for this result (optional).")


SECRET_MAX_LENGTH = 500


class WebhookParams(BaseParams):
    url: WebUrl = Field(description="Where the result is POSTed as JSON.")
    # Write-only: stored sealed (workflows/node_secrets.py), shown as a placeholder. The length
    # is checked on the plaintext, so the bound is in the schema, not on the stored token.
    secret: str = Field("", description="Signs each delivery with X-Wireflow-Signature when set.",
                        json_schema_extra={"format": "password", "writeOnly": True,
                                           "maxLength": SECRET_MAX_LENGTH})

    @field_validator("secret")
    @classmethod
    def _readable_and_short(cls, value: str) -> str:
        plaintext = secretbox.reveal_param(value)
        if plaintext is None:
            raise ValueError("the stored secret cannot be read any more: enter it again")
        if len(plaintext) > SECRET_MAX_LENGTH:
            raise ValueError(f"String should have at most {SECRET_MAX_LENGTH} characters")
        return value  # kept sealed: it is revealed only to sign a delivery


register(
    NodeType(
        node_type="output:result", label="Result", category="output",
        description="Collects its inputs into the execution's final output.",
        params=ResultParams,
        inputs=(Port("value", PortType.ANY, "Value", required=True, multiple=True),),
    ),
    NodeType(
        node_type="output:webhook", label="Send to webhook", category="output",
        description="POSTs the result to a URL, signed when a secret is set.",
        params=WebhookParams, timeout_seconds=WEBHOOK_TIMEOUT_SECONDS,
        inputs=(Port("value", PortType.ANY, "Value", required=True, multiple=True),),
    ),
)

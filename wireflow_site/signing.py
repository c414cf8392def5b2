"""The X-Wireflow-Signature scheme, one definition for both directions: the webhook trigger
checks it on what arrives (executions/triggers.py) and the `output:webhook` node puts it on what
it sends (workflows/nodes/output.py).

    X-Wireflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">
"""

import hashlib
import hmac


def digest(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<timestamp>.<body>"; `timestamp` exactly as it is written."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp` (Unix seconds)."""
    return f"t={timestamp},v1={digest(secret, str(timestamp), body)}"

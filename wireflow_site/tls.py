"""One TLS context for every outgoing HTTP client.

Building an httpx client loads the CA bundle again (about 35 ms here); the engine makes a
client per batch of provider calls, so the context is built once per process and shared.
"""

import ssl
from functools import cache

import certifi


@cache
def client_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())

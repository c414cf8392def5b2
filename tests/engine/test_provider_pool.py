"""Provider calls made on the process's call loop (the engine's rounds) share keep-alive
connections: the second round's call to a provider reuses the first one's connection, where a
one-off loop pays a connect (and, to a real provider, a TLS handshake) per call. The shared
pool keeps no cookies: what one team's call was sent back must not ride on another's."""

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from executions.engine.calls import calls
from executions.providers.fal import FalClient
from executions.providers.replicate import ReplicateClient

BODY = b'{"id": "r-1", "status": "succeeded", "output": "done"}'
ANSWER = {"id": "r-1", "status": "succeeded", "output": "done"}


@dataclass
class KeepAliveServer:
    """A loopback HTTP/1.1 server that answers every request with a small JSON object and a
    cookie, keeps each connection open, and counts connections and the Cookie headers sent."""

    connections: int = 0
    cookies_sent: list[str] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode("latin-1").split("\r\n")
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                length = int(headers.get("content-length", headers.get("Content-Length", "0")))
                await reader.readexactly(length)
                self.cookies_sent += [value for name, value in headers.items()
                                      if name.lower() == "cookie"]
                body = BODY
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Set-Cookie: session=team-a-secret; Path=/\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client closed its connection, or the server is shutting down
        finally:
            writer.close()


@pytest.fixture
def server() -> Iterator[KeepAliveServer]:
    found = KeepAliveServer()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    listening = asyncio.run_coroutine_threadsafe(
        asyncio.start_server(found.serve, "127.0.0.1", 0), loop).result(10)
    found.port = listening.sockets[0].getsockname()[1]
    yield found

    async def shutdown() -> None:
        listening.close()
        handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_calls_on_the_call_loop_reuse_one_connection_and_send_no_cookie(
        server: KeepAliveServer) -> None:
    url = f"http://127.0.0.1:{server.port}/requests/r-1"
    fal = FalClient(f"http://127.0.0.1:{server.port}", "key-of-team-a")
    replicate = ReplicateClient(f"http://127.0.0.1:{server.port}", "token-of-team-b")
    for _ in range(3):  # three rounds, as three engine passes would make them
        assert calls().run(fal.result(url)) == ANSWER
    assert calls().run(replicate.get(url)).output == "done"  # another provider, another key
    assert server.connections == 1
    assert server.cookies_sent == []


def test_calls_on_a_one_off_loop_close_their_connection(server: KeepAliveServer) -> None:
    # Off the call loop a client must not outlive its loop: one per call, closed after it.
    url = f"http://127.0.0.1:{server.port}/requests/r-1"
    fal = FalClient(f"http://127.0.0.1:{server.port}", "key")
    for _ in range(2):
        assert asyncio.run(fal.result(url)) == ANSWER
    assert server.connections == 2

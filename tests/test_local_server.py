"""The test suite's local HTTP server takes a burst of connections at once: none is dropped to
wait out TCP's SYN retransmission (1 s, then 3, 7, ...), which made webhook tests late on a
loaded machine (tests/harness.py, LocalHTTPServer)."""

import socket
from http.server import BaseHTTPRequestHandler

from tests.harness import LocalHTTPServer, wait_until

BURST = 32  # more than the stdlib's backlog of 5 and than the simulator's webhooks in flight
# Below TCP's first SYN retransmission (1 s): a connection that got in only after one was
# dropped and sent again, as each one past the stdlib's backlog is.
NO_RETRANSMISSION = 0.9


def test_a_burst_of_connections_waits_in_the_queue_until_the_server_takes_them() -> None:
    server = LocalHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    clients: list[socket.socket] = []
    accepted: list[socket.socket] = []
    try:
        # Nobody is accepting yet (the server's loop is not running): every connection must
        # wait in the listen queue, as a burst does while the accept loop is busy.
        for _ in range(BURST):
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(server.server_address)
            clients.append(client)
        server.socket.setblocking(False)

        def all_in() -> bool | None:
            try:
                while len(accepted) < BURST:
                    accepted.append(server.socket.accept()[0])
            except BlockingIOError:
                return None
            return True

        wait_until(all_in, NO_RETRANSMISSION,
                   lambda: f"only {len(accepted)} of {BURST} connections got in at once")
    finally:
        for each in accepted + clients:
            each.close()
        server.server_close()

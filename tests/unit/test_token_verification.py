"""A token whose issuer's keys cannot be read is refused (None, a 401), whatever the transport does:
connexion turns an exception from the token info function into a 500."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from local.issuer import LocalIssuer
from service.auth import verify_token


@pytest.fixture
def resetting_issuer() -> Iterator[str]:
    """An issuer URL whose server reads each request, then resets the connection (RST, no answer)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)
    stopped = threading.Event()

    def serve() -> None:
        while not stopped.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.recv(65536)
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stopped.set()
        server.close()
        thread.join(timeout=5)


def test_a_reset_connection_to_the_issuers_keys_refuses_the_token(resetting_issuer: str) -> None:
    issuer = LocalIssuer(resetting_issuer, {}, token_minutes=5)
    assert verify_token(issuer.sign(issuer.access_claims("c", ("s",))), resetting_issuer, 0) is None

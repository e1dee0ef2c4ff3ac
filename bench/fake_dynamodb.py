"""An HTTP endpoint that answers DynamoDB's JSON protocol with canned responses, at once.

For the warm figures: ours and the baseline both talk to it over real HTTP (botocore's whole
path: signing, connection pool, parsing), and it costs the same for both, so the difference
of their medians is our own code. moto would add milliseconds of its own per call (a
transaction deep-copies the table) that grow with the table, drowning a sub-millisecond figure.

    python -m bench.fake_dynamodb --port N
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"
USER_ID = "0b7e2f4e-3c1a-4d5e-8f60-7a8b9c0d1e2f"
NOW = "2025-11-25T10:00:00.000Z"
USER_ITEM = {
    "pk": {"S": f"USER#{USER_ID}"},
    "sk": {"S": "PROFILE"},
    "userId": {"S": USER_ID},
    "name": {"S": "Ada Lovelace"},
    "email": {"S": "ada@example.com"},
    "createdAt": {"S": NOW},
    "updatedAt": {"S": NOW},
    "version": {"N": "1"},
    "listPk": {"S": "USERS"},
    "listSk": {"S": f"{NOW}#{USER_ID}"},
}
ANSWERS = {
    "DynamoDB_20120810.GetItem": json.dumps({"Item": USER_ITEM}).encode(),
    "DynamoDB_20120810.TransactWriteItems": b"{}",
}


class CannedDynamoDB(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects

    def setup(self) -> None:
        super().setup()
        # One write per answer and no Nagle: otherwise delayed ACKs add ~40 ms to each call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = ANSWERS.get(self.headers.get("X-Amz-Target", ""), b"{}")
        head = (
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/x-amz-json-1.0\r\n"
            f"Content-Length: {len(body)}\r\n"
            "x-amzn-RequestId: bench\r\n\r\n"
        )
        self.wfile.write(head.encode() + body)

    def do_GET(self) -> None:  # readiness probe
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer((HOST, args.port), CannedDynamoDB)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"fake dynamodb on http://{HOST}:{args.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()

"""Local provider sinks for the delivery benchmarks (each runs in its own process).

  python bench/_delivery_sinks.py smtp PORT   accepts every message (aiosmtpd), keeps nothing;
                                              offers PIPELINING, as large providers do
  python bench/_delivery_sinks.py http PORT   a Twilio-style API that dedupes Idempotency-Key
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CountingHandler:
    def __init__(self) -> None:
        self.accepted = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.accepted += 1
        return "250 OK"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
        # aiosmtpd reads commands one line at a time from a stream and answers in order, so it
        # handles pipelined commands correctly; it just does not say so.
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


def run_smtp(port: int) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(CountingHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    while True:
        time.sleep(3600)


class ApiHandler(BaseHTTPRequestHandler):
    # Headers and body are written separately: without TCP_NODELAY, Nagle plus the client's
    # delayed ACK adds 40 ms to every response.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"  # keep-alive, as a real provider API offers
    seen: dict[str, str] = {}
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        key = self.headers.get("Idempotency-Key", "")
        with self.lock:
            sid = self.seen.setdefault(key, f"SM{len(self.seen):010d}")
        data = json.dumps({"sid": sid, "status": "queued"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return


def run_http(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), ApiHandler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    run_smtp(port) if kind == "smtp" else run_http(port)

"""In-process fake providers: an SMTP server (aiosmtpd) and a Twilio-style HTTP API.

Both record what they accepted so tests can count messages per recipient. The SMTP sink can
answer 451 for a while or 550 for chosen addresses; the HTTP sink dedupes on Idempotency-Key
like a real provider does, and can answer 503 for a while.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote_plus

from aiosmtpd.controller import Controller


class SmtpRecorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[tuple[str, str]] = []  # (recipient, Message-ID)
        self.headers: list[dict] = []
        self.texts: list[str] = []  # plain-text bodies, kept with the headers
        self.temporary_failures = 0  # answer 451 to this many more DATA commands
        self.rejected_addresses: set[str] = set()
        self.keep_headers = True
        self.pipelining = False  # offer PIPELINING (RFC 2920) in the EHLO reply
        self.drop_connection_for: set[str] = set()  # hang up (once) on a message to these

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
        # aiosmtpd answers pipelined commands in order; it only has to say that it does.
        session.host_name = hostname
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address in self.rejected_addresses:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        with self.lock:
            dropped = self.drop_connection_for & set(envelope.rcpt_tos)
            self.drop_connection_for -= dropped
        if dropped:  # the connection breaks before the server answers the message
            server.transport.close()
            return "421 4.3.2 closing"
        with self.lock:
            if self.temporary_failures > 0:
                self.temporary_failures -= 1
                return "451 4.3.0 try again later"
        message_id = _header(envelope.content, b"Message-ID")
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.accepted.append((rcpt, message_id))
            if self.keep_headers:
                parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                self.headers.append(dict(parsed.items()))
                self.texts.append(parsed.get_body(preferencelist=("plain",)).get_content())
        return "250 Message accepted for delivery"

    def per_recipient(self) -> dict[str, set[str]]:
        ids: dict[str, set[str]] = {}
        with self.lock:
            for rcpt, message_id in self.accepted:
                ids.setdefault(rcpt, set()).add(message_id)
        return ids

    def transmissions(self) -> Counter:
        with self.lock:
            return Counter(message_id for _, message_id in self.accepted)


def _header(content: bytes, name: bytes) -> str:
    for line in content.split(b"\r\n"):
        if not line:
            break
        if line.lower().startswith(name.lower() + b":"):
            return line.split(b":", 1)[1].strip().decode()
    return ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    def __init__(self, port: int | None = None) -> None:
        self.recorder = SmtpRecorder()
        self.port = port or free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class HttpRecorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_key: dict[str, dict] = {}  # Idempotency-Key -> first request
        self.requests = 0
        self.unavailable = 0  # answer 503 to this many more requests
        self.reject_to: set[str] = set()  # answer 400 (code 21211) for these numbers


class _Handler(BaseHTTPRequestHandler):
    # Headers and body are written separately: without TCP_NODELAY, Nagle plus the client's
    # delayed ACK adds 40 ms to every response.
    disable_nagle_algorithm = True
    recorder: HttpRecorder

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        key = self.headers.get("Idempotency-Key", "")
        recorder = self.recorder
        with recorder.lock:
            recorder.requests += 1
            if recorder.unavailable > 0:
                recorder.unavailable -= 1
                return self._reply(503, {"message": "busy"})
            text = unquote_plus(body.decode())
            if any(number in text for number in recorder.reject_to):
                return self._reply(400, {"code": 21211, "message": "21211 invalid To number"})
            first = recorder.by_key.setdefault(key, {
                "sid": f"SM{len(recorder.by_key):08d}", "body": body,
                "headers": dict(self.headers.items()), "path": self.path})
        self._reply(201, {"sid": first["sid"], "status": "queued"})

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return


class HttpSink:
    def __init__(self) -> None:
        self.recorder = HttpRecorder()
        handler = type("Handler", (_Handler,), {"recorder": self.recorder})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HttpSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

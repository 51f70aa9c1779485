"""A local SMTP sink for the demo: accepts every message and keeps it under var/mail/.

It never prints addresses (even demo ones): the log line names the Message-ID and subject only.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        name = f"{time.time_ns()}.eml"
        (self.directory / name).write_bytes(envelope.content)
        print(f"mail sink: received {message['Message-ID']} {message['Subject']!r}", flush=True)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--directory", default="var/mail")
    args = parser.parse_args()
    controller = Controller(MaildirHandler(Path(args.directory)), hostname=args.host,
                            port=args.port)
    controller.start()
    print(f"mail sink: listening on {args.host}:{args.port}, keeping mail in {args.directory}",
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


if __name__ == "__main__":
    main()

"""Defence in depth: redact contact details and secrets that reach a log line by mistake."""

from __future__ import annotations

import logging
import re

PATTERNS = [
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "<email>"),
    (re.compile(r"\+\d[\d\s-]{7,}\d"), "<phone>"),  # E.164-style numbers
    (re.compile(r"\b0\d{9,10}\b"), "<phone>"),  # national numbers
    (re.compile(r"ork_[0-9a-f]{8}_[\w-]+"), "<api-key>"),
    (re.compile(r"Bearer\s+\S+"), "Bearer <redacted>"),
]


def redact(text: str) -> str:
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactIdentifiersFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True

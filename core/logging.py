"""What may reach a log line or an exception report: no contact details, identifiers, tokens or
bodies.

Defence in depth (the code logs ids only, never what a person sent):

* `redact` rewrites contact details, API keys, bearer tokens, the token in a token path
  (`/go/<token>`, `/opt-out/<token>`, `/learn/r/<token>/…`) and any query string in a text.
* `RedactIdentifiersFilter` (on every handler of settings.LOGGING) applies it to the message
  and replaces a record's traceback by `safe_exception_text`: every frame (file, line,
  function, source line), each exception's type, and its message only after `safe_message`
  (a database error's message withheld whole: PostgreSQL quotes the row, e.g.
  `Key (reference)=(…)` or `JSON data, line 1: {…}`; quoted values and JSON in others
  replaced).
* `StrictExceptionReporterFilter` / `StrictExceptionReporter` (settings
  DEFAULT_EXCEPTION_REPORTER_FILTER / DEFAULT_EXCEPTION_REPORTER) make Django's error report
  (the admin e-mail, the DEBUG page) carry no frame variables, form or query values, files,
  cookies, request headers but a few harmless ones, nor the exception's raw message.
* `AccessLogFilter` scrubs gunicorn's and uvicorn's access-log records (installed on their
  loggers by outreach.wsgi / outreach.asgi): no client address, user agent, referrer, request
  headers, query string or path token, whatever format the operator configures.
"""

from __future__ import annotations

import logging
import re
import traceback
from types import TracebackType
from typing import Any

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

TOKEN_PATH = re.compile(r"(/(?:go|opt-out|learn/r))/[^/\s?#\"'<>]+")
QUERY = re.compile(r"(/[^\s?\"'<>]*)\?[^\s\"'<>]*")

PATTERNS = [
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "<email>"),
    (re.compile(r"\+\d[\d\s-]{7,}\d"), "<phone>"),  # E.164-style numbers
    (re.compile(r"\b0\d{9,10}\b"), "<phone>"),  # national numbers
    (re.compile(r"ork_[0-9a-f]{8}_[\w-]+"), "<api-key>"),
    (re.compile(r"Bearer\s+\S+"), "Bearer <redacted>"),
    (TOKEN_PATH, r"\1/<token>"),
    (QUERY, r"\1?<query>"),
]

MAX_MESSAGE = 300
WITHHELD = "<message withheld: a database error quotes the values it refused>"
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\{.*\}|\[.*\]", re.DOTALL)


def redact(text: str) -> str:
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_path(path: str) -> str:
    """A request path (or request line) fit for a log: no query string, no path token."""
    return TOKEN_PATH.sub(r"\1/<token>", path.split("?", 1)[0])


def _quotes_data(error: BaseException) -> bool:
    # Imported late: the logging config (settings.LOGGING) loads this module during start-up.
    from django.db import Error as DatabaseError

    module = type(error).__module__
    return isinstance(error, DatabaseError) or module.startswith(("psycopg", "django.db"))


def safe_message(error: BaseException) -> str:
    """An exception's message as a log or report may carry it."""
    if _quotes_data(error):
        code = getattr(error, "sqlstate", None) or getattr(
            getattr(error, "__cause__", None), "sqlstate", None)
        return f"{WITHHELD} (SQLSTATE {code})" if code else WITHHELD
    try:
        text = str(error)
    except Exception:  # a broken __str__ must not break the log
        return "<message unavailable>"
    text = redact(_QUOTED.sub("<…>", text))
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"


def _chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__
                                        else current.__context__)
    return chain[::-1]  # the first cause first, as Python prints it


def safe_exception_text(exc_info: tuple[type[BaseException], BaseException,
                                         TracebackType | None]) -> str:
    """A traceback in Python's layout, each message passed through `safe_message` and no
    exception notes (they may quote data)."""
    parts = []
    for number, error in enumerate(_chain(exc_info[1])):
        if number:
            parts.append("\nThe above exception led to the following exception:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_list(traceback.extract_tb(error.__traceback__)))
        name = type(error).__qualname__
        module = type(error).__module__
        if module not in ("builtins", "__main__"):
            name = f"{module}.{name}"
        parts.append(f"{name}: {safe_message(error)}\n")
    return "".join(parts).rstrip("\n")


class RedactIdentifiersFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Formatters print exc_text when it is set instead of formatting exc_info.
            record.exc_text = safe_exception_text(record.exc_info)  # type: ignore[arg-type]
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# --- Django's error report ---------------------------------------------------------------------

_SAFE_META = frozenset({"REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
                        "CONTENT_TYPE", "CONTENT_LENGTH", "SCRIPT_NAME", "wsgi.url_scheme"})


class StrictExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's error report without request data: active even with DEBUG."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|DSN|DATABASES|CACHES|"
        "CHANNEL_LAYERS|BROKER", flags=re.IGNORECASE)

    def is_active(self, request: Any) -> bool:
        return True

    def get_safe_request_meta(self, request: Any) -> dict[str, Any]:
        if request is None or not hasattr(request, "META"):
            return {}
        meta = {}
        for name, value in request.META.items():
            if name == "PATH_INFO":
                meta[name] = redact_path(str(value))
            elif name in _SAFE_META:
                meta[name] = value
            else:
                meta[name] = self.cleansed_substitute
        return meta

    def get_safe_cookies(self, request: Any) -> dict[str, Any]:
        cookies = getattr(request, "COOKIES", None) or {}
        return dict.fromkeys(cookies, self.cleansed_substitute)

    def get_post_parameters(self, request: Any) -> dict[str, Any]:
        if request is None:
            return {}
        return dict.fromkeys(request.POST, self.cleansed_substitute)

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> list:
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]


class StrictExceptionReporter(ExceptionReporter):
    """Django's report with the exception messages, query values and URL made safe."""

    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        substitute = self.filter.cleansed_substitute
        data["unicode_hint"] = ""
        data.pop("exception_notes", None)
        if self.exc_value is not None:
            data["exception_value"] = safe_message(self.exc_value)
        for frame in data.get("frames", []):
            if isinstance(frame.get("exc_cause"), BaseException):
                cause = frame["exc_cause"]
                frame["exc_cause"] = f"{type(cause).__name__}: {safe_message(cause)}"
        if self.request is not None:
            data["request_GET_items"] = [(name, substitute) for name in self.request.GET]
            data["request_FILES_items"] = [(name, substitute) for name in self.request.FILES]
            data["request_insecure_uri"] = redact_path(self._get_raw_insecure_uri())
            data["request"] = _ReportedRequest(self.request)
        return data


class _ReportedRequest:
    """What Django's report templates read of the request (path, method, whether there are
    query values, files, cookies), with the path's token and query left out."""

    def __init__(self, request: Any) -> None:
        self.path_info = redact_path(getattr(request, "path_info", ""))
        self.META = {"REQUEST_METHOD": request.META.get("REQUEST_METHOD", "")}
        self.GET = bool(request.GET)
        try:
            self.FILES = bool(request.FILES)
        except Exception:  # a body that cannot be parsed: report it as having none
            self.FILES = False
        self.COOKIES = bool(getattr(request, "COOKIES", None))


# --- access logs -------------------------------------------------------------------------------

class AccessLogFilter(logging.Filter):
    """gunicorn.access (a dict of atoms) and uvicorn.access (a 5-tuple) records, scrubbed."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, dict):  # gunicorn's atoms
            for name in list(args):
                if name.startswith("{") and name.endswith(("}i", "}e")):
                    dict.__setitem__(args, name, "-")
            for name in ("h", "u", "f", "a"):
                dict.__setitem__(args, name, "-")
            dict.__setitem__(args, "q", "")
            for name in ("r", "U"):
                if name in args:
                    dict.__setitem__(args, name, redact_path(str(dict.__getitem__(args, name))))
        elif isinstance(args, tuple) and len(args) == 5:  # uvicorn: addr, method, path, ...
            record.args = ("-", args[1], redact_path(str(args[2])), args[3], args[4])
        else:
            message = redact(record.getMessage())
            record.msg, record.args = message, None
        return True


def install_access_log_filters() -> None:
    """Scrub the servers' access logs, whatever handlers and format they were given."""
    for name in ("gunicorn.access", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, AccessLogFilter) for f in logger.filters):
            logger.addFilter(AccessLogFilter())

"""Structured logging for every part of the platform.

JSON lines when not on a terminal (what log shippers read), a readable console otherwise. Each
line about an event carries its id, type, organisation and correlation id (bound with
``event_log_context``); personal data never reaches a log: keys that may hold it are redacted
whatever the caller passed, and so are the paths and queries of URLs in any line (a webhook URL
is its own credential), a library's lines included.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

import structlog

PERSONAL_KEYS = frozenset(
    {"display_name", "name", "email", "e_mail", "address", "recipient", "body", "password"}
)
REDACTED = "[redacted]"

QUIET_LIBRARIES = (
    "aiokafka",
    "kafka",
    "httpx",
    "httpcore",
    "hpack",
    "aiosmtplib",
    "urllib3",
    "aiohttp",
)
"""Libraries that narrate connections at INFO or DEBUG, some with request URLs, which are
credentials for incoming webhooks: only their warnings and errors are kept."""

LOAD_NARRATORS = ("kafka.net.selector",)
"""Library loggers that warn of their own timing: kafka-python's I/O loop warns whenever one of
its tasks ran over 0.1 s, which on a busy two-core machine is the load, not a fault, and
nothing a reader can act on (``make run`` printed one in the middle of the demo). Only their
errors are kept."""

_URL_PATH = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^/\s@]*@)?([^/\s?#'\"]+)[^\s'\"]*")


RETRIED_BY_THE_CLIENT = (
    "GroupCoordinatorNotAvailable",
    "NotCoordinatorForGroup",
    "CoordinatorLoadInProgress",
    "NotLeaderForPartition",
    "LeaderNotAvailable",
)
"""Kafka errors aiokafka retries by itself (a coordinator or leader moving or starting up, as on
every fresh Apache Kafka): warnings, not errors, in the service's log."""


class RetriedErrorsAsWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and record.name.startswith("aiokafka"):
            message = record.getMessage()
            if any(kind in message for kind in RETRIED_BY_THE_CLIENT):
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def redact_url(text: str) -> str:
    """Keep a URL's scheme and host, drop its user info, path and query (tokens live there); a
    URL that has none of them is left whole."""
    return _URL_PATH.sub(_without_secrets, text)


def _without_secrets(match: re.Match[str]) -> str:
    scheme, host = match[1], match[2]
    if match[0] in (f"{scheme}{host}", f"{scheme}{host}/"):
        return match[0]
    return f"{scheme}{host}/{REDACTED}"


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: no name, e-mail or message body leaves the process in a log line."""
    for key in PERSONAL_KEYS.intersection(event_dict):
        event_dict[key] = REDACTED
    for key, value in event_dict.items():
        if isinstance(value, str) and "://" in value:
            event_dict[key] = redact_url(value)
    return event_dict


def configure_logging(
    service: str,
    *,
    log_format: Literal["auto", "json", "console"] = "auto",
    level: str = "INFO",
) -> None:
    """Route structlog and the standard library (FastStream, aiokafka) through one renderer."""
    as_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        merge_event_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_personal_data,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        # A line below the level is dropped before any processor runs (not after all of them).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RetriedErrorsAsWarnings())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info if as_json else _keep,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for library in QUIET_LIBRARIES:
        logging.getLogger(library).setLevel(max(logging.WARNING, root.level))
    for narrator in LOAD_NARRATORS:
        logging.getLogger(narrator).setLevel(max(logging.ERROR, root.level))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def _keep(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    return event_dict


LoggingContext = Callable[[], Mapping[str, str]]
"""What an event adds to a line: called only when a line is logged (``to_logging_context``)."""

_EVENT_CONTEXTS: ContextVar[tuple[LoggingContext, ...]] = ContextVar("event_contexts", default=())


@contextmanager
def event_log_context(context: LoggingContext) -> Iterator[None]:
    """Add an event's identifiers to every line logged inside the block. Entered for every
    event a service handles, most of which log nothing: the identifiers are made only when a
    line is logged (binding them up front cost a tenth of the notifier's time at 200 new hires
    a second)."""
    token = _EVENT_CONTEXTS.set((*_EVENT_CONTEXTS.get(), context))
    try:
        yield
    finally:
        _EVENT_CONTEXTS.reset(token)


def merge_event_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: the identifiers of the events being handled (the innermost
    first); what the line itself says wins, as with ``merge_contextvars``."""
    for context in reversed(_EVENT_CONTEXTS.get()):
        for key, value in context().items():
            event_dict.setdefault(key, value)
    return event_dict

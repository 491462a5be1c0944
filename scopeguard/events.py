"""Decision events and counters: what the middleware decided for each request.

The middleware builds a :class:`DecisionEvent` for every HTTP request and websocket
handshake it checks, passes it to an ``on_decision`` callback, and logs it on the
``scopeguard.decisions`` logger: denials at INFO, allowed requests at DEBUG. Events never
contain the token or the ``Authorization`` header. :class:`DecisionCounters` counts the
decisions by route template and outcome for metrics exporters.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any, Final, TypeAlias

__all__ = ["DecisionCallback", "DecisionCounters", "DecisionEvent"]

#: The request was allowed.
ALLOWED: Final = "allowed"
#: The request was denied and got a 4xx response from scopeguard.
DENIED: Final = "denied"
#: The request would have been denied, and passed to the app because of report-only mode.
WOULD_DENY: Final = "would_deny"

decision_logger = logging.getLogger("scopeguard.decisions")


@dataclass(slots=True)
class DecisionEvent:
    """One decision of the middleware. Treat it as read-only.

    ``route`` is the template of the matched route, ``None`` when no route matched or the
    request was rejected before routing. ``reason`` is a short code: ``allowed``,
    ``public``, ``passed_unmatched``, ``cors_preflight``, ``bad_request``,
    ``missing_token``, ``invalid_token``, ``insufficient_scope``, ``no_route`` or
    ``method_not_allowed``. ``error_class`` names the PyJWT exception behind an
    ``invalid_token`` reason, such as ``ExpiredSignatureError``. ``status`` is the status
    scopeguard sent or, for ``would_deny``, would have sent; 200 when allowed.
    ``duration`` is the time the decision took in seconds, token verification included.
    """

    id: str
    time: float
    method: str
    path: str
    route: str | None
    required_scope: str | None
    outcome: str
    status: int
    reason: str
    message: str
    error_class: str | None
    subject: str | None
    client_id: str | None
    duration: float

    def log_fields(self) -> dict[str, Any]:
        """Return the fields under names that do not clash with ``logging.LogRecord``'s,
        for the ``extra`` of a log call: each name is prefixed with ``scopeguard_``."""
        return {f"scopeguard_{name}": value for name, value in asdict(self).items()}


#: A function or coroutine function that receives every :class:`DecisionEvent`.
DecisionCallback: TypeAlias = Callable[[DecisionEvent], Awaitable[None] | None]


class DecisionCounters:
    """Counts of decisions by route template and outcome, safe to read from any thread.

    The route is ``None`` for requests that matched no route or were rejected before
    routing. :meth:`snapshot` returns a read-only copy, which a metrics exporter can turn
    into counter samples.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str | None, str], int] = {}
        self._lock = threading.Lock()

    def add(self, route: str | None, outcome: str) -> None:
        """Count one decision."""
        key = (route, outcome)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1

    def snapshot(self) -> Mapping[tuple[str | None, str], int]:
        """Return the counts so far, keyed by ``(route, outcome)``, as a read-only mapping."""
        with self._lock:
            return MappingProxyType(dict(self._counts))

    def total(self, outcome: str | None = None) -> int:
        """Return the number of decisions, or of those with ``outcome``."""
        with self._lock:
            return sum(
                count for (_, counted), count in self._counts.items() if outcome in (None, counted)
            )

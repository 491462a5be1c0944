"""The access policy: a resolved route combined with a token's scopes gives a decision.

:class:`Policy` does not depend on ASGI, so unit tests and the command line call it directly::

    policy = Policy(RouteTable([Route("GET", "/api/v1/courses/:course_id")]))
    decision = policy.decide("GET", "/api/v1/courses/7", {"url:GET|/api/v1/courses/:course_id"})
    assert decision.allowed

The statuses follow RFC 6750 section 3.1 (error codes): 401 when no token or an invalid
one was sent, 403 ``insufficient_scope`` when the token lacks the route's scope.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from scopeguard.errors import ConfigurationError
from scopeguard.table import Outcome, Resolution, Route, RouteTable

__all__ = ["Decision", "Policy", "Reason", "Unmatched", "explain_decision", "path_problem"]

Unmatched = Literal["deny", "pass"]
_UNMATCHED: Final[tuple[Unmatched, ...]] = ("deny", "pass")
_CONTROL_CHARACTER: Final = re.compile("[\x00-\x1f\x7f]")


class Reason(enum.Enum):
    """The reason a request was allowed or denied."""

    ALLOWED = "allowed"
    PUBLIC = "public"
    PASSED_UNMATCHED = "passed_unmatched"
    BAD_REQUEST = "bad_request"
    MISSING_TOKEN = "missing_token"  # noqa: S105 - an enum value
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - an enum value
    CORS_PREFLIGHT = "cors_preflight"
    UNSCOPED_TOKEN = "unscoped_token"  # noqa: S105 - an enum value
    ALWAYS_ALLOWED = "always_allowed"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    NO_ROUTE = "no_route"
    METHOD_NOT_ALLOWED = "method_not_allowed"


# An enum member read through its class costs about 70 ns on CPython 3.11, a few percent
# of a decision, so the checks that run on every request read these module names instead.
_MATCHED: Final = Outcome.MATCHED
_ALLOWED: Final = Reason.ALLOWED


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__,
# which made building a Decision a quarter of a whole decision's time.
@dataclass(slots=True)
class Decision:
    """The outcome of checking one request. Treat it as read-only.

    ``status`` is the HTTP status to send when denied, and 200 when allowed. ``error`` is
    the RFC 6750 error code for the ``WWW-Authenticate`` challenge, when there is one.
    ``message`` states what failed in words safe to send to the client. ``route`` and
    ``required_scope`` are set whenever the request matched a route, ``granted_scopes``
    and ``claims`` whenever a token was verified. ``enforced`` is false for a denial that
    report-only mode let through to the app.
    """

    allowed: bool
    status: int
    reason: Reason
    message: str
    route: Route | None = None
    required_scope: str | None = None
    granted_scopes: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=dict)
    allowed_methods: tuple[str, ...] = ()
    error: str | None = None
    enforced: bool = True


class Policy:
    """Decides requests against a route table.

    :param table: the routes, or a :class:`RouteTable` already built.
    :param unmatched: ``"deny"`` (default) responds with 403 for a path no route matches
        and 405 for a path whose routes do not accept the method, once a token has been
        verified (without one, both get 401). ``"pass"`` lets both through without a
        token, so the app responds to them.

        .. warning:: With ``"pass"``, any route the app serves but the table omits is
           reachable without a token. Use it only with a table built from the app itself.
    """

    def __init__(
        self, table: RouteTable | Collection[Route], *, unmatched: Unmatched = "deny"
    ) -> None:
        if unmatched not in _UNMATCHED:
            raise ConfigurationError(
                f"unknown value {unmatched!r} for unmatched; use 'deny' or 'pass'"
            )
        self.table = table if isinstance(table, RouteTable) else RouteTable(table)
        self.unmatched: Unmatched = unmatched

    def decide(self, method: str, path: str, scopes: Collection[str] | None) -> Decision:
        """Decide a request from its method, its decoded path and the token's scopes.

        ``scopes`` is ``None`` when the request carries no token. A single string raises
        ``TypeError``: pass ``{"url:GET|/path"}``, not ``"url:GET|/path"``.
        """
        problem = path_problem(path)
        if problem is not None:
            return Decision(False, 400, Reason.BAD_REQUEST, problem, error="invalid_request")
        return self.decide_resolved(self.table.resolve(method, path), method, path, scopes)

    def requires_token(self, resolution: Resolution) -> bool:
        """Return whether a request so resolved needs a verified token to be decided.

        Only public routes and, with ``unmatched="pass"``, unmatched requests do not.
        """
        if resolution.outcome is _MATCHED:
            return resolution.route is None or not resolution.route.public
        return self.unmatched != "pass"

    def decide_resolved(
        self,
        resolution: Resolution,
        method: str,
        path: str,
        scopes: Collection[str] | None,
        claims: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Decide a request already resolved by :meth:`RouteTable.resolve`.

        The middleware first calls :meth:`requires_token`, and verifies the token only
        when it returns true.
        """
        route = resolution.route
        matched = resolution.outcome is _MATCHED
        if not matched:
            if self.unmatched == "pass":
                return Decision(
                    True, 200, Reason.PASSED_UNMATCHED, "no route matches; passed to the app"
                )
        elif route is not None and route.public:
            return Decision(True, 200, Reason.PUBLIC, "public route", route, route.scope)

        if scopes is None:
            return Decision(
                False,
                401,
                Reason.MISSING_TOKEN,
                "a bearer token is required",
                route,
                route.scope if route is not None else None,
            )

        if isinstance(scopes, frozenset):
            granted = scopes
        elif isinstance(scopes, str):
            # A string is a collection of characters, so it would silently grant nothing.
            raise TypeError("scopes must be a collection of scope strings, not one string")
        else:
            granted = frozenset(scopes)
        token_claims = claims if claims is not None else {}
        if not matched and resolution.outcome is Outcome.NO_ROUTE:
            return Decision(
                False,
                403,
                Reason.NO_ROUTE,
                f"no route matches {method} {path}, so no scope grants it",
                granted_scopes=granted,
                claims=token_claims,
                error="insufficient_scope",
            )
        # The only outcome left besides a match is METHOD_NOT_ALLOWED.
        if not matched or route is None:
            allowed = ", ".join(resolution.allowed_methods)
            return Decision(
                False,
                405,
                Reason.METHOD_NOT_ALLOWED,
                f"method {method} is not allowed on {path}; allowed: {allowed}",
                granted_scopes=granted,
                claims=token_claims,
                allowed_methods=resolution.allowed_methods,
            )

        # Under all_matching precedence the token needs every matching route's scope.
        missing = None if route.scope in granted else route.scope
        if missing is None and resolution.also_required:
            missing = next(
                (other.scope for other in resolution.also_required if other.scope not in granted),
                None,
            )
        if missing is None:
            return Decision(
                True, 200, _ALLOWED, "allowed", route, route.scope, granted, token_claims
            )
        return Decision(
            False,
            403,
            Reason.INSUFFICIENT_SCOPE,
            f"the token lacks the scope {missing}",
            route,
            missing,
            granted,
            token_claims,
            error="insufficient_scope",
        )


def path_problem(path: str) -> str | None:
    """Return why ``path`` cannot be decided on, or ``None`` when it can.

    A decoded path must not contain ASCII control characters. A ``%0A`` decoded to a
    newline would otherwise let ``$`` in a router's regular expression match before it,
    so the app and the table could disagree on the route.
    """
    if _CONTROL_CHARACTER.search(path) is not None:
        return "the request path contains a control character"
    return None


def explain_decision(decision: Decision, request: str = "the request") -> str:
    """Return a few lines that explain ``decision``: the outcome and status, the route
    matched, the scope it requires, the scopes granted and the reason.

    ``request`` names the request in the first line, such as ``"GET /api/v1/courses/7"``.
    """
    if decision.allowed:
        verdict = "allowed"
    elif decision.enforced:
        verdict = f"denied with {decision.status}"
    else:
        verdict = f"would be denied with {decision.status}, let through in report mode"
    route = decision.route
    matched = f"{route.method} {route.path}" if route is not None else "none"
    granted = ", ".join(sorted(decision.granted_scopes)) or "none"
    # "allowed (allowed)" would repeat itself; any other reason adds to the verdict.
    reason = "" if decision.reason is Reason.ALLOWED else f" ({decision.reason.value})"
    return "\n".join(
        [
            f"{request}: {verdict}{reason}",
            f"  route matched: {matched}",
            f"  scope required: {decision.required_scope or 'none'}",
            f"  scopes granted: {granted}",
            f"  reason: {decision.message}",
        ]
    )

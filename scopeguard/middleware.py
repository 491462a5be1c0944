"""The ASGI middleware that enforces route scopes on HTTP and websocket connections."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import re
import secrets
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser

from scopeguard._request import (
    OVERRIDE_REJECTED,
    RequestHeaders,
    method_override,
    scan_headers,
)
from scopeguard._types import ASGIApp, Message, Receive, Scope, Send
from scopeguard.bearer import MAX_AUTHORIZATION_BYTES, token_from_authorization
from scopeguard.canvas import CANVAS_INSUFFICIENT_SCOPE_MESSAGE, CanvasCompatibility
from scopeguard.errors import BadRequest, ConfigurationError, Denial, InvalidToken, MissingToken
from scopeguard.events import (
    ALLOWED,
    DENIED,
    WOULD_DENY,
    DecisionCallback,
    DecisionCounters,
    DecisionEvent,
    decision_logger,
)
from scopeguard.introspect import routes_from_app
from scopeguard.policy import Decision, Policy, Reason, Unmatched
from scopeguard.request_target import TargetChecks, target_problem
from scopeguard.resolvers import TokenSource, as_verifier
from scopeguard.responses import DenialResponse, send_denial, validate_realm
from scopeguard.scopes import SCOPE_VERBS
from scopeguard.table import WEBSOCKET, Resolution, Route, RouteTable
from scopeguard.tokens import TokenInfo

__all__ = ["STATE_KEY", "MethodOverride", "ScopeGuardMiddleware", "TokenUser", "route_path"]

MethodOverride = Literal["reject", "honour"]

logger = logging.getLogger("scopeguard.middleware")

Mode = Literal["enforce", "report"]
# An HTTP header name is a token: one or more of these characters.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

#: Key of the :class:`~scopeguard.policy.Decision` in ``scope["state"]`` (``request.state``).
STATE_KEY = "scopeguard"

DEFAULT_TARGET_CHECKS = TargetChecks()


class TokenUser(BaseUser):
    """The user of a request with a verified token, as ``request.user`` returns it."""

    def __init__(self, token: TokenInfo) -> None:
        self.token = token

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.token.subject or ""

    @property
    def identity(self) -> str:
        return self.token.subject or ""

    @property
    def claims(self) -> Any:
        """The verified token's claims, read-only."""
        return self.token.claims


class ScopeGuardMiddleware:
    """Checks every HTTP request and websocket handshake against a route table.

    The request's method and path (``scope["path"]`` without ``root_path``, as Starlette's
    router dispatches) resolve to one route, whose scope the bearer token must carry.
    Lifespan and other connection types pass through. On success the
    :class:`~scopeguard.policy.Decision` is stored in ``scope["state"]["scopeguard"]`` and
    ``request.auth`` and ``request.user`` are set as Starlette's AuthenticationMiddleware
    sets them. The request body and the app's response pass through untouched.

    :param app: the ASGI app to protect.
    :param routes: a :class:`RouteTable`, or routes to build one from. When omitted, the
        routes are read from ``app`` with :func:`~scopeguard.routes_from_app` at startup
        (on the lifespan startup event, or on the first request when the server sends no
        lifespan events), so routes added until then are included.
    :param websocket_scope_method: for routes read from the app, the verb in the scope of
        websocket routes: ``"GET"`` (default) or ``"WEBSOCKET"``; see
        :func:`~scopeguard.routes_from_app`. With ``routes=``, set ``scope_method`` on each
        websocket route instead; passing both raises :class:`ConfigurationError`.
    :param verifier: verifies bearer tokens: a :class:`~scopeguard.JWTVerifier`, a
        :class:`~scopeguard.JWKSVerifier`, an :class:`~scopeguard.IntrospectionVerifier`, a
        resolver (an async callable that returns a :class:`~scopeguard.TokenInfo` or
        ``None``), or a list of these, asked in order as :class:`~scopeguard.TokenSources`
        asks them.
    :param realm: the ``realm`` of the ``WWW-Authenticate`` challenge.
    :param unmatched: ``"deny"`` (default) or ``"pass"``; see :class:`~scopeguard.Policy`.
    :param method_override: ``"reject"`` (default) responds with 400 to a request with an
        ``X-HTTP-Method-Override``, ``X-Method-Override`` or ``X-HTTP-Method`` header or a
        ``_method`` query parameter, because a framework downstream may run the request as
        that method. Header names with underscores in place of hyphens count too.
        ``"honour"`` decides on the overriding method instead.

        .. warning:: A ``_method`` field in a form body is not read. If the app honours
           one, requests can run as a method scopeguard did not check.
    :param cors_preflight: when true (default), an ``OPTIONS`` request with ``Origin`` and
        ``Access-Control-Request-Method`` headers passes to the app without a token, for its
        CORS middleware to respond to, unless the path has an ``OPTIONS`` route of its own.
        Starlette's ``CORSMiddleware`` is best put outside scopeguard: it then responds to
        preflights itself and adds its headers to scopeguard's denials too.
    :param max_authorization_bytes: longest ``Authorization`` header accepted, in bytes
        (default 8192). A longer one gets 401 before any of it is decoded.
    :param target_checks: which request-target checks run before a decision (encoded
        slashes, control characters, dot segments, double encoding, backslashes). All are
        on by default; a failing one gets 400.

        .. warning:: Each check turned off lets through targets that a proxy, router or
           handler may read differently from scopeguard. See docs/security.md.

    :param mode: ``"enforce"`` (default) or ``"report"``. In report mode every request is
        decided and recorded as usual, and a request that would be denied passes to the
        app anyway, with ``decision.enforced`` false. Routes with ``report_only=True``
        behave so in either mode.

        .. warning:: Report mode grants access: every request reaches the app, with or
           without a valid token. Use it only to find the clients that would fail.
    :param report_header: the name of a response header that tells the client what would
        have happened to a request that report mode let through, such as
        ``"X-Scopeguard-Report"`` with the value ``403 insufficient_scope``. Off by
        default.
    :param on_decision: a function or coroutine function that receives a
        :class:`~scopeguard.DecisionEvent` for every decision, before the request reaches
        the app. Exceptions it raises are logged and swallowed. Keep it quick, because it
        runs on every request.

    :param compatibility: a :class:`~scopeguard.CanvasCompatibility` that answers scope
        failures as Canvas LMS does, for a migration. Off by default.

    Every decision is also counted in :attr:`counters` and logged on the
    ``scopeguard.decisions`` logger: denials and report-mode denials at INFO, allowed
    requests at DEBUG, with the event's fields in the record's ``extra``.

    Raises :class:`ConfigurationError` for an invalid option; routes are validated when
    the table is built.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: RouteTable | Collection[Route] | None = None,
        verifier: TokenSource | Sequence[TokenSource],
        realm: str = "api",
        unmatched: Unmatched = "deny",
        method_override: MethodOverride = "reject",
        cors_preflight: bool = True,
        max_authorization_bytes: int = MAX_AUTHORIZATION_BYTES,
        target_checks: TargetChecks = DEFAULT_TARGET_CHECKS,
        websocket_scope_method: str | None = None,
        mode: Mode = "enforce",
        report_header: str | None = None,
        on_decision: DecisionCallback | None = None,
        compatibility: CanvasCompatibility | None = None,
    ) -> None:
        try:
            checked_verifier = as_verifier(verifier)
        except ConfigurationError as exc:
            raise ConfigurationError(f"verifier: {exc}") from None
        try:
            self.realm = validate_realm(realm)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None

        if unmatched not in ("deny", "pass"):
            raise ConfigurationError(
                f"unknown value {unmatched!r} for unmatched; use 'deny' or 'pass'"
            )
        if method_override not in ("reject", "honour"):
            raise ConfigurationError(
                f"unknown value {method_override!r} for method_override; use 'reject' or 'honour'"
            )
        if not isinstance(cors_preflight, bool):
            raise ConfigurationError(
                f"cors_preflight must be True or False, got {cors_preflight!r}"
            )
        if (
            isinstance(max_authorization_bytes, bool)
            or not isinstance(max_authorization_bytes, int)
            or max_authorization_bytes < 16
        ):
            raise ConfigurationError(
                "max_authorization_bytes must be an integer of at least 16, "
                f"got {max_authorization_bytes!r}"
            )
        if not isinstance(target_checks, TargetChecks):
            raise ConfigurationError(
                "target_checks must be a scopeguard.TargetChecks, got "
                f"{type(target_checks).__name__}"
            )
        if websocket_scope_method is not None:
            if routes is not None:
                raise ConfigurationError(
                    "websocket_scope_method applies only to routes read from the app; with "
                    "routes=, set scope_method on each websocket route instead"
                )
            if websocket_scope_method not in SCOPE_VERBS:
                raise ConfigurationError(
                    f"websocket_scope_method must be one of {', '.join(sorted(SCOPE_VERBS))}, "
                    f"got {websocket_scope_method!r}"
                )
        self.websocket_scope_method = websocket_scope_method or "GET"
        if mode not in ("enforce", "report"):
            raise ConfigurationError(f"unknown value {mode!r} for mode; use 'enforce' or 'report'")
        self.mode: Mode = mode
        if report_header is not None and (
            not isinstance(report_header, str) or _HEADER_NAME.fullmatch(report_header) is None
        ):
            raise ConfigurationError(
                f"report_header must be an HTTP header name such as 'X-Scopeguard-Report', "
                f"got {report_header!r}"
            )
        self.report_header = report_header.lower() if report_header is not None else None
        if on_decision is not None and not callable(on_decision):
            raise ConfigurationError(
                f"on_decision must be a function or coroutine function, got "
                f"{type(on_decision).__name__}"
            )
        self.on_decision = on_decision
        self.counters = DecisionCounters()
        if compatibility is not None and not isinstance(compatibility, CanvasCompatibility):
            raise ConfigurationError(
                "compatibility must be a scopeguard.CanvasCompatibility, got "
                f"{type(compatibility).__name__}"
            )
        self.compatibility = compatibility
        self._callback_failed_at: float | None = None
        self.target_checks = target_checks
        self.app = app
        self.verifier = checked_verifier
        self.method_override: MethodOverride = method_override
        self.cors_preflight = cors_preflight
        self.max_authorization_bytes = max_authorization_bytes
        self.unmatched: Unmatched = unmatched
        self._policy = Policy(routes, unmatched=unmatched) if routes is not None else None
        if compatibility is not None and self._policy is not None:
            compatibility.check_table(self._policy.table)
        self._routes_error: ConfigurationError | None = None

    @property
    def policy(self) -> Policy:
        """The policy the middleware decides with, reading the app's routes on first use.

        Raises :class:`ConfigurationError` when the routes cannot be read. The error is
        kept, so later calls raise it again without reading or logging again.
        """
        if self._policy is None:
            if self._routes_error is not None:
                raise self._routes_error
            try:
                table = routes_from_app(
                    self.app, websocket_scope_method=self.websocket_scope_method
                )
                if self.compatibility is not None:
                    self.compatibility.check_table(table)
                self._policy = Policy(table, unmatched=self.unmatched)
            except ConfigurationError as exc:
                self._routes_error = exc
                logger.error("cannot read the app's routes: %s", exc)
                raise
            logger.info("read %d routes from the app", len(self._policy.table))
        return self._policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._starting(send))
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        policy = self._policy
        try:
            if policy is None:
                policy = self.policy
        except ConfigurationError as exc:
            # Only reachable when the server runs without lifespan events, which would have
            # reported the error at startup. The policy property logged it once.
            response = DenialResponse(500, f"scopeguard is misconfigured: {exc}")
            await send_denial(self.realm, response, scope, receive, send)
            return

        started = time.perf_counter()
        verdict = await self._check(scope, policy)
        decision = verdict.decision
        route = decision.route
        report = not decision.allowed and (
            self.mode == "report" or (route is not None and route.report_only)
        )
        if report:
            decision.enforced = False
            outcome = WOULD_DENY
        else:
            outcome = ALLOWED if decision.allowed else DENIED
        event = self._record(scope, verdict, outcome, time.perf_counter() - started)
        if event is not None and self.on_decision is not None:
            await self._call_back(event)
        # Set for denials too, so that a layer around the middleware, such as the test
        # client of scopeguard.testing, can read what was decided.
        scope.setdefault("state", {})[STATE_KEY] = decision

        if not decision.allowed and not report:
            await send_denial(self.realm, _denial_response(decision), scope, receive, send)
            return
        token = verdict.token
        if token is not None and decision.allowed:
            scope["auth"] = AuthCredentials(token.sorted_scopes)
            scope["user"] = TokenUser(token)
        else:
            scope.setdefault("auth", AuthCredentials())
            scope.setdefault("user", UnauthenticatedUser())
        if report and self.report_header is not None:
            send = self._reporting(send, decision)
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope, policy: Policy) -> _Verdict:
        """Decide the request without sending anything."""
        # route_path() only when there is a root_path, because most requests have none.
        path = route_path(scope) if scope.get("root_path") else scope["path"]
        problem = target_problem(scope["path"], scope.get("raw_path"), self.target_checks)
        if problem is not None:
            return _Verdict(_rejection(BadRequest(problem)), path)
        headers = scan_headers(scope["headers"])
        try:
            method = self._method(scope, headers)
        except Denial as denial:
            return _Verdict(_rejection(denial), path)

        table = policy.table
        host = None
        if table.has_host_routes and headers.host is not None:
            host = headers.host.decode("latin-1")
        resolution = table.resolve(method, path, host)
        if method == "OPTIONS" and self._is_cors_preflight(headers, resolution):
            # The app's CORS middleware responds to it. A path with its own OPTIONS route is
            # checked like any other request instead, so the headers cannot open that route.
            preflight = Decision(
                True, 200, Reason.CORS_PREFLIGHT, "CORS preflight passed to the app"
            )
            return _Verdict(preflight, path, method)
        if not policy.requires_token(resolution):
            return _Verdict(policy.decide_resolved(resolution, method, path, None), path, method)

        try:
            raw_token = token_from_authorization(
                headers.authorization, max_bytes=self.max_authorization_bytes
            )
            token = await self.verifier.verify(raw_token)
        except Denial as denial:
            decision = _rejection(denial, resolution.route)
            return _Verdict(decision, path, method, error_class=_error_class(denial))
        decision = policy.decide_resolved(resolution, method, path, token.scopes, token.claims)
        if self.compatibility is not None and decision.reason is Reason.INSUFFICIENT_SCOPE:
            decision = self._canvas_decision(decision, token)
        return _Verdict(decision, path, method, token)

    def _canvas_decision(self, decision: Decision, token: TokenInfo) -> Decision:
        """Apply Canvas's rules to a decision that found a scope missing."""
        compatibility = self.compatibility
        assert compatibility is not None
        route = decision.route
        assert route is not None
        if compatibility.is_unscoped(token):
            reason, message = Reason.UNSCOPED_TOKEN, "allowed: the token carries no scope claim"
        elif compatibility.is_always_allowed(route):
            reason, message = Reason.ALWAYS_ALLOWED, "allowed: the route needs no scope"
        else:
            # Canvas responds to a missing scope with 401 and its own message.
            return dataclasses.replace(
                decision, status=401, message=CANVAS_INSUFFICIENT_SCOPE_MESSAGE
            )
        return dataclasses.replace(
            decision, allowed=True, status=200, reason=reason, message=message, error=None
        )

    def _record(
        self, scope: Scope, verdict: _Verdict, outcome: str, duration: float
    ) -> DecisionEvent | None:
        """Count the decision, and log it when the logger takes it. Return the event for the
        callback, or ``None`` when neither the logger nor a callback takes one."""
        decision = verdict.decision
        route = decision.route
        self.counters.add(route.path if route is not None else None, outcome)
        level = logging.DEBUG if outcome == ALLOWED else logging.INFO
        logging_it = decision_logger.isEnabledFor(level)
        if self.on_decision is None and not logging_it:
            return None
        event = _event(scope, verdict, outcome, duration)
        if logging_it:
            # Only then: the extra fields cost more than the rest of the event.
            decision_logger.log(
                level,
                "%s %s %r: %s %s: %s",
                outcome,
                event.method,
                event.path,
                event.status,
                event.reason,
                event.message,
                extra=event.log_fields(),
            )
        return event

    async def _call_back(self, event: DecisionEvent) -> None:
        assert self.on_decision is not None
        try:
            result = self.on_decision(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            # A failing callback must not fail the request it observes.
            now = time.monotonic()
            if self._callback_failed_at is None or now - self._callback_failed_at >= 60:
                self._callback_failed_at = now
                logger.exception(
                    "the on_decision callback failed; later failures in the "
                    "next 60 s are logged at DEBUG level"
                )
            else:
                logger.debug("the on_decision callback failed", exc_info=True)

    def _reporting(self, send: Send, decision: Decision) -> Send:
        """Wrap ``send`` to add the report header to the app's response."""
        assert self.report_header is not None
        name = self.report_header.encode("latin-1")
        value = f"{decision.status} {decision.reason.value}".encode("latin-1")

        async def send_with_report(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                message = {**message, "headers": [*message.get("headers", []), (name, value)]}
            await send(message)

        return send_with_report

    def _method(self, scope: Scope, headers: RequestHeaders) -> str:
        """Return the method to decide on, or raise :class:`BadRequest` for an override the
        middleware does not accept."""
        if scope["type"] != "http":
            # Websocket handshakes resolve among WEBSOCKET routes, then GET routes.
            return WEBSOCKET
        method: str = scope["method"]
        override = method_override(headers, scope.get("query_string", b""))
        if override is None:
            return method
        if self.method_override == "reject":
            raise BadRequest(OVERRIDE_REJECTED)
        return override

    def _is_cors_preflight(self, headers: RequestHeaders, resolution: Resolution) -> bool:
        """Return whether an ``OPTIONS`` request is a CORS preflight to pass to the app."""
        if not self.cors_preflight:
            return False
        if headers.origin is None or headers.preflight_method is None:
            return False
        route = resolution.route
        return route is None or route.method != "OPTIONS"

    def _starting(self, send: Send) -> Send:
        """Wrap a lifespan ``send`` to prepare the middleware once the app has started.

        The app's routes are read when ``routes`` was left out, so routes added during the
        app's own startup are included, and a verifier with an ``async def start()`` method,
        such as a :class:`~scopeguard.JWKSVerifier` that prefetches its keys, is started.
        An error fails the startup with its message, so the server reports it instead of
        serving requests.
        """

        async def send_when_ready(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                try:
                    self.policy  # noqa: B018 - reads the routes when they are not read yet
                    start = getattr(self.verifier, "start", None)
                    if inspect.iscoroutinefunction(start):
                        await start()
                except ConfigurationError as exc:
                    message = {"type": "lifespan.startup.failed", "message": str(exc)}
            await send(message)

        return send_when_ready


@dataclass(slots=True)
class _Verdict:
    """A decision and what the middleware learned on the way to it."""

    decision: Decision
    path: str
    method: str | None = None
    token: TokenInfo | None = None
    error_class: str | None = None


def _rejection(denial: Denial, route: Route | None = None) -> Decision:
    """Return the decision for a request rejected before the policy decided it."""
    reason = Reason.BAD_REQUEST
    if isinstance(denial, MissingToken):
        reason = Reason.MISSING_TOKEN
    elif isinstance(denial, InvalidToken):
        reason = Reason.INVALID_TOKEN
    decision = Decision(
        False,
        denial.status_code,
        reason,
        denial.reason,
        route,
        route.scope if route is not None else None,
        error=denial.error_code,
    )
    return decision


def _error_class(denial: Denial) -> str | None:
    """Return the name of the PyJWT exception behind an invalid token, if there is one."""
    cause = denial.__cause__
    if isinstance(denial, InvalidToken) and isinstance(cause, jwt.PyJWTError):
        return type(cause).__name__
    return None


def _event(scope: Scope, verdict: _Verdict, outcome: str, duration: float) -> DecisionEvent:
    decision = verdict.decision
    route = decision.route
    token = verdict.token
    method = verdict.method or scope.get("method") or WEBSOCKET
    return DecisionEvent(
        id=secrets.token_hex(16),
        time=time.time(),
        method=method,
        path=verdict.path,
        route=route.path if route is not None else None,
        required_scope=decision.required_scope,
        outcome=outcome,
        status=decision.status,
        reason=decision.reason.value,
        message=decision.message,
        error_class=verdict.error_class,
        subject=token.subject if token is not None else None,
        client_id=token.client_id if token is not None else None,
        duration=duration,
    )


def _denial_response(decision: Decision) -> DenialResponse:
    return DenialResponse(
        status=decision.status,
        message=decision.message,
        error=decision.error,
        scope=decision.required_scope if decision.reason is Reason.INSUFFICIENT_SCOPE else None,
        allowed_methods=decision.allowed_methods,
    )


def route_path(scope: Scope) -> str:
    """Return the path Starlette's router dispatches on: ``path`` without ``root_path``.

    The prefix is removed only at a segment boundary, so a ``root_path`` of ``/v`` leaves
    ``/v1/courses`` whole. This mirrors ``starlette._utils.get_route_path`` (Starlette 0.35
    and later).
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path

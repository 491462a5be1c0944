"""Helpers for unit tests of scope policies: tokens, a test client and explained assertions.

::

    from scopeguard.testing import TokenFactory, assert_allowed, assert_denied, decide

    tokens = TokenFactory()
    assert_allowed(decide(policy, "GET", "/api/v1/courses/7", ["url:GET|/api/v1/courses/:id"]))

    with ScopeClient(app, tokens) as client:  # app guarded with verifier=tokens.verifier()
        assert_denied(client.get("/api/v1/courses/7", scopes=[]), status=403)

A failed assertion explains the decision: the route matched, the scope it requires, the
scopes granted and the reason. The pytest plugin in :mod:`scopeguard.pytest_plugin`
provides these as fixtures and runs policy table files.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import time
from collections.abc import Collection, Iterable, Mapping
from functools import cached_property
from typing import Any

import anyio
import httpx
import jwt
from anyio.from_thread import BlockingPortal, start_blocking_portal

from scopeguard.jwks import JWKSVerifier
from scopeguard.middleware import STATE_KEY
from scopeguard.policy import Decision, Policy, explain_decision
from scopeguard.resolvers import TokenSources
from scopeguard.table import Route, RouteTable
from scopeguard.tokens import JWTVerifier

__all__ = [
    "ScopeClient",
    "TokenFactory",
    "assert_allowed",
    "assert_denied",
    "decide",
    "explain",
]

#: The ``extensions`` key under which :class:`ScopeClient` stores a response's decision.
DECISION_EXTENSION = "scopeguard.decision"


class TokenFactory:
    """Mints signed test tokens for given scopes.

    An HS256 secret and an RS256 key pair are generated for each factory, so tokens of one
    test session cannot verify in another. :meth:`verifier` returns the matching token
    sources for the middleware under test.

    :param issuer: the ``iss`` claim of every token.
    :param audience: the ``aud`` claim of every token.
    """

    def __init__(
        self,
        *,
        issuer: str = "https://scopeguard.test",
        audience: str = "scopeguard-tests",
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.secret = secrets.token_urlsafe(32)

    def __repr__(self) -> str:
        return f"TokenFactory(issuer={self.issuer!r}, audience={self.audience!r})"

    @cached_property
    def _rsa_key(self) -> Any:
        # Generated on first use, because a 2048-bit key takes tens of milliseconds.
        from cryptography.hazmat.primitives.asymmetric import rsa

        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def jwks(self) -> dict[str, Any]:
        """The key set that publishes the RS256 public key, with ``kid`` ``test-key``."""
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self._rsa_key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": "test-key", "use": "sig"}]}

    def token(
        self,
        scopes: Iterable[str] = (),
        *,
        algorithm: str = "HS256",
        subject: str = "test-user",
        expires_in: int = 3600,
        **claims: Any,
    ) -> str:
        """Return a token whose ``scope`` claim lists ``scopes``, signed with ``algorithm``
        (``"HS256"`` or ``"RS256"``). ``claims`` are added or override the defaults."""
        if isinstance(scopes, str):
            raise TypeError("scopes must be a list of scope strings, not one string")
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "exp": now + expires_in,
            "scope": " ".join(scopes),
        }
        payload.update(claims)
        if algorithm == "HS256":
            return jwt.encode(payload, self.secret, algorithm="HS256")
        if algorithm == "RS256":
            return jwt.encode(
                payload, self._rsa_key, algorithm="RS256", headers={"kid": "test-key"}
            )
        raise ValueError(f"algorithm must be 'HS256' or 'RS256', got {algorithm!r}")

    def headers(self, scopes: Iterable[str] = (), **options: Any) -> dict[str, str]:
        """Return an ``Authorization`` header with a token for ``scopes``."""
        return {"Authorization": f"Bearer {self.token(scopes, **options)}"}

    def verifier(self) -> TokenSources:
        """Return token sources that accept this factory's HS256 and RS256 tokens."""
        return TokenSources(
            [
                JWTVerifier(
                    key=self.secret,
                    algorithms=["HS256"],
                    issuer=self.issuer,
                    audience=self.audience,
                ),
                JWKSVerifier(
                    keys=self.jwks,
                    algorithms=["RS256"],
                    issuer=self.issuer,
                    audience=self.audience,
                ),
            ]
        )


def decide(
    policy: Policy | RouteTable | Collection[Route],
    method: str,
    path: str,
    scopes: Iterable[str] | None,
) -> Decision:
    """Decide one request against ``policy`` (or a table), for a token with ``scopes``, or
    without a token when ``scopes`` is ``None``."""
    if not isinstance(policy, Policy):
        policy = Policy(policy)
    granted = None if scopes is None else _scope_set(scopes)
    return policy.decide(method, path, granted)


def explain(subject: Decision | httpx.Response, request: str | None = None) -> str:
    """Return a few lines that explain a decision, or the decision behind a response of
    :class:`ScopeClient`. ``request``, such as ``"GET /api/v1/courses/7"``, names the
    request of a bare decision; a response names its own."""
    if isinstance(subject, httpx.Response):
        decision = subject.extensions.get(DECISION_EXTENSION)
        request = f"{subject.request.method} {subject.request.url.path}"
        if decision is None:
            return (
                f"{request}: {subject.status_code}, and no scopeguard decision was recorded; "
                "is the app wrapped in ScopeGuardMiddleware?"
            )
        return _explain(decision, request, subject.status_code)
    return _explain(subject, request or "the request", None)


def assert_allowed(subject: Decision | httpx.Response, request: str | None = None) -> Decision:
    """Assert that a decision, or the one behind a response, allowed the request, and
    return it. The failure message explains the decision; ``request`` names the request
    of a bare decision."""
    decision = _decision_of(subject)
    if not decision.allowed:
        raise AssertionError("expected the request to be allowed\n" + explain(subject, request))
    return decision


def assert_denied(
    subject: Decision | httpx.Response,
    request: str | None = None,
    *,
    status: int | None = None,
    reason: str | None = None,
) -> Decision:
    """Assert that a decision, or the one behind a response, denied the request, with
    ``status`` and ``reason`` (such as ``"insufficient_scope"``) when given, and return
    it. The failure message explains the decision."""
    decision = _decision_of(subject)
    problems = []
    if decision.allowed:
        problems.append("expected the request to be denied")
    if status is not None and decision.status != status:
        problems.append(f"expected status {status}, got {decision.status}")
    if reason is not None and decision.reason.value != reason:
        problems.append(f"expected reason {reason!r}, got {decision.reason.value!r}")
    if problems:
        raise AssertionError("; ".join(problems) + "\n" + explain(subject, request))
    return decision


class ScopeClient:
    """A synchronous test client for an ASGI app guarded by scopeguard.

    Requests carry a token minted by ``tokens`` for the scopes given per request. Each
    response keeps the middleware's decision, which :func:`assert_allowed`,
    :func:`assert_denied` and :func:`explain` read. Use it as a context manager: it runs
    the app in an event loop of its own thread, sends the lifespan startup on entry and
    the shutdown on exit.

    :param app: the guarded app, whose verifier accepts ``tokens``' tokens, for example
        ``ScopeGuardMiddleware(app, verifier=tokens.verifier())``.
    :param tokens: the factory that mints the tokens; a new one by default.
    :param base_url: the scheme and host of the requests.
    """

    def __init__(
        self,
        app: Any,
        tokens: TokenFactory | None = None,
        *,
        base_url: str = "http://testserver",
    ) -> None:
        self.tokens = tokens or TokenFactory()
        self._decisions: list[Decision] = []
        self._app = _Recording(app, self._decisions)
        self._base_url = base_url
        self._stack: contextlib.ExitStack | None = None
        self._portal: BlockingPortal | None = None
        self._client: httpx.AsyncClient | None = None
        self._lifespan: _Lifespan | None = None

    def __enter__(self) -> ScopeClient:
        stack = contextlib.ExitStack()
        portal = stack.enter_context(start_blocking_portal())
        try:
            transport = httpx.ASGITransport(app=self._app)
            self._client = httpx.AsyncClient(transport=transport, base_url=self._base_url)
            stack.callback(portal.call, self._client.aclose)
            self._lifespan = _Lifespan(self._app)
            portal.start_task_soon(self._lifespan.run)
            stack.callback(portal.call, self._lifespan.stop)
            portal.call(self._lifespan.wait_started)
        except BaseException:
            stack.close()
            raise
        self._stack, self._portal = stack, portal
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack = self._portal = self._client = self._lifespan = None

    def request(
        self,
        method: str,
        path: str,
        *,
        scopes: Iterable[str] | None = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        **options: Any,
    ) -> httpx.Response:
        """Send a request with a token for ``scopes``, with ``token`` as it is, or with no
        token when both are ``None``. ``options`` go to ``httpx``."""
        if self._portal is None or self._client is None:
            raise RuntimeError("use ScopeClient in a with statement: with ScopeClient(app) as c:")
        if scopes is not None and token is not None:
            raise ValueError("give scopes or token, not both")
        sent = dict(headers or {})
        if scopes is not None:
            sent.update(self.tokens.headers(_scope_list(scopes)))
        elif token is not None:
            sent["Authorization"] = f"Bearer {token}"
        self._decisions.clear()
        send = functools.partial(self._client.request, method, path, headers=sent, **options)
        response: httpx.Response = self._portal.call(send)
        if self._decisions:
            response.extensions = {**response.extensions, DECISION_EXTENSION: self._decisions[-1]}
        return response

    def get(self, path: str, **options: Any) -> httpx.Response:
        """Send a GET request; see :meth:`request`."""
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        """Send a POST request; see :meth:`request`."""
        return self.request("POST", path, **options)

    def put(self, path: str, **options: Any) -> httpx.Response:
        """Send a PUT request; see :meth:`request`."""
        return self.request("PUT", path, **options)

    def delete(self, path: str, **options: Any) -> httpx.Response:
        """Send a DELETE request; see :meth:`request`."""
        return self.request("DELETE", path, **options)


class _Lifespan:
    """Runs an app's lifespan protocol in :meth:`run`, from startup to the shutdown that
    :meth:`stop` requests. An app without lifespan support is served without it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.messages: list[dict[str, Any]] = []
        self.started = anyio.Event()
        self.shutdown = anyio.Event()
        self.finished = anyio.Event()

    async def wait_started(self) -> None:
        await self.started.wait()
        failed = [message for message in self.messages if message["type"].endswith("failed")]
        if failed:
            raise RuntimeError(f"the app's lifespan startup failed: {failed[0].get('message')}")

    async def stop(self) -> None:
        self.shutdown.set()
        await self.finished.wait()

    async def run(self) -> None:
        pending = [{"type": "lifespan.startup"}]

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await self.shutdown.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: dict[str, Any]) -> None:
            self.messages.append(message)
            if message["type"].startswith("lifespan.startup."):
                self.started.set()

        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        try:
            await self.app(scope, receive, send)
        except Exception:  # noqa: S110 - an app without lifespan support raises here
            pass
        finally:
            self.started.set()
            self.finished.set()


class _Recording:
    """An ASGI app that gives each HTTP request a state dict and keeps the decision that
    scopeguard stores in it."""

    def __init__(self, app: Any, decisions: list[Decision]) -> None:
        self.app = app
        self.decisions = decisions

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = dict(scope.get("state") or {})
        try:
            await self.app({**scope, "state": state}, receive, send)
        finally:
            decision = state.get(STATE_KEY)
            if isinstance(decision, Decision):
                self.decisions.append(decision)


def _decision_of(subject: Decision | httpx.Response) -> Decision:
    if isinstance(subject, Decision):
        return subject
    decision = subject.extensions.get(DECISION_EXTENSION)
    if not isinstance(decision, Decision):
        raise AssertionError(explain(subject))
    return decision


def _explain(decision: Decision, request: str, status: int | None) -> str:
    text = explain_decision(decision, request)
    if status is not None and status != decision.status:
        first, _, rest = text.partition("\n")
        return f"{first}\n  response status: {status}\n{rest}"
    return text


def _scope_set(scopes: Iterable[str]) -> frozenset[str]:
    return frozenset(_scope_list(scopes))


def _scope_list(scopes: Iterable[str]) -> list[str]:
    if isinstance(scopes, str):
        raise TypeError("scopes must be a list of scope strings, not one string")
    return list(scopes)

"""Tests of resolvers, StaticResolver and TokenSources, in-process and under uvicorn."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from conftest import run_asgi_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from scopeguard import (
    ConfigurationError,
    InvalidToken,
    JWTVerifier,
    Route,
    ScopeGuardMiddleware,
    StaticResolver,
    TokenInfo,
    TokenSources,
    UnknownToken,
    as_verifier,
    mint_token,
)

SCOPE = "url:GET|/api/v1/courses/:course_id"
SECRET = "resolvers-test-secret-0123456789abcdef"


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# --- StaticResolver -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "scopes", "subject"),
    [
        pytest.param(SCOPE, {SCOPE}, None, id="scope-string"),
        pytest.param(f"{SCOPE}  profile", {SCOPE, "profile"}, None, id="two-scopes"),
        pytest.param([SCOPE, "profile"], {SCOPE, "profile"}, None, id="scope-list"),
        pytest.param({"scope": SCOPE, "sub": "svc-1"}, {SCOPE}, "svc-1", id="claims"),
        pytest.param({"scp": [SCOPE], "sub": "svc-2"}, {SCOPE}, "svc-2", id="scp-claim"),
        pytest.param(
            TokenInfo(frozenset({SCOPE}), {"sub": "svc-3"}), {SCOPE}, "svc-3", id="token-info"
        ),
        pytest.param([], set(), None, id="no-scopes"),
    ],
)
def test_static_resolver_entries(entry: Any, scopes: set[str], subject: str | None) -> None:
    resolver = StaticResolver({"service-token": entry})

    info = run(resolver("service-token"))

    assert info is not None
    assert info.scopes == scopes
    assert info.subject == subject
    assert run(resolver("other-token")) is None


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        pytest.param({"": SCOPE}, "non-empty string", id="empty-token"),
        pytest.param({"t": 7}, "got int", id="number"),
        pytest.param({"t": [SCOPE, 7]}, "got list", id="list-with-number"),
        pytest.param({"t": {"scope": 7}}, "space-separated string", id="bad-claim"),
        pytest.param(["t"], "mapping from token to scopes", id="not-a-mapping"),
    ],
)
def test_static_resolver_rejects(tokens: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        StaticResolver(tokens)


def test_static_resolver_repr_hides_tokens() -> None:
    assert repr(StaticResolver({"secret-token": SCOPE})) == "StaticResolver(1 tokens)"


# --- as_verifier ----------------------------------------------------------------------------


async def resolve_function(token: str) -> TokenInfo | None:
    return TokenInfo(frozenset({SCOPE})) if token == "known" else None


class CallableResolver:
    async def __call__(self, token: str) -> TokenInfo | None:
        return await resolve_function(token)


def sync_function(token: str) -> TokenInfo | None:
    return None


async def wrong_type(token: str) -> Any:
    return {"scope": SCOPE}


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(resolve_function, id="async-function"),
        pytest.param(CallableResolver(), id="async-callable"),
        pytest.param(StaticResolver({"known": SCOPE}), id="static-resolver"),
        pytest.param([resolve_function], id="list"),
    ],
)
def test_as_verifier_resolvers(source: Any) -> None:
    verifier = as_verifier(source)

    assert run(verifier.verify("known")).scopes == {SCOPE}
    with pytest.raises(UnknownToken, match="not recognized"):
        run(verifier.verify("unknown"))


def test_as_verifier_keeps_verifier() -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])

    assert as_verifier(verifier) is verifier


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(sync_function, id="sync-function"),
        pytest.param("token", id="string"),
        pytest.param(None, id="none"),
    ],
)
def test_as_verifier_rejects(source: Any) -> None:
    with pytest.raises(ConfigurationError, match="async callable"):
        as_verifier(source)


def test_resolver_returning_wrong_type() -> None:
    with pytest.raises(TypeError, match=r"returned dict, expected a scopeguard\.TokenInfo"):
        run(as_verifier(wrong_type).verify("any"))


# --- TokenSources -------------------------------------------------------------------------


class Fixed:
    """A verifier that always gives one result, and counts its calls."""

    def __init__(self, result: TokenInfo | InvalidToken) -> None:
        self.result = result
        self.calls = 0

    async def verify(self, token: str) -> TokenInfo:
        self.calls += 1
        if isinstance(self.result, InvalidToken):
            raise self.result
        return self.result


ACCEPT = TokenInfo(frozenset({SCOPE}), {"sub": "accepted"})


@pytest.mark.parametrize(
    ("results", "outcome", "calls"),
    [
        pytest.param([ACCEPT, UnknownToken("b")], "accepted", [1, 0], id="first-accepts"),
        pytest.param([UnknownToken("a"), ACCEPT], "accepted", [1, 1], id="second-accepts"),
        pytest.param(
            [InvalidToken("expired"), ACCEPT], "InvalidToken: expired", [1, 0], id="final-stops"
        ),
        pytest.param(
            [UnknownToken("a"), UnknownToken("b")], "UnknownToken: b", [1, 1], id="last-unknown"
        ),
        pytest.param(
            [UnknownToken("a", specific=True), UnknownToken("b")],
            "UnknownToken: a",
            [1, 1],
            id="specific-reason-wins",
        ),
        pytest.param(
            [UnknownToken("a"), UnknownToken("b", specific=True), UnknownToken("c", specific=True)],
            "UnknownToken: b",
            [1, 1, 1],
            id="first-specific-reason",
        ),
        pytest.param(
            [UnknownToken("a"), InvalidToken("first"), InvalidToken("second")],
            "InvalidToken: first",
            [1, 1, 0],
            id="first-final-reason",
        ),
    ],
)
def test_token_sources_order(
    results: list[TokenInfo | InvalidToken], outcome: str, calls: list[int]
) -> None:
    sources = [Fixed(result) for result in results]
    chain = TokenSources(sources)

    try:
        got = run(chain.verify("token")).subject
    except InvalidToken as exc:
        got = f"{type(exc).__name__}: {exc.reason}"

    assert got == outcome
    assert [source.calls for source in sources] == calls


def test_token_sources_start_each() -> None:
    started: list[str] = []

    class Startable(Fixed):
        def __init__(self, name: str) -> None:
            super().__init__(ACCEPT)
            self.name = name

        async def start(self) -> None:
            started.append(self.name)

    run(TokenSources([Startable("a"), resolve_function, Startable("b")]).start())

    assert started == ["a", "b"]


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        pytest.param([], "at least one", id="empty"),
        pytest.param("jwt", "list of verifiers", id="string"),
        pytest.param([sync_function], "async callable", id="sync"),
    ],
)
def test_token_sources_rejects(sources: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TokenSources(sources)


# --- Behind the middleware ------------------------------------------------------------------


async def show_course(request: Request) -> Response:
    return JSONResponse({"user": request.user.identity, "scopes": request.auth.scopes})


@pytest.mark.parametrize(
    ("token", "status"),
    [
        pytest.param("service-token", 200, id="static-token"),
        pytest.param(mint_token(SECRET, [SCOPE]), 200, id="jwt"),
        pytest.param("other-token", 401, id="unknown-token"),
        pytest.param("limited-token", 403, id="static-token-without-scope"),
    ],
)
def test_middleware_with_static_resolver(token: str, status: int) -> None:
    app = Starlette(routes=[StarletteRoute("/api/v1/courses/{course_id}", show_course)])
    resolver = StaticResolver(
        {
            "service-token": {"scope": SCOPE, "sub": "reporting-job"},
            "limited-token": "url:GET|/api/v1/users",
        }
    )
    guarded = ScopeGuardMiddleware(
        app,
        routes=[Route("GET", "/api/v1/courses/:course_id")],
        verifier=[resolver, JWTVerifier(key=SECRET, algorithms=["HS256"])],
    )

    with run_asgi_server(guarded) as url:
        response = httpx.get(
            url + "/api/v1/courses/7", headers={"Authorization": f"Bearer {token}"}
        )

    assert response.status_code == status
    if status == 200:
        assert response.json()["scopes"] == [SCOPE]

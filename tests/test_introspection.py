"""Tests of IntrospectionVerifier against a real RFC 7662 endpoint under uvicorn on 127.0.0.1.

The endpoint responds from a table of tokens, records every request it receives, and can
fail with an error status, garbage, a response without ``active``, or slowly.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from conftest import run_asgi_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route as StarletteRoute

from scopeguard import (
    ConfigurationError,
    IntrospectionVerifier,
    InvalidToken,
    JWTVerifier,
    Route,
    ScopeGuardMiddleware,
    Secret,
    StaticResolver,
    TokenInfo,
    UnknownToken,
    mint_token,
)

SCOPE = "url:GET|/api/v1/courses/:course_id"
CLIENT_ID = "gateway client"
CLIENT_SECRET = "p@ss:word/with spaces"
JWT_SECRET = "introspection-test-jwt-secret-0123456789"


@dataclass
class Endpoint:
    """The state of the introspection endpoint, shared with its thread."""

    url: str = ""
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: "ok", "status-500", "garbage", "list", "no-active" or "huge".
    mode: str = "ok"
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)


def endpoint_app(state: Endpoint) -> Starlette:
    async def introspect(request: Request) -> Response:
        # Parsed by hand, since Starlette's form parser needs python-multipart.
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        state.requests.append({"authorization": request.headers.get("authorization"), "form": form})
        if state.delay:
            await asyncio.sleep(state.delay)
        if state.mode == "status-500":
            return PlainTextResponse("down", status_code=500)
        if state.mode == "garbage":
            return PlainTextResponse("<html>maintenance</html>")
        if state.mode == "list":
            return JSONResponse([{"active": True}])
        if state.mode == "no-active":
            return JSONResponse({"scope": SCOPE})
        if state.mode == "huge":
            return JSONResponse({"active": False, "padding": "x" * 300_000})
        return JSONResponse(state.tokens.get(form.get("token", ""), {"active": False}))

    return Starlette(routes=[StarletteRoute("/introspect", introspect, methods=["POST"])])


@pytest.fixture(scope="module")
def endpoint_module() -> Iterator[Endpoint]:
    state = Endpoint()
    with run_asgi_server(endpoint_app(state)) as url:
        state.url = url + "/introspect"
        yield state


@pytest.fixture
def endpoint(endpoint_module: Endpoint) -> Endpoint:
    """The endpoint, reset to know one active token, "opaque-1"."""
    state = endpoint_module
    state.tokens = {
        "opaque-1": {
            "active": True,
            "scope": SCOPE,
            "sub": "user-1",
            "client_id": "mobile-app",
            "exp": int(time.time()) + 600,
        }
    }
    state.mode = "ok"
    state.delay = 0.0
    state.requests = []
    return state


def verifier_for(endpoint: Endpoint, **options: Any) -> IntrospectionVerifier:
    settings: dict[str, Any] = {
        "url": endpoint.url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **options,
    }
    return IntrospectionVerifier(**settings)


def verify(verifier: IntrospectionVerifier, token: str) -> TokenInfo:
    return asyncio.run(verifier.verify(token))


def rejection(verifier: IntrospectionVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as raised:
        verify(verifier, token)
    return raised.value.reason


# --- Requests and responses ---------------------------------------------------------------


def test_active_token(endpoint: Endpoint) -> None:
    info = verify(verifier_for(endpoint), "opaque-1")

    assert info.scopes == frozenset({SCOPE})
    assert info.subject == "user-1"
    assert info.client_id == "mobile-app"
    assert info.expires_at == endpoint.tokens["opaque-1"]["exp"]


@pytest.mark.parametrize(
    ("client_auth", "authorization", "form"),
    [
        pytest.param(
            "basic",
            "Basic " + base64.b64encode(b"gateway%20client:p%40ss%3Aword%2Fwith%20spaces").decode(),
            {"token": "opaque-1", "token_type_hint": "access_token"},
            id="basic",
        ),
        pytest.param(
            "post",
            None,
            {
                "token": "opaque-1",
                "token_type_hint": "access_token",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
            id="post",
        ),
    ],
)
def test_client_authentication(
    endpoint: Endpoint, client_auth: str, authorization: str | None, form: dict[str, str]
) -> None:
    verify(verifier_for(endpoint, client_auth=client_auth), "opaque-1")

    assert endpoint.requests == [{"authorization": authorization, "form": form}]


def test_token_type_hint_left_out(endpoint: Endpoint) -> None:
    verify(verifier_for(endpoint, token_type_hint=None), "opaque-1")

    assert endpoint.requests[0]["form"] == {"token": "opaque-1"}


@pytest.mark.parametrize(
    ("response", "options", "reason", "final"),
    [
        pytest.param({"active": False}, {}, "the token is not active", False, id="inactive"),
        pytest.param(
            {"active": True, "scope": SCOPE, "exp": int(time.time()) - 5},
            {},
            "the token has expired",
            True,
            id="expired",
        ),
        pytest.param(
            {"active": True, "scope": SCOPE, "iss": "https://other.example.test"},
            {"issuer": "https://issuer.example.test"},
            "issuer is not accepted",
            True,
            id="issuer",
        ),
        pytest.param(
            {"active": True, "scope": SCOPE, "aud": ["other-api"]},
            {"audience": "courses-api"},
            "audience is not accepted",
            True,
            id="audience",
        ),
        pytest.param(
            {"active": True, "scope": SCOPE},
            {"audience": "courses-api"},
            "audience is not accepted",
            True,
            id="audience-missing",
        ),
        pytest.param(
            {"active": True, "scope": SCOPE, "aud": "other-api"},
            {},
            "audience is not accepted",
            True,
            id="audience-not-configured",
        ),
        pytest.param(
            {"active": True, "scope": 7},
            {},
            "must be a space-separated string",
            True,
            id="bad-scope",
        ),
        pytest.param({"active": "true"}, {}, "could not be checked", False, id="active-as-string"),
    ],
)
def test_token_not_accepted(
    endpoint: Endpoint,
    response: dict[str, Any],
    options: dict[str, Any],
    reason: str,
    final: bool,
) -> None:
    """Each case is rejected with its reason, the same reason when the result is cached. An
    inactive or unchecked token lets a later source try; a failed check is final."""
    endpoint.tokens["opaque-2"] = response
    verifier = verifier_for(endpoint, **options)

    for _ in range(2):
        with pytest.raises(InvalidToken) as raised:
            verify(verifier, "opaque-2")
        assert reason in raised.value.reason
        assert isinstance(raised.value, UnknownToken) is not final


@pytest.mark.parametrize(
    ("audience", "aud"),
    [
        pytest.param("courses-api", "courses-api", id="string"),
        pytest.param(["other", "courses-api"], ["courses-api", "more"], id="lists"),
    ],
)
def test_audience_accepted(endpoint: Endpoint, audience: Any, aud: Any) -> None:
    endpoint.tokens["opaque-1"]["aud"] = aud

    assert verify(verifier_for(endpoint, audience=audience), "opaque-1").subject == "user-1"


# --- Caching ------------------------------------------------------------------------------


def test_active_result_cached(endpoint: Endpoint) -> None:
    verifier = verifier_for(endpoint)

    for _ in range(5):
        verify(verifier, "opaque-1")

    assert len(endpoint.requests) == 1


def test_active_result_ends_with_cache_ttl(endpoint: Endpoint) -> None:
    verifier = verifier_for(endpoint, cache_ttl=0.2)
    verify(verifier, "opaque-1")
    time.sleep(0.25)

    verify(verifier, "opaque-1")

    assert len(endpoint.requests) == 2


def test_active_result_ends_with_exp(endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = verifier_for(endpoint, cache_ttl=3600)
    verify(verifier, "opaque-1")
    exp = endpoint.tokens["opaque-1"]["exp"]
    # The endpoint now reports the token inactive, as it would after exp.
    endpoint.tokens.clear()

    monkeypatch.setattr(time, "time", lambda: exp + 1)
    reason = rejection(verifier, "opaque-1")

    assert reason == "the token is not active"
    assert len(endpoint.requests) == 2


def test_inactive_result_cached_briefly(endpoint: Endpoint) -> None:
    verifier = verifier_for(endpoint, inactive_ttl=0.2)
    rejection(verifier, "unknown")
    rejection(verifier, "unknown")
    assert len(endpoint.requests) == 1

    endpoint.tokens["unknown"] = {"active": True, "scope": SCOPE}
    time.sleep(0.25)

    assert verify(verifier, "unknown").scopes == frozenset({SCOPE})
    assert len(endpoint.requests) == 2


def test_concurrent_requests_share_one_introspection(endpoint: Endpoint) -> None:
    endpoint.delay = 0.2
    verifier = verifier_for(endpoint)

    async def run() -> list[TokenInfo]:
        return await asyncio.gather(*(verifier.verify("opaque-1") for _ in range(50)))

    results = asyncio.run(run())

    assert all(info.subject == "user-1" for info in results)
    assert len(endpoint.requests) == 1


def test_cache_off(endpoint: Endpoint) -> None:
    verifier = verifier_for(endpoint, cache_size=0, inactive_ttl=0)

    verify(verifier, "opaque-1")
    verify(verifier, "opaque-1")
    rejection(verifier, "unknown")
    rejection(verifier, "unknown")

    assert len(endpoint.requests) == 4


# --- A failing endpoint -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "delay", "cause"),
    [
        pytest.param("status-500", 0.0, "the response status is 500", id="status-500"),
        pytest.param("garbage", 0.0, "the response is not JSON", id="garbage"),
        pytest.param("list", 0.0, "not a JSON object", id="list"),
        pytest.param("no-active", 0.0, "no boolean 'active' member", id="no-active"),
        pytest.param("huge", 0.0, "larger than 262144 bytes", id="huge"),
        pytest.param("ok", 0.5, "timed out after 0.2 s", id="timeout"),
    ],
)
def test_failure_counts_as_inactive(
    endpoint: Endpoint,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    delay: float,
    cause: str,
) -> None:
    endpoint.mode, endpoint.delay = mode, delay
    verifier = verifier_for(endpoint, timeout=0.2)
    caplog.set_level(logging.WARNING, logger="scopeguard.introspection")

    reason = rejection(verifier, "opaque-1")

    assert reason == "the token could not be checked"
    assert endpoint.url in caplog.text
    assert cause in caplog.text
    assert "opaque-1" not in caplog.text
    assert CLIENT_SECRET not in caplog.text


def test_failure_not_cached_and_warnings_rate_limited(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint.mode = "status-500"
    verifier = verifier_for(endpoint)
    caplog.set_level(logging.WARNING, logger="scopeguard.introspection")

    for _ in range(3):
        rejection(verifier, "opaque-1")
    endpoint.mode = "ok"

    assert verify(verifier, "opaque-1").subject == "user-1"
    assert len(endpoint.requests) == 4
    assert len(caplog.records) == 1


def test_endpoint_unreachable(free_tcp_port: int, caplog: pytest.LogCaptureFixture) -> None:
    verifier = IntrospectionVerifier(
        url=f"http://127.0.0.1:{free_tcp_port}/introspect",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    caplog.set_level(logging.WARNING, logger="scopeguard.introspection")

    assert rejection(verifier, "opaque-1") == "the token could not be checked"
    assert "the request failed: ConnectError" in caplog.text


# --- Configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"url": "ftp://idp.example.test/x"}, "http or https URL", id="url"),
        pytest.param({"client_id": ""}, "client_id", id="client-id"),
        pytest.param({"client_secret": ""}, "client_secret", id="client-secret"),
        pytest.param({"client_auth": "jwt"}, "client_auth", id="client-auth"),
        pytest.param({"timeout": 0}, "timeout", id="timeout"),
        pytest.param({"inactive_ttl": -1}, "inactive_ttl", id="inactive-ttl"),
        pytest.param({"cache_ttl": 0}, "cache_ttl", id="cache-ttl"),
        pytest.param({"audience": []}, "audience", id="audience"),
        pytest.param({"http_client": "client"}, "httpx.AsyncClient", id="client"),
    ],
)
def test_configuration_errors(options: dict[str, Any], message: str) -> None:
    settings: dict[str, Any] = {
        "url": "https://idp.example.test/introspect",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **options,
    }

    with pytest.raises(ConfigurationError, match=message):
        IntrospectionVerifier(**settings)


def test_secret_never_shown(endpoint: Endpoint) -> None:
    verifier = verifier_for(endpoint, client_secret=Secret(CLIENT_SECRET))

    assert CLIENT_SECRET not in repr(verifier)
    assert verify(verifier, "opaque-1").subject == "user-1"


def test_custom_http_client(endpoint: Endpoint) -> None:
    async def run() -> TokenInfo:
        async with httpx.AsyncClient() as client:
            return await verifier_for(endpoint, http_client=client).verify("opaque-1")

    assert asyncio.run(run()).subject == "user-1"


# --- Behind the middleware, after a JWT verifier ------------------------------------------


async def show_course(request: Request) -> Response:
    return JSONResponse({"user": request.user.identity})


@pytest.fixture
def chained_url(endpoint: Endpoint) -> Iterator[str]:
    app = Starlette(routes=[StarletteRoute("/api/v1/courses/{course_id}", show_course)])
    jwt_verifier = JWTVerifier(key=JWT_SECRET, algorithms=["HS256"])
    guarded = ScopeGuardMiddleware(
        app,
        routes=[Route("GET", "/api/v1/courses/:course_id")],
        verifier=[
            StaticResolver({"reporting-job-token": {"scope": SCOPE, "sub": "reporting-job"}}),
            jwt_verifier,
            verifier_for(endpoint),
        ],
    )
    with run_asgi_server(guarded) as url:
        yield url


@pytest.mark.parametrize(
    ("token", "status", "introspected", "detail"),
    [
        pytest.param(lambda: mint_token(JWT_SECRET, [SCOPE]), 200, 0, "dev-user", id="jwt"),
        pytest.param(lambda: "opaque-1", 200, 1, "user-1", id="opaque"),
        pytest.param(lambda: "reporting-job-token", 200, 0, "reporting-job", id="static"),
        pytest.param(lambda: "opaque-unknown", 401, 1, "the token is not active", id="unknown"),
        pytest.param(
            lambda: mint_token(JWT_SECRET, [SCOPE], expires_in=-120),
            401,
            0,
            "the token has expired",
            id="expired-jwt",
        ),
        pytest.param(
            lambda: mint_token(JWT_SECRET, ["url:GET|/other"]),
            403,
            0,
            "lacks the scope",
            id="jwt-without-scope",
        ),
    ],
)
def test_middleware_jwt_then_introspection(
    endpoint: Endpoint,
    chained_url: str,
    token: Any,
    status: int,
    introspected: int,
    detail: str,
) -> None:
    response = httpx.get(
        chained_url + "/api/v1/courses/7", headers={"Authorization": f"Bearer {token()}"}
    )

    assert response.status_code == status
    assert detail in response.text
    assert len(endpoint.requests) == introspected

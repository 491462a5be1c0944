"""Tests of CanvasCompatibility, alone and in the middleware under uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from conftest import run_asgi_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from scopeguard import (
    CANVAS_INSUFFICIENT_SCOPE_MESSAGE,
    CanvasCompatibility,
    ConfigurationError,
    DecisionEvent,
    JWTVerifier,
    Route,
    ScopeGuardMiddleware,
    TokenInfo,
    mint_token,
)

SECRET = "canvas-compat-test-secret-0123456789"
COURSE = "url:GET|/api/v1/courses/:course_id"
PROFILE = "url:GET|/api/v1/users/:user_id/profile"
ROUTES = [
    Route("GET", "/api/v1/courses/:course_id"),
    Route("GET", "/api/v1/users/:user_id/profile"),
]


@pytest.mark.parametrize(
    ("claims", "unscoped"),
    [
        pytest.param({"sub": "u"}, True, id="no-scope-claim"),
        pytest.param({"scope": ""}, False, id="empty-scope"),
        pytest.param({"scp": []}, False, id="empty-scp"),
        pytest.param({"scopes": [COURSE]}, False, id="scopes"),
    ],
)
def test_is_unscoped(claims: dict[str, Any], unscoped: bool) -> None:
    token = TokenInfo(frozenset(), claims)

    assert CanvasCompatibility().is_unscoped(token) is unscoped
    assert CanvasCompatibility(unscoped_tokens=False).is_unscoped(token) is False


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(("get", "/a"), id="lower-case-method"),
        pytest.param(("GET", "a"), id="relative-path"),
        pytest.param("GET /a", id="string"),
        pytest.param(("GET", "/a", "x"), id="three-parts"),
    ],
)
def test_always_allowed_entries_checked(entry: Any) -> None:
    with pytest.raises(ConfigurationError, match="always_allowed entries"):
        CanvasCompatibility(always_allowed=[entry])


def test_compatibility_option_checked() -> None:
    with pytest.raises(ConfigurationError, match="CanvasCompatibility"):
        ScopeGuardMiddleware(
            Starlette(),
            routes=ROUTES,
            verifier=JWTVerifier(key=SECRET, algorithms=["HS256"]),
            compatibility={"always_allowed": []},  # type: ignore[arg-type]
        )


async def echo(request: Request) -> Response:
    return JSONResponse({"reason": request.state.scopeguard.reason.value})


def unscoped_token() -> str:
    return jwt.encode({"sub": "legacy", "exp": 2_000_000_000}, SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[dict[str, str], list[DecisionEvent]]]:
    app = Starlette(
        routes=[
            StarletteRoute("/api/v1/courses/{course_id}", echo),
            StarletteRoute("/api/v1/users/{user_id}/profile", echo),
        ]
    )
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])
    events: list[DecisionEvent] = []
    canvas = ScopeGuardMiddleware(
        app,
        routes=ROUTES,
        verifier=verifier,
        compatibility=CanvasCompatibility(
            always_allowed=[("GET", "/api/v1/users/:user_id/profile")]
        ),
        on_decision=events.append,
    )
    default = ScopeGuardMiddleware(app, routes=ROUTES, verifier=verifier)
    with run_asgi_server(canvas) as canvas_url, run_asgi_server(default) as default_url:
        yield {"canvas": canvas_url, "default": default_url}, events


@pytest.mark.parametrize(
    ("server", "path", "token", "status", "body"),
    [
        pytest.param("canvas", "/api/v1/courses/7", lambda: mint_token(SECRET, [PROFILE]),
                     401, {"errors": [{"message": CANVAS_INSUFFICIENT_SCOPE_MESSAGE}]},
                     id="canvas-insufficient-scope-401"),
        pytest.param("default", "/api/v1/courses/7", lambda: mint_token(SECRET, [PROFILE]),
                     403, {"errors": [{"message": f"the token lacks the scope {COURSE}"}]},
                     id="default-insufficient-scope-403"),
        pytest.param("canvas", "/api/v1/courses/7", unscoped_token, 200,
                     {"reason": "unscoped_token"}, id="canvas-unscoped-token"),
        pytest.param("default", "/api/v1/courses/7", unscoped_token, 403, None,
                     id="default-unscoped-token"),
        pytest.param("canvas", "/api/v1/users/3/profile", lambda: mint_token(SECRET, [COURSE]),
                     200, {"reason": "always_allowed"}, id="canvas-always-allowed"),
        pytest.param("default", "/api/v1/users/3/profile", lambda: mint_token(SECRET, [COURSE]),
                     403, None, id="default-not-always-allowed"),
        pytest.param("canvas", "/api/v1/users/3/profile", lambda: None, 401, None,
                     id="canvas-always-allowed-needs-token"),
        pytest.param("canvas", "/api/v1/courses/7", lambda: mint_token(SECRET, [COURSE]), 200,
                     {"reason": "allowed"}, id="canvas-allowed"),
    ],
)  # fmt: skip
def test_canvas_compatibility(
    servers: tuple[dict[str, str], list[DecisionEvent]],
    server: str,
    path: str,
    token: Any,
    status: int,
    body: dict[str, Any] | None,
) -> None:
    urls, _ = servers
    value = token()
    headers = {"Authorization": f"Bearer {value}"} if value is not None else {}

    response = httpx.get(urls[server] + path, headers=headers)

    assert response.status_code == status
    if body is not None:
        assert response.json() == body


def test_canvas_denial_event(servers: tuple[dict[str, str], list[DecisionEvent]]) -> None:
    urls, events = servers
    events.clear()

    response = httpx.get(
        urls["canvas"] + "/api/v1/courses/7",
        headers={"Authorization": f"Bearer {mint_token(SECRET, [PROFILE])}"},
    )

    assert response.status_code == 401
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert [(event.status, event.reason) for event in events] == [(401, "insufficient_scope")]


@pytest.mark.parametrize(
    ("pair", "route", "allowed"),
    [
        pytest.param(("GET", "/api/v1/users/:user_id/profile"), ROUTES[1], True, id="canvas"),
        pytest.param(("GET", "/api/v1/users/{user_id}/profile"), ROUTES[1], True, id="starlette"),
        pytest.param(("GET", "/api/v1/users/:id/profile"), ROUTES[1], False, id="other-name"),
        pytest.param(("POST", "/api/v1/users/:user_id/profile"), ROUTES[1], False, id="method"),
    ],
)
def test_always_allowed_matches_by_scope(
    pair: tuple[str, str], route: Route, allowed: bool
) -> None:
    assert CanvasCompatibility(always_allowed=[pair]).is_always_allowed(route) is allowed


@pytest.mark.parametrize(
    "routes", [pytest.param(ROUTES, id="routes"), pytest.param(None, id="app")]
)
def test_always_allowed_must_match_a_route(routes: list[Route] | None) -> None:
    app = Starlette(routes=[StarletteRoute("/api/v1/courses/{course_id}", echo)])
    compatibility = CanvasCompatibility(always_allowed=[("GET", "/api/v1/nothing/here")])
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])

    def build_and_read() -> None:
        middleware = ScopeGuardMiddleware(
            app, routes=routes, verifier=verifier, compatibility=compatibility
        )
        # Routes read from the app are checked when they are read.
        middleware.policy  # noqa: B018

    with pytest.raises(ConfigurationError, match="matches no route of the table"):
        build_and_read()

"""Tests of scopeguard.testing: tokens, decisions explained, and the test client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route as StarletteRoute

from scopeguard import InvalidToken, Policy, Route, ScopeGuardMiddleware, UnknownToken
from scopeguard.testing import (
    ScopeClient,
    TokenFactory,
    assert_allowed,
    assert_denied,
    decide,
    explain,
)

COURSE = "url:GET|/api/v1/courses/:course_id"
FILES = "url:GET|/api/v1/courses/:course_id/files"
POLICY = Policy(
    [Route("GET", "/api/v1/courses/:course_id"), Route("GET", "/api/v1/courses/:course_id/files")]
)
TOKENS = TokenFactory()


# --- TokenFactory -----------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["HS256", "RS256"])
def test_tokens_verify_with_factory_verifier(algorithm: str) -> None:
    token = TOKENS.token([COURSE], algorithm=algorithm, subject="teacher-1", client_id="app")

    info = asyncio.run(TOKENS.verifier().verify(token))

    assert info.scopes == {COURSE}
    assert (info.subject, info.client_id) == ("teacher-1", "app")


def test_tokens_of_another_factory_rejected() -> None:
    token = TokenFactory().token([COURSE])

    with pytest.raises(UnknownToken):
        asyncio.run(TOKENS.verifier().verify(token))


def test_expired_token_rejected() -> None:
    token = TOKENS.token([COURSE], expires_in=-3600)

    with pytest.raises(InvalidToken, match="has expired"):
        asyncio.run(TOKENS.verifier().verify(token))


@pytest.mark.parametrize(
    ("call", "error"),
    [
        pytest.param(lambda: TOKENS.token(COURSE), TypeError, id="scopes-string"),
        pytest.param(lambda: TOKENS.token([COURSE], algorithm="ES256"), ValueError, id="alg"),
    ],
)
def test_token_arguments_checked(call: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        call()


def test_headers() -> None:
    ((name, value),) = TOKENS.headers([COURSE]).items()

    assert name == "Authorization"
    assert value.startswith("Bearer ey")


# --- decide, explain and the assertions -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "scopes", "lines"),
    [
        pytest.param(
            "/api/v1/courses/7",
            [COURSE],
            [
                "GET /api/v1/courses/7: allowed",
                "  route matched: GET /api/v1/courses/:course_id",
                f"  scope required: {COURSE}",
                f"  scopes granted: {COURSE}",
                "  reason: allowed",
            ],
            id="allowed",
        ),
        pytest.param(
            "/api/v1/courses/7/files",
            [COURSE, "profile"],
            [
                "GET /api/v1/courses/7/files: denied with 403 (insufficient_scope)",
                "  route matched: GET /api/v1/courses/:course_id/files",
                f"  scope required: {FILES}",
                f"  scopes granted: profile, {COURSE}",
                f"  reason: the token lacks the scope {FILES}",
            ],
            id="insufficient-scope",
        ),
        pytest.param(
            "/nothing",
            [],
            [
                "GET /nothing: denied with 403 (no_route)",
                "  route matched: none",
                "  scope required: none",
                "  scopes granted: none",
                "  reason: no route matches GET /nothing, so no scope grants it",
            ],
            id="no-route",
        ),
        pytest.param(
            "/api/v1/courses/7",
            None,
            [
                "GET /api/v1/courses/7: denied with 401 (missing_token)",
                "  route matched: GET /api/v1/courses/:course_id",
                f"  scope required: {COURSE}",
                "  scopes granted: none",
                "  reason: a bearer token is required",
            ],
            id="no-token",
        ),
    ],
)
def test_explain_decision(path: str, scopes: list[str] | None, lines: list[str]) -> None:
    decision = decide(POLICY, "GET", path, scopes)

    assert explain(decision, f"GET {path}").splitlines() == lines


def test_assert_allowed_failure_explains() -> None:
    decision = decide(POLICY, "GET", "/api/v1/courses/7/files", [COURSE])

    with pytest.raises(AssertionError) as raised:
        assert_allowed(decision, "GET /api/v1/courses/7/files")

    message = str(raised.value)
    assert message.startswith("expected the request to be allowed\n")
    assert f"scope required: {FILES}" in message
    assert f"scopes granted: {COURSE}" in message


@pytest.mark.parametrize(
    ("scopes", "options", "failure"),
    [
        pytest.param([FILES], {}, "expected the request to be denied", id="allowed"),
        pytest.param([], {"status": 401}, "expected status 401, got 403", id="status"),
        pytest.param(
            [], {"reason": "no_route"}, "expected reason 'no_route', got 'insufficient_scope'",
            id="reason",
        ),
        pytest.param([], {"status": 403, "reason": "insufficient_scope"}, None, id="passes"),
    ],
)  # fmt: skip
def test_assert_denied(scopes: list[str], options: dict[str, Any], failure: str | None) -> None:
    decision = decide(POLICY, "GET", "/api/v1/courses/7/files", scopes)

    if failure is None:
        assert assert_denied(decision, **options) is decision
        return
    with pytest.raises(AssertionError, match=failure):
        assert_denied(decision, **options)


def test_decide_rejects_scope_string() -> None:
    with pytest.raises(TypeError, match="not one string"):
        decide(POLICY, "GET", "/api/v1/courses/7", COURSE)


# --- ScopeClient ------------------------------------------------------------------------------


async def course(request: Request) -> Response:
    return PlainTextResponse(f"course {request.path_params['course_id']}")


def guarded_app(events: list[str], **options: Any) -> ScopeGuardMiddleware:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = Starlette(
        routes=[StarletteRoute("/api/v1/courses/{course_id}", course)], lifespan=lifespan
    )
    return ScopeGuardMiddleware(app, verifier=TOKENS.verifier(), **options)


def test_client_runs_lifespan_and_records_decisions() -> None:
    events: list[str] = []

    with ScopeClient(guarded_app(events), TOKENS) as client:
        assert events == ["startup"]
        allowed = client.get("/api/v1/courses/7", scopes=[COURSE])
        denied = client.get("/api/v1/courses/7", scopes=[FILES])
        anonymous = client.get("/api/v1/courses/7")
        rs256 = client.get("/api/v1/courses/7", token=TOKENS.token([COURSE], algorithm="RS256"))

    assert events == ["startup", "shutdown"]
    assert allowed.text == "course 7"
    assert assert_allowed(allowed).required_scope == COURSE
    assert assert_denied(denied, status=403).reason.value == "insufficient_scope"
    assert assert_denied(anonymous, status=401).reason.value == "missing_token"
    assert_allowed(rs256)
    assert explain(denied).startswith("GET /api/v1/courses/7: denied with 403")


def test_client_report_mode() -> None:
    with ScopeClient(guarded_app([], mode="report"), TOKENS) as client:
        response = client.get("/api/v1/courses/7")

    assert response.status_code == 200
    decision = assert_denied(response, status=401)
    assert decision.enforced is False
    assert "let through in report mode" in explain(response)


def test_client_without_scopeguard() -> None:
    async def plain(request: Request) -> Response:
        return PlainTextResponse("plain")

    with ScopeClient(Starlette(routes=[StarletteRoute("/x", plain)])) as client:
        response = client.get("/x")

    assert "no scopeguard decision was recorded" in explain(response)
    with pytest.raises(AssertionError, match="no scopeguard decision"):
        assert_allowed(response)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        pytest.param({"scopes": [COURSE], "token": "t"}, "scopes or token", id="both"),
    ],
)
def test_client_request_arguments(options: dict[str, Any], error: str) -> None:
    with ScopeClient(guarded_app([]), TOKENS) as client, pytest.raises(ValueError, match=error):
        client.get("/api/v1/courses/7", **options)


def test_client_needs_with_statement() -> None:
    client = ScopeClient(guarded_app([]), TOKENS)

    with pytest.raises(RuntimeError, match="with statement"):
        client.get("/api/v1/courses/7")


def test_client_reports_failed_startup() -> None:
    @contextlib.asynccontextmanager
    async def broken(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("database down")
        yield

    app = ScopeGuardMiddleware(Starlette(lifespan=broken), verifier=TOKENS.verifier())

    with pytest.raises(RuntimeError, match="lifespan startup failed"), ScopeClient(app):
        pass

"""Tests of ScopeGuardMiddleware around a real Starlette app.

Tests that take the ``client`` fixture run twice: in-process through httpx.ASGITransport
and over TCP against uvicorn on 127.0.0.1. A rejected websocket gets an HTTP response under
uvicorn, which offers the ``websocket.http.response`` extension, and a close with code 1008
from a server without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from a2wsgi import WSGIMiddleware
from conftest import run_asgi_server
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, WebSocketRoute
from starlette.routing import Route as StarletteRoute
from starlette.websockets import WebSocket
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from scopeguard import (
    STATE_KEY,
    ConfigurationError,
    Decision,
    DecisionEvent,
    InvalidToken,
    JWTVerifier,
    Route,
    ScopeGuardMiddleware,
    TargetChecks,
    TokenInfo,
    public,
    report_only,
)
from scopeguard._types import ASGIApp, Message, Receive, Scope, Send
from scopeguard.middleware import route_path

SECRET = "0123456789abcdef0123456789abcdef"
OTHER_SECRET = "fedcba9876543210fedcba9876543210"
REALM = "test-api"

LIST = "url:GET|/api/v1/courses"
COURSE = "url:GET|/api/v1/courses/:course_id"
UPLOAD = "url:POST|/api/v1/courses/:course_id/files"
EXPORT = "url:GET|/api/v1/courses/:course_id/export"
EVENTS = "url:GET|/api/v1/courses/:course_id/events"
STATUS = "url:GET|/v1/status"

ROUTES = (
    Route("GET", "/health", public=True),
    Route("GET", "/api/v1/courses"),
    Route("GET", "/api/v1/courses/:course_id"),
    Route("PUT", "/api/v1/courses/:course_id"),
    Route("POST", "/api/v1/courses/:course_id/files"),
    Route("GET", "/api/v1/courses/:course_id/export"),
    Route("GET", "/api/v1/courses/:course_id/events"),
    Route("GET", "/v1/status"),
)

EXPORT_CHUNKS = [b"id,name\n", b"1,Biology\n", b"2,Chemistry\n"]


# --- The protected app --------------------------------------------------------------------


def _describe(request: Request) -> dict[str, Any]:
    """Return the decision, auth and user that the middleware passed to the endpoint."""
    decision: Decision = getattr(request.state, STATE_KEY)
    return {
        "reason": decision.reason.value,
        "route": decision.route.path if decision.route is not None else None,
        "required_scope": decision.required_scope,
        "auth_scopes": request.auth.scopes,
        "authenticated": request.user.is_authenticated,
        "display_name": request.user.display_name,
        "identity": request.user.identity,
        "claims_sub": request.user.claims.get("sub") if request.user.is_authenticated else None,
        "path_params": dict(request.path_params),
        "path": request.url.path,
    }


async def health(request: Request) -> Response:
    return JSONResponse(_describe(request))


async def list_courses(request: Request) -> Response:
    # An unusual status and a custom header show that the app's response passes untouched.
    return JSONResponse(
        [{"id": 1, "name": "Biology"}], status_code=203, headers={"x-app": "list-courses"}
    )


async def show_course(request: Request) -> Response:
    return JSONResponse(_describe(request))


async def upload_file(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()},
        status_code=201,
        headers={"x-app": "upload"},
    )


async def export_course(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in EXPORT_CHUNKS:
            yield chunk

    return StreamingResponse(chunks(), media_type="text/csv")


async def course_events(websocket: WebSocket) -> None:
    await websocket.accept()
    decision: Decision = websocket.state.scopeguard
    await websocket.send_json(
        {
            "course_id": websocket.path_params["course_id"],
            "identity": websocket.user.identity,
            "auth_scopes": websocket.auth.scopes,
            "required_scope": decision.required_scope,
        }
    )
    await websocket.close()


def create_app(
    lifespan_events: list[str] | None = None,
    *,
    verifier: Any = None,
    unmatched: str = "deny",
    target_checks: TargetChecks | None = None,
) -> ScopeGuardMiddleware:
    events = lifespan_events if lifespan_events is not None else []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = Starlette(
        routes=[
            StarletteRoute("/health", health),
            StarletteRoute("/api/v1/courses", list_courses),
            StarletteRoute("/api/v1/courses/{course_id}", show_course),
            StarletteRoute("/api/v1/courses/{course_id}/files", upload_file, methods=["POST"]),
            StarletteRoute("/api/v1/courses/{course_id}/export", export_course),
            WebSocketRoute("/api/v1/courses/{course_id}/events", course_events),
            StarletteRoute("/v1/status", show_course),
        ],
        lifespan=lifespan,
    )
    return ScopeGuardMiddleware(
        app,
        routes=ROUTES,
        verifier=verifier or JWTVerifier(key=SECRET, algorithms=["HS256"]),
        realm=REALM,
        unmatched=unmatched,  # type: ignore[arg-type]
        target_checks=target_checks or TargetChecks(),
    )


def make_token(*scopes: str, secret: str = SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    payload: dict[str, Any] = {
        "sub": "teacher-1",
        "exp": int(time.time()) + 300,
        "scope": " ".join(scopes),
    }
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- Servers and clients ------------------------------------------------------------------


@dataclass
class Server:
    url: str
    lifespan_events: list[str]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    events: list[str] = []
    with run_asgi_server(create_app(events)) as url:
        yield Server(url, events)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["asgi", "uvicorn"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of the protected app, in-process or over TCP to uvicorn."""
    if request.param == "asgi":
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
    else:
        server: Server = request.getfixturevalue("server")
        async with httpx.AsyncClient(base_url=server.url) as http:
            yield http


def raw_request(base_url: str, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` over TCP and return the status and the raw response.

    httpx upper-cases every method, so a lower-case method can only be sent this way.
    """
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request)
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    status = int(response.split(b" ", 2)[1])
    return status, response


async def call_asgi(app: ASGIApp, scope: Scope, incoming: list[Message]) -> list[Message]:
    """Call ``app`` directly and return what it sends, feeding it ``incoming`` in order."""
    sent: list[Message] = []
    queue = list(incoming)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "backslashreplace"),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
    }


def websocket_scope(path: str, headers: list[tuple[bytes, bytes]], **extra: Any) -> Scope:
    scope = http_scope("GET", path, headers)
    del scope["method"]
    scope.update(type="websocket", scheme="ws", subprotocols=[], **extra)
    return scope


def header_values(response: httpx.Response) -> str:
    return " ".join(f"{name}: {value}" for name, value in response.headers.items())


# --- Allowed requests ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_allowed_response_untouched(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/courses", headers=bearer(make_token(LIST)))

    assert response.status_code == 203
    assert response.json() == [{"id": 1, "name": "Biology"}]
    assert response.headers["x-app"] == "list-courses"
    assert "www-authenticate" not in response.headers


@pytest.mark.anyio
async def test_endpoint_sees_decision_and_user(client: httpx.AsyncClient) -> None:
    token = make_token(COURSE, LIST)

    response = await client.get("/api/v1/courses/7", headers=bearer(token))
    seen = response.json()

    assert response.status_code == 200
    assert seen["reason"] == "allowed"
    assert seen["route"] == "/api/v1/courses/:course_id"
    assert seen["required_scope"] == COURSE
    assert seen["auth_scopes"] == sorted([COURSE, LIST])
    assert seen["authenticated"] is True
    assert seen["display_name"] == "teacher-1"
    assert seen["identity"] == "teacher-1"
    assert seen["claims_sub"] == "teacher-1"
    assert seen["path_params"] == {"course_id": "7"}


@pytest.mark.anyio
async def test_post_body_reaches_app(client: httpx.AsyncClient) -> None:
    body = os.urandom(256 * 1024)

    response = await client.post(
        "/api/v1/courses/7/files", content=body, headers=bearer(make_token(UPLOAD))
    )

    assert response.status_code == 201
    assert response.headers["x-app"] == "upload"
    assert response.json() == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@pytest.mark.anyio
async def test_streaming_response_passes(client: httpx.AsyncClient) -> None:
    async with client.stream(
        "GET", "/api/v1/courses/7/export", headers=bearer(make_token(EXPORT))
    ) as response:
        content = b"".join([chunk async for chunk in response.aiter_bytes()])

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert content == b"".join(EXPORT_CHUNKS)


@pytest.mark.anyio
async def test_public_route_without_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    seen = response.json()

    assert response.status_code == 200
    assert seen["reason"] == "public"
    assert seen["authenticated"] is False
    assert seen["auth_scopes"] == []


@pytest.mark.anyio
async def test_public_route_ignores_bad_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers=bearer("not-a-jwt"))

    assert response.status_code == 200


@pytest.mark.anyio
async def test_head_allowed_has_no_body(client: httpx.AsyncClient) -> None:
    response = await client.head("/api/v1/courses", headers=bearer(make_token(LIST)))

    assert response.status_code == 203
    assert response.headers["x-app"] == "list-courses"
    assert response.content == b""


@pytest.mark.anyio
async def test_head_denied_has_no_body(client: httpx.AsyncClient) -> None:
    response = await client.head("/api/v1/courses")
    full_body = json.dumps({"errors": [{"message": "a bearer token is required"}]})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer realm="{REALM}"'
    assert response.headers["content-length"] == str(len(full_body))
    assert response.content == b""


@pytest.mark.anyio
async def test_head_denied_sends_empty_body() -> None:
    # Clients and servers drop a HEAD response's body themselves, so only a direct ASGI
    # call shows what the middleware sends.
    scope = http_scope("HEAD", "/api/v1/courses", [])

    sent = await call_asgi(create_app(), scope, [{"type": "http.request", "body": b""}])

    assert sent[0]["status"] == 401
    assert sent[1] == {"type": "http.response.body", "body": b""}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "scopes", "course_id"),
    [
        pytest.param("/api/v1/courses/%37", [COURSE], "7", id="encoded-digit"),
        pytest.param("/api/v1/courses/%C3%A9t%C3%A9", [COURSE], "été", id="encoded-utf8"),
        pytest.param("/api/v1/courses/été", [COURSE], "été", id="non-ascii"),
        pytest.param("/api/v1/courses/a%20b", [COURSE], "a b", id="encoded-space"),
        pytest.param("/api/v1/courses/7?include[]=term", [COURSE], "7", id="query"),
    ],
)
async def test_decoded_path_allowed(
    client: httpx.AsyncClient, path: str, scopes: list[str], course_id: str
) -> None:
    response = await client.get(path, headers=bearer(make_token(*scopes)))

    assert response.status_code == 200
    assert response.json()["path_params"] == {"course_id": course_id}


@pytest.mark.anyio
async def test_encoded_slash_rejected(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/courses/7%2Fexport", headers=bearer(make_token(EXPORT)))

    assert response.status_code == 400
    assert "encoded slash (%2F)" in response.json()["errors"][0]["message"]


@pytest.mark.anyio
async def test_encoded_slash_allowed_needs_decoded_route() -> None:
    # With the check off, %2F decodes to "/" in ASGI's path, so this is the export route for
    # the middleware and for Starlette alike, and the course scope does not grant it.
    app = create_app(target_checks=TargetChecks(encoded_slashes=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        url = "/api/v1/courses/7%2Fexport"
        denied = await client.get(url, headers=bearer(make_token(COURSE)))
        allowed = await client.get(url, headers=bearer(make_token(EXPORT)))

    assert denied.status_code == 403
    assert f'scope="{EXPORT}"' in denied.headers["www-authenticate"]
    assert allowed.status_code == 200
    assert allowed.content == b"".join(EXPORT_CHUNKS)


# --- Denied requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class Denied:
    """The response a denied request must get."""

    status: int
    message: str
    challenge: str | None = None
    allow: str | None = None


def _challenge(error: str, description: str, scope: str | None = None) -> str:
    value = f'Bearer realm="{REALM}", error="{error}", error_description="{description}"'
    return value if scope is None else f'{value}, scope="{scope}"'


MISSING = Denied(401, "a bearer token is required", f'Bearer realm="{REALM}"')
NOT_BEARER = Denied(401, "the Authorization header must use the Bearer scheme", MISSING.challenge)


def _invalid(description: str) -> Denied:
    return Denied(401, description, _challenge("invalid_token", description))


DENIAL_CASES = [
    pytest.param("GET", "/api/v1/courses/7", {}, MISSING, id="no-token"),
    pytest.param(
        "GET", "/api/v1/courses/7", {"Authorization": "Basic dXNlcjpwYXNz"}, NOT_BEARER,
        id="basic-scheme",
    ),
    pytest.param(
        "GET", "/api/v1/courses/7", {"Authorization": "Bearer"},
        _invalid("the bearer token is empty"), id="empty-token",
    ),
    pytest.param(
        "GET", "/api/v1/courses/7", {"Authorization": "Bearer a,b"},
        _invalid("the bearer token contains characters a token may not contain"),
        id="bad-characters",
    ),
    pytest.param(
        "GET", "/api/v1/courses/7", {b"Authorization": b"Bearer t\xc3\xb6ken"},
        _invalid("the bearer token contains non-ASCII bytes"), id="non-ascii-token",
    ),
    pytest.param(
        "GET", "/api/v1/courses/7", {"Authorization": "Bearer not-a-jwt"},
        _invalid("the token is not a well-formed JWT"), id="garbage-token",
    ),
    pytest.param(
        "GET", "/api/v1/courses/7", bearer(make_token(COURSE, secret=OTHER_SECRET)),
        _invalid("the token's signature is invalid"), id="wrong-key",
    ),
    pytest.param(
        "GET", "/api/v1/courses/7", bearer(make_token(COURSE, secret="k" * 64, algorithm="HS512")),
        _invalid("the token's signing algorithm is not accepted"), id="wrong-algorithm",
    ),
    pytest.param(
        "GET", "/api/v1/courses/7", bearer(make_token(COURSE, exp=int(time.time()) - 10)),
        _invalid("the token has expired"), id="expired",
    ),
    pytest.param(
        "GET", "/api/v1/courses/7", bearer(make_token(COURSE, exp=None)),
        _invalid("the token has no 'exp' claim"), id="no-exp",
    ),
    pytest.param(
        "GET", "/api/v1/courses/7", bearer(make_token(COURSE, aud="other-api")),
        _invalid("the token's audience is not accepted"), id="unexpected-audience",
    ),
    pytest.param(
        "GET", "/api/v1/courses/7", bearer(make_token(scope=[COURSE, 7])),
        _invalid("the 'scope' claim must be a space-separated string or a list of strings"),
        id="malformed-scope-claim",
    ),
    pytest.param(
        "GET", "/api/v1/courses/7", bearer(make_token(LIST)),
        Denied(
            403, f"the token lacks the scope {COURSE}",
            _challenge("insufficient_scope", f"the token lacks the scope {COURSE}", COURSE),
        ),
        id="insufficient-scope",
    ),
    pytest.param(
        "GET", "/api/v1/unknown", bearer(make_token(LIST)),
        Denied(
            403, "no route matches GET /api/v1/unknown, so no scope grants it",
            _challenge(
                "insufficient_scope", "no route matches GET /api/v1/unknown, so no scope grants it"
            ),
        ),
        id="no-route",
    ),
    pytest.param(
        "GET", "/api/v1/%C3%BCnknown", bearer(make_token(LIST)),
        Denied(
            403, "no route matches GET /api/v1/ünknown, so no scope grants it",
            _challenge(
                "insufficient_scope", "no route matches GET /api/v1/?nknown, so no scope grants it"
            ),
        ),
        id="no-route-non-ascii",
    ),
    pytest.param("GET", "/api/v1/unknown", {}, MISSING, id="no-route-no-token"),
    pytest.param(
        "DELETE", "/api/v1/courses/7", bearer(make_token(COURSE)),
        Denied(
            405, "method DELETE is not allowed on /api/v1/courses/7; allowed: GET, HEAD, PUT",
            allow="GET, HEAD, PUT",
        ),
        id="method-not-allowed",
    ),
    pytest.param(
        "FOO", "/api/v1/courses/7", bearer(make_token(COURSE)),
        Denied(
            405, "method FOO is not allowed on /api/v1/courses/7; allowed: GET, HEAD, PUT",
            allow="GET, HEAD, PUT",
        ),
        id="unknown-method",
    ),
    pytest.param("FOO", "/api/v1/courses/7", {}, MISSING, id="unknown-method-no-token"),
    pytest.param(
        "GET", "/api/v1/courses/7%0A", bearer(make_token(COURSE)),
        Denied(
            400, "the request path contains an encoded control character (%0A)",
            _challenge(
                "invalid_request", "the request path contains an encoded control character (%0A)"
            ),
        ),
        id="encoded-newline",
    ),
    pytest.param(
        "GET", "/api/v1/courses/%00", {},
        Denied(
            400, "the request path contains an encoded control character (%00)",
            _challenge(
                "invalid_request", "the request path contains an encoded control character (%00)"
            ),
        ),
        id="encoded-nul-no-token",
    ),
]  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "path", "headers", "expected"), DENIAL_CASES)
async def test_denied_request(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: Mapping[str, str] | Mapping[bytes, bytes],
    expected: Denied,
) -> None:
    response = await client.request(method, path, headers=headers)

    assert response.status_code == expected.status
    assert response.json() == {"errors": [{"message": expected.message}]}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers.get("www-authenticate") == expected.challenge
    assert response.headers.get("allow") == expected.allow


@pytest.mark.anyio
async def test_two_authorization_headers(client: httpx.AsyncClient) -> None:
    token = make_token(COURSE)
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]

    response = await client.get("/api/v1/courses/7", headers=headers)

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "send exactly one Authorization header"}]}
    assert response.headers["www-authenticate"] == _challenge(
        "invalid_request", "send exactly one Authorization header"
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "token"),
    [
        pytest.param("/api/v1/courses/7", make_token(LIST), id="insufficient-scope"),
        pytest.param("/api/v1/courses/7", make_token(COURSE, secret=OTHER_SECRET), id="wrong-key"),
        pytest.param("/api/v1/courses/7", make_token(COURSE, exp=1), id="expired"),
        pytest.param("/api/v1/unknown", make_token(LIST), id="no-route"),
        pytest.param("/api/v1/courses/7", "opaque-token-value-12345", id="garbage"),
    ],
)
async def test_denial_never_contains_token(
    client: httpx.AsyncClient, path: str, token: str
) -> None:
    response = await client.get(path, headers=bearer(token))

    assert response.status_code in (401, 403)
    assert token not in response.text
    assert token not in header_values(response)


@pytest.mark.anyio
async def test_denial_log_omits_token(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = make_token(COURSE, secret=OTHER_SECRET)

    with caplog.at_level(logging.DEBUG, logger="scopeguard"):
        response = await client.get("/api/v1/courses/7", headers=bearer(token))

    assert response.status_code == 401
    assert any("signature is invalid" in record.getMessage() for record in caplog.records)
    assert all(token not in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    ("request_line", "token", "status"),
    [
        pytest.param(b"get /api/v1/courses/7", make_token(COURSE), 405, id="lower-case-get"),
        pytest.param(b"get /api/v1/courses/7", None, 401, id="lower-case-get-no-token"),
        pytest.param(b"FOO /api/v1/courses/7", make_token(COURSE), 405, id="foo"),
        pytest.param(b"GET /api/v1/courses/%FF", make_token(COURSE), 200, id="invalid-utf8"),
        pytest.param(b"GET //api/v1/courses", make_token(LIST), 403, id="double-slash"),
    ],
)
def test_uvicorn_raw_request(
    server: Server, request_line: bytes, token: str | None, status: int
) -> None:
    authorization = b"" if token is None else b"Authorization: Bearer " + token.encode() + b"\r\n"
    request = request_line + b" HTTP/1.1\r\nHost: test\r\n" + authorization
    request += b"Connection: close\r\n\r\n"

    received_status, response = raw_request(server.url, request)

    assert received_status == status
    if token is not None:
        assert token.encode() not in response


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "token", "status"),
    [
        pytest.param("get", make_token(COURSE), 405, id="lower-case-get"),
        pytest.param("get", None, 401, id="lower-case-get-no-token"),
        pytest.param("Get", make_token(COURSE), 405, id="mixed-case-get"),
    ],
)
async def test_in_process_lower_case_method(method: str, token: str | None, status: int) -> None:
    headers = [] if token is None else [(b"authorization", f"Bearer {token}".encode())]
    scope = http_scope(method, "/api/v1/courses/7", headers)

    sent = await call_asgi(create_app(), scope, [{"type": "http.request", "body": b""}])

    assert sent[0]["status"] == status


# --- Bad input never gets a 500 -----------------------------------------------------------

PROPERTY_APP = create_app()


@settings(max_examples=150, deadline=None)
@given(
    method=st.one_of(
        st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "get", "FOO"]),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz-", min_size=1, max_size=8),
    ),
    path=st.one_of(
        st.text(max_size=40).map(lambda text: "/" + text),
        st.sampled_from(["/health", "/api/v1/courses/7", "/api/v1/courses/7/files"]),
    ),
    authorization=st.one_of(
        st.none(),
        st.binary(max_size=60),
        st.binary(max_size=60).map(lambda token: b"Bearer " + token),
        st.text(alphabet="abcXYZ019-._~+/=", max_size=60).map(lambda t: f"Bearer {t}".encode()),
    ),
)
def test_bad_input_never_500(method: str, path: str, authorization: bytes | None) -> None:
    headers = [] if authorization is None else [(b"authorization", authorization)]
    scope = http_scope(method, path, headers)

    sent = asyncio.run(
        call_asgi(PROPERTY_APP, scope, [{"type": "http.request", "body": b"", "more_body": False}])
    )

    assert sent[0]["status"] in (200, 203, 400, 401, 403, 404, 405)


# --- Websockets ---------------------------------------------------------------------------


def test_uvicorn_websocket_allowed(server: Server) -> None:
    url = server.url.replace("http://", "ws://") + "/api/v1/courses/7/events"
    token = make_token(EVENTS)

    with connect(url, additional_headers=bearer(token), open_timeout=5) as websocket:
        message = json.loads(websocket.recv(timeout=5))

    assert message == {
        "course_id": "7",
        "identity": "teacher-1",
        "auth_scopes": [EVENTS],
        "required_scope": EVENTS,
    }


@pytest.mark.parametrize(
    ("headers", "status", "challenge", "message"),
    [
        pytest.param({}, 401, MISSING.challenge, MISSING.message, id="no-token"),
        pytest.param(
            bearer("not-a-jwt"),
            401,
            _challenge("invalid_token", "the token is not a well-formed JWT"),
            "the token is not a well-formed JWT",
            id="garbage-token",
        ),
        pytest.param(
            bearer(make_token(COURSE)),
            403,
            _challenge("insufficient_scope", f"the token lacks the scope {EVENTS}", EVENTS),
            f"the token lacks the scope {EVENTS}",
            id="insufficient-scope",
        ),
    ],
)
def test_uvicorn_websocket_rejected(
    server: Server, headers: dict[str, str], status: int, challenge: str | None, message: str
) -> None:
    url = server.url.replace("http://", "ws://") + "/api/v1/courses/7/events"

    with pytest.raises(InvalidStatus) as raised:
        connect(url, additional_headers=headers, open_timeout=5)
    response = raised.value.response

    assert response.status_code == status
    assert response.headers["WWW-Authenticate"] == challenge
    assert json.loads(response.body or b"") == {"errors": [{"message": message}]}


class WithoutDenialExtension:
    """Hide the websocket denial-response extension from the app and record what it sends.

    uvicorn offers the extension with every websocket protocol it ships, so this wrapper
    imitates a server without it while the handshake still runs over TCP.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.sent: list[Message] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            extensions = dict(scope.get("extensions") or {})
            extensions.pop("websocket.http.response", None)
            scope = {**scope, "extensions": extensions}

        async def recording_send(message: Message) -> None:
            if scope["type"] == "websocket":
                self.sent.append(message)
            await send(message)

        await self.app(scope, receive, recording_send)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param({}, MISSING.message, id="no-token"),
        pytest.param(
            bearer(make_token(COURSE)), f"the token lacks the scope {EVENTS}", id="wrong-scope"
        ),
    ],
)
def test_uvicorn_websocket_closed_without_extension(headers: dict[str, str], reason: str) -> None:
    app = WithoutDenialExtension(create_app())
    with run_asgi_server(app) as base_url:
        url = base_url.replace("http://", "ws://") + "/api/v1/courses/7/events"
        with pytest.raises(InvalidStatus) as raised:
            connect(url, additional_headers=headers, open_timeout=5)

    # A close before the handshake is accepted reaches the client as uvicorn's own 403,
    # without the challenge, which only the extension can carry.
    response = raised.value.response
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response.headers
    assert app.sent == [{"type": "websocket.close", "code": 1008, "reason": reason}]


def test_uvicorn_websocket_allowed_without_extension() -> None:
    app = WithoutDenialExtension(create_app())
    with run_asgi_server(app) as base_url:
        url = base_url.replace("http://", "ws://") + "/api/v1/courses/7/events"
        with connect(url, additional_headers=bearer(make_token(EVENTS)), open_timeout=5) as ws:
            message = json.loads(ws.recv(timeout=5))

    assert message["required_scope"] == EVENTS
    assert app.sent[0] == {"type": "websocket.accept", "subprotocol": None, "headers": []}


async def event_page(request: Request) -> Response:
    return JSONResponse({"stream": "events"})


async def event_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.state.scopeguard.required_scope)
    await websocket.close()


@pytest.fixture(scope="module")
def events_url() -> Iterator[str]:
    """Serve an app whose GET route and websocket route share a path, with routes read from
    the app and websocket scopes with the verb WEBSOCKET."""
    app = Starlette(
        routes=[StarletteRoute("/events", event_page), WebSocketRoute("/events", event_socket)]
    )
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])
    guarded = ScopeGuardMiddleware(app, verifier=verifier, websocket_scope_method="WEBSOCKET")
    with run_asgi_server(guarded) as url:
        yield url


@pytest.mark.parametrize(
    ("transport", "scopes", "status"),
    [
        pytest.param("http", ["url:GET|/events"], 200, id="http-get-scope"),
        pytest.param("http", ["url:WEBSOCKET|/events"], 403, id="http-websocket-scope"),
        pytest.param("ws", ["url:WEBSOCKET|/events"], 101, id="ws-websocket-scope"),
        pytest.param("ws", ["url:GET|/events"], 403, id="ws-get-scope"),
        pytest.param("ws", [], 403, id="ws-no-scope"),
    ],
)
def test_uvicorn_websocket_scope_method(
    events_url: str, transport: str, scopes: list[str], status: int
) -> None:
    headers = bearer(make_token(*scopes))
    if transport == "http":
        response = httpx.get(events_url + "/events", headers=headers)
        assert response.status_code == status
        return
    url = events_url.replace("http://", "ws://") + "/events"
    if status != 101:
        with pytest.raises(InvalidStatus) as raised:
            connect(url, additional_headers=headers, open_timeout=5)
        denied = raised.value.response
        assert denied.status_code == status
        assert 'scope="url:WEBSOCKET|/events"' in denied.headers["WWW-Authenticate"]
        return
    with connect(url, additional_headers=headers, open_timeout=5) as websocket:
        assert websocket.recv(timeout=5) == "url:WEBSOCKET|/events"


@pytest.mark.anyio
async def test_websocket_rejected_without_extension() -> None:
    scope = websocket_scope("/api/v1/courses/7/events", [])

    sent = await call_asgi(create_app(), scope, [{"type": "websocket.connect"}])

    assert sent == [{"type": "websocket.close", "code": 1008, "reason": MISSING.message}]


@pytest.mark.anyio
async def test_websocket_rejected_with_extension() -> None:
    headers = [(b"authorization", f"Bearer {make_token(COURSE)}".encode())]
    scope = websocket_scope(
        "/api/v1/courses/7/events", headers, extensions={"websocket.http.response": {}}
    )

    sent = await call_asgi(create_app(), scope, [{"type": "websocket.connect"}])

    assert [message["type"] for message in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 403


@pytest.mark.anyio
async def test_websocket_allowed_in_process() -> None:
    headers = [(b"authorization", f"Bearer {make_token(EVENTS)}".encode())]
    scope = websocket_scope("/api/v1/courses/7/events", headers)

    sent = await call_asgi(
        create_app(),
        scope,
        [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}],
    )

    assert [message["type"] for message in sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    assert json.loads(sent[1]["text"])["identity"] == "teacher-1"


# --- Lifespan -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_lifespan_in_process() -> None:
    events: list[str] = []
    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}

    sent = await call_asgi(
        create_app(events), scope, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    )

    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert events == ["startup", "shutdown"]


def test_lifespan_under_uvicorn() -> None:
    events: list[str] = []

    with run_asgi_server(create_app(events)):
        events_while_running = list(events)

    assert events_while_running == ["startup"]
    assert events == ["startup", "shutdown"]


def test_module_server_ran_startup(server: Server) -> None:
    assert server.lifespan_events == ["startup"]


# --- root_path ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        pytest.param("/api/v1/courses", "", "/api/v1/courses", id="no-root-path"),
        pytest.param("/v/api/v1/courses", "/v", "/api/v1/courses", id="prefix-removed"),
        pytest.param("/v1/status", "/v", "/v1/status", id="not-a-segment-boundary"),
        pytest.param("/v", "/v", "", id="root-path-only"),
        pytest.param("/v/", "/v", "/", id="root-path-and-slash"),
        pytest.param("/api/v1/courses", "/v", "/api/v1/courses", id="other-prefix"),
        pytest.param("/v/v1/status", "/v", "/v1/status", id="prefix-then-similar"),
    ],
)
def test_route_path(path: str, root_path: str, expected: str) -> None:
    assert route_path({"path": path, "root_path": root_path}) == expected


@given(
    root=st.lists(st.text(alphabet="abv1", min_size=1, max_size=3), min_size=1, max_size=3),
    rest=st.text(alphabet="abv1/", max_size=12),
)
def test_route_path_segment_boundary(root: list[str], rest: str) -> None:
    root_path = "/" + "/".join(root)
    path = root_path + rest

    result = route_path({"path": path, "root_path": root_path})

    if rest == "" or rest.startswith("/"):
        assert result == rest
    else:
        assert result == path


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "scope", "status", "route"),
    [
        pytest.param("/v1/status", STATUS, 200, "/v1/status", id="similar-prefix-kept"),
        pytest.param("/v/v1/status", STATUS, 200, "/v1/status", id="prefix-removed"),
        pytest.param("/v/api/v1/courses/7", COURSE, 200, "/api/v1/courses/:course_id", id="nested"),
        pytest.param("/vapi/v1/courses/7", COURSE, 403, None, id="no-boundary"),
    ],
)
async def test_root_path_in_process(path: str, scope: str, status: int, route: str | None) -> None:
    transport = httpx.ASGITransport(app=create_app(), root_path="/v")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get(path, headers=bearer(make_token(scope)))

    assert response.status_code == status
    if route is not None:
        assert response.json()["route"] == route


def test_root_path_under_uvicorn() -> None:
    # uvicorn puts root_path in front of the request path, as a server behind a proxy that
    # strips the prefix does.
    with run_asgi_server(create_app(), root_path="/v") as url:
        status = httpx.get(f"{url}/v1/status", headers=bearer(make_token(STATUS)))
        course = httpx.get(f"{url}/api/v1/courses/7", headers=bearer(make_token(COURSE)))

    assert status.status_code == 200
    assert status.json()["route"] == "/v1/status"
    assert course.status_code == 200
    assert course.json()["path_params"] == {"course_id": "7"}


# --- Options ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_unmatched_pass_reaches_app() -> None:
    transport = httpx.ASGITransport(app=create_app(unmatched="pass"))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        unknown = await http.get("/api/v1/unknown")
        protected = await http.get("/api/v1/courses/7")

    assert unknown.status_code == 404
    assert "www-authenticate" not in unknown.headers
    assert protected.status_code == 401


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("audience", "status"),
    [
        pytest.param("canvas-api", 200, id="accepted"),
        pytest.param("other-api", 401, id="wrong"),
        pytest.param(None, 401, id="missing"),
    ],
)
async def test_verifier_audience(audience: str | None, status: int) -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"], audience="canvas-api")
    transport = httpx.ASGITransport(app=create_app(verifier=verifier))
    token = make_token(COURSE, aud=audience)

    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/api/v1/courses/7", headers=bearer(token))

    assert response.status_code == status


class OpaqueVerifier:
    """Accepts the one opaque token ``good-token`` and grants the course scope."""

    async def verify(self, token: str) -> TokenInfo:
        if token != "good-token":
            raise InvalidToken("unknown token")
        return TokenInfo(scopes=frozenset({COURSE}), claims={"sub": "service"})


@pytest.mark.anyio
async def test_custom_verifier() -> None:
    transport = httpx.ASGITransport(app=create_app(verifier=OpaqueVerifier()))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        good = await http.get("/api/v1/courses/7", headers=bearer("good-token"))
        bad = await http.get("/api/v1/courses/7", headers=bearer("bad-token"))

    assert good.status_code == 200
    assert good.json()["identity"] == "service"
    assert bad.status_code == 401
    assert bad.json() == {"errors": [{"message": "unknown token"}]}


class NoVerifyMethod:
    pass


class SyncVerifier:
    """A verifier whose verify method is not a coroutine function."""

    def verify(self, token: str) -> TokenInfo:
        return TokenInfo(scopes=frozenset())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"realm": 'my"api'}, "realm", id="realm-quote"),
        pytest.param({"realm": "my\\api"}, "realm", id="realm-backslash"),
        pytest.param({"realm": ""}, "realm", id="realm-empty"),
        pytest.param({"realm": "äpi"}, "realm", id="realm-non-ascii"),
        pytest.param({"realm": "api\r\nX-Evil: 1"}, "realm", id="realm-crlf"),
        pytest.param({"verifier": NoVerifyMethod()}, "async def verify", id="verifier-no-verify"),
        pytest.param({"verifier": "secret"}, "async def verify", id="verifier-string"),
        pytest.param({"verifier": SyncVerifier()}, "async def verify", id="verifier-sync"),
        pytest.param({"unmatched": "allow"}, "unmatched", id="unmatched-unknown"),
        pytest.param(
            {"routes": ["GET /api/v1/courses"]}, "expected a scopeguard.Route", id="routes-str"
        ),
        pytest.param(
            {"routes": None, "websocket_scope_method": "websocket"},
            "websocket_scope_method must be one of",
            id="websocket-verb-lower-case",
        ),
    ],
)
def test_middleware_rejects_bad_option(options: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "routes": ROUTES,
        "verifier": JWTVerifier(key=SECRET, algorithms=["HS256"]),
        **options,
    }

    with pytest.raises(ConfigurationError, match=message):
        ScopeGuardMiddleware(Starlette(), **arguments)


# --- Method overrides, CORS preflights and the Authorization size limit -----------------------


async def _echo_method(request: Request) -> Response:
    return JSONResponse({"method": request.method})


def hardened_app(**options: Any) -> ScopeGuardMiddleware:
    app = Starlette(
        routes=[
            StarletteRoute("/items/{item_id}", _echo_method, methods=["GET", "DELETE"]),
            StarletteRoute("/probe", _echo_method, methods=["OPTIONS"]),
        ]
    )
    routes = [
        Route("GET", "/items/:item_id"),
        Route("DELETE", "/items/:item_id"),
        Route("OPTIONS", "/probe"),
    ]
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])
    return ScopeGuardMiddleware(app, routes=routes, verifier=verifier, **options)


async def send_request(
    app: ScopeGuardMiddleware, method: str, url: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.request(method, url, headers=headers or {})


GET_ITEM = "url:GET|/items/:item_id"
DELETE_ITEM = "url:DELETE|/items/:item_id"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "headers", "status"),
    [
        pytest.param("/items/1", {"X-HTTP-Method-Override": "DELETE"}, 400, id="header"),
        pytest.param("/items/1", {"X-Method-Override": "DELETE"}, 400, id="short-header"),
        pytest.param("/items/1", {"X-HTTP-Method": "DELETE"}, 400, id="ms-header"),
        pytest.param("/items/1?_method=DELETE", {}, 400, id="query-parameter"),
        pytest.param("/items/1?%5Fmethod=DELETE", {}, 400, id="encoded-parameter"),
        pytest.param("/items/1", {"X_HTTP_Method_Override": "DELETE"}, 400, id="underscores"),
        pytest.param("/items/1", {"x-http_method-override": "DELETE"}, 400, id="mixed"),
        pytest.param("/items/1", {"X_Method_Override": "DELETE"}, 400, id="short-underscores"),
        pytest.param("/items/1", {"X_Request_Id": "7"}, 200, id="other-underscores"),
        pytest.param("/items/1?method=DELETE", {}, 200, id="other-parameter"),
        pytest.param("/items/1?page=2", {}, 200, id="no-override"),
    ],
)
async def test_method_override_rejected(url: str, headers: dict[str, str], status: int) -> None:
    token = make_token(GET_ITEM)

    response = await send_request(hardened_app(), "GET", url, {**headers, **bearer(token)})

    assert response.status_code == status
    if status == 400:
        assert "method override" in response.json()["errors"][0]["message"]


def wsgi_method_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A WSGI app that runs a request as the method its override header names."""
    method = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE", environ["REQUEST_METHOD"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [method.encode("latin-1")]


@pytest.fixture(scope="module")
def wsgi_url() -> Iterator[str]:
    app = Starlette(routes=[Mount("/items", WSGIMiddleware(wsgi_method_app))])  # type: ignore[arg-type]
    routes = [Route("GET", "/items/:item_id"), Route("DELETE", "/items/:item_id")]
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])
    with run_asgi_server(ScopeGuardMiddleware(app, routes=routes, verifier=verifier)) as url:
        yield url


@pytest.mark.parametrize(
    ("name", "status", "body"),
    [
        pytest.param("X_HTTP_Method_Override", 400, None, id="underscores"),
        pytest.param("X-HTTP-Method-Override", 400, None, id="hyphens"),
        pytest.param("X-Request-Id", 200, "GET", id="unrelated"),
    ],
)
def test_uvicorn_override_reaches_wsgi_app(
    wsgi_url: str, name: str, status: int, body: str | None
) -> None:
    """A WSGI app reads either spelling of the header from one environ key, so both are
    rejected before the app could run a GET as DELETE."""
    headers = {name: "DELETE", **bearer(make_token(GET_ITEM))}

    response = httpx.get(wsgi_url + "/items/1", headers=headers)

    assert response.status_code == status
    if body is not None:
        assert response.text == body


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("scopes", "headers", "status"),
    [
        pytest.param([GET_ITEM], {"X-HTTP-Method-Override": "DELETE"}, 403, id="needs-delete"),
        pytest.param([DELETE_ITEM], {"X-HTTP-Method-Override": "delete"}, 200, id="delete-scope"),
        pytest.param(
            [GET_ITEM, DELETE_ITEM],
            {"X-HTTP-Method-Override": "DELETE", "X-Method-Override": "PUT"},
            400,
            id="conflicting",
        ),
        pytest.param([GET_ITEM], {"X-HTTP-Method-Override": "DE LETE"}, 400, id="not-a-method"),
    ],
)
async def test_method_override_honoured(
    scopes: list[str], headers: dict[str, str], status: int
) -> None:
    app = hardened_app(method_override="honour")

    response = await send_request(
        app, "GET", "/items/1", {**headers, **bearer(make_token(*scopes))}
    )

    assert response.status_code == status


PREFLIGHT = {"Origin": "https://app.example.test", "Access-Control-Request-Method": "DELETE"}


def bearer_of(*scopes: str) -> dict[str, str]:
    return bearer(make_token(*scopes))


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "headers", "options", "status"),
    [
        pytest.param("/items/1", PREFLIGHT, {}, 405, id="preflight-reaches-app"),
        pytest.param("/items/1", {"Origin": "https://x.test"}, {}, 401, id="origin-only"),
        pytest.param("/items/1", {}, {}, 401, id="plain-options"),
        pytest.param("/probe", PREFLIGHT, {}, 401, id="options-route-checked"),
        pytest.param("/items/1", PREFLIGHT, {"cors_preflight": False}, 401, id="turned-off"),
    ],
)
async def test_cors_preflight(
    url: str, headers: dict[str, str], options: dict[str, Any], status: int
) -> None:
    """A preflight reaches the app, whose router responds with 405 here because no CORS
    middleware runs, while any other OPTIONS request needs a token."""
    response = await send_request(hardened_app(**options), "OPTIONS", url, headers)

    assert response.status_code == status


BROWSER_ORIGIN = "https://app.example.test"
ROUTES_OF_ITEMS = [Route("GET", "/items/:item_id"), Route("DELETE", "/items/:item_id")]


def cors_app(order: str) -> ASGIApp:
    """Return the items app with Starlette's CORSMiddleware outside or inside scopeguard."""
    app = Starlette(
        routes=[StarletteRoute("/items/{item_id}", _echo_method, methods=["GET", "DELETE"])]
    )
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])

    def with_cors(inner: ASGIApp) -> ASGIApp:
        return CORSMiddleware(
            inner,
            allow_origins=[BROWSER_ORIGIN],
            allow_methods=["GET", "DELETE"],
            allow_headers=["Authorization"],
        )

    if order == "outside":
        return with_cors(ScopeGuardMiddleware(app, verifier=verifier))
    return ScopeGuardMiddleware(with_cors(app), routes=ROUTES_OF_ITEMS, verifier=verifier)


@pytest.fixture(scope="module")
def cors_urls() -> Iterator[dict[str, str]]:
    with (
        run_asgi_server(cors_app("outside")) as outside,
        run_asgi_server(cors_app("inside")) as inside,
    ):
        yield {"outside": outside, "inside": inside}


@pytest.mark.parametrize(
    ("order", "method", "headers", "status", "cors_header"),
    [
        pytest.param("outside", "OPTIONS", PREFLIGHT, 200, True, id="outside-preflight"),
        pytest.param("outside", "GET", {}, 401, True, id="outside-denial-readable"),
        pytest.param("outside", "GET", bearer_of(GET_ITEM), 200, True, id="outside-allowed"),
        pytest.param("outside", "DELETE", bearer_of(GET_ITEM), 403, True, id="outside-403"),
        pytest.param("inside", "OPTIONS", PREFLIGHT, 200, True, id="inside-preflight"),
        pytest.param("inside", "GET", {}, 401, False, id="inside-denial-unreadable"),
        pytest.param("inside", "GET", bearer_of(GET_ITEM), 200, True, id="inside-allowed"),
    ],
)
def test_uvicorn_cors_order(
    cors_urls: dict[str, str],
    order: str,
    method: str,
    headers: dict[str, str],
    status: int,
    cors_header: bool,
) -> None:
    """With CORSMiddleware outside, scopeguard's denials carry the CORS headers, so a
    browser script can read the 401 or 403; inside, only responses of the app do."""
    response = httpx.request(
        method, cors_urls[order] + "/items/1", headers={"Origin": BROWSER_ORIGIN, **headers}
    )

    assert response.status_code == status
    assert (response.headers.get("access-control-allow-origin") == BROWSER_ORIGIN) is cors_header


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("limit", "status"),
    [
        pytest.param(None, 401, id="default-8-kib"),
        pytest.param(20_000, 200, id="raised"),
    ],
)
async def test_authorization_size_limit(limit: int | None, status: int) -> None:
    token = make_token(GET_ITEM, padding="x" * 9000)
    options = {} if limit is None else {"max_authorization_bytes": limit}

    response = await send_request(hardened_app(**options), "GET", "/items/1", bearer(token))

    assert response.status_code == status
    if status == 401:
        assert "longer than 8192 bytes" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"method_override": "allow"}, "method_override", id="override"),
        pytest.param({"cors_preflight": "yes"}, "cors_preflight", id="preflight"),
        pytest.param({"max_authorization_bytes": 8}, "at least 16", id="tiny-limit"),
        pytest.param({"max_authorization_bytes": True}, "max_authorization_bytes", id="bool"),
        pytest.param(
            {"websocket_scope_method": "WEBSOCKET"},
            "applies only to routes read from the app",
            id="websocket-verb-with-routes",
        ),
    ],
)
def test_hardening_options_validated(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        hardened_app(**options)


# --- Report-only mode, decision events, logs and counters -----------------------------------

GRADES = "url:GET|/api/v1/grades/:grade_id"
REPORT_HEADER = "X-Scopeguard-Report"


async def describe_decision(request: Request) -> Response:
    decision: Decision = request.state.scopeguard
    return JSONResponse(
        {
            "allowed": decision.allowed,
            "enforced": decision.enforced,
            "reason": decision.reason.value,
            "authenticated": request.user.is_authenticated,
        }
    )


@report_only
async def describe_grade(request: Request) -> Response:
    return await describe_decision(request)


@public
async def public_health(request: Request) -> Response:
    return PlainTextResponse("ok")


@dataclass
class Observed:
    """A server of the reporting app and the events its middleware sent to the callback."""

    url: str
    events: list[DecisionEvent]
    middleware: ScopeGuardMiddleware


def reporting_app(mode: str, events: list[DecisionEvent]) -> ScopeGuardMiddleware:
    app = Starlette(
        routes=[
            StarletteRoute("/health", public_health),
            StarletteRoute("/api/v1/courses/{course_id}", describe_decision),
            StarletteRoute("/api/v1/grades/{grade_id}", describe_grade),
        ]
    )
    return ScopeGuardMiddleware(
        app,
        verifier=JWTVerifier(key=SECRET, algorithms=["HS256"]),
        mode=mode,  # type: ignore[arg-type]
        report_header=REPORT_HEADER,
        on_decision=events.append,
    )


@pytest.fixture(scope="module")
def observed() -> Iterator[dict[str, Observed]]:
    servers: dict[str, Observed] = {}
    with contextlib.ExitStack() as stack:
        for mode in ("enforce", "report"):
            events: list[DecisionEvent] = []
            middleware = reporting_app(mode, events)
            url = stack.enter_context(run_asgi_server(middleware))
            servers[mode] = Observed(url, events, middleware)
        yield servers


def other_secret_token(*scopes: str) -> dict[str, str]:
    return bearer(make_token(*scopes, secret=OTHER_SECRET))


@pytest.mark.parametrize(
    ("mode", "target", "headers", "status", "outcome", "reason", "report"),
    [
        pytest.param("enforce", "/api/v1/courses/7", {}, 401, "denied", "missing_token", None,
                     id="enforce-no-token"),
        pytest.param("enforce", "/api/v1/courses/7", bearer_of(COURSE), 200, "allowed",
                     "allowed", None, id="enforce-allowed"),
        pytest.param("enforce", "/api/v1/grades/3", {}, 200, "would_deny", "missing_token",
                     "401 missing_token", id="route-report-only-no-token"),
        pytest.param("enforce", "/api/v1/grades/3", bearer_of(COURSE), 200, "would_deny",
                     "insufficient_scope", "403 insufficient_scope",
                     id="route-report-only-wrong-scope"),
        pytest.param("enforce", "/api/v1/grades/3", bearer_of(GRADES), 200, "allowed",
                     "allowed", None, id="route-report-only-allowed"),
        pytest.param("enforce", "/health", {}, 200, "allowed", "public", None, id="public"),
        pytest.param("report", "/api/v1/courses/7", {}, 200, "would_deny", "missing_token",
                     "401 missing_token", id="report-no-token"),
        pytest.param("report", "/api/v1/courses/7", other_secret_token(COURSE), 200,
                     "would_deny", "invalid_token", "401 invalid_token", id="report-bad-token"),
        pytest.param("report", "/api/v1/courses/7", bearer_of(COURSE), 200, "allowed",
                     "allowed", None, id="report-allowed"),
        pytest.param("report", "/api/v1/courses/1%2F2", bearer_of(COURSE), 404, "would_deny",
                     "bad_request", "400 bad_request", id="report-bad-target"),
        pytest.param("report", "/nothing", bearer_of(COURSE), 404, "would_deny", "no_route",
                     "403 no_route", id="report-no-route"),
    ],
)  # fmt: skip
def test_uvicorn_report_only(
    observed: dict[str, Observed],
    mode: str,
    target: str,
    headers: dict[str, str],
    status: int,
    outcome: str,
    reason: str,
    report: str | None,
) -> None:
    server = observed[mode]
    server.events.clear()

    response = httpx.get(server.url + target, headers=headers)

    assert response.status_code == status
    assert response.headers.get(REPORT_HEADER) == report
    assert [(event.outcome, event.reason) for event in server.events] == [(outcome, reason)]
    if status == 200 and target != "/health":
        body = response.json()
        assert body["allowed"] is (outcome == "allowed")
        assert body["enforced"] is (outcome != "would_deny")
        assert body["authenticated"] is (outcome == "allowed")


def test_uvicorn_event_fields(observed: dict[str, Observed]) -> None:
    server = observed["report"]
    server.events.clear()
    token = make_token(COURSE, sub="teacher-9", client_id="grading-app")
    bad_token = make_token(COURSE, secret=OTHER_SECRET)

    httpx.get(server.url + "/api/v1/courses/7", headers=bearer(token))
    httpx.get(server.url + "/api/v1/grades/3?page=2", headers=bearer(bad_token))
    allowed, invalid = server.events

    assert allowed.method == "GET"
    assert allowed.path == "/api/v1/courses/7"
    assert allowed.route == "/api/v1/courses/{course_id}"
    assert allowed.required_scope == COURSE
    assert (allowed.outcome, allowed.status) == ("allowed", 200)
    assert (allowed.subject, allowed.client_id) == ("teacher-9", "grading-app")
    assert allowed.error_class is None
    assert len(allowed.id) == 32
    assert allowed.id != invalid.id
    assert 0 < allowed.duration < 1
    assert abs(allowed.time - time.time()) < 60
    assert invalid.path == "/api/v1/grades/3"
    assert (invalid.outcome, invalid.status, invalid.reason) == ("would_deny", 401, "invalid_token")
    assert invalid.error_class == "InvalidSignatureError"
    assert invalid.subject is None
    for event in (allowed, invalid):
        assert token not in repr(event)
        assert bad_token not in repr(event)


def test_uvicorn_counters(observed: dict[str, Observed]) -> None:
    server = observed["enforce"]
    before = server.middleware.counters.snapshot()

    for headers in ({}, bearer_of(COURSE), bearer_of(COURSE)):
        httpx.get(server.url + "/api/v1/courses/7", headers=headers)
    httpx.get(server.url + "/api/v1/grades/3")
    after = server.middleware.counters.snapshot()

    def added(route: str, outcome: str) -> int:
        return after.get((route, outcome), 0) - before.get((route, outcome), 0)

    assert added("/api/v1/courses/{course_id}", "allowed") == 2
    assert added("/api/v1/courses/{course_id}", "denied") == 1
    assert added("/api/v1/grades/{grade_id}", "would_deny") == 1
    with pytest.raises(TypeError):
        after[("/x", "allowed")] = 1  # type: ignore[index]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "level", "outcome"),
    [
        pytest.param({}, logging.INFO, "denied", id="denied-at-info"),
        pytest.param(bearer_of(COURSE), logging.DEBUG, "allowed", id="allowed-at-debug"),
    ],
)
async def test_decision_log(
    caplog: pytest.LogCaptureFixture,
    headers: dict[str, str],
    level: int,
    outcome: str,
) -> None:
    app = reporting_app("enforce", [])
    caplog.set_level(logging.DEBUG, logger="scopeguard.decisions")

    await send_request(app, "GET", "/api/v1/courses/7", headers)
    records = [record for record in caplog.records if record.name == "scopeguard.decisions"]

    assert len(records) == 1
    record = records[0]
    assert record.levelno == level
    assert record.args  # formatted lazily, only when a handler emits the record
    assert record.getMessage().startswith(f"{outcome} GET '/api/v1/courses/7'")
    assert record.scopeguard_outcome == outcome  # type: ignore[attr-defined]
    assert record.scopeguard_route == "/api/v1/courses/{course_id}"  # type: ignore[attr-defined]
    for token_header in headers.values():
        assert token_header.split()[1] not in record.getMessage()


@pytest.mark.anyio
async def test_no_event_built_without_listener(monkeypatch: pytest.MonkeyPatch) -> None:
    app = reporting_app("enforce", [])
    app.on_decision = None
    logging.getLogger("scopeguard.decisions").setLevel(logging.WARNING)
    built: list[object] = []
    monkeypatch.setattr("scopeguard.middleware._event", lambda *args: built.append(args))
    try:
        response = await send_request(app, "GET", "/api/v1/courses/7")
    finally:
        logging.getLogger("scopeguard.decisions").setLevel(logging.NOTSET)

    assert response.status_code == 401
    assert built == []
    assert app.counters.total("denied") == 1


@pytest.mark.anyio
async def test_no_log_fields_for_callback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a callback but the decision logger off, the log record's fields are not built."""
    events: list[DecisionEvent] = []
    app = reporting_app("enforce", events)
    built: list[object] = []

    def recording_log_fields(self: DecisionEvent) -> dict[str, Any]:
        built.append(self)
        return {}

    monkeypatch.setattr(DecisionEvent, "log_fields", recording_log_fields)
    logging.getLogger("scopeguard.decisions").setLevel(logging.WARNING)
    try:
        await send_request(app, "GET", "/api/v1/courses/7")
    finally:
        logging.getLogger("scopeguard.decisions").setLevel(logging.NOTSET)

    assert [event.reason for event in events] == ["missing_token"]
    assert built == []


@pytest.mark.anyio
@pytest.mark.parametrize("style", ["sync", "async"])
async def test_callback_errors_logged_and_swallowed(
    caplog: pytest.LogCaptureFixture, style: str
) -> None:
    calls: list[str] = []

    def failing(event: DecisionEvent) -> None:
        calls.append(event.outcome)
        raise RuntimeError("exporter down")

    async def failing_async(event: DecisionEvent) -> None:
        failing(event)

    app = reporting_app("enforce", [])
    app.on_decision = failing if style == "sync" else failing_async
    caplog.set_level(logging.DEBUG, logger="scopeguard.middleware")

    first = await send_request(app, "GET", "/api/v1/courses/7", bearer_of(COURSE))
    second = await send_request(app, "GET", "/api/v1/courses/7")

    assert (first.status_code, second.status_code) == (200, 401)
    assert calls == ["allowed", "denied"]
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "on_decision callback failed" in errors[0].getMessage()
    assert errors[0].exc_info is not None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"mode": "audit"}, "unknown value 'audit' for mode", id="mode"),
        pytest.param({"report_header": "X Report"}, "report_header", id="header-space"),
        pytest.param({"report_header": ""}, "report_header", id="header-empty"),
        pytest.param({"on_decision": "print"}, "on_decision", id="callback"),
    ],
)
def test_report_options_validated(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        hardened_app(**options)

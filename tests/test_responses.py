"""Tests of denial responses: the RFC 6750 challenge, headers, JSON body and ASGI messages."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from scopeguard._types import Message, Scope
from scopeguard.responses import (
    DenialResponse,
    challenge,
    response_body,
    response_headers,
    send_denial,
    validate_realm,
)

COURSE = "url:GET|/api/v1/courses/:course_id"

MISSING = DenialResponse(401, "a bearer token is required")
INVALID = DenialResponse(401, "the token has expired", "invalid_token")
INSUFFICIENT = DenialResponse(
    403, f"the token lacks the scope {COURSE}", "insufficient_scope", COURSE
)
NO_ROUTE = DenialResponse(
    403, "no route matches GET /x, so no scope grants it", "insufficient_scope"
)
BAD_REQUEST = DenialResponse(
    400, "the request path contains a control character", "invalid_request"
)
NOT_ALLOWED = DenialResponse(
    405, "method DELETE is not allowed on /x; allowed: GET, HEAD", allowed_methods=("GET", "HEAD")
)


def send_and_collect(denial: DenialResponse, scope: Scope) -> list[Message]:
    """Run ``send_denial`` and return the ASGI messages it sends."""
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("send_denial must not read the request")

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(send_denial("api", denial, scope, receive, send))
    return sent


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    values = [value for key, value in headers if key == name]
    assert len(values) <= 1, f"{name!r} sent more than once"
    return values[0] if values else None


@pytest.mark.parametrize(
    "realm",
    [
        pytest.param("api", id="word"),
        pytest.param("Canvas LMS API", id="spaces"),
        pytest.param("api!#$%&'()*+,-./:;<=>?@[]^_`{|}~", id="punctuation"),
    ],
)
def test_validate_realm_accepts(realm: str) -> None:
    assert validate_realm(realm) == realm


@pytest.mark.parametrize(
    "realm",
    [
        pytest.param("", id="empty"),
        pytest.param('my"api', id="double-quote"),
        pytest.param("my\\api", id="backslash"),
        pytest.param("api\r\nX-Injected: 1", id="crlf"),
        pytest.param("api\t", id="tab"),
        pytest.param("ápi", id="non-ascii"),
        pytest.param(None, id="none"),
        pytest.param(b"api", id="bytes"),
    ],
)
def test_validate_realm_rejects(realm: Any) -> None:
    with pytest.raises(ValueError, match="must be non-empty printable ASCII"):
        validate_realm(realm)


@pytest.mark.parametrize(
    ("denial", "expected"),
    [
        pytest.param(MISSING, b'Bearer realm="api"', id="missing-token"),
        pytest.param(
            INVALID,
            b'Bearer realm="api", error="invalid_token", error_description="the token has expired"',
            id="invalid-token",
        ),
        pytest.param(
            INSUFFICIENT,
            b'Bearer realm="api", error="insufficient_scope", '
            b'error_description="the token lacks the scope url:GET|/api/v1/courses/:course_id", '
            b'scope="url:GET|/api/v1/courses/:course_id"',
            id="insufficient-scope",
        ),
        pytest.param(
            DenialResponse(400, 'path "\u00e9\n\\" is bad', "invalid_request"),
            b'Bearer realm="api", error="invalid_request", error_description="path ????? is bad"',
            id="unsafe-description",
        ),
        pytest.param(
            DenialResponse(403, "lacks scope", "insufficient_scope", 'url:GET|/a"b'),
            b'Bearer realm="api", error="insufficient_scope", error_description="lacks scope"',
            id="unsafe-scope-omitted",
        ),
    ],
)
def test_challenge(denial: DenialResponse, expected: bytes) -> None:
    assert challenge("api", denial) == expected


@pytest.mark.parametrize(
    ("denial", "has_challenge"),
    [
        pytest.param(MISSING, True, id="401-missing"),
        pytest.param(INVALID, True, id="401-invalid"),
        pytest.param(INSUFFICIENT, True, id="403-insufficient"),
        pytest.param(NO_ROUTE, True, id="403-no-route"),
        pytest.param(BAD_REQUEST, True, id="400"),
        pytest.param(NOT_ALLOWED, False, id="405"),
    ],
)
def test_response_headers(denial: DenialResponse, has_challenge: bool) -> None:
    body = response_body(denial)
    headers = response_headers("api", denial, body)

    assert header(headers, b"content-type") == b"application/json"
    assert header(headers, b"content-length") == str(len(body)).encode()
    assert header(headers, b"cache-control") == b"no-store"
    assert (header(headers, b"www-authenticate") is not None) is has_challenge


def test_response_headers_allow() -> None:
    headers = response_headers("api", NOT_ALLOWED, response_body(NOT_ALLOWED))

    assert header(headers, b"allow") == b"GET, HEAD"


@pytest.mark.parametrize(
    "denial",
    [
        pytest.param(MISSING, id="missing"),
        pytest.param(INSUFFICIENT, id="insufficient"),
        pytest.param(DenialResponse(403, "no route matches GET /é"), id="non-ascii"),
        pytest.param(DenialResponse(403, 'quote " and \\ and \n'), id="escapes"),
    ],
)
def test_response_body_canvas_shape(denial: DenialResponse) -> None:
    assert json.loads(response_body(denial)) == {"errors": [{"message": denial.message}]}


def test_send_denial_http() -> None:
    sent = send_and_collect(INSUFFICIENT, {"type": "http", "method": "GET"})
    body = response_body(INSUFFICIENT)

    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 403
    assert sent[0]["headers"] == response_headers("api", INSUFFICIENT, body)
    assert sent[1]["body"] == body


def test_send_denial_head_has_no_body() -> None:
    sent = send_and_collect(MISSING, {"type": "http", "method": "HEAD"})
    length = str(len(response_body(MISSING))).encode()

    assert header(sent[0]["headers"], b"content-length") == length
    assert sent[1]["body"] == b""


def test_send_denial_websocket_http_response() -> None:
    scope = {"type": "websocket", "extensions": {"websocket.http.response": {}}}

    sent = send_and_collect(INVALID, scope)

    assert [message["type"] for message in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 401
    assert header(sent[0]["headers"], b"www-authenticate") == challenge("api", INVALID)
    assert sent[1]["body"] == response_body(INVALID)


@pytest.mark.parametrize(
    "extensions",
    [
        pytest.param({}, id="empty"),
        pytest.param(None, id="none"),
        pytest.param({"websocket.http.response.other": {}}, id="other-extension"),
    ],
)
def test_send_denial_websocket_close(extensions: dict[str, Any] | None) -> None:
    sent = send_and_collect(INSUFFICIENT, {"type": "websocket", "extensions": extensions})

    assert sent == [{"type": "websocket.close", "code": 1008, "reason": INSUFFICIENT.message}]


def test_send_denial_websocket_without_extensions_key() -> None:
    sent = send_and_collect(MISSING, {"type": "websocket"})

    assert sent == [{"type": "websocket.close", "code": 1008, "reason": MISSING.message}]


def test_close_reason_fits_123_bytes() -> None:
    # 100 two-byte characters: a cut at 123 bytes falls inside the 62nd one.
    denial = DenialResponse(403, "é" * 100)

    (close,) = send_and_collect(denial, {"type": "websocket"})

    assert close["reason"] == "é" * 61
    assert len(close["reason"].encode("utf-8")) <= 123

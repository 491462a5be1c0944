"""Tests of UpstreamProxy behind ScopeGuardMiddleware, with a real upstream, under uvicorn.

The upstream is a small ASGI app that records every request it receives: the raw target,
the headers and the SHA-256 of the body. It can stream a large body back or respond
slowly. Attack targets that an upstream server could normalise into another route, such
as encoded dot segments, must never reach it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import run_asgi_server

from scopeguard import ConfigurationError, JWTVerifier, Route, ScopeGuardMiddleware, mint_token
from scopeguard._types import Message, Receive, Scope, Send
from scopeguard.proxy import UpstreamProxy

SECRET = "proxy-test-secret-0123456789abcdef"
FILES = "url:POST|/api/v1/courses/:course_id/files"
DOWNLOAD = "url:GET|/api/v1/files/:file_id/download"
PUBLIC = "/api/v1/public/:name"
ROUTES = [
    Route("POST", "/api/v1/courses/:course_id/files"),
    Route("GET", "/api/v1/files/:file_id/download"),
    Route("GET", "/api/v1/slow"),
    Route("GET", PUBLIC, public=True),
    Route("GET", "/api/v1/admin"),
]
#: The size of the large bodies sent each way, streamed in 64 KiB chunks.
LARGE = 8 * 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class Upstream:
    """What the upstream received, shared with its server thread."""

    url: str = ""
    hits: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0


def upstream_app(state: Upstream) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        digest = hashlib.sha256()
        size = 0
        while True:
            message = await receive()
            body = message.get("body", b"")
            digest.update(body)
            size += len(body)
            if not message.get("more_body", False):
                break
        state.hits.append(
            {
                "method": scope["method"],
                "raw_path": scope["raw_path"],
                "query": scope["query_string"],
                "headers": {name.decode(): value.decode() for name, value in scope["headers"]},
                "sha256": digest.hexdigest(),
                "size": size,
            }
        )
        if state.delay:
            await asyncio.sleep(state.delay)
        if scope["path"].endswith("/download"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/octet-stream"),
                        (b"x-upstream", b"files"),
                        (b"connection", b"x-hop"),
                        (b"x-hop", b"dropped"),
                    ],
                }
            )
            for index in range(LARGE // CHUNK):
                chunk = bytes([index % 251]) * CHUNK
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 201 if scope["method"] == "POST" else 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": f"{size} {digest.hexdigest()}".encode()})

    return app


def large_download_digest() -> str:
    digest = hashlib.sha256()
    for index in range(LARGE // CHUNK):
        digest.update(bytes([index % 251]) * CHUNK)
    return digest.hexdigest()


@dataclass
class Gateway:
    url: str
    upstream: Upstream


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    state = Upstream()
    with run_asgi_server(upstream_app(state)) as upstream_url:
        state.url = upstream_url
        proxy = UpstreamProxy(upstream_url, timeout=2)
        guarded = ScopeGuardMiddleware(
            proxy, routes=ROUTES, verifier=JWTVerifier(key=SECRET, algorithms=["HS256"])
        )
        with run_asgi_server(guarded) as url:
            yield Gateway(url, state)


@pytest.fixture
def fresh(gateway: Gateway) -> Gateway:
    gateway.upstream.hits.clear()
    gateway.upstream.delay = 0.0
    return gateway


def bearer(*scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, list(scopes))}"}


def upload_chunks() -> Iterator[bytes]:
    for index in range(LARGE // CHUNK):
        yield os.urandom(16) + bytes([index % 256]) * (CHUNK - 16)


def test_large_upload_reaches_upstream_unchanged(fresh: Gateway) -> None:
    chunks = list(upload_chunks())
    expected = hashlib.sha256(b"".join(chunks)).hexdigest()

    response = httpx.post(
        fresh.url + "/api/v1/courses/7/files",
        content=iter(chunks),
        headers=bearer(FILES),
        timeout=30,
    )

    assert response.status_code == 201
    assert response.text == f"{LARGE} {expected}"
    assert [hit["sha256"] for hit in fresh.upstream.hits] == [expected]


def test_large_download_streams_back_unchanged(fresh: Gateway) -> None:
    digest = hashlib.sha256()
    with httpx.stream(
        "GET", fresh.url + "/api/v1/files/3/download", headers=bearer(DOWNLOAD), timeout=30
    ) as response:
        for chunk in response.iter_raw():
            digest.update(chunk)

    assert response.status_code == 200
    assert digest.hexdigest() == large_download_digest()
    assert response.headers["x-upstream"] == "files"
    assert "x-hop" not in response.headers


@pytest.mark.parametrize(
    ("method", "target", "headers", "status"),
    [
        pytest.param("GET", "/api/v1/files/3/download", {}, 401, id="no-token"),
        pytest.param("GET", "/api/v1/files/3/download", bearer(FILES), 403, id="wrong-scope"),
        pytest.param("GET", "/api/v1/nowhere", bearer(FILES), 403, id="no-route"),
        pytest.param("DELETE", "/api/v1/files/3/download", bearer(DOWNLOAD), 405, id="method"),
        pytest.param("GET", "/api/v1/public/..%2Fadmin", {}, 400, id="encoded-slash"),
        pytest.param("GET", "/api/v1/public/%2e%2e/admin", {}, 400, id="encoded-dots"),
        pytest.param("GET", "/api/v1/public/x%252F..", {}, 400, id="double-encoding"),
    ],
)
def test_denied_requests_never_reach_upstream(
    fresh: Gateway, method: str, target: str, headers: dict[str, str], status: int
) -> None:
    url = httpx.URL(fresh.url).copy_with(raw_path=target.encode("ascii"))

    response = httpx.request(method, url, headers=headers)

    assert response.status_code == status
    assert fresh.upstream.hits == []


def test_target_forwarded_byte_for_byte(fresh: Gateway) -> None:
    """The upstream receives the exact target the decision was made on."""
    target = b"/api/v1/public/caf%C3%A9%20menu?b=2&a=%2F"
    url = httpx.URL(fresh.url).copy_with(raw_path=target)

    response = httpx.get(url)

    assert response.status_code == 200
    (hit,) = fresh.upstream.hits
    assert hit["raw_path"] + b"?" + hit["query"] == target


def test_headers_forwarded(fresh: Gateway) -> None:
    headers = {
        **bearer(DOWNLOAD),
        "X-Request-Id": "r-1",
        "Connection": "keep-alive, x-secret-hop",
        "X-Secret-Hop": "dropped",
        "Proxy-Authorization": "Basic dropped",
        "Host": "api.example.test",
    }

    httpx.get(fresh.url + "/api/v1/files/3/download", headers=headers)
    forwarded = fresh.upstream.hits[0]["headers"]

    assert forwarded["x-request-id"] == "r-1"
    assert "authorization" not in forwarded
    assert "proxy-authorization" not in forwarded
    assert "x-secret-hop" not in forwarded
    assert forwarded["x-forwarded-for"] == "127.0.0.1"
    assert forwarded["x-forwarded-proto"] == "http"
    # httpx's own defaults are not added to what the client sent.
    assert "user-agent" in forwarded  # httpx's client in this test sent one
    assert forwarded["accept-encoding"] == "gzip, deflate"
    assert forwarded["x-forwarded-host"] == "api.example.test"
    assert forwarded["host"] == urlsplit(fresh.upstream.url).netloc


@pytest.mark.anyio
async def test_forwarded_for_appends_client(gateway: Gateway) -> None:
    """The client's address is appended to the chain it sent. In-process, because uvicorn
    in front would replace the client address with the header's when the peer is local."""
    gateway.upstream.hits.clear()
    proxy = UpstreamProxy(gateway.upstream.url)
    transport = httpx.ASGITransport(app=proxy, client=("198.51.100.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await client.get("/api/v1/public/x", headers={"X-Forwarded-For": "203.0.113.9"})
    await proxy.aclose()

    assert gateway.upstream.hits[0]["headers"]["x-forwarded-for"] == "203.0.113.9, 198.51.100.7"


def test_authorization_forwarded_when_configured() -> None:
    state = Upstream()
    with run_asgi_server(upstream_app(state)) as upstream_url:
        proxy = UpstreamProxy(upstream_url, forward_authorization=True)
        guarded = ScopeGuardMiddleware(
            proxy, routes=ROUTES, verifier=JWTVerifier(key=SECRET, algorithms=["HS256"])
        )
        headers = bearer(DOWNLOAD)
        with run_asgi_server(guarded) as url:
            httpx.get(url + "/api/v1/files/3/download", headers=headers)

    assert state.hits[0]["headers"]["authorization"] == headers["Authorization"]


def test_upstream_timeout_gives_504(fresh: Gateway) -> None:
    fresh.upstream.delay = 3

    response = httpx.get(fresh.url + "/api/v1/public/slow", timeout=10)

    assert response.status_code == 504
    assert "did not respond in time" in response.text


def test_upstream_down_gives_502(free_tcp_port: int) -> None:
    proxy = UpstreamProxy(f"http://127.0.0.1:{free_tcp_port}")
    guarded = ScopeGuardMiddleware(
        proxy, routes=ROUTES, verifier=JWTVerifier(key=SECRET, algorithms=["HS256"])
    )

    with run_asgi_server(guarded) as url:
        response = httpx.get(url + "/api/v1/public/x")

    assert response.status_code == 502
    assert "could not be reached" in response.text


@pytest.mark.parametrize(
    ("upstream", "options", "message"),
    [
        pytest.param("ftp://127.0.0.1", {}, "http or https URL", id="scheme"),
        pytest.param("127.0.0.1:9000", {}, "http or https URL", id="no-scheme"),
        pytest.param("http://127.0.0.1/?a=1", {}, "query or fragment", id="query"),
        pytest.param("http://127.0.0.1", {"timeout": 0}, "timeout", id="timeout"),
        pytest.param("http://127.0.0.1", {"forward_authorization": "yes"}, "forward_", id="flag"),
    ],
)
def test_proxy_options_validated(upstream: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        UpstreamProxy(upstream, **options)


def test_upstream_path_prefix() -> None:
    state = Upstream()
    with run_asgi_server(upstream_app(state)) as upstream_url:
        proxy = UpstreamProxy(upstream_url + "/service/")
        with run_asgi_server(proxy) as url:
            httpx.get(url + "/api/v1/public/x?q=1")

    assert state.hits[0]["raw_path"] == b"/service/api/v1/public/x"
    assert state.hits[0]["query"] == b"q=1"


def test_free_port_is_closed(free_tcp_port: int) -> None:
    """The 502 test relies on nothing listening on the free port."""
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", free_tcp_port)) != 0


@pytest.mark.anyio
async def test_only_client_headers_forwarded(gateway: Gateway) -> None:
    """A request without Accept, Accept-Encoding and User-Agent reaches the upstream
    without them, and a load balancer's forwarded scheme and host pass on."""
    gateway.upstream.hits.clear()
    proxy = UpstreamProxy(gateway.upstream.url)

    async def call() -> None:
        messages = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> Message:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            return None

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/api/v1/public/x",
            "raw_path": b"/api/v1/public/x",
            "query_string": b"",
            "headers": [
                (b"host", b"gateway.internal"),
                (b"x-forwarded-proto", b"https"),
                (b"x-forwarded-host", b"api.example.test"),
            ],
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
        }
        await proxy(scope, receive, send)

    await call()
    await proxy.aclose()
    forwarded = gateway.upstream.hits[0]["headers"]

    assert "accept" not in forwarded
    assert "accept-encoding" not in forwarded
    assert "user-agent" not in forwarded
    assert forwarded["x-forwarded-proto"] == "https"
    assert forwarded["x-forwarded-host"] == "api.example.test"


@pytest.mark.parametrize(
    ("upstream", "message"),
    [
        pytest.param("http://127.0.0.1:99999", "invalid port", id="port"),
        pytest.param("http://user:pw@127.0.0.1", "credentials", id="credentials"),
    ],
)
def test_upstream_url_checked(upstream: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        UpstreamProxy(upstream)

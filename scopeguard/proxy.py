"""An ASGI reverse proxy that forwards requests to one upstream HTTP service.

:class:`UpstreamProxy` is the app a scopeguard gateway puts behind the middleware. It
streams request and response bodies in both directions without holding either whole. It
forwards the request target exactly as the client sent it (``raw_path`` and the query
string), so the upstream receives the path the decision was made on. It drops hop-by-hop
headers. Upstream failures become 502, timeouts 504, each logged with its cause.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from typing import Final
from urllib.parse import urlsplit

import httpx

from scopeguard._types import Message, Receive, Scope, Send
from scopeguard.errors import ConfigurationError

__all__ = ["HOP_BY_HOP_HEADERS", "UpstreamProxy"]

logger = logging.getLogger("scopeguard.proxy")

#: Headers that describe one connection, not the message, so a proxy does not forward them.
HOP_BY_HOP_HEADERS: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Set by the proxy itself: the upstream's Host, and the forwarding headers it rewrites.
_REPLACED_HEADERS: Final = frozenset(
    {b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"}
)
# Headers httpx puts on every request that lacks them.
_CLIENT_DEFAULT_HEADERS: Final = frozenset({b"accept", b"accept-encoding", b"user-agent"})


class UpstreamProxy:
    """Forwards every HTTP request to ``upstream`` and streams the response back.

    :param upstream: the base URL of the service, such as ``http://127.0.0.1:9000``. A
        path in it prefixes every forwarded path.
    :param forward_authorization: whether the client's ``Authorization`` header reaches
        the upstream. Off by default, so the bearer token never reaches the upstream.
    :param timeout: seconds to connect, and to wait for each read or write (default 30).
    :param connect_timeout: seconds to connect, when it should differ from ``timeout``.
    :param http_client: an ``httpx.AsyncClient`` to forward with. By default the proxy
        opens one on first use and keeps its connections; :meth:`aclose` closes it.

    ``X-Forwarded-For`` gets the client's address appended. ``X-Forwarded-Proto`` and
    ``X-Forwarded-Host`` pass on the values a load balancer set, or are set from the
    request. Only the headers the client sent are forwarded: none is added but these.
    Websocket connections are refused with close code 1011, since the proxy forwards HTTP
    only.
    """

    def __init__(
        self,
        upstream: str,
        *,
        forward_authorization: bool = False,
        timeout: float = 30,
        connect_timeout: float | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        parts = urlsplit(upstream) if isinstance(upstream, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"upstream must be an http or https URL such as 'http://127.0.0.1:9000', "
                f"got {upstream!r}"
            )

        if parts.query or parts.fragment:
            raise ConfigurationError(f"upstream must not have a query or fragment: {upstream!r}")
        if parts.username is not None or parts.password is not None:
            raise ConfigurationError(
                "upstream must not contain credentials, which would reach the upstream as "
                "Basic authentication; give the URL without them"
            )
        try:
            parts.port  # noqa: B018 - urlsplit checks the port only when it is read
        except ValueError as exc:
            raise ConfigurationError(f"upstream has an invalid port: {exc}") from None
        if not isinstance(forward_authorization, bool):
            raise ConfigurationError("forward_authorization must be True or False")
        for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0
            ):
                raise ConfigurationError(f"{name} must be a number of seconds > 0, got {value!r}")

        self.upstream = upstream
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path.rstrip("/").encode("ascii", "strict")
        self.forward_authorization = forward_authorization
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout or timeout)
        self._client = http_client
        self._owns_client = http_client is None

    def __repr__(self) -> str:
        return f"UpstreamProxy({self.upstream!r})"

    async def aclose(self) -> None:
        """Close the HTTP client the proxy opened, if it opened one."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011})
            return
        if scope["type"] != "http":
            return
        await self._forward(scope, receive, send)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = self._client_for_requests()
        headers = self._request_headers(scope)
        request = client.build_request(
            scope["method"],
            self._url(scope),
            headers=headers,
            content=_body(receive) if _may_have_body(scope) else None,
        )
        # httpx adds Accept, Accept-Encoding and User-Agent of its own when a request lacks
        # them; the upstream gets only what the client sent.
        sent = {name for name, _ in headers}
        for name in _CLIENT_DEFAULT_HEADERS - sent:
            if name.decode() in request.headers:
                del request.headers[name.decode()]
        try:
            response = await client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            logger.warning("the upstream %s timed out: %s", self.upstream, type(exc).__name__)
            await _error(send, 504, "the upstream service did not respond in time")
            return
        except httpx.HTTPError as exc:
            logger.warning("the upstream %s failed: %s: %s", self.upstream, type(exc).__name__, exc)
            await _error(send, 502, "the upstream service could not be reached")
            return

        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": _response_headers(response.headers.raw),
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.HTTPError as exc:
            # The status line is sent, so the client sees a cut-off body instead of a 502.
            logger.warning(
                "the upstream %s failed while sending its response: %s",
                self.upstream,
                type(exc).__name__,
            )
        finally:
            await response.aclose()

    def _client_for_requests(self) -> httpx.AsyncClient:
        if self._client is None:
            # No redirects are followed, so the client sees the upstream's own responses,
            # and trust_env is off, so no proxy setting of the environment takes effect.
            self._client = httpx.AsyncClient(
                timeout=self._timeout, follow_redirects=False, trust_env=False
            )
        return self._client

    def _url(self, scope: Scope) -> httpx.URL:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        query: bytes = scope.get("query_string", b"")
        target = self._prefix + raw_path + (b"?" + query if query else b"")
        # The target goes out byte for byte: httpx would normalise a path given as text.
        return httpx.URL(self._origin).copy_with(raw_path=target)

    def _request_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        headers: list[tuple[bytes, bytes]] = []
        connection_tokens: set[bytes] = set()
        host = b""
        forwarded_for = b""
        forwarded_proto = b""
        forwarded_host = b""
        for name, value in scope["headers"]:
            if name == b"connection":
                connection_tokens.update(token.strip().lower() for token in value.split(b","))
            elif name == b"host":
                host = value
            elif name == b"x-forwarded-for":
                forwarded_for = value
            elif name == b"x-forwarded-proto":
                forwarded_proto = value
            elif name == b"x-forwarded-host":
                forwarded_host = value

        for name, value in scope["headers"]:
            if name in HOP_BY_HOP_HEADERS or name in _REPLACED_HEADERS:
                continue
            if name in connection_tokens:
                continue
            if name == b"authorization" and not self.forward_authorization:
                continue
            headers.append((name, value))

        client = scope.get("client")
        address = client[0].encode("latin-1") if client else b"unknown"
        headers.append(
            (b"x-forwarded-for", forwarded_for + b", " + address if forwarded_for else address)
        )
        # A load balancer in front sets the client's scheme and host. Without one, they are
        # those of the request to the gateway.
        scheme = forwarded_proto or scope.get("scheme", "http").encode("latin-1")
        headers.append((b"x-forwarded-proto", scheme))
        if forwarded_host or host:
            headers.append((b"x-forwarded-host", forwarded_host or host))
        return headers

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _may_have_body(scope: Scope) -> bool:
    return scope["method"] not in ("GET", "HEAD", "OPTIONS", "DELETE", "TRACE") or any(
        name in (b"content-length", b"transfer-encoding") for name, _ in scope["headers"]
    )


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
        body: bytes = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


def _response_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    connection_tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            connection_tokens.update(token.strip().lower() for token in value.split(b","))
    return [
        (name.lower(), value)
        for name, value in headers
        if name.lower() not in HOP_BY_HOP_HEADERS and name.lower() not in connection_tokens
    ]


async def _error(send: Send, status: int, message: str) -> None:
    body = ('{"errors": [{"message": "' + message + '"}]}').encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

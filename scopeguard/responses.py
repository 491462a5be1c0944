"""Denial responses: status, RFC 6750 challenge and a JSON body in Canvas's error shape.

RFC 6750 section 3 (The WWW-Authenticate Response Header Field) defines the challenge::

    WWW-Authenticate: Bearer realm="api", error="insufficient_scope",
                      error_description="...", scope="url:GET|/api/v1/courses"

The body follows Canvas LMS: ``{"errors": [{"message": "..."}]}``. Neither ever contains
the token.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from scopeguard._types import Receive, Scope, Send

__all__ = ["DenialResponse", "send_denial", "validate_realm"]

# RFC 6750 section 3 allows %x20-21 / %x23-5B / %x5D-7E in error_description and realm.
_UNSAFE_IN_QUOTES: Final = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


@dataclass(frozen=True)
class DenialResponse:
    """Everything a denial response needs."""

    status: int
    message: str
    error: str | None = None
    scope: str | None = None
    allowed_methods: tuple[str, ...] = ()


def validate_realm(realm: str) -> str:
    """Return ``realm`` if it can be sent in a quoted header value, else raise ``ValueError``."""
    if not isinstance(realm, str) or not realm or _UNSAFE_IN_QUOTES.search(realm):
        raise ValueError(f"realm {realm!r} must be non-empty printable ASCII without '\"' or '\\'")
    return realm


def challenge(realm: str, denial: DenialResponse) -> bytes:
    """Return the ``WWW-Authenticate`` value for ``denial``."""
    parts = [f'Bearer realm="{realm}"']
    if denial.error is not None:
        parts.append(f'error="{denial.error}"')
        description = _UNSAFE_IN_QUOTES.sub("?", denial.message)
        parts.append(f'error_description="{description}"')
    if denial.scope is not None and _UNSAFE_IN_QUOTES.search(denial.scope) is None:
        parts.append(f'scope="{denial.scope}"')
    return ", ".join(parts).encode("ascii")


def response_headers(realm: str, denial: DenialResponse, body: bytes) -> list[tuple[bytes, bytes]]:
    """Return the headers of a denial response with ``body``."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"cache-control", b"no-store"),
    ]
    if denial.status in (401, 403) or denial.error is not None:
        headers.append((b"www-authenticate", challenge(realm, denial)))
    if denial.allowed_methods:
        headers.append((b"allow", ", ".join(denial.allowed_methods).encode("ascii")))
    return headers


def response_body(denial: DenialResponse) -> bytes:
    """Return the JSON body of a denial, in Canvas's ``errors`` shape."""
    return json.dumps({"errors": [{"message": denial.message}]}).encode("utf-8")


async def send_denial(
    realm: str, denial: DenialResponse, scope: Scope, receive: Receive, send: Send
) -> None:
    """Send ``denial`` on an HTTP or websocket connection that has not started a response.

    A websocket is refused before it is accepted: with an HTTP response when the server
    supports the ``websocket.http.response`` extension, otherwise by closing it with code
    1008 (policy violation), which servers turn into an HTTP 403.
    """
    body = response_body(denial)
    headers = response_headers(realm, denial, body)

    if scope["type"] == "websocket":
        extensions = scope.get("extensions") or {}
        if "websocket.http.response" in extensions:
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": denial.status,
                    "headers": headers,
                }
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            # A close reason is limited to 123 bytes of UTF-8.
            reason = denial.message.encode("utf-8")[:123].decode("utf-8", "ignore")
            await send({"type": "websocket.close", "code": 1008, "reason": reason})
        return

    await send({"type": "http.response.start", "status": denial.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

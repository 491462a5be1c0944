"""Helpers for the HTTP requests that token sources send: URL checks and bounded reads."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from scopeguard.errors import ConfigurationError

__all__ = ["ResponseTooLarge", "read_limited", "validate_url"]


class ResponseTooLarge(Exception):
    """A response body longer than the limit its reader set."""


def validate_url(url: object) -> str:
    """Return ``url`` when it is an absolute http or https URL, or raise
    :class:`ConfigurationError`."""
    if not isinstance(url, str):
        raise ConfigurationError(f"url must be a string, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"url must be an http or https URL, got {url!r}")
    return url


async def read_limited(response: httpx.Response, limit: int) -> bytes:
    """Return the body of a streamed ``response``, or raise :class:`ResponseTooLarge` as
    soon as it passes ``limit`` bytes."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise ResponseTooLarge(f"the response is larger than {limit} bytes")
    return bytes(body)

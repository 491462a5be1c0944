"""Opaque tokens checked with an OAuth 2.0 token introspection endpoint (RFC 7662).

:class:`IntrospectionVerifier` posts each token it has not seen to the authorization
server's introspection endpoint, authenticated as a client, and reads the response's
``active``, ``scope``, ``exp``, ``sub`` and ``client_id`` members. Results are cached by
a digest of the token: active ones until the token's ``exp`` or ``cache_ttl``, inactive
ones for ``inactive_ttl``. Any failure of the endpoint counts as inactive, so the request
gets 401, and is logged as a warning at most once per ``warning_interval``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, Literal
from urllib.parse import quote

import httpx

from scopeguard._cache import VerifiedTokenCache, token_digest, validate_cache_options
from scopeguard._http import ResponseTooLarge, read_limited, validate_url
from scopeguard.errors import ConfigurationError, InvalidToken, UnknownToken
from scopeguard.tokens import (
    DEFAULT_SCOPE_CLAIMS,
    Secret,
    TokenInfo,
    is_number,
    scopes_from_claims,
    validate_audience,
    validate_names,
    validate_seconds,
)

__all__ = ["MAX_INTROSPECTION_BYTES", "IntrospectionVerifier"]

logger = logging.getLogger("scopeguard.introspection")

#: Largest introspection response read, in bytes.
MAX_INTROSPECTION_BYTES: Final = 256 * 1024

_INACTIVE: Final = "the token is not active"
_UNCHECKED: Final = "the token could not be checked"

ClientAuth = Literal["basic", "post"]


class IntrospectionVerifier:
    """Verifies opaque tokens with an RFC 7662 token introspection endpoint.

    :param url: the introspection endpoint. Use ``https`` outside tests. Redirects are not
        followed.
    :param client_id: the client identifier scopeguard authenticates with.
    :param client_secret: its secret, a string or a :class:`~scopeguard.Secret`.
    :param client_auth: ``"basic"`` (default) sends the credentials in an HTTP Basic
        ``Authorization`` header (``client_secret_basic``); ``"post"`` sends them as form
        fields (``client_secret_post``).
    :param token_type_hint: sent as ``token_type_hint`` (default ``"access_token"``);
        ``None`` leaves it out.
    :param audience: the accepted ``aud`` value or values. When set, an active token's
        ``aud`` must contain one of them, and a response without ``aud`` is rejected. When
        it is ``None``, a response with ``aud`` is rejected, as :class:`JWTVerifier` does.
    :param issuer: when set, an active token's ``iss`` must equal it.
    :param scope_claims: members read for scopes, the first one present being used; by
        default ``scope``, which RFC 7662 defines as a space-separated string.
    :param timeout: seconds one introspection request may take in all (default 5).
    :param cache_size: results remembered, keyed by digest (default 1024). ``0`` turns the
        cache off.
    :param cache_ttl: seconds an active result is remembered at most (default 60). It
        never outlives the token's ``exp``. A token revoked at the server stays accepted
        here until its entry ends.
    :param inactive_ttl: seconds an inactive result is remembered (default 10). With ``0``,
        every request with the token is introspected.
    :param warning_interval: shortest time in seconds between two warnings about a failing
        endpoint (default 60). Others are logged at DEBUG level.
    :param http_client: an ``httpx.AsyncClient`` to post with, for proxies or custom TLS.
        By default each request opens its own client.

    Client credentials sent with ``"basic"`` are form-encoded before the Basic encoding,
    as RFC 6749 section 2.3.1 requires, so a server decodes ``%3A`` back to ``:``.
    """

    def __init__(
        self,
        *,
        url: str,
        client_id: str,
        client_secret: str | Secret,
        client_auth: ClientAuth = "basic",
        token_type_hint: str | None = "access_token",  # noqa: S107 - a type name, no secret
        audience: str | Sequence[str] | None = None,
        issuer: str | None = None,
        scope_claims: Sequence[str] = DEFAULT_SCOPE_CLAIMS,
        timeout: float = 5,
        cache_size: int = 1024,
        cache_ttl: float = 60,
        inactive_ttl: float = 10,
        warning_interval: float = 60,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = validate_url(url)

        if not isinstance(client_id, str) or not client_id:
            raise ConfigurationError("client_id must be a non-empty string")
        secret = client_secret.reveal() if isinstance(client_secret, Secret) else client_secret
        if not isinstance(secret, str) or not secret:
            raise ConfigurationError("client_secret must be a non-empty string or Secret")
        if client_auth not in ("basic", "post"):
            raise ConfigurationError(f"client_auth must be 'basic' or 'post', got {client_auth!r}")
        if token_type_hint is not None and not isinstance(token_type_hint, str):
            raise ConfigurationError("token_type_hint must be a string or None")

        self._client_id = client_id
        self._client_secret = Secret(secret)
        self._client_auth: ClientAuth = client_auth
        self._token_type_hint = token_type_hint
        self._audience = validate_audience(audience)
        if issuer is not None and not isinstance(issuer, str):
            raise ConfigurationError(f"issuer must be a string, got {type(issuer).__name__}")
        self._issuer = issuer
        self._scope_claims = validate_names("scope_claims", scope_claims, allow_empty=False)

        self._timeout = validate_seconds("timeout", timeout, allow_zero=False)
        self._cache = VerifiedTokenCache(*validate_cache_options(cache_size, cache_ttl))
        self._inactive_ttl = validate_seconds("inactive_ttl", inactive_ttl)
        self._inactive = VerifiedTokenCache(self._cache.size, self._inactive_ttl or 1.0)
        self._warning_interval = validate_seconds("warning_interval", warning_interval)
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise ConfigurationError(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
            )
        self._client = http_client
        self._pending: dict[bytes, asyncio.Task[TokenInfo | InvalidToken]] = {}
        self._warned_at: float | None = None

    def __repr__(self) -> str:
        return f"IntrospectionVerifier({self._url!r}, client_id={self._client_id!r})"

    async def verify(self, token: str) -> TokenInfo:
        """Return the info of an active ``token``, or raise :class:`InvalidToken`.

        An inactive or unchecked token raises :class:`UnknownToken`, so a later source may
        still accept it. An active token that fails a check here (expired, another issuer
        or audience) raises a final :class:`InvalidToken`.
        """
        digest = token_digest(token)
        cached = self._cache.get(digest)
        if cached is not None:
            return cached[0]
        if self._inactive_ttl:
            rejected = self._inactive.get(digest)
            if rejected is not None:
                # The same exception each time, so repeated requests see the same reason.
                raise rejected[1]

        task = self._pending.get(digest)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            # Concurrent requests with the same token share one introspection request.
            task = asyncio.get_running_loop().create_task(self._introspect(digest, token))
            self._pending[digest] = task
            task.add_done_callback(lambda _: self._pending.pop(digest, None))
        result = await asyncio.shield(task)
        if isinstance(result, InvalidToken):
            raise result
        return result

    async def _introspect(self, digest: bytes, token: str) -> TokenInfo | InvalidToken:
        """Ask the endpoint about ``token``; return its info, or the exception that rejects
        it. Never raises."""
        try:
            response = await asyncio.wait_for(self._post(token), self._timeout)
        except asyncio.TimeoutError:
            return self._failed(f"timed out after {self._timeout:g} s")
        except _IntrospectionError as exc:
            return self._failed(str(exc))
        except Exception as exc:
            # The result is awaited by every request that sent this token, which must get
            # 401, never 500.
            return self._failed(f"unexpected error: {type(exc).__name__}: {exc}")

        active = response.get("active")
        if active is not True:
            if active is not False:
                return self._failed("the response has no boolean 'active' member")
            return self._rejected(digest, UnknownToken(_INACTIVE, specific=True))
        try:
            info = self._info(response)
        except InvalidToken as exc:
            return self._rejected(digest, exc)
        expires = response.get("exp")
        deadline = float(expires) if is_number(expires) else time.time() + self._cache.ttl
        self._cache.put(digest, info, deadline)
        return info

    def _info(self, response: dict[str, Any]) -> TokenInfo:
        expires = response.get("exp")
        if is_number(expires) and expires <= time.time():
            raise InvalidToken("the token has expired")
        if self._issuer is not None and response.get("iss") != self._issuer:
            raise InvalidToken("the token's issuer is not accepted")
        audience = response.get("aud")
        granted = {audience} if isinstance(audience, str) else set(audience or ())
        if self._audience is None:
            # As JWTVerifier does: a token meant for a named audience is not accepted
            # unless that audience is configured.
            if granted:
                raise InvalidToken("the token's audience is not accepted")
        else:
            accepted = {self._audience} if isinstance(self._audience, str) else self._audience
            if not granted & set(accepted):
                raise InvalidToken("the token's audience is not accepted")
        scopes = scopes_from_claims(response, self._scope_claims)
        return TokenInfo(scopes, MappingProxyType(response))

    def _failed(self, cause: str) -> UnknownToken:
        self._warn(cause)
        return UnknownToken(_UNCHECKED, specific=True)

    def _rejected(self, digest: bytes, exc: InvalidToken) -> InvalidToken:
        if self._inactive_ttl:
            # The wall-clock bound is far away; the TTL ends the entry.
            deadline = time.time() + self._inactive_ttl
            self._inactive.put(digest, _INACTIVE_INFO, deadline, exc)
        return exc

    async def _post(self, token: str) -> dict[str, Any]:
        form = {"token": token}
        if self._token_type_hint is not None:
            form["token_type_hint"] = self._token_type_hint
        headers = {"Accept": "application/json"}
        secret = str(self._client_secret.reveal())
        if self._client_auth == "basic":
            # RFC 6749 section 2.3.1 form-encodes both parts before the Basic encoding.
            pair = f"{quote(self._client_id, safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form.update(client_id=self._client_id, client_secret=secret)
        try:
            if self._client is not None:
                return await _read_response(self._client, self._url, form, headers)
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                return await _read_response(client, self._url, form, headers)
        except httpx.HTTPError as exc:
            raise _IntrospectionError(f"the request failed: {type(exc).__name__}") from exc

    def _warn(self, cause: str) -> None:
        now = time.monotonic()
        log = logger.debug
        if self._warned_at is None or now - self._warned_at >= self._warning_interval:
            self._warned_at = now
            log = logger.warning
        log("introspection at %s failed: %s; the token is treated as inactive", self._url, cause)


class _IntrospectionError(Exception):
    """A failed introspection request, with the cause as its message."""


_INACTIVE_INFO: Final = TokenInfo(frozenset())


async def _read_response(
    client: httpx.AsyncClient,
    url: str,
    form: Mapping[str, str],
    headers: Mapping[str, str],
) -> dict[str, Any]:
    async with client.stream("POST", url, data=dict(form), headers=dict(headers)) as response:
        if response.status_code != 200:
            raise _IntrospectionError(f"the response status is {response.status_code}")
        try:
            body = await read_limited(response, MAX_INTROSPECTION_BYTES)
        except ResponseTooLarge as exc:
            raise _IntrospectionError(str(exc)) from None
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise _IntrospectionError("the response is not JSON") from exc
    if not isinstance(document, dict):
        raise _IntrospectionError("the response is not a JSON object")
    return document

"""JWT verification with keys from a JSON Web Key Set (RFC 7517 section 5).

:class:`JWKSVerifier` reads the public keys an identity provider publishes, from a URL or
a local file, and picks the key for each token by its ``kid`` header. Fetches use httpx's
async client, so they wait on the event loop without blocking it, and they are rationed:

* Keys are used for ``keys_ttl`` seconds, then fetched again in the background while the
  old keys stay in use.
* A token whose ``kid`` is not in the key set triggers a fetch, at most one per
  ``refetch_cooldown`` seconds. Concurrent requests wait on the same fetch, and a ``kid``
  that is still unknown afterwards is rejected without a fetch for ``unknown_kid_ttl``
  seconds.
* A failed fetch (an error status, a timeout, a body that is not a key set, a set without
  a usable key) keeps the cached keys and logs a warning at most once per
  ``warning_interval`` seconds. Tokens that no cached key verifies get 401.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import httpx
import jwt

from scopeguard._cache import (
    VerifiedTokenCache,
    cache_deadline,
    token_digest,
    validate_cache_options,
)
from scopeguard._http import ResponseTooLarge, read_limited, validate_url
from scopeguard.errors import ConfigurationError, UnknownToken
from scopeguard.tokens import (
    DEFAULT_SCOPE_CLAIMS,
    PRIVATE_KEY_TYPES,
    TokenInfo,
    check_lifetime,
    decode_claims,
    reject_encrypted,
    scopes_from_claims,
    validate_algorithms,
    validate_audience,
    validate_names,
    validate_seconds,
)

__all__ = ["MAX_JWKS_BYTES", "JWKSVerifier"]

logger = logging.getLogger("scopeguard.jwks")

#: Largest key set document read, in bytes. Identity providers' key sets are usually a few
#: kilobytes.
MAX_JWKS_BYTES: Final = 1024 * 1024

#: Most unknown key ids remembered at once.
_MAX_UNKNOWN_KIDS: Final = 1024

_RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHMS: Final = {
    "P-256": frozenset({"ES256"}),
    "P-384": frozenset({"ES384"}),
    "P-521": frozenset({"ES512", "ES521"}),
    "secp256k1": frozenset({"ES256K"}),
}
_OKP_ALGORITHMS: Final = frozenset({"EdDSA"})
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, eq=False)
class _Key:
    """One usable key of the set: its id, the algorithms it may verify, and the key."""

    kid: str | None
    algorithms: frozenset[str]
    key: Any
    #: The JWK as published, to tell a republished key from a changed one.
    source: str


class JWKSVerifier:
    """Verifies JWTs signed with keys from a JSON Web Key Set.

    Give exactly one of ``url``, ``path`` and ``keys``.

    :param url: the URL of the key set, such as an identity provider's ``jwks_uri``. Use
        ``https`` outside tests. Redirects are not followed.
    :param path: a local key set file, read once at construction.
    :param keys: a key set as a mapping with a ``keys`` list, for tests and fixed keys.
    :param algorithms: the accepted algorithms, such as ``["RS256"]``. Required. A key is
        used only with the algorithms of its own type (RSA, EC curve, OKP) and, when it
        names one, with its ``alg``. HMAC algorithms are rejected, since a key set
        publishes public keys.
    :param audience: the accepted ``aud`` value or values. When it is ``None``, a token
        with an ``aud`` claim is rejected, as PyJWT does.
    :param issuer: the accepted ``iss`` value. Checked only when given.
    :param leeway: seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat``. Default
        60, because the issuer's clock is another machine's.
    :param max_lifetime: longest accepted time in seconds from ``iat`` to ``exp``. When
        set, tokens without both claims are rejected.
    :param required_claims: claims a token must carry; default ``("exp",)``.
    :param scope_claims: claim names read for scopes, the first one present being used.
    :param keys_ttl: seconds fetched keys are used before they are fetched again (default
        300). The old keys stay in use until the new ones arrive.
    :param refetch_cooldown: shortest time in seconds between two fetches caused by an
        unknown ``kid`` or a failed fetch (default 30).
    :param unknown_kid_ttl: seconds a ``kid`` that a fresh fetch did not find is rejected
        without another fetch (default 60).
    :param fetch_timeout: seconds a fetch may take in all (default 5).
    :param warning_interval: shortest time in seconds between two warnings about failed
        fetches (default 60). Others are logged at DEBUG level.
    :param prefetch: when true, :meth:`start` (which the middleware awaits at lifespan
        startup) fetches the keys, so the first request does not wait for them.
    :param cache_size: verified tokens remembered, keyed by digest (default 1024). An
        entry ends when its signing key leaves the key set. ``0`` turns it off.
    :param cache_ttl: seconds a verified token is remembered at most (default 300).
    :param http_client: an ``httpx.AsyncClient`` to fetch with, for proxies or custom TLS.
        By default each fetch opens its own client.

    Raises :class:`ConfigurationError` for an invalid option, an unreadable key set file,
    or a key set without a key usable with ``algorithms``.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        path: str | Path | None = None,
        keys: Mapping[str, Any] | None = None,
        algorithms: Sequence[str],
        audience: str | Sequence[str] | None = None,
        issuer: str | None = None,
        leeway: float = 60,
        max_lifetime: float | None = None,
        required_claims: Sequence[str] = ("exp",),
        scope_claims: Sequence[str] = DEFAULT_SCOPE_CLAIMS,
        keys_ttl: float = 300,
        refetch_cooldown: float = 30,
        unknown_kid_ttl: float = 60,
        fetch_timeout: float = 5,
        warning_interval: float = 60,
        prefetch: bool = False,
        cache_size: int = 1024,
        cache_ttl: float = 300,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if sum(source is not None for source in (url, path, keys)) != 1:
            raise ConfigurationError("give exactly one of url, path and keys")
        self._algorithms = validate_algorithms(algorithms)
        hmac = [name for name in self._algorithms if name.startswith("HS")]
        if hmac:
            raise ConfigurationError(
                f"algorithms {hmac} use a shared secret, which a key set does not publish; "
                "use JWTVerifier with the secret instead"
            )
        self._audience = validate_audience(audience)
        if issuer is not None and not isinstance(issuer, str):
            raise ConfigurationError(f"issuer must be a string, got {type(issuer).__name__}")
        self._issuer = issuer
        self._leeway = validate_seconds("leeway", leeway)
        self._max_lifetime = (
            None
            if max_lifetime is None
            else validate_seconds("max_lifetime", max_lifetime, allow_zero=False)
        )
        self._required_claims = validate_names("required_claims", required_claims, allow_empty=True)
        self._scope_claims = validate_names("scope_claims", scope_claims, allow_empty=False)
        self._keys_ttl = validate_seconds("keys_ttl", keys_ttl, allow_zero=False)
        self._cooldown = validate_seconds("refetch_cooldown", refetch_cooldown)
        self._unknown_kid_ttl = validate_seconds("unknown_kid_ttl", unknown_kid_ttl)
        self._timeout = validate_seconds("fetch_timeout", fetch_timeout, allow_zero=False)
        self._warning_interval = validate_seconds("warning_interval", warning_interval)
        if not isinstance(prefetch, bool):
            raise ConfigurationError(f"prefetch must be True or False, got {prefetch!r}")
        self._prefetch = prefetch
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise ConfigurationError(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
            )
        self._client = http_client
        self._cache = VerifiedTokenCache(*validate_cache_options(cache_size, cache_ttl))

        self._keys: dict[str | None, list[_Key]] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._fetch_task: asyncio.Task[None] | None = None
        self._unknown_kids: OrderedDict[str, float] = OrderedDict()
        self._warned_at: float | None = None
        self._fetch_failed = False
        self._url = validate_url(url) if url is not None else None
        if path is not None or keys is not None:
            document = _read_file(path) if path is not None else keys
            label = str(path) if path is not None else "keys"
            found, problems = self._parse(document)
            if not found:
                raise ConfigurationError(f"{label}: {'; '.join(problems)}")
            for problem in problems:
                logger.warning("key set %s: %s", label, problem)
            self._install(found)

    def __repr__(self) -> str:
        source = self._url if self._url is not None else "a fixed key set"
        return f"JWKSVerifier({source!r}, algorithms={self._algorithms!r})"

    @property
    def key_ids(self) -> list[str | None]:
        """The ``kid`` of each key in use, ``None`` for keys without one."""
        return [key.kid for keys in self._keys.values() for key in keys]

    async def start(self) -> None:
        """Fetch the keys when ``prefetch`` is set. A failure is logged, never raised."""
        if self._prefetch and self._url is not None:
            await self._refresh()

    async def verify(self, token: str) -> TokenInfo:
        """Verify ``token`` and return its scopes and claims, or raise :class:`InvalidToken`."""
        digest = token_digest(token)
        cached = self._cache.get(digest)
        if cached is not None:
            info, key = cached
            if self._in_use(key):
                if self._url is not None:
                    # Old keys are replaced in the background even when every token is
                    # cached, so that a removed key's tokens stop working.
                    self._refresh_in_background_when_due(time.monotonic())
                return info
            self._cache.discard(digest)

        reject_encrypted(token)
        header = _unverified_header(token)
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise UnknownToken("the token's signing algorithm is not accepted", specific=True)
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise UnknownToken("the token's key id (kid) is not a string", specific=True)

        key = await self._key_for(kid, algorithm)
        claims = decode_claims(
            token,
            key.key,
            [algorithm],
            audience=self._audience,
            issuer=self._issuer,
            leeway=self._leeway,
            required_claims=self._required_claims,
        )
        check_lifetime(claims, self._max_lifetime)
        # The claims are shared by every request that sends this token, so they are read-only.
        info = TokenInfo(
            scopes=scopes_from_claims(claims, self._scope_claims),
            claims=MappingProxyType(claims),
        )
        expires_at = cache_deadline(claims, self._leeway)
        if expires_at is not None:
            self._cache.put(digest, info, expires_at, key)
        return info

    # --- Keys ---------------------------------------------------------------------------

    async def _key_for(self, kid: str | None, algorithm: str) -> _Key:
        fetched = False
        if self._url is not None:
            fetched = await self._refresh_when_due()
        key = self._lookup(kid, algorithm)
        if key is not None:
            return key
        if kid is None:
            raise UnknownToken(
                "the token has no key id (kid), and not exactly one key suits its algorithm",
                specific=True,
            )
        if kid in self._keys:
            raise UnknownToken("the token's signing algorithm does not suit its key", specific=True)
        if self._url is None:
            raise self._unknown_kid()

        now = time.monotonic()
        until = self._unknown_kids.get(kid)
        if until is not None and now < until:
            raise self._unknown_kid()
        if not fetched and (self._fetch_running() or self._cooled_down(now)):
            await self._refresh()
        key = self._lookup(kid, algorithm)
        if key is not None:
            return key
        if kid in self._keys:
            raise UnknownToken("the token's signing algorithm does not suit its key", specific=True)
        if self._fetched_at is not None and self._fetched_at >= now:
            # Only a key set fetched after this request arrived proves the kid unknown.
            self._remember_unknown(kid, time.monotonic())
        raise self._unknown_kid()

    def _unknown_kid(self) -> UnknownToken:
        if self._fetch_failed:
            return UnknownToken(
                "the token's key id (kid) is not in the cached key set, and fetching the "
                "key set failed",
                specific=True,
            )
        return UnknownToken("the token's key id (kid) is not in the key set", specific=True)

    def _lookup(self, kid: str | None, algorithm: str) -> _Key | None:
        if kid is not None:
            candidates = self._keys.get(kid, [])
        else:
            candidates = [key for keys in self._keys.values() for key in keys]
        suitable = [key for key in candidates if algorithm in key.algorithms]
        return suitable[0] if len(suitable) == 1 else None

    def _in_use(self, key: _Key) -> bool:
        return any(candidate is key for candidate in self._keys.get(key.kid, ()))

    def _remember_unknown(self, kid: str, now: float) -> None:
        if self._unknown_kid_ttl == 0:
            return
        self._unknown_kids[kid] = now + self._unknown_kid_ttl
        self._unknown_kids.move_to_end(kid)
        while len(self._unknown_kids) > _MAX_UNKNOWN_KIDS:
            self._unknown_kids.popitem(last=False)

    def _install(self, found: list[_Key]) -> None:
        """Use the keys ``found``, keeping the objects of keys republished unchanged."""
        previous = {(key.kid, key.source): key for keys in self._keys.values() for key in keys}
        keys: dict[str | None, list[_Key]] = {}
        for key in found:
            reused = previous.get((key.kid, key.source), key)
            keys.setdefault(reused.kid, []).append(reused)
        self._keys = keys
        self._unknown_kids.clear()

    def _parse(self, document: object) -> tuple[list[_Key], list[str]]:
        """Return the usable keys of a key set document and the reasons others were skipped."""
        if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
            return [], ["not a key set: expected a JSON object with a 'keys' list"]
        found: list[_Key] = []
        problems: list[str] = []
        for index, entry in enumerate(document["keys"]):
            key, problem = self._parse_key(entry)
            if key is not None:
                found.append(key)
            else:
                problems.append(f"key {index + 1} skipped: {problem}")
        if not found and not problems:
            problems.append("the key set has no keys")
        elif not found:
            problems.append(f"no key suits the algorithms {self._algorithms}")
        return found, problems

    def _parse_key(self, entry: object) -> tuple[_Key | None, str]:
        if not isinstance(entry, Mapping):
            return None, "not a JSON object"
        kid = entry.get("kid")
        if kid is not None and not isinstance(kid, str):
            return None, "its 'kid' is not a string"
        label = f"kid {kid!r}" if kid is not None else "a key without kid"

        kty = entry.get("kty")
        if kty == "oct":
            return None, f"{label} is a symmetric key, which a public key set must not carry"
        use = entry.get("use")
        if use is not None and use != "sig":
            return None, f"{label} is for use {use!r}, not 'sig'"
        operations = entry.get("key_ops")
        if operations is not None and (
            not isinstance(operations, list) or "verify" not in operations
        ):
            return None, f"{label} does not allow 'verify' in its key_ops"

        algorithms = _algorithms_of(entry) & frozenset(self._algorithms)
        if not algorithms:
            return None, f"{label} suits none of the algorithms {self._algorithms}"
        try:
            parsed = jwt.PyJWK(dict(entry), algorithm=min(algorithms))
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            return None, f"{label} cannot be read: {exc}"

        source = json.dumps(dict(entry), sort_keys=True, default=str)
        key = parsed.key
        if isinstance(key, PRIVATE_KEY_TYPES):
            # A set that leaks a private key still verifies with its public part.
            key = key.public_key()
        return _Key(kid, algorithms, key, source), ""

    # --- Fetching -----------------------------------------------------------------------

    def _cooled_down(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self._cooldown

    def _fetch_running(self) -> bool:
        task = self._fetch_task
        if task is None or task.done():
            return False
        # A task of another event loop (a test that called asyncio.run again) never ends here.
        return task.get_loop() is asyncio.get_running_loop()

    async def _refresh_when_due(self) -> bool:
        """Fetch keys that are missing, and start a background fetch of keys that are old.

        Returns whether this call waited for a fetch.
        """
        now = time.monotonic()
        if not self._keys:
            if self._fetch_running() or self._cooled_down(now):
                await self._refresh()
                return True
            return False
        self._refresh_in_background_when_due(now)
        return False

    def _refresh_in_background_when_due(self, now: float) -> None:
        if self._fetched_at is not None and now - self._fetched_at < self._keys_ttl:
            return
        if not self._fetch_running() and self._cooled_down(now):
            self._start_fetch()

    async def _refresh(self) -> None:
        """Fetch the key set, or wait for the fetch already running."""
        task = self._fetch_task if self._fetch_running() else self._start_fetch()
        assert task is not None
        # Shielded, so that a request cancelled while it waits does not cancel the fetch
        # that other requests wait for.
        await asyncio.shield(task)

    def _start_fetch(self) -> asyncio.Task[None]:
        self._attempted_at = time.monotonic()
        self._fetch_task = asyncio.get_running_loop().create_task(self._fetch())
        return self._fetch_task

    async def _fetch(self) -> None:
        """Fetch and install the key set. Every failure is logged and leaves the keys as
        they were."""
        assert self._url is not None
        try:
            document = await asyncio.wait_for(self._download(), self._timeout)
        except asyncio.TimeoutError:
            self._warn(f"timed out after {self._timeout:g} s")
            return
        except _FetchError as exc:
            self._warn(str(exc))
            return
        except Exception as exc:
            # A fetch runs for many waiting requests, which must get 401, never 500.
            self._warn(f"unexpected error: {type(exc).__name__}: {exc}")
            return
        found, problems = self._parse(document)
        if not found:
            self._warn("; ".join(problems))
            return
        for problem in problems:
            self._warn(problem)
        self._install(found)
        self._fetched_at = time.monotonic()
        self._fetch_failed = False
        logger.info("fetched the key set from %s; usable keys: %d", self._url, len(found))

    async def _download(self) -> object:
        assert self._url is not None
        headers = {"Accept": "application/json"}
        try:
            if self._client is not None:
                return await _read_document(self._client, self._url, headers)
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                return await _read_document(client, self._url, headers)
        except httpx.HTTPError as exc:
            raise _FetchError(f"the request failed: {type(exc).__name__}: {exc}") from exc

    def _warn(self, cause: str) -> None:
        self._fetch_failed = True
        now = time.monotonic()
        still = "the cached keys stay in use" if self._keys else "no key is available yet"
        if self._warned_at is None or now - self._warned_at >= self._warning_interval:
            self._warned_at = now
            logger.warning("fetching the key set from %s failed: %s; %s", self._url, cause, still)
        else:
            logger.debug("fetching the key set from %s failed: %s; %s", self._url, cause, still)


class _FetchError(Exception):
    """A failed fetch of the key set, with the cause as its message."""


async def _read_document(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> object:
    async with client.stream("GET", url, headers=headers) as response:
        if response.status_code != 200:
            raise _FetchError(f"the response status is {response.status_code}")
        try:
            body = await read_limited(response, MAX_JWKS_BYTES)
        except ResponseTooLarge as exc:
            raise _FetchError(str(exc)) from None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise _FetchError(f"the response is not JSON: {exc}") from exc


def _unverified_header(token: str) -> dict[str, Any]:
    """Return the JOSE header of ``token``, read only to choose its key; PyJWT checks the
    whole token afterwards. Raises :class:`UnknownToken` when it cannot be read."""
    # PyJWT's get_unverified_header decodes and checks every part of the token, which for
    # RS256 took as long as the signature check itself. Only the header is needed here.
    segment, dot, _ = token.partition(".")
    if not dot or _BASE64URL.fullmatch(segment) is None:
        raise UnknownToken("the token is not a well-formed JWT")
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error):
        raise UnknownToken("the token is not a well-formed JWT") from None
    if not isinstance(header, dict):
        raise UnknownToken("the token is not a well-formed JWT")
    return header


def _algorithms_of(entry: Mapping[str, Any]) -> frozenset[str]:
    """Return the algorithms a JWK may verify: its ``alg``, or those of its key type."""
    named = entry.get("alg")
    kty = entry.get("kty")
    if kty == "RSA":
        by_type = _RSA_ALGORITHMS
    elif kty == "EC":
        by_type = _EC_ALGORITHMS.get(str(entry.get("crv")), frozenset())
    elif kty == "OKP":
        by_type = _OKP_ALGORITHMS
    else:
        return frozenset()
    if named is None:
        return by_type
    return frozenset({named}) & by_type if isinstance(named, str) else frozenset()


def _read_file(path: str | Path) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read the key set file {str(path)!r}: {exc}") from exc
    except ValueError as exc:
        raise ConfigurationError(f"the key set file {str(path)!r} is not JSON: {exc}") from exc

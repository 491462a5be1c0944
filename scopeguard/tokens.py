"""Token verification: the verifier interface, JWT verification and scope claims.

A verifier turns the bearer token string into a :class:`TokenInfo` (its claims and its
granted scopes) or raises :class:`~scopeguard.errors.InvalidToken`. The middleware
depends only on the :class:`TokenVerifier` interface, so JWKS or introspection verifiers
can be added beside :class:`JWTVerifier` without touching it.

Scopes are read as RFC 9068 section 2.2.3 (JWT Profile for OAuth 2.0 Access Tokens) and
RFC 8693 section 4.2 (the ``scope`` claim) describe them: one space-separated string.
The ``scp`` and ``scopes`` claims that some issuers use may also be a list of strings.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Protocol, TypeGuard, runtime_checkable

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import get_default_algorithms

from scopeguard._cache import (
    VerifiedTokenCache,
    cache_deadline,
    token_digest,
    validate_cache_options,
)
from scopeguard.errors import ConfigurationError, InvalidToken, UnknownToken

__all__ = [
    "DEFAULT_SCOPE_CLAIMS",
    "JWTVerifier",
    "Secret",
    "TokenInfo",
    "TokenVerifier",
    "mint_token",
    "scopes_from_claims",
]


#: Claims read for scopes, in order: the first one present is used.
DEFAULT_SCOPE_CLAIMS: tuple[str, ...] = ("scope", "scp", "scopes")

_HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PRIVATE_KEY_TYPES = (RSAPrivateKey, EllipticCurvePrivateKey, Ed25519PrivateKey, Ed448PrivateKey)


class Secret:
    """A secret string or byte string whose ``repr`` and ``str`` never show the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str | bytes) -> None:
        self._value = value

    def reveal(self) -> str | bytes:
        """Return the secret value. Do not log or print it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


@dataclass(frozen=True)
class TokenInfo:
    """The scopes and claims of a verified token.

    ``scopes`` is a frozenset, so a route's scope is checked by exact membership in
    constant time, whatever the number of scopes.
    """

    scopes: frozenset[str]
    claims: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def sorted_scopes(self) -> list[str]:
        """The scopes in sorted order, computed once per token."""
        return sorted(self.scopes)

    @property
    def subject(self) -> str | None:
        """The ``sub`` claim, when it is a string."""
        subject = self.claims.get("sub")
        return subject if isinstance(subject, str) else None

    @property
    def client_id(self) -> str | None:
        """The ``client_id`` claim (RFC 9068 and RFC 7662), when it is a string."""
        client_id = self.claims.get("client_id")
        return client_id if isinstance(client_id, str) else None

    @property
    def expires_at(self) -> float | None:
        """The ``exp`` claim in seconds since the epoch, when it is a number."""
        expires = self.claims.get("exp")
        return float(expires) if is_number(expires) else None


@runtime_checkable
class TokenVerifier(Protocol):
    """Verifies a bearer token and returns what it grants.

    ``verify`` raises :class:`~scopeguard.errors.InvalidToken` with a short reason for any
    token it does not accept. The reason is sent to the client, so it must not contain
    the token or a secret.
    """

    async def verify(self, token: str) -> TokenInfo: ...


def scopes_from_claims(
    claims: Mapping[str, Any], claim_names: Sequence[str] = DEFAULT_SCOPE_CLAIMS
) -> frozenset[str]:
    """Return the scopes granted by ``claims``, read from the first of ``claim_names`` present.

    The claim may be a space-separated string or a list of strings. Any other value, such
    as a number or a list with a non-string member, raises :class:`InvalidToken`. A token
    with none of the claims grants no scope.
    """
    for name in claim_names:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, str):
            return frozenset(scope for scope in value.split(" ") if scope)
        if isinstance(value, list) and all(isinstance(scope, str) for scope in value):
            return frozenset(value)
        raise InvalidToken(
            f"the {name!r} claim must be a space-separated string or a list of strings"
        )
    return frozenset()


class JWTVerifier:
    """Verifies JSON Web Tokens with PyJWT.

    :param key: the HMAC secret (``str``, ``bytes`` or :class:`Secret`), a PEM-encoded
        public key, or a key object that PyJWT accepts (a ``cryptography`` public key or a
        ``jwt.PyJWK``). A private key is accepted too, and only its public key is used.
    :param algorithms: the algorithms accepted, for example ``["RS256"]``. Required.

        .. warning:: The list is never taken from the token, ``none`` is rejected, and HMAC
           and public-key algorithms cannot be mixed: with one key for both, a token signed
           with HMAC using the public key as its secret would verify.
    :param audience: the accepted ``aud`` value or values. When it is ``None``, a token that
        carries an ``aud`` claim is rejected, as PyJWT does.

        .. warning:: Leaving it unset accepts tokens issued to no audience. Set it whenever
           the issuer serves more than one API.
    :param issuer: the accepted ``iss`` value. Checked only when given.
    :param leeway: seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat``.

        .. warning:: Leeway extends the life of every token. Keep it to a few seconds.
    :param required_claims: claims a token must carry. ``exp`` is required by default, so a
        token without an expiry is rejected.
    :param scope_claims: claim names read for scopes, the first one present being used.
    :param max_lifetime: longest accepted time in seconds from ``iat`` to ``exp``. When set,
        tokens without both claims are rejected. Default: no limit.
    :param cache_size: maximum number of verified tokens remembered, so a token sent again
        skips signature verification. ``0`` turns the cache off. The cache keeps a SHA-256
        digest of each token, never the token itself.
    :param cache_ttl: seconds a verified token is remembered at most (default 300). An entry
        never outlives the token's ``exp`` either.

    Raises :class:`ConfigurationError` at construction for a missing or unknown algorithm,
    a key that does not suit an algorithm, an HMAC secret shorter than the algorithm's
    hash, or a negative leeway or cache size.
    """

    def __init__(
        self,
        *,
        key: Any,
        algorithms: Sequence[str],
        audience: str | Sequence[str] | None = None,
        issuer: str | None = None,
        leeway: float = 0,
        required_claims: Sequence[str] = ("exp",),
        scope_claims: Sequence[str] = DEFAULT_SCOPE_CLAIMS,
        max_lifetime: float | None = None,
        cache_size: int = 1024,
        cache_ttl: float = 300,
    ) -> None:
        self._algorithms = validate_algorithms(algorithms)
        self._key = _prepare_key(key, self._algorithms)
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
        self._cache = VerifiedTokenCache(*validate_cache_options(cache_size, cache_ttl))

    def __repr__(self) -> str:
        return f"JWTVerifier(algorithms={self._algorithms!r}, audience={self._audience!r})"

    async def verify(self, token: str) -> TokenInfo:
        """Verify ``token`` and return its scopes and claims, or raise :class:`InvalidToken`."""
        digest = token_digest(token)
        cached = self._cache.get(digest)
        if cached is not None:
            return cached[0]

        claims = self._decode(token)
        # The claims are shared by every request that sends this token, so they are read-only.
        info = TokenInfo(
            scopes=scopes_from_claims(claims, self._scope_claims),
            claims=MappingProxyType(claims),
        )
        expires_at = cache_deadline(claims, self._leeway)
        if expires_at is not None:
            self._cache.put(digest, info, expires_at)
        return info

    def _decode(self, token: str) -> dict[str, Any]:
        reject_encrypted(token)
        claims = decode_claims(
            token,
            self._key,
            self._algorithms,
            audience=self._audience,
            issuer=self._issuer,
            leeway=self._leeway,
            required_claims=self._required_claims,
        )
        check_lifetime(claims, self._max_lifetime)
        return claims


def reject_encrypted(token: str) -> None:
    """Raise :class:`InvalidToken` for an encrypted JWT, whose claims cannot be read."""
    if token.count(".") == 4:
        # Five dot-separated parts make an encrypted JWT (JWE compact form), whose claims are
        # encrypted. PyJWT only signs and verifies, so it is rejected by name here.
        raise UnknownToken(
            "the token is an encrypted JWT (JWE), which is not accepted", specific=True
        )


def decode_claims(
    token: str,
    key: Any,
    algorithms: list[str],
    *,
    audience: str | list[str] | None,
    issuer: str | None,
    leeway: float,
    required_claims: list[str],
) -> dict[str, Any]:
    """Verify ``token`` with PyJWT and return its claims, or raise :class:`InvalidToken`
    with a reason that names the failed check and nothing of the token.

    Failures up to and including the signature check raise :class:`UnknownToken`, since
    another source may own the token. A failed claim check after a valid signature is
    final."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": required_claims},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("the token has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise InvalidToken("the token is not valid yet") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidToken("the token's audience is not accepted") from exc
    except jwt.InvalidIssuerError as exc:
        raise InvalidToken("the token's issuer is not accepted") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"the token has no {exc.claim!r} claim") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise UnknownToken("the token's signing algorithm is not accepted", specific=True) from exc
    except jwt.InvalidSignatureError as exc:
        raise UnknownToken("the token's signature is invalid", specific=True) from exc
    except jwt.DecodeError as exc:
        raise UnknownToken("the token is not a well-formed JWT") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("the token is invalid") from exc
    return claims


def check_lifetime(claims: Mapping[str, Any], max_lifetime: float | None) -> None:
    """Raise :class:`InvalidToken` when ``exp`` minus ``iat`` exceeds ``max_lifetime``."""
    if max_lifetime is None:
        return
    issued, expires = claims.get("iat"), claims.get("exp")
    if not is_number(issued):
        raise InvalidToken("the token has no 'iat' claim, which a maximum lifetime needs")
    if not is_number(expires):
        raise InvalidToken("the token has no 'exp' claim, which a maximum lifetime needs")
    if expires - issued > max_lifetime:
        raise InvalidToken(f"the token's lifetime is longer than {max_lifetime:g} seconds")


def is_number(value: object) -> TypeGuard[float]:
    """Return whether ``value`` is an int or float, a bool excluded."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_seconds(option: str, value: object, *, allow_zero: bool = True) -> float:
    """Return ``value`` as a float, or raise :class:`ConfigurationError` naming ``option``."""
    if not is_number(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigurationError(f"{option} must be a number of seconds {bound}, got {value!r}")
    return float(value)


def validate_audience(audience: str | Sequence[str] | None) -> str | list[str] | None:
    """Return ``audience`` as PyJWT takes it, or raise :class:`ConfigurationError`."""
    if audience is None or isinstance(audience, str):
        return audience
    result = list(audience)
    if not result or not all(isinstance(item, str) for item in result):
        raise ConfigurationError("audience must be a string or a non-empty list of strings")
    return result


def validate_algorithms(algorithms: Sequence[str]) -> list[str]:
    if isinstance(algorithms, str):
        raise ConfigurationError(
            f"algorithms must be a list of names, not the string {algorithms!r}; "
            f"write algorithms=[{algorithms!r}]"
        )
    names = list(algorithms)
    if not names:
        raise ConfigurationError("algorithms must name at least one algorithm, e.g. ['RS256']")

    known = get_default_algorithms()
    for name in names:
        if not isinstance(name, str) or name.lower() == "none":
            raise ConfigurationError(
                f"algorithm {name!r} is not allowed; unsigned tokens are rejected"
            )
        if name not in known:
            usable = sorted(known.keys() - {"none"})
            raise ConfigurationError(f"unknown algorithm {name!r}; use one of {', '.join(usable)}")

    hmac = [name for name in names if name in _HMAC_ALGORITHMS]
    if hmac and len(hmac) != len(names):
        raise ConfigurationError(
            "algorithms mixes HMAC and public-key algorithms, which lets an HMAC token signed "
            "with the public key verify; use one family per verifier"
        )
    return names


def _prepare_key(key: Any, algorithms: list[str]) -> Any:
    """Check that ``key`` suits every algorithm, and return the key PyJWT should receive."""
    if isinstance(key, Secret):
        key = key.reveal()
    if key is None or key in ("", b""):
        raise ConfigurationError("key is missing: pass the HMAC secret or the public key")

    known = get_default_algorithms()
    for name in algorithms:
        algorithm = known[name]
        try:
            prepared = algorithm.prepare_key(key.key if isinstance(key, jwt.PyJWK) else key)
        except (jwt.InvalidKeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"the key does not suit algorithm {name}: {exc}") from exc
        check_length = getattr(algorithm, "check_key_length", None)
        problem = check_length(prepared) if check_length is not None else None
        if problem:
            raise ConfigurationError(f"the key is too short for {name}: {problem}")
        if isinstance(prepared, PRIVATE_KEY_TYPES):
            # PyJWT verifies RS* and PS* signatures with key.verify(), which private keys
            # lack, so a private key is replaced by its public key.
            key = prepared.public_key()
    return key


def validate_names(option: str, names: Sequence[str], *, allow_empty: bool) -> list[str]:
    if isinstance(names, str):
        raise ConfigurationError(f"{option} must be a list of claim names, not a string")
    result = list(names)
    if not result and not allow_empty:
        raise ConfigurationError(f"{option} must name at least one claim")
    if not all(isinstance(name, str) and name for name in result):
        raise ConfigurationError(f"{option} must contain only non-empty strings")
    return result


def mint_token(
    secret: str | bytes | Secret,
    scopes: Sequence[str],
    *,
    subject: str = "dev-user",
    expires_in: int = 3600,
    algorithm: str = "HS256",
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    """Return an HMAC-signed JWT whose ``scope`` claim contains ``scopes`` joined by spaces.

    Raises :class:`ConfigurationError` for an algorithm other than HMAC, or for a secret
    that :class:`JWTVerifier` would reject, such as one shorter than the hash output.

    .. warning:: This is for development and tests. Production tokens come from an
       authorization server.
    """
    if algorithm not in _HMAC_ALGORITHMS:
        raise ConfigurationError(
            f"mint_token signs with HMAC only; use one of {', '.join(sorted(_HMAC_ALGORITHMS))}"
        )
    if isinstance(secret, Secret):
        secret = secret.reveal()
    # Reject what JWTVerifier would reject, such as a secret shorter than the hash.
    _prepare_key(secret, [algorithm])
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "iat": now,
        "exp": now + expires_in,
        "scope": " ".join(scopes),
    }
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm=algorithm)

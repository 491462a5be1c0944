"""Tests of JWKSVerifier against a real key set server under uvicorn on 127.0.0.1.

The server publishes whatever keys a test gives it, counts its hits, and can respond with
an error status, garbage, an empty key set, or slowly. Tokens are signed with RSA, EC and
Ed25519 keys generated once per test session.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from conftest import run_asgi_server
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route as StarletteRoute

from scopeguard import (
    ConfigurationError,
    InvalidToken,
    JWKSVerifier,
    Route,
    ScopeGuardMiddleware,
    TokenInfo,
)

SCOPE = "url:GET|/api/v1/courses/:course_id"
ISSUER = "https://issuer.example.test"
AUDIENCE = "courses-api"

RSA_KEYS = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048) for kid in "ABC"}
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()


def rsa_jwk(kid: str, **extra: Any) -> dict[str, Any]:
    jwk = RSAAlgorithm.to_jwk(RSA_KEYS[kid].public_key(), as_dict=True)
    assert isinstance(jwk, dict)
    return {**jwk, "kid": kid, "use": "sig", **extra}


def ec_jwk(kid: str) -> dict[str, Any]:
    jwk = ECAlgorithm.to_jwk(EC_KEY.public_key(), as_dict=True)
    assert isinstance(jwk, dict)
    return {**jwk, "kid": kid}


def ed_jwk(kid: str) -> dict[str, Any]:
    jwk = OKPAlgorithm.to_jwk(ED_KEY.public_key(), as_dict=True)
    assert isinstance(jwk, dict)
    return {**jwk, "kid": kid}


def sign(
    kid: str | None,
    *,
    key: Any = None,
    algorithm: str = "RS256",
    scope: str = SCOPE,
    **claims: Any,
) -> str:
    """Return a token signed with the RSA key ``kid`` (or ``key``) and the usual claims."""
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": now, "exp": now + 600}
    payload.update({"scope": scope, **claims})
    headers = {"kid": kid} if kid is not None else {}
    signing_key = key if key is not None else RSA_KEYS[kid or "A"]
    return jwt.encode(payload, signing_key, algorithm=algorithm, headers=headers)


def forge_hs256_with_public_key(kid: str) -> str:
    """Return an HS256 token whose secret is RSA key ``kid``'s public PEM, as an attacker
    who read the key set would sign it. PyJWT refuses to sign it, so it is built by hand."""

    def part(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    secret = (
        RSA_KEYS[kid]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    claims = {"scope": SCOPE, "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60}
    payload = part(json.dumps(claims).encode())
    signature = part(hmac.new(secret, header + b"." + payload, hashlib.sha256).digest())
    return (header + b"." + payload + b"." + signature).decode("ascii")


# --- A key set server -----------------------------------------------------------------------


@dataclass
class KeyServer:
    """The state of the key set server, shared with its thread."""

    url: str = ""
    keys: list[dict[str, Any]] = field(default_factory=list)
    #: "ok", "status-500", "garbage", "empty", "not-a-key-set" or "huge".
    mode: str = "ok"
    delay: float = 0.0
    hits: int = 0

    def publish(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)


def key_set_app(state: KeyServer) -> Starlette:
    async def jwks(request: Request) -> Response:
        state.hits += 1
        if state.delay:
            await asyncio.sleep(state.delay)
        if state.mode == "status-500":
            return PlainTextResponse("down", status_code=500)
        if state.mode == "garbage":
            return PlainTextResponse("<html>maintenance</html>")
        if state.mode == "empty":
            return JSONResponse({"keys": []})
        if state.mode == "not-a-key-set":
            return JSONResponse([1, 2, 3])
        if state.mode == "huge":
            return JSONResponse({"keys": state.keys, "padding": "x" * 2_000_000})
        return JSONResponse({"keys": state.keys})

    return Starlette(routes=[StarletteRoute("/jwks.json", jwks)])


@pytest.fixture(scope="module")
def key_server_module() -> Iterator[KeyServer]:
    state = KeyServer()
    with run_asgi_server(key_set_app(state)) as url:
        state.url = url + "/jwks.json"
        yield state


@pytest.fixture
def key_server(key_server_module: KeyServer) -> KeyServer:
    """The key set server, reset to publish RSA key A."""
    state = key_server_module
    state.publish(rsa_jwk("A"))
    state.mode = "ok"
    state.delay = 0.0
    state.hits = 0
    return state


def verifier_for(server: KeyServer, **options: Any) -> JWKSVerifier:
    settings: dict[str, Any] = {
        "url": server.url,
        "algorithms": ["RS256"],
        "issuer": ISSUER,
        "audience": AUDIENCE,
        **options,
    }
    return JWKSVerifier(**settings)


def verify(verifier: JWKSVerifier, token: str) -> TokenInfo:
    return asyncio.run(verifier.verify(token))


def rejection(verifier: JWKSVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as raised:
        verify(verifier, token)
    return raised.value.reason


# --- Verification -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("published", "algorithms", "token"),
    [
        pytest.param(lambda: [rsa_jwk("A")], ["RS256"], lambda: sign("A"), id="rs256"),
        pytest.param(
            lambda: [rsa_jwk("A")], ["PS256"], lambda: sign("A", algorithm="PS256"), id="ps256"
        ),
        pytest.param(
            lambda: [ec_jwk("E")],
            ["ES256"],
            lambda: sign("E", key=EC_KEY, algorithm="ES256"),
            id="es256",
        ),
        pytest.param(
            lambda: [ed_jwk("D")],
            ["EdDSA"],
            lambda: sign("D", key=ED_KEY, algorithm="EdDSA"),
            id="eddsa",
        ),
        pytest.param(
            lambda: [rsa_jwk("A"), rsa_jwk("B")], ["RS256"], lambda: sign("B"), id="second-key"
        ),
        pytest.param(
            lambda: [{k: v for k, v in rsa_jwk("A").items() if k != "kid"}],
            ["RS256"],
            lambda: sign(None),
            id="single-key-without-kid",
        ),
    ],
)
def test_verify_published_key(
    key_server: KeyServer, published: Any, algorithms: list[str], token: Any
) -> None:
    key_server.publish(*published())
    verifier = verifier_for(key_server, algorithms=algorithms)

    info = verify(verifier, token())

    assert info.scopes == frozenset({SCOPE})
    assert info.subject == "user-1"
    assert key_server.hits == 1


@pytest.mark.parametrize(
    ("published", "token", "reason"),
    [
        pytest.param(
            lambda: [rsa_jwk("A")],
            lambda: sign("A", key=RSA_KEYS["B"]),
            "signature is invalid",
            id="wrong-key",
        ),
        pytest.param(
            lambda: [rsa_jwk("A")],
            lambda: forge_hs256_with_public_key("A"),
            "signing algorithm is not accepted",
            id="hs256-with-public-key",
        ),
        pytest.param(
            lambda: [rsa_jwk("A")],
            lambda: jwt.encode(
                {"scope": SCOPE, "exp": int(time.time()) + 60}, "", algorithm="none"
            ),
            "signing algorithm is not accepted",
            id="alg-none",
        ),
        pytest.param(
            lambda: [rsa_jwk("A", alg="RS384")],
            lambda: sign("A"),
            "does not suit its key",
            id="key-names-other-alg",
        ),
        pytest.param(
            lambda: [ec_jwk("A"), rsa_jwk("B")],
            lambda: sign("A"),
            "does not suit its key",
            id="rsa-token-ec-key",
        ),
        pytest.param(
            lambda: [rsa_jwk("A"), rsa_jwk("B")],
            lambda: sign(None),
            "has no key id",
            id="no-kid-two-keys",
        ),
        pytest.param(lambda: [rsa_jwk("A")], lambda: "not-a-jwt", "not a well-formed", id="junk"),
        pytest.param(
            lambda: [rsa_jwk("A")], lambda: "!!!.e30.c2ln", "not a well-formed", id="bad-b64"
        ),
        pytest.param(
            lambda: [rsa_jwk("A")], lambda: "W10.e30.c2ln", "not a well-formed", id="header-list"
        ),
        pytest.param(
            lambda: [rsa_jwk("A")], lambda: "e30x.e30.c2ln", "not a well-formed", id="bad-json"
        ),
        pytest.param(
            lambda: [rsa_jwk("A")], lambda: ".e30.c2ln", "not a well-formed", id="no-header"
        ),
        pytest.param(lambda: [rsa_jwk("A")], lambda: "a.b.c.d.e", "encrypted JWT (JWE)", id="jwe"),
        pytest.param(
            lambda: [rsa_jwk("A")],
            lambda: sign("A", iss="https://other.example.test"),
            "issuer is not accepted",
            id="issuer",
        ),
        pytest.param(
            lambda: [rsa_jwk("A")],
            lambda: sign("A", aud="other-api"),
            "audience is not accepted",
            id="audience",
        ),
        pytest.param(
            lambda: [rsa_jwk("A")],
            lambda: sign("A", exp=int(time.time()) - 61),
            "has expired",
            id="expired-past-leeway",
        ),
        pytest.param(
            lambda: [rsa_jwk("A")],
            lambda: sign("A", nbf=int(time.time()) + 90),
            "not valid yet",
            id="nbf-past-leeway",
        ),
        pytest.param(
            lambda: [rsa_jwk("A", use="enc")], lambda: sign("A"), "kid", id="encryption-key"
        ),
    ],
)
def test_verify_rejects(key_server: KeyServer, published: Any, token: Any, reason: str) -> None:
    key_server.publish(*published())
    verifier = verifier_for(key_server, algorithms=["RS256", "RS384", "ES256"])

    assert reason in rejection(verifier, token())


@pytest.mark.parametrize(
    ("claim", "offset"),
    [
        pytest.param("exp", -30, id="expired-within-leeway"),
        pytest.param("nbf", 30, id="nbf-within-leeway"),
        pytest.param("iat", 30, id="iat-within-leeway"),
    ],
)
def test_default_leeway_is_60_seconds(key_server: KeyServer, claim: str, offset: int) -> None:
    verifier = verifier_for(key_server, cache_size=0)
    claims: dict[str, Any] = {claim: int(time.time()) + offset}

    assert verify(verifier, sign("A", **claims)).scopes == frozenset({SCOPE})


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        pytest.param({"iat": 0, "exp": 3601}, "lifetime is longer than 3600 seconds", id="long"),
        pytest.param({"iat": None}, "no 'iat' claim", id="no-iat"),
    ],
)
def test_max_lifetime(key_server: KeyServer, claims: dict[str, Any], reason: str) -> None:
    now = int(time.time())
    values: dict[str, Any] = {
        key: (value + now if isinstance(value, int) else value) for key, value in claims.items()
    }
    token = sign("A", **values)
    if values.get("iat", 0) is None:
        payload = jwt.decode(token, options={"verify_signature": False})
        payload.pop("iat")
        token = jwt.encode(payload, RSA_KEYS["A"], algorithm="RS256", headers={"kid": "A"})
    verifier = verifier_for(key_server, max_lifetime=3600)

    assert reason in rejection(verifier, token)
    assert verify(verifier, sign("A")).scopes == frozenset({SCOPE})


def test_keys_fetched_once_for_many_tokens(key_server: KeyServer) -> None:
    key_server.publish(rsa_jwk("A"), rsa_jwk("B"))
    verifier = verifier_for(key_server)

    for index in range(10):
        verify(verifier, sign("A" if index % 2 else "B", jti=str(index)))

    assert key_server.hits == 1


def test_private_key_in_set_verifies_with_public_part(key_server: KeyServer) -> None:
    private = RSAAlgorithm.to_jwk(RSA_KEYS["A"], as_dict=True)
    assert isinstance(private, dict)
    # PyJWT marks a private JWK with key_ops ["sign"], which the verifier would skip.
    published = {name: value for name, value in private.items() if name != "key_ops"}
    key_server.publish({**published, "kid": "A"})

    assert verify(verifier_for(key_server), sign("A")).scopes == frozenset({SCOPE})


def test_skipped_keys_are_logged(key_server: KeyServer, caplog: pytest.LogCaptureFixture) -> None:
    key_server.publish({"kty": "oct", "k": "c2VjcmV0", "kid": "S"}, rsa_jwk("A"))
    caplog.set_level(logging.WARNING, logger="scopeguard.jwks")

    verify(verifier_for(key_server), sign("A"))

    assert "kid 'S' is a symmetric key" in caplog.text
    assert "secret" not in caplog.text


# --- Rotation and unknown key ids ---------------------------------------------------------


def test_key_rotation(key_server: KeyServer) -> None:
    """A new key is fetched on first sight; an old key's tokens work until it is removed."""
    verifier = verifier_for(key_server, refetch_cooldown=0, keys_ttl=0.3)
    old_token = sign("A")
    assert verify(verifier, old_token).subject == "user-1"

    key_server.publish(rsa_jwk("A"), rsa_jwk("B"))
    assert verify(verifier, sign("B")).subject == "user-1"
    assert verify(verifier, old_token).subject == "user-1"
    assert key_server.hits == 2

    key_server.publish(rsa_jwk("B"))
    time.sleep(0.35)
    # The stale keys serve this request while a background fetch replaces them.
    asyncio.run(_verify_and_wait_for_fetch(verifier, sign("B")))

    assert "the token's key id (kid) is not in the key set" in rejection(verifier, old_token)
    assert verifier.key_ids == ["B"]


async def _verify_and_wait_for_fetch(verifier: JWKSVerifier, token: str) -> None:
    await verifier.verify(token)
    for _ in range(100):
        if verifier.key_ids == ["B"]:
            return
        await asyncio.sleep(0.01)


def test_unknown_kid_storm_fetches_once(key_server: KeyServer) -> None:
    verifier = verifier_for(key_server, refetch_cooldown=0.5)
    verify(verifier, sign("A"))
    time.sleep(0.55)

    async def storm(kids: list[str]) -> list[BaseException | TokenInfo]:
        tokens = [sign(kid, key=RSA_KEYS["B"]) for kid in kids]
        return await asyncio.gather(
            *(verifier.verify(token) for token in tokens), return_exceptions=True
        )

    first = [secrets.token_hex(8) for _ in range(100)]
    results = asyncio.run(storm(first))
    assert key_server.hits == 2
    assert all(isinstance(result, InvalidToken) for result in results)

    asyncio.run(storm([secrets.token_hex(8) for _ in range(100)]))
    asyncio.run(storm(first))
    assert key_server.hits == 2


def test_remembered_unknown_kid_is_fetched_after_its_ttl(key_server: KeyServer) -> None:
    verifier = verifier_for(key_server, refetch_cooldown=0, unknown_kid_ttl=0.3)
    verify(verifier, sign("A"))
    assert "not in the key set" in rejection(verifier, sign("B"))
    assert key_server.hits == 2

    key_server.publish(rsa_jwk("A"), rsa_jwk("B"))
    assert "not in the key set" in rejection(verifier, sign("B"))
    assert key_server.hits == 2

    time.sleep(0.35)
    assert verify(verifier, sign("B")).subject == "user-1"
    assert key_server.hits == 3


# --- Failing key set endpoint -------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "delay", "cause"),
    [
        pytest.param("status-500", 0.0, "the response status is 500", id="status-500"),
        pytest.param("garbage", 0.0, "the response is not JSON", id="garbage"),
        pytest.param("empty", 0.0, "the key set has no keys", id="empty"),
        pytest.param("not-a-key-set", 0.0, "not a key set", id="not-a-key-set"),
        pytest.param("huge", 0.0, "larger than 1048576 bytes", id="huge"),
        pytest.param("ok", 0.5, "timed out after 0.2 s", id="timeout"),
    ],
)
def test_failed_fetch_keeps_cached_keys(
    key_server: KeyServer,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    delay: float,
    cause: str,
) -> None:
    verifier = verifier_for(
        key_server, keys_ttl=0.1, refetch_cooldown=0, fetch_timeout=0.2, cache_size=0
    )
    verify(verifier, sign("A"))
    key_server.mode, key_server.delay = mode, delay
    caplog.set_level(logging.WARNING, logger="scopeguard.jwks")
    time.sleep(0.15)

    # Key A still verifies, and key B, which the endpoint cannot deliver, fails closed.
    asyncio.run(_verify_and_settle(verifier, sign("A")))
    reason = rejection(verifier, sign("B"))

    assert reason.endswith("is not in the cached key set, and fetching the key set failed")
    assert verify(verifier, sign("A")).subject == "user-1"
    assert key_server.url in caplog.text
    assert cause in caplog.text
    assert "the cached keys stay in use" in caplog.text


async def _verify_and_settle(verifier: JWKSVerifier, token: str) -> None:
    await verifier.verify(token)
    # Let the background fetch that the old keys started run to its end.
    await asyncio.sleep(0.3)


def test_failure_warnings_are_rate_limited(
    key_server: KeyServer, caplog: pytest.LogCaptureFixture
) -> None:
    key_server.mode = "status-500"
    verifier = verifier_for(key_server, refetch_cooldown=0, warning_interval=60)
    caplog.set_level(logging.DEBUG, logger="scopeguard.jwks")

    for _ in range(5):
        assert "and fetching the key set failed" in rejection(verifier, sign("A"))

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert key_server.hits == 5
    assert len(warnings) == 1
    assert "no key is available yet" in warnings[0].getMessage()


def test_endpoint_down_from_start_fails_closed(key_server: KeyServer) -> None:
    key_server.mode = "status-500"
    verifier = verifier_for(key_server)

    for _ in range(3):
        assert "and fetching the key set failed" in rejection(verifier, sign("A"))
    # The cooldown holds back a fetch for every request.
    assert key_server.hits == 1


def test_slow_fetch_does_not_block_event_loop(key_server: KeyServer) -> None:
    key_server.delay = 0.5
    verifier = verifier_for(key_server)

    async def run() -> int:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        await verifier.verify(sign("A"))
        stop.set()
        await task
        return ticks

    ticks = asyncio.run(run())

    # The fetch takes at least 0.5 s, in which a ticker of 10 ms runs about 50 times.
    assert ticks >= 25


# --- Sources, prefetch and configuration --------------------------------------------------


def test_local_key_set_file(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [rsa_jwk("A"), rsa_jwk("B")]}), encoding="utf-8")
    verifier = JWKSVerifier(path=path, algorithms=["RS256"], audience=AUDIENCE)

    assert verify(verifier, sign("B")).subject == "user-1"
    assert "not in the key set" in rejection(verifier, sign("C"))
    assert verifier.key_ids == ["A", "B"]


def test_fixed_key_set() -> None:
    verifier = JWKSVerifier(keys={"keys": [rsa_jwk("A")]}, algorithms=["RS256"], audience=AUDIENCE)

    assert verify(verifier, sign("A")).subject == "user-1"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({}, "exactly one of url, path and keys", id="no-source"),
        pytest.param(
            {"url": "https://idp.example.test/jwks", "keys": {"keys": []}},
            "exactly one of url, path and keys",
            id="two-sources",
        ),
        pytest.param({"url": "ftp://idp.example.test/jwks"}, "http or https URL", id="ftp-url"),
        pytest.param({"url": "/jwks.json"}, "http or https URL", id="relative-url"),
        pytest.param(
            {"url": "https://idp.example.test/jwks", "algorithms": ["HS256"]},
            "use a shared secret",
            id="hmac",
        ),
        pytest.param(
            {"url": "https://idp.example.test/jwks", "algorithms": ["none"]},
            "not allowed",
            id="alg-none",
        ),
        pytest.param(
            {"url": "https://idp.example.test/jwks", "algorithms": "RS256"},
            "not the string",
            id="algorithms-string",
        ),
        pytest.param({"keys": {"keys": []}}, "keys: the key set has no keys", id="empty-keys"),
        pytest.param(
            {"keys": {"keys": [ec_jwk("E")]}}, "suits none of the algorithms", id="no-usable-key"
        ),
        pytest.param({"path": "/nonexistent/jwks.json"}, "cannot read", id="missing-file"),
        pytest.param(
            {"url": "https://idp.example.test/jwks", "leeway": -1}, "leeway", id="negative-leeway"
        ),
        pytest.param(
            {"url": "https://idp.example.test/jwks", "keys_ttl": 0}, "keys_ttl", id="ttl-zero"
        ),
        pytest.param(
            {"url": "https://idp.example.test/jwks", "max_lifetime": 0},
            "max_lifetime",
            id="lifetime-zero",
        ),
        pytest.param(
            {"url": "https://idp.example.test/jwks", "http_client": object()},
            "httpx.AsyncClient",
            id="client",
        ),
        pytest.param(
            {"url": "https://idp.example.test/jwks", "prefetch": "yes"}, "prefetch", id="prefetch"
        ),
    ],
)
def test_configuration_errors(options: dict[str, Any], message: str) -> None:
    settings = {"algorithms": ["RS256"], **options}

    with pytest.raises(ConfigurationError, match=message):
        JWKSVerifier(**settings)


def test_key_set_file_not_json(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text("{not json", encoding="utf-8")

    with pytest.raises(ConfigurationError, match="is not JSON"):
        JWKSVerifier(path=path, algorithms=["RS256"])


def test_custom_http_client(key_server: KeyServer) -> None:
    async def run() -> TokenInfo:
        async with httpx.AsyncClient() as client:
            verifier = verifier_for(key_server, http_client=client)
            return await verifier.verify(sign("A"))

    assert asyncio.run(run()).subject == "user-1"
    assert key_server.hits == 1


def test_repr_names_url_only(key_server: KeyServer) -> None:
    verifier = verifier_for(key_server)

    assert repr(verifier) == f"JWKSVerifier({key_server.url!r}, algorithms=['RS256'])"


# --- Verified-token cache -----------------------------------------------------------------


def test_cached_token_skips_key_lookup(
    key_server: KeyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = verifier_for(key_server)
    token = sign("A")
    verify(verifier, token)
    calls: list[str] = []
    original = jwt.decode

    def recording_decode(*args: Any, **kwargs: Any) -> Any:
        calls.append("decode")
        return original(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", recording_decode)
    verify(verifier, token)

    assert calls == []


def test_cached_token_ends_with_its_key(key_server: KeyServer) -> None:
    verifier = verifier_for(key_server, keys_ttl=0.1, refetch_cooldown=0)
    token = sign("A")
    verify(verifier, token)
    key_server.publish(rsa_jwk("B"))
    time.sleep(0.15)

    asyncio.run(_verify_and_settle(verifier, sign("B")))

    assert "not in the key set" in rejection(verifier, token)


# --- Middleware -----------------------------------------------------------------------------


async def show_course(request: Request) -> Response:
    return JSONResponse({"course": request.path_params["course_id"]})


@contextlib.asynccontextmanager
async def no_lifespan(app: Starlette) -> AsyncIterator[None]:
    yield


@pytest.mark.parametrize(("prefetch", "hits_at_start"), [(True, 1), (False, 0)])
def test_middleware_prefetches_at_startup(
    key_server: KeyServer, prefetch: bool, hits_at_start: int
) -> None:
    app = Starlette(
        routes=[StarletteRoute("/api/v1/courses/{course_id}", show_course)], lifespan=no_lifespan
    )
    verifier = verifier_for(key_server, prefetch=prefetch)
    guarded = ScopeGuardMiddleware(
        app, routes=[Route("GET", "/api/v1/courses/:course_id")], verifier=verifier
    )

    with run_asgi_server(guarded) as url:
        assert key_server.hits == hits_at_start
        allowed = httpx.get(url + "/api/v1/courses/7", headers=bearer(sign("A")))
        unknown = httpx.get(url + "/api/v1/courses/7", headers=bearer(sign("C")))
        garbage = httpx.get(url + "/api/v1/courses/7", headers=bearer("x.y.z"))

    assert allowed.status_code == 200
    assert unknown.status_code == 401
    assert "not in the key set" in unknown.headers["WWW-Authenticate"]
    assert garbage.status_code == 401
    assert key_server.hits >= 1


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

"""Tests of JWTVerifier: keys, algorithms, claims, scope claims and the verified-token cache."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from scopeguard import (
    ConfigurationError,
    InvalidToken,
    JWTVerifier,
    Secret,
    TokenInfo,
    TokenVerifier,
    UnknownToken,
    scopes_from_claims,
)
from scopeguard.tokens import DEFAULT_SCOPE_CLAIMS, mint_token

# HMAC secrets of the minimum length that RFC 7518 section 3.2 requires: the hash output size.
SECRET = "0123456789abcdef0123456789abcdef"
SECRET_48 = "x" * 48
SECRET_64 = "y" * 64
OTHER_SECRET = "fedcba9876543210fedcba9876543210"

COURSE_SCOPE = "url:GET|/api/v1/courses/:course_id"

Keys = Mapping[str, Any]
TokenFactory = Callable[[Keys], str]


def _public_pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def keys() -> Keys:
    """Return named keys: signing keys and the forms a verifier may be given."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # Too small on purpose: the verifier must reject it.
    small_rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    ec256 = ec.generate_private_key(ec.SECP256R1())
    ec384 = ec.generate_private_key(ec.SECP384R1())
    ed = ed25519.Ed25519PrivateKey.generate()
    rsa_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    return {
        "secret": SECRET,
        "secret_bytes": SECRET.encode(),
        "secret_object": Secret(SECRET),
        "secret_48": SECRET_48,
        "secret_64": SECRET_64,
        "rsa": rsa_key,
        "rsa_public": rsa_key.public_key(),
        "rsa_public_pem": _public_pem(rsa_key),
        "rsa_public_pem_text": _public_pem(rsa_key).decode(),
        "rsa_private_pem": rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "rsa_jwk": jwt.PyJWK.from_dict({**rsa_jwk, "alg": "RS256"}),
        "rsa_other": other_rsa_key,
        "rsa_1024_public": small_rsa_key.public_key(),
        "ec256": ec256,
        "ec256_public": ec256.public_key(),
        "ec256_public_pem": _public_pem(ec256),
        "ec384": ec384,
        "ec384_public": ec384.public_key(),
        "ed25519": ed,
        "ed25519_public": ed.public_key(),
    }


def verify(verifier: TokenVerifier, token: str) -> TokenInfo:
    return asyncio.run(verifier.verify(token))


def claims_at_now(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``claims`` with the integer ``exp``, ``nbf`` and ``iat`` offsets made absolute."""
    now = int(time.time())
    result = dict(claims)
    for name in ("exp", "nbf", "iat"):
        value = result.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            result[name] = now + value
    return result


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hs256_token(header: Mapping[str, Any], claims: Mapping[str, Any], secret: bytes) -> str:
    """Return a JWT signed with HMAC-SHA256 by hand, whatever the header and the secret."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def valid_claims() -> dict[str, Any]:
    return claims_at_now({"sub": "user-1", "exp": 300, "scope": COURSE_SCOPE})


# --- Construction ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_name", "options", "message"),
    [
        pytest.param("secret", {"algorithms": "HS256"}, "not the string 'HS256'", id="algs-str"),
        pytest.param("secret", {"algorithms": []}, "at least one algorithm", id="algs-empty"),
        pytest.param("secret", {"algorithms": ["none"]}, "'none' is not allowed", id="alg-none"),
        pytest.param("secret", {"algorithms": ["None"]}, "'None' is not allowed", id="alg-None"),
        pytest.param("secret", {"algorithms": [None]}, "None is not allowed", id="alg-null"),
        pytest.param(
            "secret", {"algorithms": ["HS999"]}, "unknown algorithm 'HS999'", id="alg-unknown"
        ),
        pytest.param(
            "secret", {"algorithms": ["hs256"]}, "unknown algorithm 'hs256'", id="alg-lower"
        ),
        pytest.param(
            "secret",
            {"algorithms": ["HS256", "RS256"]},
            "mixes HMAC and public-key",
            id="hs-mixed-rs",
        ),
        pytest.param(
            "rsa_public", {"algorithms": ["RS256", "HS256"]}, "mixes HMAC", id="rs-mixed-hs"
        ),
        pytest.param("secret", {"algorithms": ["HS384"]}, "too short for HS384", id="hs384-short"),
        pytest.param("secret", {"algorithms": ["HS512"]}, "too short for HS512", id="hs512-short"),
        pytest.param(
            "rsa_public_pem", {"algorithms": ["HS256"]}, "suit algorithm HS256", id="pem-as-hmac"
        ),
        pytest.param(
            "rsa_public", {"algorithms": ["HS256"]}, "suit algorithm HS256", id="rsa-obj-as-hmac"
        ),
        pytest.param(
            "secret", {"algorithms": ["RS256"]}, "suit algorithm RS256", id="secret-as-rsa"
        ),
        pytest.param(
            "ec256_public", {"algorithms": ["RS256"]}, "suit algorithm RS256", id="ec-as-rsa"
        ),
        pytest.param(
            "rsa_public", {"algorithms": ["ES256"]}, "suit algorithm ES256", id="rsa-as-ec"
        ),
        pytest.param(
            "ec256_public", {"algorithms": ["ES384"]}, "suit algorithm ES384", id="p256-as-es384"
        ),
        pytest.param(
            "rsa_1024_public", {"algorithms": ["RS256"]}, "too short for RS256", id="rsa-1024"
        ),
        pytest.param(
            "secret", {"algorithms": ["HS256"], "audience": []}, "audience", id="aud-empty"
        ),
        pytest.param(
            "secret", {"algorithms": ["HS256"], "audience": [1]}, "audience", id="aud-int"
        ),
        pytest.param("secret", {"algorithms": ["HS256"], "issuer": 1}, "issuer", id="issuer-int"),
        pytest.param(
            "secret", {"algorithms": ["HS256"], "leeway": -1}, "leeway", id="leeway-negative"
        ),
        pytest.param(
            "secret", {"algorithms": ["HS256"], "leeway": True}, "leeway", id="leeway-bool"
        ),
        pytest.param(
            "secret", {"algorithms": ["HS256"], "cache_size": -1}, "cache_size", id="cache-negative"
        ),
        pytest.param(
            "secret", {"algorithms": ["HS256"], "cache_size": 1.5}, "cache_size", id="cache-float"
        ),
        pytest.param(
            "secret", {"algorithms": ["HS256"], "cache_ttl": 0}, "cache_ttl", id="ttl-zero"
        ),
        pytest.param(
            "secret", {"algorithms": ["HS256"], "cache_ttl": "60"}, "cache_ttl", id="ttl-string"
        ),
        pytest.param(
            "secret",
            {"algorithms": ["HS256"], "scope_claims": []},
            "scope_claims",
            id="scope-claims-empty",
        ),
        pytest.param(
            "secret",
            {"algorithms": ["HS256"], "scope_claims": "scp"},
            "scope_claims",
            id="scope-claims-str",
        ),
        pytest.param(
            "secret",
            {"algorithms": ["HS256"], "required_claims": "exp"},
            "required_claims",
            id="required-str",
        ),
    ],
)
def test_constructor_rejects_bad_option(
    keys: Keys, key_name: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        JWTVerifier(key=keys[key_name], **options)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty-str"),
        pytest.param(b"", id="empty-bytes"),
        pytest.param(Secret(""), id="empty-secret"),
    ],
)
def test_constructor_rejects_missing_key(key: object) -> None:
    with pytest.raises(ConfigurationError, match="key is missing"):
        JWTVerifier(key=key, algorithms=["HS256"])


def test_unknown_algorithm_message_omits_none() -> None:
    with pytest.raises(ConfigurationError) as raised:
        JWTVerifier(key=SECRET, algorithms=["HS1"])

    assert "none" not in str(raised.value)


def test_verifier_repr_hides_secret() -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])

    assert SECRET not in repr(verifier)


# --- Keys and algorithms that verify ------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "signing_key", "verifying_key"),
    [
        pytest.param("HS256", "secret", "secret", id="hs256-str"),
        pytest.param("HS256", "secret", "secret_bytes", id="hs256-bytes"),
        pytest.param("HS256", "secret", "secret_object", id="hs256-secret-object"),
        pytest.param("HS384", "secret_48", "secret_48", id="hs384"),
        pytest.param("HS512", "secret_64", "secret_64", id="hs512"),
        pytest.param("RS256", "rsa", "rsa_public_pem", id="rs256-pem-bytes"),
        pytest.param("RS256", "rsa", "rsa_public_pem_text", id="rs256-pem-text"),
        pytest.param("RS256", "rsa", "rsa_public", id="rs256-key-object"),
        pytest.param("RS256", "rsa", "rsa_jwk", id="rs256-pyjwk"),
        pytest.param("RS256", "rsa", "rsa", id="rs256-private-key"),
        pytest.param("RS256", "rsa", "rsa_private_pem", id="rs256-private-pem"),
        pytest.param("RS512", "rsa", "rsa_public", id="rs512"),
        pytest.param("PS256", "rsa", "rsa_public", id="ps256"),
        pytest.param("PS256", "rsa", "rsa", id="ps256-private-key"),
        pytest.param("ES256", "ec256", "ec256_public_pem", id="es256-pem"),
        pytest.param("ES256", "ec256", "ec256_public", id="es256-key-object"),
        pytest.param("ES256", "ec256", "ec256", id="es256-private-key"),
        pytest.param("ES384", "ec384", "ec384_public", id="es384"),
        pytest.param("EdDSA", "ed25519", "ed25519_public", id="eddsa"),
    ],
)
def test_verifier_accepts_matching_key(
    keys: Keys, algorithm: str, signing_key: str, verifying_key: str
) -> None:
    signer = keys[signing_key]
    signer = signer.reveal() if isinstance(signer, Secret) else signer
    token = jwt.encode(valid_claims(), signer, algorithm=algorithm)
    verifier = JWTVerifier(key=keys[verifying_key], algorithms=[algorithm])

    info = verify(verifier, token)

    assert info.scopes == frozenset({COURSE_SCOPE})
    assert info.subject == "user-1"


def test_verifier_accepts_any_listed_algorithm(keys: Keys) -> None:
    verifier = JWTVerifier(key=keys["rsa_public"], algorithms=["RS256", "PS512"])
    token = jwt.encode(valid_claims(), keys["rsa"], algorithm="PS512")

    assert verify(verifier, token).scopes == frozenset({COURSE_SCOPE})


def test_verifier_is_token_verifier() -> None:
    assert isinstance(JWTVerifier(key=SECRET, algorithms=["HS256"]), TokenVerifier)


# --- Rejected tokens ----------------------------------------------------------------------


def _tampered(keys: Keys) -> str:
    header, _, signature = jwt.encode(valid_claims(), SECRET, algorithm="HS256").split(".")
    forged = {**valid_claims(), "scope": "url:DELETE|/api/v1/courses/:course_id"}
    return f"{header}.{b64url(json.dumps(forged).encode())}.{signature}"


def _unsigned(keys: Keys) -> str:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(valid_claims()).encode())}."


@pytest.mark.parametrize(
    ("verifier_key", "algorithm", "make_token", "message"),
    [
        pytest.param(
            "secret",
            "HS256",
            lambda keys: jwt.encode(valid_claims(), OTHER_SECRET, algorithm="HS256"),
            "signature is invalid",
            id="wrong-secret",
        ),
        pytest.param(
            "secret",
            "HS256",
            lambda keys: jwt.encode(valid_claims(), SECRET_64, algorithm="HS512"),
            "algorithm is not accepted",
            id="hs512-for-hs256",
        ),
        pytest.param(
            "secret",
            "HS256",
            lambda keys: jwt.encode(valid_claims(), keys["rsa"], algorithm="RS256"),
            "algorithm is not accepted",
            id="rs256-for-hs256",
        ),
        pytest.param(
            "rsa_public_pem",
            "RS256",
            # Algorithm confusion: an HMAC token whose secret is the verifier's public key.
            lambda keys: hs256_token(
                {"alg": "HS256", "typ": "JWT"}, valid_claims(), keys["rsa_public_pem"]
            ),
            "algorithm is not accepted",
            id="hs256-signed-with-public-pem",
        ),
        pytest.param(
            "rsa_public",
            "RS256",
            lambda keys: jwt.encode(valid_claims(), keys["rsa_other"], algorithm="RS256"),
            "signature is invalid",
            id="rs256-other-key",
        ),
        pytest.param(
            "rsa_public",
            "RS256",
            lambda keys: jwt.encode(valid_claims(), keys["ec256"], algorithm="ES256"),
            "algorithm is not accepted",
            id="es256-for-rs256",
        ),
        pytest.param("secret", "HS256", _unsigned, "algorithm is not accepted", id="alg-none"),
        pytest.param("secret", "HS256", _tampered, "signature is invalid", id="tampered-payload"),
        pytest.param(
            "secret",
            "HS256",
            lambda keys: (
                jwt.encode(valid_claims(), SECRET, algorithm="HS256").rsplit(".", 1)[0] + "."
            ),
            "signature is invalid",
            id="signature-removed",
        ),
        pytest.param(
            "secret",
            "HS256",
            lambda keys: "not-a-jwt-at-all",
            "not a well-formed JWT",
            id="garbage",
        ),
        pytest.param("secret", "HS256", lambda keys: "", "not a well-formed JWT", id="empty"),
        pytest.param(
            "secret", "HS256", lambda keys: "abc.def", "not a well-formed JWT", id="two-parts"
        ),
        pytest.param(
            "secret",
            "HS256",
            lambda keys: "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn",
            "an encrypted JWT",
            id="jwe-five-parts",
        ),
        pytest.param(
            "secret", "HS256", lambda keys: "ëÿJ.hé.llo", "not a well-formed JWT", id="non-ascii"
        ),
        pytest.param(
            "secret",
            "HS256",
            lambda keys: f"{b64url(b'not json')}.{b64url(b'{}')}.c2ln",
            "not a well-formed JWT",
            id="header-not-json",
        ),
        pytest.param(
            "secret",
            "HS256",
            lambda keys: hs256_token({"alg": "HS256"}, [1, 2], SECRET.encode()),  # type: ignore[arg-type]
            "not a well-formed JWT",
            id="payload-not-object",
        ),
    ],
)
def test_verifier_rejects_token(
    keys: Keys, verifier_key: str, algorithm: str, make_token: TokenFactory, message: str
) -> None:
    verifier = JWTVerifier(key=keys[verifier_key], algorithms=[algorithm])
    token = make_token(keys)

    with pytest.raises(InvalidToken, match=message) as raised:
        verify(verifier, token)

    assert raised.value.status_code == 401
    assert raised.value.error_code == "invalid_token"
    if token:
        assert token not in str(raised.value)


@pytest.mark.parametrize(
    ("options", "claims", "message"),
    [
        pytest.param({}, {"exp": 60}, None, id="valid"),
        pytest.param({}, {"sub": "u"}, "has no 'exp' claim", id="exp-missing"),
        pytest.param({}, {"exp": None}, "has no 'exp' claim", id="exp-null"),
        pytest.param({"required_claims": ()}, {"sub": "u"}, None, id="exp-not-required"),
        pytest.param({}, {"exp": -1}, "has expired", id="expired"),
        pytest.param({}, {"exp": 0}, "has expired", id="expires-this-second"),
        pytest.param({}, {"exp": "tomorrow"}, "not a well-formed JWT", id="exp-not-number"),
        pytest.param({"leeway": 30}, {"exp": -10}, None, id="expired-within-leeway"),
        pytest.param({"leeway": 30}, {"exp": -60}, "has expired", id="expired-beyond-leeway"),
        pytest.param({}, {"exp": 120, "nbf": 60}, "not valid yet", id="nbf-future"),
        pytest.param({}, {"exp": 120, "nbf": -1}, None, id="nbf-past"),
        pytest.param({"leeway": 90}, {"exp": 120, "nbf": 60}, None, id="nbf-within-leeway"),
        pytest.param({}, {"exp": 120, "iat": 60}, "not valid yet", id="iat-future"),
        pytest.param(
            {}, {"exp": 60, "aud": "api"}, "audience is not accepted", id="aud-unexpected"
        ),
        pytest.param({"audience": "api"}, {"exp": 60, "aud": "api"}, None, id="aud-match"),
        pytest.param(
            {"audience": "api"}, {"exp": 60, "aud": ["web", "api"]}, None, id="aud-list-contains"
        ),
        pytest.param(
            {"audience": ["api", "admin"]}, {"exp": 60, "aud": "admin"}, None, id="audience-list"
        ),
        pytest.param(
            {"audience": "api"},
            {"exp": 60, "aud": "web"},
            "audience is not accepted",
            id="aud-wrong",
        ),
        pytest.param(
            {"audience": "api"},
            {"exp": 60, "aud": ["web"]},
            "audience is not accepted",
            id="aud-list-wrong",
        ),
        pytest.param({"audience": "api"}, {"exp": 60}, "has no 'aud' claim", id="aud-missing"),
        pytest.param(
            {"issuer": "https://issuer.test"},
            {"exp": 60, "iss": "https://issuer.test"},
            None,
            id="iss-match",
        ),
        pytest.param(
            {"issuer": "https://issuer.test"},
            {"exp": 60, "iss": "https://other.test"},
            "issuer is not accepted",
            id="iss-wrong",
        ),
        pytest.param(
            {"issuer": "https://issuer.test"}, {"exp": 60}, "has no 'iss' claim", id="iss-missing"
        ),
        pytest.param(
            {"required_claims": ("exp", "sub")},
            {"exp": 60},
            "has no 'sub' claim",
            id="sub-required",
        ),
        pytest.param({}, {"exp": 60, "sub": 7}, "the token is invalid", id="sub-not-string"),
    ],
)
def test_verifier_checks_claim(
    options: dict[str, Any], claims: dict[str, Any], message: str | None
) -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"], **options)
    token = jwt.encode(claims_at_now(claims), SECRET, algorithm="HS256")

    if message is None:
        assert isinstance(verify(verifier, token), TokenInfo)
    else:
        with pytest.raises(InvalidToken, match=message):
            verify(verifier, token)


@settings(deadline=None)
@given(garbage=st.text(alphabet="ABCXYZabcxyz0189-_.~+/=", min_size=16, max_size=200))
def test_rejection_never_echoes_token(garbage: str) -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"], cache_size=0)

    with pytest.raises(InvalidToken) as raised:
        verify(verifier, garbage)

    assert garbage not in str(raised.value)


# --- Scope claims -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "claim_names", "expected"),
    [
        pytest.param({"scope": "a b"}, DEFAULT_SCOPE_CLAIMS, {"a", "b"}, id="scope-string"),
        pytest.param(
            {"scope": "  a   b "}, DEFAULT_SCOPE_CLAIMS, {"a", "b"}, id="scope-extra-spaces"
        ),
        pytest.param({"scope": ""}, DEFAULT_SCOPE_CLAIMS, set(), id="scope-empty"),
        pytest.param({"scope": "a a"}, DEFAULT_SCOPE_CLAIMS, {"a"}, id="scope-repeated"),
        pytest.param({"scp": "a b"}, DEFAULT_SCOPE_CLAIMS, {"a", "b"}, id="scp-string"),
        pytest.param({"scp": ["a", "b"]}, DEFAULT_SCOPE_CLAIMS, {"a", "b"}, id="scp-list"),
        pytest.param({"scopes": "a b"}, DEFAULT_SCOPE_CLAIMS, {"a", "b"}, id="scopes-string"),
        pytest.param({"scopes": ["a"]}, DEFAULT_SCOPE_CLAIMS, {"a"}, id="scopes-list"),
        pytest.param({"scopes": []}, DEFAULT_SCOPE_CLAIMS, set(), id="scopes-empty-list"),
        pytest.param(
            {"scope": "a", "scp": ["b"]}, DEFAULT_SCOPE_CLAIMS, {"a"}, id="first-claim-wins"
        ),
        pytest.param(
            {"scp": ["b"], "scopes": ["c"]}, DEFAULT_SCOPE_CLAIMS, {"b"}, id="scp-before-scopes"
        ),
        pytest.param({"sub": "u"}, DEFAULT_SCOPE_CLAIMS, set(), id="no-scope-claim"),
        pytest.param({"permissions": ["p"]}, ("permissions",), {"p"}, id="custom-claim"),
        pytest.param(
            {"scope": "a", "permissions": "p q"},
            ("permissions",),
            {"p", "q"},
            id="custom-ignores-scope",
        ),
        pytest.param({"scope": "a"}, ("permissions",), set(), id="custom-claim-absent"),
    ],
)
def test_scopes_from_claims(
    claims: dict[str, Any], claim_names: tuple[str, ...], expected: set[str]
) -> None:
    assert scopes_from_claims(claims, claim_names) == frozenset(expected)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"scope": ["a", 1]}, id="list-with-int"),
        pytest.param({"scp": ["a", ["b"]]}, id="list-with-list"),
        pytest.param({"scopes": [None]}, id="list-with-null"),
        pytest.param({"scope": 5}, id="number"),
        pytest.param({"scope": 1.5}, id="float"),
        pytest.param({"scope": True}, id="bool"),
        pytest.param({"scp": {"a": True}}, id="dict"),
        pytest.param({"scope": None}, id="null"),
    ],
)
def test_scopes_from_claims_rejects_malformed(claims: dict[str, Any]) -> None:
    (name,) = claims

    with pytest.raises(InvalidToken, match=f"the '{name}' claim must be"):
        scopes_from_claims(claims)


@pytest.mark.parametrize(
    ("scope_claims", "claims", "expected"),
    [
        pytest.param(None, {"scope": f"{COURSE_SCOPE} other"}, {COURSE_SCOPE, "other"}, id="scope"),
        pytest.param(None, {"scp": [COURSE_SCOPE]}, {COURSE_SCOPE}, id="scp-list"),
        pytest.param(["roles"], {"roles": [COURSE_SCOPE]}, {COURSE_SCOPE}, id="custom-claim"),
        pytest.param(["roles"], {"scope": COURSE_SCOPE}, set(), id="custom-ignores-scope"),
    ],
)
def test_verifier_reads_scope_claim(
    scope_claims: list[str] | None, claims: dict[str, Any], expected: set[str]
) -> None:
    options: dict[str, Any] = {} if scope_claims is None else {"scope_claims": scope_claims}
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"], **options)
    token = jwt.encode(claims_at_now({"exp": 60, **claims}), SECRET, algorithm="HS256")

    assert verify(verifier, token).scopes == frozenset(expected)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"scp": ["a", 1]}, id="list-with-int"),
        pytest.param({"scope": 7}, id="number"),
        pytest.param({"scopes": {"a": 1}}, id="dict"),
    ],
)
def test_verifier_rejects_malformed_scope_claim(claims: dict[str, Any]) -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])
    token = jwt.encode(claims_at_now({"exp": 60, **claims}), SECRET, algorithm="HS256")

    with pytest.raises(InvalidToken, match="must be a space-separated string or a list"):
        verify(verifier, token)


@pytest.mark.parametrize(
    "near_miss",
    [
        pytest.param("url:GET|/api/v1/courses", id="prefix"),
        pytest.param("url:GET|/api/v1/courses/:course_id/files", id="extension"),
        pytest.param("url:GET|/api/v1/courses/:course", id="truncated"),
        pytest.param("GET|/api/v1/courses/:course_id", id="no-url-prefix"),
        pytest.param("url:get|/api/v1/courses/:course_id", id="lower-verb"),
        pytest.param("url:GET|/api/v1/courses/7", id="concrete-path"),
        pytest.param("url:GET|/api/v1/courses/:course_id/", id="trailing-slash"),
    ],
)
def test_scope_grant_is_exact_membership(near_miss: str) -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])
    token = jwt.encode(claims_at_now({"exp": 60, "scope": near_miss}), SECRET, algorithm="HS256")

    assert COURSE_SCOPE not in verify(verifier, token).scopes


scope_tokens = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)


@given(scopes=st.lists(scope_tokens, max_size=8))
def test_scope_string_and_list_agree(scopes: list[str]) -> None:
    from_string = scopes_from_claims({"scope": " ".join(scopes)})
    from_list = scopes_from_claims({"scp": scopes})

    assert from_string == from_list
    assert from_list == frozenset(scopes)


# --- Cache --------------------------------------------------------------------------------


@pytest.fixture
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every token that reaches ``jwt.decode``, so a test can count cache misses."""
    calls: list[str] = []
    original = jwt.decode

    def recording_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(token)
        return original(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", recording_decode)
    return calls


def _token(exp_offset: float = 300, **claims: Any) -> str:
    exp = time.time() + exp_offset
    return jwt.encode({"exp": exp, "scope": COURSE_SCOPE, **claims}, SECRET, algorithm="HS256")


def test_cache_skips_second_decode(decode_calls: list[str]) -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])
    token = _token()

    first = verify(verifier, token)
    second = verify(verifier, token)

    assert second == first
    assert decode_calls == [token]


def test_cache_size_zero_disables_cache(decode_calls: list[str]) -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"], cache_size=0)
    token = _token()

    verify(verifier, token)
    verify(verifier, token)

    assert decode_calls == [token, token]


def test_cache_skips_tokens_without_exp(decode_calls: list[str]) -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"], required_claims=())
    token = jwt.encode({"scope": COURSE_SCOPE}, SECRET, algorithm="HS256")

    verify(verifier, token)
    verify(verifier, token)

    assert decode_calls == [token, token]


def test_cache_evicts_least_recently_used(decode_calls: list[str]) -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"], cache_size=2)
    first, second, third = (_token(sub=f"user-{index}") for index in range(3))

    verify(verifier, first)
    verify(verifier, second)
    verify(verifier, first)  # a cache hit that makes "second" the least recently used
    verify(verifier, third)  # evicts "second"
    decode_calls.clear()
    verify(verifier, first)
    verify(verifier, third)
    verify(verifier, second)

    assert decode_calls == [second]


@pytest.mark.parametrize(
    ("exp_offset", "leeway", "clock_offset"),
    [
        pytest.param(300, 0, 300, id="at-exp"),
        pytest.param(300, 0, 301, id="after-exp"),
        pytest.param(300, 30, 330, id="at-exp-plus-leeway"),
        # PyJWT truncates a fractional exp, so the token expires at the whole second.
        pytest.param(300.75, 0, 300.5, id="fractional-exp"),
    ],
)
def test_cache_expires_entry_with_token(
    decode_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
    exp_offset: float,
    leeway: float,
    clock_offset: float,
) -> None:
    now = float(int(time.time()))
    token = jwt.encode({"exp": now + exp_offset, "scope": COURSE_SCOPE}, SECRET, algorithm="HS256")
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"], leeway=leeway)
    verify(verifier, token)
    decode_calls.clear()

    # Only the cache reads this clock. PyJWT still runs on the real clock, where the token
    # is valid, so the second call succeeds, but it must reach jwt.decode.
    monkeypatch.setattr(time, "time", lambda: now + clock_offset)
    verify(verifier, token)

    assert decode_calls == [token]


def test_cache_serves_entry_before_exp(
    decode_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = float(int(time.time()))
    token = jwt.encode({"exp": now + 300, "scope": COURSE_SCOPE}, SECRET, algorithm="HS256")
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])
    verify(verifier, token)
    decode_calls.clear()

    monkeypatch.setattr(time, "time", lambda: now + 299.5)
    verify(verifier, token)

    assert decode_calls == []


def test_cached_token_rejected_after_exp() -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])
    # The token stays valid for 0.5 to 1.5 s, long enough for the first call to succeed.
    exp = math.ceil(time.time() + 0.5)
    token = jwt.encode({"exp": exp, "scope": COURSE_SCOPE}, SECRET, algorithm="HS256")
    verify(verifier, token)

    # A real wait, so that PyJWT's own clock passes exp too.
    time.sleep(max(0.0, exp - time.time()) + 0.05)

    with pytest.raises(InvalidToken, match="has expired"):
        verify(verifier, token)


@pytest.mark.parametrize(
    ("ttl", "elapsed", "decoded_again"),
    [
        pytest.param(60, 59.5, False, id="within-ttl"),
        pytest.param(60, 60, True, id="at-ttl"),
        pytest.param(0.5, 1, True, id="short-ttl"),
    ],
)
def test_cache_ttl_ends_entry(
    decode_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
    ttl: float,
    elapsed: float,
    decoded_again: bool,
) -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"], cache_ttl=ttl)
    token = _token(exp_offset=3600)
    start = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: start)
    verify(verifier, token)
    decode_calls.clear()

    monkeypatch.setattr(time, "monotonic", lambda: start + elapsed)
    verify(verifier, token)

    assert decode_calls == ([token] if decoded_again else [])


def test_cache_keeps_digest_not_token() -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])
    token = _token()
    verify(verifier, token)

    keys = list(verifier._cache._entries)

    assert keys == [hashlib.sha256(token.encode()).digest()]
    assert token not in repr(verifier._cache._entries)


def test_cached_claims_are_read_only() -> None:
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])
    info = verify(verifier, _token())

    with pytest.raises(TypeError):
        info.claims["scope"] = "url:DELETE|/api/v1/courses/:course_id"  # type: ignore[index]


# --- Secret, TokenInfo and mint_token -----------------------------------------------------


@given(value=st.one_of(st.text(), st.binary()))
def test_secret_repr_masks_value(value: str | bytes) -> None:
    secret = Secret(value)

    assert repr(secret) == "Secret('**********')"
    assert str(secret) == "Secret('**********')"
    assert secret.reveal() == value


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        pytest.param({"sub": "user-1"}, "user-1", id="string"),
        pytest.param({}, None, id="missing"),
        pytest.param({"sub": 7}, None, id="not-string"),
    ],
)
def test_token_info_subject(claims: dict[str, Any], expected: str | None) -> None:
    assert TokenInfo(scopes=frozenset(), claims=claims).subject == expected


def test_mint_token_round_trip() -> None:
    token = mint_token(
        Secret(SECRET),
        [COURSE_SCOPE, "url:GET|/api/v1/courses"],
        subject="teacher",
        expires_in=120,
        audience="api",
        issuer="https://issuer.test",
    )
    verifier = JWTVerifier(
        key=SECRET, algorithms=["HS256"], audience="api", issuer="https://issuer.test"
    )

    info = verify(verifier, token)

    assert info.scopes == frozenset({COURSE_SCOPE, "url:GET|/api/v1/courses"})
    assert info.subject == "teacher"
    assert info.claims["exp"] - info.claims["iat"] == 120


@pytest.mark.parametrize(
    ("secret", "algorithm", "message"),
    [
        pytest.param(SECRET, "RS256", "signs with HMAC only", id="rs256"),
        pytest.param(SECRET, "none", "signs with HMAC only", id="none"),
        pytest.param("short", "HS256", "too short for HS256", id="short-secret"),
        pytest.param(SECRET, "HS512", "too short for HS512", id="short-for-hs512"),
    ],
)
def test_mint_token_rejects(secret: str, algorithm: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        mint_token(secret, [COURSE_SCOPE], algorithm=algorithm)


# --- Unknown tokens and lifetime ----------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param(lambda: "opaque-token", "unknown", id="not-a-jwt"),
        pytest.param(lambda: "a.b.c.d.e", "unknown", id="jwe"),
        pytest.param(lambda: _token(), "accepted", id="valid"),
        pytest.param(
            lambda: jwt.encode({"exp": time.time() + 60}, OTHER_SECRET, algorithm="HS256"),
            "unknown",
            id="other-secret",
        ),
        pytest.param(lambda: _token(exp_offset=-60), "invalid", id="expired"),
    ],
)
def test_unknown_token_only_before_signature(token: Any, expected: str) -> None:
    """A token this verifier cannot claim as its own raises UnknownToken, so another source
    may accept it. A failed check after a valid signature is final."""
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"])

    try:
        verify(verifier, token())
        outcome = "accepted"
    except UnknownToken:
        outcome = "unknown"
    except InvalidToken:
        outcome = "invalid"

    assert outcome == expected


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        pytest.param({"iat": 0, "exp": 601}, "lifetime is longer than 600 seconds", id="long"),
        pytest.param({"exp": 60}, "no 'iat' claim", id="no-iat"),
        pytest.param({"iat": 0, "exp": 600}, None, id="exactly-600"),
    ],
)
def test_max_lifetime(claims: dict[str, int], message: str | None) -> None:
    now = int(time.time())
    payload = {"scope": COURSE_SCOPE, **{key: now + value for key, value in claims.items()}}
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    verifier = JWTVerifier(key=SECRET, algorithms=["HS256"], max_lifetime=600)

    if message is None:
        assert verify(verifier, token).scopes == frozenset({COURSE_SCOPE})
    else:
        with pytest.raises(InvalidToken, match=message):
            verify(verifier, token)

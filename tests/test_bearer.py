"""Tests of reading the bearer token from raw ASGI headers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopeguard import BadRequest, Denial, InvalidToken, MissingToken
from scopeguard.bearer import bearer_token

Headers = list[tuple[bytes, bytes]]

JWT_LIKE = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param([(b"authorization", b"Bearer abc")], "abc", id="canonical"),
        pytest.param([(b"authorization", b"bearer abc")], "abc", id="lower-scheme"),
        pytest.param([(b"authorization", b"BEARER abc")], "abc", id="upper-scheme"),
        pytest.param([(b"authorization", b"bEaReR abc")], "abc", id="mixed-scheme"),
        pytest.param([(b"Authorization", b"Bearer abc")], "abc", id="capitalised-name"),
        pytest.param([(b"authorization", b"Bearer    abc")], "abc", id="several-spaces"),
        pytest.param(
            [(b"authorization", b"Bearer " + JWT_LIKE.encode())], JWT_LIKE, id="jwt-shaped"
        ),
        pytest.param(
            [(b"authorization", b"Bearer aZ09-._~+/==")], "aZ09-._~+/==", id="every-b64token-char"
        ),
        pytest.param(
            [(b"accept", b"*/*"), (b"authorization", b"Bearer abc"), (b"x-other", b"1")],
            "abc",
            id="among-other-headers",
        ),
    ],
)
def test_bearer_token_accepts(headers: Headers, expected: str) -> None:
    assert bearer_token(headers) == expected


@pytest.mark.parametrize(
    ("headers", "error", "message"),
    [
        pytest.param([], MissingToken, "a bearer token is required", id="no-headers"),
        pytest.param(
            [(b"accept", b"*/*")], MissingToken, "a bearer token is required", id="no-authorization"
        ),
        pytest.param(
            [(b"authorization", b"Basic dXNlcjpwYXNz")],
            MissingToken,
            "must use the Bearer scheme",
            id="basic-scheme",
        ),
        pytest.param(
            [(b"authorization", b"Token abc")], MissingToken, "Bearer scheme", id="token-scheme"
        ),
        pytest.param(
            [(b"authorization", b"Bearerabc")], MissingToken, "Bearer scheme", id="no-separator"
        ),
        pytest.param([(b"authorization", b"")], MissingToken, "Bearer scheme", id="empty-header"),
        pytest.param(
            [(b"authorization", JWT_LIKE.encode())],
            MissingToken,
            "Bearer scheme",
            id="jwt-without-scheme",
        ),
        pytest.param(
            [(b"authorization", b"Bearer a"), (b"authorization", b"Bearer a")],
            BadRequest,
            "exactly one Authorization header",
            id="two-headers",
        ),
        pytest.param(
            [(b"authorization", b"Bearer a"), (b"Authorization", b"Basic b")],
            BadRequest,
            "exactly one Authorization header",
            id="two-headers-two-schemes",
        ),
        pytest.param([(b"authorization", b"Bearer")], InvalidToken, "is empty", id="scheme-only"),
        pytest.param([(b"authorization", b"Bearer ")], InvalidToken, "is empty", id="one-space"),
        pytest.param(
            [(b"authorization", b"Bearer    ")], InvalidToken, "is empty", id="only-spaces"
        ),
        pytest.param(
            [(b"authorization", b"Bearer a b")],
            InvalidToken,
            "characters a token may not contain",
            id="inner-space",
        ),
        pytest.param(
            [(b"authorization", b"Bearer abc ")],
            InvalidToken,
            "characters a token may not contain",
            id="trailing-space",
        ),
        pytest.param(
            [(b"authorization", b"Bearer a,b")],
            InvalidToken,
            "characters a token may not contain",
            id="comma",
        ),
        pytest.param(
            [(b"authorization", b'Bearer "abc"')],
            InvalidToken,
            "characters a token may not contain",
            id="quoted",
        ),
        pytest.param(
            [(b"authorization", b"Bearer =abc")],
            InvalidToken,
            "characters a token may not contain",
            id="leading-padding",
        ),
        pytest.param(
            [(b"authorization", b"Bearer ab=c")],
            InvalidToken,
            "characters a token may not contain",
            id="inner-padding",
        ),
        pytest.param(
            [(b"authorization", b"Bearer abc\x00")],
            InvalidToken,
            "characters a token may not contain",
            id="nul-byte",
        ),
        pytest.param(
            [(b"authorization", b"Bearer abc\tdef")],
            InvalidToken,
            "characters a token may not contain",
            id="tab",
        ),
        pytest.param(
            [(b"authorization", "Bearer tökén".encode())],
            InvalidToken,
            "non-ASCII bytes",
            id="non-ascii-utf8",
        ),
        pytest.param(
            [(b"authorization", b"Bearer \xff\xfe")],
            InvalidToken,
            "non-ASCII bytes",
            id="non-ascii-latin1",
        ),
    ],
)
def test_bearer_token_rejects(headers: Headers, error: type[Denial], message: str) -> None:
    with pytest.raises(error, match=message):
        bearer_token(headers)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        pytest.param(MissingToken, 401, None, id="missing"),
        pytest.param(InvalidToken, 401, "invalid_token", id="invalid"),
        pytest.param(BadRequest, 400, "invalid_request", id="bad-request"),
    ],
)
def test_denial_status_and_code(error: type[Denial], status: int, code: str | None) -> None:
    assert error.status_code == status
    assert error.error_code == code


def test_rejection_never_echoes_token() -> None:
    token = "secret-token,with-a-comma"

    with pytest.raises(InvalidToken) as raised:
        bearer_token([(b"authorization", b"Bearer " + token.encode())])

    assert token not in raised.value.reason


b64tokens = st.from_regex(r"[A-Za-z0-9\-._~+/]+=*", fullmatch=True)
scheme_cases = st.lists(st.booleans(), min_size=6, max_size=6)


@given(token=b64tokens, upper=scheme_cases, spaces=st.integers(min_value=1, max_value=4))
def test_bearer_token_round_trip(token: str, upper: list[bool], spaces: int) -> None:
    scheme = "".join(
        letter.upper() if is_upper else letter
        for letter, is_upper in zip("bearer", upper, strict=True)
    )
    value = f"{scheme}{' ' * spaces}{token}".encode("ascii")

    assert bearer_token([(b"authorization", value)]) == token


@given(value=st.binary(max_size=40))
def test_single_header_outcome(value: bytes) -> None:
    outcome: str | Denial
    try:
        outcome = bearer_token([(b"authorization", value)])
    except Denial as denial:
        outcome = denial

    if isinstance(outcome, Denial):
        # One header can be missing a token or carry a bad one, never be a bad request.
        assert outcome.status_code == 401
    else:
        assert value.split(b" ", 1)[1].lstrip(b" ") == outcome.encode("ascii")


# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
B64TOKEN_GRAMMAR = re.compile(rb"[A-Za-z0-9\-._~+/]+=*")
# Mostly token characters and padding, with a few that a token may not contain.
token_bytes = st.binary(max_size=30) | st.lists(
    st.sampled_from([b"a", b"Z", b"9", b"-", b"~", b"/", b"=", b"=", b"%", b",", b"\xe9", b" "]),
    max_size=12,
).map(b"".join)


@given(token=token_bytes)
def test_token_accepted_exactly_as_the_grammar_says(token: bytes) -> None:
    # Spaces after the scheme separate it from the token, so the parser skips them.
    expected = token.lstrip(b" ")
    try:
        accepted = bearer_token([(b"authorization", b"Bearer " + token)]) == expected.decode()
    except InvalidToken:
        accepted = False

    assert accepted == (B64TOKEN_GRAMMAR.fullmatch(expected) is not None)

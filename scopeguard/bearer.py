"""Reading the bearer token from the ``Authorization`` header.

RFC 6750 section 2.1 (Authorization Request Header Field) defines the form
``Bearer 1*SP b64token``; RFC 9110 section 11.1 makes the scheme name case-insensitive.
Tokens in the query string (RFC 6750 section 2.3) and in form bodies are never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from scopeguard.errors import BadRequest, InvalidToken, MissingToken

__all__ = ["MAX_AUTHORIZATION_BYTES", "bearer_token", "token_from_authorization"]

# The characters of an RFC 6750 b64token, which may end with "=" padding besides.
_B64TOKEN_CHARACTERS: Final = (
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
)


#: Default maximum length in bytes of an ``Authorization`` header value.
MAX_AUTHORIZATION_BYTES: Final = 8192


def bearer_token(
    headers: Iterable[tuple[bytes, bytes]], *, max_bytes: int = MAX_AUTHORIZATION_BYTES
) -> str:
    """Return the bearer token of a request from its raw ASGI headers.

    Raises :class:`MissingToken` when no ``Authorization`` header is sent or it names
    another scheme. Raises :class:`BadRequest` when more than one is sent, which RFC 6750
    section 3.1 calls ``invalid_request``. Raises :class:`InvalidToken` when the header is
    longer than ``max_bytes`` (checked before anything is decoded), or the token after
    ``Bearer`` is empty or has characters a bearer token may not contain.
    """
    values = [value for name, value in headers if name.lower() == b"authorization"]
    return token_from_authorization(values, max_bytes=max_bytes)


def token_from_authorization(
    values: Sequence[bytes], *, max_bytes: int = MAX_AUTHORIZATION_BYTES
) -> str:
    """Return the bearer token from the values of a request's ``Authorization`` headers.

    Raises as :func:`bearer_token` does.
    """
    if not values:
        raise MissingToken("a bearer token is required")
    if len(values) > 1:
        raise BadRequest("send exactly one Authorization header")
    if len(values[0]) > max_bytes:
        raise InvalidToken(f"the Authorization header is longer than {max_bytes} bytes")

    scheme, _, credentials = values[0].partition(b" ")
    if scheme.lower() != b"bearer":
        raise MissingToken("the Authorization header must use the Bearer scheme")

    token = credentials.lstrip(b" ")
    if not token:
        raise InvalidToken("the bearer token is empty")
    # translate() deletes every b64token character, so whatever is left before the
    # padding may not be in a token. It takes about half the time of a pattern on 8 KB.
    unexpected = token.rstrip(b"=").translate(None, _B64TOKEN_CHARACTERS)
    if unexpected or token[0] == 0x3D:  # 0x3D is "=": a token cannot be padding alone
        if not unexpected.isascii():
            raise InvalidToken("the bearer token contains non-ASCII bytes")
        raise InvalidToken("the bearer token contains characters a token may not contain")
    return token.decode("ascii")

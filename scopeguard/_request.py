"""The parts of a request's headers and query that the middleware reads, gathered in one pass."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import parse_qsl

from scopeguard.errors import BadRequest

__all__ = [
    "OVERRIDE_HEADERS",
    "OVERRIDE_REJECTED",
    "RequestHeaders",
    "method_override",
    "scan_headers",
]

#: Headers that some frameworks read to replace the request method.
OVERRIDE_HEADERS: Final = (b"x-http-method-override", b"x-method-override", b"x-http-method")
_OVERRIDE_PARAMETER: Final = "_method"
#: The reason of the 400 response to a request that names a method override.
OVERRIDE_REJECTED: Final = (
    "method override headers and _method parameters are not accepted; send the request "
    "with the method it needs"
)
# An HTTP method name is a token: one or more of these characters.
_METHOD_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class RequestHeaders:
    """The headers the middleware reads: values in the order the request sent them."""

    __slots__ = ("authorization", "host", "origin", "overrides", "preflight_method")

    def __init__(self) -> None:
        self.authorization: list[bytes] = []
        self.host: bytes | None = None
        self.origin: bytes | None = None
        self.preflight_method: bytes | None = None
        self.overrides: list[bytes] = []


def scan_headers(headers: Iterable[tuple[bytes, bytes]]) -> RequestHeaders:
    """Return the headers the middleware reads. ASGI servers send header names lower-cased."""
    found = RequestHeaders()
    for name, value in headers:
        if name == b"authorization":
            found.authorization.append(value)
        elif name == b"host":
            if found.host is None:
                found.host = value
        elif name == b"origin":
            found.origin = value
        elif name == b"access-control-request-method":
            found.preflight_method = value
        elif name in OVERRIDE_HEADERS:
            found.overrides.append(value)
        elif name.find(b"_") >= 0 and name.replace(b"_", b"-") in OVERRIDE_HEADERS:
            # A WSGI app behind an adapter reads X_HTTP_Method_Override from the same
            # environ key (HTTP_X_HTTP_METHOD_OVERRIDE) as the spelling with hyphens.
            found.overrides.append(value)
    return found


def method_override(headers: RequestHeaders, query_string: bytes) -> str | None:
    """Return the method that a request overrides its own with, or ``None`` when it has none.

    A request names an override in a method-override header or a ``_method`` query parameter.
    Raises :class:`BadRequest` when it names more than one method or a value that is not a
    method.
    """
    # Most requests have no override header and no query that could name _method. The
    # searches use find(): on CPython 3.11, "in" on bytes first tries its operand as an
    # integer, raising and clearing a TypeError for a bytes operand, which costs more than
    # the search.
    if not headers.overrides and query_string.find(b"method") < 0 and query_string.find(b"%") < 0:
        return None
    values = [value.decode("latin-1").strip() for value in headers.overrides]
    # Frameworks decode parameter names, so a query with any escape is parsed as well.
    # ";" separates parameters for some of them, and a blank value still names an override.
    if b"method" in query_string or b"%" in query_string:
        query = query_string.decode("latin-1").replace(";", "&")
        values += [
            value
            for name, value in parse_qsl(query, keep_blank_values=True)
            if name == _OVERRIDE_PARAMETER
        ]
    if not values:
        return None

    methods = {value.upper() for value in values}
    if len(methods) > 1:
        raise BadRequest("the request asks for more than one method override")
    method = methods.pop()
    if _METHOD_TOKEN.fullmatch(method) is None:
        raise BadRequest("the method override is not a valid method name")
    return method

"""Route scope strings in the Canvas LMS notation.

A route scope grants one HTTP method on one route template and reads
``url:<VERB>|<path template>``, for example ``url:GET|/api/v1/courses/:course_id/files``.
Any other scope string (``/auth/userinfo``, a URI, an OAuth scope such as ``profile``) is
opaque: scopeguard keeps it, lists it and compares it, but it never grants a route.

Tokens are checked by exact string membership, so this module only matters where scope
strings are written or read by people: route tables, the command line and tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from scopeguard.errors import ScopeSyntaxError

__all__ = [
    "HTTP_METHODS",
    "ROUTE_SCOPE_PREFIX",
    "SCOPE_VERBS",
    "RouteScope",
    "format_scope",
    "is_route_scope",
    "parse_scope",
]

#: HTTP methods a route (and so a route scope) may name. Canvas uses GET, POST, PUT, PATCH
#: and DELETE.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Verbs a route scope may name: the HTTP methods and ``WEBSOCKET``, which a websocket route
#: can carry instead of its default ``GET`` so that its scope differs from a GET route's on
#: the same path. Canvas has no ``WEBSOCKET`` verb.
SCOPE_VERBS = HTTP_METHODS | {"WEBSOCKET"}

ROUTE_SCOPE_PREFIX = "url:"


@dataclass(frozen=True)
class RouteScope:
    """A parsed ``url:<VERB>|<path>`` scope: one method on one route template."""

    verb: str
    path: str

    def __str__(self) -> str:
        return format_scope(self.verb, self.path)

    @classmethod
    def parse(cls, text: str) -> RouteScope:
        """Parse ``text``, raising :class:`ScopeSyntaxError` when it is not a route scope."""
        return parse_scope(text)


def parse_scope(text: str) -> RouteScope:
    """Parse a ``url:<VERB>|<path>`` scope string.

    Raises :class:`ScopeSyntaxError` naming the problem: a missing ``url:`` prefix, a
    missing ``|``, a lower-case or unknown verb, or a path that does not start with ``/``.
    """
    if not text.startswith(ROUTE_SCOPE_PREFIX):
        raise ScopeSyntaxError(text, "a route scope starts with 'url:', as in 'url:GET|/path'")

    verb, bar, path = text[len(ROUTE_SCOPE_PREFIX) :].partition("|")
    if not bar:
        raise ScopeSyntaxError(text, "missing '|' between the verb and the path")
    _check_verb(text, verb)
    if not path.startswith("/"):
        raise ScopeSyntaxError(text, f"the path {path!r} must start with '/'")
    if any(character.isspace() for character in path):
        raise ScopeSyntaxError(text, "the path must not contain whitespace")
    return RouteScope(verb, path)


def format_scope(verb: str, path: str) -> str:
    """Return the scope string for ``verb`` on ``path``, validating both."""
    text = f"{ROUTE_SCOPE_PREFIX}{verb}|{path}"
    parse_scope(text)
    return text


def is_route_scope(text: str) -> bool:
    """Return whether ``text`` is a well-formed ``url:`` route scope."""
    try:
        parse_scope(text)
    except ScopeSyntaxError:
        return False
    return True


def _check_verb(text: str, verb: str) -> None:
    if verb in SCOPE_VERBS:
        return
    if verb.upper() in SCOPE_VERBS:
        raise ScopeSyntaxError(text, f"the verb must be upper case: {verb.upper()!r}")
    allowed = ", ".join(sorted(SCOPE_VERBS))
    raise ScopeSyntaxError(text, f"unknown verb {verb!r}; use one of {allowed}")

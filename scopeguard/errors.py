"""Exceptions raised by scopeguard.

Configuration errors are raised once, while tables, verifiers and middleware are built.
Denials are raised or returned per request and carry the fields a response needs::

    ScopeGuardError
    ├── ConfigurationError          bad option, route or file, raised at construction
    │   ├── ScopeSyntaxError        a string that is not a valid ``url:`` scope
    │   └── RouteTemplateError      a route template that cannot be compiled
    └── Denial                      a request that may not proceed (status, reason)
        ├── BadRequest              400: the request itself is malformed
        ├── MissingToken            401: no bearer token was sent
        ├── InvalidToken            401: the token is malformed, forged or expired
        ├── InsufficientScope       403: the token lacks the route's scope
        ├── NoRoute                 403: no route of the table matches the path
        └── MethodNotAllowed        405: the path matches, the method does not
"""

from __future__ import annotations

from collections.abc import Collection

__all__ = [
    "BadRequest",
    "ConfigurationError",
    "Denial",
    "InsufficientScope",
    "InvalidToken",
    "MethodNotAllowed",
    "MissingToken",
    "NoRoute",
    "RouteTemplateError",
    "ScopeGuardError",
    "ScopeSyntaxError",
    "UnknownToken",
]


class ScopeGuardError(Exception):
    """Base class of every exception scopeguard raises."""


class ConfigurationError(ScopeGuardError, ValueError):
    """An option, route or route file is invalid. Raised at construction, never per request."""


class ScopeSyntaxError(ConfigurationError):
    """A string that was parsed as a ``url:`` scope does not follow ``url:<VERB>|<path>``."""

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(f"invalid scope {text!r}: {problem}")
        self.text = text
        self.problem = problem


class RouteTemplateError(ConfigurationError):
    """A route template cannot be compiled. The message names the template and the fix."""

    def __init__(self, template: str, problem: str) -> None:
        super().__init__(f"invalid route template {template!r}: {problem}")
        self.template = template
        self.problem = problem


class Denial(ScopeGuardError):
    """A request that may not proceed, with the HTTP status and the RFC 6750 error code.

    ``reason`` is a short sentence safe to send to the client: it never contains the token.
    """

    status_code: int = 403
    error_code: str | None = None

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(Denial):
    """The request is malformed, for example its path contains a control character."""

    status_code = 400
    error_code = "invalid_request"


class MissingToken(Denial):
    """No bearer token was sent. RFC 6750 section 3.1 sends no error code in this case."""

    status_code = 401
    error_code = None


class InvalidToken(Denial):
    """The token is malformed, has a bad signature, has expired or carries a bad claim."""

    status_code = 401
    error_code = "invalid_token"


class UnknownToken(InvalidToken):
    """A token source cannot claim the token: it is not of the source's kind, such as an
    opaque token given to a JWT verifier, or the source has no record of it. With several
    sources, the next one is asked.

    ``specific`` is true when the reason names a cause that concerns this token, such as
    an unknown key id, rather than only that the token is not of the source's kind.
    """

    def __init__(self, reason: str, *, specific: bool = False) -> None:
        super().__init__(reason)
        self.specific = specific


class InsufficientScope(Denial):
    """The token is valid but does not carry the scope that the matched route requires."""

    status_code = 403
    error_code = "insufficient_scope"

    def __init__(self, reason: str, *, required_scope: str, route: str) -> None:
        super().__init__(reason)
        self.required_scope = required_scope
        self.route = route


class NoRoute(Denial):
    """No route of the table matches the request path, so no scope can grant it."""

    status_code = 403
    error_code = "insufficient_scope"


class MethodNotAllowed(Denial):
    """A route matches the path, but none of the matching routes accepts the method."""

    status_code = 405
    error_code = None

    def __init__(self, reason: str, *, allowed_methods: Collection[str]) -> None:
        super().__init__(reason)
        self.allowed_methods = tuple(sorted(allowed_methods))

"""Compatibility with Canvas LMS deployments, for APIs that move from Canvas's behaviour.

Canvas differs from scopeguard's defaults in three ways, which
:class:`CanvasCompatibility` reproduces when passed to the middleware as
``compatibility``:

* A token without the route's scope gets 401 with Canvas's body,
  ``{"errors":[{"message":"Insufficient scopes on access token."}]}``, where scopeguard
  sends 403 ``insufficient_scope`` as RFC 6750 defines it.
* A token that carries no scope claim at all is unrestricted, as Canvas treats tokens of
  developer keys without "require scopes". By default such a token grants nothing.
* Routes on an always-allowed list need a valid token but no scope.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Final

from scopeguard.errors import ConfigurationError
from scopeguard.scopes import HTTP_METHODS
from scopeguard.table import Route, RouteTable
from scopeguard.tokens import DEFAULT_SCOPE_CLAIMS, TokenInfo

__all__ = ["CANVAS_INSUFFICIENT_SCOPE_MESSAGE", "CanvasCompatibility"]

#: The message of Canvas's response to a token without the route's scope.
CANVAS_INSUFFICIENT_SCOPE_MESSAGE: Final = "Insufficient scopes on access token."


@dataclass(frozen=True)
class CanvasCompatibility:
    """Canvas's responses to scope failures, for a migration; see the module docs.

    :param always_allowed: ``(method, route template)`` pairs, such as
        ``("GET", "/api/v1/users/:id")``, whose routes need a valid token but no scope.
        A pair matches the route with the same scope, so either template notation works.
        The middleware raises :class:`ConfigurationError` at startup for a pair that
        matches no route.
    :param unscoped_tokens: when true (default), a token without any of ``scope_claims``
        is unrestricted.
    :param scope_claims: the claims whose absence makes a token unscoped.

    .. warning:: Each difference weakens the default. Unscoped tokens reach every route,
       and always-allowed routes accept a token issued for any other purpose.
    """

    always_allowed: Collection[tuple[str, str]] = ()
    unscoped_tokens: bool = True
    scope_claims: Sequence[str] = DEFAULT_SCOPE_CLAIMS
    _allowed: dict[str, tuple[str, str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        allowed: dict[str, tuple[str, str]] = {}
        for pair in self.always_allowed:
            if (
                not isinstance(pair, tuple)
                or len(pair) != 2
                or pair[0] not in HTTP_METHODS
                or not isinstance(pair[1], str)
                or not pair[1].startswith("/")
            ):
                raise ConfigurationError(
                    f"always_allowed entries must be (method, route template) pairs such as "
                    f"('GET', '/api/v1/users/:id'), got {pair!r}"
                )
            # Compared by scope, so Canvas (:id) and Starlette ({id}) notation both match.
            allowed[Route(pair[0], pair[1]).scope] = pair
        if not isinstance(self.unscoped_tokens, bool):
            raise ConfigurationError("unscoped_tokens must be True or False")
        object.__setattr__(self, "_allowed", allowed)

    def is_always_allowed(self, route: Route) -> bool:
        """Return whether ``route`` needs no scope: its scope is that of a listed pair."""
        return route.scope in self._allowed

    def is_unscoped(self, token: TokenInfo) -> bool:
        """Return whether ``token`` counts as unrestricted: it carries no scope claim."""
        return self.unscoped_tokens and not any(name in token.claims for name in self.scope_claims)

    def check_table(self, table: RouteTable) -> None:
        """Raise :class:`ConfigurationError` for an always-allowed pair that matches no
        route of ``table``, since it would silently allow nothing."""
        scopes = {route.scope for route in table}
        for scope, pair in self._allowed.items():
            if scope not in scopes:
                raise ConfigurationError(
                    f"always_allowed {pair!r} matches no route of the table (scope {scope})"
                )

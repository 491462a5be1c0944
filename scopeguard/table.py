"""Routes and the route table that resolves a request to exactly one of them.

The table compiles every template into a segment trie once, at construction. Resolving
walks the trie segment by segment, so its cost grows with the length of the path and the
number of routes that actually match it, not with the size of the table. Among the routes
that match, the table's precedence picks one:

``first_declared``
    The route declared first wins, as Rails and Starlette dispatch.
``most_specific``
    Routes are compared segment by segment from the left. A literal segment beats a
    segment that mixes literals and parameters, which beats a parameter, which beats a
    glob. Ties go to the route declared first. OpenAPI documents are matched this way.
``all_matching``
    For tables that do not know which route the app dispatches, such as one loaded from a
    scope catalogue, which keeps neither converters nor declaration order. The most
    specific route is the result, and every other matching route of the method is listed
    in ``also_required``: the policy then requires all of their scopes, so whichever route
    the app runs, the token carries its scope.

A HEAD request resolves among the HEAD routes that match the path and, when there are
none, among the GET routes, so it needs the GET route's scope. A websocket handshake
resolves with the method ``WEBSOCKET`` among the routes of that method, which HTTP
requests never match, and falls back to the GET routes the same way.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal, NamedTuple

from scopeguard.errors import ConfigurationError, RouteTemplateError
from scopeguard.scopes import HTTP_METHODS, SCOPE_VERBS, format_scope
from scopeguard.templates import (
    SEGMENT_PATTERN,
    Glob,
    Param,
    RouteTemplate,
    Token,
    compile_host,
    compile_template,
)
from scopeguard.templates import Literal as LiteralToken

__all__ = [
    "PRECEDENCES",
    "ROUTE_METHODS",
    "WEBSOCKET",
    "Outcome",
    "Precedence",
    "Resolution",
    "Route",
    "RouteTable",
]

#: The method of a route that only websocket handshakes match. Its scope has the verb GET, because
#: a handshake is an HTTP GET, unless the route sets another ``scope_method``.
WEBSOCKET: Final = "WEBSOCKET"
#: Methods a route may have: the HTTP methods and :data:`WEBSOCKET`.
ROUTE_METHODS: Final = HTTP_METHODS | {WEBSOCKET}

Precedence = Literal["first_declared", "most_specific", "all_matching"]
PRECEDENCES: Final[tuple[Precedence, ...]] = ("first_declared", "most_specific", "all_matching")

# Segment ranks for ``most_specific``: lower is more specific. The lint checks share them.
LITERAL_RANK, MIXED_RANK, PARAM_RANK, GLOB_RANK = 0, 1, 2, 3


@dataclass(frozen=True)
class Route:
    """One method on one path template, with the metadata the scope catalogue lists.

    ``path`` is the template as written (see :mod:`scopeguard.templates`). ``scope`` is
    computed from it: ``url:<scope method>|<scope path>``. A ``public`` route needs no
    token. ``host``, a Starlette ``Host`` template such as ``{tenant}.example.org``,
    limits the route to requests whose ``Host`` header matches it, as a Starlette
    ``Host`` route does. ``scope_method`` is the method written in the scope when it
    differs from ``method``: routes read from a Starlette app set it to ``GET`` for the
    HEAD that Starlette adds to every GET route, so HEAD needs the GET scope. A
    ``WEBSOCKET`` route's scope has the verb ``GET`` unless ``scope_method`` says
    otherwise; ``scope_method="WEBSOCKET"`` gives it a scope of its own. A
    ``report_only`` route is decided as usual, but a request it would deny passes to the
    app; see :class:`~scopeguard.ScopeGuardMiddleware`.
    Raises :class:`ConfigurationError` for an unknown method or an invalid template.
    """

    method: str
    path: str
    resource: str | None = None
    resource_name: str | None = None
    controller: str | None = None
    action: str | None = None
    public: bool = False
    host: str | None = None
    scope_method: str | None = None
    report_only: bool = False
    template: RouteTemplate = field(init=False, repr=False, compare=False)
    host_matcher: Callable[[str | None], bool] | None = field(init=False, repr=False, compare=False)
    scope: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or self.method not in ROUTE_METHODS:
            hint = (
                f"write it in upper case, {self.method.upper()!r}"
                if isinstance(self.method, str) and self.method.upper() in ROUTE_METHODS
                else f"use one of {', '.join(sorted(ROUTE_METHODS))}"
            )
            raise ConfigurationError(
                f"route {self.method!r} {self.path!r}: unknown method {self.method!r}; {hint}"
            )
        # A websocket route may carry any scope verb; an HTTP route only an HTTP method.
        verbs = SCOPE_VERBS if self.method == WEBSOCKET else HTTP_METHODS
        if self.scope_method is not None and self.scope_method not in verbs:
            raise ConfigurationError(
                f"route {self.method} {self.path!r}: unknown scope_method {self.scope_method!r}; "
                f"use one of {', '.join(sorted(verbs))}"
            )
        try:
            template = compile_template(self.path)
            host_matcher = compile_host(self.host) if self.host is not None else None
        except RouteTemplateError as exc:
            raise RouteTemplateError(
                exc.template, f"{exc.problem} (route {self.method} {self.path})"
            ) from None
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "host_matcher", host_matcher)
        scope_method = self.scope_method or ("GET" if self.method == WEBSOCKET else self.method)
        object.__setattr__(self, "scope", format_scope(scope_method, template.scope_path))

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


class Outcome(enum.Enum):
    """The kind of result of resolving a request: a route, no route, or a path whose
    routes do not accept the method."""

    MATCHED = "matched"
    NO_ROUTE = "no_route"
    METHOD_NOT_ALLOWED = "method_not_allowed"


@dataclass(frozen=True)
class Resolution:
    """The result of :meth:`RouteTable.resolve`.

    ``route`` is set only when ``outcome`` is ``MATCHED``. ``allowed_methods`` lists the
    methods of every route matching the path (HEAD included where GET is), so it is empty
    for ``NO_ROUTE``. ``also_required`` is set only under ``all_matching`` precedence: the
    other matching routes of the method, with scopes other than ``route``'s, all of which
    the token must carry as well.
    """

    outcome: Outcome
    route: Route | None = None
    allowed_methods: tuple[str, ...] = ()
    also_required: tuple[Route, ...] = ()


#: Most resolutions a table remembers. Each is one combination of a method and the
#: entries that matched a path, so real tables stay far below it.
_MAX_REMEMBERED_RESOLUTIONS: Final = 65_536


class _Entry(NamedTuple):
    route: Route
    method: str
    # The precedence key, lowest wins: the declaration order for first_declared, the
    # segment ranks and then the declaration order for most_specific.
    key: tuple[int, ...]


class _Node:
    __slots__ = ("entries", "literals", "mixed", "params", "tails")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        # (pattern text, compiled pattern or None for any non-empty segment, child)
        self.params: list[tuple[str, re.Pattern[str] | None, _Node]] = []
        self.mixed: list[tuple[str, re.Pattern[str], _Node]] = []
        # A tail matches the rest of the path, from this segment on, with one regex.
        self.tails: list[tuple[re.Pattern[str], _Entry]] = []
        self.entries: list[_Entry] = []


_NO_ROUTE = Resolution(Outcome.NO_ROUTE)


class RouteTable:
    """An ordered, validated set of routes that resolves ``(method, path)`` to one route.

    Raises :class:`ConfigurationError` when a route is invalid (the message names the
    route by its position and template) or the precedence is unknown.
    """

    def __init__(
        self, routes: Iterable[Route], *, precedence: Precedence = "first_declared"
    ) -> None:
        if precedence not in PRECEDENCES:
            raise ConfigurationError(
                f"unknown precedence {precedence!r}; use one of {', '.join(PRECEDENCES)}"
            )

        self.routes: tuple[Route, ...] = tuple(routes)
        self.precedence: Precedence = precedence
        self._root = _Node()
        for order, route in enumerate(self.routes):
            if not isinstance(route, Route):
                raise ConfigurationError(
                    f"route {order}: expected a scopeguard.Route, got {type(route).__name__}"
                )
            for variant in route.template.variants:
                self._insert(order, route, variant)
        self._has_host_routes = any(route.host is not None for route in self.routes)
        self._has_websocket_routes = any(route.method == WEBSOCKET for route in self.routes)
        self._resolutions: dict[tuple[object, ...], Resolution] = {}

    def __len__(self) -> int:
        return len(self.routes)

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def __repr__(self) -> str:
        return f"RouteTable(<{len(self.routes)} routes>, precedence={self.precedence!r})"

    @property
    def has_host_routes(self) -> bool:
        """Whether any route is limited to a host, so resolving needs the ``Host`` header."""
        return self._has_host_routes

    def resolve(self, method: str, path: str, host: str | None = None) -> Resolution:
        """Resolve a request method and a decoded path (as ASGI's ``path``) to one route.

        ``host`` is the request's ``Host`` header value, or ``None`` when it has none. It
        matters only for routes with a ``host``, which match it as Starlette's ``Host``
        route does.
        """
        matches = self._match(path)
        if matches and self._has_host_routes:
            matches = [
                entry
                for entry in matches
                if entry.route.host_matcher is None or entry.route.host_matcher(host)
            ]
        if matches and self._has_websocket_routes and method != WEBSOCKET:
            # An HTTP request never matches a websocket route, as in Starlette, so a path
            # with only websocket routes has no route for it rather than a 405.
            matches = [entry for entry in matches if entry.method != WEBSOCKET]
        if not matches:
            return _NO_ROUTE

        # The outcome depends only on the method and the entries that matched, so it is
        # remembered under their identities. The entries live as long as the table.
        if len(matches) == 1:
            key: tuple[str | int, ...] = (method, id(matches[0]))
        else:
            key = (method, *map(id, matches))
        resolution = self._resolutions.get(key)
        if resolution is None:
            resolution = self._choose(method, matches)
            if len(self._resolutions) < _MAX_REMEMBERED_RESOLUTIONS:
                self._resolutions[key] = resolution
        return resolution

    def _choose(self, method: str, matches: list[_Entry]) -> Resolution:
        """Return the resolution among ``matches``, the entries that match the path."""
        # HEAD falls back to the GET routes, and a websocket handshake (WEBSOCKET) to the
        # GET routes too, when no route of their own matches the path.
        route_method = method
        if method in ("HEAD", WEBSOCKET) and not any(entry.method == method for entry in matches):
            route_method = "GET"

        # One pass finds the best candidate under the precomputed precedence key and
        # collects the methods of every matching route for a 405.
        best: _Entry | None = None
        allowed: set[str] = set()
        for entry in matches:
            allowed.add(entry.method)
            if entry.method == route_method and (best is None or entry.key < best.key):
                best = entry

        if "GET" in allowed:
            allowed.add("HEAD")
        allowed_methods = tuple(sorted(allowed))
        if best is None:
            return Resolution(Outcome.METHOD_NOT_ALLOWED, allowed_methods=allowed_methods)
        if self.precedence != "all_matching":
            return Resolution(Outcome.MATCHED, best.route, allowed_methods)

        others: dict[str, Route] = {}
        for entry in matches:
            if entry.method == route_method and entry.route.scope != best.route.scope:
                others.setdefault(entry.route.scope, entry.route)
        return Resolution(Outcome.MATCHED, best.route, allowed_methods, tuple(others.values()))

    def _match(self, path: str) -> list[_Entry]:
        """Return an entry for every template variant that matches ``path``."""
        if not path.startswith("/"):
            return []

        segments = path[1:].split("/")
        count = len(segments)
        found: list[_Entry] = []
        stack: list[tuple[_Node, int]] = [(self._root, 0)]
        while stack:
            node, index = stack.pop()
            while True:
                if node.tails and index < count:
                    rest = "/".join(segments[index:])
                    found.extend(entry for regex, entry in node.tails if regex.fullmatch(rest))
                if index == count:
                    found.extend(node.entries)
                    break

                segment = segments[index]
                child = node.literals.get(segment)
                if not node.mixed and not node.params:
                    # The literal child is the only branch, and it would be popped next, so
                    # descending at once visits the nodes in the same order.
                    if child is None:
                        break
                    node = child
                    index += 1
                    continue
                if child is not None:
                    stack.append((child, index + 1))
                for _, regex, child in node.mixed:
                    if regex.fullmatch(segment):
                        stack.append((child, index + 1))
                for _, pattern, child in node.params:
                    if segment if pattern is None else pattern.fullmatch(segment):
                        stack.append((child, index + 1))
                break
        return found

    def _insert(self, order: int, route: Route, variant: tuple[Token, ...]) -> None:
        segments, tail = split_segments(variant)
        node = self._root
        rank: list[int] = []
        for segment in segments:
            if all(isinstance(token, LiteralToken) for token in segment):
                text = "".join(token.text for token in segment if isinstance(token, LiteralToken))
                node = node.literals.setdefault(text, _Node())
                rank.append(LITERAL_RANK)
            elif len(segment) == 1 and isinstance(segment[0], Param):
                node = _param_child(node, segment[0].pattern)
                rank.append(PARAM_RANK)
            else:
                node = _mixed_child(node, tokens_regex(segment))
                rank.append(MIXED_RANK)
        if tail is not None:
            rank.append(GLOB_RANK)

        key = (order,) if self.precedence == "first_declared" else (*rank, -1, order)
        # all_matching picks its reported route as most_specific does.
        entry = _Entry(route, route.method, key)
        if tail is None:
            node.entries.append(entry)
        else:
            node.tails.append((re.compile(tokens_regex(tail)), entry))


def split_segments(
    variant: tuple[Token, ...],
) -> tuple[list[list[Token]], tuple[Token, ...] | None]:
    """Split a variant at ``/`` into segments, up to the segment holding the first glob.

    Returns the segments before that one and the tokens from its start to the end (the
    tail), or ``None`` when the variant has no glob.
    """
    # Every variant starts with the template's leading "/", which compile_template checks.
    first = variant[0]
    leading = first.text[1:] if isinstance(first, LiteralToken) else ""
    tokens: list[Token] = [LiteralToken(leading), *variant[1:]]

    segments: list[list[Token]] = []
    current: list[Token] = []
    for position, token in enumerate(tokens):
        if isinstance(token, Glob):
            return segments, (*current, *tokens[position:])
        if isinstance(token, LiteralToken):
            pieces = token.text.split("/")
            if pieces[0]:
                current.append(LiteralToken(pieces[0]))
            for piece in pieces[1:]:
                segments.append(current)
                current = [LiteralToken(piece)] if piece else []
        else:
            current.append(token)
    segments.append(current)
    return segments, None


def tokens_regex(tokens: Iterable[Token]) -> str:
    pieces: list[str] = []
    for token in tokens:
        if isinstance(token, LiteralToken):
            pieces.append(re.escape(token.text))
        else:
            pieces.append(f"(?:{token.pattern})")
    return "".join(pieces)


def _param_child(parent: _Node, pattern: str) -> _Node:
    for existing, _, node in parent.params:
        if existing == pattern:
            return node
    node = _Node()
    compiled = None if pattern == SEGMENT_PATTERN else re.compile(pattern)
    parent.params.append((pattern, compiled, node))
    return node


def _mixed_child(parent: _Node, pattern: str) -> _Node:
    for existing, _, node in parent.mixed:
        if existing == pattern:
            return node
    node = _Node()
    parent.mixed.append((pattern, re.compile(pattern), node))
    return node

"""Static checks of a route table: shadowed and overlapping routes, table differences and
scopes that grant nothing.

Every check returns :class:`Finding` objects and prints nothing. The checks:

``shadowed-route`` (error)
    A route that no request ever resolves to, because every path it matches also matches
    routes of the same method that take precedence. Under ``first_declared`` those are
    routes declared earlier, and under ``most_specific`` routes that rank ahead, or rank
    the same and are declared earlier. Routes of other methods never shadow a route. HEAD
    requests and websocket handshakes fall back to the GET routes in the same order as GET
    requests, so a GET route that no GET request reaches is not reached by them either.
``overlapping-routes`` (warning)
    A route that shares paths with routes of the same method and another scope that take
    precedence on those paths, so requests for them need the other route's scope. One
    finding lists, for one route, every such route with an example path.
``missing-route`` (error)
    A scope that the routes of one table have and no route of the other table has.
``unknown-scope``, ``invalid-scope`` (errors) and ``unprefixed-scope`` (warning)
    A ``url:`` scope that no route has, a ``url:`` scope that does not parse, and a
    ``VERB|/path`` scope without the ``url:`` prefix, which is opaque and grants no route.

A route is reported as shadowed only with a proof: each variant of its template (one per
choice of optional groups) is contained in a variant of a route that takes precedence.
Containment is shown segment by segment. A literal is contained in an equal literal and
in a parameter whose pattern fully matches it. A parameter is contained in a parameter
with the same pattern, in a ``[^/]+`` parameter, and an ``int`` one in a ``float`` one.
In a mixed segment or a glob tail, each parameter or glob of the outer variant must take
a run of the inner variant that it matches whatever values the run takes. Where no proof
is found, the route is not reported. Overlaps are reported only with an example path that
both templates match.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from scopeguard._shapes import Shape, disjoint, shape_common, shape_covers
from scopeguard.errors import RouteTemplateError, ScopeSyntaxError
from scopeguard.scopes import ROUTE_SCOPE_PREFIX, parse_scope
from scopeguard.table import Outcome, Route, RouteTable
from scopeguard.templates import compile_template

__all__ = [
    "Finding",
    "Severity",
    "check_scopes",
    "compare_tables",
    "find_overlapping_routes",
    "find_shadowed_routes",
    "find_shared_scopes",
    "lint_table",
]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem found in a route table or a list of scopes.

    ``code`` names the check (see :mod:`scopeguard.lint`). ``routes`` lists the routes
    involved, the route the finding is about first: for ``shadowed-route``, the shadowed
    route and then the routes that take its paths, and for ``overlapping-routes``, the
    route and then the routes that take precedence over it. ``paths`` contains example
    request paths: one per variant of a shadowed route, and for an overlap one path per
    route after the first, which that route and the first both match. ``scope`` is the
    scope a ``missing-route`` or scope finding is about.
    """

    severity: Severity
    code: str
    message: str
    routes: tuple[Route, ...] = ()
    paths: tuple[str, ...] = ()
    scope: str | None = None


def lint_table(table: RouteTable) -> list[Finding]:
    """Check ``table`` for shadowed routes and shared scopes (errors) and overlapping routes
    (warnings)."""
    shared = find_shared_scopes(table)
    if table.precedence == "all_matching":
        return shared
    analysis = _Analysis(table)
    return [*analysis.shadowed_findings(), *shared, *analysis.overlap_findings()]


def find_shared_scopes(table: RouteTable) -> list[Finding]:
    """Return a ``shared-scope`` error for every set of routes that one scope grants although
    they are different routes: routes on different hosts, or routes whose templates differ
    only in their converters.

    A scope names no host and no converter, so a token for one of them reaches all. Routes
    whose templates differ in more, such as ``download`` and ``download.:type``, share a
    scope by design, as in Canvas, and are not reported.
    """
    groups: dict[tuple[str, str], list[Route]] = defaultdict(list)
    for route in table.routes:
        groups[route.scope, route.template.canvas_path].append(route)

    positions = {id(route): position for position, route in enumerate(table.routes)}
    findings: list[Finding] = []
    for (scope, _), routes in groups.items():
        distinct = {(route.template.regex.pattern, route.host) for route in routes}
        if len(distinct) < 2:
            continue
        first, *others = routes
        names = _join([_route_label(route, positions[id(route)]) for route in others])
        findings.append(
            Finding(
                "error",
                "shared-scope",
                f"{_route_label(first, positions[id(first)])} shares the scope {scope} with "
                f"{names}, so a "
                "token for one reaches the others; give them different paths, because a "
                "scope names neither hosts nor converters",
                tuple(routes),
                scope=scope,
            )
        )
    return findings


def find_shadowed_routes(table: RouteTable) -> list[Finding]:
    """Return a ``shadowed-route`` error for every route of ``table`` that no request reaches.

    Under ``all_matching`` precedence every matching route's scope is required, so no
    route is shadowed and the list is empty.
    """
    if table.precedence == "all_matching":
        return []
    return _Analysis(table).shadowed_findings()


def find_overlapping_routes(table: RouteTable) -> list[Finding]:
    """Return an ``overlapping-routes`` warning for every route of ``table`` that shares paths
    with routes of the same method and another scope that take precedence over it.

    Shadowed routes are left out, because :func:`find_shadowed_routes` reports them.
    Under ``all_matching`` precedence no route takes precedence, so the list is empty.
    """
    # NOTE: under all_matching, overlapping routes make a request need several scopes,
    # which no finding reports yet.
    if table.precedence == "all_matching":
        return []
    return _Analysis(table).overlap_findings()


def compare_tables(
    table: RouteTable,
    other: RouteTable,
    *,
    table_name: str = "the table",
    other_name: str = "the other table",
) -> list[Finding]:
    """Return a ``missing-route`` error for every scope that the routes of one table have
    and no route of the other has, in both directions.

    Routes are compared by scope, which is the scope method and the scope path. So routes
    that differ only in a format suffix or in template syntax compare equal, and so do a
    GET route and the HEAD and websocket routes that carry its GET scope. ``table_name``
    and ``other_name`` name the tables in the messages.
    """
    findings = _missing_scopes(table, other, table_name, other_name)
    findings += _missing_scopes(other, table, other_name, table_name)
    return findings


def check_scopes(
    table: RouteTable, scopes: Iterable[str], *, origin: str | None = None
) -> list[Finding]:
    """Check each of ``scopes`` against the routes of ``table``, once per distinct scope.

    A ``url:`` scope that does not parse is an ``invalid-scope`` error, and one that no
    route has is an ``unknown-scope`` error. A ``VERB|/path`` scope without the ``url:``
    prefix gets an ``unprefixed-scope`` warning. Other scopes are opaque and pass.
    ``origin`` (such as ``"the token"``) is named in the messages.
    """
    route_scopes = {route.scope for route in table}
    source = f" from {origin}" if origin else ""
    findings: list[Finding] = []
    for scope in dict.fromkeys(scopes):
        finding = _scope_finding(table, route_scopes, scope, source)
        if finding is not None:
            findings.append(finding)
    return findings


# --- Scope and table comparison --------------------------------------------------------------


def _missing_scopes(
    table: RouteTable, other: RouteTable, table_name: str, other_name: str
) -> list[Finding]:
    other_scopes = {route.scope for route in other}
    routes_by_scope: dict[str, list[Route]] = defaultdict(list)
    for route in table:
        if route.scope not in other_scopes:
            routes_by_scope[route.scope].append(route)

    findings = []
    for scope, routes in routes_by_scope.items():
        names = ", ".join(str(route) for route in routes)
        findings.append(
            Finding(
                "error",
                "missing-route",
                f"{scope} ({names}) is in {table_name}, but no route of {other_name} has it",
                routes=tuple(routes),
                scope=scope,
            )
        )
    return findings


def _scope_finding(
    table: RouteTable, route_scopes: Collection[str], scope: str, source: str
) -> Finding | None:
    if not scope.startswith(ROUTE_SCOPE_PREFIX):
        if "|" in scope and _parses(ROUTE_SCOPE_PREFIX + scope):
            message = (
                f"scope {scope!r}{source} has no {ROUTE_SCOPE_PREFIX!r} prefix, so it is an "
                f"opaque scope and grants no route; write {ROUTE_SCOPE_PREFIX + scope!r}"
            )
            return Finding("warning", "unprefixed-scope", message, scope=scope)
        return None

    try:
        parsed = parse_scope(scope)
    except ScopeSyntaxError as exc:
        message = f"scope {scope!r}{source} is invalid ({exc.problem}), so it grants no route"
        return Finding("error", "invalid-scope", message, scope=scope)
    if scope in route_scopes:
        return None

    message = f"scope {scope!r}{source} matches no route of the table, so it grants nothing"
    hint = _scope_hint(table, parsed.verb, parsed.path)
    if hint:
        message += f"; {hint}"
    return Finding("error", "unknown-scope", message, scope=scope)


def _scope_hint(table: RouteTable, verb: str, path: str) -> str | None:
    """Suggest the scope that was probably meant, or return ``None``.

    A scope path with parameters (``:id``, ``{id}``, ``*rest``) is compared by structure
    with the routes' templates, so only a route that matches exactly the same paths is
    named. A concrete path is resolved as a request would be, and the route it reaches is
    named.
    """
    try:
        template = compile_template(path)
    except RouteTemplateError:
        return None
    pattern = template.regex.pattern

    # Starlette notation or a format part: the same route, written in another way.
    canonical = f"{ROUTE_SCOPE_PREFIX}{verb}|{template.scope_path}"
    if any(route.scope == canonical for route in table.routes):
        return f"the route's scope is written {canonical}"

    if any(character in path for character in ":*{("):
        same = [
            route
            for route in table.routes
            if (route.scope_method or route.method) == verb
            and route.template.regex.pattern == pattern
        ]
        if not same:
            return None
        return f"the route {same[0]}, whose scope is {same[0].scope}, has the same template"

    resolution = table.resolve(verb, path)
    if resolution.outcome is not Outcome.MATCHED or resolution.route is None:
        return None
    route = resolution.route
    return f"{verb} {path} resolves to {route}, whose scope is {route.scope}"


def _parses(scope: str) -> bool:
    try:
        parse_scope(scope)
    except ScopeSyntaxError:
        return False
    return True


# --- Shadowed and overlapping routes ----------------------------------------------------------


class _Analysis:
    """The shapes and precedence keys of every route of a table, computed once."""

    def __init__(self, table: RouteTable) -> None:
        self.table = table
        self.routes = table.routes
        self.shapes = [
            tuple(Shape.of(variant) for variant in route.template.variants) for route in self.routes
        ]
        self.keys = [
            tuple(self._key(position, shape) for shape in shapes)
            for position, shapes in enumerate(self.shapes)
        ]
        self.positions_by_method: dict[str, list[int]] = defaultdict(list)
        for position, route in enumerate(self.routes):
            self.positions_by_method[route.method].append(position)
        self._covering: dict[int, tuple[int, ...]] | None = None

    def _key(self, position: int, shape: Shape) -> tuple[int, ...]:
        # The key the route table gives a variant: lowest wins among the variants that
        # match a request.
        if self.table.precedence == "first_declared":
            return (position,)
        return (*shape.rank, -1, position)

    def covering_routes(self) -> dict[int, tuple[int, ...]]:
        """Map each shadowed route's position to the positions of the routes that take its
        paths, one per variant."""
        if self._covering is None:
            self._covering = {}
            for position in range(len(self.routes)):
                covering = self._covering_of(position)
                if covering is not None:
                    self._covering[position] = covering
        return self._covering

    def _covering_of(self, position: int) -> tuple[int, ...] | None:
        route = self.routes[position]
        shapes, keys = self.shapes[position], self.keys[position]
        candidates = [
            other
            for other in self.positions_by_method[route.method]
            if other != position and _host_shadows(self.routes[other], route)
        ]

        covering: list[int] = []
        for shape in shapes:
            # On a path of this variant, the route's key is the lowest key of its variants
            # that match the path, and a variant proven disjoint from this one never does.
            threshold = min(
                key
                for other_shape, key in zip(shapes, keys, strict=True)
                if other_shape is shape or not disjoint(shape, other_shape)
            )
            taker = self._taker(shape, threshold, candidates)
            if taker is None:
                return None
            covering.append(taker)
        return tuple(covering)

    def _taker(self, shape: Shape, threshold: tuple[int, ...], candidates: list[int]) -> int | None:
        """Return the first candidate with a variant that contains ``shape`` and has a key
        below ``threshold``, or None."""
        for other in candidates:
            if min(self.keys[other]) >= threshold:
                continue
            # A path of the variant that the candidate's template does not match rules the
            # candidate out before the slower containment check.
            if shape.example is not None and not self.routes[other].template.matches(shape.example):
                continue
            for other_shape, key in zip(self.shapes[other], self.keys[other], strict=True):
                if key < threshold and shape_covers(shape, other_shape):
                    return other
        return None

    def shadowed_findings(self) -> list[Finding]:
        findings = []
        for position, covering in self.covering_routes().items():
            route = self.routes[position]
            takers = list(dict.fromkeys(covering))
            names = _join([self._describe(other) for other in takers])
            precedence_reason = (
                "declared earlier"
                if self.table.precedence == "first_declared"
                else "ranked ahead of it under most_specific precedence"
            )
            verb = "matches" if len(takers) == 1 else "match"
            examples = [shape.example for shape in self.shapes[position] if shape.example]
            paths = tuple(dict.fromkeys(examples))
            such_as = f", such as {_join(list(paths))}" if paths else ""
            message = (
                f"{self._describe(position)} is never reached, because {names}, "
                f"{precedence_reason}, {verb} every path it matches{such_as}"
            )
            findings.append(
                Finding(
                    "error",
                    "shadowed-route",
                    message,
                    routes=(route, *(self.routes[other] for other in takers)),
                    paths=paths,
                )
            )
        return findings

    def overlap_findings(self) -> list[Finding]:
        shadowed = self.covering_routes()
        # NOTE: every pair of routes with the same method is compared, so the time grows
        # with the square of the number of routes per method.
        # For each route that loses on some shared path: (winner position, example path).
        losses: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for positions in self.positions_by_method.values():
            live = [position for position in positions if position not in shadowed]
            for index, first in enumerate(live):
                for second in live[index + 1 :]:
                    overlap = self._overlap(first, second)
                    if overlap is not None:
                        winner, loser, path = overlap
                        losses[loser].append((winner, path))

        findings = []
        for loser in sorted(losses):
            winners = sorted(losses[loser])
            count = len(winners)
            earlier = "earlier " if self.table.precedence == "first_declared" else ""
            plural = "s" if count > 1 else ""
            takes = "take" if count > 1 else "takes"
            items = _join([f"{self._describe(winner)} on {path}" for winner, path in winners])
            message = (
                f"{self._describe(loser)} shares paths with {count} {earlier}route{plural} "
                f"with another scope, which {takes} precedence on those paths: {items}"
            )
            findings.append(
                Finding(
                    "warning",
                    "overlapping-routes",
                    message,
                    routes=(self.routes[loser], *(self.routes[winner] for winner, _ in winners)),
                    paths=tuple(path for _, path in winners),
                )
            )
        return findings

    def _overlap(self, first: int, second: int) -> tuple[int, int, str] | None:
        """Return (winner, loser, example path) when the two routes share a path and have
        different scopes."""
        first_route, second_route = self.routes[first], self.routes[second]
        if first_route.scope == second_route.scope:
            return None
        if not _hosts_overlap(first_route, second_route):
            return None

        for first_shape in self.shapes[first]:
            for second_shape in self.shapes[second]:
                path = shape_common(first_shape, second_shape)
                if path is None:
                    continue
                # The route table's key on this path is the lowest key of the route's
                # variants that match it.
                first_key = self._key_on(first, path)
                second_key = self._key_on(second, path)
                if first_key < second_key:
                    return first, second, path
                return second, first, path
        return None

    def _key_on(self, position: int, path: str) -> tuple[int, ...]:
        return min(
            key
            for shape, key in zip(self.shapes[position], self.keys[position], strict=True)
            if shape.regex.fullmatch(path)
        )

    def _describe(self, position: int) -> str:
        return _route_label(self.routes[position], position)


def _route_label(route: Route, position: int) -> str:
    host = f" on host {route.host}" if route.host is not None else ""
    return f"{route}{host} (route {position + 1})"


def _host_shadows(taker: Route, route: Route) -> bool:
    # A route limited to a host takes only the requests for that host, so it shadows only
    # routes limited to the same host template.
    return taker.host is None or taker.host == route.host


def _hosts_overlap(first: Route, second: Route) -> bool:
    # NOTE: two different host templates are treated as disjoint, although some, such as
    # "{tenant}.example.org" and "api.example.org", match the same host. Overlaps between
    # such routes are not reported.
    return first.host is None or second.host is None or first.host == second.host


def _join(items: Sequence[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]

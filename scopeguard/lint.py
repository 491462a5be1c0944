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

import dataclasses
import functools
import re
from collections import defaultdict, deque
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

from scopeguard.errors import ScopeSyntaxError
from scopeguard.scopes import ROUTE_SCOPE_PREFIX, parse_scope
from scopeguard.table import (
    _GLOB,
    _LITERAL,
    _MIXED,
    _PARAM,
    Outcome,
    Route,
    RouteTable,
    _split_segments,
    _tokens_regex,
)
from scopeguard.templates import CONVERTER_PATTERNS, GLOB_PATTERN, SEGMENT_PATTERN, Param
from scopeguard.templates import Literal as LiteralToken
from scopeguard.templates import Token as TemplateToken

__all__ = [
    "Finding",
    "Severity",
    "check_scopes",
    "compare_tables",
    "find_overlapping_routes",
    "find_shadowed_routes",
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
    """Check ``table`` for shadowed routes (errors) and overlapping routes (warnings)."""
    analysis = _Analysis(table)
    return [*analysis.shadowed_findings(), *analysis.overlap_findings()]


def find_shadowed_routes(table: RouteTable) -> list[Finding]:
    """Return a ``shadowed-route`` error for every route of ``table`` that no request reaches."""
    return _Analysis(table).shadowed_findings()


def find_overlapping_routes(table: RouteTable) -> list[Finding]:
    """Return an ``overlapping-routes`` warning for every route of ``table`` that shares paths
    with routes of the same method and another scope that take precedence over it.

    Shadowed routes are left out, because :func:`find_shadowed_routes` reports them.
    """
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
    # A scope written with a concrete path, another parameter name or Starlette's {name}
    # notation still resolves to the route it was meant for, whose scope is the fix.
    resolution = table.resolve(parsed.verb, parsed.path)
    if resolution.outcome is Outcome.MATCHED and resolution.route is not None:
        route = resolution.route
        message += (
            f"; {parsed.verb} {parsed.path} resolves to {route}, whose scope is {route.scope}"
        )
    return Finding("error", "unknown-scope", message, scope=scope)


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
            tuple(_Shape.of(variant) for variant in route.template.variants)
            for route in self.routes
        ]
        self.keys = [
            tuple(self._key(position, shape) for shape in shapes)
            for position, shapes in enumerate(self.shapes)
        ]
        self.positions_by_method: dict[str, list[int]] = defaultdict(list)
        for position, route in enumerate(self.routes):
            self.positions_by_method[route.method].append(position)
        self._covering: dict[int, tuple[int, ...]] | None = None

    def _key(self, position: int, shape: _Shape) -> tuple[int, ...]:
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
                if other_shape is shape or not _disjoint(shape, other_shape)
            )
            taker = self._taker(shape, threshold, candidates)
            if taker is None:
                return None
            covering.append(taker)
        return tuple(covering)

    def _taker(
        self, shape: _Shape, threshold: tuple[int, ...], candidates: list[int]
    ) -> int | None:
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
                if key < threshold and _shape_covers(shape, other_shape):
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
                path = _shape_common(first_shape, second_shape)
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
        route = self.routes[position]
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


# --- Containment and intersection of template variants ----------------------------------------
#
# A variant is turned into items: single literal characters, parameters (which never match
# "/", because the route table matches them against one segment) and globs (which may).
# A parameter with the pattern [^/]+ and a glob with .+ or .* are wildcards: they match any
# run of characters that contains no "/" (for the parameter) and is not empty (except .*).


class _Item(NamedTuple):
    kind: int
    # The character of a _CHARACTER item, or the pattern of a parameter or glob.
    text: str


_CHARACTER, _PARAMETER, _GLOB_ITEM = 0, 1, 2
_SLASH: Final = _Item(_CHARACTER, "/")

# Pairs (inner, outer) of converter patterns where every value of inner matches outer.
_PATTERN_SUBSETS: Final = frozenset({(CONVERTER_PATTERNS["int"], CONVERTER_PATTERNS["float"])})

# Values tried for a parameter that is not a wildcard when looking for a shared path. The
# UUIDs are all digits, so that they also match the int and float patterns.
_SAMPLE_VALUES: Final = {
    CONVERTER_PATTERNS["int"]: ("1",),
    CONVERTER_PATTERNS["float"]: ("1", "1.5"),
    CONVERTER_PATTERNS["uuid"]: (
        "12345678-1234-5678-1234-567812345678",
        "12345678123456781234567812345678",
    ),
}
# The character a wildcard takes when both sides of an intersection are wildcards.
_WILDCARD_VALUE: Final = "1"


@dataclass(frozen=True)
class _Shape:
    """One variant of a route template, split into segments at "/" as the route table
    splits it: the segments before the first glob, and the rest of the path from the
    segment holding that glob on (the tail)."""

    segments: tuple[tuple[_Item, ...], ...]
    # The text of each segment made only of literal characters, else None.
    literals: tuple[str | None, ...]
    # The regular expression of each segment that has a parameter, else None.
    segment_regexes: tuple[re.Pattern[str] | None, ...]
    tail: tuple[_Item, ...] | None
    rank: tuple[int, ...]
    regex: re.Pattern[str]
    example: str | None

    @classmethod
    def of(cls, variant: tuple[TemplateToken, ...]) -> _Shape:
        token_segments, tail_tokens = _split_segments(variant)
        segments = tuple(_items(segment) for segment in token_segments)
        literals = tuple(
            "".join(item.text for item in segment)
            if all(item.kind == _CHARACTER for item in segment)
            else None
            for segment in segments
        )
        segment_regexes = tuple(
            None if text is not None else re.compile(_tokens_regex(segment))
            for segment, text in zip(token_segments, literals, strict=True)
        )
        tail = _items(tail_tokens) if tail_tokens is not None else None
        rank = tuple(_segment_rank(segment) for segment in token_segments)
        if tail is not None:
            rank += (_GLOB,)
        regex = re.compile(_tokens_regex(variant))
        shape = cls(segments, literals, segment_regexes, tail, rank, regex, None)
        return dataclasses.replace(shape, example=_shape_common(shape, shape))

    def rest(self, start: int) -> tuple[_Item, ...]:
        """Return the items of the path from segment ``start`` on, each segment preceded by
        its "/"."""
        items: list[_Item] = []
        for segment in self.segments[start:]:
            items += (_SLASH, *segment)
        if self.tail is not None:
            items += (_SLASH, *self.tail)
        return tuple(items)


def _items(tokens: Iterable[TemplateToken]) -> tuple[_Item, ...]:
    items: list[_Item] = []
    for token in tokens:
        if isinstance(token, LiteralToken):
            items += (_Item(_CHARACTER, character) for character in token.text)
        elif isinstance(token, Param):
            items.append(_Item(_PARAMETER, token.pattern))
        else:
            items.append(_Item(_GLOB_ITEM, token.pattern))
    return tuple(items)


def _segment_rank(segment: Sequence[TemplateToken]) -> int:
    # The segment ranks of most_specific precedence, as the route table computes them.
    if all(isinstance(token, LiteralToken) for token in segment):
        return _LITERAL
    if len(segment) == 1 and isinstance(segment[0], Param):
        return _PARAM
    return _MIXED


def _disjoint(first: _Shape, second: _Shape) -> bool:
    """Return True only if no path matches both shapes."""
    # A shape with a tail matches paths with more segments than it has before the tail.
    for shape, other in ((first, second), (second, first)):
        if shape.tail is None:
            fewest = len(other.segments) + (1 if other.tail is not None else 0)
            if other.tail is None and len(shape.segments) != fewest:
                return True
            if other.tail is not None and len(shape.segments) < fewest:
                return True

    for index in range(min(len(first.segments), len(second.segments))):
        first_text, second_text = first.literals[index], second.literals[index]
        if first_text is not None and second_text is not None and first_text != second_text:
            return True
        for text, regex in (
            (first_text, second.segment_regexes[index]),
            (second_text, first.segment_regexes[index]),
        ):
            if text is not None and regex is not None and regex.fullmatch(text) is None:
                return True
    return False


def _shape_covers(inner: _Shape, outer: _Shape) -> bool:
    """Return True only if every path that ``inner`` matches also matches ``outer``."""
    if inner.tail is None and outer.tail is None and len(inner.segments) != len(outer.segments):
        return False
    shared = min(len(inner.segments), len(outer.segments))
    for index in range(shared):
        inner_text, outer_text = inner.literals[index], outer.literals[index]
        if inner_text is not None and outer_text is not None:
            if inner_text != outer_text:
                return False
        elif not _covers(inner.segments[index], outer.segments[index]):
            return False
    return _covers(inner.rest(shared), outer.rest(shared))


def _shape_common(left: _Shape, right: _Shape) -> str | None:
    """Return a path that both shapes match, or None when none was found."""
    if left.tail is None and right.tail is None and len(left.segments) != len(right.segments):
        return None
    shared = min(len(left.segments), len(right.segments))
    pieces: list[str] = []
    for index in range(shared):
        left_text, right_text = left.literals[index], right.literals[index]
        if left_text is not None and right_text is not None:
            if left_text != right_text:
                return None
            text: str | None = left_text
        else:
            text = _common_string(left.segments[index], right.segments[index])
        if text is None:
            return None
        pieces.append("/" + text)
    rest = _common_string(left.rest(shared), right.rest(shared))
    if rest is None:
        return None

    path = "".join(pieces) + rest
    # The search builds the path from the items, and the variants' own regular
    # expressions confirm it.
    if left.regex.fullmatch(path) is None or right.regex.fullmatch(path) is None:
        return None
    return path


@functools.lru_cache(maxsize=256)
def _matches_empty(pattern: str) -> bool:
    return re.fullmatch(pattern, "") is not None


def _fullmatches(item: _Item, text: str) -> bool:
    if item.kind == _PARAMETER and "/" in text:
        return False
    return re.fullmatch(item.text, text) is not None


def _is_wildcard(item: _Item) -> bool:
    if item.kind == _PARAMETER:
        return item.text == SEGMENT_PATTERN
    return item.kind == _GLOB_ITEM and item.text in (GLOB_PATTERN, CONVERTER_PATTERNS["path"])


def _is_fixed(item: _Item) -> bool:
    """Return whether ``item`` is a parameter or glob that is not a wildcard, such as
    ``{id:int}``."""
    return item.kind != _CHARACTER and not _is_wildcard(item)


def _never_empty(item: _Item) -> bool:
    return item.kind == _CHARACTER or not _matches_empty(item.text)


def _stays_in_segment(item: _Item) -> bool:
    return item.kind == _PARAMETER or (item.kind == _CHARACTER and item.text != "/")


def _wildcard_accepts(wildcard: _Item, text: str) -> bool:
    return wildcard.kind == _GLOB_ITEM or "/" not in text


def _covers(inner: Sequence[_Item], outer: Sequence[_Item]) -> bool:
    """Return True only if every string that ``inner`` matches also matches ``outer``.

    The proof is an alignment: each item of ``outer`` takes a run of ``inner`` that it
    matches whatever values the run's parameters and globs take. False means that no
    such alignment exists, which does not prove that some string matches ``inner`` and
    not ``outer``.
    """
    count = len(inner)
    # covered[j][i] is whether outer[j:] covers inner[i:]. It is filled from the end, so
    # each row needs only the row after it.
    following = [False] * count + [True]
    for item in reversed(outer):
        following = [_takes_run(item, inner, start, following) for start in range(count + 1)]
    return following[0]


def _takes_run(item: _Item, inner: Sequence[_Item], start: int, following: list[bool]) -> bool:
    """Return whether ``item`` covers some run ``inner[start:end]`` with ``following[end]``."""
    if item.kind == _CHARACTER:
        return start < len(inner) and inner[start] == item and following[start + 1]

    may_be_empty = _matches_empty(item.text)
    if may_be_empty and following[start]:
        return True

    if _is_wildcard(item):
        taken_nonempty = False
        for end in range(start, len(inner)):
            part = inner[end]
            if item.kind == _PARAMETER and not _stays_in_segment(part):
                return False
            taken_nonempty = taken_nonempty or _never_empty(part)
            if (may_be_empty or taken_nonempty) and following[end + 1]:
                return True
        return False

    # A parameter or glob with its own pattern covers the same kind of item with the same
    # (or a narrower) pattern, or a run of literal characters that its pattern matches.
    if start < len(inner):
        part = inner[start]
        if (
            part.kind == item.kind
            and (part.text == item.text or (part.text, item.text) in _PATTERN_SUBSETS)
            and following[start + 1]
        ):
            return True
    text = ""
    for end in range(start, len(inner)):
        part = inner[end]
        if part.kind != _CHARACTER:
            break
        text += part.text
        if following[end + 1] and _fullmatches(item, text):
            return True
    return False


# A search state: the positions in the left and right items, and whether the wildcard at
# each position has taken a character yet.
_State = tuple[int, int, bool, bool]


def _common_string(left: Sequence[_Item], right: Sequence[_Item]) -> str | None:
    """Return a string that both item sequences match, or None when none was found.

    A breadth-first search walks both sequences at once. Characters must agree, a
    wildcard takes the other side's characters one at a time, and a parameter with its
    own pattern takes a run of the other side's characters or one of the sample values.
    """
    start: _State = (0, 0, False, False)
    previous: dict[_State, tuple[_State, str] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if state[0] == len(left) and state[1] == len(right):
            return _text_to(previous, state)
        for following, text in _steps(left, right, state):
            if following not in previous:
                previous[following] = (state, text)
                queue.append(following)
    return None


def _text_to(previous: dict[_State, tuple[_State, str] | None], state: _State) -> str:
    pieces: list[str] = []
    step = previous[state]
    while step is not None:
        state, text = step
        pieces.append(text)
        step = previous[state]
    return "".join(reversed(pieces))


def _steps(
    left: Sequence[_Item], right: Sequence[_Item], state: _State
) -> Iterator[tuple[_State, str]]:
    i, j, left_started, right_started = state
    left_item = left[i] if i < len(left) else None
    right_item = right[j] if j < len(right) else None

    # A wildcard ends once it has taken a character. An item that may match the empty
    # string (a .* glob) may also end at once.
    if left_item is not None and _may_end(left_item, left_started):
        yield (i + 1, j, False, right_started), ""
    if right_item is not None and _may_end(right_item, right_started):
        yield (i, j + 1, left_started, False), ""
    if left_item is None or right_item is None:
        return

    if _is_fixed(left_item):
        for end, started, text in _fixed_steps(left_item, right, j):
            yield (i + 1, end, False, started or right_started), text
        return
    if _is_fixed(right_item):
        for end, started, text in _fixed_steps(right_item, left, i):
            yield (end, j + 1, started or left_started, False), text
        return

    character = _shared_character(left_item, right_item)
    if character is not None:
        left_next = (i + 1, False) if left_item.kind == _CHARACTER else (i, True)
        right_next = (j + 1, False) if right_item.kind == _CHARACTER else (j, True)
        yield (left_next[0], right_next[0], left_next[1], right_next[1]), character


def _may_end(item: _Item, started: bool) -> bool:
    if item.kind == _CHARACTER:
        return False
    return (started and _is_wildcard(item)) or _matches_empty(item.text)


def _shared_character(left: _Item, right: _Item) -> str | None:
    if left.kind == _CHARACTER and right.kind == _CHARACTER:
        return left.text if left.text == right.text else None
    if left.kind == _CHARACTER:
        return left.text if _wildcard_accepts(right, left.text) else None
    if right.kind == _CHARACTER:
        return right.text if _wildcard_accepts(left, right.text) else None
    return _WILDCARD_VALUE


def _fixed_steps(
    fixed: _Item, others: Sequence[_Item], start: int
) -> Iterator[tuple[int, bool, str]]:
    """Yield (next position in ``others``, whether a wildcard there has started, text) for
    each way the fixed-pattern ``fixed`` can match the same text as ``others[start:]``."""
    other = others[start]
    if _is_fixed(other):
        for value in (*_SAMPLE_VALUES.get(fixed.text, ()), *_SAMPLE_VALUES.get(other.text, ())):
            if _fullmatches(fixed, value) and _fullmatches(other, value):
                yield start + 1, False, value
    elif _is_wildcard(other):
        for value in _SAMPLE_VALUES.get(fixed.text, ()):
            if value and _wildcard_accepts(other, value):
                yield start, True, value
    else:
        text = ""
        for end in range(start, len(others)):
            part = others[end]
            if part.kind != _CHARACTER or (fixed.kind == _PARAMETER and part.text == "/"):
                break
            text += part.text
            if _fullmatches(fixed, text):
                yield end + 1, False, text

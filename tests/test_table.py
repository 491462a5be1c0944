"""Tests of routes and the route table: validation, precedence, HEAD, 405 and properties."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import Host as StarletteHost
from starlette.routing import Match

from scopeguard import (
    ConfigurationError,
    Outcome,
    Policy,
    Reason,
    Route,
    RouteTable,
    RouteTemplateError,
    compile_template,
)
from scopeguard.table import PRECEDENCES, Precedence

UUID = "0f5c6a3e-2b1d-4c8e-9a7f-3d2e1c0b9a8f"


@pytest.mark.parametrize(
    ("method", "fragments"),
    [
        pytest.param("get", ("unknown method 'get'", "upper case, 'GET'"), id="lower-case"),
        pytest.param("Post", ("unknown method 'Post'", "upper case, 'POST'"), id="mixed-case"),
        pytest.param("FOO", ("unknown method 'FOO'", "use one of DELETE, GET, HEAD"), id="unknown"),
        pytest.param("", ("unknown method ''", "use one of"), id="empty"),
        pytest.param(["GET"], ("unknown method ['GET']", "use one of"), id="list"),
        pytest.param(None, ("unknown method None", "use one of"), id="none"),
    ],
)
def test_route_rejects_method(method: Any, fragments: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Route(method, "/api/v1/courses")

    for fragment in fragments:
        assert fragment in str(raised.value)
    assert "'/api/v1/courses'" in str(raised.value)


def test_route_rejects_template() -> None:
    with pytest.raises(RouteTemplateError) as raised:
        Route("GET", "api/v1/courses")

    assert raised.value.template == "api/v1/courses"
    assert "must start with '/'" in str(raised.value)
    assert "(route GET api/v1/courses)" in str(raised.value)


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        pytest.param("GET", "/api/v1/courses", "url:GET|/api/v1/courses", id="literal"),
        pytest.param(
            "PUT", "/api/v1/users/:id", "url:PUT|/api/v1/users/:id", id="param-and-method"
        ),
        pytest.param(
            "GET",
            "/api/v1/files/:id/download(.:format)",
            "url:GET|/api/v1/files/:id/download",
            id="format-removed",
        ),
        pytest.param(
            "HEAD",
            "/api/v1/users/{user_id:int}/files/{rest:path}",
            "url:HEAD|/api/v1/users/:user_id/files/*rest",
            id="starlette",
        ),
    ],
)
def test_route_scope(method: str, path: str, scope: str) -> None:
    route = Route(method, path)

    assert route.scope == scope
    assert str(route) == f"{method} {path}"


def test_table_rejects_precedence() -> None:
    bad: Any = "longest_match"

    with pytest.raises(ConfigurationError) as raised:
        RouteTable([Route("GET", "/a")], precedence=bad)

    assert "unknown precedence 'longest_match'" in str(raised.value)
    assert "first_declared, most_specific" in str(raised.value)


def test_table_rejects_non_route() -> None:
    items: list[Any] = [Route("GET", "/a"), ("GET", "/b")]

    with pytest.raises(ConfigurationError) as raised:
        RouteTable(items)

    assert "route 1" in str(raised.value)
    assert "expected a scopeguard.Route, got tuple" in str(raised.value)


def test_table_sequence_protocol() -> None:
    routes = [Route("GET", "/a"), Route("POST", "/a")]

    table = RouteTable(iter(routes), precedence="most_specific")

    assert len(table) == 2
    assert list(table) == routes
    assert table.precedence == "most_specific"
    assert repr(table) == "RouteTable(<2 routes>, precedence='most_specific')"


def test_table_default_precedence() -> None:
    assert RouteTable([]).precedence == "first_declared"


def test_empty_table_no_route() -> None:
    assert RouteTable([]).resolve("GET", "/").outcome is Outcome.NO_ROUTE


# A table in which literals, mixed segments, parameters and globs compete. The decision
# tables below name each route by its str(), "METHOD template".
ROUTES = [
    Route("GET", "/users/activity_stream"),
    Route("GET", "/users/:id"),
    Route("PUT", "/users/:id"),
    Route("GET", "/courses/:course_id"),
    Route("GET", "/courses/self"),
    Route("GET", "/courses/:course_id/files/*path"),
    Route("GET", "/courses/:course_id/files/quota"),
    Route("GET", "/courses/:course_id/files/by_:kind"),
    Route("HEAD", "/courses/:course_id/export"),
    Route("GET", "/courses/:course_id/export"),
    Route("GET", "/courses/:course_id/report(.:format)"),
    Route("GET", "/courses/:course_id/report.csv"),
    Route("DELETE", "/files/:id"),
    Route("GET", "/jobs2/:bucket"),
    Route("GET", "/jobs2/by_:group"),
    Route("POST", "/jobs2/:id/requeue"),
    Route("GET", "/groups/:group_id"),
    Route("GET", "/groups/*path"),
    Route("GET", "/items/{item_id:int}"),
    Route("GET", "/items/{name}"),
]

NO_ROUTE = Outcome.NO_ROUTE
NOT_ALLOWED = Outcome.METHOD_NOT_ALLOWED


@pytest.mark.parametrize("precedence", PRECEDENCES)
@pytest.mark.parametrize(
    ("method", "path", "first_declared", "most_specific"),
    [
        # A literal route declared before a parameter route wins under both precedences.
        pytest.param(
            "GET",
            "/users/activity_stream",
            "GET /users/activity_stream",
            "GET /users/activity_stream",
            id="literal-before-param",
        ),
        pytest.param("GET", "/users/7", "GET /users/:id", "GET /users/:id", id="param"),
        # The method filters the routes before precedence applies.
        pytest.param(
            "PUT",
            "/users/activity_stream",
            "PUT /users/:id",
            "PUT /users/:id",
            id="method-filters-first",
        ),
        pytest.param("DELETE", "/users/7", NOT_ALLOWED, NOT_ALLOWED, id="method-missing"),
        pytest.param("get", "/users/7", NOT_ALLOWED, NOT_ALLOWED, id="lower-case-method"),
        # A more specific route declared later wins only under most_specific.
        pytest.param(
            "GET",
            "/courses/self",
            "GET /courses/:course_id",
            "GET /courses/self",
            id="literal-after-param",
        ),
        pytest.param(
            "GET",
            "/courses/7/files/quota",
            "GET /courses/:course_id/files/*path",
            "GET /courses/:course_id/files/quota",
            id="literal-after-glob",
        ),
        pytest.param(
            "GET",
            "/courses/7/files/by_type",
            "GET /courses/:course_id/files/*path",
            "GET /courses/:course_id/files/by_:kind",
            id="mixed-after-glob",
        ),
        pytest.param(
            "GET",
            "/jobs2/by_tag",
            "GET /jobs2/:bucket",
            "GET /jobs2/by_:group",
            id="mixed-after-param",
        ),
        pytest.param(
            "GET",
            "/courses/7/report.csv",
            "GET /courses/:course_id/report(.:format)",
            "GET /courses/:course_id/report.csv",
            id="literal-after-format",
        ),
        # Paths that only one route matches.
        pytest.param(
            "GET",
            "/courses/7/files/a/b",
            "GET /courses/:course_id/files/*path",
            "GET /courses/:course_id/files/*path",
            id="glob",
        ),
        pytest.param(
            "GET",
            "/courses/7/report",
            "GET /courses/:course_id/report(.:format)",
            "GET /courses/:course_id/report(.:format)",
            id="format-absent",
        ),
        pytest.param(
            "GET",
            "/courses/7/report.json",
            "GET /courses/:course_id/report(.:format)",
            "GET /courses/:course_id/report(.:format)",
            id="format-present",
        ),
        pytest.param(
            "GET",
            "/groups/5",
            "GET /groups/:group_id",
            "GET /groups/:group_id",
            id="param-before-glob",
        ),
        # A value that the int converter rejects falls through to {name}.
        pytest.param(
            "GET", "/items/12", "GET /items/{item_id:int}", "GET /items/{item_id:int}", id="int"
        ),
        pytest.param(
            "GET", "/items/pen", "GET /items/{name}", "GET /items/{name}", id="int-rejects"
        ),
        # HEAD resolves among HEAD routes, and among GET routes when no HEAD route matches.
        pytest.param(
            "HEAD",
            "/courses/7/export",
            "HEAD /courses/:course_id/export",
            "HEAD /courses/:course_id/export",
            id="head-route",
        ),
        pytest.param(
            "GET",
            "/courses/7/export",
            "GET /courses/:course_id/export",
            "GET /courses/:course_id/export",
            id="get-beside-head",
        ),
        pytest.param(
            "HEAD",
            "/courses/7",
            "GET /courses/:course_id",
            "GET /courses/:course_id",
            id="head-falls-back",
        ),
        pytest.param(
            "HEAD",
            "/courses/self",
            "GET /courses/:course_id",
            "GET /courses/self",
            id="head-fallback-precedence",
        ),
        pytest.param("HEAD", "/jobs2/9/requeue", NOT_ALLOWED, NOT_ALLOWED, id="head-without-get"),
        pytest.param("GET", "/jobs2/9/requeue", NOT_ALLOWED, NOT_ALLOWED, id="get-on-post-route"),
        pytest.param(
            "POST",
            "/jobs2/9/requeue",
            "POST /jobs2/:id/requeue",
            "POST /jobs2/:id/requeue",
            id="post",
        ),
        pytest.param("PATCH", "/files/3", NOT_ALLOWED, NOT_ALLOWED, id="patch-on-delete"),
        # Trailing slashes and empty segments never fall back to the route without them.
        pytest.param("GET", "/users/7/", NO_ROUTE, NO_ROUTE, id="trailing-slash"),
        pytest.param("GET", "/users/", NO_ROUTE, NO_ROUTE, id="empty-param"),
        pytest.param("GET", "/users//7", NO_ROUTE, NO_ROUTE, id="double-slash"),
        pytest.param("GET", "//users/7", NO_ROUTE, NO_ROUTE, id="empty-first-segment"),
        pytest.param("GET", "/courses//files/a", NO_ROUTE, NO_ROUTE, id="empty-course"),
        pytest.param("GET", "/courses/7/files/", NO_ROUTE, NO_ROUTE, id="empty-glob"),
        pytest.param("GET", "/courses/self/", NO_ROUTE, NO_ROUTE, id="literal-slash"),
        pytest.param(
            "GET",
            "/groups/5/",
            "GET /groups/*path",
            "GET /groups/*path",
            id="slash-to-glob",
        ),
        pytest.param(
            "GET",
            "/courses/7/files//a",
            "GET /courses/:course_id/files/*path",
            "GET /courses/:course_id/files/*path",
            id="glob-empty-segment",
        ),
        # Paths outside the table.
        pytest.param("GET", "/nothing", NO_ROUTE, NO_ROUTE, id="unknown-path"),
        pytest.param("GET", "/", NO_ROUTE, NO_ROUTE, id="root"),
        pytest.param("GET", "", NO_ROUTE, NO_ROUTE, id="empty-path"),
        pytest.param("GET", "users/7", NO_ROUTE, NO_ROUTE, id="relative-path"),
        pytest.param("GET", "/Users/7", NO_ROUTE, NO_ROUTE, id="case-differs"),
    ],
)
def test_resolve_decisions(
    precedence: Precedence,
    method: str,
    path: str,
    first_declared: str | Outcome,
    most_specific: str | Outcome,
) -> None:
    expected = first_declared if precedence == "first_declared" else most_specific

    resolution = RouteTable(ROUTES, precedence=precedence).resolve(method, path)

    if isinstance(expected, Outcome):
        assert resolution.outcome is expected
        assert resolution.route is None
    else:
        assert resolution.outcome is Outcome.MATCHED
        assert str(resolution.route) == expected


@pytest.mark.parametrize(
    ("method", "path", "outcome", "allowed"),
    [
        pytest.param("DELETE", "/users/7", NOT_ALLOWED, ("GET", "HEAD", "PUT"), id="get-adds-head"),
        pytest.param("GET", "/jobs2/9/requeue", NOT_ALLOWED, ("POST",), id="post-only"),
        pytest.param("HEAD", "/jobs2/9/requeue", NOT_ALLOWED, ("POST",), id="head-without-get"),
        pytest.param("GET", "/files/3", NOT_ALLOWED, ("DELETE",), id="delete-only"),
        pytest.param(
            "GET",
            "/users/activity_stream",
            Outcome.MATCHED,
            ("GET", "HEAD", "PUT"),
            id="matched-lists-all",
        ),
        pytest.param(
            "HEAD", "/courses/7/export", Outcome.MATCHED, ("GET", "HEAD"), id="head-route"
        ),
        pytest.param("GET", "/nothing", NO_ROUTE, (), id="no-route-empty"),
    ],
)
def test_resolve_allowed_methods(
    method: str, path: str, outcome: Outcome, allowed: tuple[str, ...]
) -> None:
    resolution = RouteTable(ROUTES).resolve(method, path)

    assert resolution.outcome is outcome
    assert resolution.allowed_methods == allowed


def test_head_route_beats_get() -> None:
    # The HEAD route is declared last and is the least specific, and still wins for HEAD.
    routes = [Route("GET", "/files/:id"), Route("GET", "/files/self"), Route("HEAD", "/*path")]

    for precedence in PRECEDENCES:
        resolution = RouteTable(routes, precedence=precedence).resolve("HEAD", "/files/self")
        assert str(resolution.route) == "HEAD /*path", precedence


ACTIVITY_STREAM = Route("GET", "/api/v1/users/activity_stream")
USER = Route("GET", "/api/v1/users/:id")


def test_literal_first_param_scope_denied() -> None:
    table = RouteTable([ACTIVITY_STREAM, USER])
    policy = Policy(table)

    resolution = table.resolve("GET", "/api/v1/users/activity_stream")
    decision = policy.decide("GET", "/api/v1/users/activity_stream", {"url:GET|/api/v1/users/:id"})

    assert resolution.route is ACTIVITY_STREAM
    assert resolution.route.scope != "url:GET|/api/v1/users/:id"
    assert decision.allowed is False
    assert decision.status == 403
    assert decision.reason is Reason.INSUFFICIENT_SCOPE
    assert decision.required_scope == "url:GET|/api/v1/users/activity_stream"


def test_literal_first_literal_scope_allowed() -> None:
    policy = Policy(RouteTable([ACTIVITY_STREAM, USER]))

    decision = policy.decide(
        "GET", "/api/v1/users/activity_stream", {"url:GET|/api/v1/users/activity_stream"}
    )
    other_user = policy.decide("GET", "/api/v1/users/7", {"url:GET|/api/v1/users/:id"})

    assert decision.allowed is True
    assert other_user.allowed is True


@pytest.mark.parametrize(
    ("precedence", "expected"),
    [
        # As in Rails, the first declared route wins, so the literal route is unreachable.
        pytest.param("first_declared", USER, id="first-declared"),
        pytest.param("most_specific", ACTIVITY_STREAM, id="most-specific"),
    ],
)
def test_param_first_precedence(precedence: Precedence, expected: Route) -> None:
    table = RouteTable([USER, ACTIVITY_STREAM], precedence=precedence)

    resolution = table.resolve("GET", "/api/v1/users/activity_stream")
    decision = Policy(table).decide(
        "GET", "/api/v1/users/activity_stream", {"url:GET|/api/v1/users/:id"}
    )

    assert resolution.route is expected
    assert decision.allowed is (expected is USER)


# Properties: the trie in RouteTable against a brute-force reference.
#
# A template skeleton is a sequence of snippets and optional groups. In a snippet, "@"
# marks a parameter name, which rendering replaces with p0, p1, ... so that names are unique.


@dataclass(frozen=True)
class OptionalGroup:
    """An optional group ``( ... )`` of a skeleton."""

    items: tuple[Item, ...]


Item = str | OptionalGroup


@dataclass(frozen=True)
class Syntax:
    """Snippets from which the strategies build templates of one syntax."""

    first: tuple[str, ...]
    snippets: tuple[str, ...]
    groups: bool
    # For each segment of TARGET_SEGMENTS, snippets whose segment matches it, and the glob.
    matching: dict[str, tuple[str, ...]]
    glob: str


RAILS = Syntax(
    first=("/a", "/:@", "/v1", "/by_:@", "/"),
    snippets=("/", "/a", "/b", "/x.csv", "/:@", "/by_:@", "/:@.json", "/*@", "/f*@", ".:@"),
    groups=True,
    matching={
        "a": ("/a", "/:@"),
        "by_a": ("/by_a", "/by_:@", "/:@"),
        "7": ("/7", "/:@"),
        "x.csv": ("/x.csv", "/:@.csv", "/x.:@", "/:@"),
        "v1": ("/v1", "/v:@", "/:@"),
    },
    glob="/*@",
)
STARLETTE = Syntax(
    first=("/a", "/{@}", "/{@:int}", "/"),
    snippets=(
        "/",
        "/a",
        "/x.csv",
        "/{@}",
        "/{@:str}",
        "/{@:int}",
        "/{@:float}",
        "/{@:uuid}",
        "/{@:path}",
        "/v{@:int}",
        ".{@}",
    ),
    groups=False,
    matching={
        "a": ("/a", "/{@}"),
        "by_a": ("/by_a", "/by_{@}", "/{@:str}"),
        "7": ("/7", "/{@:int}", "/{@:float}", "/{@}"),
        "x.csv": ("/x.csv", "/{@}.csv", "/{@}"),
        "v1": ("/v1", "/v{@:int}", "/{@}"),
    },
    glob="/{@:path}",
)
TARGET_SEGMENTS = ["a", "by_a", "7", "x.csv", "v1"]

PATH_SEGMENTS = ["", "a", "b", "v1", "x.csv", "xacsv", "x.json", "by_a", "7", "2.5", "f1", UUID]
# Values that a filled-in parameter takes, by the syntax of its slot.
SLOT_VALUES = {
    ":": ["a", "b", "7", "x.csv", "x.json", "by_a", "f1"],
    "*": ["a", "1", "a/b", "a/x.csv"],
    "str": ["a", "7", "x.csv", "v1"],
    "int": ["7", "42"],
    "float": ["2.5", "3"],
    "uuid": [UUID],
    "path": ["", "a", "a/b"],
}
SLOT = re.compile(r":@|\*@|\{@(?::(\w+))?\}")

# Edits that turn a matching path into one that a neighbouring template may match.
NEAR_MISSES: list[Callable[[str], str]] = [
    lambda path: path,
    lambda path: path,
    lambda path: path,
    lambda path: path + "/",
    lambda path: path.rsplit("/", 1)[0],
    lambda path: path[:-1],
    lambda path: path.replace("/", "//", 1),
]


@dataclass(frozen=True)
class RouteSpec:
    """A route of a generated table, with its skeleton for the reference."""

    method: str
    syntax: Syntax
    items: tuple[Item, ...]


def render(items: Sequence[Item], names: Callable[[], str]) -> str:
    pieces: list[str] = []
    for item in items:
        if isinstance(item, OptionalGroup):
            pieces.append("(" + render(item.items, names) + ")")
        else:
            pieces.append(re.sub("@", lambda _: names(), item))
    return "".join(pieces)


def render_template(items: Sequence[Item]) -> str:
    counter = itertools.count()
    return render(items, lambda: f"p{next(counter)}")


def expand(items: Sequence[Item]) -> list[list[str]]:
    """Return the snippet lists of every choice of optional groups."""
    variants: list[list[str]] = [[]]
    for item in items:
        choices = [[], *expand(item.items)] if isinstance(item, OptionalGroup) else [[item]]
        variants = [prefix + choice for prefix in variants for choice in choices]
    return variants


def segment_rank(variant: str) -> tuple[int, ...]:
    """Rank the segments of a template without groups: 0 literal, 1 mixed, 2 param, 3 glob.

    The rank ends at the first segment that contains a glob.
    """
    rank: list[int] = []
    for segment in variant[1:].split("/"):
        if "*" in segment or ":path}" in segment:
            rank.append(3)
            break
        if re.fullmatch(r":\w+|\{\w+(:\w+)?\}", segment):
            rank.append(2)
        elif ":" in segment or "{" in segment:
            rank.append(1)
        else:
            rank.append(0)
    return tuple(rank)


def reference_resolve(
    specs: Sequence[RouteSpec], precedence: Precedence, method: str, path: str
) -> tuple[Outcome, int | None, tuple[str, ...]]:
    """Resolve by scanning every route, returning the outcome, route index and methods."""
    matching: list[tuple[int, RouteSpec]] = []
    for index, spec in enumerate(specs):
        if compile_template(render_template(spec.items)).regex.fullmatch(path):
            matching.append((index, spec))
    if not matching:
        return Outcome.NO_ROUTE, None, ()

    methods = {spec.method for _, spec in matching}
    if "GET" in methods:
        methods.add("HEAD")
    allowed = tuple(sorted(methods))

    if method == "HEAD" and "HEAD" in {spec.method for _, spec in matching}:
        route_method = "HEAD"
    elif method == "HEAD":
        route_method = "GET"
    else:
        route_method = method
    candidates = [(index, spec) for index, spec in matching if spec.method == route_method]
    if not candidates:
        return Outcome.METHOD_NOT_ALLOWED, None, allowed

    if precedence == "first_declared":
        return Outcome.MATCHED, candidates[0][0], allowed

    # A route ranks as its most specific variant among those that match the path.
    ranked: list[tuple[tuple[int, ...], int]] = []
    for index, spec in candidates:
        ranks = [
            segment_rank(text)
            for text in map(render_template, expand(spec.items))
            if compile_template(text).regex.fullmatch(path)
        ]
        ranked.append((min(ranks), index))
    return Outcome.MATCHED, min(ranked)[1], allowed


METHODS = st.sampled_from(["GET", "GET", "GET", "POST", "HEAD"])


@st.composite
def skeleton_items(draw: st.DrawFn, syntax: Syntax, depth: int) -> tuple[Item, ...]:
    items: list[Item] = []
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        if syntax.groups and depth < 2 and draw(st.booleans()):
            items.append(OptionalGroup(draw(skeleton_items(syntax, depth + 1))))
        else:
            items.append(draw(st.sampled_from(syntax.snippets)))
    return tuple(items)


@st.composite
def route_specs(draw: st.DrawFn) -> RouteSpec:
    syntax = draw(st.sampled_from([RAILS, STARLETTE]))
    first = draw(st.sampled_from(syntax.first))
    rest = draw(skeleton_items(syntax, 0)) if draw(st.integers(0, 3)) else ()
    return RouteSpec(draw(METHODS), syntax, (first, *rest))


@st.composite
def sibling_specs(draw: st.DrawFn, spec: RouteSpec) -> RouteSpec:
    """Draw a route that differs from ``spec`` in one item, and maybe in its method.

    The item is either replaced by any snippet or, when it has a parameter, filled in with
    a value, which gives a more specific route that matches some paths of ``spec``.
    """
    items = list(spec.items)
    position = draw(st.integers(min_value=0, max_value=len(items) - 1))
    item = items[position]
    if isinstance(item, str) and "@" in item and draw(st.booleans()):
        items[position] = SLOT.sub(lambda match: draw(slot_values(match)), item)
    else:
        choices = spec.syntax.first if position == 0 else spec.syntax.snippets
        items[position] = draw(st.sampled_from(choices))
    method = draw(st.sampled_from([spec.method, spec.method, spec.method, "GET", "POST"]))
    return RouteSpec(method, spec.syntax, tuple(items))


@st.composite
def matching_specs(draw: st.DrawFn, target: list[str]) -> RouteSpec:
    """Draw a route that matches the path of the ``target`` segments.

    Each segment becomes a literal, mixed, parameter or glob snippet, and a Rails route may
    put its later segments or a format suffix in optional groups.
    """
    syntax = draw(st.sampled_from([RAILS, STARLETTE]))
    snippets: list[str] = []
    for segment in target:
        snippet = draw(st.sampled_from((*syntax.matching[segment], syntax.glob)))
        snippets.append(snippet)
        if snippet == syntax.glob:
            break

    items: list[Item] = list(snippets)
    if syntax.groups:
        split = draw(st.integers(min_value=1, max_value=len(snippets)))
        if split < len(snippets) and draw(st.booleans()):
            items = [*snippets[:split], OptionalGroup(tuple(snippets[split:]))]
        if draw(st.booleans()):
            items.append(OptionalGroup((".:@",)))
    return RouteSpec(draw(METHODS), syntax, tuple(items))


@st.composite
def route_tables(draw: st.DrawFn, target: list[str]) -> list[RouteSpec]:
    # Routes that match the target path and siblings of other routes make several routes
    # match one path, so that precedence matters. The order of declaration is shuffled.
    specs = draw(st.lists(matching_specs(target), min_size=1, max_size=4))
    specs += draw(st.lists(route_specs(), max_size=2))
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        specs.append(draw(sibling_specs(draw(st.sampled_from(specs)))))
    return draw(st.permutations(specs))


def slot_values(slot: re.Match[str]) -> st.SearchStrategy[str]:
    """Return the values that fill ``slot``, a parameter of a snippet."""
    if slot.group(1) is not None:
        return st.sampled_from(SLOT_VALUES[slot.group(1)])
    if slot.group().startswith("{"):
        return st.sampled_from(SLOT_VALUES["str"])
    return st.sampled_from(SLOT_VALUES[slot.group()[0]])


def fill_path(data: st.DataObject, spec: RouteSpec) -> str:
    """Draw a path that one variant of ``spec`` matches."""
    snippets = data.draw(st.sampled_from(expand(spec.items)))
    return "".join(
        SLOT.sub(lambda match: data.draw(slot_values(match)), snippet) for snippet in snippets
    )


RANDOM_PATHS = st.lists(st.sampled_from(PATH_SEGMENTS), max_size=4).map(
    lambda segments: "/" + "/".join(segments)
)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_resolve_equals_reference(data: st.DataObject) -> None:
    target = data.draw(st.lists(st.sampled_from(TARGET_SEGMENTS), min_size=1, max_size=3))
    specs = data.draw(route_tables(target))
    routes = [Route(spec.method, render_template(spec.items)) for spec in specs]
    tables = {precedence: RouteTable(routes, precedence=precedence) for precedence in PRECEDENCES}

    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        source = data.draw(st.sampled_from(["target", "route", "route", "random"]))
        if source == "target":
            path = data.draw(st.sampled_from(NEAR_MISSES))("/" + "/".join(target))
            method = data.draw(st.sampled_from(["GET", "GET", "HEAD", "POST", "PUT"]))
        elif source == "route":
            spec = data.draw(st.sampled_from(specs))
            path = data.draw(st.sampled_from(NEAR_MISSES))(fill_path(data, spec))
            method = data.draw(st.sampled_from([spec.method, spec.method, "GET", "HEAD", "PUT"]))
        else:
            path = data.draw(RANDOM_PATHS)
            method = data.draw(st.sampled_from(["GET", "HEAD", "POST", "PUT"]))

        for precedence, table in tables.items():
            resolution = table.resolve(method, path)
            outcome, index, allowed = reference_resolve(specs, precedence, method, path)
            request = (precedence, method, path)
            assert resolution.outcome is outcome, request
            assert resolution.route is (None if index is None else routes[index]), request
            assert resolution.allowed_methods == allowed, request


# --- Websocket routes and host routes -------------------------------------------------------

SOCKETS = RouteTable(
    [
        Route("WEBSOCKET", "/live/:room"),
        Route("GET", "/live/:name"),
        Route("GET", "/feed"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param("WEBSOCKET", "/live/7", "WEBSOCKET /live/:room", id="websocket-route"),
        pytest.param("GET", "/live/7", "GET /live/:name", id="http-skips-websocket-route"),
        pytest.param("WEBSOCKET", "/feed", "GET /feed", id="websocket-falls-back-to-get"),
        pytest.param("POST", "/live/7", None, id="post-not-allowed"),
    ],
)
def test_resolve_websocket(method: str, path: str, expected: str | None) -> None:
    resolution = SOCKETS.resolve(method, path)

    assert (str(resolution.route) if resolution.route else None) == expected


@pytest.mark.parametrize(
    ("route", "scope"),
    [
        pytest.param(Route("WEBSOCKET", "/live/:room"), "url:GET|/live/:room", id="websocket"),
        pytest.param(
            Route("WEBSOCKET", "/live/:room", scope_method="WEBSOCKET"),
            "url:WEBSOCKET|/live/:room",
            id="websocket-own-verb",
        ),
        pytest.param(
            Route("WEBSOCKET", "/live/:room", scope_method="POST"),
            "url:POST|/live/:room",
            id="websocket-post-verb",
        ),
        pytest.param(
            Route("HEAD", "/files/:id", scope_method="GET"), "url:GET|/files/:id", id="head"
        ),
    ],
)
def test_scope_method_sets_scope_verb(route: Route, scope: str) -> None:
    assert route.scope == scope


@pytest.mark.parametrize(
    ("method", "scope_method", "message"),
    [
        pytest.param("HEAD", "get", "unknown scope_method 'get'", id="lower-case"),
        pytest.param("GET", "WEBSOCKET", "unknown scope_method 'WEBSOCKET'", id="http-websocket"),
        pytest.param("WEBSOCKET", "CONNECT", "unknown scope_method 'CONNECT'", id="ws-unknown"),
    ],
)
def test_route_rejects_unknown_scope_method(method: str, scope_method: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Route(method, "/files/:id", scope_method=scope_method)


HOSTS = RouteTable(
    [
        Route("GET", "/users/:id", host="{tenant}.example.org"),
        Route("GET", "/users/:id", host="admin.example.com:8443", action="admin"),
        Route("GET", "/users/me"),
    ]
)


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        pytest.param("acme.example.org", "/users/7", "{tenant}.example.org", id="tenant"),
        pytest.param("acme.example.org:8000", "/users/7", "{tenant}.example.org", id="port"),
        pytest.param("admin.example.com", "/users/7", "admin.example.com:8443", id="admin"),
        pytest.param("other.test", "/users/me", None, id="no-host-route-matches"),
        pytest.param(None, "/users/me", None, id="no-host-header"),
        pytest.param("acme.example.org", "/users/me", "{tenant}.example.org", id="host-first"),
    ],
)
def test_resolve_with_host(host: str | None, path: str, expected: str | None) -> None:
    resolution = HOSTS.resolve("GET", path, host)

    assert resolution.route is not None
    assert resolution.route.host == expected


def test_host_routes_flag() -> None:
    assert HOSTS.has_host_routes
    assert not SOCKETS.has_host_routes


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        pytest.param("", "non-empty string", id="empty"),
        pytest.param("a b.example", "whitespace", id="space"),
        pytest.param("example.org/x", "'/'", id="slash"),
        pytest.param("{x:hex}.example", "unknown converter 'hex'", id="converter"),
    ],
)
def test_route_rejects_host(host: str, problem: str) -> None:
    with pytest.raises(RouteTemplateError, match=re.escape(problem)):
        Route("GET", "/a", host=host)


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("acme.EXAMPLE.org", id="upper-case"),
        pytest.param("acme.example.org:8000", id="port"),
        pytest.param("acme.example.org:", id="empty-port"),
        pytest.param("[::1]:8000", id="ipv6"),
        pytest.param("acme.example.org.", id="trailing-dot"),
        pytest.param("", id="empty"),
        pytest.param("acme.example.org\t", id="tab"),
    ],
)
def test_host_matching_agrees_with_starlette(host: str) -> None:
    """A host route matches exactly the Host headers the installed Starlette's Host matches."""

    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
        raise AssertionError("never called")

    starlette_host = StarletteHost("{tenant}.example.org", app=app)
    request = {"type": "http", "headers": [(b"host", host.encode("latin-1"))]}
    expected = starlette_host.matches(request)[0] is Match.FULL

    route = HOSTS.resolve("GET", "/users/7", host).route

    assert (route is not None and route.host == "{tenant}.example.org") is expected


def test_http_request_skips_websocket_only_path() -> None:
    table = RouteTable([Route("WEBSOCKET", "/ws/echo")])

    assert table.resolve("GET", "/ws/echo").outcome is Outcome.NO_ROUTE
    assert table.resolve("WEBSOCKET", "/ws/echo").outcome is Outcome.MATCHED

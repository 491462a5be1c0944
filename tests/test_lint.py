"""Tests of scopeguard.lint: shadowed and overlapping routes, table comparison and scopes.

Every shadowed route that a test expects is also checked against the route table itself:
its example paths must resolve to another route.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scopeguard import Route, RouteTable, load_routes
from scopeguard.lint import (
    Finding,
    check_scopes,
    compare_tables,
    find_overlapping_routes,
    find_shadowed_routes,
    find_shared_scopes,
    lint_table,
)
from scopeguard.table import PRECEDENCES, WEBSOCKET, Precedence
from scopeguard.templates import Literal, Param

CANVAS_ROUTES = Path(__file__).parent / "data" / "canvas_api_routes.tsv"
UUID_DIGITS = "12345678123456781234567812345678"


def make_table(specs: list[str], precedence: Precedence = "first_declared") -> RouteTable:
    """Build a table from "METHOD /template" strings."""
    routes = []
    for spec in specs:
        method, path = spec.split(" ", 1)
        routes.append(Route(method, path))
    return RouteTable(routes, precedence=precedence)


def reported_routes(findings: list[Finding]) -> set[str]:
    return {str(finding.routes[0]) for finding in findings}


# --- Shadowed routes --------------------------------------------------------------------------


SHADOW_CASES = [
    pytest.param(["GET /a/self", "GET /a/:id"], set(), id="literal-before-param"),
    pytest.param(["GET /a/:id", "GET /a/self"], {"GET /a/self"}, id="param-before-literal"),
    pytest.param(["GET /a/:id", "GET /a/:other"], {"GET /a/:other"}, id="same-pattern"),
    pytest.param(["GET /a/:id", "GET /a/:id"], {"GET /a/:id"}, id="duplicate"),
    pytest.param(["GET /", "GET /"], {"GET /"}, id="duplicate-root"),
    pytest.param(["POST /a/:id", "GET /a/self"], set(), id="other-method"),
    pytest.param(["GET /a/:id", "HEAD /a/self"], set(), id="get-never-shadows-head"),
    pytest.param(["HEAD /a/:id", "HEAD /a/self"], {"HEAD /a/self"}, id="head-by-head"),
    pytest.param(["HEAD /a/:id", "GET /a/self"], set(), id="head-never-shadows-get"),
    pytest.param(
        [f"{WEBSOCKET} /ws/:id", f"{WEBSOCKET} /ws/self"], {f"{WEBSOCKET} /ws/self"}, id="websocket"
    ),
    pytest.param(["GET /ws/:id", f"{WEBSOCKET} /ws/self"], set(), id="get-never-shadows-websocket"),
    pytest.param(["GET /a/b", "GET /a/c"], set(), id="different-literals"),
    pytest.param(["GET /a/:id", "GET /a/:id/b"], set(), id="longer-path"),
    pytest.param(["GET /a/:id/b", "GET /a/:id"], set(), id="shorter-path"),
    pytest.param(["GET /a/{id}", "GET /a/{n:int}"], {"GET /a/{n:int}"}, id="str-before-int"),
    pytest.param(["GET /a/{n:int}", "GET /a/{id}"], set(), id="int-before-str"),
    pytest.param(["GET /a/{n:int}", "GET /a/7"], {"GET /a/7"}, id="int-before-number"),
    pytest.param(["GET /a/{n:int}", "GET /a/self"], set(), id="int-before-word"),
    pytest.param(["GET /a/{x:float}", "GET /a/{n:int}"], {"GET /a/{n:int}"}, id="float-then-int"),
    pytest.param(["GET /a/{n:int}", "GET /a/{x:float}"], set(), id="int-then-float"),
    pytest.param(["GET /a/{n:int}", "GET /a/{u:uuid}"], set(), id="int-then-uuid"),
    pytest.param(["GET /a/{u:uuid}", "GET /a/{v:uuid}"], {"GET /a/{v:uuid}"}, id="uuid-twice"),
    pytest.param(["GET /a/:x", "GET /a/by_:g"], {"GET /a/by_:g"}, id="param-then-mixed"),
    pytest.param(["GET /a/by_:g", "GET /a/:x"], set(), id="mixed-then-param"),
    pytest.param(["GET /a/by_:g", "GET /a/by_:h.csv"], {"GET /a/by_:h.csv"}, id="mixed-in-mixed"),
    pytest.param(["GET /a/by_:g", "GET /a/to_:h"], set(), id="mixed-prefixes"),
    pytest.param(["GET /a/:g.csv", "GET /a/x.csv"], {"GET /a/x.csv"}, id="literal-in-mixed"),
    pytest.param(["GET /a/:g.csv", "GET /a/x.txt"], set(), id="literal-outside-mixed"),
    pytest.param(["GET /a/:x", "GET /a/:x(.:format)"], {"GET /a/:x(.:format)"}, id="format"),
    pytest.param(["GET /a/:x", "GET /a/:x(/b)"], set(), id="group-half-covered"),
    pytest.param(["GET /a", "GET /a/b", "GET /a(/b)"], {"GET /a(/b)"}, id="group-two-routes"),
    pytest.param(["GET /a/*p", "GET /a/:id/b"], {"GET /a/:id/b"}, id="glob-covers-segments"),
    pytest.param(["GET /a/*p", "GET /a/*q"], {"GET /a/*q"}, id="glob-twice"),
    pytest.param(["GET /a/*p", "GET /a"], set(), id="glob-needs-a-character"),
    pytest.param(["GET /a/:id", "GET /a/*p"], set(), id="param-never-covers-glob"),
    pytest.param(["GET /a/*p", "GET /a/x*q"], {"GET /a/x*q"}, id="glob-in-segment"),
    pytest.param(["GET /a/*p/b", "GET /a/x/y/b"], {"GET /a/x/y/b"}, id="glob-mid-path"),
    pytest.param(["GET /a/*p/b", "GET /a/x/y/c"], set(), id="glob-mid-path-other-end"),
    pytest.param(
        ["GET /a/{rest:path}", "GET /a/"], {"GET /a/"}, id="starlette-path-takes-empty-rest"
    ),
    pytest.param(
        ["GET /a/{rest:path}", "GET /a/*p"], {"GET /a/*p"}, id="starlette-path-covers-glob"
    ),
    pytest.param(["GET /a/*p", "GET /a/{rest:path}"], set(), id="glob-misses-empty-rest"),
    pytest.param(["GET /*p", "GET /a/:b/c"], {"GET /a/:b/c"}, id="root-glob"),
    pytest.param(["GET /a/{x:float}", "GET /a/1.5"], {"GET /a/1.5"}, id="float-literal"),
]


@pytest.mark.parametrize(("specs", "expected"), SHADOW_CASES)
def test_shadowed_routes(specs: list[str], expected: set[str]) -> None:
    table = make_table(specs)

    findings = find_shadowed_routes(table)

    assert reported_routes(findings) == expected
    for finding in findings:
        assert_never_wins(table, finding.routes[0], finding.paths)


def assert_never_wins(
    table: RouteTable, route: Route, paths: tuple[str, ...], host: str | None = None
) -> None:
    assert paths, route
    for path in paths:
        resolved = table.resolve(route.method, path, host).route
        assert route.template.matches(path), (route, path)
        assert resolved is not None, (route, path)
        assert resolved is not route, (route, path)


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        pytest.param(["GET /a/:id", "GET /a/self"], set(), id="literal-outranks-param"),
        pytest.param(["GET /a/:id", "GET /a/:x"], {"GET /a/:x"}, id="tie-goes-to-earlier"),
        pytest.param(["GET /a/self", "GET /a/:id"], set(), id="literal-first"),
        pytest.param(["GET /a/:x", "GET /a/by_:g"], set(), id="mixed-outranks-param"),
        pytest.param(["GET /a/by_:g", "GET /a/:x"], set(), id="param-after-mixed"),
        pytest.param(["GET /a/:x/b", "GET /a/*p"], set(), id="glob-covers-more"),
        pytest.param(["GET /a/:x", "GET /a/*p"], set(), id="glob-after-param"),
        pytest.param(["GET /a/*p", "GET /a/:x/b"], set(), id="param-outranks-glob"),
        pytest.param(["GET /a/*p", "GET /a/*q"], {"GET /a/*q"}, id="glob-tie"),
        pytest.param(["GET /a/:x/b", "GET /a/:y/:z"], set(), id="later-literal-outranks"),
        pytest.param(["GET /a/:y/:z", "GET /a/:x/b"], set(), id="literal-declared-later"),
        pytest.param(["GET /x/:b/c", "GET /x/a/:d", "GET /x/a/c"], set(), id="ranks-left-first"),
    ],
)
def test_shadowed_routes_most_specific(specs: list[str], expected: set[str]) -> None:
    table = make_table(specs, precedence="most_specific")

    findings = find_shadowed_routes(table)

    assert reported_routes(findings) == expected
    for finding in findings:
        assert_never_wins(table, finding.routes[0], finding.paths)


HOST = "{tenant}.example.org"


@pytest.mark.parametrize(
    ("routes", "expected", "host"),
    [
        pytest.param(
            [Route("GET", "/a/:id", host=HOST), Route("GET", "/a/self")],
            set(),
            None,
            id="host-route-leaves-other-hosts",
        ),
        pytest.param(
            [Route("GET", "/a/:id"), Route("GET", "/a/self", host=HOST)],
            {"GET /a/self"},
            "acme.example.org",
            id="any-host-route-shadows",
        ),
        pytest.param(
            [Route("GET", "/a/:id", host=HOST), Route("GET", "/a/self", host=HOST)],
            {"GET /a/self"},
            "acme.example.org",
            id="same-host",
        ),
        pytest.param(
            [Route("GET", "/a/:id", host=HOST), Route("GET", "/a/self", host="api.example.org")],
            set(),
            None,
            id="other-host",
        ),
    ],
)
def test_shadowed_routes_with_hosts(
    routes: list[Route], expected: set[str], host: str | None
) -> None:
    table = RouteTable(routes)

    findings = find_shadowed_routes(table)

    assert reported_routes(findings) == expected
    for finding in findings:
        assert_never_wins(table, finding.routes[0], finding.paths, host)


def test_shadowed_finding_fields() -> None:
    table = make_table(["GET /a", "GET /jobs/:bucket", "GET /jobs/clusters"])

    [finding] = find_shadowed_routes(table)

    assert finding.severity == "error"
    assert finding.code == "shadowed-route"
    assert finding.routes == (table.routes[2], table.routes[1])
    assert finding.paths == ("/jobs/clusters",)
    assert finding.scope is None
    assert finding.message == (
        "GET /jobs/clusters (route 3) is never reached, because GET /jobs/:bucket (route 2), "
        "declared earlier, matches every path it matches, such as /jobs/clusters"
    )


def test_shadowed_by_two_routes_message() -> None:
    table = make_table(["GET /a", "GET /a/b", "GET /a(/b)"])

    [finding] = find_shadowed_routes(table)

    assert finding.routes == (table.routes[2], table.routes[0], table.routes[1])
    assert finding.paths == ("/a", "/a/b")
    assert "because GET /a (route 1) and GET /a/b (route 2), declared earlier, match" in (
        finding.message
    )


def test_shadowed_most_specific_message() -> None:
    table = make_table(["GET /a/:x", "GET /a/:y"], precedence="most_specific")

    [finding] = find_shadowed_routes(table)

    assert "ranked ahead of it under most_specific precedence" in finding.message


# --- Overlapping routes -----------------------------------------------------------------------


OVERLAP_CASES = [
    pytest.param(
        ["GET /a/self", "GET /a/:id"], {"GET /a/:id": ["GET /a/self"]}, id="literal-then-param"
    ),
    pytest.param(
        ["GET /a/self", "GET /a/me", "GET /a/:id"],
        {"GET /a/:id": ["GET /a/self", "GET /a/me"]},
        id="grouped",
    ),
    pytest.param(["GET /a/:id", "GET /a/self"], {}, id="shadowed-is-not-an-overlap"),
    pytest.param(["GET /a/self", "POST /a/:id"], {}, id="other-method"),
    pytest.param(["GET /a/b", "GET /a/c"], {}, id="disjoint-literals"),
    pytest.param(["GET /a/{n:int}", "GET /a/self"], {}, id="int-and-word"),
    pytest.param(
        ["GET /a/{n:int}", "GET /a/{u:uuid}"],
        {"GET /a/{u:uuid}": ["GET /a/{n:int}"]},
        id="int-and-uuid-share-digits",
    ),
    pytest.param(
        ["GET /a/by_:g", "GET /a/:x.csv"], {"GET /a/:x.csv": ["GET /a/by_:g"]}, id="two-mixed"
    ),
    pytest.param(
        ["GET /a/:id/b", "GET /a/*p"], {"GET /a/*p": ["GET /a/:id/b"]}, id="segments-and-glob"
    ),
    pytest.param(["GET /a/:id.:format", "GET /a/:id"], {}, id="same-scope"),
    pytest.param(["GET /a/:id", "GET /b/*p"], {}, id="different-prefix"),
    pytest.param(["GET /a(/b)", "GET /a/:x"], {"GET /a/:x": ["GET /a(/b)"]}, id="optional-group"),
]


@pytest.mark.parametrize(("specs", "expected"), OVERLAP_CASES)
def test_overlapping_routes(specs: list[str], expected: dict[str, list[str]]) -> None:
    table = make_table(specs)

    findings = find_overlapping_routes(table)
    found = {
        str(finding.routes[0]): [str(route) for route in finding.routes[1:]] for finding in findings
    }

    assert found == expected
    for finding in findings:
        assert_overlap_paths(table, finding)


def assert_overlap_paths(table: RouteTable, finding: Finding) -> None:
    """Check that each example path matches both routes and resolves to another route."""
    route, *winners = finding.routes
    assert len(finding.paths) == len(winners)
    for winner, path in zip(winners, finding.paths, strict=True):
        assert route.template.matches(path), (route, path)
        assert winner.template.matches(path), (winner, path)
        assert table.resolve(route.method, path).route is not route, (route, path)


def test_overlap_finding_fields() -> None:
    table = make_table(["GET /a/self", "GET /a/:id"])

    [finding] = find_overlapping_routes(table)

    assert finding.severity == "warning"
    assert finding.code == "overlapping-routes"
    assert finding.routes == (table.routes[1], table.routes[0])
    assert finding.paths == ("/a/self",)
    assert finding.message == (
        "GET /a/:id (route 2) shares paths with 1 earlier route with another scope, which "
        "takes precedence on those paths: GET /a/self (route 1) on /a/self"
    )


def test_overlap_uuid_path_is_digits() -> None:
    table = make_table(["GET /a/{n:int}", "GET /a/{u:uuid}"])

    [finding] = find_overlapping_routes(table)

    assert finding.paths == (f"/a/{UUID_DIGITS}",)


def test_overlap_most_specific_winner() -> None:
    # The literal route is declared later but ranks ahead, so the parameter route loses.
    table = make_table(["GET /a/:id", "GET /a/self"], precedence="most_specific")

    [finding] = find_overlapping_routes(table)

    assert [str(route) for route in finding.routes] == ["GET /a/:id", "GET /a/self"]
    assert "shares paths with 1 route with another scope" in finding.message


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        pytest.param(
            [Route("GET", "/a/self", host=HOST), Route("GET", "/a/:id")], 1, id="host-and-any"
        ),
        pytest.param(
            [Route("GET", "/a/self", host=HOST), Route("GET", "/a/:id", host=HOST)], 1, id="same"
        ),
        pytest.param(
            [Route("GET", "/a/self", host=HOST), Route("GET", "/a/:id", host="api.example.org")],
            0,
            id="other-host",
        ),
    ],
)
def test_overlapping_routes_with_hosts(routes: list[Route], expected: int) -> None:
    assert len(find_overlapping_routes(RouteTable(routes))) == expected


def test_lint_table_errors_then_warnings() -> None:
    table = make_table(["GET /a/self", "GET /a/:id", "GET /a/:other"])

    findings = lint_table(table)

    assert [finding.code for finding in findings] == ["shadowed-route", "overlapping-routes"]
    assert str(findings[0].routes[0]) == "GET /a/:other"
    assert str(findings[1].routes[0]) == "GET /a/:id"


def test_lint_table_clean() -> None:
    table = make_table(["GET /a", "GET /a/:id", "PUT /a/:id", "GET /b/*p"])

    assert lint_table(table) == []


# --- Property: a reported route never wins ----------------------------------------------------

# Segments in Rails syntax and in Starlette syntax. "@" is replaced by a parameter name
# unique in its template. Globs only end a template.
RAILS_SEGMENTS = ["a", "b", "self", "1", ":@", ":@", "by_:@", ":@.csv", "x.csv"]
STARLETTE_SEGMENTS = ["a", "self", "1", "{@}", "{@:int}", "{@:float}", "{@:uuid}", "by_{@}"]
RAILS_ENDINGS = ["*@", "(.:@)", "(/b)", "(/:@)"]
STARLETTE_ENDINGS = ["{@:path}"]
# Values for parameters and globs of generated paths. Each value is used where the
# parameter's pattern fully matches it.
VALUES = [
    "a", "b", "self", "1", "1.5", "by_1", "by_a", "1.csv", "x.csv", "by_1.csv",
    UUID_DIGITS, "12345678-1234-5678-1234-567812345678", "a/b", "1/self", "",
]  # fmt: skip


@st.composite
def templates(draw: st.DrawFn) -> str:
    starlette = draw(st.booleans())
    pool = STARLETTE_SEGMENTS if starlette else RAILS_SEGMENTS
    endings = STARLETTE_ENDINGS if starlette else RAILS_ENDINGS
    segments = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
    text = "/" + "/".join(segments)
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        ending = draw(st.sampled_from(endings))
        text += ending if ending.startswith("(") else "/" + ending
    names = iter(f"p{index}" for index in range(20))
    return re.sub("@", lambda _: next(names), text)


@st.composite
def request_paths(draw: st.DrawFn, route: Route) -> str:
    """Draw a path that one variant of ``route``'s template matches."""
    variant = draw(st.sampled_from(route.template.variants))
    pieces = []
    for token in variant:
        if isinstance(token, Literal):
            pieces.append(token.text)
            continue
        fitting = [value for value in VALUES if re.fullmatch(token.pattern, value)]
        if isinstance(token, Param):
            fitting = [value for value in fitting if "/" not in value]
        pieces.append(draw(st.sampled_from(fitting)))
    return "".join(pieces)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_reported_routes_never_win(data: st.DataObject) -> None:
    specs = data.draw(
        st.lists(
            st.tuples(st.sampled_from(["GET", "GET", "HEAD", "POST"]), templates()),
            min_size=1,
            max_size=6,
        )
    )
    precedence = data.draw(st.sampled_from(PRECEDENCES))
    table = RouteTable([Route(method, path) for method, path in specs], precedence=precedence)

    findings = lint_table(table)

    for finding in findings:
        route = finding.routes[0]
        if finding.code == "overlapping-routes":
            assert_overlap_paths(table, finding)
            continue
        if finding.code == "shared-scope":
            assert {shared.scope for shared in finding.routes} == {finding.scope}
            assert (
                len({(shared.template.regex.pattern, shared.host) for shared in finding.routes}) > 1
            )
            continue
        assert_never_wins(table, route, finding.paths)
        for _ in range(5):
            path = data.draw(request_paths(route))
            assert table.resolve(route.method, path).route is not route, (route, path)
            assert table.resolve("HEAD", path).route is not route, (route, path)


# --- The Canvas route data --------------------------------------------------------------------


@pytest.fixture(scope="module")
def canvas_table() -> RouteTable:
    return load_routes(CANVAS_ROUTES)


@pytest.fixture(scope="module")
def canvas_findings(canvas_table: RouteTable) -> list[Finding]:
    return lint_table(canvas_table)


def test_canvas_shadowed_routes(canvas_findings: list[Finding]) -> None:
    shadowed = [finding for finding in canvas_findings if finding.code == "shadowed-route"]
    pairs = {(str(finding.routes[0]), str(finding.routes[1])) for finding in shadowed}

    assert pairs == {
        ("GET /api/v1/jobs2/clusters", "GET /api/v1/jobs2/:bucket"),
        ("GET /api/v1/jobs2/:id", "GET /api/v1/jobs2/:bucket"),
    }
    assert all(finding.severity == "error" for finding in shadowed)
    assert all(len(finding.routes) == 2 for finding in shadowed)


def test_canvas_shadowed_routes_lose(
    canvas_table: RouteTable, canvas_findings: list[Finding]
) -> None:
    for finding in canvas_findings:
        if finding.code != "shadowed-route":
            continue
        route, bucket = finding.routes
        for path in finding.paths:
            assert canvas_table.resolve(route.method, path).route is bucket, path


def test_canvas_overlaps(canvas_table: RouteTable, canvas_findings: list[Finding]) -> None:
    overlaps = [finding for finding in canvas_findings if finding.code == "overlapping-routes"]
    losers = {str(finding.routes[0]) for finding in overlaps}

    # One warning per route that loses some paths, not one per pair of routes.
    assert len(overlaps) == 55
    assert len(losers) == 55
    assert "GET /api/v1/users/:id" in losers
    assert all(finding.severity == "warning" for finding in overlaps)
    for finding in overlaps:
        assert_overlap_paths(canvas_table, finding)


def test_canvas_literal_first_is_warning(canvas_findings: list[Finding]) -> None:
    [users] = [
        finding
        for finding in canvas_findings
        if finding.code == "overlapping-routes"
        and str(finding.routes[0]) == "GET /api/v1/users/:id"
    ]

    assert "GET /api/v1/users/activity_stream" in [str(route) for route in users.routes]
    assert "/api/v1/users/activity_stream" in users.paths


def test_canvas_most_specific_shadowed() -> None:
    table = RouteTable(load_routes(CANVAS_ROUTES).routes, precedence="most_specific")

    shadowed = reported_routes(find_shadowed_routes(table))

    # The literal "clusters" outranks ":bucket", but ":id" and ":bucket" tie, so the
    # route declared first takes every path of ":id".
    assert shadowed == {"GET /api/v1/jobs2/:id"}


# --- compare_tables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        pytest.param(["GET /a", "PUT /a/:id"], ["PUT /a/:id", "GET /a"], [], id="same-routes"),
        pytest.param(
            ["GET /a", "GET /b"],
            ["GET /a"],
            [("url:GET|/b", "the file", "the app")],
            id="only-in-first",
        ),
        pytest.param(
            ["GET /a"],
            ["GET /a", "DELETE /a"],
            [("url:DELETE|/a", "the app", "the file")],
            id="only-in-second",
        ),
        pytest.param(
            ["GET /a/:id"],
            ["GET /a/:course_id"],
            [
                ("url:GET|/a/:id", "the file", "the app"),
                ("url:GET|/a/:course_id", "the app", "the file"),
            ],
            id="renamed-parameter",
        ),
        pytest.param(["GET /f/:id(.:format)"], ["GET /f/{id}"], [], id="format-and-syntax"),
        pytest.param(
            ["GET /a"],
            ["POST /a"],
            [("url:GET|/a", "the file", "the app"), ("url:POST|/a", "the app", "the file")],
            id="method",
        ),
    ],
)
def test_compare_tables(
    first: list[str], second: list[str], expected: list[tuple[str, str, str]]
) -> None:
    findings = compare_tables(
        make_table(first), make_table(second), table_name="the file", other_name="the app"
    )

    assert [finding.scope for finding in findings] == [scope for scope, _, _ in expected]
    for finding, (scope, present, absent) in zip(findings, expected, strict=True):
        assert finding.severity == "error"
        assert finding.code == "missing-route"
        assert f"is in {present}, but no route of {absent} has it" in finding.message
        assert all(route.scope == scope for route in finding.routes)


def test_compare_tables_scope_method() -> None:
    # A HEAD route read from a Starlette app carries the GET scope, like a websocket route.
    app = RouteTable(
        [
            Route("GET", "/a"),
            Route("HEAD", "/a", scope_method="GET"),
            Route(WEBSOCKET, "/a"),
        ]
    )

    assert compare_tables(make_table(["GET /a"]), app) == []


def test_compare_tables_lists_routes_of_scope() -> None:
    file = make_table(["GET /f/:id", "GET /f/:id.:format"])

    finding = compare_tables(file, make_table(["GET /g"]))[0]

    assert finding.routes == file.routes
    assert "(GET /f/:id, GET /f/:id.:format)" in finding.message


# --- check_scopes -----------------------------------------------------------------------------


SCOPE_TABLE = make_table(
    ["GET /api/v1/courses", "GET /api/v1/courses/:id", "PUT /api/v1/courses/:id"]
)


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        pytest.param("url:GET|/api/v1/courses/:id", None, id="route-scope"),
        pytest.param("profile", None, id="opaque"),
        pytest.param("/auth/userinfo", None, id="opaque-path"),
        pytest.param("a|b", None, id="opaque-with-bar"),
        pytest.param(
            "url:GET|/api/v1/courses/7",
            ("error", "unknown-scope", "resolves to GET /api/v1/courses/:id, whose scope is "
             "url:GET|/api/v1/courses/:id"),
            id="concrete-path",
        ),
        pytest.param(
            "url:GET|/api/v1/courses/:course_id",
            ("error", "unknown-scope", "whose scope is url:GET|/api/v1/courses/:id"),
            id="renamed-parameter",
        ),
        pytest.param(
            "url:GET|/api/v1/courses/{id}",
            ("error", "unknown-scope", "the route's scope is written url:GET|/api/v1/courses/:id"),
            id="starlette-notation",
        ),
        pytest.param(
            "url:HEAD|/api/v1/courses",
            ("error", "unknown-scope", "whose scope is url:GET|/api/v1/courses"),
            id="head-needs-get",
        ),
        pytest.param(
            "url:GET|/api/v2/courses",
            ("error", "unknown-scope", "matches no route of the table, so it grants nothing"),
            id="no-route",
        ),
        pytest.param(
            "url:DELETE|/api/v1/courses/:id",
            ("error", "unknown-scope", "matches no route of the table, so it grants nothing"),
            id="no-route-for-method",
        ),
        pytest.param(
            "url:get|/api/v1/courses",
            ("error", "invalid-scope", "is invalid (the verb must be upper case: 'GET')"),
            id="lower-case-verb",
        ),
        pytest.param(
            "url:GET/api/v1/courses", ("error", "invalid-scope", "missing '|'"), id="no-bar"
        ),
        pytest.param(
            "GET|/api/v1/courses",
            ("warning", "unprefixed-scope", "write 'url:GET|/api/v1/courses'"),
            id="no-prefix",
        ),
    ],
)  # fmt: skip
def test_check_scopes(scope: str, expected: tuple[str, str, str] | None) -> None:
    findings = check_scopes(SCOPE_TABLE, [scope])

    if expected is None:
        assert findings == []
        return
    [finding] = findings
    severity, code, fragment = expected
    assert finding.severity == severity
    assert finding.code == code
    assert finding.scope == scope
    assert fragment in finding.message
    assert finding.routes == ()


def test_check_scopes_once_per_scope() -> None:
    scopes = ["url:GET|/x", "profile", "url:GET|/x", "url:GET|/y"]

    findings = check_scopes(SCOPE_TABLE, scopes, origin="the token")

    assert [finding.scope for finding in findings] == ["url:GET|/x", "url:GET|/y"]
    assert findings[0].message.startswith("scope 'url:GET|/x' from the token matches no route")


@pytest.mark.parametrize(
    ("routes", "shared"),
    [
        pytest.param(
            [
                Route("GET", "/r/{year:int}", host="{tenant}.example.org"),
                Route("GET", "/r/{year:int}", host="admin.example.org"),
            ],
            2,
            id="hosts",
        ),
        pytest.param([Route("GET", "/u/{id:int}"), Route("GET", "/u/{id}")], 2, id="converters"),
        pytest.param([Route("GET", "/s/{rest:path}"), Route("GET", "/s/*rest")], 2, id="globs"),
        pytest.param(
            [Route("GET", "/f/:id/download"), Route("GET", "/f/:id/download.:type")],
            0,
            id="format-suffix",
        ),
        pytest.param(
            [Route("GET", "/f/:id"), Route("HEAD", "/f/:id", scope_method="GET")],
            0,
            id="head-of-get",
        ),
        pytest.param([Route("GET", "/u/{id}"), Route("GET", "/u/:id")], 0, id="same-template"),
    ],
)
def test_find_shared_scopes(routes: list[Route], shared: int) -> None:
    findings = find_shared_scopes(RouteTable(routes))

    assert sum(len(finding.routes) for finding in findings) == shared
    assert all(finding.severity == "error" for finding in findings)

"""Tests against the Canvas LMS API route table in tests/data/canvas_api_routes.tsv.

The file lists 1,299 routes in the order Canvas declares them (see tests/data/README.md).
Rails dispatches a request to the first declared route that matches, so under
``first_declared`` a concrete path of a route resolves to that route or to an earlier one.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from scopeguard import Outcome, Policy, Reason, Route, RouteTable, load_routes

DATA_FILE = Path(__file__).parent / "data" / "canvas_api_routes.tsv"
ROUTE_COUNT = 1299

# Value of every ":param" and of every "*glob" in the concrete paths built from templates.
PARAM_VALUE = "1"
GLOB_VALUE = "a/b"

# Routes whose concrete paths resolve to an earlier route, as (route, earlier route). Canvas
# constrains :bucket with a regular expression, which the data file leaves out (see
# tests/data/README.md), so without it the :bucket route takes these paths.
SHADOWED_ROUTES = {
    ("GET /api/v1/jobs2/clusters", "GET /api/v1/jobs2/:bucket"),
    ("GET /api/v1/jobs2/:id", "GET /api/v1/jobs2/:bucket"),
}


@pytest.fixture(scope="module")
def canvas_table() -> RouteTable:
    return load_routes(DATA_FILE)


def read_rows() -> list[dict[str, str]]:
    with DATA_FILE.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE))


def expand_groups(template: str) -> list[str]:
    """Return the template without groups for every choice of its optional groups."""
    start = template.find("(")
    if start < 0:
        return [template]

    depth = 0
    end = start
    for end in range(start, len(template)):
        if template[end] == "(":
            depth += 1
        elif template[end] == ")":
            depth -= 1
            if depth == 0:
                break

    inner_choices = ["", *expand_groups(template[start + 1 : end])]
    return [
        template[:start] + inner + rest
        for inner in inner_choices
        for rest in expand_groups(template[end + 1 :])
    ]


def concrete_paths(template: str) -> list[str]:
    """Return one request path for every choice of the optional groups of ``template``."""
    paths = []
    for variant in expand_groups(template):
        with_params = re.sub(r":\w+", PARAM_VALUE, variant)
        paths.append(re.sub(r"\*\w+", GLOB_VALUE, with_params))
    return paths


def test_expand_groups_helper() -> None:
    # The helper builds the expected paths, so it is checked on its own first.
    assert expand_groups("/a(/b(/c))(.:f)") == [
        "/a",
        "/a.:f",
        "/a/b",
        "/a/b.:f",
        "/a/b/c",
        "/a/b/c.:f",
    ]
    assert concrete_paths("/u/:id/data(/*scope)") == ["/u/1/data", "/u/1/data/a/b"]


def test_canvas_every_line_loads(canvas_table: RouteTable) -> None:
    rows = read_rows()

    assert len(rows) == ROUTE_COUNT
    assert len(canvas_table) == ROUTE_COUNT
    for row, route in zip(rows, canvas_table, strict=True):
        assert (route.method, route.path) == (row["method"], row["path"])
        assert (route.controller, route.action) == (row["controller"], row["action"])


def test_canvas_method_counts(canvas_table: RouteTable) -> None:
    counts = Counter(route.method for route in canvas_table)

    assert counts == {"GET": 635, "POST": 295, "PUT": 218, "DELETE": 144, "PATCH": 6, "OPTIONS": 1}


def test_canvas_scopes_are_route_paths(canvas_table: RouteTable) -> None:
    # No Canvas template ends in a format suffix, so every scope keeps the whole template.
    for route in canvas_table:
        assert route.scope == f"url:{route.method}|{route.path}"


def test_canvas_paths_resolve_no_later(canvas_table: RouteTable) -> None:
    positions = {id(route): position for position, route in enumerate(canvas_table)}

    for position, route in enumerate(canvas_table):
        for path in concrete_paths(route.path):
            resolution = canvas_table.resolve(route.method, path)
            request = f"{route.method} {path} of route {position}, {route.path}"
            assert resolution.outcome is Outcome.MATCHED, request
            assert resolution.route is not None, request
            assert positions[id(resolution.route)] <= position, request
            assert resolution.route.method == route.method, request
            assert resolution.route.template.matches(path), request


def test_canvas_shadowed_routes(canvas_table: RouteTable) -> None:
    shadowed = set()
    for route in canvas_table:
        for path in concrete_paths(route.path):
            resolved = canvas_table.resolve(route.method, path).route
            if resolved is not route:
                shadowed.add((str(route), str(resolved)))

    assert shadowed == SHADOWED_ROUTES


def test_canvas_shadowed_most_specific(canvas_table: RouteTable) -> None:
    table = RouteTable(canvas_table.routes, precedence="most_specific")

    clusters = table.resolve("GET", "/api/v1/jobs2/clusters").route
    job = table.resolve("GET", "/api/v1/jobs2/1").route

    assert str(clusters) == "GET /api/v1/jobs2/clusters"
    # :bucket and :id rank the same, so the route declared first still wins.
    assert str(job) == "GET /api/v1/jobs2/:bucket"


def literal_param_pairs(table: RouteTable) -> list[tuple[Route, Route]]:
    """Return the pairs (literal route, parameter route) with the literal declared first.

    The two routes have the same method and segment count and differ only where the
    parameter route has a ``:param`` segment and the literal route a literal one.
    """
    pairs = []
    routes = [route for route in table if not re.search(r"[()*]", route.path)]
    for position, literal in enumerate(routes):
        literal_segments = literal.path.split("/")
        for param in routes[position + 1 :]:
            param_segments = param.path.split("/")
            if param.method != literal.method or len(param_segments) != len(literal_segments):
                continue
            differences = [
                (literal_segment, param_segment)
                for literal_segment, param_segment in zip(
                    literal_segments, param_segments, strict=True
                )
                if literal_segment != param_segment
            ]
            if differences and all(
                ":" not in literal_segment and re.fullmatch(r":\w+", param_segment)
                for literal_segment, param_segment in differences
            ):
                pairs.append((literal, param))
    return pairs


def test_canvas_literal_pairs_found(canvas_table: RouteTable) -> None:
    pairs = {(str(literal), str(param)) for literal, param in literal_param_pairs(canvas_table)}

    assert len(pairs) == 57
    assert ("GET /api/v1/users/activity_stream", "GET /api/v1/users/:id") in pairs
    assert (
        "DELETE /api/v1/users/self/communication_channels/push",
        "DELETE /api/v1/users/:user_id/communication_channels/:id",
    ) in pairs


def test_canvas_literal_beats_later_param(canvas_table: RouteTable) -> None:
    policy = Policy(canvas_table)
    shadowed = {route for route, _ in SHADOWED_ROUTES}
    pairs = [pair for pair in literal_param_pairs(canvas_table) if str(pair[0]) not in shadowed]

    assert len(pairs) == 56
    for literal, param in pairs:
        path = concrete_paths(literal.path)[0]
        decision = policy.decide(literal.method, path, {param.scope})
        request = f"{literal.method} {path}, declared before {param.path}"
        assert canvas_table.resolve(literal.method, path).route is literal, request
        assert decision.allowed is False, request
        assert decision.reason is Reason.INSUFFICIENT_SCOPE, request
        assert decision.required_scope == literal.scope, request


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        pytest.param(
            "GET", "/api/v1/users/activity_stream", "/api/v1/users/activity_stream", id="literal"
        ),
        pytest.param(
            "GET",
            "/api/v1/users/self/activity_stream",
            "/api/v1/users/self/activity_stream",
            id="self-literal",
        ),
        pytest.param(
            "HEAD",
            "/api/v1/users/self/activity_stream",
            "/api/v1/users/self/activity_stream",
            id="head-literal",
        ),
        pytest.param("GET", "/api/v1/users/self", "/api/v1/users/:id", id="self-as-id"),
        pytest.param("GET", "/api/v1/users/7", "/api/v1/users/:id", id="id"),
    ],
)
def test_canvas_users_routes(
    canvas_table: RouteTable, method: str, path: str, template: str
) -> None:
    route = canvas_table.resolve(method, path).route

    assert route is not None
    assert route.path == template


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        pytest.param("/api/v1/users/activity_stream", False, id="literal"),
        pytest.param("/api/v1/users/self/activity_stream", False, id="self-literal"),
        pytest.param("/api/v1/users/self", True, id="self"),
        pytest.param("/api/v1/users/7", True, id="id"),
    ],
)
def test_canvas_user_scope_grants(canvas_table: RouteTable, path: str, allowed: bool) -> None:
    decision = Policy(canvas_table).decide("GET", path, {"url:GET|/api/v1/users/:id"})

    assert decision.allowed is allowed


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param(
            "GET",
            "/api/v1/jobs2/running/by_tag",
            "GET /api/v1/jobs2/:bucket/by_:group",
            id="mid-segment-param",
        ),
        pytest.param(
            "GET",
            "/api/v1/accounts/1/bounced_communication_channels.csv",
            "GET /api/v1/accounts/:account_id/bounced_communication_channels.csv",
            id="literal-csv",
        ),
        pytest.param(
            "GET",
            "/api/v1/accounts/1/bounced_communication_channelsxcsv",
            Outcome.NO_ROUTE,
            id="csv-dot-is-literal",
        ),
        pytest.param(
            "GET",
            "/api/v1/users/1/custom_data",
            "GET /api/v1/users/:user_id/custom_data(/*scope)",
            id="glob-group-absent",
        ),
        pytest.param(
            "PUT",
            "/api/v1/users/1/custom_data/a/b",
            "PUT /api/v1/users/:user_id/custom_data(/*scope)",
            id="glob-group-present",
        ),
        pytest.param(
            "GET", "/api/v1/users/1/custom_data/", Outcome.NO_ROUTE, id="glob-group-empty"
        ),
        pytest.param(
            "POST",
            "/api/v1/courses/1/outcome_imports/group/5",
            "POST /api/v1/courses/:course_id/outcome_imports(/group/:learning_outcome_group_id)",
            id="group-present",
        ),
        pytest.param(
            "GET",
            "/api/v1/courses/1/folders/by_path/a/b",
            "GET /api/v1/courses/:course_id/folders/by_path/*full_path",
            id="glob",
        ),
        pytest.param(
            "OPTIONS",
            "/api/v1/files/1/create_success",
            "OPTIONS /api/v1/files/:id/create_success",
            id="options",
        ),
        pytest.param("PATCH", "/api/v1/courses/1", Outcome.METHOD_NOT_ALLOWED, id="no-patch"),
        pytest.param("GET", "/api/v1/courses/1/", Outcome.NO_ROUTE, id="trailing-slash"),
    ],
)
def test_canvas_feature_routes(
    canvas_table: RouteTable, method: str, path: str, expected: str | Outcome
) -> None:
    resolution = canvas_table.resolve(method, path)

    if isinstance(expected, Outcome):
        assert resolution.outcome is expected
    else:
        assert str(resolution.route) == expected

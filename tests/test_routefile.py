"""Tests of loading route tables from TOML, JSON, tab-separated and scope catalogue files,
and of writing them to TOML and JSON."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scopeguard import (
    HTTP_METHODS,
    PRECEDENCES,
    ROUTE_KEYS,
    ROUTE_METHODS,
    ConfigurationError,
    Route,
    RouteTable,
    dump_routes,
    load_routes,
    routes_from_data,
    routes_to_data,
)

CANVAS_ROUTES = Path(__file__).parent / "data" / "canvas_api_routes.tsv"

EXPECTED_ROUTES = (
    Route(
        "GET",
        "/api/v1/courses/:course_id/files",
        resource="files",
        resource_name="Files",
        controller="files",
        action="api_index",
    ),
    Route("GET", "/health", public=True),
    Route("DELETE", "/api/v1/courses/:course_id", controller="courses", action="destroy"),
)

TOML_TEXT = """\
precedence = "most_specific"

[[routes]]
method = "GET"
path = "/api/v1/courses/:course_id/files"
resource = "files"
resource_name = "Files"
controller = "files"
action = "api_index"

[[routes]]
method = "GET"
path = "/health"
public = true

[[routes]]
method = "DELETE"
path = "/api/v1/courses/:course_id"
controller = "courses"
action = "destroy"
"""

JSON_ROUTES: list[dict[str, Any]] = [
    {
        "method": "GET",
        "path": "/api/v1/courses/:course_id/files",
        "resource": "files",
        "resource_name": "Files",
        "controller": "files",
        "action": "api_index",
    },
    {"method": "GET", "path": "/health", "public": True},
    {
        "method": "DELETE",
        "path": "/api/v1/courses/:course_id",
        "controller": "courses",
        "action": "destroy",
    },
]

TSV_TEXT = (
    "method\tpath\tresource\tresource_name\tcontroller\taction\tpublic\n"
    "GET\t/api/v1/courses/:course_id/files\tfiles\tFiles\tfiles\tapi_index\tfalse\n"
    "GET\t/health\t\t\t\t\ttrue\n"
    "DELETE\t/api/v1/courses/:course_id\t\t\tcourses\tdestroy\t\n"
)


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# --- Valid files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "precedence"),
    [
        pytest.param("routes.toml", TOML_TEXT, "most_specific", id="toml"),
        pytest.param("routes.json", json.dumps(JSON_ROUTES), "first_declared", id="json-list"),
        pytest.param(
            "routes.json",
            json.dumps({"precedence": "most_specific", "routes": JSON_ROUTES}),
            "most_specific",
            id="json-object",
        ),
        pytest.param(
            "routes.json",
            json.dumps({"routes": JSON_ROUTES}),
            "first_declared",
            id="json-object-default",
        ),
        pytest.param("routes.tsv", TSV_TEXT, "first_declared", id="tsv"),
        pytest.param("ROUTES.TOML", TOML_TEXT, "most_specific", id="upper-case-suffix"),
    ],
)
def test_load_routes(tmp_path: Path, name: str, content: str, precedence: str) -> None:
    table = load_routes(write(tmp_path, name, content))

    assert isinstance(table, RouteTable)
    assert table.routes == EXPECTED_ROUTES
    assert table.precedence == precedence


def test_loaded_routes_have_scopes(tmp_path: Path) -> None:
    table = load_routes(write(tmp_path, "routes.toml", TOML_TEXT))

    assert [route.scope for route in table] == [
        "url:GET|/api/v1/courses/:course_id/files",
        "url:GET|/health",
        "url:DELETE|/api/v1/courses/:course_id",
    ]


def test_load_routes_accepts_str_path(tmp_path: Path) -> None:
    path = write(tmp_path, "routes.toml", TOML_TEXT)

    assert load_routes(str(path)).routes == EXPECTED_ROUTES


def test_load_canvas_route_data() -> None:
    table = load_routes(CANVAS_ROUTES)

    assert len(table) == 1299
    assert table.routes[0] == Route("GET", "/api/v1/courses", controller="courses", action="index")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("method\tpath\n", (), id="header-only"),
        pytest.param("method\tpath\n\nGET\t/a\n\n", (Route("GET", "/a"),), id="blank-lines"),
        pytest.param("path\tmethod\n/a\tGET\n", (Route("GET", "/a"),), id="any-column-order"),
        pytest.param(
            "method\tpath\tpublic\nGET\t/a\tTRUE\n",
            (Route("GET", "/a", public=True),),
            id="upper-true",
        ),
        pytest.param("method\tpath\tpublic\nGET\t/a\t\n", (Route("GET", "/a"),), id="public-empty"),
    ],
)
def test_load_tsv_forms(tmp_path: Path, content: str, expected: tuple[Route, ...]) -> None:
    assert load_routes(write(tmp_path, "routes.tsv", content)).routes == expected


HOST_ROUTE = Route("GET", "/a", host="{tenant}.example.org", scope_method="POST")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param(
            "routes.toml",
            '[[routes]]\nmethod = "GET"\npath = "/a"\nhost = "{tenant}.example.org"\n'
            'scope_method = "POST"\n',
            id="toml",
        ),
        pytest.param(
            "routes.json",
            json.dumps(
                [
                    {
                        "method": "GET",
                        "path": "/a",
                        "host": "{tenant}.example.org",
                        "scope_method": "POST",
                    }
                ]
            ),
            id="json",
        ),
        pytest.param(
            "routes.tsv",
            "method\tpath\thost\tscope_method\nGET\t/a\t{tenant}.example.org\tPOST\n",
            id="tsv",
        ),
    ],
)
def test_load_host_and_scope_method(tmp_path: Path, name: str, content: str) -> None:
    table = load_routes(write(tmp_path, name, content))

    assert table.routes == (HOST_ROUTE,)
    assert table.routes[0].scope == "url:POST|/a"
    assert table.has_host_routes


@pytest.mark.parametrize(
    ("content", "route"),
    [
        pytest.param('{"method": "WEBSOCKET", "path": "/ws"}', Route("WEBSOCKET", "/ws"), id="get"),
        pytest.param(
            '{"method": "WEBSOCKET", "path": "/ws", "scope_method": "WEBSOCKET"}',
            Route("WEBSOCKET", "/ws", scope_method="WEBSOCKET"),
            id="own-verb",
        ),
    ],
)
def test_load_websocket_route(tmp_path: Path, content: str, route: Route) -> None:
    table = load_routes(write(tmp_path, "routes.json", f"[{content}]"))

    assert table.routes == (route,)
    dump_routes(table, tmp_path / "again.toml")
    assert load_routes(tmp_path / "again.toml").routes == (route,)


# --- Invalid files ------------------------------------------------------------------------


def _json(data: Any) -> str:
    return json.dumps(data)


GET_A = {"method": "GET", "path": "/a"}

ERROR_CASES = [
    pytest.param("routes.yaml", "routes: []", ["not an OpenAPI document"], id="yaml-not-openapi"),
    pytest.param("routes", "[]", ["unknown route file type ''"], id="no-suffix"),
    pytest.param("routes.toml", "[[routes]\nmethod = ", ["invalid TOML"], id="bad-toml"),
    pytest.param("routes.json", "[{]", ["invalid JSON"], id="bad-json"),
    pytest.param(
        "routes.json", b'[{"method": "GET", "path": "/\xff"}]', ["cannot read"], id="bad-utf8"
    ),
    pytest.param(
        "routes.json", _json("GET /a"), ["routes must be a list, got str"], id="json-string"
    ),
    pytest.param(
        "routes.json", _json(None), ["routes must be a list, got NoneType"], id="json-null"
    ),
    pytest.param(
        "routes.json", _json({"precedence": "first_declared"}), ["missing 'routes'"], id="no-routes"
    ),
    pytest.param(
        "routes.json",
        _json({"routes": [], "version": 2}),
        ["unknown top-level key 'version'"],
        id="unknown-top-level-key",
    ),
    pytest.param(
        "routes.json",
        _json({"routes": {"GET": "/a"}}),
        ["routes must be a list, got dict"],
        id="routes-object",
    ),
    pytest.param(
        "routes.json",
        _json({"routes": [], "precedence": "last_declared"}),
        ["unknown precedence 'last_declared'"],
        id="bad-precedence",
    ),
    pytest.param(
        "routes.toml",
        "precedence = 1\nroutes = []\n",
        ["unknown precedence 1"],
        id="precedence-number",
    ),
    pytest.param(
        "routes.json",
        _json([GET_A, "GET /b"]),
        ["route 2", "expected an object"],
        id="entry-string",
    ),
    pytest.param(
        "routes.json",
        _json([GET_A, {**GET_A, "scope": "url:GET|/a"}]),
        ["route 2", "unknown key 'scope'"],
        id="unknown-key",
    ),
    pytest.param(
        "routes.json", _json([{"path": "/a"}]), ["route 1", "missing 'method'"], id="no-method"
    ),
    pytest.param(
        "routes.json", _json([{"method": "GET"}]), ["route 1", "missing 'path'"], id="no-path"
    ),
    pytest.param(
        "routes.json",
        _json([{"method": 1, "path": "/a"}]),
        ["route 1", "'method' must be a string"],
        id="method-number",
    ),
    pytest.param(
        "routes.json",
        _json([{"method": "GET", "path": ["/a"]}]),
        ["route 1", "'path' must be a string"],
        id="path-list",
    ),
    pytest.param(
        "routes.json",
        _json([{**GET_A, "controller": 5}]),
        ["route 1", "'controller' must be a string"],
        id="controller-number",
    ),
    pytest.param(
        "routes.json",
        _json([{**GET_A, "public": "yes"}]),
        ["route 1", "'public' must be true or false"],
        id="public-string",
    ),
    pytest.param(
        "routes.json",
        _json([{**GET_A, "public": 1}]),
        ["route 1", "'public' must be true or false"],
        id="public-number",
    ),
    pytest.param(
        "routes.json",
        _json([GET_A, {"method": "get", "path": "/b"}]),
        ["route 2", "unknown method 'get'", "upper case"],
        id="lower-case-method",
    ),
    pytest.param(
        "routes.json",
        _json([{"method": "FETCH", "path": "/b"}]),
        ["route 1", "unknown method 'FETCH'"],
        id="unknown-method",
    ),
    pytest.param(
        "routes.json",
        _json([{"method": "GET", "path": "courses"}]),
        ["route 1", "must start with '/'"],
        id="relative-path",
    ),
    pytest.param(
        "routes.json",
        _json([{"method": "GET", "path": "/courses/(:id"}]),
        ["route 1", "unbalanced '('"],
        id="unbalanced-group",
    ),
    pytest.param(
        "routes.json",
        _json([{**GET_A, "host": 443}]),
        ["route 1", "'host' must be a string"],
        id="host-number",
    ),
    pytest.param(
        "routes.json",
        _json([{**GET_A, "host": ""}]),
        ["route 1", "a host template must be a non-empty string"],
        id="host-empty",
    ),
    pytest.param(
        "routes.json",
        _json([{**GET_A, "host": "example.org/api"}]),
        ["route 1", "may not contain whitespace or '/'"],
        id="host-slash",
    ),
    pytest.param(
        "routes.json",
        _json([{**GET_A, "host": "{tenant:slug}.example.org"}]),
        ["route 1", "unknown converter 'slug'"],
        id="host-unknown-converter",
    ),
    pytest.param(
        "routes.json",
        _json([{**GET_A, "scope_method": ["GET"]}]),
        ["route 1", "'scope_method' must be a string"],
        id="scope-method-list",
    ),
    pytest.param(
        "routes.json",
        _json([GET_A, {**GET_A, "scope_method": "get"}]),
        ["route 2", "unknown scope_method 'get'"],
        id="scope-method-lower-case",
    ),
    pytest.param(
        "routes.json",
        _json([{**GET_A, "scope_method": "WEBSOCKET"}]),
        ["route 1", "unknown scope_method 'WEBSOCKET'"],
        id="scope-method-websocket",
    ),
    pytest.param(
        "routes.toml",
        '[[routes]]\nmethod = "GET"\npath = "/a"\n\n[[routes]]\nmethod = "GET"\n',
        ["route 2", "missing 'path'"],
        id="toml-no-path",
    ),
    pytest.param(
        "routes.toml",
        '[[routes]]\nmethod = "GET"\npath = "/a"\npublic = "true"\n',
        ["route 1", "'public' must be true or false"],
        id="toml-public-string",
    ),
    pytest.param(
        "routes.toml", 'routes = "GET /a"\n', ["routes must be a list"], id="toml-routes-string"
    ),
    pytest.param(
        "routes.tsv",
        "method\tpath\nGET\t/a\tpublic\n",
        ["route 1", "unknown key '(extra column)'"],
        id="tsv-extra-column",
    ),
    pytest.param(
        "routes.tsv", "method\tpath\nGET\n", ["route 1", "missing 'path'"], id="tsv-missing-path"
    ),
    pytest.param(
        "routes.tsv",
        "method\tpath\tpublic\nGET\t/a\tyes\n",
        ["route 1", "'public' must be true or false"],
        id="tsv-public-yes",
    ),
    pytest.param(
        "routes.tsv",
        "verb\tpath\nGET\t/a\n",
        ["route 1", "unknown key 'verb'"],
        id="tsv-unknown-column",
    ),
    pytest.param(
        "routes.tsv",
        "path\tmethod\nGET\t/a\n",
        ["route 1", "unknown method '/a'"],
        id="tsv-swapped-values",
    ),
    pytest.param(
        "routes.tsv",
        "method\tpath\nGET\t/a\nget\t/b\n",
        ["route 2", "unknown method 'get'"],
        id="tsv-lower-case-method",
    ),
]


@pytest.mark.parametrize(("name", "content", "fragments"), ERROR_CASES)
def test_load_routes_error(
    tmp_path: Path, name: str, content: str | bytes, fragments: list[str]
) -> None:
    path = write(tmp_path, name, content)

    with pytest.raises(ConfigurationError) as raised:
        load_routes(path)
    message = str(raised.value)

    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message


def test_load_routes_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    with pytest.raises(ConfigurationError, match="cannot read the route file") as raised:
        load_routes(path)

    assert str(path) in str(raised.value)


def test_load_routes_directory(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.mkdir()

    with pytest.raises(ConfigurationError, match="cannot read the route file"):
        load_routes(path)


def test_errors_are_value_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "routes.json", "[{]")

    with pytest.raises(ValueError, match="invalid JSON"):
        load_routes(path)


# --- routes_from_data ---------------------------------------------------------------------


def test_routes_from_data_default_source() -> None:
    with pytest.raises(ConfigurationError, match=r"^route data: route 1: missing 'path'$"):
        routes_from_data([{"method": "GET"}])


def test_routes_from_data_custom_source() -> None:
    with pytest.raises(ConfigurationError, match=r"^inline routes: routes must be a list"):
        routes_from_data(7, source="inline routes")


def test_route_keys_are_route_fields() -> None:
    route = Route("GET", "/a")

    for key in ROUTE_KEYS:
        assert hasattr(route, key)


TEMPLATES = [
    "/api/v1/courses",
    "/api/v1/courses/:course_id",
    "/api/v1/courses/:course_id/files/*path",
    "/files/:file_id/download(.:format)",
    "/api/v1/users/{user_id:int}/profile",
    "/api/v1/jobs2/:bucket/by_:group",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
NAMES = st.one_of(st.none(), st.text(alphabet="abcdefghij_/", min_size=1, max_size=12))

route_entries = st.fixed_dictionaries(
    {"method": st.sampled_from(METHODS), "path": st.sampled_from(TEMPLATES)},
    optional={
        "resource": NAMES,
        "resource_name": NAMES,
        "controller": NAMES,
        "action": NAMES,
        "public": st.booleans(),
        "host": st.one_of(st.none(), st.sampled_from(["example.org", "{tenant}.example.org"])),
        "scope_method": st.one_of(st.none(), st.sampled_from(METHODS)),
    },
)


@settings(deadline=None)
@given(entries=st.lists(route_entries, max_size=8))
def test_json_round_trip(entries: list[dict[str, Any]]) -> None:
    table = routes_from_data(json.loads(json.dumps(entries)))

    expected = tuple(
        Route(
            entry["method"],
            entry["path"],
            resource=entry.get("resource"),
            resource_name=entry.get("resource_name"),
            controller=entry.get("controller"),
            action=entry.get("action"),
            public=entry.get("public", False),
            host=entry.get("host"),
            scope_method=entry.get("scope_method"),
        )
        for entry in entries
    )
    assert table.routes == expected


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("routes.toml", '[[routes]]\nmethod = "GET"\npath = "/a"\n', id="toml"),
        pytest.param("routes.json", '[{"method": "GET", "path": "/a"}]', id="json"),
        pytest.param("routes.tsv", "method\tpath\nGET\t/a\n", id="tsv"),
    ],
)
def test_load_routes_byte_order_mark(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + content.encode("utf-8"))

    table = load_routes(path)

    assert [route.scope for route in table] == ["url:GET|/a"]


# --- Scope catalogues ---------------------------------------------------------------------

FILES_SCOPE = {
    "resource": "files",
    "resource_name": "Files",
    "controller": "files",
    "action": "show",
    "verb": "GET",
    "scope": "url:GET|/courses/:course_id/files/:file_id/download",
}
USERINFO_SCOPE = {
    "resource": "oauth2",
    "resource_name": "OAuth2",
    "verb": "GET",
    "scope": "/auth/userinfo",
}
COURSES_SCOPE = {
    "resource": "courses",
    "resource_name": "Courses",
    "controller": "courses",
    "action": "destroy",
    "verb": "DELETE",
    "scope": "url:DELETE|/api/v1/courses/:id",
}
FILES_ROUTE = Route(
    "GET",
    "/courses/:course_id/files/:file_id/download",
    resource="files",
    resource_name="Files",
    controller="files",
    action="show",
)
COURSES_ROUTE = Route(
    "DELETE",
    "/api/v1/courses/:id",
    resource="courses",
    resource_name="Courses",
    controller="courses",
    action="destroy",
)


@pytest.mark.parametrize(
    ("name", "content", "expected", "precedence"),
    [
        pytest.param(
            "scopes.json",
            _json([COURSES_SCOPE, USERINFO_SCOPE, FILES_SCOPE]),
            (COURSES_ROUTE, FILES_ROUTE),
            "all_matching",
            id="list",
        ),
        pytest.param(
            "scopes.json",
            _json({"Courses": [COURSES_SCOPE], "OAuth2": [USERINFO_SCOPE], "Files": [FILES_SCOPE]}),
            (COURSES_ROUTE, FILES_ROUTE),
            "all_matching",
            id="grouped",
        ),
        pytest.param(
            "scopes.json",
            _json({"Files": [FILES_SCOPE, COURSES_SCOPE]}),
            (FILES_ROUTE, COURSES_ROUTE),
            "all_matching",
            id="grouped-keeps-entry-order",
        ),
        pytest.param(
            "scopes.json",
            _json({"routes": [FILES_SCOPE], "precedence": "first_declared"}),
            (FILES_ROUTE,),
            "first_declared",
            id="object-with-precedence",
        ),
        pytest.param(
            "scopes.json",
            _json({"routes": [FILES_SCOPE]}),
            (FILES_ROUTE,),
            "all_matching",
            id="object-default-precedence",
        ),
        pytest.param(
            "scopes.json",
            _json([{**FILES_SCOPE, "path": "/courses/:course_id/files/:file_id/download"}]),
            (FILES_ROUTE,),
            "all_matching",
            id="with-path",
        ),
        pytest.param(
            "scopes.json",
            _json([{key: value for key, value in FILES_SCOPE.items() if key != "verb"}]),
            (FILES_ROUTE,),
            "all_matching",
            id="without-verb",
        ),
        pytest.param(
            "scopes.json",
            _json([{"scope": "url:GET|/a", "verb": None, "resource": None}]),
            (Route("GET", "/a"),),
            "all_matching",
            id="nulls",
        ),
        pytest.param(
            "scopes.json",
            _json([USERINFO_SCOPE, {"scope": "cd2", "verb": None}]),
            (),
            "all_matching",
            id="only-opaque-scopes",
        ),
        pytest.param(
            "scopes.json",
            _json([{"scope": "url:GET|/api/v1/folders/:id/files(/*path)", "verb": "GET"}]),
            (Route("GET", "/api/v1/folders/:id/files(/*path)"),),
            "all_matching",
            id="optional-glob",
        ),
        pytest.param(
            "scopes.toml",
            '[[routes]]\nverb = "GET"\nscope = "url:GET|/a"\n',
            (Route("GET", "/a"),),
            "all_matching",
            id="toml",
        ),
        pytest.param(
            "scopes.json",
            _json([{"scope": "url:WEBSOCKET|/live/:room", "verb": "WEBSOCKET"}]),
            (Route("WEBSOCKET", "/live/:room", scope_method="WEBSOCKET"),),
            "all_matching",
            id="websocket-verb",
        ),
    ],
)
def test_load_scope_catalogue(
    tmp_path: Path, name: str, content: str, expected: tuple[Route, ...], precedence: str
) -> None:
    table = load_routes(write(tmp_path, name, content))

    assert table.routes == expected
    assert table.precedence == precedence


def test_catalogue_routes_have_catalogue_scopes(tmp_path: Path) -> None:
    entries = [COURSES_SCOPE, USERINFO_SCOPE, FILES_SCOPE]
    table = load_routes(write(tmp_path, "scopes.json", _json(entries)))

    assert [route.scope for route in table] == [COURSES_SCOPE["scope"], FILES_SCOPE["scope"]]


def test_load_canvas_catalogue(tmp_path: Path) -> None:
    """A catalogue of the Canvas routes, as the list-scopes endpoint lists them, gives a
    route for every distinct scope, with that scope."""
    canvas = load_routes(CANVAS_ROUTES)
    scopes = dict.fromkeys(route.scope for route in canvas)
    catalogue = [
        {"resource": None, "resource_name": None, "verb": scope.split("|")[0][4:], "scope": scope}
        for scope in scopes
    ]

    table = load_routes(write(tmp_path, "scopes.json", _json(catalogue)))

    assert [route.scope for route in table] == list(scopes)
    assert [route.path for route in table] == [scope.split("|", 1)[1] for scope in scopes]


SCOPE_ERROR_CASES = [
    pytest.param(
        _json([FILES_SCOPE, {**COURSES_SCOPE, "verb": "GET"}]),
        ["scope 2: verb 'GET' does not match the scope 'url:DELETE|/api/v1/courses/:id'"],
        id="verb-mismatch",
    ),
    pytest.param(
        _json(
            {"Files": [FILES_SCOPE], "Courses": [USERINFO_SCOPE, {**COURSES_SCOPE, "verb": "PUT"}]}
        ),
        ["scope 2 of 'Courses': verb 'PUT' does not match"],
        id="grouped-verb-mismatch",
    ),
    pytest.param(
        _json([{**FILES_SCOPE, "verb": "get"}]),
        ["scope 1: verb 'get' does not match"],
        id="verb-lower-case",
    ),
    pytest.param(
        _json([{**FILES_SCOPE, "verb": 1}]),
        ["scope 1: 'verb' must be a string, got 1"],
        id="verb-number",
    ),
    pytest.param(
        _json([{**FILES_SCOPE, "path": "/courses/:id"}]),
        ["scope 1: path '/courses/:id' does not match the scope"],
        id="path-mismatch",
    ),
    pytest.param(
        _json([FILES_SCOPE, {"scope": 5, "verb": "GET"}]),
        ["scope 2: 'scope' must be a string, got 5"],
        id="scope-number",
    ),
    pytest.param(
        _json([{"scope": "url:GET/a", "verb": "GET"}]),
        ["scope 1: invalid scope 'url:GET/a'", "missing '|'"],
        id="scope-without-bar",
    ),
    pytest.param(
        _json([{"scope": "URL:GET|/a", "verb": "GET"}]),
        ["scope 1: invalid scope 'URL:GET|/a'", "starts with 'url:'"],
        id="scope-prefix-upper-case",
    ),
    pytest.param(
        _json([{"scope": "url:FETCH|/a"}]),
        ["scope 1: invalid scope 'url:FETCH|/a'", "unknown verb 'FETCH'"],
        id="scope-unknown-verb",
    ),
    pytest.param(
        _json([{"scope": "url:GET|/a/(:id"}]),
        ["scope 1: invalid route template '/a/(:id'", "unbalanced '('"],
        id="scope-unbalanced-group",
    ),
    pytest.param(
        _json([{"scope": "url:GET|/files/:id/download(.:format)"}]),
        ["scope 1: the route of scope", "needs the scope 'url:GET|/files/:id/download'"],
        id="scope-format-part",
    ),
    pytest.param(
        _json([{"scope": "url:GET|/users/{user_id}"}]),
        ["scope 1: the route of scope", "needs the scope 'url:GET|/users/:user_id'"],
        id="scope-starlette-path",
    ),
    pytest.param(
        _json([FILES_SCOPE, {**COURSES_SCOPE, "description": "Delete a course"}]),
        ["scope 2: unknown key 'description'", "a Scope object has the keys"],
        id="unknown-key",
    ),
    pytest.param(
        _json([FILES_SCOPE, "url:GET|/a"]),
        ["scope 2: expected a Scope object"],
        id="entry-string",
    ),
    pytest.param(
        _json([FILES_SCOPE, {"method": "GET", "path": "/a"}]),
        ["scope 2: unknown key 'method'"],
        id="route-in-scope-list",
    ),
    pytest.param(
        _json([FILES_SCOPE, {"verb": "GET"}]),
        ["scope 2: missing 'scope'"],
        id="no-scope",
    ),
    pytest.param(
        _json([{**FILES_SCOPE, "controller": ["files"]}]),
        ["scope 1: 'controller' must be a string"],
        id="controller-list",
    ),
    pytest.param(
        _json([{"method": "GET", "path": "/a"}, FILES_SCOPE]),
        ["route 2: unknown key 'scope'"],
        id="scope-in-route-list",
    ),
    pytest.param(
        _json({"Files": [FILES_SCOPE], "Other": "url:GET|/a"}),
        ["unknown top-level key 'Files'"],
        id="grouped-value-string",
    ),
    pytest.param(
        _json({"Files": [FILES_SCOPE], "Empty": []}),
        ["unknown top-level key 'Empty'"],
        id="grouped-empty-group",
    ),
    pytest.param(
        _json({"routez": [GET_A]}),
        ["unknown top-level key 'routez'"],
        id="mistyped-routes-key",
    ),
]


@pytest.mark.parametrize(("content", "fragments"), SCOPE_ERROR_CASES)
def test_load_scope_catalogue_error(tmp_path: Path, content: str, fragments: list[str]) -> None:
    path = write(tmp_path, "scopes.json", content)

    with pytest.raises(ConfigurationError) as raised:
        load_routes(path)
    message = str(raised.value)

    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message


# --- Writing ------------------------------------------------------------------------------

EXPECTED_TOML = TOML_TEXT
EXPECTED_JSON = """\
{
  "precedence": "most_specific",
  "routes": [
    {
      "method": "GET",
      "path": "/api/v1/courses/:course_id/files",
      "resource": "files",
      "resource_name": "Files",
      "controller": "files",
      "action": "api_index"
    },
    {
      "method": "GET",
      "path": "/health",
      "public": true
    },
    {
      "method": "DELETE",
      "path": "/api/v1/courses/:course_id",
      "controller": "courses",
      "action": "destroy"
    }
  ]
}
"""
EXPECTED_TABLE = RouteTable(EXPECTED_ROUTES, precedence="most_specific")


def test_routes_to_data() -> None:
    assert routes_to_data(EXPECTED_TABLE) == {"precedence": "most_specific", "routes": JSON_ROUTES}


def test_routes_to_data_host_and_scope_method() -> None:
    data = routes_to_data(RouteTable([HOST_ROUTE]))

    assert data["routes"] == [
        {"method": "GET", "path": "/a", "host": "{tenant}.example.org", "scope_method": "POST"}
    ]


def test_routes_to_data_keeps_empty_strings() -> None:
    data = routes_to_data(RouteTable([Route("GET", "/a", resource="", action="")]))

    assert data["routes"] == [{"method": "GET", "path": "/a", "resource": "", "action": ""}]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("routes.toml", EXPECTED_TOML, id="toml"),
        pytest.param("routes.json", EXPECTED_JSON, id="json"),
        pytest.param("ROUTES.JSON", EXPECTED_JSON, id="upper-case-suffix"),
    ],
)
def test_dump_routes_text(tmp_path: Path, name: str, expected: str) -> None:
    path = tmp_path / name

    dump_routes(EXPECTED_TABLE, path)

    assert path.read_bytes() == expected.encode("utf-8")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("routes.toml", 'precedence = "first_declared"\nroutes = []\n', id="toml"),
        pytest.param(
            "routes.json", '{\n  "precedence": "first_declared",\n  "routes": []\n}\n', id="json"
        ),
    ],
)
def test_dump_empty_table(tmp_path: Path, name: str, expected: str) -> None:
    path = tmp_path / name

    dump_routes(RouteTable([]), path)

    assert path.read_text(encoding="utf-8") == expected
    assert load_routes(path).routes == ()


def test_dump_routes_accepts_str_path(tmp_path: Path) -> None:
    path = tmp_path / "routes.toml"

    dump_routes(EXPECTED_TABLE, str(path))

    assert load_routes(path).routes == EXPECTED_ROUTES


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        pytest.param("routes.tsv", "'.tsv'", id="tsv"),
        pytest.param("routes.yaml", "'.yaml'", id="yaml"),
        pytest.param("routes", "''", id="no-suffix"),
    ],
)
def test_dump_routes_unknown_suffix(tmp_path: Path, name: str, suffix: str) -> None:
    path = tmp_path / name

    with pytest.raises(ConfigurationError) as raised:
        dump_routes(EXPECTED_TABLE, path)
    message = str(raised.value)

    assert message.startswith(f"{path}: ")
    assert f"cannot write a route file of type {suffix}; use .toml or .json" in message
    assert list(tmp_path.iterdir()) == []


# Strings that TOML must escape, or that a careless writer would mangle, and the TOML
# text the writer gives for each.
TOML_STRINGS = [
    pytest.param('say "hi"', '"say \\"hi\\""', id="quote"),
    pytest.param("C:\\files\\", '"C:\\\\files\\\\"', id="backslash"),
    pytest.param("\\u0041", '"\\\\u0041"', id="escape-lookalike"),
    pytest.param("a\tb\nc\rd", '"a\\tb\\nc\\rd"', id="tab-newline-return"),
    pytest.param("\b\f", '"\\b\\f"', id="backspace-form-feed"),
    pytest.param("\x00\x1b\x1f", '"\\u0000\\u001B\\u001F"', id="control-characters"),
    pytest.param("\x7f", '"\\u007F"', id="delete"),
    pytest.param("\x85\u2028\u2029", '"\\u0085\\u2028\\u2029"', id="line-separators"),
    pytest.param("\u200b\ufeff", '"\\u200B\\uFEFF"', id="format-characters"),
    pytest.param("\U000e0001", '"\\U000E0001"', id="astral-format-character"),
    pytest.param("\U0010ffff", '"\\U0010FFFF"', id="last-code-point"),
    pytest.param("Übungen für Kurse", '"Übungen für Kurse"', id="latin"),
    pytest.param("課程 📚", '"課程 📚"', id="cjk-and-emoji"),
    pytest.param("'''", "\"'''\"", id="single-quotes"),
    pytest.param('"""', '"\\"\\"\\""', id="triple-quotes"),
    pytest.param("# not a comment", '"# not a comment"', id="hash"),
    pytest.param(
        "x\n[[routes]]\nmethod = 'GET'", "\"x\\n[[routes]]\\nmethod = 'GET'\"", id="injection"
    ),
    pytest.param("", '""', id="empty"),
]


@pytest.mark.parametrize(("value", "expected"), TOML_STRINGS)
def test_dump_toml_escapes(tmp_path: Path, value: str, expected: str) -> None:
    path = tmp_path / "routes.toml"
    table = RouteTable([Route("GET", "/a", resource=value)])

    dump_routes(table, path)
    lines = path.read_text(encoding="utf-8").splitlines()

    assert f"resource = {expected}" in lines
    assert load_routes(path).routes == table.routes


@pytest.mark.parametrize(
    "value", [pytest.param(case.values[0], id=case.id) for case in TOML_STRINGS]
)
def test_dump_json_strings(tmp_path: Path, value: str) -> None:
    path = tmp_path / "routes.json"
    table = RouteTable([Route("GET", "/a", resource=value)])

    dump_routes(table, path)

    assert load_routes(path).routes == table.routes


@pytest.mark.parametrize("name", ["routes.toml", "routes.json"])
def test_dump_lone_surrogate(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    table = RouteTable([Route("GET", "/a"), Route("GET", "/b", action="x\ud800")])

    with pytest.raises(ConfigurationError) as raised:
        dump_routes(table, path)
    message = str(raised.value)

    assert message.startswith(f"{path}: route 2: action ")
    assert "lone surrogate U+D800" in message
    assert list(tmp_path.iterdir()) == []


def test_dump_replaces_file_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "routes.toml", "old content\n")
    replace = os.replace
    calls: list[tuple[Path, Path, str]] = []

    def spy(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        calls.append((Path(source), Path(target), Path(target).read_text(encoding="utf-8")))
        replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    dump_routes(EXPECTED_TABLE, path)

    assert len(calls) == 1
    source, target, content_before = calls[0]
    assert source.parent == path.parent
    assert target == path
    assert content_before == "old content\n"
    assert path.read_text(encoding="utf-8") == EXPECTED_TOML
    assert list(tmp_path.iterdir()) == [path]


def test_dump_failure_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "routes.json", "[]\n")

    def fail(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ConfigurationError) as raised:
        dump_routes(EXPECTED_TABLE, path)

    assert str(raised.value).startswith(f"{path}: cannot write the route file: ")
    assert path.read_text(encoding="utf-8") == "[]\n"
    assert list(tmp_path.iterdir()) == [path]


def test_dump_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "routes.toml"

    with pytest.raises(ConfigurationError) as raised:
        dump_routes(EXPECTED_TABLE, path)

    assert str(raised.value).startswith(f"{path}: cannot write the route file: ")
    assert not path.parent.exists()


def test_dump_over_directory(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.mkdir()
    (path / "keep").write_text("", encoding="utf-8")

    with pytest.raises(ConfigurationError, match="cannot write the route file"):
        dump_routes(EXPECTED_TABLE, path)

    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_dump_keeps_permissions(tmp_path: Path) -> None:
    path = write(tmp_path, "routes.toml", "")
    path.chmod(0o640)

    dump_routes(EXPECTED_TABLE, path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX umask")
def test_dump_new_file_permissions(tmp_path: Path) -> None:
    path = tmp_path / "routes.toml"
    umask = os.umask(0o022)
    try:
        dump_routes(EXPECTED_TABLE, path)
    finally:
        os.umask(umask)

    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need a privilege")
def test_dump_through_symlink(tmp_path: Path) -> None:
    real = write(tmp_path, "real.json", "[]\n")
    link = tmp_path / "routes.json"
    link.symlink_to(real)

    dump_routes(EXPECTED_TABLE, link)

    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == EXPECTED_JSON


# --- Round trips --------------------------------------------------------------------------

PARAM_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
# Any character that a template may contain as a literal: no whitespace, no control
# character, no "/" and none of the characters with a meaning in either syntax.
LITERALS = st.text(
    alphabet=st.characters(
        codec="utf-8",
        exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp"),
        exclude_characters="/{}:*()",
    ).filter(lambda character: not character.isspace()),
    min_size=1,
    max_size=6,
)
CONVERTERS = st.sampled_from(["", ":str", ":int", ":float", ":uuid"])


@st.composite
def rails_templates(draw: st.DrawFn) -> str:
    """Draw a Rails template: literal, parameter, mid-segment parameter, glob and optional
    segments, and an optional format part."""
    pieces: list[str] = []
    for index in range(draw(st.integers(1, 5))):
        name = f"{draw(PARAM_NAMES)}_{index}"
        # A template starts with "/", so an optional segment cannot come first.
        kinds = ["literal", "param", "mixed", "glob"] + (["group"] if index else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "literal":
            pieces.append(f"/{draw(LITERALS)}")
        elif kind == "param":
            pieces.append(f"/:{name}")
        elif kind == "mixed":
            pieces.append(f"/{draw(LITERALS)}:{name}")
        elif kind == "glob":
            pieces.append(f"/*{name}")
        else:
            pieces.append(f"(/{draw(LITERALS)}/:{name})")
    if draw(st.booleans()):
        pieces.append("(.:format)")
    return "".join(pieces)


@st.composite
def starlette_templates(draw: st.DrawFn) -> str:
    """Draw a Starlette template: literal segments and parameters with every converter."""
    pieces: list[str] = []
    for index in range(draw(st.integers(1, 5))):
        name = f"{draw(PARAM_NAMES)}_{index}"
        kind = draw(st.sampled_from(["literal", "param", "mixed", "path"]))
        if kind == "literal":
            pieces.append(f"/{draw(LITERALS)}")
        elif kind == "param":
            pieces.append(f"/{{{name}{draw(CONVERTERS)}}}")
        elif kind == "mixed":
            pieces.append(f"/{draw(LITERALS)}{{{name}{draw(CONVERTERS)}}}")
        else:
            pieces.append(f"/{{{name}:path}}")
    return "".join(pieces)


@st.composite
def host_templates(draw: st.DrawFn) -> str:
    """Draw a Starlette Host template: labels or parameters, and an optional port."""
    labels: list[str] = []
    for index in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            labels.append(f"{{{draw(PARAM_NAMES)}_{index}{draw(CONVERTERS)}}}")
        else:
            labels.append(draw(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)))
    port = draw(st.sampled_from(["", ":8000", ":443"]))
    return ".".join(labels) + port


METADATA = st.one_of(st.none(), st.text(max_size=20))

routes = st.builds(
    Route,
    method=st.sampled_from(sorted(ROUTE_METHODS)),
    path=st.one_of(rails_templates(), starlette_templates()),
    resource=METADATA,
    resource_name=METADATA,
    controller=METADATA,
    action=METADATA,
    public=st.booleans(),
    host=st.one_of(st.none(), host_templates()),
    scope_method=st.one_of(st.none(), st.sampled_from(sorted(HTTP_METHODS))),
)
route_tables = st.builds(
    RouteTable, st.lists(routes, max_size=6), precedence=st.sampled_from(PRECEDENCES)
)


@pytest.mark.parametrize("suffix", [".toml", ".json"])
@settings(deadline=None, max_examples=200)
@given(table=route_tables)
def test_dump_load_round_trip(suffix: str, table: RouteTable) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"routes{suffix}"
        dump_routes(table, path)
        loaded = load_routes(path)

    assert loaded.routes == table.routes
    assert loaded.precedence == table.precedence


@settings(deadline=None)
@given(table=route_tables)
def test_data_round_trip(table: RouteTable) -> None:
    loaded = routes_from_data(json.loads(json.dumps(routes_to_data(table))))

    assert loaded.routes == table.routes
    assert loaded.precedence == table.precedence


@settings(deadline=None, max_examples=300)
@given(value=st.text())
def test_toml_string_round_trip(value: str) -> None:
    table = RouteTable([Route("GET", "/a", resource_name=value)])

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "routes.toml"
        dump_routes(table, path)
        text = path.read_text(encoding="utf-8")
        loaded = load_routes(path)

    assert loaded.routes == table.routes
    # Every character that TOML forbids unescaped, and every other non-printable one, is
    # escaped, so line breaks are the only non-printable characters in the file.
    assert all(character == "\n" or character.isprintable() for character in text)


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_canvas_data_round_trip(tmp_path: Path, suffix: str) -> None:
    canvas = load_routes(CANVAS_ROUTES)
    first = tmp_path / f"first{suffix}"
    second = tmp_path / f"second{suffix}"

    dump_routes(canvas, first)
    loaded = load_routes(first)
    dump_routes(loaded, second)

    assert loaded.routes == canvas.routes
    assert loaded.precedence == canvas.precedence
    assert second.read_bytes() == first.read_bytes()


# --- The documentation --------------------------------------------------------------------

DOCS = Path(__file__).parent.parent / "docs" / "route-tables.md"


def _route_file_examples(language: str) -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("## Route files")
    end = text.find("\n## ", start)
    section = text[start:] if end == -1 else text[start:end]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


@pytest.mark.parametrize("language", ["toml", "json"])
def test_docs_route_file_examples_load(tmp_path: Path, language: str) -> None:
    examples = _route_file_examples(language)

    assert examples
    for index, example in enumerate(examples):
        table = load_routes(write(tmp_path, f"example{index}.{language}", example))
        assert len(table) > 0, example


# --- report_only ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param(
            "routes.toml",
            '[[routes]]\nmethod = "GET"\npath = "/grades/:id"\nreport_only = true\n',
            id="toml",
        ),
        pytest.param(
            "routes.json",
            '[{"method": "GET", "path": "/grades/:id", "report_only": true}]',
            id="json",
        ),
        pytest.param("routes.tsv", "method\tpath\treport_only\nGET\t/grades/:id\ttrue\n", id="tsv"),
    ],
)
def test_load_report_only(tmp_path: Path, name: str, content: str) -> None:
    table = load_routes(write(tmp_path, name, content))

    assert table.routes == (Route("GET", "/grades/:id", report_only=True),)
    assert routes_to_data(table)["routes"] == [
        {"method": "GET", "path": "/grades/:id", "report_only": True}
    ]


def test_report_only_must_be_boolean(tmp_path: Path) -> None:
    path = write(tmp_path, "routes.json", '[{"method": "GET", "path": "/a", "report_only": 1}]')

    with pytest.raises(ConfigurationError, match="'report_only' must be true or false, got 1"):
        load_routes(path)

"""Tests of loading route tables from TOML, JSON and tab-separated files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scopeguard import ConfigurationError, Route, RouteTable, load_routes, routes_from_data
from scopeguard.routefile import ROUTE_KEYS

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


# --- Invalid files ------------------------------------------------------------------------


def _json(data: Any) -> str:
    return json.dumps(data)


GET_A = {"method": "GET", "path": "/a"}

ERROR_CASES = [
    pytest.param(
        "routes.yaml", "routes: []", ["unknown route file type '.yaml'"], id="yaml-suffix"
    ),
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

"""Tests of route tables read from OpenAPI 3.0 and 3.1 documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scopeguard import (
    ConfigurationError,
    Policy,
    load_openapi,
    load_routes,
    routes_from_openapi,
)
from scopeguard.cli import main


def document(paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths, **extra}


def rows(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(route.method, route.path, route.scope) for route in routes_from_openapi(spec)]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            document({"/courses/{course_id}": {"get": {}, "delete": {}}}),
            [
                ("GET", "/courses/{course_id}", "url:GET|/courses/:course_id"),
                ("DELETE", "/courses/{course_id}", "url:DELETE|/courses/:course_id"),
            ],
            id="methods",
        ),
        pytest.param(
            document({"/users/{user-id}/files/{file.id}": {"get": {}}}),
            [("GET", "/users/{user_id}/files/{file_id}", "url:GET|/users/:user_id/files/:file_id")],
            id="parameter-names-made-valid",
        ),
        pytest.param(
            document({"/files/{name}.{ext}": {"get": {}}}),
            # A trailing ".{param}" is a format part, which scopes leave out, as Canvas does.
            [("GET", "/files/{name}.{ext}", "url:GET|/files/:name")],
            id="format-part",
        ),
        pytest.param(
            document({"/files/{name}.{ext}/meta": {"get": {}}}),
            [("GET", "/files/{name}.{ext}/meta", "url:GET|/files/:name.:ext/meta")],
            id="mid-segment-parameters",
        ),
        pytest.param(
            document({"/courses": {"get": {}}}, servers=[{"url": "https://api.example.org/v1/"}]),
            [("GET", "/v1/courses", "url:GET|/v1/courses")],
            id="server-path",
        ),
        pytest.param(
            document(
                {"/courses": {"get": {}}},
                servers=[
                    {
                        "url": "https://{host}/api/{version}",
                        "variables": {
                            "host": {"default": "api.example.org"},
                            "version": {"default": "v2", "enum": ["v1", "v2"]},
                        },
                    }
                ],
            ),
            [("GET", "/api/v2/courses", "url:GET|/api/v2/courses")],
            id="server-variables",
        ),
        pytest.param(
            document(
                {"/courses": {"get": {}}},
                servers=[{"url": "/v1"}, {"url": "https://eu.example.org/v1"}, {"url": "/v2"}],
            ),
            [
                ("GET", "/v1/courses", "url:GET|/v1/courses"),
                ("GET", "/v2/courses", "url:GET|/v2/courses"),
            ],
            id="distinct-server-paths",
        ),
        pytest.param(
            document(
                {
                    "/a": {"servers": [{"url": "/item"}], "get": {}},
                    "/b": {"get": {"servers": [{"url": "/operation"}]}},
                },
                servers=[{"url": "/root"}],
            ),
            [
                ("GET", "/item/a", "url:GET|/item/a"),
                ("GET", "/operation/b", "url:GET|/operation/b"),
            ],
            id="innermost-servers",
        ),
        pytest.param(
            document({"/": {"get": {}}}, servers=[{"url": "https://api.example.org"}]),
            [("GET", "/", "url:GET|/")],
            id="root-path",
        ),
        pytest.param(
            document({"/a": {"get": {}, "trace": {}, "parameters": [], "summary": "s"}}),
            [("GET", "/a", "url:GET|/a")],
            id="trace-and-other-keys-skipped",
        ),
        pytest.param(
            document(
                {"/a": {"$ref": "#/components/pathItems/a"}},
                components={"pathItems": {"a": {"post": {}}}},
            ),
            [("POST", "/a", "url:POST|/a")],
            id="path-item-ref",
        ),
    ],
)
def test_routes(spec: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    assert rows(spec) == expected


def test_metadata() -> None:
    spec = document(
        {
            "/courses/{id}": {
                "get": {"tags": ["Course Files", "Other"], "operationId": "showCourse"}
            },
            "/health": {"get": {"security": []}},
            "/me": {"get": {"security": [{"oauth": []}]}},
        }
    )

    course, health, me = routes_from_openapi(spec)

    assert (course.resource, course.resource_name, course.action) == (
        "course_files",
        "Course Files",
        "showCourse",
    )
    assert (course.public, health.public, me.public) == (False, True, False)
    assert health.resource is None


@pytest.mark.parametrize(
    ("path", "scopes", "status"),
    [
        pytest.param("/courses/self", {"url:GET|/courses/:id"}, 403, id="concrete-first"),
        pytest.param("/courses/self", {"url:GET|/courses/self"}, 200, id="concrete-scope"),
        pytest.param("/courses/7", {"url:GET|/courses/:id"}, 200, id="templated"),
    ],
)
def test_concrete_paths_win(path: str, scopes: set[str], status: int) -> None:
    """OpenAPI matches concrete paths before templated ones, whatever the order."""
    table = routes_from_openapi(
        document({"/courses/{id}": {"get": {}}, "/courses/self": {"get": {}}})
    )

    assert table.precedence == "most_specific"
    assert Policy(table).decide("GET", path, scopes).status == status


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"swagger": "2.0", "paths": {}}, "openapi: expected version 3.0 or 3.1",
                     id="swagger-2"),
        pytest.param(document([]), "paths: must be an object", id="paths-list"),  # type: ignore[arg-type]
        pytest.param(document({"courses": {"get": {}}}), "paths.courses: a path must start",
                     id="relative-path"),
        pytest.param(document({"/a": {"get": []}}), "paths./a.get: must be an object",
                     id="operation-list"),
        pytest.param(document({"/a": {"get": {"tags": "x"}}}), "paths./a.get.tags: must be a list",
                     id="tags-string"),
        pytest.param(document({"/a": {"get": {"operationId": 7}}}),
                     "paths./a.get.operationId: must be a string", id="operation-id"),
        pytest.param(document({"/a": {"get": {}}}, servers=[{"url": "/{v}"}]),
                     "servers[0]: server variable {v} needs a 'default'", id="variable-default"),
        pytest.param(document({"/a": {"get": {}}}, servers="/v1"), "servers: must be a list",
                     id="servers-string"),
        pytest.param(document({"/a": {"$ref": "other.yaml#/a"}}),
                     "paths./a.$ref: only references inside the document", id="external-ref"),
        pytest.param(document({"/a": {"$ref": "#/components/pathItems/x"}}),
                     "points to nothing", id="broken-ref"),
        pytest.param(document({"/a/{x-y}/{x_y}": {"get": {}}}),
                     "paths./a/{x-y}/{x_y}: parameter {x_y} repeats the name 'x_y'",
                     id="names-collide"),
        pytest.param(document({"/a:b": {"get": {}}}), "paths./a:b: a literal ':'",
                     id="literal-colon"),
        pytest.param(document({"/a/{}": {"get": {}}}), "empty parameter", id="empty-parameter"),
    ],
)  # fmt: skip
def test_errors_name_the_location(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        routes_from_openapi(spec)

    assert message in str(raised.value)


YAML_DOCUMENT = """\
openapi: 3.0.3
info: {title: Courses, version: "1"}
servers:
  - url: https://api.example.org/v1
paths:
  /courses/{course_id}:
    get:
      tags: [Courses]
      operationId: getCourse
"""


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("openapi.yaml", YAML_DOCUMENT, id="yaml"),
        pytest.param("openapi.yml", YAML_DOCUMENT, id="yml"),
        pytest.param(
            "openapi.json",
            json.dumps(document({"/courses/{course_id}": {"get": {}}}, servers=[{"url": "/v1"}])),
            id="json",
        ),
    ],
)
def test_load_files(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    for table in (load_openapi(path), load_routes(path)):
        assert [route.scope for route in table] == ["url:GET|/v1/courses/:course_id"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("bad.yaml", "openapi: [3.0\n", "not valid YAML", id="yaml"),
        pytest.param("bad.json", "{", "not valid JSON", id="json"),
        pytest.param("old.yaml", "swagger: '2.0'\npaths: {}\n", "expected version 3.0", id="v2"),
    ],
)
def test_load_errors_name_the_file(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigurationError) as raised:
        load_openapi(path)

    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_cli_scopes_of_openapi_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_text(YAML_DOCUMENT, encoding="utf-8")

    status = main(["scopes", "--format", "json", str(path)])
    listed = json.loads(capsys.readouterr().out)

    assert status == 0
    assert listed == [
        {
            "resource": "courses",
            "resource_name": "Courses",
            "controller": "openapi",
            "action": "getCourse",
            "verb": "GET",
            "scope": "url:GET|/v1/courses/:course_id",
        }
    ]

"""Tests of routes_from_app, scope_resource and public on real Starlette and FastAPI apps.

The dispatch properties send generated requests through the real apps in-process and check
that whenever the app ran an endpoint, the table resolves the request to that endpoint's
route, so the middleware requires exactly that endpoint's scope. Their default example
count keeps the module within a few seconds for CI. Set HYPOTHESIS_PROFILE=thorough to run
20 times as many.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import json
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import run_asgi_server
from fastapi import APIRouter, FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint, WebSocketEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Host, Mount, Router, WebSocketRoute
from starlette.routing import Route as StarletteRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from scopeguard import (
    WEBSOCKET,
    ConfigurationError,
    JWTVerifier,
    Outcome,
    RouteTable,
    ScopeGuardMiddleware,
    mint_token,
    path_problem,
    public,
    report_only,
    routes_from_app,
    scope_resource,
)

SECRET = "introspect-test-secret-0123456789abcdef"

# HYPOTHESIS_PROFILE=thorough runs each dispatch property with 20 times the examples.
DISPATCH_EXAMPLES = 20_000 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 1000


# --- Endpoints and apps for reading -------------------------------------------------------


async def show_course(request: Request) -> Response:
    return PlainTextResponse("show_course")


async def create_course(request: Request) -> Response:
    return PlainTextResponse("create_course")


async def show_file(request: Request) -> Response:
    return PlainTextResponse("show_file")


async def course_home(request: Request) -> Response:
    return PlainTextResponse("course_home")


async def live(websocket: WebSocket) -> None:
    await websocket.close()


@public
async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


@scope_resource("course_files", "Course Files")
async def download_file(request: Request) -> Response:
    return PlainTextResponse("download_file")


@public
@scope_resource("status_checks")
async def public_then_marked(request: Request) -> Response:
    return PlainTextResponse("public_then_marked")


@scope_resource("status_checks")
@public
async def marked_then_public(request: Request) -> Response:
    return PlainTextResponse("marked_then_public")


class SectionEndpoint(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("get")

    async def post(self, request: Request) -> Response:
        return PlainTextResponse("post")

    async def delete(self, request: Request) -> Response:
        return PlainTextResponse("delete")


class UploadEndpoint(HTTPEndpoint):
    async def put(self, request: Request) -> Response:
        return PlainTextResponse("put")


class FeedSocket(WebSocketEndpoint):
    encoding = "text"


class CourseViews:
    async def show(self, request: Request) -> Response:
        return PlainTextResponse("show")


class ExportApp:
    """A plain ASGI app, which Starlette runs for every method when it is a Route's endpoint."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("export")(scope, receive, send)


class Passthrough:
    """A plain ASGI middleware that keeps the wrapped app in ``app``, as most do."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


async def plain_asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Serve every request with 200 and complete the lifespan protocol, with no router."""
    if scope["type"] != "lifespan":
        await PlainTextResponse("plain")(scope, receive, send)
        return
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


class OddRoute(BaseRoute):
    """A route class that scopeguard does not read."""


VIEWS = CourseViews()
Row = tuple[str, str, str]


def rows(table: RouteTable) -> list[Row]:
    """Return each route of ``table`` as (method, path, scope), in table order."""
    return [(route.method, route.path, route.scope) for route in table]


def read(*routes: BaseRoute, **options: Any) -> RouteTable:
    return routes_from_app(Starlette(routes=list(routes)), **options)


def get_and_head(path: str, scope_path: str) -> list[Row]:
    scope = f"url:GET|{scope_path}"
    return [("GET", path, scope), ("HEAD", path, scope)]


# --- Reading Starlette routes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        pytest.param(
            [StarletteRoute("/courses/{course_id:int}", show_course)],
            get_and_head("/courses/{course_id:int}", "/courses/:course_id"),
            id="function-get-and-head",
        ),
        pytest.param(
            [StarletteRoute("/courses", create_course, methods=["POST", "put"])],
            [("POST", "/courses", "url:POST|/courses"), ("PUT", "/courses", "url:PUT|/courses")],
            id="explicit-methods",
        ),
        pytest.param(
            [StarletteRoute("/courses", create_course, methods=["DELETE", "GET"])],
            [
                *get_and_head("/courses", "/courses"),
                ("DELETE", "/courses", "url:DELETE|/courses"),
            ],
            id="explicit-get-brings-head",
        ),
        pytest.param(
            [StarletteRoute("/courses", show_course, methods=["HEAD"])],
            [("HEAD", "/courses", "url:HEAD|/courses")],
            id="head-only",
        ),
        pytest.param(
            [StarletteRoute("/any", show_course, methods=[])],
            [
                *get_and_head("/any", "/any"),
                *[
                    (method, "/any", f"url:{method}|/any")
                    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")
                ],
            ],
            id="empty-method-list",
        ),
        pytest.param(
            [StarletteRoute("/sections/{section_id}", SectionEndpoint)],
            [
                *get_and_head("/sections/{section_id}", "/sections/:section_id"),
                ("POST", "/sections/{section_id}", "url:POST|/sections/:section_id"),
                ("DELETE", "/sections/{section_id}", "url:DELETE|/sections/:section_id"),
            ],
            id="http-endpoint",
        ),
        pytest.param(
            [StarletteRoute("/uploads", UploadEndpoint)],
            [("PUT", "/uploads", "url:PUT|/uploads")],
            id="http-endpoint-without-get",
        ),
        pytest.param(
            [WebSocketRoute("/live/{room}", live)],
            [(WEBSOCKET, "/live/{room}", "url:GET|/live/:room")],
            id="websocket-route",
        ),
        pytest.param(
            [WebSocketRoute("/feed", FeedSocket)],
            [(WEBSOCKET, "/feed", "url:GET|/feed")],
            id="websocket-endpoint-class",
        ),
        pytest.param(
            [
                Mount(
                    "/api/v1",
                    routes=[
                        Mount(
                            "/courses/{course_id:int}",
                            routes=[
                                StarletteRoute("/", course_home),
                                StarletteRoute("/files/{file_id:uuid}", show_file),
                                StarletteRoute("/files/{name}.{ext}", show_file),
                            ],
                        ),
                        StarletteRoute("/prices/{amount:float}", show_file),
                    ],
                )
            ],
            [
                *get_and_head("/api/v1/courses/{course_id:int}/", "/api/v1/courses/:course_id/"),
                *get_and_head(
                    "/api/v1/courses/{course_id:int}/files/{file_id:uuid}",
                    "/api/v1/courses/:course_id/files/:file_id",
                ),
                *get_and_head(
                    "/api/v1/courses/{course_id:int}/files/{name}.{ext}",
                    "/api/v1/courses/:course_id/files/:name",
                ),
                *get_and_head("/api/v1/prices/{amount:float}", "/api/v1/prices/:amount"),
            ],
            id="nested-mounts",
        ),
        pytest.param(
            [Mount("/admin", app=Starlette(routes=[StarletteRoute("/stats", show_course)]))],
            get_and_head("/admin/stats", "/admin/stats"),
            id="mounted-starlette-app",
        ),
        pytest.param(
            [Mount("/admin", app=Router([StarletteRoute("/stats", show_course)]))],
            get_and_head("/admin/stats", "/admin/stats"),
            id="mounted-router",
        ),
        pytest.param(
            [
                Mount(
                    "/admin",
                    routes=[StarletteRoute("/stats", show_course)],
                    middleware=[Middleware(Passthrough)],
                )
            ],
            get_and_head("/admin/stats", "/admin/stats"),
            id="mount-with-middleware",
        ),
        pytest.param(
            [Mount("/admin/", routes=[StarletteRoute("/stats", show_course)])],
            get_and_head("/admin/stats", "/admin/stats"),
            id="mount-trailing-slash",
        ),
        pytest.param(
            [Mount("", routes=[StarletteRoute("/stats", show_course)])],
            get_and_head("/stats", "/stats"),
            id="mount-empty-path",
        ),
        pytest.param(
            [Mount("/exports", app=plain_asgi_app)],
            get_and_head("/exports/{path:path}", "/exports/*path"),
            id="mounted-asgi-function",
        ),
        pytest.param(
            [StarletteRoute("/export", ExportApp())],
            get_and_head("/export", "/export"),
            id="route-to-asgi-app",
        ),
    ],
)
def test_read_starlette_routes(routes: list[BaseRoute], expected: list[Row]) -> None:
    assert rows(read(*routes)) == expected


def test_read_router_directly() -> None:
    router = Router([StarletteRoute("/stats", show_course), WebSocketRoute("/live", live)])

    table = routes_from_app(router)

    assert rows(table) == [
        *get_and_head("/stats", "/stats"),
        (WEBSOCKET, "/live", "url:GET|/live"),
    ]


def test_read_keeps_declaration_order() -> None:
    table = read(
        StarletteRoute("/z", show_course, methods=["POST"]),
        Mount("/m", routes=[StarletteRoute("/b", show_course, methods=["PUT"])]),
        WebSocketRoute("/a", live),
        StarletteRoute("/a", show_course, methods=["DELETE"]),
    )

    assert [str(route) for route in table] == [
        "POST /z",
        "PUT /m/b",
        "WEBSOCKET /a",
        "DELETE /a",
    ]


def test_read_precedence_first_declared() -> None:
    assert read(StarletteRoute("/x", show_course)).precedence == "first_declared"


@pytest.mark.parametrize(
    ("routes", "action"),
    [
        pytest.param(
            [
                StarletteRoute("/users/me", course_home),
                StarletteRoute("/users/{user_id}", show_course),
            ],
            "course_home",
            id="literal-first",
        ),
        pytest.param(
            [
                StarletteRoute("/users/{user_id}", show_course),
                StarletteRoute("/users/me", course_home),
            ],
            "show_course",
            id="parameter-first",
        ),
    ],
)
def test_resolve_first_declared_sibling(routes: list[BaseRoute], action: str) -> None:
    route = read(*routes).resolve("GET", "/users/me").route

    assert route is not None
    assert route.action == action


@pytest.mark.parametrize(
    ("wrap", "expected_type"),
    [
        pytest.param(
            lambda routes: Starlette(routes=routes, middleware=[Middleware(Passthrough)]),
            Starlette,
            id="middleware-list",
        ),
        pytest.param(
            lambda routes: Passthrough(Starlette(routes=routes)), Passthrough, id="wrapped"
        ),
        pytest.param(
            lambda routes: Passthrough(Passthrough(Router(routes))),
            Passthrough,
            id="wrapped-twice",
        ),
    ],
)
def test_read_app_in_middleware(
    wrap: Callable[[list[BaseRoute]], ASGIApp], expected_type: type[Any]
) -> None:
    app = wrap([StarletteRoute("/courses/{course_id}", show_course)])

    table = routes_from_app(app)

    assert isinstance(app, expected_type)
    assert rows(table) == get_and_head("/courses/{course_id}", "/courses/:course_id")


def test_read_static_files_mount(tmp_path: Path) -> None:
    table = read(Mount("/static", app=StaticFiles(directory=tmp_path)))

    assert rows(table) == get_and_head("/static/{path:path}", "/static/*path")


@pytest.mark.parametrize(
    ("opaque_methods", "expected"),
    [
        pytest.param(
            ("GET",),
            {"/static": ["GET", "HEAD"], "/dav": ["GET", "HEAD"], "/export": ["GET", "HEAD"]},
            id="default",
        ),
        pytest.param(
            ("GET", "PUT"),
            {
                "/static": ["GET", "HEAD", "PUT"],
                "/dav": ["GET", "HEAD", "PUT"],
                "/export": ["GET", "HEAD", "PUT"],
            },
            id="global",
        ),
        pytest.param(
            ["POST"],
            {"/static": ["POST"], "/dav": ["POST"], "/export": ["POST"]},
            id="global-without-get",
        ),
        pytest.param(
            {"/dav": ["PUT", "DELETE"]},
            {"/static": ["GET", "HEAD"], "/dav": ["PUT", "DELETE"], "/export": ["GET", "HEAD"]},
            id="per-mount",
        ),
    ],
)
def test_read_opaque_methods(
    tmp_path: Path,
    opaque_methods: tuple[str, ...] | list[str] | dict[str, list[str]],
    expected: dict[str, list[str]],
) -> None:
    table = read(
        Mount("/static", app=StaticFiles(directory=tmp_path)),
        Mount("/dav", app=plain_asgi_app),
        StarletteRoute("/export", ExportApp()),
        opaque_methods=opaque_methods,
    )

    methods: dict[str, list[str]] = {}
    for route in table:
        prefix = route.path.removesuffix("/{path:path}")
        methods.setdefault(prefix, []).append(route.method)
    assert methods == expected


def test_read_head_scope_follows_get() -> None:
    table = read(Mount("/dav", app=plain_asgi_app), opaque_methods=("HEAD", "GET"))

    assert [route.scope_method for route in table] == [None, "GET"]


def test_read_host_routes() -> None:
    host = Host(
        "{tenant}.example.org",
        app=Router([StarletteRoute("/reports/{report_id:int}", show_course)]),
    )

    table = read(host, StarletteRoute("/reports/{report_id}", show_file))

    assert [(str(route), route.host) for route in table] == [
        ("GET /reports/{report_id:int}", "{tenant}.example.org"),
        ("HEAD /reports/{report_id:int}", "{tenant}.example.org"),
        ("GET /reports/{report_id}", None),
        ("HEAD /reports/{report_id}", None),
    ]


@pytest.mark.parametrize(
    ("host", "action"),
    [
        pytest.param("acme.example.org", "show_course", id="tenant-host"),
        pytest.param("ACME.example.org:8443", "show_course", id="tenant-host-with-port"),
        pytest.param("example.org", "show_file", id="other-host"),
        pytest.param(None, "show_file", id="no-host-header"),
    ],
)
def test_resolve_host_routes(host: str | None, action: str) -> None:
    table = read(
        Host(
            "{tenant}.example.org",
            app=Router([StarletteRoute("/reports/{report_id:int}", show_course)]),
        ),
        StarletteRoute("/reports/{report_id}", show_file),
    )

    route = table.resolve("GET", "/reports/7", host).route

    assert route is not None
    assert route.action == action


def test_read_host_of_opaque_app() -> None:
    table = read(Host("files.example.org", app=plain_asgi_app))

    assert [(str(route), route.host, route.scope) for route in table] == [
        ("GET /{path:path}", "files.example.org", "url:GET|/*path"),
        ("HEAD /{path:path}", "files.example.org", "url:GET|/*path"),
    ]


# --- Reading FastAPI routes ---------------------------------------------------------------


class FileTag(enum.Enum):
    FILES = "Course Files"


def build_fastapi_app(tmp_path: Path) -> FastAPI:
    """Return a FastAPI app with included routers, websockets, a mount and the docs routes."""
    app = FastAPI()

    @app.get("/health")
    async def fastapi_health() -> dict[str, str]:
        return {"status": "ok"}

    courses = APIRouter(prefix="/courses", tags=["Course Catalog"])

    @courses.get("/{course_id}")
    async def fastapi_show_course(course_id: int) -> dict[str, int]:
        return {"course_id": course_id}

    @courses.put("/{course_id}")
    async def fastapi_update_course(course_id: int) -> dict[str, int]:
        return {"course_id": course_id}

    @courses.websocket("/{course_id}/live")
    async def fastapi_course_live(websocket: WebSocket, course_id: int) -> None:
        await websocket.close()

    sections = APIRouter(prefix="/{course_id}/sections", tags=["Sections"])

    @sections.get("/")
    async def fastapi_list_sections(course_id: int) -> list[int]:
        return []

    courses.include_router(sections)

    files = APIRouter(tags=[FileTag.FILES])

    @files.api_route("/files/{file_id}", methods=["GET", "DELETE"])
    async def fastapi_file(file_id: int) -> dict[str, int]:
        return {"file_id": file_id}

    files.routes.append(StarletteRoute("/legacy/{name}", SectionEndpoint))

    app.include_router(courses, prefix="/api/v1")
    app.include_router(files, prefix="/api/v1")

    @app.websocket("/live")
    async def fastapi_live(websocket: WebSocket) -> None:
        await websocket.close()

    app.mount("/static", StaticFiles(directory=tmp_path))
    return app


def test_read_fastapi_routes(tmp_path: Path) -> None:
    table = routes_from_app(build_fastapi_app(tmp_path))

    assert [(str(route), route.scope) for route in table] == [
        ("GET /openapi.json", "url:GET|/openapi.json"),
        ("HEAD /openapi.json", "url:GET|/openapi.json"),
        ("GET /docs", "url:GET|/docs"),
        ("HEAD /docs", "url:GET|/docs"),
        ("GET /docs/oauth2-redirect", "url:GET|/docs/oauth2-redirect"),
        ("HEAD /docs/oauth2-redirect", "url:GET|/docs/oauth2-redirect"),
        ("GET /redoc", "url:GET|/redoc"),
        ("HEAD /redoc", "url:GET|/redoc"),
        ("GET /health", "url:GET|/health"),
        ("GET /api/v1/courses/{course_id}", "url:GET|/api/v1/courses/:course_id"),
        ("PUT /api/v1/courses/{course_id}", "url:PUT|/api/v1/courses/:course_id"),
        ("WEBSOCKET /api/v1/courses/{course_id}/live", "url:GET|/api/v1/courses/:course_id/live"),
        (
            "GET /api/v1/courses/{course_id}/sections/",
            "url:GET|/api/v1/courses/:course_id/sections/",
        ),
        ("GET /api/v1/files/{file_id}", "url:GET|/api/v1/files/:file_id"),
        ("DELETE /api/v1/files/{file_id}", "url:DELETE|/api/v1/files/:file_id"),
        ("GET /api/v1/legacy/{name}", "url:GET|/api/v1/legacy/:name"),
        ("HEAD /api/v1/legacy/{name}", "url:GET|/api/v1/legacy/:name"),
        ("POST /api/v1/legacy/{name}", "url:POST|/api/v1/legacy/:name"),
        ("DELETE /api/v1/legacy/{name}", "url:DELETE|/api/v1/legacy/:name"),
        ("WEBSOCKET /live", "url:GET|/live"),
        ("GET /static/{path:path}", "url:GET|/static/*path"),
        ("HEAD /static/{path:path}", "url:GET|/static/*path"),
    ]


@pytest.mark.parametrize(
    ("path", "resource", "resource_name"),
    [
        pytest.param(
            "/api/v1/courses/{course_id}", "course_catalog", "Course Catalog", id="router-tag"
        ),
        pytest.param(
            "/api/v1/courses/{course_id}/sections/",
            "course_catalog",
            "Course Catalog",
            id="outer-tag-first",
        ),
        pytest.param("/api/v1/files/{file_id}", "course_files", "Course Files", id="enum-tag"),
        pytest.param("/health", "health", "Health", id="no-tag"),
        pytest.param("/live", "live", "Live", id="websocket-no-tag"),
    ],
)
def test_read_fastapi_resource(
    tmp_path: Path, path: str, resource: str, resource_name: str
) -> None:
    table = routes_from_app(build_fastapi_app(tmp_path))

    route = next(route for route in table if route.path == path)

    assert route.resource == resource
    assert route.resource_name == resource_name


def test_fastapi_head_resolves_to_get(tmp_path: Path) -> None:
    app = build_fastapi_app(tmp_path)
    table = routes_from_app(app)

    resolution = table.resolve("HEAD", "/health")
    response = asyncio.run(call_app(app, "HEAD", "/health"))

    # FastAPI adds no HEAD to its GET routes and responds with 405, but the table still
    # requires the GET route's scope, as it does for any HEAD request without a HEAD route.
    assert [route.method for route in table if route.path == "/health"] == ["GET"]
    assert resolution.route is not None
    assert resolution.route.scope == "url:GET|/health"
    assert response.status == 405


def test_fastapi_public_paths(tmp_path: Path) -> None:
    table = routes_from_app(build_fastapi_app(tmp_path), public_paths={"/openapi.json", "/docs"})

    assert sorted({route.path for route in table if route.public}) == ["/docs", "/openapi.json"]


def test_fastapi_mount_mark_beats_tag() -> None:
    tagged = APIRouter(tags=["Tagged"])

    @tagged.get("/items")
    async def list_items() -> list[int]:
        return []

    app = FastAPI(openapi_url=None)
    app.mount("/legacy", scope_resource("legacy_items")(tagged))

    route = routes_from_app(app).routes[0]

    assert route.path == "/legacy/items"
    assert route.resource == "legacy_items"


def test_fastapi_endpoint_mark_beats_tag() -> None:
    router = APIRouter(tags=["Courses"])

    @router.get("/courses/{course_id}/syllabus")
    @scope_resource("syllabus")
    async def show_syllabus(course_id: int) -> dict[str, int]:
        return {"course_id": course_id}

    app = FastAPI(openapi_url=None)
    app.include_router(router)

    route = routes_from_app(app).routes[0]

    assert route.resource == "syllabus"
    assert route.resource_name == "Syllabus"


# --- Metadata -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "controller", "action"),
    [
        pytest.param(StarletteRoute("/x", show_course), __name__, "show_course", id="function"),
        pytest.param(
            StarletteRoute("/x", functools.partial(show_course)),
            __name__,
            "show_course",
            id="partial",
        ),
        pytest.param(StarletteRoute("/x", VIEWS.show), __name__, "show", id="bound-method"),
        pytest.param(
            StarletteRoute("/x", SectionEndpoint), __name__, "SectionEndpoint", id="http-endpoint"
        ),
        pytest.param(StarletteRoute("/x", ExportApp()), __name__, "ExportApp", id="asgi-instance"),
        pytest.param(WebSocketRoute("/x", live), __name__, "live", id="websocket-function"),
        pytest.param(
            Mount("/x", app=StaticFiles(directory=Path(__file__).parent, check_dir=False)),
            "starlette.staticfiles",
            "StaticFiles",
            id="static-files",
        ),
        pytest.param(
            Mount("/x", app=plain_asgi_app), __name__, "plain_asgi_app", id="mounted-function"
        ),
    ],
)
def test_read_controller_action(route: BaseRoute, controller: str, action: str) -> None:
    first = read(route).routes[0]

    assert first.controller == controller
    assert first.action == action


def marked_mount(resource: str, *routes: BaseRoute, path: str = "/m") -> Mount:
    return scope_resource(resource)(Mount(path, routes=list(routes)))


@pytest.mark.parametrize(
    ("route", "path", "resource", "resource_name"),
    [
        pytest.param(
            marked_mount("outer", StarletteRoute("/download", download_file)),
            "/m/download",
            "course_files",
            "Course Files",
            id="endpoint-mark-beats-mount",
        ),
        pytest.param(
            marked_mount("outer", marked_mount("inner_things", StarletteRoute("/x", show_file))),
            "/m/m/x",
            "inner_things",
            "Inner Things",
            id="nearest-mount-mark",
        ),
        pytest.param(
            marked_mount(
                "outer",
                Mount(
                    "/r", app=scope_resource("grades")(Router([StarletteRoute("/x", show_file)]))
                ),
            ),
            "/m/r/x",
            "grades",
            "Grades",
            id="router-mark-in-mount",
        ),
        pytest.param(
            scope_resource("tenant_reports", "Reports")(
                Host("{tenant}.example.org", app=Router([StarletteRoute("/x", show_file)]))
            ),
            "/x",
            "tenant_reports",
            "Reports",
            id="host-mark",
        ),
        pytest.param(
            marked_mount("user-logins", StarletteRoute("/x", show_file), path="/api/v1/logins"),
            "/api/v1/logins/x",
            "user-logins",
            "User Logins",
            id="mount-mark-beats-segment",
        ),
        pytest.param(
            StarletteRoute("/api/v1/courses/{course_id}", show_course),
            "/api/v1/courses/{course_id}",
            "courses",
            "Courses",
            id="segment-after-api-version",
        ),
        pytest.param(
            StarletteRoute("/v2.1/user_logins", show_course),
            "/v2.1/user_logins",
            "user_logins",
            "User Logins",
            id="segment-after-dotted-version",
        ),
        pytest.param(
            StarletteRoute("/courses/api", show_course),
            "/courses/api",
            "courses",
            "Courses",
            id="api-after-segment",
        ),
        pytest.param(
            StarletteRoute("/api/v1", show_course), "/api/v1", None, None, id="prefix-only"
        ),
        pytest.param(
            StarletteRoute("/{course_id}/files", show_course),
            "/{course_id}/files",
            None,
            None,
            id="parameter-first",
        ),
        pytest.param(
            StarletteRoute("/files.{ext}", show_course),
            "/files.{ext}",
            None,
            None,
            id="mixed-first-segment",
        ),
    ],
)
def test_read_resource(
    route: BaseRoute, path: str, resource: str | None, resource_name: str | None
) -> None:
    found = next(found for found in read(route) if found.path == path)

    assert found.resource == resource
    assert found.resource_name == resource_name


@pytest.mark.parametrize(
    ("api_prefix", "path", "resource"),
    [
        pytest.param("/lti", "/lti/tools/{tool_id}", "tools", id="after-prefix"),
        pytest.param("/lti/", "/lti/tools", "tools", id="prefix-trailing-slash"),
        pytest.param("/lti", "/api/v1/courses", "api", id="no-automatic-skip"),
        pytest.param("/lti", "/ltix/tools", "ltix", id="prefix-not-segment"),
        pytest.param("/lti", "/lti", None, id="prefix-only"),
        pytest.param("/api/v1", "/api/v1/courses/{course_id}", "courses", id="api-version"),
    ],
)
def test_read_resource_api_prefix(api_prefix: str, path: str, resource: str | None) -> None:
    route = read(StarletteRoute(path, show_course), api_prefix=api_prefix).routes[0]

    assert route.resource == resource


@settings(max_examples=100, deadline=None)
@given(
    prefixes=st.lists(
        st.one_of(
            st.just("api"),
            st.integers(min_value=0, max_value=99).map(lambda major: f"v{major}"),
            st.tuples(st.integers(0, 9), st.integers(0, 9)).map(
                lambda pair: f"v{pair[0]}.{pair[1]}"
            ),
        ),
        max_size=3,
    ),
    segment=st.from_regex(r"[a-u][a-z_]{0,11}", fullmatch=True).filter(lambda text: text != "api"),
)
def test_resource_skips_api_and_versions(prefixes: list[str], segment: str) -> None:
    path = "/" + "/".join([*prefixes, segment, "{item_id}"])

    route = read(StarletteRoute(path, show_course)).routes[0]

    assert route.resource == segment


@pytest.mark.parametrize("resource", [pytest.param("", id="empty"), pytest.param(None, id="none")])
def test_scope_resource_rejects(resource: Any) -> None:
    with pytest.raises(ConfigurationError, match="resource must be a non-empty string"):
        scope_resource(resource)


@pytest.mark.parametrize(
    ("routes", "options", "expected"),
    [
        pytest.param(
            [StarletteRoute("/health", health), StarletteRoute("/courses", show_course)],
            {},
            {
                "GET /health": True,
                "HEAD /health": True,
                "GET /courses": False,
                "HEAD /courses": False,
            },
            id="endpoint-mark",
        ),
        pytest.param(
            [
                public(Mount("/open", routes=[StarletteRoute("/a", show_course)])),
                StarletteRoute("/b", show_course),
            ],
            {},
            {"GET /open/a": True, "HEAD /open/a": True, "GET /b": False, "HEAD /b": False},
            id="mount-mark",
        ),
        pytest.param(
            [Mount("/open", app=public(Router([StarletteRoute("/a", show_course)])))],
            {},
            {"GET /open/a": True, "HEAD /open/a": True},
            id="router-mark",
        ),
        pytest.param(
            [
                Mount("/api", routes=[StarletteRoute("/health", show_course)]),
                StarletteRoute("/health", show_course),
            ],
            {"public_paths": ["/api/health"]},
            {
                "GET /api/health": True,
                "HEAD /api/health": True,
                "GET /health": False,
                "HEAD /health": False,
            },
            id="public-paths-full-path",
        ),
        pytest.param(
            [Mount("/dav", app=plain_asgi_app)],
            {"public_paths": {"/dav/{path:path}"}},
            {"GET /dav/{path:path}": True, "HEAD /dav/{path:path}": True},
            id="public-paths-opaque-mount",
        ),
    ],
)
def test_read_public(
    routes: list[BaseRoute], options: dict[str, Any], expected: dict[str, bool]
) -> None:
    table = read(*routes, **options)

    assert {str(route): route.public for route in table} == expected


@pytest.mark.parametrize(
    "endpoint",
    [
        pytest.param(public_then_marked, id="public-outside"),
        pytest.param(marked_then_public, id="public-inside"),
    ],
)
def test_public_keeps_resource_mark(endpoint: Callable[[Request], Awaitable[Response]]) -> None:
    route = read(StarletteRoute("/status", endpoint)).routes[0]

    assert route.public is True
    assert route.resource == "status_checks"
    assert route.resource_name == "Status Checks"


# --- Errors -------------------------------------------------------------------------------


def cyclic_router() -> Router:
    router = Router()
    router.routes.append(Mount("/again", app=router))
    return router


def fastapi_with_included_mount() -> FastAPI:
    router = APIRouter()
    router.routes.append(Mount("/files", app=plain_asgi_app))
    app = FastAPI(openapi_url=None)
    app.include_router(router, prefix="/v1")
    return app


def fastapi_with_frontend() -> FastAPI:
    app = FastAPI(openapi_url=None)
    app.frontend("/", directory="frontend-build", check_dir=False)
    return app


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(object, "cannot read the routes of object", id="no-router"),
        pytest.param(
            lambda: plain_asgi_app, "cannot read the routes of function", id="plain-asgi-app"
        ),
        pytest.param(
            lambda: Starlette(routes=[StarletteRoute("/files:batch", show_course)]),
            "route '/files:batch' contains ':'",
            id="colon-in-path",
        ),
        pytest.param(
            lambda: Starlette(
                routes=[Mount("/v1:beta", routes=[StarletteRoute("/x", show_course)])]
            ),
            "route '/v1:beta/x' contains ':'",
            id="colon-in-mount",
        ),
        pytest.param(
            lambda: Starlette(routes=[StarletteRoute("/files*", show_course)]),
            "route '/files*' contains ':', '*', '(' or ')'",
            id="star-in-path",
        ),
        pytest.param(
            lambda: Starlette(routes=[StarletteRoute("/files(1)", show_course)]),
            "route '/files(1)' contains ':', '*', '(' or ')'",
            id="parenthesis-in-path",
        ),
        pytest.param(
            lambda: Starlette(
                routes=[
                    Host(
                        "a.example.org",
                        app=Router([Host("b.example.org", app=Router([]))]),
                    )
                ]
            ),
            "Host 'b.example.org' is nested in Host 'a.example.org'",
            id="host-in-host",
        ),
        pytest.param(
            lambda: Starlette(routes=[StarletteRoute("/dav", show_course, methods=["PROPFIND"])]),
            "unknown method 'PROPFIND'",
            id="unknown-method",
        ),
        pytest.param(
            lambda: Starlette(routes=[OddRoute()]),
            "cannot read OddRoute under '/'",
            id="unknown-route-class",
        ),
        pytest.param(cyclic_router, "mounts nest deeper than 32 levels", id="cyclic-mount"),
        pytest.param(
            fastapi_with_included_mount,
            "cannot read Mount of an included FastAPI router",
            id="fastapi-included-mount",
        ),
        pytest.param(fastapi_with_frontend, "has frontend routes", id="fastapi-frontend"),
        pytest.param(
            lambda: Starlette(
                routes=[Mount("/c/{course_id}", routes=[StarletteRoute("/{course_id}", show_file)])]
            ),
            "duplicate parameter name course_id",
            id="parameter-name-reused",
        ),
    ],
)
def test_read_rejects_app(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        routes_from_app(build())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"opaque_methods": "GET"},
            "opaque_methods must be a list of methods, not the string 'GET'",
            id="opaque-string",
        ),
        pytest.param(
            {"opaque_methods": ["FETCH"]},
            "opaque_methods must list methods from DELETE, GET, HEAD, OPTIONS, PATCH, POST, "
            "PUT, got ['FETCH']",
            id="opaque-unknown",
        ),
        pytest.param({"opaque_methods": ["get"]}, "got ['get']", id="opaque-lower-case"),
        pytest.param({"opaque_methods": []}, "got []", id="opaque-empty"),
        pytest.param(
            {"opaque_methods": {"/files": "PUT"}},
            "opaque_methods['/files'] must be a list of methods, not the string 'PUT'",
            id="opaque-mapping-string",
        ),
        pytest.param(
            {"opaque_methods": {"/files": [WEBSOCKET]}},
            "opaque_methods['/files'] must list methods from",
            id="opaque-mapping-websocket",
        ),
        pytest.param(
            {"api_prefix": "api"},
            "api_prefix must be a path starting with '/', got 'api'",
            id="prefix-relative",
        ),
        pytest.param(
            {"api_prefix": ""},
            "api_prefix must be a path starting with '/', got ''",
            id="prefix-empty",
        ),
        pytest.param(
            {"api_prefix": 1},
            "api_prefix must be a path starting with '/', got 1",
            id="prefix-not-string",
        ),
        pytest.param(
            {"websocket_scope_method": "websocket"},
            "websocket_scope_method must be one of",
            id="websocket-verb-lower-case",
        ),
        pytest.param(
            {"websocket_scope_method": "CONNECT"},
            "websocket_scope_method must be one of",
            id="websocket-verb-unknown",
        ),
    ],
)
def test_read_rejects_option(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        read(StarletteRoute("/x", show_course), **options)


@pytest.mark.parametrize(
    ("verb", "scopes"),
    [
        pytest.param(
            "GET", ["url:GET|/events", "url:GET|/events", "url:GET|/events"], id="default"
        ),
        pytest.param(
            "WEBSOCKET",
            ["url:GET|/events", "url:GET|/events", "url:WEBSOCKET|/events"],
            id="websocket",
        ),
        pytest.param("POST", ["url:GET|/events", "url:GET|/events", "url:POST|/events"], id="post"),
    ],
)
def test_websocket_scope_method(verb: str, scopes: list[str]) -> None:
    """Only the websocket route takes the verb; the GET route's HEAD keeps the GET scope."""
    app = Starlette(
        routes=[StarletteRoute("/events", show_course), WebSocketRoute("/events", live)]
    )

    table = routes_from_app(app, websocket_scope_method=verb)

    assert [route.method for route in table] == ["GET", "HEAD", WEBSOCKET]
    assert [route.scope for route in table] == scopes


# --- Dispatch agrees with the table -------------------------------------------------------


class RecordingSections(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return record(request, "RecordingSections")

    async def post(self, request: Request) -> Response:
        return record(request, "RecordingSections")


class RecordingStaticFiles(StaticFiles):
    """StaticFiles that records the requests it serves, its 404 responses included.

    StaticFiles raises its 404 as an exception, which Starlette's exception middleware turns
    into a response, so the record goes into the request state, not the response.
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        # StaticFiles responds to other methods with 405 without serving anything.
        if scope["method"] in ("GET", "HEAD"):
            scope["state"]["endpoint"] = "RecordingStaticFiles"
        return await super().get_response(path, scope)


def record(request: Request, name: str) -> Response:
    request.state.endpoint = name
    return PlainTextResponse(name)


def recorder(name: str) -> Callable[[Request], Awaitable[Response]]:
    """Return an endpoint named ``name`` that records its name in the request state."""

    async def endpoint(request: Request) -> Response:
        return record(request, name)

    endpoint.__name__ = endpoint.__qualname__ = name
    return endpoint


def socket_recorder(name: str) -> Callable[[WebSocket], Awaitable[None]]:
    async def endpoint(websocket: WebSocket) -> None:
        websocket.state.endpoint = name
        await websocket.close()

    endpoint.__name__ = endpoint.__qualname__ = name
    return endpoint


def build_dispatch_starlette(static_dir: Path) -> Starlette:
    """Return a Starlette app with every routing construct whose dispatch the table mirrors."""
    return Starlette(
        routes=[
            StarletteRoute("/", recorder("home")),
            Host(
                "{tenant}.example.org",
                app=Router(
                    [
                        StarletteRoute("/", recorder("tenant_home")),
                        StarletteRoute("/reports/{report_id:int}", recorder("tenant_report")),
                    ]
                ),
            ),
            StarletteRoute("/reports/{report_id}", recorder("show_report")),
            StarletteRoute("/users/me", recorder("show_me")),
            StarletteRoute("/users/{user_id}", recorder("show_user")),
            StarletteRoute("/groups/{group_id}", recorder("show_group")),
            StarletteRoute("/groups/new", recorder("new_group"), methods=["GET", "POST"]),
            StarletteRoute("/api/v1/courses/{course_id:int}/syllabus", recorder("syllabus")),
            Mount(
                "/api/v1",
                routes=[
                    StarletteRoute("/courses", recorder("list_courses")),
                    Mount(
                        "/courses/{course_id:int}",
                        routes=[
                            StarletteRoute("/", recorder("course_home")),
                            StarletteRoute("/files/{file_id:uuid}", recorder("file_by_id")),
                            StarletteRoute("/files/{name}.{ext}", recorder("file_by_name")),
                            StarletteRoute(
                                "/files/{name}", recorder("file_stem"), methods=["GET", "DELETE"]
                            ),
                            Mount(
                                "/modules/{module_id}",
                                routes=[
                                    StarletteRoute(
                                        "/items/{position:float}", recorder("module_item")
                                    ),
                                    StarletteRoute(
                                        "/{rest:path}", recorder("replace_module"), methods=["PUT"]
                                    ),
                                ],
                            ),
                            WebSocketRoute("/live", socket_recorder("course_live")),
                        ],
                    ),
                    # The Mount above takes every path under /courses/<int>/, so Starlette
                    # never reaches this route, though the table lists it.
                    StarletteRoute("/courses/{course_id:int}/late", recorder("late_course")),
                ],
            ),
            StarletteRoute("/items/{item_id:int}", recorder("show_item")),
            StarletteRoute(
                "/items/{item_id:int}", recorder("update_item"), methods=["PUT", "DELETE"]
            ),
            StarletteRoute("/sections/{section_id}", RecordingSections),
            StarletteRoute("/prices/{amount:float}", recorder("show_price")),
            StarletteRoute("/downloads/{file_path:path}", recorder("download")),
            StarletteRoute("/archive/{rest:path}/meta", recorder("archive_meta")),
            StarletteRoute("/live/{room}", recorder("live_page")),
            WebSocketRoute("/live/{room}", socket_recorder("live_socket")),
            Mount("/admin", app=Starlette(routes=[StarletteRoute("/stats", recorder("stats"))])),
            Mount("/static", app=RecordingStaticFiles(directory=static_dir)),
        ]
    )


def build_dispatch_fastapi(static_dir: Path) -> FastAPI:
    """Return a FastAPI app with nested included routers, websockets and a mount."""
    app = FastAPI(openapi_url=None)

    @app.get("/health")
    async def fastapi_health(request: Request) -> Response:
        return record(request, "fastapi_health")

    courses = APIRouter(prefix="/courses", tags=["Courses"])

    @courses.get("/search")
    async def search_courses(request: Request) -> Response:
        return record(request, "search_courses")

    @courses.get("/{course_id}")
    async def fastapi_show_course(course_id: int, request: Request) -> Response:
        return record(request, "fastapi_show_course")

    @courses.put("/{course_id}")
    async def fastapi_update_course(course_id: int, request: Request) -> Response:
        return record(request, "fastapi_update_course")

    @courses.websocket("/{course_id}/live")
    async def fastapi_course_live(websocket: WebSocket, course_id: int) -> None:
        websocket.state.endpoint = "fastapi_course_live"
        await websocket.close()

    sections = APIRouter(prefix="/{course_id}/sections", tags=["Sections"])

    @sections.get("/")
    async def list_sections(course_id: int, request: Request) -> Response:
        return record(request, "list_sections")

    @sections.post("/{section_id}")
    async def create_section(course_id: int, section_id: str, request: Request) -> Response:
        return record(request, "create_section")

    courses.include_router(sections)
    app.include_router(courses, prefix="/api/v1")

    # Declared after the included router, so GET /api/v1/courses/{course_id} shadows it.
    @app.get("/api/v1/courses/archived")
    async def archived_courses(request: Request) -> Response:
        return record(request, "archived_courses")

    @app.api_route("/multi/{rest:path}", methods=["GET", "POST"])
    async def multi(rest: str, request: Request) -> Response:
        return record(request, "multi")

    legacy = APIRouter()
    legacy.routes.append(StarletteRoute("/legacy/{name}", RecordingSections))
    app.include_router(legacy, prefix="/v2")

    @app.websocket("/live/{room}")
    async def fastapi_live(websocket: WebSocket, room: str) -> None:
        websocket.state.endpoint = "fastapi_live"
        await websocket.close()

    app.mount("/static", RecordingStaticFiles(directory=static_dir))
    return app


# The full path of every route of the dispatch apps, written out by hand so that requests
# reach routes that the table might leave out.
DECLARED_PATHS = {
    "starlette": [
        "/",
        "/reports/{report_id:int}",
        "/reports/{report_id}",
        "/users/me",
        "/users/{user_id}",
        "/groups/{group_id}",
        "/groups/new",
        "/api/v1/courses/{course_id:int}/syllabus",
        "/api/v1/courses",
        "/api/v1/courses/{course_id:int}/",
        "/api/v1/courses/{course_id:int}/files/{file_id:uuid}",
        "/api/v1/courses/{course_id:int}/files/{name}.{ext}",
        "/api/v1/courses/{course_id:int}/files/{name}",
        "/api/v1/courses/{course_id:int}/modules/{module_id}/items/{position:float}",
        "/api/v1/courses/{course_id:int}/modules/{module_id}/{rest:path}",
        "/api/v1/courses/{course_id:int}/live",
        "/api/v1/courses/{course_id:int}/late",
        "/items/{item_id:int}",
        "/sections/{section_id}",
        "/prices/{amount:float}",
        "/downloads/{file_path:path}",
        "/archive/{rest:path}/meta",
        "/live/{room}",
        "/admin/stats",
        "/static/{path:path}",
    ],
    "fastapi": [
        "/health",
        "/api/v1/courses/search",
        "/api/v1/courses/{course_id}",
        "/api/v1/courses/{course_id}/live",
        "/api/v1/courses/{course_id}/sections/",
        "/api/v1/courses/{course_id}/sections/{section_id}",
        "/api/v1/courses/archived",
        "/multi/{rest:path}",
        "/v2/legacy/{name}",
        "/live/{room}",
        "/static/{path:path}",
    ],
}


@pytest.fixture(scope="module")
def static_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("static")
    (directory / "a.txt").write_text("a")
    (directory / "sub").mkdir()
    (directory / "sub" / "b.txt").write_text("b")
    return directory


@pytest.fixture(scope="module")
def dispatch_apps(static_dir: Path) -> dict[str, tuple[ASGIApp, RouteTable]]:
    apps: dict[str, ASGIApp] = {
        "starlette": build_dispatch_starlette(static_dir),
        "fastapi": build_dispatch_fastapi(static_dir),
    }
    return {name: (app, routes_from_app(app)) for name, app in apps.items()}


@dataclass(frozen=True)
class Dispatched:
    """What the app did with one request."""

    endpoint: str | None
    # The HTTP status, or None for a websocket handshake.
    status: int | None


async def call_app(app: ASGIApp, method: str, path: str, host: str | None = None) -> Dispatched:
    """Send one request (``WEBSOCKET`` for a handshake) straight to the ASGI app."""
    headers = [] if host is None else [(b"host", host.encode("latin-1"))]
    state: dict[str, Any] = {}
    websocket = method == WEBSOCKET
    scope: Scope = {
        "type": "websocket" if websocket else "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws" if websocket else "http",
        "path": path,
        "raw_path": path.encode("utf-8"),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": state,
    }
    if websocket:
        scope["subprotocols"] = []
        first: Message = {"type": "websocket.connect"}
    else:
        scope["method"] = method
        first = {"type": "http.request", "body": b"", "more_body": False}
    pending = [first]
    sent: list[Message] = []

    async def receive() -> Message:
        if pending:
            return pending.pop()
        # The client stays connected: FileResponse listens for a disconnect while it
        # sends, and cancels this wait when it is done.
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = None if websocket else sent[0]["status"]
    return Dispatched(state.get("endpoint"), status)


@pytest.mark.parametrize(
    ("method", "path", "host", "endpoint"),
    [
        pytest.param("GET", "/", None, "home", id="root"),
        pytest.param("GET", "/", "acme.example.org", "home", id="route-before-host"),
        pytest.param("GET", "/reports/7", "acme.example.org", "tenant_report", id="host-route"),
        pytest.param("GET", "/reports/7", "example.org", "show_report", id="host-mismatch"),
        pytest.param("GET", "/users/me", None, "show_me", id="literal-before-parameter"),
        pytest.param("GET", "/users/7", None, "show_user", id="parameter-after-literal"),
        pytest.param("GET", "/groups/new", None, "show_group", id="parameter-shadows-literal"),
        pytest.param("POST", "/groups/new", None, "new_group", id="other-method-reaches-literal"),
        pytest.param("HEAD", "/api/v1/courses/7/syllabus", None, "syllabus", id="head"),
        pytest.param("GET", "/api/v1/courses", None, "list_courses", id="mount"),
        pytest.param("GET", "/api/v1/courses/7/", None, "course_home", id="mount-root"),
        pytest.param(
            "GET",
            "/api/v1/courses/7/files/6f1c1e7e-3b9a-4c55-9d0e-2f4a8b7c9d10",
            None,
            "file_by_id",
            id="uuid",
        ),
        pytest.param(
            "GET", "/api/v1/courses/7/files/notes.txt", None, "file_by_name", id="mid-segment"
        ),
        pytest.param("DELETE", "/api/v1/courses/7/files/notes", None, "file_stem", id="delete"),
        pytest.param(
            "GET", "/api/v1/courses/7/modules/m1/items/2.5", None, "module_item", id="float"
        ),
        pytest.param(
            "PUT", "/api/v1/courses/7/modules/m1/a/b", None, "replace_module", id="path-in-mount"
        ),
        pytest.param(WEBSOCKET, "/api/v1/courses/7/live", None, "course_live", id="websocket"),
        pytest.param("PUT", "/items/3", None, "update_item", id="second-route-same-path"),
        pytest.param("POST", "/sections/s1", None, "RecordingSections", id="http-endpoint"),
        pytest.param("GET", "/downloads/a/b/c.txt", None, "download", id="path-converter"),
        pytest.param("GET", "/archive/a/b/meta", None, "archive_meta", id="path-then-literal"),
        pytest.param("GET", "/live/lobby", None, "live_page", id="http-beside-websocket"),
        pytest.param(WEBSOCKET, "/live/lobby", None, "live_socket", id="websocket-beside-http"),
        pytest.param("GET", "/admin/stats", None, "stats", id="sub-app"),
        pytest.param("GET", "/static/sub/b.txt", None, "RecordingStaticFiles", id="static"),
        pytest.param("GET", "/static/missing", None, "RecordingStaticFiles", id="static-404"),
    ],
)
def test_dispatch_starlette_examples(
    dispatch_apps: dict[str, tuple[ASGIApp, RouteTable]],
    method: str,
    path: str,
    host: str | None,
    endpoint: str,
) -> None:
    app, table = dispatch_apps["starlette"]

    dispatched = asyncio.run(call_app(app, method, path, host))
    route = table.resolve(method, path, host).route

    assert dispatched.endpoint == endpoint
    assert route is not None
    assert route.action == endpoint


@pytest.mark.parametrize(
    ("method", "path", "endpoint"),
    [
        pytest.param("GET", "/health", "fastapi_health", id="app-route"),
        pytest.param("GET", "/api/v1/courses/search", "search_courses", id="included-literal"),
        pytest.param("GET", "/api/v1/courses/7", "fastapi_show_course", id="included-parameter"),
        pytest.param("PUT", "/api/v1/courses/7", "fastapi_update_course", id="included-put"),
        pytest.param("GET", "/api/v1/courses/7/sections/", "list_sections", id="nested-include"),
        pytest.param("POST", "/api/v1/courses/7/sections/s", "create_section", id="nested-post"),
        pytest.param("POST", "/multi/a/b", "multi", id="api-route-path"),
        pytest.param("POST", "/v2/legacy/x", "RecordingSections", id="included-http-endpoint"),
        pytest.param(WEBSOCKET, "/api/v1/courses/7/live", "fastapi_course_live", id="websocket"),
        pytest.param(WEBSOCKET, "/live/lobby", "fastapi_live", id="app-websocket"),
        pytest.param("HEAD", "/static/a.txt", "RecordingStaticFiles", id="static"),
    ],
)
def test_dispatch_fastapi_examples(
    dispatch_apps: dict[str, tuple[ASGIApp, RouteTable]], method: str, path: str, endpoint: str
) -> None:
    app, table = dispatch_apps["fastapi"]

    dispatched = asyncio.run(call_app(app, method, path))
    route = table.resolve(method, path).route

    assert dispatched.endpoint == endpoint
    assert route is not None
    assert route.action == endpoint


PARAMETER = re.compile(r"\{(\w+)(?::(\w+))?\}")
SAMPLE_UUID = uuid.UUID("6f1c1e7e-3b9a-4c55-9d0e-2f4a8b7c9d10")
# Values for each converter, valid ones and ones the converter rejects.
CONVERTER_VALUES: Mapping[str, list[str]] = {
    "int": ["0", "7", "0042", "-1", "3.5", "x"],
    "float": ["2.5", "3", "3.", ".5", "0.25", "1e3"],
    "uuid": [str(SAMPLE_UUID), SAMPLE_UUID.hex, str(SAMPLE_UUID).upper(), str(SAMPLE_UUID)[:-1]],
    "str": ["7", "x", "me", "new", "search", "notes.txt", "a.b.c", "é", "%", " ", "a+b", ".."],
    "path": ["", "a", "a/b", "a/b/", "../x", "a.txt", "sub/b.txt", "meta", "x/meta", "/"],
}
# Decoded path segments: route literals, empty segments, dot segments, characters that
# arrive percent-encoded, and control characters that the middleware rejects.
SEGMENTS = [
    *("api", "v1", "v2", "courses", "files", "static", "sub", "a.txt", "sections", "legacy"),
    *("users", "me", "groups", "new", "reports", "meta", "live", "search", "multi", "7"),
    *("", "", ".", "..", "é", "%", "%2F", "?", "#", " ", "a\nb", "\x7f"),
]
HOSTS = [
    None,
    "acme.example.org",
    "ACME.example.org:8443",
    "acme.example.org.",
    "a.b.example.org",
    "example.org",
    "localhost:8000",
    "127.0.0.1",
    "[::1]:8000",
    "",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", WEBSOCKET]
# Half of the paths fill a template unchanged, so that most requests reach an endpoint.
PATH_CHANGES = [
    *["none"] * 6,
    "toggle-trailing-slash",
    "insert-empty-segment",
    "replace-segment",
    "drop-segment",
    "add-segment",
    "random-segments",
]
segments = st.one_of(st.sampled_from(SEGMENTS), st.text(max_size=3))


@st.composite
def request_paths(draw: st.DrawFn, templates: list[str]) -> str:
    """Draw a decoded path: a route template filled in, then often changed a little."""
    template = draw(st.sampled_from(templates))
    path = PARAMETER.sub(
        lambda match: draw(st.sampled_from(CONVERTER_VALUES[match.group(2) or "str"])), template
    )
    parts = path[1:].split("/")
    change = draw(st.sampled_from(PATH_CHANGES))
    if change == "none":
        return path
    if change == "toggle-trailing-slash":
        return path[:-1] if path.endswith("/") and path != "/" else path + "/"
    if change == "insert-empty-segment":
        parts.insert(draw(st.integers(0, len(parts))), "")
    elif change == "replace-segment":
        parts[draw(st.integers(0, len(parts) - 1))] = draw(segments)
    elif change == "drop-segment":
        parts.pop()
    elif change == "add-segment":
        parts.append(draw(segments))
    else:
        parts = draw(st.lists(segments, max_size=5))
    return "/" + "/".join(parts)


@dataclass(frozen=True)
class Sample:
    method: str
    path: str
    host: str | None


@st.composite
def samples(draw: st.DrawFn, templates: list[str]) -> Sample:
    return Sample(
        draw(st.sampled_from(METHODS)),
        draw(request_paths(templates)),
        draw(st.sampled_from(HOSTS)),
    )


def check_dispatch(app: ASGIApp, table: RouteTable, sample: Sample) -> None:
    """Check that the endpoint the app ran for ``sample`` is the one the table resolves."""
    if path_problem(sample.path) is not None:
        # The middleware responds with 400 to such a path before it resolves anything, because
        # Starlette's "$" matches before a trailing newline and the table's patterns do not.
        return

    dispatched = asyncio.run(call_app(app, sample.method, sample.path, sample.host))
    resolution = table.resolve(sample.method, sample.path, sample.host)

    if dispatched.endpoint is not None:
        assert resolution.outcome is Outcome.MATCHED, (sample, dispatched)
        assert resolution.route is not None
        assert resolution.route.action == dispatched.endpoint, (sample, resolution.route)
        assert resolution.route.controller == __name__, (sample, resolution.route)
    elif sample.method != WEBSOCKET and resolution.outcome is Outcome.NO_ROUTE:
        # 307 is the redirect of Starlette's redirect_slashes, which runs no endpoint.
        assert dispatched.status in (307, 404), (sample, dispatched)
    elif sample.method != WEBSOCKET and resolution.outcome is Outcome.METHOD_NOT_ALLOWED:
        assert dispatched.status in (307, 404, 405), (sample, dispatched)


@pytest.mark.parametrize("app_name", ["starlette", "fastapi"])
@settings(max_examples=DISPATCH_EXAMPLES, deadline=None)
@given(data=st.data())
def test_dispatch_matches_table(
    dispatch_apps: dict[str, tuple[ASGIApp, RouteTable]], app_name: str, data: st.DataObject
) -> None:
    app, table = dispatch_apps[app_name]
    templates = sorted(set(DECLARED_PATHS[app_name]) | {route.path for route in table})

    sample = data.draw(samples(templates))

    check_dispatch(app, table, sample)


# --- The middleware reads the app's routes ------------------------------------------------

VERIFIER = JWTVerifier(key=SECRET, algorithms=["HS256"])
COURSE_SCOPE = "url:GET|/courses/:course_id"
LATE_SCOPE = "url:GET|/late/:number"


@contextlib.asynccontextmanager
async def add_late_route(app: Starlette) -> AsyncIterator[None]:
    app.router.routes.append(StarletteRoute("/late/{number:int}", recorder("late_route")))
    yield


def build_guarded_app() -> Starlette:
    """Return an app whose lifespan startup adds GET /late/{number:int}."""
    return Starlette(
        routes=[
            StarletteRoute("/courses/{course_id:int}", recorder("guarded_course")),
            StarletteRoute("/health", health),
        ],
        lifespan=add_late_route,
    )


def wrap_guarded_app() -> ASGIApp:
    return ScopeGuardMiddleware(build_guarded_app(), verifier=VERIFIER)


def add_guard_middleware() -> ASGIApp:
    app = build_guarded_app()
    app.add_middleware(ScopeGuardMiddleware, verifier=VERIFIER)
    return app


GUARDED_APPS: dict[str, Callable[[], ASGIApp]] = {
    "wrapped": wrap_guarded_app,
    "add-middleware": add_guard_middleware,
}


@pytest.fixture(scope="module")
def guarded_urls(serve_asgi_module: Callable[[ASGIApp], str]) -> dict[str, str]:
    return {name: serve_asgi_module(build()) for name, build in GUARDED_APPS.items()}


def bearer(scopes: list[str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, scopes)}"}


@pytest.mark.parametrize("style", list(GUARDED_APPS))
@pytest.mark.parametrize(
    ("path", "headers", "status", "body"),
    [
        pytest.param("/courses/7", bearer([COURSE_SCOPE]), 200, "guarded_course", id="allowed"),
        pytest.param("/courses/7", bearer([LATE_SCOPE]), 403, None, id="other-scope"),
        pytest.param("/courses/7", {}, 401, None, id="no-token"),
        pytest.param("/late/3", bearer([LATE_SCOPE]), 200, "late_route", id="startup-route"),
        pytest.param("/late/3", bearer([COURSE_SCOPE]), 403, None, id="startup-route-other"),
        pytest.param("/health", {}, 200, "ok", id="public"),
    ],
)
def test_middleware_reads_app_routes(
    guarded_urls: dict[str, str],
    style: str,
    path: str,
    headers: dict[str, str],
    status: int,
    body: str | None,
) -> None:
    with httpx.Client(base_url=guarded_urls[style], trust_env=False) as client:
        response = client.get(path, headers=headers)

    assert response.status_code == status
    if body is not None:
        assert response.text == body


def test_middleware_table_has_startup_route() -> None:
    guard = ScopeGuardMiddleware(build_guarded_app(), verifier=VERIFIER)

    with run_asgi_server(guard):
        paths = [route.path for route in guard.policy.table]

    assert "/late/{number:int}" in paths


UNREADABLE_APPS = [
    pytest.param(
        lambda: Starlette(routes=[StarletteRoute("/files:batch", show_course)]),
        "route '/files:batch' contains ':'",
        id="colon-in-path",
    ),
    pytest.param(lambda: plain_asgi_app, "cannot read the routes of function", id="no-router"),
]


@pytest.mark.parametrize(("build", "message"), UNREADABLE_APPS)
def test_unreadable_app_fails_uvicorn_startup(
    caplog: pytest.LogCaptureFixture, build: Callable[[], ASGIApp], message: str
) -> None:
    guard = ScopeGuardMiddleware(build(), verifier=VERIFIER)

    with (
        caplog.at_level(logging.ERROR),
        pytest.raises(RuntimeError, match="exited during startup"),
        run_asgi_server(guard),
    ):
        pass

    uvicorn_errors = [
        record.getMessage() for record in caplog.records if record.name == "uvicorn.error"
    ]
    assert any(message in text for text in uvicorn_errors), uvicorn_errors


@pytest.mark.parametrize(("build", "message"), UNREADABLE_APPS)
def test_unreadable_app_fails_lifespan(build: Callable[[], ASGIApp], message: str) -> None:
    guard = ScopeGuardMiddleware(build(), verifier=VERIFIER)

    sent = asyncio.run(run_lifespan(guard))

    assert sent[0]["type"] == "lifespan.startup.failed"
    assert message in sent[0]["message"]


@pytest.mark.parametrize(("build", "message"), UNREADABLE_APPS)
def test_unreadable_app_first_request_500(build: Callable[[], ASGIApp], message: str) -> None:
    guard = ScopeGuardMiddleware(build(), verifier=VERIFIER)

    response = asyncio.run(get_in_process(guard, "/courses/7"))

    assert response.status_code == 500
    assert message in json.loads(response.text)["errors"][0]["message"]


async def run_lifespan(app: ASGIApp) -> list[Message]:
    """Run the ASGI lifespan protocol, startup then shutdown, and return what the app sent."""
    pending: list[Message] = [{"type": "lifespan.shutdown"}, {"type": "lifespan.startup"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop()

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent


async def get_in_process(
    app: ASGIApp, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Send GET ``path`` through httpx.ASGITransport, which sends no lifespan events."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path, headers=headers)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param(bearer([COURSE_SCOPE]), 200, id="allowed"),
        pytest.param(bearer([LATE_SCOPE]), 403, id="other-scope"),
    ],
)
def test_middleware_reads_on_first_request(headers: dict[str, str], status: int) -> None:
    guard = ScopeGuardMiddleware(build_guarded_app(), verifier=VERIFIER)

    response = asyncio.run(get_in_process(guard, "/courses/7", headers))

    assert response.status_code == status


def test_public_paths_rejects_string() -> None:
    app = Starlette(routes=[StarletteRoute("/health", show_course)])

    with pytest.raises(ConfigurationError, match=r"write public_paths=\['/health'\]"):
        routes_from_app(app, public_paths="/health")


def test_mark_on_given_router_applies() -> None:
    router = Router([StarletteRoute("/items", show_course)])
    scope_resource("inventory", "Inventory")(router)
    public(router)

    table = routes_from_app(router)

    assert {route.resource for route in table} == {"inventory"}
    assert all(route.public for route in table)


# --- report_only marks ----------------------------------------------------------------------


@report_only
async def grades_page(request: Request) -> Response:
    return PlainTextResponse("grades")


@public
@report_only
@scope_resource("marks")
async def marked_page(request: Request) -> Response:
    return PlainTextResponse("marked")


@pytest.mark.parametrize(
    ("build", "flags"),
    [
        pytest.param(
            lambda: Starlette(routes=[StarletteRoute("/grades", grades_page)]),
            {"/grades": True},
            id="endpoint",
        ),
        pytest.param(
            lambda: Starlette(
                routes=[
                    Mount("/reports", routes=[StarletteRoute("/daily", show_course)]),
                    StarletteRoute("/courses", show_course),
                ]
            ),
            {"/reports/daily": False, "/courses": False},
            id="unmarked",
        ),
        pytest.param(
            lambda: Starlette(
                routes=[
                    report_only(Mount("/reports", routes=[StarletteRoute("/daily", show_course)])),
                    StarletteRoute("/courses", show_course),
                ]
            ),
            {"/reports/daily": True, "/courses": False},
            id="mount",
        ),
        pytest.param(
            lambda: Starlette(routes=[StarletteRoute("/open", marked_page)]),
            {"/open": True},
            id="with-other-marks",
        ),
    ],
)
def test_report_only_mark(build: Callable[[], Any], flags: dict[str, bool]) -> None:
    table = routes_from_app(build())

    assert {route.path: route.report_only for route in table} == flags


def test_marks_combine() -> None:
    (route, _head) = routes_from_app(Starlette(routes=[StarletteRoute("/open", marked_page)]))

    assert (route.public, route.report_only, route.resource) == (True, True, "marks")

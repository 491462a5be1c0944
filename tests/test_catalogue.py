"""Tests of the scope catalogue and its list-scopes endpoint.

The endpoint is called directly as an ASGI app, inside a Starlette app through
``httpx.ASGITransport``, and on its own under uvicorn on 127.0.0.1. The benchmark script
runs once in its quick mode, as a smoke test whose figures are never checked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import runpy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp

from scopeguard import (
    GROUP_BY_FIELDS,
    ConfigurationError,
    GroupBy,
    JWTVerifier,
    Route,
    RouteTable,
    ScopeCatalogueEndpoint,
    ScopeGuardMiddleware,
    ScopeInfo,
    ScopeSyntaxError,
    build_catalogue,
    load_routes,
    mint_token,
    routes_from_app,
)
from scopeguard._types import Message, Scope

ROOT = Path(__file__).resolve().parent.parent
CANVAS_ROUTES = ROOT / "tests" / "data" / "canvas_api_routes.tsv"
BENCHMARK_SCRIPT = ROOT / "benchmarks" / "bench_catalogue.py"
GUIDE = ROOT / "docs" / "guide.md"

SCOPES_PATH = "/api/v1/accounts/1/scopes"
KEYS = ["resource", "resource_name", "controller", "action", "verb", "scope"]

#: A small table with shared scopes, a public route and resource names in mixed case.
ROUTES = RouteTable(
    [
        Route("GET", "/health", public=True),
        Route(
            "GET",
            "/files/:id/download",
            resource="files",
            resource_name="files",
            controller="files",
            action="show",
        ),
        Route(
            "GET",
            "/files/:id/download.:type",
            resource="files",
            resource_name="files",
            controller="file_formats",
            action="format",
        ),
        Route("GET", "/api/v1/courses", resource="courses", resource_name="Courses"),
        Route("POST", "/api/v1/courses", resource="courses", resource_name="Courses"),
        Route("GET", "/api/v1/accounts/:account_id/scopes", resource="oauth2"),
        Route("DELETE", "/api/v1/users/:id", resource_name="Users", action="destroy"),
    ]
)

#: The entries of ROUTES in catalogue order: resource_name ignoring case, then scope.
ROUTES_CATALOGUE = [
    ScopeInfo(
        resource="oauth2",
        resource_name=None,
        verb="GET",
        scope="url:GET|/api/v1/accounts/:account_id/scopes",
    ),
    ScopeInfo(
        resource="courses",
        resource_name="Courses",
        verb="GET",
        scope="url:GET|/api/v1/courses",
    ),
    ScopeInfo(
        resource="courses",
        resource_name="Courses",
        verb="POST",
        scope="url:POST|/api/v1/courses",
    ),
    ScopeInfo(
        resource="files",
        resource_name="files",
        controller="files",
        action="show",
        verb="GET",
        scope="url:GET|/files/:id/download",
    ),
    ScopeInfo(
        resource=None,
        resource_name="Users",
        action="destroy",
        verb="DELETE",
        scope="url:DELETE|/api/v1/users/:id",
    ),
]

USERINFO = ScopeInfo(resource="oauth2", resource_name="OAuth 2", scope="/auth/userinfo")


@dataclass(frozen=True)
class Reply:
    """What an ASGI app sent for one HTTP request."""

    status: int
    headers: dict[str, str]
    body: bytes
    messages: list[Message]

    def json(self) -> Any:
        return json.loads(self.body)

    def error_message(self) -> str:
        message: str = self.json()["errors"][0]["message"]
        return message


def http_scope(method: str, query: bytes) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": SCOPES_PATH,
        "raw_path": SCOPES_PATH.encode("ascii"),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
    }


async def run_asgi(app: ASGIApp, scope: Scope, incoming: list[Message]) -> list[Message]:
    """Call ``app`` and return the messages it sent, feeding it ``incoming`` in order."""
    sent: list[Message] = []
    queue = list(incoming)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=5)
    return sent


def call(endpoint: ScopeCatalogueEndpoint, method: str = "GET", query: bytes = b"") -> Reply:
    """Send one HTTP request to ``endpoint`` and return its response."""
    incoming: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]
    messages = asyncio.run(run_asgi(endpoint, http_scope(method, query), incoming))
    start, body = messages
    assert start["type"] == "http.response.start"
    assert body["type"] == "http.response.body"
    assert not body.get("more_body", False)
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in start["headers"]}
    return Reply(start["status"], headers, body["body"], messages)


@pytest.fixture(scope="module")
def endpoint() -> ScopeCatalogueEndpoint:
    return ScopeCatalogueEndpoint(ROUTES)


@pytest.fixture(scope="module")
def canvas_table() -> RouteTable:
    return load_routes(CANVAS_ROUTES)


# ScopeInfo ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        pytest.param({"scope": ""}, "invalid catalogue scope ''", id="empty"),
        pytest.param({"scope": None}, "must be a non-empty string", id="none"),
        pytest.param({"scope": "a b"}, "must not contain whitespace", id="space"),
        pytest.param({"scope": "/auth/userinfo\n"}, "must not contain whitespace", id="newline"),
        pytest.param({"scope": "url:get|/x"}, "the verb must be upper case: 'GET'", id="lower"),
        pytest.param({"scope": "url:GET/x"}, "missing '|'", id="no-bar"),
        pytest.param({"scope": "url:GET|x"}, "must start with '/'", id="relative-path"),
        pytest.param({"scope": "url:FETCH|/x"}, "unknown verb 'FETCH'", id="unknown-verb"),
        pytest.param({"scope": "URL:GET|/x"}, "starts with 'url:'", id="upper-prefix"),
        pytest.param(
            {"scope": "url:GET|/x", "verb": "POST"},
            "verb 'POST' differs from the scope's verb 'GET'",
            id="verb-differs",
        ),
        pytest.param(
            {"scope": "/auth/userinfo", "verb": "get"}, "unknown verb 'get'", id="bad-verb"
        ),
        pytest.param(
            {"scope": "/auth/userinfo", "controller": 3},
            "controller must be a string or None, got int",
            id="controller-int",
        ),
    ],
)
def test_scope_info_rejects(fields: dict[str, Any], fragment: str) -> None:
    arguments: dict[str, Any] = {"resource": "oauth2", "resource_name": "OAuth 2", **fields}

    with pytest.raises(ConfigurationError) as raised:
        ScopeInfo(**arguments)

    assert fragment in str(raised.value)


def test_scope_info_malformed_is_syntax_error() -> None:
    with pytest.raises(ScopeSyntaxError) as raised:
        ScopeInfo(resource=None, resource_name=None, scope="url:GET")

    assert raised.value.text == "url:GET"


@pytest.mark.parametrize(
    ("scope", "verb", "expected"),
    [
        pytest.param("url:PUT|/api/v1/users/:id", None, "PUT", id="from-url-scope"),
        pytest.param("url:PUT|/api/v1/users/:id", "PUT", "PUT", id="matching"),
        pytest.param("/auth/userinfo", None, None, id="opaque"),
        pytest.param("/auth/userinfo", "GET", "GET", id="opaque-with-verb"),
    ],
)
def test_scope_info_verb(scope: str, verb: str | None, expected: str | None) -> None:
    info = ScopeInfo(resource=None, resource_name=None, verb=verb, scope=scope)

    assert info.verb == expected


def test_scope_info_as_dict() -> None:
    info = ScopeInfo(
        resource="courses",
        resource_name="Courses",
        controller="courses",
        action="index",
        scope="url:GET|/api/v1/courses",
    )

    assert info.as_dict() == {
        "resource": "courses",
        "resource_name": "Courses",
        "controller": "courses",
        "action": "index",
        "verb": "GET",
        "scope": "url:GET|/api/v1/courses",
    }
    assert list(info.as_dict()) == KEYS


@pytest.mark.parametrize(
    ("route", "verb"),
    [
        pytest.param(Route("DELETE", "/api/v1/users/:id"), "DELETE", id="method"),
        pytest.param(
            Route("HEAD", "/api/v1/users/:id", scope_method="GET"), "GET", id="scope-method"
        ),
        pytest.param(Route("WEBSOCKET", "/api/v1/live"), "GET", id="websocket"),
        pytest.param(
            Route("WEBSOCKET", "/api/v1/live", scope_method="WEBSOCKET"),
            "WEBSOCKET",
            id="websocket-own-verb",
        ),
    ],
)
def test_scope_info_from_route(route: Route, verb: str) -> None:
    info = ScopeInfo.from_route(route)

    assert info.verb == verb
    assert info.scope == route.scope


# build_catalogue ----------------------------------------------------------------------------


def test_catalogue_of_small_table() -> None:
    assert list(build_catalogue(ROUTES)) == ROUTES_CATALOGUE


@pytest.mark.parametrize(
    "second_path",
    [
        pytest.param("/files/:id/download.:type", id="format-param"),
        pytest.param("/files/:id/download(.:format)", id="optional-format"),
        pytest.param("/files/{id}/download.{type}", id="starlette"),
    ],
)
def test_catalogue_dedupes_shared_scope(second_path: str) -> None:
    routes = [
        Route("GET", "/files/:id/download", controller="files", action="show"),
        Route("GET", second_path, controller="formats", action="format"),
    ]

    catalogue = build_catalogue(routes)

    assert len(catalogue) == 1
    assert catalogue[0].scope == "url:GET|/files/:id/download"
    assert catalogue[0].controller == "files"
    assert catalogue[0].action == "show"


def test_catalogue_later_route_supplies_nothing() -> None:
    # The first route has no controller, and the later route's controller is not used.
    routes = [
        Route("GET", "/files/:id/download", resource="files"),
        Route("GET", "/files/:id/download.:type", resource="formats", controller="formats"),
    ]

    (entry,) = build_catalogue(routes)

    assert entry.resource == "files"
    assert entry.controller is None


def test_catalogue_skips_public_routes() -> None:
    routes = [
        Route("GET", "/health", public=True),
        Route("GET", "/files/:id/download", public=True, controller="public"),
        Route("GET", "/files/:id/download.:type", controller="formats"),
    ]

    catalogue = build_catalogue(routes)

    assert [entry.scope for entry in catalogue] == ["url:GET|/files/:id/download"]
    assert catalogue[0].controller == "formats"


def test_catalogue_of_public_routes_is_empty() -> None:
    assert build_catalogue([Route("GET", "/health", public=True)]) == ()


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param(["b", "A", "c"], ["A", "b", "c"], id="ignores-case"),
        pytest.param(["Files", None, "courses"], [None, "courses", "Files"], id="none-first"),
        pytest.param(["", None, "a"], ["", None, "a"], id="none-as-empty"),
        pytest.param(["Ä", "a", "z"], ["a", "z", "Ä"], id="non-ascii-after-ascii"),
    ],
)
def test_catalogue_sorts_by_resource_name(
    names: list[str | None], expected: list[str | None]
) -> None:
    # The paths are in the expected order for "none-as-empty", so the tie keeps it.
    routes = [
        Route("GET", f"/r{position}", resource_name=name) for position, name in enumerate(names)
    ]

    catalogue = build_catalogue(routes)

    assert [entry.resource_name for entry in catalogue] == expected


def test_catalogue_sorts_by_scope_within_name() -> None:
    routes = [
        Route("PUT", "/b", resource_name="Same"),
        Route("GET", "/b", resource_name="same"),
        Route("DELETE", "/a", resource_name="SAME"),
    ]

    catalogue = build_catalogue(routes)

    assert [entry.scope for entry in catalogue] == ["url:DELETE|/a", "url:GET|/b", "url:PUT|/b"]


_PATHS = ["/a", "/a.:type", "/a(.:format)", "/b/:id", "/b/{id}", "/c/*rest", "/c/{rest:path}"]

route_strategy = st.builds(
    Route,
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    path=st.sampled_from(_PATHS),
    resource_name=st.sampled_from([None, "", "a", "A", "b", "Files", "files"]),
    controller=st.sampled_from([None, "x", "y"]),
    action=st.sampled_from([None, "show", "index"]),
    public=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(route_strategy, max_size=12))
def test_catalogue_properties(routes: list[Route]) -> None:
    catalogue = build_catalogue(routes)
    scopes = [entry.scope for entry in catalogue]
    first_routes: dict[str, Route] = {}
    for route in routes:
        if not route.public:
            first_routes.setdefault(route.scope, route)
    keys = [((entry.resource_name or "").lower(), entry.scope) for entry in catalogue]

    assert len(scopes) == len(set(scopes))
    assert set(scopes) == set(first_routes)
    assert keys == sorted(keys)
    for entry in catalogue:
        assert entry == ScopeInfo.from_route(first_routes[entry.scope])


# Extra scopes -------------------------------------------------------------------------------


def test_catalogue_lists_extra_scopes() -> None:
    admin = ScopeInfo(
        resource="admin",
        resource_name="Admin",
        controller="admin",
        action="index",
        scope="url:GET|/api/v1/admin",
    )

    catalogue = build_catalogue(ROUTES, [USERINFO, admin])

    assert list(catalogue) == [
        ROUTES_CATALOGUE[0],
        admin,
        *ROUTES_CATALOGUE[1:4],
        USERINFO,
        ROUTES_CATALOGUE[4],
    ]


def test_catalogue_extra_scope_fields() -> None:
    (entry,) = build_catalogue([], [USERINFO])

    assert entry.as_dict() == {
        "resource": "oauth2",
        "resource_name": "OAuth 2",
        "controller": None,
        "action": None,
        "verb": None,
        "scope": "/auth/userinfo",
    }


def test_extra_scope_may_repeat_public_route() -> None:
    # A public route is not listed, so its scope is free for an extra entry.
    extra = ScopeInfo(resource="health", resource_name="Health", scope="url:GET|/health")

    catalogue = build_catalogue(ROUTES, [extra])

    assert extra in catalogue


@pytest.mark.parametrize(
    ("extras", "message"),
    [
        pytest.param(
            [USERINFO, USERINFO],
            "extra scope '/auth/userinfo' is listed twice; list each extra scope once",
            id="extra-twice",
        ),
        pytest.param(
            [ScopeInfo(resource=None, resource_name=None, scope="url:POST|/api/v1/courses")],
            "extra scope 'url:POST|/api/v1/courses' duplicates the scope of route "
            "POST /api/v1/courses; remove it from the extra scopes",
            id="route-scope",
        ),
        pytest.param(
            [ScopeInfo(resource=None, resource_name=None, scope="url:GET|/files/:id/download")],
            "extra scope 'url:GET|/files/:id/download' duplicates the scope of route "
            "GET /files/:id/download; remove it from the extra scopes",
            id="shared-route-scope",
        ),
        pytest.param(
            ["/auth/userinfo"],
            "extra scope 0: expected a scopeguard.ScopeInfo, got str",
            id="string",
        ),
    ],
)
def test_catalogue_rejects_extra_scopes(extras: list[Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        build_catalogue(ROUTES, extras)

    assert str(raised.value) == message


def test_catalogue_rejects_non_route() -> None:
    routes: list[Any] = [Route("GET", "/a"), ("GET", "/b")]

    with pytest.raises(ConfigurationError) as raised:
        build_catalogue(routes)

    assert str(raised.value) == "route 1: expected a scopeguard.Route, got tuple"


def test_endpoint_rejects_duplicate_at_construction() -> None:
    with pytest.raises(ConfigurationError):
        ScopeCatalogueEndpoint(ROUTES, extra_scopes=[USERINFO, USERINFO])


# The Canvas route table -----------------------------------------------------------------------


def test_canvas_catalogue_lists_each_scope_once(canvas_table: RouteTable) -> None:
    expected = {route.scope for route in canvas_table if not route.public}

    catalogue = build_catalogue(canvas_table)
    scopes = [entry.scope for entry in catalogue]

    assert len(scopes) == len(expected)
    assert set(scopes) == expected


def test_canvas_catalogue_entries(canvas_table: RouteTable) -> None:
    first_routes: dict[str, Route] = {}
    for route in canvas_table:
        first_routes.setdefault(route.scope, route)

    catalogue = build_catalogue(canvas_table)

    assert [entry.scope for entry in catalogue] == sorted(first_routes)
    for entry in catalogue:
        route = first_routes[entry.scope]
        assert entry.controller == route.controller, entry.scope
        assert entry.action == route.action, entry.scope
        assert entry.verb == route.method, entry.scope


def test_canvas_catalogue_served(canvas_table: RouteTable) -> None:
    reply = call(ScopeCatalogueEndpoint(canvas_table))

    assert reply.status == 200
    assert len(reply.json()) == len({route.scope for route in canvas_table})


# The endpoint -------------------------------------------------------------------------------


def test_endpoint_lists_catalogue(endpoint: ScopeCatalogueEndpoint) -> None:
    reply = call(endpoint)

    assert reply.status == 200
    assert reply.json() == [entry.as_dict() for entry in ROUTES_CATALOGUE]
    assert [list(entry) for entry in reply.json()] == [KEYS] * len(ROUTES_CATALOGUE)
    assert reply.headers == {
        "content-type": "application/json",
        "content-length": str(len(reply.body)),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            b"group_by=resource_name",
            {
                "": [ROUTES_CATALOGUE[0]],
                "Courses": ROUTES_CATALOGUE[1:3],
                "files": [ROUTES_CATALOGUE[3]],
                "Users": [ROUTES_CATALOGUE[4]],
            },
            id="resource-name",
        ),
        pytest.param(
            b"group_by=resource",
            {
                "oauth2": [ROUTES_CATALOGUE[0]],
                "courses": ROUTES_CATALOGUE[1:3],
                "files": [ROUTES_CATALOGUE[3]],
                "": [ROUTES_CATALOGUE[4]],
            },
            id="resource",
        ),
    ],
)
def test_endpoint_groups(
    endpoint: ScopeCatalogueEndpoint, query: bytes, expected: dict[str, list[ScopeInfo]]
) -> None:
    reply = call(endpoint, query=query)

    assert reply.status == 200
    assert list(reply.json()) == list(expected)
    assert reply.json() == {
        key: [entry.as_dict() for entry in entries] for key, entries in expected.items()
    }
    assert reply.headers["content-length"] == str(len(reply.body))


@pytest.mark.parametrize(
    ("query", "group_by"),
    [
        pytest.param(b"", None, id="empty"),
        pytest.param(b"page=2&per_page=10", None, id="other-parameters"),
        pytest.param(b"group_by[]=resource", None, id="rails-array-name"),
        pytest.param(b"GROUP_BY=resource", None, id="name-case"),
        pytest.param(b"page=2&group_by=resource&per_page=10", "resource", id="among-others"),
        pytest.param(b"group%5Fby=resource%5Fname", "resource_name", id="percent-encoded"),
    ],
)
def test_endpoint_reads_query(
    endpoint: ScopeCatalogueEndpoint, query: bytes, group_by: GroupBy | None
) -> None:
    reply = call(endpoint, query=query)

    assert reply.status == 200
    assert reply.body == endpoint.render(group_by)


ALLOWED_VALUES = "use resource or resource_name, or leave group_by out for an ungrouped list"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param(
            b"group_by=controller",
            f"invalid group_by 'controller'; {ALLOWED_VALUES}",
            id="unknown",
        ),
        pytest.param(b"group_by=", f"invalid group_by ''; {ALLOWED_VALUES}", id="empty-value"),
        pytest.param(b"group_by", f"invalid group_by ''; {ALLOWED_VALUES}", id="no-value"),
        pytest.param(
            b"group_by=Resource_Name",
            f"invalid group_by 'Resource_Name'; {ALLOWED_VALUES}",
            id="value-case",
        ),
        pytest.param(
            b"group_by=resource+",
            f"invalid group_by 'resource '; {ALLOWED_VALUES}",
            id="trailing-space",
        ),
        pytest.param(
            b"group_by=resource&group_by=resource",
            "group_by was given 2 times; give it once, as resource or resource_name",
            id="repeated",
        ),
        pytest.param(
            b"group_by=resource&page=1&group_by=resource_name&group_by=x",
            "group_by was given 3 times; give it once, as resource or resource_name",
            id="repeated-different",
        ),
    ],
)
def test_endpoint_rejects_group_by(
    endpoint: ScopeCatalogueEndpoint, query: bytes, message: str
) -> None:
    reply = call(endpoint, query=query)

    assert reply.status == 400
    assert reply.error_message() == message
    assert reply.json() == {"errors": [{"message": message}]}
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["content-length"] == str(len(reply.body))


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_endpoint_rejects_method(endpoint: ScopeCatalogueEndpoint, method: str) -> None:
    reply = call(endpoint, method)

    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"
    assert reply.error_message() == (
        f"method {method} is not allowed on {SCOPES_PATH}; allowed: GET, HEAD"
    )
    assert reply.headers["content-length"] == str(len(reply.body))


@pytest.mark.parametrize(
    ("query", "status"),
    [
        pytest.param(b"", 200, id="list"),
        pytest.param(b"group_by=resource_name", 200, id="resource-name"),
        pytest.param(b"group_by=resource", 200, id="resource"),
        pytest.param(b"group_by=x", 400, id="bad-group-by"),
    ],
)
def test_endpoint_head(endpoint: ScopeCatalogueEndpoint, query: bytes, status: int) -> None:
    get = call(endpoint, "GET", query)
    head = call(endpoint, "HEAD", query)

    assert head.status == status
    assert head.body == b""
    assert head.headers == get.headers


def test_endpoint_logs_rejection(
    endpoint: ScopeCatalogueEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="scopeguard.catalogue")

    call(endpoint, query=b"group_by=x")

    assert caplog.messages == [
        f"rejected GET '{SCOPES_PATH}': invalid group_by 'x'; {ALLOWED_VALUES}"
    ]


def test_endpoint_reuses_rendered_body() -> None:
    endpoint = ScopeCatalogueEndpoint(ROUTES)

    first = call(endpoint, query=b"group_by=resource")
    second = call(endpoint, query=b"group_by=resource")

    assert first.messages[1]["body"] is second.messages[1]["body"]
    assert endpoint.render("resource") is first.messages[1]["body"]


def test_endpoint_sends_header_copies(endpoint: ScopeCatalogueEndpoint) -> None:
    # A middleware may append to the headers list it is sent, which must not reach the cache.
    first = call(endpoint)
    first.messages[0]["headers"].append((b"x-added", b"1"))

    second = call(endpoint)

    assert "x-added" not in second.headers


def test_endpoint_renders_non_ascii_names() -> None:
    routes = [Route("GET", "/a", resource="a", resource_name="Übersicht")]

    reply = call(ScopeCatalogueEndpoint(routes), query=b"group_by=resource_name")

    assert reply.json() == {"Übersicht": [ScopeInfo.from_route(routes[0]).as_dict()]}
    assert reply.body.isascii()


def test_endpoint_of_empty_catalogue() -> None:
    endpoint = ScopeCatalogueEndpoint([])

    assert call(endpoint).json() == []
    assert call(endpoint, query=b"group_by=resource").json() == {}


@pytest.mark.parametrize("group_by", [None, *GROUP_BY_FIELDS])
def test_render_matches_response(
    endpoint: ScopeCatalogueEndpoint, group_by: GroupBy | None
) -> None:
    query = b"" if group_by is None else f"group_by={group_by}".encode()

    assert call(endpoint, query=query).body == endpoint.render(group_by)


def test_render_rejects_group_by(endpoint: ScopeCatalogueEndpoint) -> None:
    group_by: Any = "controller"

    with pytest.raises(ValueError, match="invalid group_by 'controller'"):
        endpoint.render(group_by)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=20))
def test_endpoint_group_by_any_value(value: str) -> None:
    endpoint = ScopeCatalogueEndpoint(ROUTES)
    query = urlencode({"group_by": value}).encode("ascii")

    reply = call(endpoint, query=query)

    if value in GROUP_BY_FIELDS:
        assert reply.status == 200
    else:
        assert reply.status == 400
        assert reply.error_message() == f"invalid group_by {value!r}; {ALLOWED_VALUES}"


def test_endpoint_completes_lifespan(endpoint: ScopeCatalogueEndpoint) -> None:
    incoming: list[Message] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    sent = asyncio.run(run_asgi(endpoint, {"type": "lifespan", "asgi": {}}, incoming))

    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


def test_endpoint_closes_websocket(endpoint: ScopeCatalogueEndpoint) -> None:
    scope = {**http_scope("GET", b""), "type": "websocket", "scheme": "ws"}
    del scope["method"]

    sent = asyncio.run(run_asgi(endpoint, scope, [{"type": "websocket.connect"}]))

    assert sent == [{"type": "websocket.close", "code": 1000}]


def test_endpoint_rejects_unknown_connection(endpoint: ScopeCatalogueEndpoint) -> None:
    with pytest.raises(ValueError, match="cannot serve a 'webtransport' connection"):
        asyncio.run(run_asgi(endpoint, {"type": "webtransport"}, []))


# In Starlette and under uvicorn -------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def starlette_app(endpoint: ScopeCatalogueEndpoint) -> Starlette:
    return Starlette(
        routes=[
            StarletteRoute("/api/v1/accounts/{account_id}/scopes", endpoint),
            Mount("/scopes", app=endpoint),
        ]
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        pytest.param(SCOPES_PATH, id="route"),
        # Starlette redirects "/scopes" to "/scopes/", the root of the mounted app.
        pytest.param("/scopes/", id="mount"),
        pytest.param("/scopes/anything", id="mount-subpath"),
    ],
)
async def test_endpoint_in_starlette(endpoint: ScopeCatalogueEndpoint, path: str) -> None:
    transport = httpx.ASGITransport(app=starlette_app(endpoint))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        listed = await client.get(path)
        grouped = await client.get(path, params={"group_by": "resource"})
        rejected = await client.post(path)

    assert listed.status_code == 200
    assert listed.json() == [entry.as_dict() for entry in ROUTES_CATALOGUE]
    assert grouped.status_code == 200
    assert list(grouped.json()) == ["oauth2", "courses", "files", ""]
    assert rejected.status_code == 405
    assert rejected.headers["allow"] == "GET, HEAD"


@pytest.fixture
def standalone_url(serve_asgi: Callable[[ASGIApp], str]) -> str:
    """Return the base URL of an endpoint served on its own by uvicorn, lifespan on."""
    return serve_asgi(ScopeCatalogueEndpoint(ROUTES, extra_scopes=[USERINFO]))


@pytest.fixture
def standalone(standalone_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standalone_url, trust_env=False, timeout=5.0) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "query", "status"),
    [
        pytest.param("GET", "", 200, id="get"),
        pytest.param("GET", "?group_by=resource_name", 200, id="grouped"),
        pytest.param("HEAD", "", 200, id="head"),
        pytest.param("GET", "?group_by=name", 400, id="bad-group-by"),
        pytest.param("DELETE", "", 405, id="delete"),
    ],
)
def test_endpoint_under_uvicorn(
    standalone: httpx.Client, method: str, query: str, status: int
) -> None:
    response = standalone.request(method, f"/any/path{query}")

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    if method == "HEAD":
        assert response.content == b""
    else:
        assert response.headers["content-length"] == str(len(response.content))


def test_endpoint_under_uvicorn_lists_extra(standalone: httpx.Client) -> None:
    response = standalone.get("/", params={"group_by": "resource_name"})

    assert response.json()["OAuth 2"] == [USERINFO.as_dict()]


# The guide's example and the benchmark script ---------------------------------------------


@pytest.mark.anyio
async def test_guide_listing_scopes_example(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "guide-example-secret-0123456789abcdef"
    monkeypatch.setenv("SCOPEGUARD_SECRET", secret)
    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index("## Listing scopes") :]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)[0]
    output = re.findall(r"```json\n(.*?)```", section, flags=re.DOTALL)[0]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - the guide's own example
    token = mint_token(secret, ["url:GET|/api/v1/accounts/:account_id/scopes"])

    transport = httpx.ASGITransport(app=namespace["app"])
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        allowed = await client.get(
            "/api/v1/accounts/1/scopes", headers={"Authorization": f"Bearer {token}"}
        )
        anonymous = await client.get("/api/v1/accounts/1/scopes")

    assert allowed.status_code == 200
    assert allowed.json() == json.loads(output)
    assert anonymous.status_code == 401


def test_benchmark_quick_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scripts import their shared helpers from their own folder, as Python finds them
    # when a script runs.
    monkeypatch.syspath_prepend(str(BENCHMARK_SCRIPT.parent))
    # run_name keeps the script's "if __name__ == '__main__'" block from running.
    namespace = runpy.run_path(str(BENCHMARK_SCRIPT), run_name="bench_catalogue")

    status = namespace["main"](["--quick"])

    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert "# scopeguard list-scopes benchmark" in lines
    for form in ("list", "group_by=resource_name", "group_by=resource"):
        assert any(line.startswith(f"| {form} |") for line in lines), f"no row for {form}"


# --- A catalogue driving a gateway --------------------------------------------------------


async def user_by_id(request: Request) -> PlainTextResponse:
    return PlainTextResponse("user_by_id")


async def user_by_login(request: Request) -> PlainTextResponse:
    return PlainTextResponse("user_by_login")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("scopes", "status"),
    [
        pytest.param(["url:GET|/users/:login"], 403, id="login-scope-only"),
        pytest.param(["url:GET|/users/:user_id"], 403, id="id-scope-only"),
        pytest.param(["url:GET|/users/:user_id", "url:GET|/users/:login"], 200, id="both"),
    ],
)
async def test_catalogue_gateway_never_grants_other_route(
    tmp_path: Path, scopes: list[str], status: int
) -> None:
    """A catalogue keeps no converters, so /users/42 may reach either route: the gateway
    built from it requires the scopes of both."""
    app = Starlette(
        routes=[
            StarletteRoute("/users/{user_id:int}", user_by_id),
            StarletteRoute("/users/{login}", user_by_login),
        ]
    )
    exported = tmp_path / "scopes.json"
    exported.write_bytes(ScopeCatalogueEndpoint(routes_from_app(app)).render())
    secret = "gateway-secret-0123456789abcdef0123456789"
    gateway = ScopeGuardMiddleware(
        app,
        routes=load_routes(exported),
        verifier=JWTVerifier(key=secret, algorithms=["HS256"]),
    )
    token = mint_token(secret, scopes)

    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/users/42", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == status

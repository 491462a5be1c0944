"""The demo app: Canvas's file download routes behind scopeguard.

It serves every route that Canvas LMS documents as usable with scoped API tokens: the
scope list, the course list, and the file ``download``, ``download.:type`` and ``preview``
routes of each context that owns files. A websocket route, which Canvas does not have,
shows a handshake being checked. ``/health`` is public. The scope list is a
:class:`~scopeguard.catalogue.ScopeCatalogueEndpoint` built from the demo's route table,
so it lists exactly the scopes the middleware checks.

The route list is declared once, in Starlette syntax, and feeds both the Starlette router
and the scopeguard table, so both dispatch on the same templates. The table writes each
scope in Canvas notation: ``/courses/{course_id}/files/{file_id}/download.{type}`` needs
``url:GET|/courses/:course_id/files/:file_id/download``.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.routing import Route as StarletteRoute
from starlette.websockets import WebSocket

from scopeguard.catalogue import ScopeCatalogueEndpoint
from scopeguard.introspect import public
from scopeguard.middleware import STATE_KEY, ScopeGuardMiddleware
from scopeguard.policy import Decision
from scopeguard.table import Route, RouteTable
from scopeguard.tokens import JWTVerifier, mint_token

__all__ = [
    "COURSES_TOKEN_SCOPES",
    "FILES_TOKEN_SCOPES",
    "FILE_CONTEXTS",
    "banner",
    "create_app",
    "route_table",
    "serve",
]

#: Contexts whose files Canvas serves at ``/<context>s/:<context>_id/files/:file_id/...``.
FILE_CONTEXTS = (
    "course",
    "group",
    "user",
    "account",
    "quiz_statistics",
    "assessment_question",
    "quiz_submission",
    "assignment",
)

#: A token that may list courses and download files in any course.
FILES_TOKEN_SCOPES = (
    "url:GET|/api/v1/courses",
    "url:GET|/courses/:course_id/files/:file_id/download",
    "url:GET|/files/:file_id/download",
)

#: A token that may only list courses.
COURSES_TOKEN_SCOPES = ("url:GET|/api/v1/courses",)

WEBSOCKET_PATH = "/api/v1/courses/{course_id}/files/events"

#: The list-scopes route, served by :class:`~scopeguard.catalogue.ScopeCatalogueEndpoint`.
SCOPES_PATH = "/api/v1/accounts/{account_id}/scopes"


def _collection(context: str) -> str:
    # quiz_statistics is already plural in Canvas's routes.
    return context if context.endswith("s") else f"{context}s"


def route_table() -> RouteTable:
    """Return the demo's route table, in the order the Starlette app declares its routes."""
    routes = [
        Route("GET", "/health", public=True),
        Route(
            "GET",
            SCOPES_PATH,
            resource="oauth2",
            resource_name="API Token Scopes",
            controller="scopes_api",
            action="index",
        ),
        Route(
            "GET",
            "/api/v1/courses",
            resource="courses",
            resource_name="Courses",
            controller="courses",
            action="index",
        ),
    ]
    for context in FILE_CONTEXTS:
        prefix = f"/{_collection(context)}/{{{context}_id}}/files/{{file_id}}"
        for suffix, action in (
            ("/download", "show"),
            ("/download.{type}", "show"),
            ("/preview", "show_relative"),
        ):
            routes.append(
                Route(
                    "GET",
                    prefix + suffix,
                    resource="files",
                    resource_name="Files",
                    controller="files",
                    action=action,
                )
            )
    routes.append(
        Route(
            "GET",
            "/files/{file_id}/download",
            resource="files",
            resource_name="Files",
            controller="files",
            action="show",
        )
    )
    routes.append(
        Route("GET", WEBSOCKET_PATH, resource="files", resource_name="Files", action="events")
    )
    return RouteTable(routes)


async def _describe(request: Request) -> Response:
    """Return what scopeguard decided, so the demo shows the route and scope it matched."""
    decision: Decision = getattr(request.state, STATE_KEY)
    route = decision.route
    return JSONResponse(
        {
            "route": route.path if route is not None else None,
            "scope": decision.required_scope,
            "params": dict(request.path_params),
            "subject": request.user.display_name,
        }
    )


@public
async def _health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _file_events(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(
        {"event": "subscribed", "course_id": websocket.path_params["course_id"]}
    )
    await websocket.close()


def create_app(secret: str, *, algorithm: str = "HS256") -> ScopeGuardMiddleware:
    """Return the demo app wrapped by scopeguard, accepting tokens signed with ``secret``."""
    table = route_table()
    handlers: dict[str, Callable[..., Any]] = {
        "/health": _health,
        SCOPES_PATH: ScopeCatalogueEndpoint(table),
    }
    starlette_routes: list[BaseRoute] = []
    for route in table:
        if route.path == WEBSOCKET_PATH:
            starlette_routes.append(WebSocketRoute(route.path, _file_events))
        else:
            endpoint = handlers.get(route.path, _describe)
            starlette_routes.append(StarletteRoute(route.path, endpoint, methods=[route.method]))

    app = Starlette(routes=starlette_routes)
    verifier = JWTVerifier(key=secret, algorithms=[algorithm])
    return ScopeGuardMiddleware(app, routes=table, verifier=verifier, realm="canvas-demo")


def serve(listener: socket.socket, secret: str) -> None:
    """Print the demo's banner with two fresh tokens, then serve the demo on ``listener``.

    Returns when the server stops, also on Ctrl+C.
    """
    import uvicorn

    files_token = mint_token(secret, FILES_TOKEN_SCOPES, subject="file-reader")
    courses_token = mint_token(secret, COURSES_TOKEN_SCOPES, subject="course-lister")
    host, port = listener.getsockname()[:2]
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    print(banner(base, files_token, courses_token), flush=True)

    config = uvicorn.Config(create_app(secret), log_level="warning")
    # uvicorn shuts down on Ctrl+C, then raises SIGINT again for its caller.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[listener])


def banner(base: str, files_token: str, courses_token: str) -> str:
    """Return the text the demo prints: its address, two tokens and commands to try."""
    return f"""\
scopeguard demo: Canvas file routes at {base}

Token that may list courses and download files:
  FILES_TOKEN={files_token}
Token that may only list courses:
  COURSES_TOKEN={courses_token}

Try (paste the two assignments above into your shell first):
  curl -i {base}/courses/1/files/2/download.pdf -H "Authorization: Bearer $FILES_TOKEN"    # 200
  curl -i {base}/courses/1/files/2/download -H "Authorization: Bearer $COURSES_TOKEN"      # 403
  curl -i {base}/api/v1/courses -H "Authorization: Bearer $COURSES_TOKEN"                  # 200
  curl -i -X DELETE {base}/api/v1/courses -H "Authorization: Bearer $FILES_TOKEN"          # 405
  curl -i {base}/courses/1/files/2/preview -H "Authorization: Bearer $FILES_TOKEN"         # 403
  curl -i {base}/courses/1/files/2/download -H "Authorization: Bearer not-a-jwt"           # 401
  curl -i {base}/courses/1/files/2/download                                               # 401
  curl -i {base}/api/v1/unknown -H "Authorization: Bearer $FILES_TOKEN"                    # 403
  curl -i {base}/health                                                                   # 200

Press Ctrl+C to stop."""

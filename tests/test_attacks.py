"""Attacks on the demo app's request handling, sent as raw HTTP/1.1 over a plain socket.

The app from ``scopeguard.demo.create_app`` runs under uvicorn on 127.0.0.1. Each request
is written byte for byte, so no client normalises its target or headers before uvicorn
parses them. Every attack is paired with a legitimate request that must still pass. A
hypothesis test then sends random targets and ``Authorization`` values in-process.

The last part is differential: random Starlette apps with nested mounts are served bare
and behind the middleware, under uvicorn with and without a root path, and random raw
targets must reach the same endpoint in both or be kept out for a stated reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import string
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from conftest import run_asgi_server
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from scopeguard import (
    STATE_KEY,
    Decision,
    Denial,
    JWTVerifier,
    ScopeGuardMiddleware,
    mint_token,
    routes_from_app,
    target_problem,
)
from scopeguard._request import method_override, scan_headers
from scopeguard.demo import COURSES_TOKEN_SCOPES, FILES_TOKEN_SCOPES, create_app

TokenMinter = Callable[[Sequence[str]], str]

#: Seconds each connect, send and receive on a raw socket may take.
SOCKET_TIMEOUT = 5.0

#: Maximum bytes read while looking for the end of the status line.
MAX_STATUS_LINE_BYTES = 1024

#: Placeholders in a case's header lines, replaced by a token or the server's address.
FILES_TOKEN = "{files_token}"
COURSES_TOKEN = "{courses_token}"
SERVER_HOST = "{host}"
EVENTS_TOKEN = "{events_token}"

#: A route the files token may read and the courses token may not.
DOWNLOAD = "/courses/1/files/2/download"

#: The only route the courses token may read.
COURSES = "/api/v1/courses"

#: The demo's websocket route, which only the events token may open.
EVENTS = "/api/v1/courses/1/files/events"
EVENTS_SCOPES = ("url:GET|/api/v1/courses/:course_id/files/events",)

FILES_AUTH = f"Authorization: Bearer {FILES_TOKEN}"
COURSES_AUTH = f"Authorization: Bearer {COURSES_TOKEN}"


@dataclass(frozen=True)
class RawRequest:
    """A request line and header lines, sent exactly as written.

    ``target`` and ``headers`` may contain the placeholders above. A ``Host`` line naming
    the server is added first unless ``headers`` already has one, and ``Connection: close``
    is added last unless ``headers`` has a ``Connection`` line.
    """

    method: str
    target: str
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Server:
    """The demo app's address and a token for each of its two scope sets."""

    host: str
    port: int
    files_token: str
    courses_token: str
    events_token: str


def render(request: RawRequest, server: Server) -> bytes:
    """Build the bytes of ``request`` for ``server``, with the placeholders replaced."""
    address = f"{server.host}:{server.port}"
    lines = [f"{request.method} {request.target} HTTP/1.1"]
    if not any(line.lower().startswith("host:") for line in request.headers):
        lines.append(f"Host: {address}")
    lines.extend(request.headers)
    if not any(line.lower().startswith("connection:") for line in request.headers):
        lines.append("Connection: close")

    text = "\r\n".join(lines) + "\r\n\r\n"
    text = text.replace(FILES_TOKEN, server.files_token)
    text = text.replace(COURSES_TOKEN, server.courses_token)
    text = text.replace(EVENTS_TOKEN, server.events_token)
    return text.replace(SERVER_HOST, address).encode("latin-1")


def send_raw(server: Server, request: RawRequest) -> int:
    """Send ``request`` on a new connection and return the status code of the response.

    Raises ``TimeoutError`` when a socket operation takes longer than ``SOCKET_TIMEOUT``,
    and ``AssertionError`` when the server closes before a whole status line arrives.
    """
    with socket.create_connection((server.host, server.port), timeout=SOCKET_TIMEOUT) as conn:
        conn.settimeout(SOCKET_TIMEOUT)
        conn.sendall(render(request, server))
        received = b""
        while b"\r\n" not in received and len(received) < MAX_STATUS_LINE_BYTES:
            chunk = conn.recv(4096)
            if not chunk:
                break
            received += chunk

    status_line = received.partition(b"\r\n")[0]
    assert status_line.startswith(b"HTTP/1.1 "), f"no status line in {received[:200]!r}"
    return int(status_line.split(b" ")[1])


@pytest.fixture(scope="module")
def server(
    serve_asgi_module: Callable[[ASGIApp], str], demo_secret: str, mint_demo_token: TokenMinter
) -> Server:
    url = urlsplit(serve_asgi_module(create_app(demo_secret)))
    assert url.hostname is not None
    assert url.port is not None
    return Server(
        host=url.hostname,
        port=url.port,
        files_token=mint_demo_token(FILES_TOKEN_SCOPES),
        courses_token=mint_demo_token(COURSES_TOKEN_SCOPES),
        events_token=mint_demo_token(EVENTS_SCOPES),
    )


def authorized_get(target: str, *headers: str) -> RawRequest:
    """Return a GET of ``target`` with the files token and ``headers``."""
    return RawRequest("GET", target, (FILES_AUTH, *headers))


def handshake(target: str, *headers: str) -> RawRequest:
    """Return a websocket opening handshake for ``target`` with ``headers``."""
    upgrade = (
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    )
    return RawRequest("GET", target, (*upgrade, *headers))


def case(request: RawRequest, *statuses: int, id: str) -> object:
    return pytest.param(request, frozenset(statuses), id=id)


# Every status in a case's set is acceptable. A case with one status expects exactly it.
CASES = [
    # Encoded slashes: a router that splits raw_path would see one segment, not two.
    case(authorized_get("/courses/1/files/2%2F3/download"), 400, id="slash-2F"),
    case(authorized_get("/courses/1/files/2%2f3/download"), 400, id="slash-2f"),
    case(authorized_get("/courses/1/files/2%5C3/download"), 400, id="backslash-5C"),
    case(authorized_get("/courses/1/files/2%5c3/download"), 400, id="backslash-5c"),
    case(authorized_get("/courses/1/files/%41/download"), 200, id="escape-41-ok"),
    # Dot segments: file_id ".." matches the download route for scopeguard, but a
    # component that removes dot segments reads /courses/1/download instead.
    case(authorized_get("/courses/1/files/../download"), 400, id="dots"),
    case(authorized_get("/courses/1/files/%2e%2e/download"), 400, id="dots-2e"),
    case(authorized_get("/courses/1/files/%2E%2E/download"), 400, id="dots-2E"),
    case(authorized_get("/courses/1/files/.%2e/download"), 400, id="dots-mixed"),
    case(authorized_get("/courses/1/files/..;/download"), 400, id="dots-semicolon"),
    case(authorized_get("/courses/1/files/./download"), 400, id="dot"),
    case(authorized_get("/courses/1/files/..foo/download"), 200, id="dots-prefix-ok"),
    case(authorized_get("/courses/1/files/foo../download"), 200, id="dots-suffix-ok"),
    # Encoded control characters arrive decoded in scope["path"].
    case(authorized_get("/courses/1/files/2%00/download"), 400, id="nul"),
    case(authorized_get("/courses/1/files/2/download%0A"), 400, id="newline-end"),
    case(authorized_get("/courses/1/files/2%0d%0aX:1/download"), 400, id="crlf"),
    case(authorized_get("/courses/1/files/2%7F/download"), 400, id="del"),
    case(authorized_get("/courses/1/files/2%203/download"), 200, id="space-ok"),
    # Double encoding: a second decoding would turn %252F into a slash.
    case(authorized_get("/courses/1/files/2%252F3/download"), 400, id="double-2F"),
    case(authorized_get("/courses/1/files/%252e%252e/download"), 400, id="double-dots"),
    case(authorized_get("/courses/1/files/%25%34%31/download"), 400, id="double-spelled"),
    case(authorized_get(f"{DOWNLOAD}?name=100%25"), 200, id="percent-query-ok"),
    case(authorized_get(f"{DOWNLOAD}?name=%252F"), 200, id="double-query-ok"),
    # A literal backslash is a separator for Windows file APIs. h11 0.16 accepts it in
    # the request target, so the 400 comes from scopeguard.
    case(authorized_get("/courses/1/files/2\\3/download"), 400, id="backslash"),
    case(authorized_get("/courses/1/files/2\\..\\..\\download"), 400, id="backslash-dots"),
    # Method overrides: a framework downstream could run the request as DELETE.
    case(authorized_get(DOWNLOAD, "X-HTTP-Method-Override: DELETE"), 400, id="override-header"),
    case(authorized_get(DOWNLOAD, "X-Method-Override: DELETE"), 400, id="override-x-method"),
    case(authorized_get(DOWNLOAD, "X-HTTP-Method: DELETE"), 400, id="override-http-method"),
    case(authorized_get(DOWNLOAD, "x-http-method-override: GET"), 400, id="override-same-method"),
    case(
        authorized_get(DOWNLOAD, "X_HTTP_Method_Override: DELETE"), 400, id="override-underscores"
    ),
    case(authorized_get(DOWNLOAD, "X_Request_Id: 7"), 200, id="underscore-header-ok"),
    case(authorized_get(f"{DOWNLOAD}?_method=DELETE"), 400, id="override-query"),
    case(authorized_get(f"{DOWNLOAD}?%5Fmethod=DELETE"), 400, id="override-query-encoded"),
    case(authorized_get(f"{DOWNLOAD}?a=1&_method=delete"), 400, id="override-query-second"),
    case(authorized_get(f"{DOWNLOAD}?_meth%6Fd=DELETE"), 400, id="override-escaped-letter"),
    case(
        authorized_get(f"{DOWNLOAD}?%5F%6D%65%74%68%6F%64=DELETE"), 400, id="override-all-escaped"
    ),
    case(authorized_get(f"{DOWNLOAD}?x=1;_method=DELETE"), 400, id="override-after-semicolon"),
    case(authorized_get(f"{DOWNLOAD}?_method="), 400, id="override-blank"),
    case(authorized_get(f"{DOWNLOAD}?name=%41"), 200, id="query-escape-ok"),
    case(authorized_get(f"{DOWNLOAD}?page=2"), 200, id="query-ok"),
    case(authorized_get(f"{DOWNLOAD}?payment_method=card"), 200, id="query-method-suffix-ok"),
    # CORS preflights pass to the app without a token. Starlette returns 405, because
    # the demo has no CORSMiddleware and its routes take GET and HEAD only.
    case(
        RawRequest(
            "OPTIONS",
            DOWNLOAD,
            ("Origin: http://app.example", "Access-Control-Request-Method: GET"),
        ),
        405,
        id="preflight-ok",
    ),
    case(RawRequest("OPTIONS", DOWNLOAD), 401, id="options-no-token"),
    case(
        RawRequest("OPTIONS", DOWNLOAD, ("Origin: http://app.example",)), 401, id="options-origin"
    ),
    case(
        RawRequest(
            "GET",
            DOWNLOAD,
            ("Origin: http://app.example", "Access-Control-Request-Method: GET"),
        ),
        401,
        id="preflight-headers-on-get",
    ),
    # Authorization headers: size and count.
    case(authorized_get(DOWNLOAD), 200, id="token-ok"),
    case(RawRequest("GET", DOWNLOAD, ("Authorization: Bearer " + "a" * 8200,)), 401, id="huge"),
    case(RawRequest("GET", DOWNLOAD, (FILES_AUTH, FILES_AUTH)), 400, id="two-headers"),
    case(
        RawRequest("GET", DOWNLOAD, (FILES_AUTH, "Authorization: Basic eDp5")),
        400,
        id="two-schemes",
    ),
    case(RawRequest("GET", DOWNLOAD), 401, id="no-token"),
    # Methods: only GET and HEAD have routes, and method names are case-sensitive.
    case(RawRequest("get", DOWNLOAD, (FILES_AUTH,)), 400, 405, id="lower-get"),
    case(RawRequest("FOO", DOWNLOAD, (FILES_AUTH,)), 400, 405, id="unknown-method"),
    case(RawRequest("DELETE", DOWNLOAD, (FILES_AUTH,)), 405, id="delete"),
    case(RawRequest("HEAD", DOWNLOAD, (FILES_AUTH,)), 200, id="head-ok"),
    # Forwarding and rewrite headers: the courses token must not reach the download route,
    # whatever the headers claim, and keeps reaching its own route.
    case(RawRequest("GET", DOWNLOAD, (COURSES_AUTH,)), 403, id="courses-token"),
    case(RawRequest("GET", COURSES, (COURSES_AUTH,)), 200, id="courses-token-ok"),
    case(
        RawRequest("GET", DOWNLOAD, (COURSES_AUTH, f"X-Original-URL: {COURSES}")),
        403,
        id="original-url",
    ),
    case(
        RawRequest("GET", DOWNLOAD, (COURSES_AUTH, f"X-Rewrite-URL: {COURSES}")),
        403,
        id="rewrite-url",
    ),
    case(
        RawRequest(
            "GET",
            DOWNLOAD,
            (
                COURSES_AUTH,
                "X-Forwarded-For: 10.0.0.1",
                "X-Forwarded-Host: admin.example",
                "X-Forwarded-Proto: https",
                "X-Forwarded-Prefix: /api/v1",
                f"X-Forwarded-Uri: {COURSES}",
            ),
        ),
        403,
        id="forwarded",
    ),
    case(
        RawRequest("GET", DOWNLOAD, ("Host: admin.example", COURSES_AUTH)),
        403,
        id="other-host",
    ),
    case(
        RawRequest(
            "GET",
            COURSES,
            (
                COURSES_AUTH,
                f"X-Original-URL: {DOWNLOAD}",
                f"X-Rewrite-URL: {DOWNLOAD}",
                "X-Forwarded-Host: admin.example",
                "X-Forwarded-Prefix: /courses/1/files/2",
            ),
        ),
        200,
        id="rewrite-headers-ok",
    ),
    case(
        RawRequest("GET", COURSES, ("Host: admin.example", COURSES_AUTH)),
        200,
        id="other-host-ok",
    ),
    # Websocket handshakes: checked as a GET of their route before the app accepts them.
    case(handshake(EVENTS, f"Authorization: Bearer {EVENTS_TOKEN}"), 101, id="ws-ok"),
    case(handshake(EVENTS), 401, id="ws-no-token"),
    case(handshake(EVENTS, COURSES_AUTH), 403, id="ws-other-scope"),
    case(
        handshake(
            "/api/v1/courses/1/files/../files/events", f"Authorization: Bearer {EVENTS_TOKEN}"
        ),
        400,
        id="ws-dots",
    ),
    case(
        handshake("/api/v1/courses/1%2Ffiles/events", f"Authorization: Bearer {EVENTS_TOKEN}"),
        400,
        id="ws-encoded-slash",
    ),
    # A websocket scope has no method to override, so override headers change nothing.
    case(
        handshake(EVENTS, f"Authorization: Bearer {EVENTS_TOKEN}", "X-HTTP-Method-Override: POST"),
        101,
        id="ws-override-ignored",
    ),
    case(
        handshake(f"{EVENTS}?access_token={EVENTS_TOKEN}"),
        401,
        id="ws-token-in-query",
    ),
    case(
        handshake(EVENTS, f"Authorization: Bearer {EVENTS_TOKEN}", f"X-Original-URL: {COURSES}"),
        101,
        id="ws-rewrite-header-ignored",
    ),
    # uvicorn 0.55 with h11 puts a whole absolute-form target into scope["path"], so no
    # route matches it and even the files token is denied.
    case(
        RawRequest("GET", f"http://admin.example{DOWNLOAD}", (COURSES_AUTH,)),
        403,
        id="absolute",
    ),
    case(
        RawRequest("GET", f"http://{SERVER_HOST}{DOWNLOAD}", (FILES_AUTH,)),
        403,
        id="absolute-files-token",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_raw_request(server: Server, raw: RawRequest, expected: frozenset[int]) -> None:
    status = send_raw(server, raw)

    assert status in expected, f"{raw} got {status}, expected one of {sorted(expected)}"


AUTHORIZATION_SCHEMES = ("Bearer ", "bearer ", "Basic ", "Bearer", "")

#: Scopes for the minted tokens: the demo's own, near misses and arbitrary text.
FUZZ_SCOPES = st.one_of(
    st.sampled_from([*FILES_TOKEN_SCOPES, "url:GET|/courses/:course_id/files/:file_id/preview"]),
    st.text(alphabet=string.printable.strip(), min_size=1, max_size=40),
)

#: Path pieces: printable ASCII without "?" and "#", which would end the path, and
#: escapes of any byte.
PATH_PIECES = st.one_of(
    st.text(alphabet=string.printable.strip().replace("?", "").replace("#", ""), max_size=8),
    st.integers(min_value=0, max_value=255).map(lambda byte: f"%{byte:02X}"),
    st.sampled_from(["/", "..", "%2e", "courses/1/files/2/download", "api/v1/courses"]),
)

DEMO_PATHS = (
    DOWNLOAD,
    f"{DOWNLOAD}.pdf",
    "/courses/1/files/2/preview",
    "/files/2/download",
    COURSES,
    "/api/v1/accounts/1/scopes",
    "/health",
)


def insert_piece(path: str, piece: str, position: int) -> str:
    """Insert ``piece`` into ``path`` after the leading slash, which a target must keep."""
    position = min(max(position, 1), len(path))
    return path[:position] + piece + path[position:]


#: Random paths, and demo routes with one random piece inserted, so that tokens with the
#: right scope also reach the decision and the app.
PATHS = st.one_of(
    st.lists(PATH_PIECES, max_size=12).map(lambda pieces: "/" + "".join(pieces)),
    st.sampled_from(DEMO_PATHS),
    st.builds(
        insert_piece,
        st.sampled_from(DEMO_PATHS),
        PATH_PIECES,
        st.integers(min_value=0, max_value=40),
    ),
)

#: Header values without CR, LF or NUL, which h11 rejects in a header. Any other byte may occur.
HEADER_BYTES = st.binary(max_size=200).map(
    lambda value: value.replace(b"\r", b"").replace(b"\n", b"").replace(b"\0", b"")
)


@pytest.fixture(scope="module")
def demo_app(demo_secret: str) -> ASGIApp:
    return create_app(demo_secret)


async def fuzz_get(app: ASGIApp, path: str, authorization: bytes | None) -> httpx.Response:
    """Send a GET of ``path`` to ``app`` in-process, with the target set byte for byte.

    The target goes in as ``raw_path``, because httpx would read a path such as ``//x``
    given as a string as an authority.
    """
    url = httpx.URL("http://testserver").copy_with(raw_path=path.encode("ascii"))
    headers = {b"authorization": authorization} if authorization is not None else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        return await client.get(url, headers=headers)


@settings(max_examples=150, deadline=None)
@given(
    path=PATHS,
    scheme=st.sampled_from(AUTHORIZATION_SCHEMES),
    credentials=st.one_of(
        st.none(),
        HEADER_BYTES,
        st.lists(FUZZ_SCOPES, max_size=4),
    ),
)
def test_fuzz_no_server_error(
    demo_app: ASGIApp,
    mint_demo_token: TokenMinter,
    path: str,
    scheme: str,
    credentials: bytes | list[str] | None,
) -> None:
    # A list of scopes becomes a validly signed token, and bytes are sent as they are.
    if isinstance(credentials, list):
        authorization: bytes | None = (scheme + mint_demo_token(credentials)).encode("ascii")
    elif credentials is not None:
        authorization = scheme.encode("ascii") + credentials
    else:
        authorization = None

    response = asyncio.run(fuzz_get(demo_app, path, authorization))
    event(f"status {response.status_code}")

    assert response.status_code < 500, (path, authorization, response.text)


# --- Random apps under uvicorn: the check agrees with dispatch ------------------------------
#
# Hypothesis builds a random Starlette app of routes and mounts, and each server pair serves
# it twice: bare, and behind ScopeGuardMiddleware with routes read from the app. Every
# random target is sent byte for byte to both. An endpoint that runs behind the middleware
# must be the one that runs in the bare app, the decision must name its route, and the
# token must carry its scope. A bare endpoint that the middleware keeps out must be kept
# out for a reason: a rejected target or a missing scope.

#: Literal path segments. "v" and "v1" share leading characters, as do "file" and "files".
LITERALS = ("a", "b", "v", "v1", "file", "files", "me", "x.y")
#: Parameter spellings, with "{}" replaced by a name unique within the app.
PARAMETERS = ("{%s}", "{%s:int}", "{%s}.txt", "{%s:str}")
#: Methods of the generated routes, and the methods the requests are sent with.
ROUTE_METHODS_DRAWN = ("GET", "POST", "DELETE")
REQUEST_METHODS = ("GET", "HEAD", "POST", "DELETE", "PUT")
#: Root paths under which uvicorn serves each pair, as its --root-path option does.
ROOT_PATHS = ("", "/v")
#: Response headers in which the endpoints report what ran and the decision they saw.
ENDPOINT_HEADER = "x-endpoint"
DECISION_HEADER = "x-decision-action"
SCOPE_HEADER = "x-decision-scope"

# HYPOTHESIS_PROFILE=thorough runs the differential property with 20 times the examples.
DIFFERENTIAL_EXAMPLES = 2000 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 100


def endpoint_named(name: str) -> Callable[[Request], Awaitable[Response]]:
    """Return an endpoint called ``name`` that reports its name and the decision it saw."""

    async def endpoint(request: Request) -> Response:
        headers = {ENDPOINT_HEADER: name}
        decision: Decision | None = getattr(request.state, STATE_KEY, None)
        if decision is not None and decision.route is not None:
            headers[DECISION_HEADER] = decision.route.action or ""
            headers[SCOPE_HEADER] = decision.required_scope or ""
        return PlainTextResponse(name, headers=headers)

    endpoint.__name__ = endpoint.__qualname__ = name
    return endpoint


class AppBuilder:
    """A source of random route trees with unique endpoint and parameter names."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.endpoints = 0
        self.parameters = 0
        self.drawn: list[list[str]] = []

    def segment(self, *, last: bool) -> str:
        if self.draw(st.booleans()):
            return self.draw(st.sampled_from(LITERALS))
        self.parameters += 1
        name = f"p{self.parameters}"
        if last and self.draw(st.integers(0, 5)) == 0:
            return f"{{{name}:path}}"
        return self.draw(st.sampled_from(PARAMETERS)) % name

    def path(self, *, allow_root: bool) -> str:
        reuse = bool(self.drawn) and self.draw(st.booleans())
        if reuse:
            # A sibling of an earlier path with one segment drawn anew, so that routes
            # overlap and their order decides, as it does in real apps.
            segments = self.draw(st.sampled_from(self.drawn)).copy()
            index = self.draw(st.integers(0, len(segments) - 1))
            segments[index] = self.segment(last=index == len(segments) - 1)
        else:
            count = self.draw(st.integers(0 if allow_root else 1, 3))
            segments = [self.segment(last=index == count - 1) for index in range(count)]
            if segments:
                self.drawn.append(segments)
        path = "/" + "/".join(segments)
        if segments and not segments[-1].endswith(":path}") and self.draw(st.integers(0, 4)) == 0:
            path += "/"
        return path

    def routes(self, depth: int) -> list[BaseRoute]:
        routes: list[BaseRoute] = []
        for _ in range(self.draw(st.integers(1, 4))):
            if depth < 2 and self.draw(st.integers(0, 3)) == 0:
                prefix = self.path(allow_root=False).rstrip("/")
                if prefix.endswith(":path}"):
                    prefix = prefix.rsplit("/", 1)[0] or "/m"
                # Paths inside the mount reuse only each other's segments, because a
                # parameter name may occur once in a full path.
                outer, self.drawn = self.drawn, []
                routes.append(Mount(prefix, routes=self.routes(depth + 1)))
                self.drawn = outer
                continue
            self.endpoints += 1
            methods = self.draw(
                st.lists(st.sampled_from(ROUTE_METHODS_DRAWN), min_size=1, max_size=3, unique=True)
            )
            path = self.path(allow_root=depth > 0)
            routes.append(
                StarletteRoute(path, endpoint_named(f"e{self.endpoints}"), methods=methods)
            )
        return routes


@st.composite
def random_apps(draw: st.DrawFn) -> Starlette:
    return Starlette(routes=AppBuilder(draw).routes(depth=0))


#: Values that fill each converter, some of which the converter's pattern rejects.
FILLERS = {
    "str": ("7", "abc", "x.y", "me", "v1"),
    "int": ("7", "0", "-1", "abc"),
    "path": ("a", "a/b", "files/me", "a/b/"),
}
TEMPLATE_PARAMETER = re.compile(r"\{\w+(?::(\w+))?\}")

#: Replacements for one segment of a filled path, as written on the wire.
RAW_SEGMENTS = (
    "",
    ".",
    "..",
    "%2e%2e",
    "..;",
    ".;x",
    "a%2Fb",
    "a%5Cb",
    "a\\b",
    "%252F",
    "%2541",
    "%00",
    "%0A",
    "a;b=1",
    "%C3%A9",
    "%7E",
    "me",
    "v1",
    "7",
    "files",
)
QUERIES = ("", "?page=2", "?_method=DELETE", "?%5Fmethod=DELETE", "?next=/../a%2Fb")
#: Characters the drawn target may spell as an escape.
ESCAPABLE = frozenset(string.ascii_letters + string.digits + "./-_~")


@st.composite
def raw_targets(draw: st.DrawFn, templates: Sequence[str]) -> str:
    """Draw a request target: a route template filled in, then changed on the wire."""
    template = draw(st.sampled_from(templates))
    path = TEMPLATE_PARAMETER.sub(
        lambda match: draw(st.sampled_from(FILLERS.get(match.group(1) or "str", FILLERS["str"]))),
        template,
    )
    # Escape some characters that need none; "/" stays a separator here.
    escape = draw(st.sets(st.integers(0, max(len(path) - 1, 0)), max_size=2))
    path = "".join(
        f"%{ord(character):02X}" if index in escape and character in ESCAPABLE else character
        for index, character in enumerate(path)
    )
    parts = path[1:].split("/")
    change = draw(st.sampled_from(("none", "none", "replace", "insert", "append", "slash")))
    if change == "replace":
        parts[draw(st.integers(0, len(parts) - 1))] = draw(st.sampled_from(RAW_SEGMENTS))
    elif change == "insert":
        parts.insert(draw(st.integers(0, len(parts))), draw(st.sampled_from(RAW_SEGMENTS)))
    elif change == "append":
        parts.append(draw(st.sampled_from(RAW_SEGMENTS)))
    elif change == "slash":
        parts.append("")
    return "/" + "/".join(parts) + draw(st.sampled_from(QUERIES))


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]


def exchange(port: int, method: str, target: str, authorization: str) -> Reply:
    """Send one request byte for byte on a new connection and read the whole response."""
    request = (
        f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {authorization}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as conn:
        conn.settimeout(SOCKET_TIMEOUT)
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk

    head = received.partition(b"\r\n\r\n")[0].decode("latin-1")
    status_line, *header_lines = head.split("\r\n")
    assert status_line.startswith("HTTP/1.1 "), f"no status line in {received[:200]!r}"
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(int(status_line.split(" ")[1]), headers)


class Swappable:
    """An ASGI app that passes each request to the app stored in ``app`` at the time."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert self.app is not None
        await self.app(scope, receive, send)


@dataclass
class ServerPair:
    """A bare server and a guarded server for one root path."""

    root_path: str
    bare: Swappable
    bare_port: int
    guarded: Swappable
    guarded_port: int


@pytest.fixture(scope="module")
def server_pairs() -> Iterator[dict[str, ServerPair]]:
    with contextlib.ExitStack() as stack:
        pairs = {}
        for root_path in ROOT_PATHS:
            bare, guarded = Swappable(), Swappable()
            bare_url = stack.enter_context(run_asgi_server(bare, root_path=root_path))
            guarded_url = stack.enter_context(run_asgi_server(guarded, root_path=root_path))
            pairs[root_path] = ServerPair(
                root_path,
                bare,
                int(urlsplit(bare_url).port or 0),
                guarded,
                int(urlsplit(guarded_url).port or 0),
            )
        yield pairs


def rejected_target(root_path: str, target: str) -> bool:
    """Return whether the middleware rejects ``target`` with 400 before resolving it."""
    raw_path, _, query = target.partition("?")
    problem = target_problem(root_path + unquote(raw_path), (root_path + raw_path).encode())
    if problem is not None:
        return True
    try:
        return method_override(scan_headers([]), query.encode()) is not None
    except Denial:
        return True


@settings(
    max_examples=DIFFERENTIAL_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(app=random_apps(), root_path=st.sampled_from(ROOT_PATHS), data=st.data())
def test_guarded_dispatch_matches_bare(
    server_pairs: dict[str, ServerPair],
    app: Starlette,
    root_path: str,
    data: st.DataObject,
) -> None:
    secret = "differential-secret-0123456789abcdef"
    table = routes_from_app(app)
    scopes_of_table = sorted({route.scope for route in table})
    route_of = {(route.action, route.method): route for route in table}
    pair = server_pairs[root_path]
    pair.bare.app = app
    pair.guarded.app = ScopeGuardMiddleware(
        app, verifier=JWTVerifier(key=secret, algorithms=["HS256"])
    )
    templates = sorted({route.path for route in table})

    for _ in range(8):
        method = data.draw(st.sampled_from(REQUEST_METHODS), label="method")
        target = data.draw(raw_targets(templates), label="target")
        scopes = data.draw(st.sets(st.sampled_from(scopes_of_table)), label="scopes")
        token = mint_token(secret, sorted(scopes))

        bare = exchange(pair.bare_port, method, target, token)
        guarded = exchange(pair.guarded_port, method, target, token)
        ran = guarded.headers.get(ENDPOINT_HEADER)
        expected = bare.headers.get(ENDPOINT_HEADER)
        event(f"bare {bare.status}, guarded {guarded.status}")

        assert bare.status < 500, (method, target)
        assert guarded.status < 500, (method, target)
        if ran is not None:
            # The middleware decided on the route that ran, and the token has its scope.
            assert ran == expected, (method, target)
            assert guarded.headers[DECISION_HEADER] == ran, (method, target)
            assert guarded.headers[SCOPE_HEADER] in scopes, (method, target)
        elif expected is not None:
            # The endpoint was kept out: a rejected target or a scope the token lacks.
            route = route_of[(expected, "GET" if method == "HEAD" else method)]
            if guarded.status == 400:
                assert rejected_target(root_path, target), (method, target)
            else:
                assert guarded.status == 403, (method, target, guarded.status)
                assert route.scope not in scopes, (method, target)

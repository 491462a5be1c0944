"""End-to-end tests of the demo app over real HTTP and websocket connections.

The app from ``scopeguard.demo.create_app`` runs under uvicorn on 127.0.0.1, and the
``scopeguard demo`` command runs as a subprocess. The expected routes and scopes are written
out here from Canvas's file routes, not derived from the demo's own route list.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from starlette.types import ASGIApp
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from scopeguard.demo import COURSES_TOKEN_SCOPES, FILES_TOKEN_SCOPES, create_app
from scopeguard.tokens import mint_token

TokenMinter = Callable[[Sequence[str]], str]

#: Seconds any single request, handshake or message may take.
REQUEST_TIMEOUT = 5.0

#: Seconds the ``scopeguard demo`` subprocess may take to print its banner and serve.
CLI_START_TIMEOUT = 15.0

#: Seconds the ``scopeguard demo`` subprocess may take to exit after Ctrl+C.
CLI_STOP_TIMEOUT = 10.0

#: The WWW-Authenticate value of a denial without an error code. Other denials extend it.
REALM_CHALLENGE = 'Bearer realm="canvas-demo"'

#: The Allow header of every demo route, since all of them are GET routes.
ALLOWED_METHODS = "GET, HEAD"

FILE_ID = "5"


@dataclass(frozen=True)
class FileContext:
    """An owner of files, with its part of the file routes and of their scopes.

    ``path`` is the request path before ``/files/...``, ``template`` the same part in
    Starlette syntax, ``scope_path`` in Canvas notation, and ``params`` the path
    parameters it contributes. All four are empty for ``/files/:file_id/download``.
    """

    name: str
    path: str = ""
    template: str = ""
    scope_path: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def serves_formats(self) -> bool:
        """True when the context also has ``download.:type`` and ``preview`` routes."""
        return bool(self.path)

    def download_path(self, suffix: str = "") -> str:
        return f"{self.path}/files/{FILE_ID}/download{suffix}"

    def preview_path(self) -> str:
        return f"{self.path}/files/{FILE_ID}/preview"

    def scope(self, action: str) -> str:
        return f"url:GET|{self.scope_path}/files/:file_id/{action}"


COURSES = FileContext(
    "courses", "/courses/3", "/courses/{course_id}", "/courses/:course_id", {"course_id": "3"}
)
FILES = FileContext("files")

# Every context whose files Canvas documents as usable with scoped tokens.
ALL_CONTEXTS = [
    COURSES,
    FileContext(
        "groups", "/groups/4", "/groups/{group_id}", "/groups/:group_id", {"group_id": "4"}
    ),
    FileContext("users", "/users/6", "/users/{user_id}", "/users/:user_id", {"user_id": "6"}),
    FileContext(
        "accounts",
        "/accounts/1",
        "/accounts/{account_id}",
        "/accounts/:account_id",
        {"account_id": "1"},
    ),
    FileContext(
        "quiz_statistics",
        "/quiz_statistics/8",
        "/quiz_statistics/{quiz_statistics_id}",
        "/quiz_statistics/:quiz_statistics_id",
        {"quiz_statistics_id": "8"},
    ),
    FileContext(
        "assessment_questions",
        "/assessment_questions/9",
        "/assessment_questions/{assessment_question_id}",
        "/assessment_questions/:assessment_question_id",
        {"assessment_question_id": "9"},
    ),
    FileContext(
        "quiz_submissions",
        "/quiz_submissions/10",
        "/quiz_submissions/{quiz_submission_id}",
        "/quiz_submissions/:quiz_submission_id",
        {"quiz_submission_id": "10"},
    ),
    FileContext(
        "assignments",
        "/assignments/11",
        "/assignments/{assignment_id}",
        "/assignments/:assignment_id",
        {"assignment_id": "11"},
    ),
    FILES,
]

CONTEXTS = [pytest.param(context, id=context.name) for context in ALL_CONTEXTS]

# The contexts that also serve ``download.:type`` and ``preview``.
FORMAT_CONTEXTS = [
    pytest.param(context, id=context.name) for context in ALL_CONTEXTS if context.serves_formats
]

EVENTS_SCOPE = "url:GET|/api/v1/courses/:course_id/files/events"


@pytest.fixture(scope="module")
def demo_url(serve_asgi_module: Callable[[ASGIApp], str], demo_secret: str) -> str:
    """Return the base URL of the demo app, which accepts tokens signed with ``demo_secret``."""
    return serve_asgi_module(create_app(demo_secret))


@pytest.fixture
def client(demo_url: str) -> Iterator[httpx.Client]:
    """An HTTP client of the demo server that ignores proxy settings of the environment."""
    with httpx.Client(base_url=demo_url, trust_env=False, timeout=REQUEST_TIMEOUT) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_message(response: httpx.Response) -> str:
    """Return the message of a denial body in Canvas's ``{"errors": [{"message": ...}]}`` shape."""
    body: dict[str, list[dict[str, str]]] = response.json()
    return body["errors"][0]["message"]


# HTTP: allowed requests


@pytest.mark.parametrize("context", CONTEXTS)
def test_download_allowed_with_scope(
    client: httpx.Client, mint_demo_token: TokenMinter, context: FileContext
) -> None:
    token = mint_demo_token([context.scope("download")])

    response = client.get(context.download_path(), headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "route": f"{context.template}/files/{{file_id}}/download",
        "scope": context.scope("download"),
        "params": {**context.params, "file_id": FILE_ID},
        "subject": "dev-user",
    }


@pytest.mark.parametrize("context", CONTEXTS)
def test_head_returns_empty_body(
    client: httpx.Client, mint_demo_token: TokenMinter, context: FileContext
) -> None:
    token = mint_demo_token([context.scope("download")])

    response = client.head(context.download_path(), headers=bearer(token))

    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize("context", FORMAT_CONTEXTS)
@pytest.mark.parametrize("suffix", [".pdf", ".tar.gz"])
def test_format_suffix_uses_download_scope(
    client: httpx.Client, mint_demo_token: TokenMinter, context: FileContext, suffix: str
) -> None:
    token = mint_demo_token([context.scope("download")])

    response = client.get(context.download_path(suffix), headers=bearer(token))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["route"] == f"{context.template}/files/{{file_id}}/download.{{type}}"
    assert body["scope"] == context.scope("download")
    assert body["params"] == {**context.params, "file_id": FILE_ID, "type": suffix[1:]}


@pytest.mark.parametrize("context", FORMAT_CONTEXTS)
def test_preview_allowed_with_scope(
    client: httpx.Client, mint_demo_token: TokenMinter, context: FileContext
) -> None:
    token = mint_demo_token([context.scope("preview")])

    response = client.get(context.preview_path(), headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.json()["scope"] == context.scope("preview")


def test_encoded_dot_matches_format_route(
    client: httpx.Client, mint_demo_token: TokenMinter
) -> None:
    # The server decodes %2E before routing, so both the table and Starlette see ".pdf".
    token = mint_demo_token([COURSES.scope("download")])

    response = client.get(COURSES.download_path("%2Epdf"), headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.json()["params"]["type"] == "pdf"


def test_courses_list_allowed(client: httpx.Client, mint_demo_token: TokenMinter) -> None:
    response = client.get("/api/v1/courses", headers=bearer(mint_demo_token(COURSES_TOKEN_SCOPES)))

    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "url:GET|/api/v1/courses"


# HTTP: the list-scopes endpoint

SCOPES_PATH = "/api/v1/accounts/1/scopes"
SCOPES_SCOPE = "url:GET|/api/v1/accounts/:account_id/scopes"


def scope_entry(
    scope: str, resource: str, resource_name: str, controller: str | None, action: str
) -> dict[str, str | None]:
    """Return a Scope object of the demo's catalogue, with the keys in Canvas's order."""
    return {
        "resource": resource,
        "resource_name": resource_name,
        "controller": controller,
        "action": action,
        "verb": "GET",
        "scope": scope,
    }


def expected_file_entries() -> list[dict[str, str | None]]:
    """Return the demo's Files entries, sorted by scope as the catalogue sorts them."""
    entries = [scope_entry(EVENTS_SCOPE, "files", "Files", None, "events")]
    for context in ALL_CONTEXTS:
        entries.append(scope_entry(context.scope("download"), "files", "Files", "files", "show"))
        if context.serves_formats:
            entries.append(
                scope_entry(context.scope("preview"), "files", "Files", "files", "show_relative")
            )
    return sorted(entries, key=lambda entry: str(entry["scope"]))


SCOPES_ENTRY = scope_entry(SCOPES_SCOPE, "oauth2", "API Token Scopes", "scopes_api", "index")
COURSES_ENTRY = scope_entry("url:GET|/api/v1/courses", "courses", "Courses", "courses", "index")


def test_scope_list_names_every_route(client: httpx.Client, mint_demo_token: TokenMinter) -> None:
    # Sorted by resource_name, then by scope. download and download.:type share one entry.
    expected = [SCOPES_ENTRY, COURSES_ENTRY, *expected_file_entries()]

    response = client.get(SCOPES_PATH, headers=bearer(mint_demo_token([SCOPES_SCOPE])))

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Length"] == str(len(response.content))
    assert response.json() == expected


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        pytest.param(
            "resource_name",
            {
                "API Token Scopes": [SCOPES_ENTRY],
                "Courses": [COURSES_ENTRY],
                "Files": expected_file_entries(),
            },
            id="resource-name",
        ),
        pytest.param(
            "resource",
            {
                "oauth2": [SCOPES_ENTRY],
                "courses": [COURSES_ENTRY],
                "files": expected_file_entries(),
            },
            id="resource",
        ),
    ],
)
def test_scope_list_grouped(
    client: httpx.Client,
    mint_demo_token: TokenMinter,
    group_by: str,
    expected: dict[str, list[dict[str, str | None]]],
) -> None:
    response = client.get(
        SCOPES_PATH,
        params={"group_by": group_by, "per_page": "10"},
        headers=bearer(mint_demo_token([SCOPES_SCOPE])),
    )

    assert response.status_code == 200, response.text
    assert response.json() == expected
    assert list(response.json()) == list(expected)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param(
            "group_by=controller",
            "invalid group_by 'controller'; use resource or resource_name, "
            "or leave group_by out for an ungrouped list",
            id="unknown",
        ),
        pytest.param(
            "group_by=resource&group_by=resource",
            "group_by was given 2 times; give it once, as resource or resource_name",
            id="repeated",
        ),
    ],
)
def test_scope_list_bad_group_by(
    client: httpx.Client, mint_demo_token: TokenMinter, query: str, message: str
) -> None:
    response = client.get(f"{SCOPES_PATH}?{query}", headers=bearer(mint_demo_token([SCOPES_SCOPE])))

    assert response.status_code == 400
    assert error_message(response) == message


def test_scope_list_head(client: httpx.Client, mint_demo_token: TokenMinter) -> None:
    headers = bearer(mint_demo_token([SCOPES_SCOPE]))

    get = client.get(SCOPES_PATH, headers=headers)
    head = client.head(SCOPES_PATH, headers=headers)

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]


@pytest.mark.parametrize(
    ("scopes", "status"),
    [
        pytest.param([SCOPES_SCOPE], 200, id="with-scope"),
        pytest.param(FILES_TOKEN_SCOPES, 403, id="without-scope"),
        pytest.param(["url:GET|/api/v1/accounts/:id/scopes"], 403, id="other-parameter-name"),
    ],
)
def test_scope_list_needs_its_scope(
    client: httpx.Client, mint_demo_token: TokenMinter, scopes: Sequence[str], status: int
) -> None:
    response = client.get(SCOPES_PATH, headers=bearer(mint_demo_token(scopes)))

    assert response.status_code == status, response.text
    if status == 403:
        assert error_message(response) == f"the token lacks the scope {SCOPES_SCOPE}"
        assert response.headers["WWW-Authenticate"].endswith(f'scope="{SCOPES_SCOPE}"')


def test_scope_list_without_token(client: httpx.Client) -> None:
    response = client.get(SCOPES_PATH)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == REALM_CHALLENGE


# HTTP: denied requests


@pytest.mark.parametrize("context", CONTEXTS)
def test_download_denied_without_scope(
    client: httpx.Client, mint_demo_token: TokenMinter, context: FileContext
) -> None:
    required = context.scope("download")

    response = client.get(
        context.download_path(), headers=bearer(mint_demo_token(COURSES_TOKEN_SCOPES))
    )

    assert response.status_code == 403
    assert error_message(response) == f"the token lacks the scope {required}"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(f'{REALM_CHALLENGE}, error="insufficient_scope"')
    assert challenge.endswith(f'scope="{required}"')
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("context", FORMAT_CONTEXTS)
def test_preview_denied_with_download_scope(
    client: httpx.Client, mint_demo_token: TokenMinter, context: FileContext
) -> None:
    token = mint_demo_token([context.scope("download")])

    response = client.get(context.preview_path(), headers=bearer(token))

    assert response.status_code == 403
    assert error_message(response) == f"the token lacks the scope {context.scope('preview')}"


@pytest.mark.parametrize("context", CONTEXTS)
def test_other_context_scope_denied(
    client: httpx.Client, mint_demo_token: TokenMinter, context: FileContext
) -> None:
    # A scope names one route template, so the download scope of another owner grants nothing.
    other = FILES if context is COURSES else COURSES
    token = mint_demo_token([other.scope("download")])

    response = client.get(context.download_path(), headers=bearer(token))

    assert response.status_code == 403
    assert error_message(response) == f"the token lacks the scope {context.scope('download')}"


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_wrong_method_returns_405(
    client: httpx.Client, mint_demo_token: TokenMinter, context: FileContext, method: str
) -> None:
    token = mint_demo_token([context.scope("download")])

    response = client.request(method, context.download_path(), headers=bearer(token))

    assert response.status_code == 405
    assert response.headers["Allow"] == ALLOWED_METHODS
    assert error_message(response) == (
        f"method {method} is not allowed on {context.download_path()}; allowed: {ALLOWED_METHODS}"
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("DELETE", "/api/v1/courses", id="delete-courses"),
        pytest.param("POST", "/health", id="post-health"),
        pytest.param("PATCH", "/api/v1/accounts/1/scopes", id="patch-scopes"),
    ],
)
def test_wrong_method_other_routes(
    client: httpx.Client, mint_demo_token: TokenMinter, method: str, path: str
) -> None:
    response = client.request(method, path, headers=bearer(mint_demo_token(FILES_TOKEN_SCOPES)))

    assert response.status_code == 405
    assert response.headers["Allow"] == ALLOWED_METHODS


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({}, "a bearer token is required", id="no-header"),
        pytest.param(
            {"Authorization": "Basic dXNlcjpwYXNz"},
            "the Authorization header must use the Bearer scheme",
            id="basic-scheme",
        ),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_missing_token_returns_401(
    client: httpx.Client, headers: dict[str, str], message: str, method: str
) -> None:
    response = client.request(method, COURSES.download_path(), headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == REALM_CHALLENGE
    if method == "GET":
        assert error_message(response) == message
    else:
        assert response.content == b""


@pytest.mark.parametrize("context", CONTEXTS)
def test_missing_token_every_context(client: httpx.Client, context: FileContext) -> None:
    response = client.get(context.download_path())

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == REALM_CHALLENGE


def _expired_token(secret: str) -> str:
    return mint_token(secret, FILES_TOKEN_SCOPES, expires_in=-60)


def _foreign_token(secret: str) -> str:
    return mint_token(secret[::-1] + "-other", FILES_TOKEN_SCOPES)


@pytest.mark.parametrize(
    ("make_token", "message"),
    [
        pytest.param(lambda _: "not-a-jwt", "the token is not a well-formed JWT", id="not-jwt"),
        pytest.param(_expired_token, "the token has expired", id="expired"),
        pytest.param(_foreign_token, "the token's signature is invalid", id="other-secret"),
        pytest.param(
            lambda _: "a,b",
            "the bearer token contains characters a token may not contain",
            id="bad-characters",
        ),
    ],
)
def test_invalid_token_returns_401(
    client: httpx.Client, demo_secret: str, make_token: Callable[[str], str], message: str
) -> None:
    response = client.get(COURSES.download_path(), headers=bearer(make_token(demo_secret)))

    assert response.status_code == 401
    assert error_message(response) == message
    assert response.headers["WWW-Authenticate"] == (
        f'{REALM_CHALLENGE}, error="invalid_token", error_description="{message}"'
    )


def test_empty_bearer_returns_401(client: httpx.Client) -> None:
    # h11 rejects a header value with trailing whitespace, so "Bearer" is sent alone.
    response = client.get(COURSES.download_path(), headers={"Authorization": "Bearer"})

    assert response.status_code == 401
    assert error_message(response) == "the bearer token is empty"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/v1/unknown", id="unknown"),
        pytest.param(f"/courses/3/files/{FILE_ID}", id="no-action"),
        pytest.param(f"/courses/3/files/{FILE_ID}/download/", id="trailing-slash"),
        pytest.param(f"/courses/3/files/{FILE_ID}/download.", id="empty-format"),
        pytest.param(f"/files/{FILE_ID}/download.pdf", id="files-format"),
        pytest.param(f"/sections/3/files/{FILE_ID}/download", id="unknown-context"),
    ],
)
def test_unmatched_path_returns_403(
    client: httpx.Client, mint_demo_token: TokenMinter, path: str
) -> None:
    decoded = unquote(path)

    response = client.get(path, headers=bearer(mint_demo_token(FILES_TOKEN_SCOPES)))

    assert response.status_code == 403
    assert error_message(response) == f"no route matches GET {decoded}, so no scope grants it"
    assert response.headers["WWW-Authenticate"].startswith(
        f'{REALM_CHALLENGE}, error="insufficient_scope"'
    )


def test_unmatched_path_without_token(client: httpx.Client) -> None:
    response = client.get("/api/v1/unknown")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == REALM_CHALLENGE


@pytest.mark.parametrize(
    ("path", "copies", "message"),
    [
        pytest.param(
            COURSES.download_path(),
            2,
            "send exactly one Authorization header",
            id="two-authorization",
        ),
        pytest.param(
            COURSES.download_path().replace("/download", "%2F6/download"),
            1,
            "the request path contains an encoded slash (%2F)",
            id="encoded-slash",
        ),
        # %0A decodes to a newline, which the middleware rejects before routing.
        pytest.param(
            COURSES.download_path("%0A"),
            1,
            "the request path contains an encoded control character (%0A)",
            id="control-character",
        ),
    ],
)
def test_malformed_request_returns_400(
    client: httpx.Client, mint_demo_token: TokenMinter, path: str, copies: int, message: str
) -> None:
    authorization = ("Authorization", f"Bearer {mint_demo_token(FILES_TOKEN_SCOPES)}")

    response = client.get(path, headers=[authorization] * copies)

    assert response.status_code == 400
    assert error_message(response) == message
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer not-a-jwt"}, id="invalid-token"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_health_is_public(client: httpx.Client, headers: dict[str, str], method: str) -> None:
    response = client.request(method, "/health", headers=headers)

    assert response.status_code == 200
    assert response.content == (b"ok" if method == "GET" else b"")
    assert "WWW-Authenticate" not in response.headers


# Websocket: the handshake is checked as a GET of the websocket route.


EVENTS_PATH = "/api/v1/courses/7/files/events"


def websocket_url(http_url: str, path: str = EVENTS_PATH) -> str:
    return http_url.replace("http://", "ws://", 1) + path


def open_websocket(url: str, headers: dict[str, str]) -> ClientConnection:
    # proxy=None keeps the connection on 127.0.0.1 whatever the environment configures.
    return connect(
        url,
        additional_headers=headers,
        proxy=None,
        open_timeout=REQUEST_TIMEOUT,
        close_timeout=REQUEST_TIMEOUT,
    )


def test_websocket_accepts_with_scope(demo_url: str, mint_demo_token: TokenMinter) -> None:
    token = mint_demo_token([EVENTS_SCOPE])

    with open_websocket(websocket_url(demo_url), bearer(token)) as websocket:
        message = websocket.recv(timeout=REQUEST_TIMEOUT)

    assert message == '{"event":"subscribed","course_id":"7"}'


@pytest.mark.parametrize(
    ("scopes", "path", "status", "message"),
    [
        pytest.param(
            FILES_TOKEN_SCOPES,
            EVENTS_PATH,
            403,
            f"the token lacks the scope {EVENTS_SCOPE}",
            id="without-scope",
        ),
        pytest.param(None, EVENTS_PATH, 401, "a bearer token is required", id="without-token"),
        pytest.param(
            [EVENTS_SCOPE],
            "/api/v1/courses/7/events",
            403,
            "no route matches WEBSOCKET /api/v1/courses/7/events, so no scope grants it",
            id="unmatched-path",
        ),
    ],
)
def test_websocket_refused_before_accept(
    demo_url: str,
    mint_demo_token: TokenMinter,
    scopes: Sequence[str] | None,
    path: str,
    status: int,
    message: str,
) -> None:
    headers = {} if scopes is None else bearer(mint_demo_token(scopes))

    with (
        pytest.raises(InvalidStatus) as refusal,
        open_websocket(websocket_url(demo_url, path), headers),
    ):
        pass

    response = refusal.value.response
    assert response.status_code == status
    assert response.headers["WWW-Authenticate"].startswith(REALM_CHALLENGE)
    assert response.body is not None
    assert bytes(response.body).decode() == f'{{"errors": [{{"message": "{message}"}}]}}'


# The `scopeguard demo` console script, run as a user would.


@dataclass(frozen=True)
class DemoCommand:
    """A running ``scopeguard demo`` subprocess and what its banner printed."""

    process: subprocess.Popen[bytes]
    banner: str
    base_url: str
    files_token: str
    courses_token: str
    stderr_path: Path


def demo_command_prefix() -> list[str]:
    """Return the ``scopeguard`` console script of this interpreter's environment.

    Falls back to ``python -m scopeguard.cli`` when the script is not installed beside
    the interpreter, which runs the same ``main``.
    """
    script = shutil.which("scopeguard", path=str(Path(sys.executable).parent))
    if script is not None:
        return [script]
    return [sys.executable, "-m", "scopeguard.cli"]


@contextlib.contextmanager
def run_demo_command(port: int, secret: str, output_dir: Path) -> Iterator[DemoCommand]:
    """Start ``scopeguard demo`` on ``port`` and yield it once ``/health`` returns 200.

    The process is killed on exit if it is still running, whatever the test did.
    """
    stdout_path = output_dir / "demo-stdout.txt"
    stderr_path = output_dir / "demo-stderr.txt"
    # "--secret=" keeps a secret that starts with "-" from reading as an option.
    command = [*demo_command_prefix(), "demo", "--port", str(port), f"--secret={secret}"]
    # pytest turns warnings into errors (pyproject.toml), so the subprocess does too.
    environment = {**os.environ, "PYTHONWARNINGS": "error"}
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        # The command is built from this environment's own script and fixed arguments.
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=environment)  # noqa: S603
        try:
            banner = _wait_for_banner(process, stdout_path, stderr_path)
            base_url = _banner_field(banner, r"Canvas file routes at (\S+)")
            _wait_until_serving(process, base_url, stderr_path)
            yield DemoCommand(
                process=process,
                banner=banner,
                base_url=base_url,
                files_token=_banner_field(banner, r"^\s*FILES_TOKEN=(\S+)$"),
                courses_token=_banner_field(banner, r"^\s*COURSES_TOKEN=(\S+)$"),
                stderr_path=stderr_path,
            )
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=CLI_STOP_TIMEOUT)


def _wait_for_banner(process: subprocess.Popen[bytes], stdout_path: Path, stderr_path: Path) -> str:
    deadline = time.monotonic() + CLI_START_TIMEOUT
    while time.monotonic() < deadline:
        banner = stdout_path.read_text()
        if "Press Ctrl+C to stop." in banner:
            return banner
        if process.poll() is not None:
            pytest.fail(
                f"scopeguard demo exited with status {process.returncode} before printing "
                f"its banner; stderr: {stderr_path.read_text()!r}"
            )
        time.sleep(0.05)
    pytest.fail(f"scopeguard demo printed no full banner within {CLI_START_TIMEOUT} s")


def _wait_until_serving(process: subprocess.Popen[bytes], base_url: str, stderr_path: Path) -> None:
    deadline = time.monotonic() + CLI_START_TIMEOUT
    with httpx.Client(base_url=base_url, trust_env=False, timeout=REQUEST_TIMEOUT) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"scopeguard demo exited with status {process.returncode}; "
                    f"stderr: {stderr_path.read_text()!r}"
                )
            try:
                if http.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    pytest.fail(f"scopeguard demo did not serve /health within {CLI_START_TIMEOUT} s")


def _banner_field(banner: str, pattern: str) -> str:
    match = re.search(pattern, banner, flags=re.MULTILINE)
    assert match is not None, f"no match for {pattern!r} in the banner:\n{banner}"
    return match.group(1)


def _stop_with_ctrl_c(process: subprocess.Popen[bytes]) -> int:
    """Send SIGINT, as Ctrl+C does, and return the exit status."""
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=CLI_STOP_TIMEOUT)


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT to the subprocess")
def test_cli_demo_tokens_work(free_tcp_port: int, demo_secret: str, tmp_path: Path) -> None:
    with run_demo_command(free_tcp_port, demo_secret, tmp_path) as demo:
        assert demo.base_url == f"http://127.0.0.1:{free_tcp_port}"
        with httpx.Client(base_url=demo.base_url, trust_env=False, timeout=REQUEST_TIMEOUT) as http:
            download = http.get("/courses/1/files/2/download", headers=bearer(demo.files_token))
            denied = http.get("/courses/1/files/2/download", headers=bearer(demo.courses_token))
            listed = http.get("/api/v1/courses", headers=bearer(demo.courses_token))

        status = _stop_with_ctrl_c(demo.process)
        stderr = demo.stderr_path.read_text()

    assert download.status_code == 200, download.text
    assert download.json()["subject"] == "file-reader"
    assert denied.status_code == 403
    assert error_message(denied) == (
        "the token lacks the scope url:GET|/courses/:course_id/files/:file_id/download"
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["subject"] == "course-lister"
    assert status == 0
    assert stderr == ""


def _curl_request(line: str, tokens: dict[str, str]) -> tuple[str, str, dict[str, str], int]:
    """Parse a banner line ``curl -i [-X METHOD] URL [-H HEADER]   # STATUS``.

    Returns the method, the URL, the headers with ``$NAME`` replaced by ``tokens[NAME]``
    and the status the comment promises.
    """
    command, _, comment = line.partition("#")
    method, url, headers = "GET", "", {}
    arguments = iter(shlex.split(command))
    assert next(arguments) == "curl"
    for argument in arguments:
        if argument == "-i":
            continue
        if argument == "-X":
            method = next(arguments)
        elif argument == "-H":
            name, _, value = next(arguments).partition(": ")
            for variable, token in tokens.items():
                value = value.replace(f"${variable}", token)
            headers[name] = value
        else:
            assert not argument.startswith("-"), f"unexpected curl option {argument!r} in {line!r}"
            url = argument
    return method, url, headers, int(comment.strip())


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT to the subprocess")
def test_cli_demo_banner_examples(free_tcp_port: int, demo_secret: str, tmp_path: Path) -> None:
    with run_demo_command(free_tcp_port, demo_secret, tmp_path) as demo:
        tokens = {"FILES_TOKEN": demo.files_token, "COURSES_TOKEN": demo.courses_token}
        examples = [line.strip() for line in demo.banner.splitlines() if "curl " in line]
        assert examples, demo.banner
        results = []
        with httpx.Client(trust_env=False, timeout=REQUEST_TIMEOUT) as http:
            for line in examples:
                method, url, headers, expected = _curl_request(line, tokens)
                assert url.startswith(demo.base_url + "/"), line
                response = http.request(method, url, headers=headers)
                results.append((line, expected, response.status_code))
        _stop_with_ctrl_c(demo.process)

    for line, expected, actual in results:
        assert actual == expected, f"{line!r} returned {actual}"


def test_cli_demo_any_free_port(demo_secret: str, tmp_path: Path) -> None:
    with run_demo_command(0, demo_secret, tmp_path) as demo:
        port = int(demo.base_url.rsplit(":", 1)[1])

    assert demo.base_url.startswith("http://127.0.0.1:")
    assert port != 0


def test_cli_demo_port_in_use(demo_secret: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [*demo_command_prefix(), "demo", "--port", str(port), f"--secret={demo_secret}"]
        # The command is built from this environment's own script and fixed arguments.
        result = subprocess.run(  # noqa: S603
            command, capture_output=True, text=True, timeout=CLI_START_TIMEOUT, check=False
        )

    assert result.returncode == 2
    assert "cannot listen on 127.0.0.1" in result.stderr
    assert "FILES_TOKEN" not in result.stdout

"""Tests of the ``scopeguard`` command line: ``token``, ``check`` and ``lint``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopeguard import GroupBy, JWTVerifier, ScopeCatalogueEndpoint, TokenInfo, load_routes
from scopeguard.cli import UsageError, main, request_path
from scopeguard.demo import route_table
from scopeguard.sources import load_source

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

DATA = Path(__file__).parent / "data"

SECRET = "0123456789abcdef0123456789abcdef"
OTHER_SECRET = "fedcba9876543210fedcba9876543210"

LIST = "url:GET|/api/v1/courses"
COURSE = "url:GET|/api/v1/courses/:course_id"
FILES = "url:GET|/api/v1/courses/:course_id/files"
SELF = "url:GET|/api/v1/courses/self"

ROUTES_TOML = """\
[[routes]]
method = "GET"
path = "/health"
public = true

[[routes]]
method = "GET"
path = "/api/v1/courses"

[[routes]]
method = "GET"
path = "/api/v1/courses/:course_id"

[[routes]]
method = "PUT"
path = "/api/v1/courses/:course_id"

[[routes]]
method = "GET"
path = "/api/v1/courses/:course_id/files"

# Declared after :course_id, so only most_specific precedence picks it for /courses/self.
[[routes]]
method = "GET"
path = "/api/v1/courses/self"
"""

RESULT_KEYS = {"allowed", "status", "scope", "route", "reason"}


@pytest.fixture
def routes_file(tmp_path: Path) -> Path:
    path = tmp_path / "routes.toml"
    path.write_text(ROUTES_TOML, encoding="utf-8")
    return path


def verify(token: str, **options: Any) -> TokenInfo:
    verifier = JWTVerifier(key=options.pop("key", SECRET), algorithms=["HS256"], **options)
    return asyncio.run(verifier.verify(token))


# --- token --------------------------------------------------------------------------------


def test_token_with_secret_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCOPEGUARD_SECRET", raising=False)

    status = main(
        ["token", "--secret", SECRET, "--scope", COURSE, "--scope", LIST, "--expires-in", "120"]
    )
    output = capsys.readouterr()
    info = verify(output.out.strip())

    assert status == 0
    assert output.out.count("\n") == 1
    assert output.err == ""
    assert info.scopes == frozenset({COURSE, LIST})
    assert info.subject == "dev-user"
    assert info.claims["exp"] - info.claims["iat"] == 120


def test_token_with_secret_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCOPEGUARD_SECRET", SECRET)

    status = main(["token", "--scope", COURSE])
    info = verify(capsys.readouterr().out.strip())

    assert status == 0
    assert info.scopes == frozenset({COURSE})


def test_token_option_overrides_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCOPEGUARD_SECRET", OTHER_SECRET)

    main(["token", "--secret", SECRET, "--scope", COURSE])
    info = verify(capsys.readouterr().out.strip())

    assert info.scopes == frozenset({COURSE})


def test_token_claims_options(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "s" * 64

    status = main(
        [
            "token",
            "--secret", secret,
            "--algorithm", "HS512",
            "--subject", "teacher-7",
            "--audience", "canvas-api",
            "--issuer", "https://issuer.test",
        ]
    )  # fmt: skip
    verifier = JWTVerifier(
        key=secret, algorithms=["HS512"], audience="canvas-api", issuer="https://issuer.test"
    )
    info = asyncio.run(verifier.verify(capsys.readouterr().out.strip()))

    assert status == 0
    assert info.subject == "teacher-7"
    assert info.scopes == frozenset()


@pytest.mark.parametrize(
    ("scope", "warning"),
    [
        pytest.param("url:get|/api/v1/courses", "is invalid (the verb must be upper", id="lower"),
        pytest.param("url:GET|api/v1/courses", "must start with '/'", id="relative-path"),
        pytest.param("GET|/api/v1/courses", "has no 'url:' prefix", id="no-prefix"),
        pytest.param("url:GET|/api/v1/courses/{id}", "uses Starlette notation", id="starlette"),
    ],
)
def test_token_warns_on_scope(capsys: pytest.CaptureFixture[str], scope: str, warning: str) -> None:
    status = main(["token", "--secret", SECRET, "--scope", scope])
    output = capsys.readouterr()

    assert status == 0
    assert f"scopeguard: warning: scope {scope!r}" in output.err
    assert warning in output.err
    assert verify(output.out.strip()).scopes == frozenset({scope})


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param("profile", id="opaque"),
        pytest.param("/auth/userinfo", id="opaque-path"),
        pytest.param("url:GET|/api/v1/courses/:course_id", id="route-scope"),
    ],
)
def test_token_quiet_on_valid_scope(capsys: pytest.CaptureFixture[str], scope: str) -> None:
    status = main(["token", "--secret", SECRET, "--scope", scope])

    assert status == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param("url:GET|/a url:GET|/b", id="two-in-one"),
        pytest.param("url:GET|/a\t", id="tab"),
        pytest.param("", id="empty"),
    ],
)
def test_token_rejects_whitespace_scope(capsys: pytest.CaptureFixture[str], scope: str) -> None:
    status = main(["token", "--secret", SECRET, "--scope", scope])
    output = capsys.readouterr()

    assert status == 2
    assert output.out == ""
    assert "pass each scope with its own --scope" in output.err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param([], "pass --secret or set SCOPEGUARD_SECRET", id="no-secret"),
        pytest.param(["--secret", ""], "pass --secret or set SCOPEGUARD_SECRET", id="empty-secret"),
        pytest.param(["--secret", SECRET, "--expires-in", "0"], "--expires-in must be", id="zero"),
        pytest.param(["--secret", SECRET, "--expires-in", "-5"], "got -5", id="negative"),
        pytest.param(["--secret", "short"], "too short for HS256", id="short-secret"),
        pytest.param(
            ["--secret", SECRET, "--algorithm", "HS512"],
            "too short for HS512",
            id="short-for-hs512",
        ),
    ],
)
def test_token_usage_error(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("SCOPEGUARD_SECRET", raising=False)

    status = main(["token", *arguments])
    output = capsys.readouterr()

    assert status == 2
    assert output.out == ""
    assert output.err.startswith("scopeguard token: error: ")
    assert message in output.err


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(["--expires-in", "soon"], id="expires-in-text"),
        pytest.param(["--algorithm", "RS256"], id="algorithm-rs256"),
        pytest.param(["--unknown"], id="unknown-option"),
    ],
)
def test_token_argument_error(capsys: pytest.CaptureFixture[str], arguments: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["token", "--secret", SECRET, *arguments])

    assert raised.value.code == 2
    assert capsys.readouterr().out == ""


# --- check --------------------------------------------------------------------------------


def _result(
    allowed: bool, status: int, scope: str | None, route: str | None, reason: str
) -> dict[str, Any]:
    return {"allowed": allowed, "status": status, "scope": scope, "route": route, "reason": reason}


COURSE_ROUTE = "/api/v1/courses/:course_id"
ALLOWED_COURSE = _result(True, 200, COURSE, COURSE_ROUTE, "allowed")


@pytest.mark.parametrize(
    ("arguments", "exit_status", "expected"),
    [
        pytest.param(
            ["--scope", COURSE, "GET", "/api/v1/courses/7"], 0, ALLOWED_COURSE, id="allowed"
        ),
        pytest.param(
            ["--scope", LIST, "--scope", COURSE, "GET", "/api/v1/courses/7"], 0, ALLOWED_COURSE,
            id="allowed-among-scopes",
        ),
        pytest.param(
            ["--scope", LIST, "GET", "/api/v1/courses/7"], 1,
            _result(False, 403, COURSE, COURSE_ROUTE, f"the token lacks the scope {COURSE}"),
            id="insufficient-scope",
        ),
        pytest.param(
            ["GET", "/api/v1/courses/7"], 1,
            _result(False, 403, COURSE, COURSE_ROUTE, f"the token lacks the scope {COURSE}"),
            id="token-without-scopes",
        ),
        pytest.param(
            ["--no-token", "GET", "/api/v1/courses/7"], 1,
            _result(False, 401, COURSE, COURSE_ROUTE, "a bearer token is required"),
            id="no-token",
        ),
        pytest.param(
            ["--no-token", "GET", "/health"], 0,
            _result(True, 200, "url:GET|/health", "/health", "public route"),
            id="public-route",
        ),
        pytest.param(
            ["--scope", LIST, "GET", "/api/v1/unknown"], 1,
            _result(
                False, 403, None, None,
                "no route matches GET /api/v1/unknown, so no scope grants it",
            ),
            id="no-route",
        ),
        pytest.param(
            ["--scope", COURSE, "DELETE", "/api/v1/courses/7"], 1,
            _result(
                False, 405, None, None,
                "method DELETE is not allowed on /api/v1/courses/7; allowed: GET, HEAD, PUT",
            ),
            id="method-not-allowed",
        ),
        pytest.param(
            ["--scope", COURSE, "get", "/api/v1/courses/7"], 1,
            _result(
                False, 405, None, None,
                "method get is not allowed on /api/v1/courses/7; allowed: GET, HEAD, PUT",
            ),
            id="lower-case-method",
        ),
        pytest.param(
            ["--scope", COURSE, "HEAD", "/api/v1/courses/7"], 0, ALLOWED_COURSE, id="head"
        ),
        pytest.param(
            ["--scope", COURSE, "WEBSOCKET", "/api/v1/courses/7"], 0, ALLOWED_COURSE,
            id="websocket-checked-as-get",
        ),
        pytest.param(
            ["--scope", COURSE, "GET", "/api/v1/courses/7?include[]=term&page=2"], 0,
            ALLOWED_COURSE, id="query-dropped",
        ),
        pytest.param(
            ["--scope", COURSE, "GET", "/api/v1/courses/%37"], 0, ALLOWED_COURSE,
            id="percent-decoded",
        ),
        pytest.param(
            ["--scope", COURSE, "GET", "/api/v1/courses/%C3%A9t%C3%A9"], 0, ALLOWED_COURSE,
            id="utf8-decoded",
        ),
        pytest.param(
            ["--scope", FILES, "GET", "/api/v1/courses/7%2Ffiles"], 1,
            _result(
                False, 400, None, None, "the request path contains an encoded slash (%2F)"
            ),
            id="encoded-slash-rejected",
        ),
        pytest.param(
            ["--scope", COURSE, "GET", "/api/v1/courses/7%3Fx=1"], 0, ALLOWED_COURSE,
            id="encoded-question-mark",
        ),
        pytest.param(
            ["--scope", COURSE, "GET", "/api/v1/courses/7%0A"], 1,
            _result(
                False, 400, None, None,
                "the request path contains an encoded control character (%0A)",
            ),
            id="encoded-newline",
        ),
        pytest.param(
            ["--scope", COURSE, "GET", "/api/v1/courses/7/../7"], 1,
            _result(False, 400, None, None, "the request path contains a dot segment (..)"),
            id="dot-segment",
        ),
        pytest.param(
            ["--scope", COURSE, "GET", "/api/v1/courses/7?_method=DELETE"], 1,
            _result(
                False, 400, None, None,
                "method override headers and _method parameters are not accepted; send the "
                "request with the method it needs",
            ),
            id="method-override",
        ),
        pytest.param(
            ["--scope", SELF, "GET", "/api/v1/courses/self"], 1,
            _result(False, 403, COURSE, COURSE_ROUTE, f"the token lacks the scope {COURSE}"),
            id="file-precedence",
        ),
        pytest.param(
            ["--precedence", "most_specific", "--scope", SELF, "GET", "/api/v1/courses/self"], 0,
            _result(True, 200, SELF, "/api/v1/courses/self", "allowed"),
            id="precedence-override",
        ),
    ],
)  # fmt: skip
def test_check(
    capsys: pytest.CaptureFixture[str],
    routes_file: Path,
    arguments: list[str],
    exit_status: int,
    expected: dict[str, Any],
) -> None:
    status = main(["check", "--routes", str(routes_file), *arguments])
    output = capsys.readouterr()
    lines = output.out.splitlines()

    assert status == exit_status
    assert len(lines) == 1
    assert json.loads(lines[0]) == expected
    assert set(json.loads(lines[0])) == RESULT_KEYS


@pytest.mark.parametrize(
    ("scope", "warning"),
    [
        pytest.param("url:GET|api/v1/courses", "must start with '/'", id="relative-path"),
        pytest.param("url:GET|/api/v1/courses/7", "matches no route of the table", id="concrete"),
        pytest.param("url:GET|/api/v1/courses/", "matches no route of the table", id="slash"),
    ],
)
def test_check_warns_on_scope(
    capsys: pytest.CaptureFixture[str], routes_file: Path, scope: str, warning: str
) -> None:
    status = main(["check", "--routes", str(routes_file), "--scope", scope, "GET", "/"])
    output = capsys.readouterr()

    assert status == 1
    assert f"scopeguard: warning: scope {scope!r}" in output.err
    assert warning in output.err
    assert json.loads(output.out)["status"] == 403


@pytest.mark.parametrize(
    ("scope", "exit_status"),
    [
        pytest.param("url:WEBSOCKET|/live/:room", 0, id="websocket-scope"),
        pytest.param("url:GET|/live/:room", 1, id="get-scope"),
    ],
)
def test_check_websocket_scope_method(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, scope: str, exit_status: int
) -> None:
    routes = tmp_path / "live.toml"
    routes.write_text(
        '[[routes]]\nmethod = "GET"\npath = "/live/:room"\n\n'
        '[[routes]]\nmethod = "WEBSOCKET"\npath = "/live/:room"\nscope_method = "WEBSOCKET"\n',
        encoding="utf-8",
    )

    status = main(["check", "--routes", str(routes), "--scope", scope, "WEBSOCKET", "/live/7"])

    assert status == exit_status
    assert json.loads(capsys.readouterr().out)["scope"] == "url:WEBSOCKET|/live/:room"


@pytest.mark.parametrize(
    ("arguments", "exit_status", "lines"),
    [
        pytest.param(
            ["--scope", COURSE, "GET", "/api/v1/courses/7?page=2"],
            0,
            [
                "GET /api/v1/courses/7?page=2: allowed",
                f"  route matched: GET {COURSE_ROUTE}",
                f"  scope required: {COURSE}",
                f"  scopes granted: {COURSE}",
                "  reason: allowed",
            ],
            id="allowed",
        ),
        pytest.param(
            ["--no-token", "GET", "/api/v1/courses/7"],
            1,
            [
                "GET /api/v1/courses/7: denied with 401 (missing_token)",
                f"  route matched: GET {COURSE_ROUTE}",
                f"  scope required: {COURSE}",
                "  scopes granted: none",
                "  reason: a bearer token is required",
            ],
            id="no-token",
        ),
    ],
)
def test_check_explain(
    capsys: pytest.CaptureFixture[str],
    routes_file: Path,
    arguments: list[str],
    exit_status: int,
    lines: list[str],
) -> None:
    status = main(["check", "--routes", str(routes_file), "--explain", *arguments])

    assert status == exit_status
    assert capsys.readouterr().out.splitlines() == lines


def test_check_warns_on_lower_case_method(
    capsys: pytest.CaptureFixture[str], routes_file: Path
) -> None:
    status = main(["check", "--routes", str(routes_file), "get", "/api/v1/courses"])
    output = capsys.readouterr()

    assert status == 1
    assert "method 'get' is not upper case" in output.err
    assert json.loads(output.out)["status"] == 405


@pytest.mark.parametrize(
    ("file_name", "file_text", "target", "message"),
    [
        pytest.param(None, None, "/a", "cannot read the route file", id="missing-file"),
        pytest.param("routes.toml", "[[routes]\n", "/a", "invalid TOML", id="bad-toml"),
        pytest.param("routes.json", "{", "/a", "invalid JSON", id="bad-json"),
        pytest.param(
            "routes.json", '[{"method": "GET", "path": "/a", "verb": "GET"}]', "/a",
            "route 1: unknown key 'verb'", id="unknown-key",
        ),
        pytest.param(
            "routes.yaml", "routes: []", "/a", "not an OpenAPI document", id="yaml-not-openapi"
        ),
        pytest.param("routes.toml", ROUTES_TOML, "api/v1", "must start with '/'", id="relative"),
        pytest.param(
            "routes.toml", ROUTES_TOML, "http://canvas.test/api/v1/courses", "must start with '/'",
            id="absolute-url",
        ),
        pytest.param("routes.toml", ROUTES_TOML, "", "must start with '/'", id="empty-target"),
        pytest.param("routes.toml", ROUTES_TOML, "/api/v1/a b", "percent-encode it", id="space"),
        pytest.param("routes.toml", ROUTES_TOML, "/api/v1/é", "percent-encode it", id="non-ascii"),
        pytest.param("routes.toml", ROUTES_TOML, "/api/v1/a\tb", "percent-encode it", id="tab"),
        pytest.param("routes.toml", ROUTES_TOML, "/api/v1/a\x7f", "percent-encode it", id="delete"),
    ],
)  # fmt: skip
def test_check_usage_error(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    file_name: str | None,
    file_text: str | None,
    target: str,
    message: str,
) -> None:
    path = tmp_path / (file_name or "absent.toml")
    if file_text is not None:
        path.write_text(file_text, encoding="utf-8")

    status = main(["check", "--routes", str(path), "GET", target])
    output = capsys.readouterr()

    assert status == 2
    assert output.out == ""
    assert output.err.startswith("scopeguard check: error: ")
    assert message in output.err


def test_check_error_names_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "routes.toml"
    path.write_text('[[routes]]\nmethod = "GET"\n', encoding="utf-8")

    main(["check", "--routes", str(path), "GET", "/a"])

    assert f"{path}: route 1: missing 'path'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(["check", "GET", "/a"], id="no-routes-option"),
        pytest.param(["check", "--routes", "r.toml", "GET"], id="no-target"),
        pytest.param(
            ["check", "--routes", "r.toml", "--precedence", "last", "GET", "/a"],
            id="bad-precedence",
        ),
        pytest.param([], id="no-command"),
        pytest.param(["serve"], id="unknown-command"),
    ],
)  # fmt: skip
def test_argument_error(capsys: pytest.CaptureFixture[str], arguments: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(arguments)

    assert raised.value.code == 2
    assert capsys.readouterr().out == ""


# --- request_path -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param("/", "/", id="root"),
        pytest.param("/api/v1/courses?page=2", "/api/v1/courses", id="query"),
        pytest.param("/a?b?c", "/a", id="two-question-marks"),
        pytest.param("/a%3Fb", "/a?b", id="encoded-question-mark"),
        pytest.param("/a%2Fb", "/a/b", id="encoded-slash"),
        pytest.param("/a%252F", "/a%2F", id="decoded-once"),
        pytest.param("/%C3%A9", "/é", id="utf8"),
        pytest.param("/%FF", "/\ufffd", id="invalid-utf8"),
        pytest.param("/a%0Ab", "/a\nb", id="encoded-newline"),
        pytest.param("/a+b", "/a+b", id="plus-kept"),
        pytest.param("/a#frag", "/a#frag", id="hash-kept"),
    ],
)
def test_request_path(target: str, expected: str) -> None:
    assert request_path(target) == expected


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("a", id="relative"),
        pytest.param("*", id="asterisk"),
        pytest.param("/a b", id="space"),
        pytest.param("/é", id="non-ascii"),
        pytest.param("/a\x00", id="nul"),
    ],
)
def test_request_path_rejects(target: str) -> None:
    with pytest.raises(UsageError, match="TARGET"):
        request_path(target)


paths = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)


@given(path=paths.map(lambda text: "/" + text), query=st.text(alphabet="a=&[]%20", max_size=10))
def test_request_path_inverts_quote(path: str, query: str) -> None:
    target = quote(path, safe="/") + "?" + query

    assert request_path(target) == path


# --- The installed console script ---------------------------------------------------------


def _console_script() -> Path:
    script = Path(sys.executable).with_name("scopeguard")
    assert script.is_file(), f"{script} is missing; install the package with pip install -e ."
    return script


def test_console_script_token_and_check(routes_file: Path) -> None:
    script = _console_script()
    environment = {**os.environ, "SCOPEGUARD_SECRET": SECRET}

    token = subprocess.run(  # noqa: S603 - runs the project's own console script
        [str(script), "token", "--scope", COURSE],
        capture_output=True, text=True, env=environment, timeout=30, check=False,
    )  # fmt: skip
    allowed = subprocess.run(  # noqa: S603
        [str(script), "check", "--routes", str(routes_file), "--scope", COURSE, "GET",
         "/api/v1/courses/7"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    denied = subprocess.run(  # noqa: S603
        [str(script), "check", "--routes", str(routes_file), "GET", "/api/v1/courses/7"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    usage = subprocess.run(  # noqa: S603
        [str(script), "check", "--routes", str(routes_file), "GET", "api"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip

    assert token.returncode == 0
    assert verify(token.stdout.strip()).scopes == frozenset({COURSE})
    assert allowed.returncode == 0
    assert json.loads(allowed.stdout) == ALLOWED_COURSE
    assert denied.returncode == 1
    assert json.loads(denied.stdout)["status"] == 403
    assert usage.returncode == 2
    assert usage.stdout == ""


def test_check_no_token_with_scope(capsys: pytest.CaptureFixture[str], routes_file: Path) -> None:
    arguments = ["check", "--routes", str(routes_file), "--no-token", "--scope", "x", "GET", "/"]

    status = main(arguments)
    output = capsys.readouterr()

    assert status == 2
    assert "--no-token and --scope exclude each other" in output.err


# --- lint ---------------------------------------------------------------------------------

CLEAN_TOML = """\
[[routes]]
method = "GET"
path = "/api/v1/courses"

[[routes]]
method = "GET"
path = "/api/v1/courses/:course_id"
"""

SHADOWED_JSON = json.dumps(
    [
        {"method": "GET", "path": "/api/v1/jobs2/:bucket"},
        {"method": "GET", "path": "/api/v1/jobs2/clusters"},
    ]
)

OVERLAP_TSV = "method\tpath\nGET\t/api/v1/users/self\nGET\t/api/v1/users/:id\n"

CANVAS_ROUTES = Path(__file__).parent / "data" / "canvas_api_routes.tsv"

SHADOWED_LINE = (
    "error: shadowed-route: GET /api/v1/jobs2/clusters (route 2) is never reached, because "
    "GET /api/v1/jobs2/:bucket (route 1), declared earlier, matches every path it matches, "
    "such as /api/v1/jobs2/clusters"
)
OVERLAP_LINE = (
    "warning: overlapping-routes: GET /api/v1/users/:id (route 2) shares paths with 1 earlier "
    "route with another scope, which takes precedence on those paths: GET /api/v1/users/self "
    "(route 1) on /api/v1/users/self"
)


@pytest.fixture
def lint_files(tmp_path: Path) -> Path:
    files = {
        "clean.toml": CLEAN_TOML,
        "shadowed.json": SHADOWED_JSON,
        "overlap.tsv": OVERLAP_TSV,
        "fewer.toml": '[[routes]]\nmethod = "GET"\npath = "/api/v1/courses"\n',
        "scopes.txt": f"{LIST}\n\nurl:GET|/api/v1/courses/7  profile\n",
        "scopes.json": json.dumps([LIST, "url:get|/api/v1/courses", "GET|/api/v1/courses"]),
        "good-scopes.json": json.dumps([LIST, COURSE, "profile"]),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def unverified_token(claims: dict[str, Any]) -> str:
    """Sign ``claims`` with a key that lint is never given, because lint reads tokens
    without verifying them."""
    return str(jwt.encode(claims, OTHER_SECRET, algorithm="HS256"))


@pytest.mark.parametrize(
    ("arguments", "exit_status", "lines"),
    [
        pytest.param(["clean.toml"], 0, ["0 errors, 0 warnings"], id="clean"),
        pytest.param(
            ["shadowed.json"], 1, [SHADOWED_LINE, "1 error, 0 warnings"], id="shadowed"
        ),
        pytest.param(["overlap.tsv"], 0, [OVERLAP_LINE, "0 errors, 1 warning"], id="overlap"),
        pytest.param(
            ["clean.toml", "--against", "clean.toml"], 0, ["0 errors, 0 warnings"],
            id="against-same",
        ),
        pytest.param(
            ["clean.toml", "--against", "fewer.toml"], 1,
            [
                f"error: missing-route: {COURSE} (GET /api/v1/courses/:course_id) is in "
                "clean.toml, but no route of fewer.toml has it",
                "1 error, 0 warnings",
            ],
            id="against-fewer",
        ),
        pytest.param(
            ["fewer.toml", "--against", "clean.toml"], 1,
            [
                f"error: missing-route: {COURSE} (GET /api/v1/courses/:course_id) is in "
                "clean.toml, but no route of fewer.toml has it",
                "1 error, 0 warnings",
            ],
            id="against-more",
        ),
        pytest.param(
            ["clean.toml", "--against", "overlap.tsv"], 1,
            [
                f"error: missing-route: {LIST} (GET /api/v1/courses) is in clean.toml, but no "
                "route of overlap.tsv has it",
                f"error: missing-route: {COURSE} (GET /api/v1/courses/:course_id) is in "
                "clean.toml, but no route of overlap.tsv has it",
                "error: missing-route: url:GET|/api/v1/users/self (GET /api/v1/users/self) is "
                "in overlap.tsv, but no route of clean.toml has it",
                "error: missing-route: url:GET|/api/v1/users/:id (GET /api/v1/users/:id) is in "
                "overlap.tsv, but no route of clean.toml has it",
                "4 errors, 0 warnings",
            ],
            id="against-both-directions",
        ),
        pytest.param(
            ["clean.toml", "--scopes", "scopes.txt"], 1,
            [
                "error: unknown-scope: scope 'url:GET|/api/v1/courses/7' from scopes.txt "
                "matches no route of the table, so it grants nothing; GET /api/v1/courses/7 "
                f"resolves to GET /api/v1/courses/:course_id, whose scope is {COURSE}",
                "1 error, 0 warnings",
            ],
            id="scopes-lines",
        ),
        pytest.param(
            ["clean.toml", "--scopes", "scopes.json"], 1,
            [
                "error: invalid-scope: scope 'url:get|/api/v1/courses' from scopes.json is "
                "invalid (the verb must be upper case: 'GET'), so it grants no route",
                "warning: unprefixed-scope: scope 'GET|/api/v1/courses' from scopes.json has no "
                "'url:' prefix, so it is an opaque scope and grants no route; write "
                f"'{LIST}'",
                "1 error, 1 warning",
            ],
            id="scopes-json",
        ),
        pytest.param(
            ["clean.toml", "--scopes", "good-scopes.json"], 0, ["0 errors, 0 warnings"],
            id="scopes-all-known",
        ),
        pytest.param(
            ["clean.toml", "--token", unverified_token({"scope": f"{COURSE} profile", "exp": 1})],
            0, ["0 errors, 0 warnings"], id="token-expired-and-unverified",
        ),
        pytest.param(
            ["clean.toml", "--token", unverified_token({"scp": [SELF, LIST]})], 1,
            [
                f"error: unknown-scope: scope '{SELF}' from the token matches no route of the "
                "table, so it grants nothing; GET /api/v1/courses/self resolves to GET "
                f"/api/v1/courses/:course_id, whose scope is {COURSE}",
                "1 error, 0 warnings",
            ],
            id="token-scp-list",
        ),
        pytest.param(
            ["clean.toml", "--token", unverified_token({"scopes": ["url:GET|/nowhere"]}),
             "--scopes", "good-scopes.json"], 1,
            [
                "error: unknown-scope: scope 'url:GET|/nowhere' from the token matches no "
                "route of the table, so it grants nothing",
                "1 error, 0 warnings",
            ],
            id="token-and-scopes",
        ),
    ],
)  # fmt: skip
def test_lint(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    lint_files: Path,
    arguments: list[str],
    exit_status: int,
    lines: list[str],
) -> None:
    monkeypatch.chdir(lint_files)

    status = main(["lint", *arguments])
    output = capsys.readouterr()

    assert status == exit_status
    assert output.out.splitlines() == lines
    assert output.err == ""


def test_lint_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, lint_files: Path
) -> None:
    (lint_files / "jobs.txt").write_text("url:GET|/api/v1/jobs2/1\n", encoding="utf-8")
    monkeypatch.chdir(lint_files)

    status = main(["lint", "shadowed.json", "--scopes", "jobs.txt", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    shadowed, unknown = report["findings"]

    assert status == 1
    assert set(report) == {"errors", "warnings", "findings"}
    assert report["errors"] == 2
    assert report["warnings"] == 0
    assert shadowed == {
        "severity": "error",
        "code": "shadowed-route",
        "message": SHADOWED_LINE.removeprefix("error: shadowed-route: "),
        "routes": [
            {
                "method": "GET",
                "path": "/api/v1/jobs2/clusters",
                "host": None,
                "scope": "url:GET|/api/v1/jobs2/clusters",
            },
            {
                "method": "GET",
                "path": "/api/v1/jobs2/:bucket",
                "host": None,
                "scope": "url:GET|/api/v1/jobs2/:bucket",
            },
        ],
        "paths": ["/api/v1/jobs2/clusters"],
        "scope": None,
    }
    assert unknown["code"] == "unknown-scope"
    assert unknown["scope"] == "url:GET|/api/v1/jobs2/1"
    assert unknown["routes"] == []


def test_lint_canvas_data(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["lint", str(CANVAS_ROUTES)])
    lines = capsys.readouterr().out.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]

    assert status == 1
    assert len(errors) == 2
    assert errors[0].startswith("error: shadowed-route: GET /api/v1/jobs2/clusters (route 1291)")
    assert errors[1].startswith("error: shadowed-route: GET /api/v1/jobs2/:id (route 1292)")
    assert lines[-1] == "2 errors, 55 warnings"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(["absent.toml"], "cannot read the route file", id="missing-file"),
        pytest.param(["routes.xml"], "unknown route file type '.xml'", id="unknown-type"),
        pytest.param(
            ["clean.toml", "--against", "absent.json"], "absent.json: cannot read",
            id="missing-against",
        ),
        pytest.param(
            ["clean.toml", "--scopes", "absent.txt"], "--scopes absent.txt: cannot read the file",
            id="missing-scopes",
        ),
        pytest.param(
            ["clean.toml", "--scopes", "bad.json"], "--scopes bad.json: invalid JSON",
            id="scopes-bad-json",
        ),
        pytest.param(
            ["clean.toml", "--scopes", "object.json"], "must be a list of strings",
            id="scopes-json-object",
        ),
        pytest.param(
            ["clean.toml", "--scopes", "spaces.json"],
            "scope 'a b' is empty or contains whitespace", id="scopes-json-whitespace",
        ),
        pytest.param(
            ["clean.toml", "--token", "not-a-jwt"], "--token is not a readable JWT", id="token"
        ),
        pytest.param(
            ["clean.toml", "--token", unverified_token({"sub": "x"})],
            "--token has none of the claims scope, scp, scopes", id="token-without-scopes",
        ),
        pytest.param(
            ["clean.toml", "--token", unverified_token({"scope": 7})],
            "--token: the 'scope' claim must be a space-separated string", id="token-bad-claim",
        ),
        pytest.param(
            ["missing_module_for_lint:app"], "module 'missing_module_for_lint' not found",
            id="module-not-found",
        ),
    ],
)  # fmt: skip
def test_lint_usage_error(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    lint_files: Path,
    arguments: list[str],
    message: str,
) -> None:
    (lint_files / "bad.json").write_text("[", encoding="utf-8")
    (lint_files / "object.json").write_text('{"scopes": []}', encoding="utf-8")
    (lint_files / "spaces.json").write_text('["a b"]', encoding="utf-8")
    monkeypatch.chdir(lint_files)

    status = main(["lint", *arguments])
    output = capsys.readouterr()

    assert status == 2
    assert output.out == ""
    assert output.err.startswith("scopeguard lint: error: ")
    assert message in output.err


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param([], id="no-source"),
        pytest.param(["a.toml", "--format", "xml"], id="bad-format"),
        pytest.param(["a.toml", "b.toml"], id="two-sources"),
    ],
)
def test_lint_argument_error(capsys: pytest.CaptureFixture[str], arguments: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["lint", *arguments])

    assert raised.value.code == 2
    assert capsys.readouterr().out == ""


# --- lint: module:attribute sources --------------------------------------------------------

APP_MODULE = """\
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route as StarletteRoute
from starlette.routing import WebSocketRoute

from scopeguard import JWTVerifier, Route, RouteTable, ScopeGuardMiddleware


async def show(request):
    return PlainTextResponse("user")


app = Starlette(
    routes=[
        StarletteRoute("/users/{user_id}", show),
        StarletteRoute("/users/me", show),
        StarletteRoute("/files/{file_id:int}", show, methods=["GET", "DELETE"]),
    ]
)
table = RouteTable([Route("GET", "/users/:user_id"), Route("GET", "/users/me")])
same_table = RouteTable([Route("GET", "/users/{user_id}"), Route("GET", "/users/me")])
settings = {"table": table}
number = 7


async def live(websocket):
    await websocket.close()


live_routes = [StarletteRoute("/live/{room}", show), WebSocketRoute("/live/{room}", live)]
verifier = JWTVerifier(key="cli-test-secret-0123456789abcdef", algorithms=["HS256"])
bare = Starlette(routes=live_routes)
guarded = ScopeGuardMiddleware(
    Starlette(routes=live_routes), verifier=verifier, websocket_scope_method="WEBSOCKET"
)
wrapped = CORSMiddleware(guarded, allow_origins=["https://app.example.test"])
added = Starlette(
    routes=live_routes,
    middleware=[
        Middleware(ScopeGuardMiddleware, verifier=verifier, websocket_scope_method="WEBSOCKET")
    ],
)
explicit = ScopeGuardMiddleware(
    Starlette(routes=live_routes), routes=[Route("GET", "/live/:room")], verifier=verifier
)
"""


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Write an app module to a fresh directory, make it the current one and yield the
    module's name, which is unique per test because imported modules are cached."""
    name = f"lint_app_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(APP_MODULE, encoding="utf-8")
    (tmp_path / "broken_module_for_lint.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.chdir(tmp_path)
    yield name
    sys.modules.pop(name, None)
    sys.modules.pop("broken_module_for_lint", None)


def test_lint_module_route_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, app_module: str
) -> None:
    status = main(["lint", f"{app_module}:table"])
    output = capsys.readouterr()

    assert status == 1
    assert output.out.startswith("error: shadowed-route: GET /users/me (route 2)")
    assert output.err == ""
    assert str(tmp_path) not in sys.path


def test_lint_module_dotted_attribute(capsys: pytest.CaptureFixture[str], app_module: str) -> None:
    # settings is a dict, so "settings.table" is not an attribute path to the table.
    status = main(["lint", f"{app_module}:settings.table"])

    assert status == 2
    assert "has no attribute 'settings.table'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        pytest.param("nothing", "has no attribute 'nothing'", id="missing-attribute"),
        pytest.param(
            "number", "names an object of type int, which is neither an ASGI app nor",
            id="not-an-app",
        ),
    ],
)  # fmt: skip
def test_lint_module_usage_error(
    capsys: pytest.CaptureFixture[str], app_module: str, attribute: str, message: str
) -> None:
    status = main(["lint", f"{app_module}:{attribute}"])
    output = capsys.readouterr()

    assert status == 2
    assert output.out == ""
    assert message in output.err


def test_lint_module_import_fails(capsys: pytest.CaptureFixture[str], app_module: str) -> None:
    status = main(["lint", "broken_module_for_lint:app"])
    error = capsys.readouterr().err

    assert status == 2
    assert "importing module 'broken_module_for_lint' failed: RuntimeError: boom" in error


@pytest.mark.parametrize(
    ("attribute", "scopes"),
    [
        pytest.param("bare", ["url:GET|/live/:room"], id="bare-app"),
        pytest.param("guarded", ["url:GET|/live/:room", "url:WEBSOCKET|/live/:room"], id="guarded"),
        pytest.param("wrapped", ["url:GET|/live/:room", "url:WEBSOCKET|/live/:room"], id="wrapped"),
        pytest.param("added", ["url:GET|/live/:room", "url:WEBSOCKET|/live/:room"], id="added"),
        pytest.param("explicit", ["url:GET|/live/:room"], id="explicit-routes"),
    ],
)
def test_scopes_of_guarded_app(
    capsys: pytest.CaptureFixture[str], app_module: str, attribute: str, scopes: list[str]
) -> None:
    """An app behind ScopeGuardMiddleware lists the scopes that middleware checks."""
    status = main(["scopes", "--format", "json", f"{app_module}:{attribute}"])
    listed = json.loads(capsys.readouterr().out)

    assert status == 0
    assert sorted(entry["scope"] for entry in listed) == scopes


def test_lint_app_source(capsys: pytest.CaptureFixture[str], app_module: str) -> None:
    status = main(["lint", f"{app_module}:app"])
    lines = capsys.readouterr().out.splitlines()

    assert status == 1
    assert lines[0].startswith("error: shadowed-route: GET /users/me ")
    assert "GET /users/{user_id} (route 1), declared earlier" in lines[0]


def test_lint_app_against_table(capsys: pytest.CaptureFixture[str], app_module: str) -> None:
    status = main(["lint", f"{app_module}:same_table", "--against", f"{app_module}:app"])
    missing = [line for line in capsys.readouterr().out.splitlines() if "missing-route" in line]

    assert status == 1
    assert len(missing) == 2
    assert missing[0].startswith("error: missing-route: url:GET|/files/:file_id ")
    assert missing[1].startswith("error: missing-route: url:DELETE|/files/:file_id ")


def test_console_script_lint(lint_files: Path) -> None:
    script = _console_script()

    clean = subprocess.run(  # noqa: S603
        [str(script), "lint", "clean.toml"],
        capture_output=True, text=True, timeout=30, check=False, cwd=lint_files,
    )  # fmt: skip
    shadowed = subprocess.run(  # noqa: S603
        [str(script), "lint", "shadowed.json", "--format", "json"],
        capture_output=True, text=True, timeout=30, check=False, cwd=lint_files,
    )  # fmt: skip
    usage = subprocess.run(  # noqa: S603
        [str(script), "lint", "absent.toml"],
        capture_output=True, text=True, timeout=30, check=False, cwd=lint_files,
    )  # fmt: skip

    assert clean.returncode == 0
    assert clean.stdout == "0 errors, 0 warnings\n"
    assert shadowed.returncode == 1
    assert json.loads(shadowed.stdout)["errors"] == 1
    assert usage.returncode == 2
    assert usage.stdout == ""


# --- scopes -------------------------------------------------------------------------------

SCOPES_TOML = """\
[[routes]]
method = "GET"
path = "/api/v1/courses/:course_id/files"
resource = "files"
resource_name = "Files"
controller = "files"
action = "index"

[[routes]]
method = "GET"
path = "/api/v1/courses/:course_id/files.:format"
resource = "files"
resource_name = "Files"
controller = "files"
action = "index_formatted"

[[routes]]
method = "GET"
path = "/api/v1/courses"
resource = "courses"
resource_name = "courses"

[[routes]]
method = "GET"
path = "/health"
public = true
"""


@pytest.fixture
def scopes_file(tmp_path: Path) -> Path:
    path = tmp_path / "scopes.toml"
    path.write_text(SCOPES_TOML, encoding="utf-8")
    return path


def test_scopes_table(capsys: pytest.CaptureFixture[str], scopes_file: Path) -> None:
    status = main(["scopes", str(scopes_file)])
    lines = capsys.readouterr().out.splitlines()

    assert status == 0
    assert lines[0].split() == ["RESOURCE_NAME", "VERB", "SCOPE", "CONTROLLER", "ACTION"]
    assert lines[1].split() == ["courses", "GET", "url:GET|/api/v1/courses", "-", "-"]
    assert lines[2].split() == [
        "Files", "GET", "url:GET|/api/v1/courses/:course_id/files", "files", "index",
    ]  # fmt: skip
    assert lines[-1] == "2 scopes"
    assert lines[1].index("GET") == lines[0].index("VERB")


def test_scopes_table_grouped(capsys: pytest.CaptureFixture[str], scopes_file: Path) -> None:
    status = main(["scopes", str(scopes_file), "--group-by", "resource"])
    lines = capsys.readouterr().out.splitlines()

    assert status == 0
    assert lines[2] == "resource: courses"
    assert lines[5] == "resource: files"


GROUPINGS: list[GroupBy | None] = [None, "resource", "resource_name"]


@pytest.mark.parametrize("group_by", GROUPINGS)
def test_scopes_json_matches_endpoint(
    capsys: pytest.CaptureFixture[str], scopes_file: Path, group_by: GroupBy | None
) -> None:
    options = ["--group-by", group_by] if group_by else []
    status = main(["scopes", str(scopes_file), "--format", "json", *options])
    endpoint = ScopeCatalogueEndpoint(load_routes(scopes_file))

    assert status == 0
    assert json.loads(capsys.readouterr().out) == json.loads(endpoint.render(group_by))


def test_scopes_toml_lists_catalogue(capsys: pytest.CaptureFixture[str], scopes_file: Path) -> None:
    status = main(["scopes", str(scopes_file), "--format", "toml"])
    document = tomllib.loads(capsys.readouterr().out)
    catalogue = ScopeCatalogueEndpoint(load_routes(scopes_file)).catalogue

    assert status == 0
    assert document["scopes"] == [
        {key: value for key, value in entry.as_dict().items() if value is not None}
        for entry in catalogue
    ]


def test_scopes_toml_grouped(capsys: pytest.CaptureFixture[str], scopes_file: Path) -> None:
    status = main(["scopes", str(scopes_file), "--format", "toml", "--group-by", "resource_name"])
    document = tomllib.loads(capsys.readouterr().out)

    assert status == 0
    assert list(document["scopes"]) == ["courses", "Files"]
    assert [entry["scope"] for entry in document["scopes"]["Files"]] == [
        "url:GET|/api/v1/courses/:course_id/files"
    ]


def test_scopes_of_app_module(capsys: pytest.CaptureFixture[str], app_module: str) -> None:
    status = main(["scopes", f"{app_module}:app", "--format", "json"])
    scopes = [entry["scope"] for entry in json.loads(capsys.readouterr().out)]

    assert status == 0
    assert scopes == [
        "url:DELETE|/files/:file_id",
        "url:GET|/files/:file_id",
        "url:GET|/users/:user_id",
        "url:GET|/users/me",
    ]


def test_scopes_of_canvas_data(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["scopes", str(DATA / "canvas_api_routes.tsv"), "--format", "json"])
    entries = json.loads(capsys.readouterr().out)

    assert status == 0
    assert len(entries) == len(
        {route.scope for route in load_routes(DATA / "canvas_api_routes.tsv")}
    )


def test_scopes_bad_group_by(capsys: pytest.CaptureFixture[str], scopes_file: Path) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["scopes", str(scopes_file), "--group-by", "verb"])

    assert raised.value.code == 2
    assert "invalid choice: 'verb'" in capsys.readouterr().err


def test_scopes_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status = main(["scopes", str(tmp_path / "absent.toml")])

    assert status == 2
    assert "cannot read the route file" in capsys.readouterr().err


def test_scopes_closed_pipe_exits_zero(scopes_file: Path) -> None:
    """A reader that stops early, as `head` does, gets no traceback from the command."""
    script = _console_script()
    with subprocess.Popen(  # noqa: S603 - the installed console script and a temporary file
        [str(script), "scopes", str(DATA / "canvas_api_routes.tsv")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        process.stdout.readline()
        process.stdout.close()
        _, error = process.communicate(timeout=30)

    assert process.returncode == 0
    assert error == b""


# --- scopes and lint on the example app and the Canvas data ----------------------------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def example_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Yield the example app's ``module:attribute``, importable from the repository root."""
    monkeypatch.setenv("SCOPEGUARD_SECRET", "example-secret-for-tests-0123456789abcdef")
    monkeypatch.chdir(ROOT)
    yield "examples.canvas_files.app:app"
    for name in [name for name in sys.modules if name.startswith("examples")]:
        sys.modules.pop(name)


def test_scopes_of_example_app(capsys: pytest.CaptureFixture[str], example_app: str) -> None:
    status = main(["scopes", example_app, "--format", "json"])
    scopes = {entry["scope"] for entry in json.loads(capsys.readouterr().out)}
    declared = {route.scope for route in route_table() if not route.public}

    assert status == 0
    assert scopes == declared
    assert "url:GET|/api/v1/accounts/:account_id/scopes" in scopes
    assert "url:GET|/courses/:course_id/files/:file_id/download" in scopes


def test_lint_example_app_is_clean(capsys: pytest.CaptureFixture[str], example_app: str) -> None:
    """The app's router and the demo's declared table agree. tests/data/demo.toml is that
    table written with dump_routes: write it again when the demo's routes change."""
    status = main(["lint", example_app, "--against", str(ROOT / "tests" / "data" / "demo.toml")])
    output = capsys.readouterr()

    assert status == 0, output.out
    assert output.out.splitlines()[-1] == "0 errors, 0 warnings"


# --- routes -------------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["toml", "json"])
def test_routes_export_round_trips(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, app_module: str, file_format: str
) -> None:
    status = main(["routes", f"{app_module}:app", "--format", file_format])
    exported = tmp_path / f"exported.{file_format}"
    exported.write_text(capsys.readouterr().out, encoding="utf-8")

    assert status == 0
    assert load_routes(exported).routes == load_source(f"{app_module}:app").routes


def test_routes_keeps_converters(capsys: pytest.CaptureFixture[str], app_module: str) -> None:
    status = main(["routes", f"{app_module}:app"])

    assert status == 0
    assert 'path = "/files/{file_id:int}"' in capsys.readouterr().out


def test_source_without_attribute_hint(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["scopes", "myapp"])

    assert status == 2
    assert "to read an app, write it as 'myapp:app'" in capsys.readouterr().err

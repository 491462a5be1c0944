"""Tests of the ``scopeguard`` command line: ``token`` and ``check``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopeguard import JWTVerifier, TokenInfo
from scopeguard.cli import UsageError, main, request_path

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
            ["--scope", COURSE, "GET", "/api/v1/courses/7%2Ffiles"], 1,
            _result(
                False, 403, FILES, "/api/v1/courses/:course_id/files",
                f"the token lacks the scope {FILES}",
            ),
            id="encoded-slash-decoded",
        ),
        pytest.param(
            ["--scope", COURSE, "GET", "/api/v1/courses/7%3Fx=1"], 0, ALLOWED_COURSE,
            id="encoded-question-mark",
        ),
        pytest.param(
            ["--scope", COURSE, "GET", "/api/v1/courses/7%0A"], 1,
            _result(False, 400, None, None, "the request path contains a control character"),
            id="encoded-newline",
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
        pytest.param("routes.yaml", "routes: []", "/a", "unknown route file type", id="yaml"),
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

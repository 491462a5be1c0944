"""Tests of the pytest plugin, run with pytester in a fresh directory per test."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

ROUTES = """\
[[routes]]
method = "GET"
path = "/api/v1/courses/:course_id"

[[routes]]
method = "GET"
path = "/api/v1/courses/:course_id/files"

[[routes]]
method = "GET"
path = "/health"
public = true
"""

PASSING = """\
routes = "routes.toml"

[tokens]
teacher = ["url:GET|/api/v1/courses/:course_id"]
nobody = []

[[cases]]
path = "/api/v1/courses/7"
token = "teacher"
expect = "allowed"

[[cases]]
path = "/api/v1/courses/7/files"
token = "teacher"
expect = 403
reason = "insufficient_scope"

[[cases]]
method = "DELETE"
path = "/api/v1/courses/7"
scopes = ["url:GET|/api/v1/courses/:course_id"]
expect = 405

[[cases]]
path = "/api/v1/courses/7"
expect = 401

[[cases]]
path = "/health"
expect = "allowed"

[[cases]]
name = "nobody reads a course"
path = "/api/v1/courses/7"
token = "nobody"
expect = "denied"
"""

FAILING = """\
routes = "routes.toml"

[[cases]]
path = "/api/v1/courses/7/files"
scopes = ["url:GET|/api/v1/courses/:course_id"]
expect = "allowed"
"""


def test_passing_policy_file(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", routes=ROUTES, policy_courses=PASSING)

    result = pytester.runpytest("-v", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "*policy_courses.toml::GET /api/v1/courses/7 with teacher: allowed PASSED*",
            "*policy_courses.toml::GET /api/v1/courses/7/files with teacher: 403 PASSED*",
            "*::DELETE /api/v1/courses/7 with scopes url:GET|/api/v1/courses/:course_id: 405*",
            "*::GET /api/v1/courses/7 with no token: 401 PASSED*",
            "*::nobody reads a course PASSED*",
        ]
    )


def test_failing_case_explains_decision(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", routes=ROUTES, policy_files=FAILING)

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*expected allowed, got denied",
            "*GET /api/v1/courses/7/files: denied with 403 (insufficient_scope)",
            "*route matched: GET /api/v1/courses/:course_id/files",
            "*scope required: url:GET|/api/v1/courses/:course_id/files",
            "*scopes granted: url:GET|/api/v1/courses/:course_id",
            "*reason: the token lacks the scope url:GET|/api/v1/courses/:course_id/files",
        ]
    )
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param('routes = "routes.toml"\n', "add at least one", id="no-cases"),
        pytest.param(
            'routes = "missing.toml"\n[[cases]]\npath = "/a"\nexpect = "allowed"\n',
            "missing.toml",
            id="missing-routes",
        ),
        pytest.param(
            'routes = "routes.toml"\n[[cases]]\npath = "/a"\ntoken = "ghost"\nexpect = 200\n',
            "unknown token 'ghost'",
            id="unknown-token",
        ),
        pytest.param(
            'routes = "routes.toml"\n[[cases]]\npath = "/a"\nexpect = "maybe"\n',
            "'expect' must be",
            id="bad-expect",
        ),
        pytest.param(
            'routes = "routes.toml"\nrules = 1\n[[cases]]\npath = "/a"\nexpect = 200\n',
            "unknown key 'rules'",
            id="unknown-key",
        ),
        pytest.param('routes = "routes.toml"\n[[cases]\n', "cannot read it", id="bad-toml"),
        pytest.param(
            'routes = "routes.toml"\n[[cases]]\nmethod = "get"\npath = "/a"\nexpect = 200\n',
            "case 1: 'method' must be an upper-case method",
            id="lower-case-method",
        ),
        pytest.param(
            'routes = "routes.toml"\n[[cases]]\npath = "/a"\nexpect = 403\n'
            'reason = "insufficent_scope"\n',
            "case 1: unknown reason 'insufficent_scope'",
            id="misspelled-reason",
        ),
        pytest.param(
            'routes = "routes.toml"\n[[cases]]\npath = "/a"\n',
            "case 1: missing 'expect'",
            id="missing-expect",
        ),
        pytest.param(
            'routes = "routes.toml"\n[[cases]]\npath = "/a"\nexpect = 200\n'
            'scopes = ["url:GET|/api/v1/courses/{course_id}"]\n',
            "case 1: scope 'url:GET|/api/v1/courses/{course_id}' is in Starlette notation",
            id="starlette-scope",
        ),
    ],
)
def test_bad_policy_file(pytester: pytest.Pytester, content: str, message: str) -> None:
    pytester.makefile(".toml", routes=ROUTES, policy_bad=content)

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert "policy_bad.toml:" in output
    assert message in output
    assert "Traceback" not in output


def test_other_toml_files_ignored(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", routes=ROUTES, settings="x = 1\n")

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes()


def test_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from starlette.applications import Starlette
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route

        from scopeguard import ScopeGuardMiddleware
        from scopeguard.testing import assert_allowed, assert_denied

        SCOPE = "url:GET|/courses/:course_id"


        async def course(request):
            return PlainTextResponse("course")


        def test_client(scopeguard_client, scopeguard_tokens):
            app = Starlette(routes=[Route("/courses/{course_id}", course)])
            guarded = ScopeGuardMiddleware(app, verifier=scopeguard_tokens.verifier())
            client = scopeguard_client(guarded)

            assert_allowed(client.get("/courses/7", scopes=[SCOPE]))
            assert_denied(client.get("/courses/7", scopes=[]), status=403)
            assert_denied(client.get("/courses/7"), status=401, reason="missing_token")
            rs256 = scopeguard_tokens.token([SCOPE], algorithm="RS256")
            assert_allowed(client.get("/courses/7", token=rs256))
        """
    )

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)


def test_every_bad_case_reported_at_once(pytester: pytest.Pytester) -> None:
    content = (
        'routes = "routes.toml"\n'
        '[[cases]]\npath = "/a"\nexpect = "maybe"\n'
        '[[cases]]\npath = "/a"\nexpect = 200\n'
        '[[cases]]\nmethod = "get"\npath = "/a"\nexpect = 200\n'
    )
    pytester.makefile(".toml", routes=ROUTES, policy_bad=content)

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*case 1: 'expect' must be*", "*case 3: 'method' must be*"])
    assert "case 2" not in result.stdout.str()


def test_repeated_case_names_get_numbers(pytester: pytest.Pytester) -> None:
    case = '[[cases]]\npath = "/api/v1/courses/7"\nexpect = 401\n'
    pytester.makefile(".toml", routes=ROUTES, policy_twice=f'routes = "routes.toml"\n{case}{case}')

    result = pytester.runpytest("-v", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*::GET /api/v1/courses/7 with no token: 401 (case 1) PASSED*",
            "*::GET /api/v1/courses/7 with no token: 401 (case 2) PASSED*",
        ]
    )

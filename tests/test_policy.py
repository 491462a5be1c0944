"""Tests of Policy.decide: route, method, path and scopes in, a decision out, without ASGI."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopeguard import ConfigurationError, Policy, Reason, Route, RouteTable
from scopeguard.policy import path_problem
from scopeguard.table import Outcome

LIST = "url:GET|/api/v1/courses"
COURSE = "url:GET|/api/v1/courses/:course_id"
UPDATE = "url:PUT|/api/v1/courses/:course_id"
UPLOAD = "url:POST|/api/v1/courses/:course_id/files"
TREE = "url:GET|/api/v1/courses/:course_id/files/*path"
DOWNLOAD = "url:GET|/files/:file_id/download"
PROFILE = "url:GET|/api/v1/users/:user_id/profile"
JOBS = "url:GET|/api/v1/jobs2/:bucket/by_:group"

ROUTES = (
    Route("GET", "/health", public=True),
    Route("GET", "/api/v1/courses"),
    Route("GET", "/api/v1/courses/:course_id"),
    Route("PUT", "/api/v1/courses/:course_id"),
    Route("POST", "/api/v1/courses/:course_id/files"),
    Route("GET", "/api/v1/courses/:course_id/files/*path"),
    Route("GET", "/files/:file_id/download(.:format)"),
    Route("GET", "/api/v1/users/{user_id:int}/profile"),
    Route("GET", "/api/v1/jobs2/:bucket/by_:group"),
)
POLICY = Policy(ROUTES)
PASS_POLICY = Policy(ROUTES, unmatched="pass")


@pytest.mark.parametrize(
    ("method", "path", "scopes", "status", "reason", "required_scope"),
    [
        pytest.param("GET", "/api/v1/courses/7", {COURSE}, 200, Reason.ALLOWED, COURSE, id="exact"),
        pytest.param(
            "GET", "/api/v1/courses/7", {LIST, COURSE, "profile"}, 200, Reason.ALLOWED, COURSE,
            id="among-others",
        ),
        pytest.param(
            "GET", "/api/v1/courses/7", None, 401, Reason.MISSING_TOKEN, COURSE, id="no-token"
        ),
        pytest.param(
            "GET", "/api/v1/courses/7", set(), 403, Reason.INSUFFICIENT_SCOPE, COURSE,
            id="no-scopes",
        ),
        pytest.param(
            "GET", "/api/v1/courses/7", {LIST}, 403, Reason.INSUFFICIENT_SCOPE, COURSE,
            id="prefix-scope",
        ),
        pytest.param(
            "GET", "/api/v1/courses/7", {UPDATE}, 403, Reason.INSUFFICIENT_SCOPE, COURSE,
            id="other-method-scope",
        ),
        pytest.param(
            "GET", "/api/v1/courses/7", {"url:GET|/api/v1/courses/7"}, 403,
            Reason.INSUFFICIENT_SCOPE, COURSE, id="concrete-path-scope",
        ),
        pytest.param(
            "GET", "/api/v1/courses/7", {"url:GET|/api/v1/courses/*"}, 403,
            Reason.INSUFFICIENT_SCOPE, COURSE, id="wildcard-scope",
        ),
        pytest.param("PUT", "/api/v1/courses/7", {UPDATE}, 200, Reason.ALLOWED, UPDATE, id="put"),
        pytest.param(
            "PUT", "/api/v1/courses/7", {COURSE}, 403, Reason.INSUFFICIENT_SCOPE, UPDATE,
            id="put-with-get-scope",
        ),
        pytest.param(
            "POST", "/api/v1/courses/7/files", {UPLOAD}, 200, Reason.ALLOWED, UPLOAD, id="post"
        ),
        pytest.param(
            "GET", "/files/3/download", {DOWNLOAD}, 200, Reason.ALLOWED, DOWNLOAD,
            id="format-absent",
        ),
        pytest.param(
            "GET", "/files/3/download.pdf", {DOWNLOAD}, 200, Reason.ALLOWED, DOWNLOAD,
            id="format-suffix",
        ),
        pytest.param(
            "GET", "/api/v1/courses/7/files/a/b.txt", {TREE}, 200, Reason.ALLOWED, TREE,
            id="glob",
        ),
        pytest.param(
            "GET", "/api/v1/users/12/profile", {PROFILE}, 200, Reason.ALLOWED, PROFILE,
            id="starlette-int-param",
        ),
        pytest.param(
            "GET", "/api/v1/users/me/profile", {PROFILE}, 403, Reason.NO_ROUTE, None,
            id="starlette-int-mismatch",
        ),
        pytest.param(
            "GET", "/api/v1/jobs2/running/by_tag", {JOBS}, 200, Reason.ALLOWED, JOBS,
            id="mid-segment-param",
        ),
        pytest.param("HEAD", "/api/v1/courses", {LIST}, 200, Reason.ALLOWED, LIST, id="head"),
        pytest.param(
            "HEAD", "/api/v1/courses", {"url:HEAD|/api/v1/courses"}, 403,
            Reason.INSUFFICIENT_SCOPE, LIST, id="head-needs-get-scope",
        ),
        pytest.param("GET", "/health", None, 200, Reason.PUBLIC, "url:GET|/health", id="public"),
        pytest.param(
            "HEAD", "/health", None, 200, Reason.PUBLIC, "url:GET|/health", id="public-head"
        ),
        pytest.param(
            "GET", "/health", set(), 200, Reason.PUBLIC, "url:GET|/health", id="public-with-token"
        ),
        pytest.param(
            "POST", "/health", set(), 405, Reason.METHOD_NOT_ALLOWED, None, id="public-post"
        ),
        pytest.param(
            "GET", "/api/v1/unknown", {LIST}, 403, Reason.NO_ROUTE, None, id="no-route"
        ),
        pytest.param(
            "GET", "/api/v1/unknown", None, 401, Reason.MISSING_TOKEN, None,
            id="no-route-no-token",
        ),
        pytest.param(
            "GET", "/api/v1/courses/", {LIST}, 403, Reason.NO_ROUTE, None, id="trailing-slash"
        ),
        pytest.param(
            "POST", "/api/v1/courses//files", {UPLOAD}, 403, Reason.NO_ROUTE, None,
            id="empty-param",
        ),
        pytest.param("GET", "api/v1/courses", {LIST}, 403, Reason.NO_ROUTE, None, id="no-slash"),
        pytest.param("GET", "", {LIST}, 403, Reason.NO_ROUTE, None, id="empty-path"),
        pytest.param(
            "DELETE", "/api/v1/courses/7", {COURSE}, 405, Reason.METHOD_NOT_ALLOWED, None,
            id="delete",
        ),
        pytest.param(
            "FOO", "/api/v1/courses/7", {COURSE}, 405, Reason.METHOD_NOT_ALLOWED, None,
            id="unknown-method",
        ),
        pytest.param(
            "get", "/api/v1/courses/7", {COURSE}, 405, Reason.METHOD_NOT_ALLOWED, None,
            id="lower-case-method",
        ),
        pytest.param(
            "DELETE", "/api/v1/courses/7", None, 401, Reason.MISSING_TOKEN, None,
            id="delete-no-token",
        ),
        pytest.param(
            "GET", "/api/v1/courses/é", {COURSE}, 200, Reason.ALLOWED, COURSE, id="non-ascii"
        ),
        pytest.param(
            "GET", "/api/v1/courses/7/files", {TREE, UPLOAD}, 405, Reason.METHOD_NOT_ALLOWED,
            None, id="glob-needs-one-segment",
        ),
        pytest.param(
            "GET", "/api/v1/courses/7\n", {COURSE}, 400, Reason.BAD_REQUEST, None, id="newline"
        ),
        pytest.param(
            "GET", "/api/v1/courses/7\r", None, 400, Reason.BAD_REQUEST, None,
            id="carriage-return-no-token",
        ),
        pytest.param(
            "GET", "/api/v1/courses/\x00", {COURSE}, 400, Reason.BAD_REQUEST, None, id="nul"
        ),
        pytest.param(
            "GET", "/api/v1/courses/\t", {COURSE}, 400, Reason.BAD_REQUEST, None, id="tab"
        ),
        pytest.param(
            "GET", "/api/v1/courses/\x7f", {COURSE}, 400, Reason.BAD_REQUEST, None, id="delete-char"
        ),
        pytest.param(
            "GET", "/health\n", None, 400, Reason.BAD_REQUEST, None, id="newline-public"
        ),
    ],
)  # fmt: skip
def test_decide(
    method: str,
    path: str,
    scopes: set[str] | None,
    status: int,
    reason: Reason,
    required_scope: str | None,
) -> None:
    decision = POLICY.decide(method, path, scopes)

    assert decision.status == status
    assert decision.reason is reason
    assert decision.allowed is (status == 200)
    assert decision.required_scope == required_scope


@pytest.mark.parametrize(
    ("method", "path", "scopes", "status", "reason"),
    [
        pytest.param("GET", "/api/v1/unknown", None, 200, Reason.PASSED_UNMATCHED, id="no-route"),
        pytest.param(
            "DELETE", "/api/v1/courses/7", None, 200, Reason.PASSED_UNMATCHED, id="no-method"
        ),
        pytest.param("FOO", "/api/v1/courses", None, 200, Reason.PASSED_UNMATCHED, id="foo"),
        pytest.param("GET", "/api/v1/courses/7", None, 401, Reason.MISSING_TOKEN, id="no-token"),
        pytest.param(
            "GET", "/api/v1/courses/7", {LIST}, 403, Reason.INSUFFICIENT_SCOPE, id="lacks-scope"
        ),
        pytest.param("GET", "/api/v1/courses/7", {COURSE}, 200, Reason.ALLOWED, id="allowed"),
        pytest.param("GET", "/health", None, 200, Reason.PUBLIC, id="public"),
        pytest.param("GET", "/unknown\n", None, 400, Reason.BAD_REQUEST, id="control-char"),
    ],
)
def test_decide_unmatched_pass(
    method: str, path: str, scopes: set[str] | None, status: int, reason: Reason
) -> None:
    decision = PASS_POLICY.decide(method, path, scopes)

    assert decision.status == status
    assert decision.reason is reason


def test_method_not_allowed_lists_methods() -> None:
    decision = POLICY.decide("DELETE", "/api/v1/courses/7", {COURSE})

    assert decision.allowed_methods == ("GET", "HEAD", "PUT")
    assert "allowed: GET, HEAD, PUT" in decision.message
    assert decision.error is None


def test_insufficient_scope_names_scope() -> None:
    decision = POLICY.decide("GET", "/api/v1/courses/7", {LIST})

    assert decision.message == f"the token lacks the scope {COURSE}"
    assert decision.error == "insufficient_scope"
    assert decision.granted_scopes == frozenset({LIST})


def test_no_route_names_request() -> None:
    decision = POLICY.decide("GET", "/api/v1/unknown", {LIST})

    assert "GET /api/v1/unknown" in decision.message
    assert decision.error == "insufficient_scope"


def test_bad_request_reason() -> None:
    decision = POLICY.decide("GET", "/api/v1/courses/7\n", {COURSE})

    assert decision.message == "the request path contains a control character"
    assert decision.error == "invalid_request"


def test_missing_token_has_no_error_code() -> None:
    decision = POLICY.decide("GET", "/api/v1/courses/7", None)

    assert decision.error is None
    assert decision.route == Route("GET", "/api/v1/courses/:course_id")


def test_allowed_decision_carries_claims() -> None:
    resolution = POLICY.table.resolve("GET", "/api/v1/courses/7")
    claims = {"sub": "teacher", "scope": COURSE}

    decision = POLICY.decide_resolved(resolution, "GET", "/api/v1/courses/7", {COURSE}, claims)

    assert resolution.outcome is Outcome.MATCHED
    assert decision.claims == claims
    assert decision.granted_scopes == frozenset({COURSE})


@pytest.mark.parametrize(
    "unmatched",
    [
        pytest.param("allow", id="allow"),
        pytest.param("DENY", id="upper-case"),
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
    ],
)
def test_policy_rejects_bad_unmatched(unmatched: object) -> None:
    with pytest.raises(ConfigurationError, match="for unmatched; use 'deny' or 'pass'"):
        Policy(ROUTES, unmatched=unmatched)  # type: ignore[arg-type]


def test_policy_keeps_route_table() -> None:
    table = RouteTable(ROUTES, precedence="most_specific")

    assert Policy(table).table is table


def test_policy_builds_table_from_routes() -> None:
    assert Policy(list(ROUTES)).table.routes == ROUTES


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/api/v1/courses", None, id="plain"),
        pytest.param("/api/v1/courses/é ü", None, id="non-ascii-and-space"),
        pytest.param("/a\nb", "control character", id="newline"),
        pytest.param("/a\x1f", "control character", id="unit-separator"),
        pytest.param("/a\x7f", "control character", id="delete"),
    ],
)
def test_path_problem(path: str, expected: str | None) -> None:
    problem = path_problem(path)

    if expected is None:
        assert problem is None
    else:
        assert problem is not None
        assert expected in problem


# --- Properties ---------------------------------------------------------------------------


@st.composite
def near_misses(draw: st.DrawFn, scope: str) -> str:
    """Draw a proper substring of ``scope``, or ``scope`` with extra characters around it."""
    if draw(st.booleans()):
        start = draw(st.integers(min_value=0, max_value=len(scope)))
        end = draw(st.integers(min_value=start, max_value=len(scope)))
        piece = scope[start:end]
        return piece if piece != scope else scope[:-1]
    before = draw(st.text(max_size=3))
    after = draw(st.text(min_size=0 if before else 1, max_size=3))
    return before + scope + after


@given(granted=st.sets(near_misses(COURSE), max_size=6))
def test_near_miss_scopes_never_grant(granted: set[str]) -> None:
    decision = POLICY.decide("GET", "/api/v1/courses/7", granted)

    assert decision.status == 403


@given(extra=st.sets(st.text(max_size=40), max_size=6))
def test_required_scope_always_grants(extra: set[str]) -> None:
    decision = POLICY.decide("GET", "/api/v1/courses/7", extra | {COURSE})

    assert decision.allowed


@given(
    prefix=st.text(max_size=10),
    control=st.characters(codec="ascii", categories=["Cc"]),
    suffix=st.text(max_size=10),
    scopes=st.one_of(st.none(), st.just({COURSE})),
)
def test_control_character_always_400(
    prefix: str, control: str, suffix: str, scopes: set[str] | None
) -> None:
    decision = POLICY.decide("GET", f"/{prefix}{control}{suffix}", scopes)

    assert decision.status == 400


@given(
    method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE", "FOO", "get", ""]),
    path=st.text(alphabet="/abcv1é.:_7\n", max_size=30),
    scopes=st.one_of(st.none(), st.sets(st.sampled_from([LIST, COURSE, UPDATE, TREE]))),
)
def test_decision_is_consistent(method: str, path: str, scopes: set[str] | None) -> None:
    decision = POLICY.decide(method, path, scopes)

    assert decision.status in (200, 400, 401, 403, 405)
    assert decision.allowed is (decision.status == 200)


def test_decide_rejects_single_string() -> None:
    with pytest.raises(TypeError, match="not one string"):
        POLICY.decide("GET", "/api/v1/courses", LIST)


def test_decide_accepts_list_of_scopes() -> None:
    decision = POLICY.decide("GET", "/api/v1/courses", [LIST])

    assert decision.allowed
    assert decision.granted_scopes == frozenset({LIST})


# --- all_matching precedence ------------------------------------------------------------------

ANY_ROUTE = RouteTable(
    [
        Route("GET", "/users/:login"),
        Route("GET", "/users/:user_id"),
        Route("GET", "/users/me"),
        Route("POST", "/users/:user_id"),
    ],
    precedence="all_matching",
)
LOGIN = "url:GET|/users/:login"
USER_ID = "url:GET|/users/:user_id"
ME = "url:GET|/users/me"


@pytest.mark.parametrize(
    ("path", "scopes", "status", "required"),
    [
        pytest.param("/users/42", {LOGIN, USER_ID}, 200, LOGIN, id="both-params"),
        pytest.param("/users/42", {LOGIN}, 403, USER_ID, id="only-first"),
        pytest.param("/users/42", {USER_ID}, 403, LOGIN, id="only-second"),
        pytest.param("/users/me", {ME}, 403, LOGIN, id="literal-alone"),
        pytest.param("/users/me", {ME, LOGIN, USER_ID}, 200, ME, id="literal-and-params"),
    ],
)
def test_all_matching_requires_every_scope(
    path: str, scopes: set[str], status: int, required: str
) -> None:
    """``required`` is the first missing scope when denied, else the route's own scope."""
    decision = Policy(ANY_ROUTE).decide("GET", path, scopes)

    assert decision.status == status
    assert decision.required_scope == required


def test_all_matching_reports_most_specific_route() -> None:
    resolution = ANY_ROUTE.resolve("GET", "/users/me")

    assert resolution.route is not None
    assert resolution.route.path == "/users/me"
    assert {route.scope for route in resolution.also_required} == {LOGIN, USER_ID}


def test_all_matching_ignores_other_methods() -> None:
    resolution = ANY_ROUTE.resolve("POST", "/users/42")

    assert resolution.route is not None
    assert resolution.also_required == ()

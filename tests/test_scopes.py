"""Tests of route scope strings: parsing, formatting and distinguishing them from opaque scopes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scopeguard import (
    HTTP_METHODS,
    SCOPE_VERBS,
    ConfigurationError,
    RouteScope,
    ScopeSyntaxError,
    format_scope,
    is_route_scope,
    parse_scope,
)

# Characters of the generated scope paths: letters, digits and template punctuation.
PATH_ALPHABET = "abcxyz019_-.:*()/|{}%~"


@pytest.mark.parametrize(
    ("text", "verb", "path"),
    [
        pytest.param("url:GET|/api/v1/courses", "GET", "/api/v1/courses", id="literal"),
        pytest.param(
            "url:PUT|/api/v1/courses/:course_id", "PUT", "/api/v1/courses/:course_id", id="param"
        ),
        pytest.param(
            "url:GET|/api/v1/courses/:course_id/files/*path",
            "GET",
            "/api/v1/courses/:course_id/files/*path",
            id="glob",
        ),
        pytest.param(
            "url:POST|/api/v1/accounts/:account_id/outcome_imports(/group/:id)",
            "POST",
            "/api/v1/accounts/:account_id/outcome_imports(/group/:id)",
            id="optional-group",
        ),
        pytest.param("url:DELETE|/", "DELETE", "/", id="root"),
        pytest.param("url:GET|/a|b", "GET", "/a|b", id="bar-in-path"),
    ],
)
def test_parse_scope_fields(text: str, verb: str, path: str) -> None:
    scope = parse_scope(text)

    assert scope.verb == verb
    assert scope.path == path
    assert str(scope) == text


@pytest.mark.parametrize("verb", sorted(SCOPE_VERBS))
def test_format_scope_every_verb(verb: str) -> None:
    text = format_scope(verb, "/api/v1/users/:id")

    assert text == f"url:{verb}|/api/v1/users/:id"
    assert parse_scope(text) == RouteScope(verb, "/api/v1/users/:id")


def test_route_scope_parse_classmethod() -> None:
    assert RouteScope.parse("url:GET|/a/:id") == RouteScope("GET", "/a/:id")


@settings(max_examples=200, deadline=None)
@given(
    verb=st.sampled_from(sorted(HTTP_METHODS)),
    rest=st.text(alphabet=PATH_ALPHABET, max_size=30),
)
def test_scope_round_trip(verb: str, rest: str) -> None:
    path = "/" + rest

    text = format_scope(verb, path)

    assert parse_scope(text) == RouteScope(verb, path)
    assert str(parse_scope(text)) == text
    assert is_route_scope(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("GET|/api/v1/courses", "starts with 'url:'", id="missing-prefix"),
        pytest.param("URL:GET|/api/v1/courses", "starts with 'url:'", id="upper-case-prefix"),
        pytest.param("url:get|/api/v1/courses", "upper case: 'GET'", id="lower-case-verb"),
        pytest.param("url:Delete|/api/v1/courses", "upper case: 'DELETE'", id="mixed-case-verb"),
        pytest.param("url:FETCH|/api/v1/courses", "unknown verb 'FETCH'", id="unknown-verb"),
        pytest.param("url:|/api/v1/courses", "unknown verb ''", id="empty-verb"),
        pytest.param("url:GET/api/v1/courses", "missing '|'", id="missing-bar"),
        pytest.param("url:GET|api/v1/courses", "must start with '/'", id="relative-path"),
        pytest.param("url:GET|", "must start with '/'", id="empty-path"),
        pytest.param("url:GET|/api/v1/my courses", "whitespace", id="space-in-path"),
        pytest.param("url:GET|/api/v1/courses\n", "whitespace", id="newline-in-path"),
    ],
)
def test_parse_scope_rejects(text: str, problem: str) -> None:
    with pytest.raises(ScopeSyntaxError) as raised:
        parse_scope(text)

    assert raised.value.text == text
    assert problem in raised.value.problem
    assert repr(text) in str(raised.value)


def test_unknown_verb_lists_methods() -> None:
    with pytest.raises(ScopeSyntaxError) as raised:
        parse_scope("url:FETCH|/a")

    for verb in SCOPE_VERBS:
        assert verb in raised.value.problem


def test_scope_verbs_are_http_methods_and_websocket() -> None:
    assert HTTP_METHODS < SCOPE_VERBS
    assert {"WEBSOCKET"} == SCOPE_VERBS - HTTP_METHODS


def test_scope_error_is_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        parse_scope("url:get|/a")
    with pytest.raises(ValueError, match="invalid scope"):
        parse_scope("url:get|/a")


@pytest.mark.parametrize(
    ("verb", "path", "problem"),
    [
        pytest.param("get", "/a", "upper case", id="lower-case-verb"),
        pytest.param("FETCH", "/a", "unknown verb", id="unknown-verb"),
        pytest.param("GET", "a", "must start with '/'", id="relative-path"),
    ],
)
def test_format_scope_rejects(verb: str, path: str, problem: str) -> None:
    with pytest.raises(ScopeSyntaxError, match=problem):
        format_scope(verb, path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("url:GET|/api/v1/courses/:course_id", True, id="route-scope"),
        pytest.param("url:OPTIONS|/api/v1/files/:id/create_success", True, id="options"),
        pytest.param("url:WEBSOCKET|/api/v1/courses/:id/events", True, id="websocket"),
        pytest.param("url:websocket|/api/v1/courses/:id/events", False, id="lower-websocket"),
        pytest.param("/auth/userinfo", False, id="canvas-userinfo"),
        pytest.param("https://example.invalid/x", False, id="uri"),
        pytest.param("profile", False, id="oauth-scope"),
        pytest.param("", False, id="empty"),
        pytest.param("url:", False, id="prefix-only"),
        pytest.param("url:get|/api/v1/courses", False, id="lower-case-verb"),
        pytest.param("url:GET|api/v1/courses", False, id="relative-path"),
    ],
)
def test_is_route_scope(text: str, expected: bool) -> None:
    assert is_route_scope(text) is expected

"""Tests of route templates: what each syntax matches, scope paths and template errors."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import compile_path

from scopeguard import ConfigurationError, Route, RouteTemplateError, compile_template

UUID = "0f5c6a3e-2b1d-4c8e-9a7f-3d2e1c0b9a8f"


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        # A parameter is a non-empty run of characters other than "/".
        pytest.param("/courses/:id", "/courses/7", True, id="param"),
        pytest.param("/courses/:id", "/courses/a.b-c_d", True, id="param-with-dot"),
        pytest.param("/courses/:id", "/courses/", False, id="param-empty"),
        pytest.param("/courses/:id", "/courses", False, id="param-missing"),
        pytest.param("/courses/:id", "/courses/7/x", False, id="param-with-slash"),
        pytest.param("/courses/:id/users", "/courses/7/users", True, id="param-mid-path"),
        pytest.param("/jobs2/:bucket/by_:group", "/jobs2/running/by_tag", True, id="mid-segment"),
        pytest.param("/jobs2/:bucket/by_:group", "/jobs2/running/by_", False, id="mid-empty"),
        pytest.param("/jobs2/:bucket/by_:group", "/jobs2/running/tag", False, id="mid-no-prefix"),
        pytest.param("/jobs2/:bucket/by_:group", "/jobs2/running/by_a/b", False, id="mid-slash"),
        pytest.param("/files/:name.json", "/files/a.b.json", True, id="param-then-suffix"),
        # A glob is one or more characters, "/" included.
        pytest.param("/files/*path", "/files/a", True, id="glob-one-segment"),
        pytest.param("/files/*path", "/files/a/b/c.txt", True, id="glob-segments"),
        pytest.param("/files/*path", "/files/", False, id="glob-empty"),
        pytest.param("/files/*path", "/files", False, id="glob-missing"),
        pytest.param("/files/*path/info", "/files/a/info", True, id="glob-mid-path"),
        pytest.param("/files/*path/info", "/files/a/b/info", True, id="glob-mid-segments"),
        pytest.param("/files/*path/info", "/files/info", False, id="glob-mid-empty"),
        pytest.param("/files/*path/info", "/files/a/b", False, id="glob-mid-no-suffix"),
        pytest.param("/files/v*path", "/files/v1/x", True, id="glob-mid-segment"),
        # Optional groups nest, and each one is all or nothing.
        pytest.param("/a(/b(/c))", "/a", True, id="nested-none"),
        pytest.param("/a(/b(/c))", "/a/b", True, id="nested-outer"),
        pytest.param("/a(/b(/c))", "/a/b/c", True, id="nested-both"),
        pytest.param("/a(/b(/c))", "/a/c", False, id="nested-inner-only"),
        pytest.param("/a(/b(/c))", "/a/b/c/d", False, id="nested-extra"),
        pytest.param("/a(/b(/c))", "/a/", False, id="nested-trailing-slash"),
        pytest.param("/imports(/group/:id)", "/imports/group/5", True, id="group-with-param"),
        pytest.param("/imports(/group/:id)", "/imports/group", False, id="group-partial"),
        pytest.param("/data(/*scope)", "/data", True, id="group-glob-absent"),
        pytest.param("/data(/*scope)", "/data/a/b", True, id="group-glob-present"),
        pytest.param("/data(/*scope)", "/data/", False, id="group-glob-empty"),
        # Format suffixes.
        pytest.param("/download(.:format)", "/download", True, id="format-absent"),
        pytest.param("/download(.:format)", "/download.json", True, id="format-present"),
        pytest.param("/download(.:format)", "/download.", False, id="format-empty"),
        pytest.param("/download(.:format)", "/downloadxjson", False, id="format-no-dot"),
        pytest.param("/download.:type", "/download.csv", True, id="type-present"),
        pytest.param("/download.:type", "/download.tar.gz", True, id="type-with-dot"),
        pytest.param("/download.:type", "/download", False, id="type-missing"),
        # Every other character is literal, including regular expression syntax.
        pytest.param("/x.csv", "/x.csv", True, id="dot-literal"),
        pytest.param("/x.csv", "/xacsv", False, id="dot-not-wildcard"),
        pytest.param("/a+b", "/a+b", True, id="plus-literal"),
        pytest.param("/a+b", "/aab", False, id="plus-not-repeat"),
        pytest.param("/a|b", "/b", False, id="bar-not-alternative"),
        pytest.param("/v1/[x]", "/v1/[x]", True, id="brackets-literal"),
        pytest.param("/courses", "/courses/", False, id="no-trailing-slash"),
        pytest.param("/courses/", "/courses", False, id="trailing-slash-required"),
        pytest.param("/courses", "/Courses", False, id="case-sensitive"),
        # Starlette converters.
        pytest.param("/users/{name}", "/users/ann", True, id="str-default"),
        pytest.param("/users/{name}", "/users/", False, id="str-empty"),
        pytest.param("/users/{name:str}", "/users/a/b", False, id="str-slash"),
        pytest.param("/users/{user_id:int}", "/users/12", True, id="int"),
        pytest.param("/users/{user_id:int}", "/users/-1", False, id="int-negative"),
        pytest.param("/users/{user_id:int}", "/users/x", False, id="int-letters"),
        pytest.param("/scores/{value:float}", "/scores/2.5", True, id="float"),
        pytest.param("/scores/{value:float}", "/scores/2", True, id="float-integer"),
        pytest.param("/scores/{value:float}", "/scores/2.", False, id="float-bare-dot"),
        pytest.param("/scores/{value:float}", "/scores/.5", False, id="float-leading-dot"),
        pytest.param("/scores/{value:float}", "/scores/2x5", False, id="float-dot-literal"),
        pytest.param("/items/{item_id:uuid}", f"/items/{UUID}", True, id="uuid"),
        pytest.param(
            "/items/{item_id:uuid}", "/items/" + UUID.replace("-", ""), True, id="uuid-no-dashes"
        ),
        pytest.param("/items/{item_id:uuid}", "/items/" + UUID[:-1], False, id="uuid-short"),
        pytest.param("/files/{rest:path}", "/files/a/b", True, id="path"),
        pytest.param("/files/{rest:path}", "/files/", True, id="path-empty"),
        pytest.param("/files/{rest:path}", "/files", False, id="path-no-slash"),
        pytest.param("/v{version:int}/x.csv", "/v2/xacsv", False, id="starlette-dot-literal"),
    ],
)
def test_template_matches(template: str, path: str, expected: bool) -> None:
    compiled = compile_template(template)

    assert compiled.matches(path) is expected
    assert (compiled.regex.fullmatch(path) is not None) is expected


STARLETTE_TEMPLATES = [
    "/users/{name}",
    "/users/{name:str}/files",
    "/users/{user_id:int}",
    "/scores/{value:float}",
    "/items/{item_id:uuid}",
    "/files/{rest:path}",
    "/files/{rest:path}/info",
    "/files{rest:path}",
    "/v{version:int}/x.csv",
    "/files/{file_id:int}/download.{kind}",
    "/{a}-{b:int}",
]

STARLETTE_PATHS = [
    "/",
    "/users/ann",
    "/users/",
    "/users/12",
    "/users/12/files",
    "/users/a/b/files",
    "/scores/2.5",
    "/scores/2",
    "/scores/2.",
    "/scores/2x5",
    "/scores/x",
    f"/items/{UUID}",
    "/items/" + UUID.upper(),
    "/items/" + UUID.replace("-", ""),
    "/items/" + UUID[:-1],
    "/files",
    "/files/",
    "/files/a/b",
    "/files//info",
    "/files/a/info",
    "/filesx/y",
    "/v2/x.csv",
    "/v2/xacsv",
    "/vx/x.csv",
    "/files/7/download.pdf",
    "/files/7/download.",
    "/files/7/downloadxpdf",
    "/x-1",
    "/x-y",
    "/x-",
]


@pytest.mark.parametrize("template", STARLETTE_TEMPLATES)
def test_converters_match_starlette(template: str) -> None:
    compiled = compile_template(template)
    starlette_regex = compile_path(template)[0]

    for path in STARLETTE_PATHS:
        expected = starlette_regex.match(path) is not None
        assert compiled.matches(path) is expected, path


STARLETTE_PIECES = [
    "/a",
    "/b.c",
    "/{NAME}",
    "/{NAME:str}",
    "/{NAME:int}",
    "/{NAME:float}",
    "/{NAME:uuid}",
    "/{NAME:path}",
    "/v{NAME:int}",
    "/{NAME}.json",
    "/{NAME:int}-{NAME:str}",
]

SAMPLE_SEGMENTS = [
    "",
    "a",
    "b.c",
    "bxc",
    "7",
    "2.5",
    "2x5",
    "v3",
    "x.json",
    "1-a",
    UUID,
    "a/b",
]


@st.composite
def starlette_templates(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.sampled_from(STARLETTE_PIECES), min_size=1, max_size=4))
    names = (f"p{index}" for index in itertools.count())
    return "".join(re.sub("NAME", lambda _: next(names), piece) for piece in pieces)


@settings(max_examples=300, deadline=None)
@given(
    template=starlette_templates(),
    segments=st.lists(st.sampled_from(SAMPLE_SEGMENTS), min_size=1, max_size=5),
)
def test_starlette_regex_agreement(template: str, segments: list[str]) -> None:
    path = "/" + "/".join(segments)

    expected = compile_path(template)[0].match(path) is not None

    assert compile_template(template).matches(path) is expected


@pytest.mark.parametrize(
    ("template", "scope_path"),
    [
        pytest.param("/files/:file_id/download.:type", "/files/:file_id/download", id="type"),
        pytest.param("/files/:file_id/download", "/files/:file_id/download", id="no-format"),
        pytest.param(
            "/files/:file_id/download(.:format)", "/files/:file_id/download", id="format-group"
        ),
        pytest.param("/files/:file_id(.:anything)", "/files/:file_id", id="any-format-name"),
        pytest.param("/files/:file_id.:kind", "/files/:file_id", id="type-after-param"),
        pytest.param("/reports(.:format)/latest", "/reports(.:format)/latest", id="inner-group"),
        pytest.param("/imports(/group/:id)", "/imports(/group/:id)", id="trailing-group"),
        pytest.param("/a(/b(/c))", "/a(/b(/c))", id="nested-groups"),
        pytest.param("/data(/*scope)", "/data(/*scope)", id="glob-group"),
        pytest.param("/x.csv", "/x.csv", id="literal-dot"),
        pytest.param("/jobs2/:bucket/by_:group", "/jobs2/:bucket/by_:group", id="mid-segment"),
        pytest.param("/users/{user_id:int}", "/users/:user_id", id="starlette-int"),
        pytest.param("/users/{name}", "/users/:name", id="starlette-str"),
        pytest.param("/files/{rest:path}", "/files/*rest", id="starlette-path"),
        pytest.param(
            "/files/{file_id:int}/download.{kind}", "/files/:file_id/download", id="starlette-type"
        ),
    ],
)
def test_scope_path(template: str, scope_path: str) -> None:
    assert compile_template(template).scope_path == scope_path


def test_format_variants_share_scope() -> None:
    scopes = {
        Route("GET", "/api/v1/files/:id/download").scope,
        Route("GET", "/api/v1/files/:id/download.:type").scope,
        Route("GET", "/api/v1/files/:id/download(.:format)").scope,
        Route("GET", "/api/v1/files/{id:int}/download.{type}").scope,
    }

    assert scopes == {"url:GET|/api/v1/files/:id/download"}


@pytest.mark.parametrize(
    ("template", "canvas_path"),
    [
        pytest.param("/files/:id/download(.:format)", "/files/:id/download(.:format)", id="rails"),
        pytest.param("/users/{user_id:int}/{rest:path}", "/users/:user_id/*rest", id="starlette"),
    ],
)
def test_canvas_path(template: str, canvas_path: str) -> None:
    assert compile_template(template).canvas_path == canvas_path


@pytest.mark.parametrize(
    ("template", "names"),
    [
        pytest.param("/courses", (), id="none"),
        pytest.param("/jobs2/:bucket/by_:group", ("bucket", "group"), id="mid-segment"),
        pytest.param("/a/:a(/b/:b(/*c))(.:format)", ("a", "b", "c", "format"), id="groups"),
        pytest.param("/u/{user_id:int}/{rest:path}", ("user_id", "rest"), id="starlette"),
    ],
)
def test_template_param_names(template: str, names: tuple[str, ...]) -> None:
    assert compile_template(template).param_names == names


@pytest.mark.parametrize(
    ("template", "problem", "fix"),
    [
        pytest.param("api/v1/courses", "must start with '/'", "start with '/'", id="relative"),
        pytest.param("", "must start with '/'", "start with '/'", id="empty"),
        pytest.param("/a(/b", "unbalanced '(' at position 2", "close", id="open-group"),
        pytest.param("/a(/b(/c)", "unbalanced '(' at position 2", "close", id="open-nested-group"),
        pytest.param("/a/b)", "unbalanced ')'", "remove it or add '('", id="close-group"),
        pytest.param("/a)(/b", "unbalanced ')'", "remove it or add '('", id="close-before-open"),
        pytest.param("/a()", "empty group '()'", "remove it", id="empty-group"),
        pytest.param("/a(/b())", "empty group '()'", "remove it", id="empty-nested-group"),
        pytest.param(
            "/a/:id/b/:id", "duplicate parameter name id", "its own name", id="duplicate-param"
        ),
        pytest.param(
            "/a/:id(/*id)", "duplicate parameter name id", "its own name", id="duplicate-glob"
        ),
        pytest.param(
            "/a/{id}/{id:int}", "duplicate parameter name id", "its own name", id="duplicate-brace"
        ),
        pytest.param(
            "/a/{id:integer}",
            "unknown converter 'integer'",
            "use one of str, int, float, uuid, path",
            id="unknown-converter",
        ),
        pytest.param("/a/:", "':' at position 3", "parameter name made of", id="colon-alone"),
        pytest.param("/a/:/b", "':' at position 3", "parameter name made of", id="colon-slash"),
        pytest.param("/a/:1", "':' at position 3", "parameter name made of", id="colon-digit"),
        pytest.param("/a/*", "'*' at position 3", "glob name made of", id="star-alone"),
        pytest.param("/a/*(.:f)", "'*' at position 3", "glob name made of", id="star-group"),
        pytest.param("/a/{id}/:b", "':' outside", "'{name:converter}'", id="mix-colon"),
        pytest.param("/a/{id}/*rest", "'*' outside", "'{name:converter}'", id="mix-star"),
        pytest.param("/a/{id}(/b)", "'(' outside", "'{name:converter}'", id="mix-group"),
        pytest.param("/a/:id/{b}", "':' outside", "'{name:converter}'", id="mix-brace-later"),
        pytest.param("/a/{id", "'{' outside", "'{name:converter}'", id="open-brace"),
        pytest.param("/a/id}", "'}' outside", "'{name:converter}'", id="close-brace"),
        pytest.param("/a/{1}", "'{' outside", "'{name:converter}'", id="brace-digit-name"),
        pytest.param("/a\x00b", "control character", "remove", id="control-character"),
        pytest.param("/a b", "whitespace", "remove", id="space"),
        pytest.param(
            "/a(/b)(/c)(/d)(/e)(/f)(/g)(/h)",
            "more than 64 combinations",
            "split the route",
            id="too-many-groups",
        ),
    ],
)
def test_template_rejects(template: str, problem: str, fix: str) -> None:
    with pytest.raises(RouteTemplateError) as raised:
        compile_template(template)

    message = str(raised.value)
    assert isinstance(raised.value, ConfigurationError)
    assert raised.value.template == template
    assert repr(template) in message
    assert problem in message
    assert fix in message


def test_template_group_limit() -> None:
    # Six chained groups give exactly 2**6 = 64 variants, the maximum accepted.
    compiled = compile_template("/a(/b)(/c)(/d)(/e)(/f)(/g)")

    assert len(compiled.variants) == 64
    assert compiled.matches("/a/c/e/g")


def test_template_rejects_non_string() -> None:
    template: Any = b"/a"

    with pytest.raises(RouteTemplateError, match="must be a string"):
        compile_template(template)

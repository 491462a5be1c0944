"""Tests of target_problem: which request targets are rejected before a decision, and why.

Every row gives the decoded path and the raw_path a server passes in the ASGI scope, as
uvicorn builds them, or None where the server gives no raw_path. Each attack sits next to
a legitimate target that resembles it and must pass. The last test sends real requests to
uvicorn on 127.0.0.1, so the scope values come from a server and not from this file.
"""

from __future__ import annotations

import dataclasses
import http.client
import itertools
import re
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scopeguard import ConfigurationError, TargetChecks, target_problem
from scopeguard._types import ASGIApp, Receive, Scope, Send

FIELDS = tuple(field.name for field in dataclasses.fields(TargetChecks))
ALL_ON = TargetChecks()
ALL_OFF = TargetChecks(**dict.fromkeys(FIELDS, False))
EVERY_CHECKS = [
    TargetChecks(*flags) for flags in itertools.product((True, False), repeat=len(FIELDS))
]


def without(name: str) -> TargetChecks:
    """Return the default checks with the check ``name`` turned off."""
    return dataclasses.replace(ALL_ON, **{name: False})


def only(name: str) -> TargetChecks:
    """Return checks with only the check ``name`` turned on."""
    return dataclasses.replace(ALL_OFF, **{name: True})


def server_path(raw_path: bytes) -> str:
    """Return the ``path`` a server puts in the scope for ``raw_path``, as uvicorn decodes it.

    uvicorn decodes the ASCII target with ``urllib.parse.unquote``. Latin-1 replaces ASCII
    here, so that random bytes above 0x7F decode too.
    """
    return unquote(raw_path.partition(b"?")[0].decode("latin-1"))


# The reasons target_problem may return: the rule, and at most an escape, a dot segment or
# a character code. Nothing else of the target reaches the client.
SAFE_REASON = re.compile(
    r"the request path contains (?:"
    r"an encoded (?:slash \(%2[Ff]\)|backslash \(%5[Cc]\))"
    r"|a control character \(0x(?:[01][0-9A-F]|7F)\)"
    r"|an encoded control character \(%(?:[01][0-9A-Fa-f]|7[Ff])\)"
    r"|a dot segment \((?:\.|%2[Ee]){1,2}\)"
    r"|a double-encoded escape \((?:%25[0-9A-Fa-f]{2}|%[0-9A-Fa-f]{2} after decoding)\)"
    r"|a backslash"
    r")"
)

# (path, raw_path, checks, expected reason fragment or None for accepted)
CASES = [
    # Encoded slashes.
    pytest.param(
        "/files/a/b", b"/files/a%2Fb", ALL_ON, "an encoded slash (%2F)", id="encoded-slash"
    ),
    pytest.param(
        "/files/a/b", b"/files/a%2fb", ALL_ON, "an encoded slash (%2f)", id="encoded-slash-lower"
    ),
    pytest.param("/files/a/b", b"/files/a/b", ALL_ON, None, id="literal-slash"),
    pytest.param(
        "/files/a\\b", b"/files/a%5Cb", ALL_ON, "an encoded backslash (%5C)", id="encoded-backslash"
    ),
    pytest.param(
        "/files/a\\b",
        b"/files/a%5cb",
        ALL_ON,
        "an encoded backslash (%5c)",
        id="encoded-backslash-lower",
    ),
    pytest.param("/files/a b", b"/files/a%20b", ALL_ON, None, id="encoded-space"),
    pytest.param(
        "/files/a/b", b"/files/a%2Fb", without("encoded_slashes"), None, id="encoded-slash-off"
    ),
    # Only the backslash rule could reject this, and with raw_path it reads literal ones only.
    pytest.param(
        "/files/a\\b",
        b"/files/a%5Cb",
        without("encoded_slashes"),
        None,
        id="encoded-backslash-off",
    ),
    # Without raw_path, a decoded %2F is an ordinary slash: nothing can find it.
    pytest.param("/files/a/b", None, ALL_ON, None, id="encoded-slash-without-raw-path"),
    # Control characters.
    pytest.param(
        "/files/a\nb",
        b"/files/a%0Ab",
        ALL_ON,
        "an encoded control character (%0A)",
        id="encoded-newline",
    ),
    pytest.param(
        "/files/a\x00",
        b"/files/a%00",
        ALL_ON,
        "an encoded control character (%00)",
        id="encoded-nul",
    ),
    pytest.param(
        "/files/a\x1f",
        b"/files/a%1f",
        ALL_ON,
        "an encoded control character (%1f)",
        id="encoded-unit-separator-lower",
    ),
    pytest.param(
        "/files/a\x7f",
        b"/files/a%7F",
        ALL_ON,
        "an encoded control character (%7F)",
        id="encoded-delete",
    ),
    pytest.param("/files/~a", b"/files/%7Ea", ALL_ON, None, id="encoded-tilde"),
    pytest.param("/files/a 1", b"/files/a%201", ALL_ON, None, id="encoded-space-then-digit"),
    pytest.param(
        "/files/a\tb", b"/files/a\tb", ALL_ON, "a control character (0x09)", id="literal-tab"
    ),
    pytest.param(
        "/files/a\n", None, ALL_ON, "a control character (0x0A)", id="newline-without-raw-path"
    ),
    pytest.param(
        "/files/a\x7f", None, ALL_ON, "a control character (0x7F)", id="delete-without-raw-path"
    ),
    pytest.param("/files/a%1", b"/files/a%1", ALL_ON, None, id="incomplete-escape"),
    # U+0085 is a C1 control character, outside the ASCII range that the rule covers.
    pytest.param("/files/\x85", b"/files/%C2%85", ALL_ON, None, id="c1-control"),
    pytest.param(
        "/files/a\nb",
        b"/files/a%0Ab",
        without("control_characters"),
        None,
        id="encoded-newline-off",
    ),
    # Dot segments.
    pytest.param("/files/../admin", b"/files/../admin", ALL_ON, "a dot segment (..)", id="dot-dot"),
    pytest.param("/files/./admin", b"/files/./admin", ALL_ON, "a dot segment (.)", id="dot"),
    pytest.param("/files/..", b"/files/..", ALL_ON, "a dot segment (..)", id="trailing-dot-dot"),
    pytest.param("/files/.", b"/files/.", ALL_ON, "a dot segment (.)", id="trailing-dot"),
    pytest.param("..", b"..", ALL_ON, "a dot segment (..)", id="target-is-dot-dot"),
    pytest.param("/files/a.b", b"/files/a.b", ALL_ON, None, id="dot-in-name"),
    pytest.param("/files/..foo", b"/files/..foo", ALL_ON, None, id="dot-dot-prefix"),
    pytest.param("/files/foo..", b"/files/foo..", ALL_ON, None, id="dot-dot-suffix"),
    pytest.param("/files/...", b"/files/...", ALL_ON, None, id="three-dots"),
    pytest.param("/files/.hidden", b"/files/.hidden", ALL_ON, None, id="dot-prefix"),
    pytest.param("/v1.2/x", b"/v1.2/x", ALL_ON, None, id="version-segment"),
    pytest.param(
        "/files/../admin",
        b"/files/%2e%2e/admin",
        ALL_ON,
        "a dot segment (%2e%2e)",
        id="encoded-dot-dot-lower",
    ),
    pytest.param(
        "/files/../admin",
        b"/files/%2E%2E/admin",
        ALL_ON,
        "a dot segment (%2E%2E)",
        id="encoded-dot-dot-upper",
    ),
    pytest.param(
        "/files/../admin",
        b"/files/.%2E/admin",
        ALL_ON,
        "a dot segment (.%2E)",
        id="half-encoded-dot-dot",
    ),
    pytest.param(
        "/files/./admin", b"/files/%2E/admin", ALL_ON, "a dot segment (%2E)", id="encoded-dot"
    ),
    pytest.param("/files/..foo", b"/files/%2e%2efoo", ALL_ON, None, id="encoded-dot-dot-prefix"),
    pytest.param(
        "/files/..;/admin",
        b"/files/..;/admin",
        ALL_ON,
        "a dot segment (..)",
        id="dot-dot-semicolon",
    ),
    pytest.param(
        "/files/..;jsessionid=1/admin",
        b"/files/..;jsessionid=1/admin",
        ALL_ON,
        "a dot segment (..)",
        id="dot-dot-path-parameter",
    ),
    pytest.param(
        "/files/.;x/admin", b"/files/.;x/admin", ALL_ON, "a dot segment (.)", id="dot-semicolon-x"
    ),
    pytest.param("/files/a;../admin", b"/files/a;../admin", ALL_ON, None, id="dots-in-parameter"),
    pytest.param(
        "/files/..;/admin",
        b"/files/..%3B/admin",
        ALL_ON,
        "a dot segment (..)",
        id="dot-dot-encoded-semicolon",
    ),
    pytest.param(
        "/files\\..\\admin",
        b"/files\\..\\admin",
        without("backslashes"),
        "a dot segment (..)",
        id="backslash-separated",
    ),
    pytest.param(
        "/files/../admin",
        b"/files%2F..%2Fadmin",
        without("encoded_slashes"),
        "a dot segment (..)",
        id="encoded-slash-separated",
    ),
    pytest.param(
        "/files\\..\\admin",
        b"/files%5C..%5Cadmin",
        without("encoded_slashes"),
        "a dot segment (..)",
        id="encoded-backslash-separated",
    ),
    pytest.param(
        "/files/../admin", None, ALL_ON, "a dot segment (..)", id="dot-dot-without-raw-path"
    ),
    # A dot segment is a whole segment: "..\n" is not one, although "$" would match there.
    pytest.param(
        "/files/..\n", b"/files/..\n", only("dot_segments"), None, id="dot-dot-then-newline"
    ),
    pytest.param(
        "/files/../admin", b"/files/../admin", without("dot_segments"), None, id="dot-dot-off"
    ),
    # Double encoding.
    pytest.param(
        "/files/%2F",
        b"/files/%252F",
        ALL_ON,
        "a double-encoded escape (%252F)",
        id="double-encoded-slash",
    ),
    pytest.param(
        "/files/%41",
        b"/files/%2541",
        ALL_ON,
        "a double-encoded escape (%2541)",
        id="double-encoded-letter",
    ),
    pytest.param("/files/A", b"/files/%41", ALL_ON, None, id="encoded-letter"),
    pytest.param(
        "/files/%2e%2e/admin",
        b"/files/%252e%252e/admin",
        ALL_ON,
        "a double-encoded escape (%252e)",
        id="double-encoded-dots",
    ),
    pytest.param(
        "/files/%41",
        b"/files/%25%34%31",
        ALL_ON,
        "a double-encoded escape (%41 after decoding)",
        id="double-encoded-spelled-out",
    ),
    pytest.param(
        "/files/%2F",
        None,
        ALL_ON,
        "a double-encoded escape (%2F after decoding)",
        id="double-encoded-without-raw-path",
    ),
    pytest.param("/files/100%", b"/files/100%25", ALL_ON, None, id="encoded-percent-sign"),
    pytest.param("/files/50%off", b"/files/50%25off", ALL_ON, None, id="encoded-percent-then-text"),
    pytest.param("/files/%zz", b"/files/%25zz", ALL_ON, None, id="encoded-percent-then-non-hex"),
    pytest.param(
        "/files/%2F", b"/files/%252F", without("double_encoding"), None, id="double-encoded-off"
    ),
    # Backslashes.
    pytest.param("/files\\admin", b"/files\\admin", ALL_ON, "a backslash", id="backslash"),
    pytest.param("/files/admin", b"/files/admin", ALL_ON, None, id="slash-for-backslash"),
    pytest.param("/files\\admin", None, ALL_ON, "a backslash", id="backslash-without-raw-path"),
    # Without raw_path, a decoded %5C and a literal backslash look the same.
    pytest.param(
        "/files\\admin",
        None,
        without("encoded_slashes"),
        "a backslash",
        id="backslash-without-raw-path-encoded-slashes-off",
    ),
    pytest.param(
        "/files\\admin", b"/files\\admin", without("backslashes"), None, id="backslash-off"
    ),
    # The query string takes no part, even when a server leaves it in raw_path.
    pytest.param("/search", b"/search", ALL_ON, None, id="query-string-left-out"),
    pytest.param(
        "/search",
        b"/search?q=a%2Fb%0A/../%252F\\",
        ALL_ON,
        None,
        id="query-string-in-raw-path",
    ),
    pytest.param("/search", b"/search?", ALL_ON, None, id="empty-query-string-in-raw-path"),
    # Nothing is trimmed, case-folded or merged.
    pytest.param("/files//a", b"/files//a", ALL_ON, None, id="empty-segment"),
    pytest.param("/files/", b"/files/", ALL_ON, None, id="trailing-slash"),
    pytest.param("/FILES/A", b"/FILES/A", ALL_ON, None, id="upper-case"),
    pytest.param("", b"", ALL_ON, None, id="empty-path"),
    pytest.param("/files/é", b"/files/%C3%A9", ALL_ON, None, id="encoded-non-ascii"),
    # With several problems, the rules run in the order of the TargetChecks fields.
    pytest.param(
        "/a/b/../\n",
        b"/a%2Fb/../%0A",
        ALL_ON,
        "an encoded slash (%2F)",
        id="encoded-slash-reported-first",
    ),
    pytest.param(
        "/../\n",
        b"/../%0A",
        ALL_ON,
        "an encoded control character (%0A)",
        id="control-character-before-dot-segment",
    ),
    pytest.param(
        "/../%41", b"/../%2541", ALL_ON, "a dot segment (..)", id="dot-segment-before-double"
    ),
    pytest.param(
        "/a\\%41",
        b"/a\\%2541",
        ALL_ON,
        "a double-encoded escape (%2541)",
        id="double-encoding-before-backslash",
    ),
]

# Every row's target, the rows that are rejected with their checks, and the rows that
# carry a raw_path.
TARGETS = [pytest.param(*case.values[:2], id=case.id) for case in CASES]
ATTACKS = [
    pytest.param(*case.values[:3], id=case.id) for case in CASES if case.values[3] is not None
]
WITH_RAW_PATH = [
    pytest.param(*case.values[:2], id=case.id) for case in CASES if case.values[1] is not None
]


# raw_path is read on its own, so a problem only it shows is found even when the path
# was rewritten, for example by a framework that changed scope["path"] but not raw_path.
RAW_ONLY_CASES = [
    pytest.param(b"/files/a%2Fb", "an encoded slash (%2F)", id="encoded-slash"),
    pytest.param(b"/files/a%0Ab", "an encoded control character (%0A)", id="encoded-newline"),
    pytest.param(b"/files/a\x7fb", "a control character (0x7F)", id="literal-delete"),
    pytest.param(b"/files/..;/admin", "a dot segment (..)", id="dot-dot-semicolon"),
    pytest.param(b"/files/..", "a dot segment (..)", id="trailing-dot-dot"),
    pytest.param(b"%2e%2e/admin", "a dot segment (%2e%2e)", id="target-starts-encoded-dot-dot"),
    pytest.param(b"/files\\%2E\\admin", "a dot segment (%2E)", id="backslash-encoded-dot"),
    pytest.param(b"/files/%2541", "a double-encoded escape (%2541)", id="double-encoded"),
    pytest.param(b"/files\\admin", "a backslash", id="backslash"),
]


@pytest.mark.parametrize(("raw_path", "expected"), RAW_ONLY_CASES)
def test_raw_path_read_on_its_own(raw_path: bytes, expected: str) -> None:
    problem = target_problem("/files/admin", raw_path)

    assert problem is not None
    assert expected in problem


@pytest.mark.parametrize(("path", "raw_path", "checks", "expected"), CASES)
def test_target_problem(
    path: str, raw_path: bytes | None, checks: TargetChecks, expected: str | None
) -> None:
    problem = target_problem(path, raw_path, checks)

    if expected is None:
        assert problem is None
    else:
        assert problem is not None
        assert expected in problem


@pytest.mark.parametrize(("path", "raw_path"), WITH_RAW_PATH)
def test_cases_decode_as_server(path: str, raw_path: bytes) -> None:
    """Each row's path is what a server decodes from its raw_path, so the rows are real."""
    assert server_path(raw_path) == path


@pytest.mark.parametrize(("path", "raw_path", "checks"), ATTACKS)
def test_attack_reason_is_safe(path: str, raw_path: bytes | None, checks: TargetChecks) -> None:
    problem = target_problem(path, raw_path, checks)

    assert problem is not None
    assert SAFE_REASON.fullmatch(problem) is not None


@pytest.mark.parametrize(("path", "raw_path"), TARGETS)
def test_all_checks_off_accept_every_target(path: str, raw_path: bytes | None) -> None:
    assert target_problem(path, raw_path, ALL_OFF) is None


def test_default_checks_are_on() -> None:
    assert [name for name in FIELDS if getattr(TargetChecks(), name) is not True] == []


def test_fields_in_documented_order() -> None:
    """The rule order that the docstring promises is the order of these fields."""
    assert FIELDS == (
        "encoded_slashes",
        "control_characters",
        "dot_segments",
        "double_encoding",
        "backslashes",
    )


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("value", [1, 0, "yes", None], ids=["one", "zero", "string", "none"])
def test_checks_reject_non_bool(name: str, value: object) -> None:
    with pytest.raises(ConfigurationError) as raised:
        TargetChecks(**{name: value})  # type: ignore[arg-type]

    assert f"TargetChecks.{name} must be True or False" in str(raised.value)
    assert repr(value) in str(raised.value)


def test_checks_are_frozen() -> None:
    checks = TargetChecks()

    with pytest.raises(dataclasses.FrozenInstanceError):
        checks.dot_segments = False  # type: ignore[misc]


# Raw paths are built as separators, each followed by a segment. A segment is a dot segment
# in one of its spellings, a plain name, or a few pieces: dots, escapes of every kind the
# rules look for in both cases, parameters and text. The separators include the encoded
# ones and "?", which starts a query string.
SEPARATORS = ("/", "/", "/", "\\", "%2F", "%2f", "%5C", "%5c", "?")
DOT_SEGMENTS = (".", "..", "%2e", "%2E%2e", ".%2E", "..;", ".;x", "..%3B")
NAMES = ("files", "a.b", "v1.2", "..foo", "", "report%20v2.pdf")
PIECES = (
    ".", "..", ";", "%", "%2e", "%2E", "%25", "%0a", "%7f", "%41", "%20", "%3B", "%C2%85",
    "%FF", "2F", "e", "41", "a", "~", "\n", "\x00", "é",
)  # fmt: skip
segments = st.one_of(
    st.sampled_from(DOT_SEGMENTS),
    st.sampled_from(NAMES),
    st.lists(st.sampled_from(PIECES), max_size=3).map("".join),
)
structured_raw_paths = st.tuples(
    segments, st.lists(st.tuples(st.sampled_from(SEPARATORS), segments), max_size=6)
).map(lambda parts: (parts[0] + "".join(sep + segment for sep, segment in parts[1])).encode())
raw_paths = st.one_of(st.binary(max_size=48), structured_raw_paths)
checks_strategy = st.builds(TargetChecks, *(st.booleans() for _ in FIELDS))
# Text with the characters the rules read, lone surrogates and any other code point.
texts = st.text(
    st.one_of(
        st.sampled_from(["/", ".", "%", "\\", ";", "?", "\n", "\x00", "\ud800", "\udfff"]),
        st.characters(),
    ),
    max_size=32,
)


@settings(max_examples=500)
@given(raw_path=raw_paths, checks=checks_strategy)
def test_server_target_never_raises(raw_path: bytes, checks: TargetChecks) -> None:
    path = server_path(raw_path)

    for raw in (raw_path, None):
        problem = target_problem(path, raw, checks)
        assert problem is None or SAFE_REASON.fullmatch(problem) is not None


@settings(max_examples=500)
@given(path=texts, raw_path=st.one_of(st.none(), raw_paths), checks=checks_strategy)
def test_unrelated_path_never_raises(
    path: str, raw_path: bytes | None, checks: TargetChecks
) -> None:
    """A path that does not match raw_path, as a faulty server could send, raises nothing."""
    problem = target_problem(path, raw_path, checks)

    assert problem is None or SAFE_REASON.fullmatch(problem) is not None


@settings(max_examples=500)
@given(raw_path=raw_paths)
def test_check_off_never_rejects_more(raw_path: bytes) -> None:
    """Under every combination of checks, turning one more off keeps an accepted target."""
    path = server_path(raw_path)

    for raw in (raw_path, None):
        for checks in EVERY_CHECKS:
            if target_problem(path, raw, checks) is not None:
                continue
            for name in FIELDS:
                fewer = dataclasses.replace(checks, **{name: False})
                assert target_problem(path, raw, fewer) is None, (checks, name)


@settings(max_examples=500)
@given(raw_path=raw_paths)
def test_reason_comes_from_first_rule(raw_path: bytes) -> None:
    """All checks together return the reason of the first field whose check alone rejects."""
    path = server_path(raw_path)

    for raw in (raw_path, None):
        alone = [target_problem(path, raw, only(name)) for name in FIELDS]
        first = next((problem for problem in alone if problem is not None), None)
        assert target_problem(path, raw, ALL_ON) == first


def remove_dot_segments(path: str) -> str:
    """Apply the remove_dot_segments steps of RFC 3986 section 5.2.4 to ``path``."""
    output: list[str] = []  # segments, each with the "/" before it if it had one
    rest = path
    while rest:
        if rest.startswith("../"):
            rest = rest[3:]
        elif rest.startswith("./"):
            rest = rest[2:]
        elif rest.startswith("/./") or rest == "/.":
            rest = "/" + rest[3:]
        elif rest.startswith("/../") or rest == "/..":
            rest = "/" + rest[4:]
            if output:
                output.pop()
        elif rest in (".", ".."):
            rest = ""
        else:
            end = rest.find("/", 1)
            end = len(rest) if end == -1 else end
            output.append(rest[:end])
            rest = rest[end:]
    return "".join(output)


def test_remove_dot_segments_examples() -> None:
    """The test oracle gives the results of the RFC's two worked examples."""
    assert remove_dot_segments("/a/b/c/./../../g") == "/a/g"
    assert remove_dot_segments("mid/content=5/../6") == "mid/6"


@settings(max_examples=500)
@given(raw_path=raw_paths)
def test_accepted_target_is_normal(raw_path: bytes) -> None:
    """An accepted path stays the same under a second decoding and dot-segment removal.

    The dot-segment removal also reads a backslash as a slash and drops ";" parameters,
    as the servers do that the rule guards against.
    """
    path = server_path(raw_path)
    if target_problem(path, raw_path) is not None:
        return
    as_separators = path.replace("\\", "/")
    without_parameters = "/".join(segment.split(";")[0] for segment in as_separators.split("/"))

    assert unquote(path) == path
    assert remove_dot_segments(without_parameters) == without_parameters
    assert re.search(rb"%(?:2f|5c)", raw_path.partition(b"?")[0], re.IGNORECASE) is None
    assert re.search("[\x00-\x1f\x7f]", path) is None


async def report_target_problem(scope: Scope, receive: Receive, send: Send) -> None:
    """Respond 400 with the reason of target_problem for the scope, or 200 "accepted"."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    problem = target_problem(scope["path"], scope.get("raw_path"))
    status = 200 if problem is None else 400
    body = (problem or "accepted").encode("ascii")
    headers = [(b"content-type", b"text/plain; charset=ascii")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def target_server(serve_asgi_module: Callable[[ASGIApp], str]) -> tuple[str, int]:
    """Serve ``report_target_problem`` with uvicorn and return its host and port."""
    address = urlsplit(serve_asgi_module(report_target_problem))
    assert address.hostname is not None
    assert address.port is not None
    return address.hostname, address.port


@pytest.mark.parametrize(
    ("target", "status", "body"),
    [
        pytest.param("/files/a%2Fb", 400, "an encoded slash (%2F)", id="encoded-slash"),
        pytest.param("/files/a%20b", 200, "accepted", id="encoded-space"),
        pytest.param("/files/a%0Ab", 400, "an encoded control character (%0A)", id="newline"),
        pytest.param("/files/%2e%2e/admin", 400, "a dot segment (%2e%2e)", id="encoded-dots"),
        pytest.param("/files/..;/admin", 400, "a dot segment (..)", id="dot-dot-semicolon"),
        pytest.param("/files/..foo", 200, "accepted", id="dot-dot-prefix"),
        pytest.param("/v1.2/report.pdf", 200, "accepted", id="dots-in-names"),
        pytest.param("/files/%252F", 400, "a double-encoded escape (%252F)", id="double-encoded"),
        pytest.param("/files/%41", 200, "accepted", id="encoded-letter"),
        pytest.param("/files/%zz", 200, "accepted", id="malformed-escape"),
        pytest.param("/files\\admin", 400, "a backslash", id="backslash"),
        pytest.param(
            "/search?q=%2F..%2F%252F%0A%5C", 200, "accepted", id="escapes-in-query-string"
        ),
    ],
)
def test_uvicorn_scope(target_server: tuple[str, int], target: str, status: int, body: str) -> None:
    """uvicorn's path and raw_path for a target give the outcome of the table above."""
    host, port = target_server
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        text = response.read().decode("ascii")
    finally:
        connection.close()

    assert response.status == status
    assert body in text

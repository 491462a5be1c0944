"""A pytest plugin: fixtures for scope policy tests, and policy table files as test items.

pytest loads it through the ``pytest11`` entry point when scopeguard is installed. It
provides two fixtures:

* ``scopeguard_tokens``: a :class:`~scopeguard.testing.TokenFactory` for the session.
* ``scopeguard_client``: a function that wraps a guarded ASGI app in a
  :class:`~scopeguard.testing.ScopeClient`, closed when the test ends.

It also collects files named ``policy_*.toml``. Each ``[[cases]]`` entry becomes a test
that decides one request against the file's route table, without a server::

    routes = "routes.toml"  # a route file beside this one, or module:attribute

    [tokens]
    teacher = ["url:GET|/api/v1/courses/:course_id"]

    [[cases]]
    method = "GET"
    path = "/api/v1/courses/7"
    token = "teacher"  # a named token, or scopes = [...], or neither for no token
    expect = "allowed"  # or "denied", or a status such as 403
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from scopeguard.policy import Decision, Policy
    from scopeguard.testing import ScopeClient, TokenFactory

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["PolicyCase", "PolicyFile"]

_CASE_KEYS = ("method", "path", "scopes", "token", "expect", "reason", "name")
# An HTTP method is a token; these are the upper-case ones.
_METHOD = re.compile(r"[A-Z][A-Z0-9_-]*")
# The reasons Policy.decide gives; the middleware's own reasons cannot occur in a case.
_REASONS = frozenset(
    {
        "allowed",
        "public",
        "passed_unmatched",
        "bad_request",
        "missing_token",
        "insufficient_scope",
        "no_route",
        "method_not_allowed",
    }
)
_FILE_KEYS = ("routes", "precedence", "tokens", "cases")


@pytest.fixture(scope="session")
def scopeguard_tokens() -> TokenFactory:
    """Return a token factory shared by the test session."""
    from scopeguard.testing import TokenFactory

    return TokenFactory()


@pytest.fixture
def scopeguard_client(scopeguard_tokens: TokenFactory) -> Iterator[Callable[[Any], ScopeClient]]:
    """Provide a function that returns a started :class:`ScopeClient` for a guarded app."""
    from scopeguard.testing import ScopeClient

    clients: list[ScopeClient] = []

    def make(app: Any) -> ScopeClient:
        client = ScopeClient(app, scopeguard_tokens).__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> PolicyFile | None:
    """Collect ``policy_*.toml`` files as policy tables."""
    if file_path.suffix == ".toml" and file_path.name.startswith("policy_"):
        return PolicyFile.from_parent(parent, path=file_path)
    return None


class PolicyFileError(Exception):
    """A policy file that cannot be read, with the file and the problem in its message."""


class PolicyFile(pytest.File):
    """A policy table file: a route table, named tokens and cases."""

    def collect(self) -> Iterator[PolicyCase]:
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PolicyFileError(f"{self.path.name}: cannot read it: {exc}") from None
        unknown = sorted(set(data) - set(_FILE_KEYS))
        if unknown:
            raise PolicyFileError(
                f"{self.path.name}: unknown key {unknown[0]!r}; allowed keys are "
                f"{', '.join(_FILE_KEYS)}"
            )
        policy = self._policy(data)
        tokens = _tokens(self.path.name, data.get("tokens", {}))
        cases = data.get("cases")
        if not isinstance(cases, list) or not cases:
            raise PolicyFileError(f"{self.path.name}: no [[cases]]; add at least one")
        parsed: list[_Case] = []
        problems: list[str] = []
        for number, entry in enumerate(cases, start=1):
            try:
                parsed.append(_case(f"case {number}", entry, tokens))
            except PolicyFileError as exc:
                problems.append(str(exc))
        if problems:
            # Every bad case at once, so that one run shows all there is to fix.
            raise PolicyFileError(f"{self.path.name}:\n  " + "\n  ".join(problems))
        names = [case.name for case in parsed]
        for number, case in enumerate(parsed, start=1):
            name = case.name if names.count(case.name) == 1 else f"{case.name} (case {number})"
            yield PolicyCase.from_parent(self, name=name, policy=policy, case=case)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, PolicyFileError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def _policy(self, data: Mapping[str, Any]) -> Policy:
        from scopeguard.errors import ConfigurationError
        from scopeguard.policy import Policy
        from scopeguard.sources import load_source
        from scopeguard.table import RouteTable

        source = data.get("routes")
        if not isinstance(source, str) or not source:
            raise PolicyFileError(
                f"{self.path.name}: 'routes' must name a route file or module:attribute"
            )
        beside = self.path.parent / source
        try:
            table = load_source(str(beside) if beside.exists() else source)
            precedence = data.get("precedence")
            if precedence is not None:
                table = RouteTable(table.routes, precedence=precedence)
        except ConfigurationError as exc:
            raise PolicyFileError(f"{self.path.name}: {exc}") from None
        return Policy(table)


class _Case:
    def __init__(
        self,
        name: str,
        method: str,
        path: str,
        scopes: list[str] | None,
        expect: str | int,
        reason: str | None,
    ) -> None:
        self.name = name
        self.method = method
        self.path = path
        self.scopes = scopes
        self.expect = expect
        self.reason = reason


class PolicyCase(pytest.Item):
    """One request of a policy file and the outcome it must have."""

    def __init__(self, *, policy: Policy, case: _Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.case = case

    def runtest(self) -> None:
        from scopeguard.testing import explain

        case = self.case
        decision = self.policy.decide(
            case.method, case.path, None if case.scopes is None else frozenset(case.scopes)
        )
        problem = _mismatch(case, decision)
        if problem is not None:
            raise PolicyCaseFailure(f"{problem}\n{explain(decision, f'{case.method} {case.path}')}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, PolicyCaseFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"policy case: {self.name}"


class PolicyCaseFailure(AssertionError):
    """A policy case whose decision differs from the expected one."""


def _mismatch(case: _Case, decision: Decision) -> str | None:
    expect = case.expect
    if expect == "allowed" and not decision.allowed:
        return "expected allowed, got denied"
    if expect == "denied" and decision.allowed:
        return "expected denied, got allowed"
    if isinstance(expect, int) and decision.status != expect:
        return f"expected status {expect}, got {decision.status}"
    if case.reason is not None and decision.reason.value != case.reason:
        return f"expected reason {case.reason!r}, got {decision.reason.value!r}"
    return None


def _tokens(label: str, tokens: object) -> dict[str, list[str]]:
    if not isinstance(tokens, Mapping):
        raise PolicyFileError(f"{label}: [tokens] must map token names to lists of scopes")
    named: dict[str, list[str]] = {}
    for name, scopes in tokens.items():
        if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
            raise PolicyFileError(f"{label}: token {name!r} must be a list of scope strings")
        named[name] = scopes
    return named


def _case(label: str, entry: object, tokens: Mapping[str, list[str]]) -> _Case:
    if not isinstance(entry, Mapping):
        raise PolicyFileError(f"{label}: must be a table")
    unknown = sorted(set(entry) - set(_CASE_KEYS))
    if unknown:
        raise PolicyFileError(
            f"{label}: unknown key {unknown[0]!r}; allowed keys are {', '.join(_CASE_KEYS)}"
        )
    method = entry.get("method", "GET")
    path = entry.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise PolicyFileError(f"{label}: needs a 'path' starting with '/'")
    if not isinstance(method, str) or _METHOD.fullmatch(method) is None:
        raise PolicyFileError(
            f"{label}: 'method' must be an upper-case method such as \"GET\", got {method!r}; "
            "methods are case-sensitive"
        )
    if "scopes" in entry and "token" in entry:
        raise PolicyFileError(f"{label}: give 'scopes' or 'token', not both")

    scopes: list[str] | None = None
    holder = "no token"
    if "token" in entry:
        token = entry["token"]
        if token not in tokens:
            known = ", ".join(sorted(tokens)) or "none"
            raise PolicyFileError(f"{label}: unknown token {token!r}; [tokens] has: {known}")
        scopes, holder = tokens[token], str(token)
    elif "scopes" in entry:
        listed = entry["scopes"]
        if not isinstance(listed, list) or not all(isinstance(scope, str) for scope in listed):
            raise PolicyFileError(f"{label}: 'scopes' must be a list of scope strings")
        scopes = listed
        holder = "scopes " + (", ".join(listed) if listed else "(none)")
    for scope in scopes or ():
        if scope.startswith("url:") and "{" in scope:
            raise PolicyFileError(
                f"{label}: scope {scope!r} is in Starlette notation; route scopes name "
                "parameters as ':name', as in 'url:GET|/api/v1/courses/:course_id'"
            )

    if "expect" not in entry:
        raise PolicyFileError(f'{label}: missing \'expect\' ("allowed", "denied" or a status)')
    expect = entry.get("expect")
    if expect not in ("allowed", "denied") and not (
        isinstance(expect, int) and not isinstance(expect, bool) and 100 <= expect <= 599
    ):
        raise PolicyFileError(
            f'{label}: \'expect\' must be "allowed", "denied" or a status, got {expect!r}'
        )
    reason = entry.get("reason")
    if reason is not None and reason not in _REASONS:
        raise PolicyFileError(
            f"{label}: unknown reason {reason!r}; use one of {', '.join(sorted(_REASONS))}"
        )
    name = entry.get("name") or f"{method} {path} with {holder}: {expect}"
    return _Case(str(name), method, path, scopes, expect, reason)

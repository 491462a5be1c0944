"""The ``scopeguard`` command line: mint a development token, check a request, lint a route
table, run the demo.

Exit status: 0 when the command succeeds (for ``check``, when the request is allowed, and
for ``lint``, when it finds no error), 1 when ``check`` denies the request or ``lint``
finds an error, 2 on a usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jwt

from scopeguard._request import OVERRIDE_REJECTED, method_override, scan_headers
from scopeguard._scopes_output import FORMATS, format_scopes
from scopeguard.catalogue import GROUP_BY_FIELDS, ScopeCatalogueEndpoint
from scopeguard.errors import BadRequest, ConfigurationError, InvalidToken, ScopeSyntaxError
from scopeguard.lint import Finding, check_scopes, compare_tables, lint_table
from scopeguard.policy import Decision, Policy, Reason, explain_decision
from scopeguard.request_target import target_problem
from scopeguard.routefile import format_routes, load_routes
from scopeguard.scopes import ROUTE_SCOPE_PREFIX, parse_scope
from scopeguard.sources import load_source
from scopeguard.table import PRECEDENCES, RouteTable
from scopeguard.tokens import DEFAULT_SCOPE_CLAIMS, mint_token, scopes_from_claims

__all__ = ["main", "request_path"]

EXIT_ALLOWED, EXIT_DENIED, EXIT_USAGE = 0, 1, 2
# lint exits with EXIT_ALLOWED when it finds no error and with this status when it does.
EXIT_LINT_ERRORS = 1
SECRET_ENVIRONMENT_VARIABLE = "SCOPEGUARD_SECRET"  # noqa: S105 - a variable name


class UsageError(Exception):
    """A command-line argument is invalid. The message names the argument and the fix."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        status: int = arguments.handler(arguments)
    except (UsageError, ConfigurationError) as exc:
        print(f"scopeguard {arguments.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader of the output went away, as "scopeguard scopes ... | head" does. Point
        # stdout at devnull so that flushing it at exit raises nothing either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return _status_after_broken_pipe(arguments.command)
    return status


def _status_after_broken_pipe(command: str) -> int:
    """Return the exit status of ``command`` when its reader closed the output early.

    ``check`` and ``lint`` report their verdict in the status, which a closed pipe must not
    turn into success, so they exit with the usage status. Other commands exit with 0.
    """
    return EXIT_USAGE if command in ("check", "lint") else EXIT_ALLOWED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scopeguard", description="Enforce Canvas-style route scopes of bearer tokens."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    token = commands.add_parser("token", help="print a signed development JWT")
    token.add_argument(
        "--secret",
        help=f"HMAC secret to sign with (default: the {SECRET_ENVIRONMENT_VARIABLE} "
        "environment variable, which keeps it out of the process list); write "
        "--secret=VALUE when it starts with '-'",
    )
    token.add_argument("--algorithm", default="HS256", choices=["HS256", "HS384", "HS512"])
    token.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="a scope to grant, such as 'url:GET|/api/v1/courses'; repeat for more",
    )
    token.add_argument(
        "--expires-in",
        type=int,
        default=3600,
        metavar="SECONDS",
        help="lifetime of the token in seconds (default: 3600)",
    )
    token.add_argument("--subject", default="dev-user", help="the 'sub' claim (default: dev-user)")
    token.add_argument("--audience", help="the 'aud' claim, if the verifier checks one")
    token.add_argument("--issuer", help="the 'iss' claim, if the verifier checks one")
    token.set_defaults(handler=_token)

    check = commands.add_parser(
        "check",
        help="decide one request against a route file",
        description="Decide one request and print {allowed, status, scope, route, reason} as "
        "JSON. Exit status: 0 allowed, 1 denied, 2 usage or configuration error.",
    )
    check.add_argument(
        "--routes",
        required=True,
        metavar="FILE",
        help="route table file (.toml, .json or .tsv) or OpenAPI document (.yaml, .yml, .json)",
    )
    check.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="a scope the token carries; repeat for more",
    )
    check.add_argument(
        "--no-token",
        action="store_true",
        help="decide as a request without a token (only public routes are allowed)",
    )
    check.add_argument(
        "--precedence",
        choices=PRECEDENCES,
        help="override the file's precedence (default: the file's, else first_declared)",
    )
    check.add_argument(
        "--explain",
        action="store_true",
        help="print the decision explained in lines for people, instead of JSON",
    )
    check.add_argument("method", metavar="METHOD", help="the request method, such as GET")
    check.add_argument(
        "target",
        metavar="TARGET",
        help="the request target as sent on the wire: percent-encoded, optionally with a query",
    )
    check.set_defaults(handler=_check)

    _add_lint_parser(commands)
    _add_scopes_parser(commands)
    _add_routes_parser(commands)

    demo = commands.add_parser("demo", help="serve the Canvas files demo with uvicorn")
    demo.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    demo.add_argument(
        "--port", type=int, default=8000, help="port to bind, 0 for any free port (default: 8000)"
    )
    demo.add_argument(
        "--secret",
        help=f"HMAC secret of the demo tokens (default: the {SECRET_ENVIRONMENT_VARIABLE} "
        "environment variable, else a new random secret each run); write --secret=VALUE "
        "when it starts with '-'",
    )
    demo.set_defaults(handler=_demo)

    gateway = commands.add_parser(
        "gateway", help="serve a scopeguard gateway in front of an HTTP service with uvicorn"
    )
    gateway.add_argument("--config", required=True, help="the gateway's TOML file")
    gateway.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    gateway.add_argument("--port", type=int, default=8000, help="port to bind (default: 8000)")
    gateway.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    gateway.set_defaults(handler=_gateway)
    return parser


def _token(arguments: argparse.Namespace) -> int:
    secret = arguments.secret or os.environ.get(SECRET_ENVIRONMENT_VARIABLE)
    if not secret:
        raise UsageError(f"pass --secret or set {SECRET_ENVIRONMENT_VARIABLE}")
    if arguments.expires_in <= 0:
        raise UsageError(
            f"--expires-in must be a positive number of seconds, got {arguments.expires_in}"
        )
    _check_scopes(arguments.scope)
    print(
        mint_token(
            secret,
            arguments.scope,
            subject=arguments.subject,
            expires_in=arguments.expires_in,
            algorithm=arguments.algorithm,
            audience=arguments.audience,
            issuer=arguments.issuer,
        )
    )
    return EXIT_ALLOWED


def _check(arguments: argparse.Namespace) -> int:
    table = load_routes(arguments.routes)
    if arguments.precedence is not None:
        table = RouteTable(table.routes, precedence=arguments.precedence)
    path = request_path(arguments.target)
    _check_scopes(arguments.scope, {route.scope for route in table})
    if arguments.method != arguments.method.upper():
        print(
            f"scopeguard: warning: method {arguments.method!r} is not upper case; HTTP "
            "methods are case-sensitive, so it matches no route declared as "
            f"{arguments.method.upper()!r}",
            file=sys.stderr,
        )

    if arguments.no_token and arguments.scope:
        raise UsageError(
            "--no-token and --scope exclude each other: a request without a token has no scopes"
        )
    scopes = None if arguments.no_token else arguments.scope
    problem = target_rejection(arguments.target, path)
    if problem is not None:
        decision = Decision(False, 400, Reason.BAD_REQUEST, problem, error="invalid_request")
    else:
        decision = Policy(table).decide(arguments.method, path, scopes)
    if arguments.explain:
        print(explain_decision(decision, f"{arguments.method} {arguments.target}"))
        return EXIT_ALLOWED if decision.allowed else EXIT_DENIED
    result = {
        "allowed": decision.allowed,
        "status": decision.status,
        "scope": decision.required_scope,
        "route": decision.route.path if decision.route is not None else None,
        "reason": decision.message,
    }
    print(json.dumps(result))
    return EXIT_ALLOWED if decision.allowed else EXIT_DENIED


def request_path(target: str) -> str:
    """Return the ASGI ``path`` a server fills from the request target ``target``.

    The query is dropped and the rest percent-decoded as UTF-8, as uvicorn does. Raises
    :class:`UsageError` for a target that a server would reject: not starting with ``/``
    or containing characters that must be percent-encoded on the wire.
    """
    if not target.startswith("/"):
        raise UsageError(f"TARGET {target!r} must start with '/', as in '/api/v1/courses?page=2'")
    if not target.isascii() or any(character <= " " or character == "\x7f" for character in target):
        raise UsageError(
            f"TARGET {target!r} contains a space, control or non-ASCII character; "
            "percent-encode it as a client would"
        )
    raw_path = target.split("?", 1)[0]
    return unquote(raw_path)


def target_rejection(target: str, path: str) -> str | None:
    """Return why the middleware would reject ``target`` with 400 before deciding, with its
    default checks: the request-target checks and a ``_method`` query parameter."""
    raw_path, _, query = target.partition("?")
    problem = target_problem(path, raw_path.encode("ascii"))
    if problem is not None:
        return problem
    try:
        override = method_override(scan_headers([]), query.encode("ascii"))
    except BadRequest as exc:
        return exc.reason
    if override is not None:
        return OVERRIDE_REJECTED
    return None


def _check_scopes(scopes: Sequence[str], route_scopes: Collection[str] | None = None) -> None:
    """Reject scopes with whitespace and warn about scopes that can never grant a route.

    With ``route_scopes``, a route scope that no route of the table has is reported too.
    """
    for scope in scopes:
        if not scope or any(character.isspace() for character in scope):
            raise UsageError(
                f"scope {scope!r} is empty or contains whitespace; a token's scope claim "
                "separates scopes with spaces, so pass each scope with its own --scope"
            )

    for scope in scopes:
        problem = _scope_problem(scope, route_scopes)
        if problem is not None:
            print(f"scopeguard: warning: scope {scope!r} {problem}", file=sys.stderr)


def _scope_problem(scope: str, route_scopes: Collection[str] | None) -> str | None:
    if not scope.startswith(ROUTE_SCOPE_PREFIX):
        if "|" in scope:
            return f"has no {ROUTE_SCOPE_PREFIX!r} prefix, so it can never match a route"
        return None
    try:
        parsed = parse_scope(scope)
    except ScopeSyntaxError as exc:
        return f"is invalid ({exc.problem}), so it can never match a route"
    if "{" in parsed.path:
        return "uses Starlette notation; scopes use Canvas notation, such as ':course_id'"
    if route_scopes is not None and scope not in route_scopes:
        return "matches no route of the table, so it grants nothing"
    return None


def _add_source_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="SOURCE",
        help="a route file (.toml, .json or .tsv), or module:attribute naming an ASGI app or "
        "a scopeguard.RouteTable",
    )


def _add_scopes_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scopes = commands.add_parser(
        "scopes",
        help="list the scopes of a route file or app",
        description="List every scope a token may carry for SOURCE, one per scope string, "
        "sorted by resource name and scope, as the list-scopes endpoint serves them.",
    )
    _add_source_argument(scopes)
    scopes.add_argument(
        "--group-by", choices=GROUP_BY_FIELDS, help="group the scopes by this field"
    )
    scopes.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="aligned columns for people (default), or JSON as the endpoint serves it, or TOML",
    )
    scopes.set_defaults(handler=_scopes)


def _add_routes_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    routes = commands.add_parser(
        "routes",
        help="print the route table of a route file or app",
        description="Print SOURCE's route table as a route file, for example to run a gateway "
        "in front of an app: the file keeps converters, hosts, public routes and the order.",
    )
    _add_source_argument(routes)
    routes.add_argument(
        "--format", choices=("toml", "json"), default="toml", help="file format (default: toml)"
    )
    routes.set_defaults(handler=_routes)


def _routes(arguments: argparse.Namespace) -> int:
    table = load_source(arguments.source)
    print(format_routes(table, arguments.format, source=arguments.source), end="")
    return EXIT_ALLOWED


def _scopes(arguments: argparse.Namespace) -> int:
    endpoint = ScopeCatalogueEndpoint(load_source(arguments.source))
    if arguments.format == "json":
        print(endpoint.render(arguments.group_by).decode("utf-8"))
    else:
        print(format_scopes(endpoint.catalogue, arguments.format, arguments.group_by))
    return EXIT_ALLOWED


def _add_lint_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lint = commands.add_parser(
        "lint",
        help="report shadowed and overlapping routes, missing routes and unknown scopes",
        description="Check a route table and print one line per finding: shadowed routes, "
        "overlapping routes, routes that another table lacks, and scopes that match no "
        "route. Exit status: 0 when no error is found (warnings allowed), 1 when an error "
        "is found, 2 on a usage or configuration error.",
    )
    _add_source_argument(lint)
    lint.add_argument(
        "--against",
        metavar="OTHER_SOURCE",
        help="a second source, such as the app when SOURCE is a route file; report every "
        "route scope that one of the two has and the other lacks",
    )
    lint.add_argument(
        "--scopes",
        metavar="FILE",
        help="a file of scopes to check against SOURCE: a JSON list of strings (a .json file, "
        "or any file starting with '['), or scopes separated by whitespace, such as one "
        "per line",
    )
    lint.add_argument(
        "--token",
        metavar="JWT",
        help="a JWT whose scope, scp or scopes claim lists scopes to check against SOURCE. "
        "The signature and the claims are NOT verified, and other users can see the "
        "token in the process list",
    )
    lint.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text prints one line per finding and a count (default); json prints one JSON object",
    )
    lint.set_defaults(handler=_lint)


def _lint(arguments: argparse.Namespace) -> int:
    # Every input is read before any check runs, so an unreadable one is reported alone.
    table = load_source(arguments.source)
    other = load_source(arguments.against) if arguments.against is not None else None
    file_scopes = _read_scopes_file(arguments.scopes) if arguments.scopes is not None else None
    token_scopes = _token_scopes(arguments.token) if arguments.token is not None else None

    findings = lint_table(table)
    if other is not None:
        findings += compare_tables(
            table, other, table_name=arguments.source, other_name=arguments.against
        )
    if file_scopes is not None:
        findings += check_scopes(table, file_scopes, origin=arguments.scopes)
    if token_scopes is not None:
        findings += check_scopes(table, token_scopes, origin="the token")

    errors = sum(finding.severity == "error" for finding in findings)
    warnings = len(findings) - errors
    if arguments.format == "json":
        report = {
            "errors": errors,
            "warnings": warnings,
            "findings": [_finding_data(finding) for finding in findings],
        }
        print(json.dumps(report, indent=2))
    else:
        for finding in findings:
            print(f"{finding.severity}: {finding.code}: {finding.message}")
        print(f"{_count(errors, 'error')}, {_count(warnings, 'warning')}")
    return EXIT_LINT_ERRORS if errors else EXIT_ALLOWED


def _finding_data(finding: Finding) -> dict[str, Any]:
    return {
        "severity": finding.severity,
        "code": finding.code,
        "message": finding.message,
        "routes": [
            {"method": route.method, "path": route.path, "host": route.host, "scope": route.scope}
            for route in finding.routes
        ],
        "paths": list(finding.paths),
        "scope": finding.scope,
    }


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _read_scopes_file(path: str) -> list[str]:
    try:
        # utf-8-sig also reads files that editors saved with a byte order mark.
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--scopes {path}: cannot read the file: {exc}") from exc

    if not path.lower().endswith(".json") and not text.lstrip().startswith("["):
        return text.split()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--scopes {path}: invalid JSON: {exc}") from exc
    if not isinstance(data, list) or not all(isinstance(scope, str) for scope in data):
        raise UsageError(f"--scopes {path}: a JSON scopes file must be a list of strings")
    for scope in data:
        if not scope or any(character.isspace() for character in scope):
            raise UsageError(
                f"--scopes {path}: scope {scope!r} is empty or contains whitespace; list "
                "each scope as its own string"
            )
    return data


def _token_scopes(token: str) -> list[str]:
    # The token is only read for its scopes. Its signature, expiry and audience are not
    # checked, because lint has no key and an expired token still lists its scopes.
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise UsageError(f"--token is not a readable JWT: {exc}") from exc
    if not any(name in claims for name in DEFAULT_SCOPE_CLAIMS):
        raise UsageError(
            f"--token has none of the claims {', '.join(DEFAULT_SCOPE_CLAIMS)}, so it lists "
            "no scopes to check"
        )
    try:
        scopes = scopes_from_claims(claims)
    except InvalidToken as exc:
        raise UsageError(f"--token: {exc.reason}") from exc
    return sorted(scopes)


def _demo(arguments: argparse.Namespace) -> int:
    try:
        from scopeguard.demo import serve
    except ImportError as exc:
        raise UsageError(
            f"the demo needs uvicorn, from the demo extra: pip install '.[demo]' in a checkout "
            f"of scopeguard ({exc})"
        ) from None

    if not 0 <= arguments.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {arguments.port}")
    secret = (
        arguments.secret or os.environ.get(SECRET_ENVIRONMENT_VARIABLE) or secrets.token_urlsafe(32)
    )

    # Bind before anything is printed, so a port already in use is reported as an error
    # before the tokens, and the banner can show the real port (also for --port 0).
    try:
        listener = socket.create_server((arguments.host, arguments.port))
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {arguments.host}:{arguments.port}: {exc}; "
            "choose another port with --port, or --port 0 for any free port"
        ) from exc
    with listener:
        serve(listener, secret)
    return EXIT_ALLOWED


def _gateway(arguments: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError as exc:
        raise UsageError(
            f"the gateway needs uvicorn, from the demo extra: pip install '.[demo]' in a "
            f"checkout of scopeguard ({exc})"
        ) from None
    from scopeguard.gateway import GATEWAY_CONFIG_VARIABLE, load_gateway_config

    if not 0 < arguments.port <= 65535:
        raise UsageError(f"--port must be between 1 and 65535, got {arguments.port}")
    if arguments.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {arguments.workers}")
    config_path = os.path.abspath(arguments.config)
    # Read once here, so that a bad file stops the command with the key and the reason
    # before any worker starts.
    load_gateway_config(config_path)
    os.environ[GATEWAY_CONFIG_VARIABLE] = config_path
    uvicorn.run(
        "scopeguard.gateway:app_from_environment",
        factory=True,
        host=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
        log_level="info",
        ws="none",
        # The client address is the peer's, so X-Forwarded-For gets each hop once, and
        # the upstream's own Server and Date headers pass through without duplicates.
        proxy_headers=False,
        server_header=False,
        date_header=False,
    )
    return EXIT_ALLOWED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``scopeguard`` command line: mint a development token, check a request, run the demo.

Exit status: 0 when the command succeeds (for ``check``, when the request is allowed),
1 when ``check`` denies the request, 2 on a usage or configuration error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import sys
from collections.abc import Collection, Sequence
from urllib.parse import unquote

from scopeguard.errors import ConfigurationError, ScopeSyntaxError
from scopeguard.policy import Policy
from scopeguard.routefile import load_routes
from scopeguard.scopes import ROUTE_SCOPE_PREFIX, parse_scope
from scopeguard.table import PRECEDENCES, RouteTable
from scopeguard.tokens import mint_token

__all__ = ["main", "request_path"]

EXIT_ALLOWED, EXIT_DENIED, EXIT_USAGE = 0, 1, 2
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
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scopeguard", description="Enforce Canvas-style route scopes of bearer tokens."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    token = commands.add_parser("token", help="print a signed development JWT")
    token.add_argument(
        "--secret",
        help=f"HMAC secret to sign with (default: the {SECRET_ENVIRONMENT_VARIABLE} "
        "environment variable, which keeps it out of the process list)",
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
        "--routes", required=True, metavar="FILE", help="route table file (.toml, .json or .tsv)"
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
    check.add_argument("method", metavar="METHOD", help="the request method, such as GET")
    check.add_argument(
        "target",
        metavar="TARGET",
        help="the request target as sent on the wire: percent-encoded, optionally with a query",
    )
    check.set_defaults(handler=_check)

    demo = commands.add_parser("demo", help="serve the Canvas files demo with uvicorn")
    demo.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    demo.add_argument(
        "--port", type=int, default=8000, help="port to bind, 0 for any free port (default: 8000)"
    )
    demo.add_argument(
        "--secret",
        help=f"HMAC secret of the demo tokens (default: the {SECRET_ENVIRONMENT_VARIABLE} "
        "environment variable, else a new random secret each run)",
    )
    demo.set_defaults(handler=_demo)
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
    decision = Policy(table).decide(arguments.method, path, scopes)
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


def _demo(arguments: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        raise UsageError("the demo needs uvicorn: pip install 'scopeguard[demo]'") from None

    from scopeguard.demo import COURSES_TOKEN_SCOPES, FILES_TOKEN_SCOPES, create_app

    if not 0 <= arguments.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {arguments.port}")
    secret = (
        arguments.secret or os.environ.get(SECRET_ENVIRONMENT_VARIABLE) or secrets.token_urlsafe(32)
    )
    app = create_app(secret)
    files_token = mint_token(secret, FILES_TOKEN_SCOPES, subject="file-reader")
    courses_token = mint_token(secret, COURSES_TOKEN_SCOPES, subject="course-lister")

    # Bind before printing, so the banner shows the real port (also for --port 0) and a
    # port already in use is reported as an error instead of after the tokens.
    try:
        listener = socket.create_server((arguments.host, arguments.port))
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {arguments.host}:{arguments.port}: {exc}; "
            "choose another port with --port, or --port 0 for any free port"
        ) from exc
    with listener:
        host, port = listener.getsockname()[:2]
        base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        print(_demo_banner(base, files_token, courses_token), flush=True)
        config = uvicorn.Config(app, log_level="warning")
        # uvicorn shuts down on Ctrl+C, then raises SIGINT again for its caller.
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run(sockets=[listener])
    return EXIT_ALLOWED


def _demo_banner(base: str, files_token: str, courses_token: str) -> str:
    return f"""\
scopeguard demo: Canvas file routes at {base}

Token that may list courses and download files:
  FILES_TOKEN={files_token}
Token that may only list courses:
  COURSES_TOKEN={courses_token}

Try (paste the two assignments above into your shell first):
  curl -i {base}/courses/1/files/2/download.pdf -H "Authorization: Bearer $FILES_TOKEN"    # 200
  curl -i {base}/courses/1/files/2/download -H "Authorization: Bearer $COURSES_TOKEN"      # 403
  curl -i {base}/api/v1/courses -H "Authorization: Bearer $COURSES_TOKEN"                  # 200
  curl -i -X DELETE {base}/api/v1/courses -H "Authorization: Bearer $FILES_TOKEN"          # 405
  curl -i {base}/courses/1/files/2/preview -H "Authorization: Bearer $FILES_TOKEN"         # 403
  curl -i {base}/courses/1/files/2/download -H "Authorization: Bearer not-a-jwt"           # 401
  curl -i {base}/courses/1/files/2/download                                               # 401
  curl -i {base}/api/v1/unknown -H "Authorization: Bearer $FILES_TOKEN"                    # 403
  curl -i {base}/health                                                                   # 200

Press Ctrl+C to stop."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

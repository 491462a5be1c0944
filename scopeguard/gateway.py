"""A scopeguard gateway: scope enforcement in front of any HTTP service, from one TOML file.

:func:`load_gateway_config` reads and checks the file, and :func:`build_gateway` returns
the ASGI app: health and readiness endpoints that need no token, then
:class:`~scopeguard.ScopeGuardMiddleware` in front of an
:class:`~scopeguard.proxy.UpstreamProxy`. ``scopeguard gateway --config gateway.toml``
serves it with uvicorn. A gateway keeps no state that another instance needs, so it
scales by running more workers and instances behind a load balancer.

The file::

    [upstream]
    url = "http://127.0.0.1:9000"
    timeout = 30                  # seconds; optional
    forward_authorization = false # optional

    [routes]
    openapi = "openapi.yaml"      # or file = "routes.toml"; relative to this file
    public = ["GET /status"]      # optional: routes that need no token

    [[tokens]]                    # token sources, asked in this order
    type = "jwks"                 # or "jwt", "introspection"
    url = "https://idp.example.org/jwks"
    issuer = "https://idp.example.org"
    audience = "courses-api"
    algorithms = ["RS256"]

    [gateway]                     # optional
    mode = "enforce"              # or "report"
    report_header = "X-Scopeguard-Report"
    realm = "api"
    max_authorization_bytes = 8192

Secrets never go in the file: a ``jwt`` source names the environment variable of its
secret with ``secret_env``, and an ``introspection`` source that of its client secret
with ``client_secret_env``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from scopeguard._types import ASGIApp, Receive, Scope, Send
from scopeguard.errors import ConfigurationError
from scopeguard.introspection import IntrospectionVerifier
from scopeguard.jwks import JWKSVerifier
from scopeguard.middleware import ScopeGuardMiddleware
from scopeguard.proxy import UpstreamProxy
from scopeguard.routefile import load_routes
from scopeguard.scopes import HTTP_METHODS
from scopeguard.table import Route, RouteTable
from scopeguard.tokens import JWTVerifier, Secret, TokenVerifier

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "GATEWAY_CONFIG_VARIABLE",
    "GATEWAY_HEALTH_PATH",
    "GATEWAY_READY_PATH",
    "GatewayConfig",
    "build_gateway",
    "load_gateway_config",
]

#: The path of the liveness endpoint, which responds with 200 while the process runs.
GATEWAY_HEALTH_PATH: Final = "/_scopeguard/health"
#: The path of the readiness endpoint: 200 when the upstream accepts connections.
GATEWAY_READY_PATH: Final = "/_scopeguard/ready"
#: The environment variable through which ``scopeguard gateway`` hands the config path to
#: its uvicorn workers.
GATEWAY_CONFIG_VARIABLE: Final = "SCOPEGUARD_GATEWAY_CONFIG"

_SECTIONS: Final = ("upstream", "routes", "tokens", "gateway")
_UPSTREAM_KEYS: Final = ("url", "timeout", "connect_timeout", "forward_authorization")
_ROUTES_KEYS: Final = ("openapi", "file", "public", "precedence")
_GATEWAY_KEYS: Final = ("mode", "report_header", "realm", "max_authorization_bytes")
_TOKEN_KEYS: Final = {
    "jwt": ("type", "secret_env", "algorithms", "issuer", "audience", "leeway"),
    "jwks": (
        "type",
        "url",
        "path",
        "issuer",
        "audience",
        "algorithms",
        "leeway",
        "keys_ttl",
        "refetch_cooldown",
        "fetch_timeout",
        "prefetch",
    ),
    "introspection": (
        "type",
        "url",
        "client_id",
        "client_secret_env",
        "client_auth",
        "issuer",
        "audience",
        "timeout",
        "cache_ttl",
    ),
}


@dataclass(frozen=True)
class GatewayConfig:
    """A checked gateway configuration: what :func:`build_gateway` needs."""

    source: str
    upstream: dict[str, Any]
    table: RouteTable
    verifiers: list[TokenVerifier]
    options: dict[str, Any] = field(default_factory=dict)


def load_gateway_config(path: str | Path) -> GatewayConfig:
    """Read and check a gateway configuration file.

    Raises :class:`ConfigurationError` naming the file, the key and the reason for any
    problem: a missing section, an unknown key, a value of the wrong type, an unreadable
    route file, an unset secret variable.
    """
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"{file}: cannot read the gateway config: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{file}: invalid TOML: {exc}") from None
    try:
        return _config(data, file)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{file}: {exc}") from None


def build_gateway(config: GatewayConfig) -> ASGIApp:
    """Return a new gateway app for ``config``.

    Each app has its own proxy and HTTP connections, so apps built from one config can
    run in different event loops, as the workers of one server do.
    """
    proxy = UpstreamProxy(**config.upstream)
    guarded = ScopeGuardMiddleware(
        proxy, routes=config.table, verifier=config.verifiers, **config.options
    )
    return _Gateway(guarded, proxy)


def app_from_environment() -> ASGIApp:
    """Build the gateway from the file named by :data:`GATEWAY_CONFIG_VARIABLE`, as
    the uvicorn workers of ``scopeguard gateway`` do."""
    path = os.environ.get(GATEWAY_CONFIG_VARIABLE)
    if not path:
        raise ConfigurationError(f"set {GATEWAY_CONFIG_VARIABLE} to the gateway config file")
    return build_gateway(load_gateway_config(path))


class _Gateway:
    """Health and readiness endpoints, and the guarded proxy for every other request."""

    def __init__(self, guarded: ScopeGuardMiddleware, upstream: UpstreamProxy) -> None:
        self.guarded = guarded
        self.upstream = upstream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            if scope["path"] == GATEWAY_HEALTH_PATH:
                await _plain(send, 200, "ok")
                return
            if scope["path"] == GATEWAY_READY_PATH:
                ready = await _accepts_connections(self.upstream.upstream)
                await _plain(send, 200 if ready else 503, "ready" if ready else "upstream down")
                return
        await self.guarded(scope, receive, send)


async def _accepts_connections(url: str, timeout: float = 1.0) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --- Reading the file -----------------------------------------------------------------------


def _config(data: Mapping[str, Any], file: Path) -> GatewayConfig:
    _known("the file", data, _SECTIONS)
    for section in ("upstream", "routes", "tokens"):
        if section not in data:
            raise ConfigurationError(f"missing [{section}] section")
    upstream = _section(data, "upstream", _UPSTREAM_KEYS)
    routes = _section(data, "routes", _ROUTES_KEYS)
    gateway = _section(data, "gateway", _GATEWAY_KEYS) if "gateway" in data else {}

    if "url" not in upstream:
        raise ConfigurationError("[upstream] url: missing; give the upstream service's URL")
    proxy_options: dict[str, Any] = {
        "upstream": upstream["url"],
        "forward_authorization": upstream.get("forward_authorization", False),
        "timeout": upstream.get("timeout", 30),
        "connect_timeout": upstream.get("connect_timeout"),
    }
    try:
        proxy = UpstreamProxy(**proxy_options)
    except ConfigurationError as exc:
        raise ConfigurationError(f"[upstream] url or timeouts: {exc}") from None

    table = _table(routes, file)
    tokens = data["tokens"]
    if not isinstance(tokens, list) or not tokens:
        raise ConfigurationError("[[tokens]]: give at least one token source")
    verifiers = [_verifier(index, entry) for index, entry in enumerate(tokens, start=1)]
    options = {key: gateway[key] for key in _GATEWAY_KEYS if key in gateway}
    try:
        # Checks the gateway options as the middleware will, before any server starts.
        ScopeGuardMiddleware(proxy, routes=table, verifier=verifiers, **options)
    except ConfigurationError as exc:
        raise ConfigurationError(f"[gateway]: {exc}") from None
    return GatewayConfig(str(file), proxy_options, table, verifiers, options)


def _table(routes: Mapping[str, Any], file: Path) -> RouteTable:
    sources = [key for key in ("openapi", "file") if key in routes]
    if len(sources) != 1:
        raise ConfigurationError("[routes]: give exactly one of openapi and file")
    key = sources[0]
    value = routes[key]
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"[routes] {key}: must be a file name")
    try:
        table = load_routes(file.parent / value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"[routes] {key}: {exc}") from None
    if not len(table):
        raise ConfigurationError(
            f"[routes] {key}: {value} has no routes, so the gateway would deny every request"
        )

    precedence = routes.get("precedence", table.precedence)
    public = routes.get("public", [])
    if not isinstance(public, list) or not all(isinstance(entry, str) for entry in public):
        raise ConfigurationError('[routes] public: must be a list such as ["GET /status"]')
    requested = {_public_entry(entry): entry for entry in public}
    found: set[tuple[str, str]] = set()
    marked: list[Route] = []
    for route in table:
        scope_key = (route.method, route.scope)
        if scope_key in requested:
            found.add(scope_key)
            route = dataclasses.replace(route, public=True)
        marked.append(route)

    missing = [entry for key, entry in requested.items() if key not in found]
    if missing:
        raise ConfigurationError(
            f"[routes] public: {missing[0]!r} matches no route; write the path as the table "
            "has it, with the OpenAPI servers prefix and the same parameter names"
        )
    try:
        return RouteTable(marked, precedence=precedence)
    except ConfigurationError as exc:
        raise ConfigurationError(f"[routes] precedence: {exc}") from None


def _public_entry(entry: str) -> tuple[str, str]:
    method, _, template = entry.partition(" ")
    template = template.strip()
    if method not in HTTP_METHODS or not template.startswith("/"):
        raise ConfigurationError(
            f'[routes] public: {entry!r} must read "METHOD /path/template", such as '
            '"GET /v1/status"'
        )
    try:
        return method, Route(method, template).scope
    except ConfigurationError as exc:
        raise ConfigurationError(f"[routes] public: {entry!r}: {exc}") from None


def _verifier(index: int, entry: object) -> TokenVerifier:
    label = f"[[tokens]] {index}"
    if not isinstance(entry, Mapping):
        raise ConfigurationError(f"{label}: must be a table")
    kind = entry.get("type")
    if kind not in _TOKEN_KEYS:
        raise ConfigurationError(
            f"{label} type: must be one of {', '.join(sorted(_TOKEN_KEYS))}, got {kind!r}"
        )
    _known(label, entry, _TOKEN_KEYS[kind])
    options = {key: value for key, value in entry.items() if key != "type"}
    try:
        if kind == "jwt":
            options["key"] = Secret(_secret(options.pop("secret_env", None), "secret_env"))
            options.setdefault("algorithms", ["HS256"])
            return JWTVerifier(**options)
        if kind == "jwks":
            if "algorithms" not in options:
                raise ConfigurationError("algorithms: missing, such as ['RS256']")
            return JWKSVerifier(**options)
        options["client_secret"] = Secret(
            _secret(options.pop("client_secret_env", None), "client_secret_env")
        )
        return IntrospectionVerifier(**options)
    except TypeError as exc:
        raise ConfigurationError(f"{label}: {exc}") from None
    except ConfigurationError as exc:
        raise ConfigurationError(f"{label} ({kind}): {exc}") from None


def _secret(variable: object, key: str) -> str:
    if not isinstance(variable, str) or not variable:
        raise ConfigurationError(f"{key}: missing; name the environment variable of the secret")
    value = os.environ.get(variable)
    if value is None:
        raise ConfigurationError(f"{key}: the environment variable {variable} is not set")
    if not value:
        raise ConfigurationError(f"{key}: the environment variable {variable} is empty")
    return value


def _section(data: Mapping[str, Any], name: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    section = data[name]
    if not isinstance(section, Mapping):
        raise ConfigurationError(f"[{name}]: must be a table")
    _known(f"[{name}]", section, keys)
    return section


def _known(label: str, table: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise ConfigurationError(
            f"{label}: unknown key {unknown[0]!r}; allowed keys are {', '.join(keys)}"
        )

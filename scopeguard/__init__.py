"""scopeguard: enforce Canvas-style route scopes of bearer tokens in ASGI apps.

Wrap an app with :class:`ScopeGuardMiddleware`, give it a :class:`RouteTable` and a token
verifier, and every request needs the ``url:<VERB>|<path template>`` scope of the route it
resolves to.
"""

from scopeguard.bearer import MAX_AUTHORIZATION_BYTES, bearer_token, token_from_authorization
from scopeguard.canvas import CANVAS_INSUFFICIENT_SCOPE_MESSAGE, CanvasCompatibility
from scopeguard.catalogue import (
    GROUP_BY_FIELDS,
    GroupBy,
    ScopeCatalogueEndpoint,
    ScopeInfo,
    build_catalogue,
)
from scopeguard.errors import (
    BadRequest,
    ConfigurationError,
    Denial,
    InsufficientScope,
    InvalidToken,
    MethodNotAllowed,
    MissingToken,
    NoRoute,
    RouteTemplateError,
    ScopeGuardError,
    ScopeSyntaxError,
    UnknownToken,
)
from scopeguard.events import DecisionCallback, DecisionCounters, DecisionEvent
from scopeguard.gateway import (
    GATEWAY_CONFIG_VARIABLE,
    GATEWAY_HEALTH_PATH,
    GATEWAY_READY_PATH,
    GatewayConfig,
    build_gateway,
    load_gateway_config,
)
from scopeguard.introspect import public, report_only, routes_from_app, scope_resource
from scopeguard.introspection import MAX_INTROSPECTION_BYTES, IntrospectionVerifier
from scopeguard.jwks import MAX_JWKS_BYTES, JWKSVerifier
from scopeguard.lint import (
    Finding,
    Severity,
    check_scopes,
    compare_tables,
    find_overlapping_routes,
    find_shadowed_routes,
    find_shared_scopes,
    lint_table,
)
from scopeguard.middleware import (
    STATE_KEY,
    MethodOverride,
    ScopeGuardMiddleware,
    TokenUser,
    route_path,
)
from scopeguard.openapi import OPENAPI_METHODS, load_openapi, routes_from_openapi
from scopeguard.policy import (
    Decision,
    Policy,
    Reason,
    Unmatched,
    explain_decision,
    path_problem,
)
from scopeguard.proxy import HOP_BY_HOP_HEADERS, UpstreamProxy
from scopeguard.request_target import TargetChecks, target_problem
from scopeguard.resolvers import (
    StaticResolver,
    TokenResolver,
    TokenSource,
    TokenSources,
    as_verifier,
)
from scopeguard.routefile import (
    ROUTE_KEYS,
    dump_routes,
    format_routes,
    load_routes,
    routes_from_data,
    routes_to_data,
)
from scopeguard.scopes import (
    HTTP_METHODS,
    ROUTE_SCOPE_PREFIX,
    SCOPE_VERBS,
    RouteScope,
    format_scope,
    is_route_scope,
    parse_scope,
)
from scopeguard.sources import load_source
from scopeguard.table import (
    PRECEDENCES,
    ROUTE_METHODS,
    WEBSOCKET,
    Outcome,
    Precedence,
    Resolution,
    Route,
    RouteTable,
)
from scopeguard.templates import CONVERTER_PATTERNS, RouteTemplate, compile_host, compile_template
from scopeguard.tokens import (
    DEFAULT_SCOPE_CLAIMS,
    JWTVerifier,
    Secret,
    TokenInfo,
    TokenVerifier,
    mint_token,
    scopes_from_claims,
)

__version__ = "0.1.0"

__all__ = [
    "CANVAS_INSUFFICIENT_SCOPE_MESSAGE",
    "CONVERTER_PATTERNS",
    "DEFAULT_SCOPE_CLAIMS",
    "GATEWAY_CONFIG_VARIABLE",
    "GATEWAY_HEALTH_PATH",
    "GATEWAY_READY_PATH",
    "GROUP_BY_FIELDS",
    "HOP_BY_HOP_HEADERS",
    "HTTP_METHODS",
    "MAX_AUTHORIZATION_BYTES",
    "MAX_INTROSPECTION_BYTES",
    "MAX_JWKS_BYTES",
    "OPENAPI_METHODS",
    "PRECEDENCES",
    "ROUTE_KEYS",
    "ROUTE_METHODS",
    "ROUTE_SCOPE_PREFIX",
    "SCOPE_VERBS",
    "STATE_KEY",
    "WEBSOCKET",
    "BadRequest",
    "CanvasCompatibility",
    "ConfigurationError",
    "Decision",
    "DecisionCallback",
    "DecisionCounters",
    "DecisionEvent",
    "Denial",
    "Finding",
    "GatewayConfig",
    "GroupBy",
    "InsufficientScope",
    "IntrospectionVerifier",
    "InvalidToken",
    "JWKSVerifier",
    "JWTVerifier",
    "MethodNotAllowed",
    "MethodOverride",
    "MissingToken",
    "NoRoute",
    "Outcome",
    "Policy",
    "Precedence",
    "Reason",
    "Resolution",
    "Route",
    "RouteScope",
    "RouteTable",
    "RouteTemplate",
    "RouteTemplateError",
    "ScopeCatalogueEndpoint",
    "ScopeGuardError",
    "ScopeGuardMiddleware",
    "ScopeInfo",
    "ScopeSyntaxError",
    "Secret",
    "Severity",
    "StaticResolver",
    "TargetChecks",
    "TokenInfo",
    "TokenResolver",
    "TokenSource",
    "TokenSources",
    "TokenUser",
    "TokenVerifier",
    "UnknownToken",
    "Unmatched",
    "UpstreamProxy",
    "__version__",
    "as_verifier",
    "bearer_token",
    "build_catalogue",
    "build_gateway",
    "check_scopes",
    "compare_tables",
    "compile_host",
    "compile_template",
    "dump_routes",
    "explain_decision",
    "find_overlapping_routes",
    "find_shadowed_routes",
    "find_shared_scopes",
    "format_routes",
    "format_scope",
    "is_route_scope",
    "lint_table",
    "load_gateway_config",
    "load_openapi",
    "load_routes",
    "load_source",
    "mint_token",
    "parse_scope",
    "path_problem",
    "public",
    "report_only",
    "route_path",
    "routes_from_app",
    "routes_from_data",
    "routes_from_openapi",
    "routes_to_data",
    "scope_resource",
    "scopes_from_claims",
    "target_problem",
    "token_from_authorization",
]

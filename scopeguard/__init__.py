"""scopeguard: enforce Canvas-style route scopes of bearer tokens in ASGI apps.

Wrap an app with :class:`ScopeGuardMiddleware`, give it a :class:`RouteTable` and a token
verifier, and every request needs the ``url:<VERB>|<path template>`` scope of the route it
resolves to.
"""

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
)
from scopeguard.middleware import STATE_KEY, ScopeGuardMiddleware, TokenUser
from scopeguard.policy import Decision, Policy, Reason
from scopeguard.routefile import load_routes, routes_from_data
from scopeguard.scopes import HTTP_METHODS, RouteScope, format_scope, is_route_scope, parse_scope
from scopeguard.table import Outcome, Resolution, Route, RouteTable
from scopeguard.templates import RouteTemplate, compile_template
from scopeguard.tokens import JWTVerifier, Secret, TokenInfo, TokenVerifier, scopes_from_claims

__version__ = "0.1.0"

__all__ = [
    "HTTP_METHODS",
    "STATE_KEY",
    "BadRequest",
    "ConfigurationError",
    "Decision",
    "Denial",
    "InsufficientScope",
    "InvalidToken",
    "JWTVerifier",
    "MethodNotAllowed",
    "MissingToken",
    "NoRoute",
    "Outcome",
    "Policy",
    "Reason",
    "Resolution",
    "Route",
    "RouteScope",
    "RouteTable",
    "RouteTemplate",
    "RouteTemplateError",
    "ScopeGuardError",
    "ScopeGuardMiddleware",
    "ScopeSyntaxError",
    "Secret",
    "TokenInfo",
    "TokenUser",
    "TokenVerifier",
    "__version__",
    "compile_template",
    "format_scope",
    "is_route_scope",
    "load_routes",
    "parse_scope",
    "routes_from_data",
    "scopes_from_claims",
]

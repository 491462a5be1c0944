"""Route tables read from a Starlette or FastAPI application's own router.

:func:`routes_from_app` walks the router in declaration order and emits one
:class:`~scopeguard.table.Route` per method of each route, so the table resolves every
request to the route Starlette dispatches (``first_declared`` precedence):

* ``Route`` and FastAPI's ``APIRoute``: one route per method. Starlette adds HEAD to every
  route with GET; that HEAD route carries the GET scope (``scope_method="GET"``).
* ``WebSocketRoute``: a ``WEBSOCKET`` route, which only handshakes match. Its scope has
  the verb ``GET``, or the one given as ``websocket_scope_method``.
* ``Mount``: its routes under its prefix, path parameters in the prefix included. A
  mounted app whose routes cannot be read (``StaticFiles``, a plain ASGI app) becomes one
  ``{path:path}`` route under the prefix per method in ``opaque_methods``.
* ``Host``: its routes, limited to the host template.
* ``Router``, Starlette and FastAPI apps, and apps wrapped in middleware: their routes.

Metadata: ``controller`` and ``action`` are the endpoint's module and name. ``resource``
and ``resource_name`` come, in this order, from :func:`scope_resource` on the endpoint,
from :func:`scope_resource` on the nearest enclosing ``Mount``, ``Host`` or ``Router``,
from the first FastAPI tag, and from the first literal path segment after the API prefix.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from starlette.routing import BaseRoute, Host, Mount, WebSocketRoute
from starlette.routing import Route as StarletteRoute

from scopeguard.errors import ConfigurationError
from scopeguard.scopes import HTTP_METHODS, SCOPE_VERBS
from scopeguard.table import WEBSOCKET, Route, RouteTable

__all__ = ["public", "report_only", "routes_from_app", "scope_resource"]

T = TypeVar("T")

_MARK: Final = "__scopeguard__"
# Method order of the routes emitted for one Starlette route, so tables are reproducible.
_METHOD_ORDER: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_VERSION_SEGMENT: Final = re.compile(r"v[0-9]+(?:\.[0-9]+)*")
# Characters that Rails syntax reads as parameters or groups. A Starlette path that has one
# as a literal cannot be written as a Canvas scope.
_RAILS_SYNTAX: Final = re.compile(r"[:*()]")
_PARAMETER: Final = re.compile(r"\{[^{}]*\}")
_MAX_DEPTH: Final = 32


@dataclass(frozen=True)
class _Mark:
    resource: str | None = None
    resource_name: str | None = None
    public: bool = False
    report_only: bool = False


def scope_resource(resource: str, resource_name: str | None = None) -> Callable[[T], T]:
    """Return a decorator that sets the resource of an endpoint, or of every route below a
    ``Mount``, ``Host`` or ``Router``.

    ``resource_name`` defaults to ``resource`` with ``_`` as spaces, in title case. Use
    it on endpoints (``@scope_resource("files", "Files")``) or call it on a router object
    (``scope_resource("files")(router)``). FastAPI's ``include_router`` copies routes out
    of an ``APIRouter``, so mark FastAPI endpoints, or give the router ``tags``.
    """
    if not isinstance(resource, str) or not resource:
        raise ConfigurationError(f"resource must be a non-empty string, got {resource!r}")
    name = resource_name if resource_name is not None else _title(resource)

    def mark(target: T) -> T:
        previous = _mark_of(target) or _Mark()
        setattr(target, _MARK, dataclasses.replace(previous, resource=resource, resource_name=name))
        return target

    return mark


def public(target: T) -> T:
    """Mark an endpoint, or every route below a ``Mount``, ``Host`` or ``Router``, as public.

    A public route needs no token. Use it for health checks and login pages.
    """
    previous = _mark_of(target) or _Mark()
    setattr(target, _MARK, dataclasses.replace(previous, public=True))
    return target


def report_only(target: T) -> T:
    """Mark an endpoint, or every route below a ``Mount``, ``Host`` or ``Router``, as
    report-only: its requests are decided and recorded, and a request it would deny
    passes to the app anyway. Use it to roll out scopes on an endpoint with clients.
    """
    previous = _mark_of(target) or _Mark()
    setattr(target, _MARK, dataclasses.replace(previous, report_only=True))
    return target


def routes_from_app(
    app: Any,
    *,
    api_prefix: str | None = None,
    opaque_methods: Sequence[str] | Mapping[str, Sequence[str]] = ("GET",),
    public_paths: Collection[str] = (),
    websocket_scope_method: str = "GET",
) -> RouteTable:
    """Build a ``first_declared`` route table from a Starlette or FastAPI app's router.

    :param app: a Starlette or FastAPI app, a ``Router``, or an app wrapped in middleware
        whose ``app`` attributes lead to one.
    :param api_prefix: leading path to skip when a route's resource is taken from its
        first literal segment. By default, leading ``api`` and version segments (``v1``,
        ``v2.1``) are skipped.
    :param opaque_methods: methods served by mounted apps whose routes cannot be read, such
        as ``StaticFiles``. A mapping from mount path (as declared) to methods sets them per
        mount. GET brings HEAD with it, as in Starlette. Default: GET and HEAD.
    :param public_paths: full route paths in Starlette syntax, mount prefixes included
        (``"/health"``, ``"/openapi.json"``), whose routes need no token.
    :param websocket_scope_method: the verb in the scope of websocket routes: ``"GET"``
        (default), as a handshake is an HTTP GET, or ``"WEBSOCKET"`` to give each websocket
        route a scope that no GET route on the same path shares.

    Raises :class:`ConfigurationError` when the app has no readable router, a route has a
    method or path that a scope cannot express, or an option is invalid.
    """
    routes = _routes_of(app)
    if routes is None:
        raise ConfigurationError(
            f"cannot read the routes of {type(app).__name__}: it is not a Starlette or FastAPI "
            "app or router; pass routes= to the middleware instead"
        )
    if isinstance(public_paths, str):
        raise ConfigurationError(
            f"public_paths must be a list of paths, not the string {public_paths!r}; "
            f"write public_paths=[{public_paths!r}]"
        )
    if websocket_scope_method not in SCOPE_VERBS:
        raise ConfigurationError(
            f"websocket_scope_method must be one of {', '.join(sorted(SCOPE_VERBS))}, "
            f"got {websocket_scope_method!r}"
        )
    reader = _Reader(api_prefix, opaque_methods, frozenset(public_paths), websocket_scope_method)
    # Marks on the app or router passed in apply to all its routes, as on a Mount.
    reader.walk(
        routes, prefix="", host=None, marks=_with_marks((), app, getattr(app, "router", None))
    )
    return RouteTable(reader.routes, precedence="first_declared")


class _Reader:
    def __init__(
        self,
        api_prefix: str | None,
        opaque_methods: Sequence[str] | Mapping[str, Sequence[str]],
        public_paths: frozenset[str],
        websocket_scope_method: str,
    ) -> None:
        if api_prefix is not None and (
            not isinstance(api_prefix, str) or not api_prefix.startswith("/")
        ):
            raise ConfigurationError(
                f"api_prefix must be a path starting with '/', got {api_prefix!r}"
            )
        self.api_prefix = api_prefix.rstrip("/") if api_prefix is not None else None
        if isinstance(opaque_methods, Mapping):
            self.opaque_default: tuple[str, ...] = _check_methods(("GET",), "opaque_methods")
            self.opaque_by_mount = {
                path: _check_methods(methods, f"opaque_methods[{path!r}]")
                for path, methods in opaque_methods.items()
            }
        else:
            self.opaque_default = _check_methods(opaque_methods, "opaque_methods")
            self.opaque_by_mount = {}
        self.public_paths = public_paths
        self.websocket_scope_method = websocket_scope_method
        self.routes: list[Route] = []

    def walk(
        self,
        routes: Sequence[BaseRoute],
        prefix: str,
        host: str | None,
        marks: tuple[_Mark, ...],
        depth: int = 0,
    ) -> None:
        if depth > _MAX_DEPTH:
            raise ConfigurationError(
                f"mounts nest deeper than {_MAX_DEPTH} levels under {prefix!r}"
            )
        for route in _expand_included_routers(routes, prefix):
            if isinstance(route, _IncludedRoute):
                self._included(route, prefix, host, marks)
            elif isinstance(route, Mount):
                self._mount(route, prefix, host, marks, depth)
            elif isinstance(route, Host):
                self._host(route, prefix, host, marks, depth)
            elif isinstance(route, WebSocketRoute):
                self._emit(route.path, prefix, [WEBSOCKET], route.endpoint, host, marks, ())
            elif isinstance(route, StarletteRoute):
                self._route(route, prefix, host, marks)
            else:
                raise ConfigurationError(
                    f"cannot read {type(route).__name__} under {prefix or '/'!r}: scopeguard reads "
                    "Route, WebSocketRoute, Mount and Host; pass routes= to the middleware instead"
                )

    def _included(
        self, route: _IncludedRoute, prefix: str, host: str | None, marks: tuple[_Mark, ...]
    ) -> None:
        endpoint = _unwrap(route.endpoint)
        if route.websocket:
            self._emit(route.path, prefix, [WEBSOCKET], endpoint, host, marks, ())
            return
        # Starlette reads an empty method set as no restriction, as it reads None.
        methods = route.methods or self._unrestricted_methods(endpoint)
        self._emit(route.path, prefix, methods, endpoint, host, marks, route.tags)

    def _route(
        self, route: StarletteRoute, prefix: str, host: str | None, marks: tuple[_Mark, ...]
    ) -> None:
        endpoint = _unwrap(route.endpoint)
        # Starlette reads an empty method set as no restriction, as it reads None.
        methods = route.methods or self._unrestricted_methods(endpoint)
        tags = getattr(route, "tags", None) or ()
        self._emit(route.path, prefix, methods, endpoint, host, marks, tags)

    def _unrestricted_methods(self, endpoint: Any) -> Collection[str]:
        """Return the methods of a route without a method set, which Starlette runs for all."""
        endpoint_methods = _endpoint_methods(endpoint)
        if endpoint_methods is not None:
            return endpoint_methods
        if inspect.isfunction(endpoint) or inspect.ismethod(endpoint):
            # Only methods=[] leaves a function route unrestricted, because Starlette gives it
            # GET and HEAD when methods is None.
            return _METHOD_ORDER
        return self.opaque_default

    def _mount(
        self, mount: Mount, prefix: str, host: str | None, marks: tuple[_Mark, ...], depth: int
    ) -> None:
        # Starlette 0.37 and later keep the mounted app before its middleware in _base_app.
        inner = getattr(mount, "_base_app", mount.app)
        mount_marks = _with_marks(marks, mount, inner)
        children = _routes_of(inner)
        if children is not None:
            self.walk(children, prefix + mount.path, host, mount_marks, depth + 1)
            return
        methods = self.opaque_by_mount.get(mount.path, self.opaque_default)
        self._emit_opaque(mount.path, prefix, methods, inner, host, mount_marks)

    def _host(
        self, route: Host, prefix: str, host: str | None, marks: tuple[_Mark, ...], depth: int
    ) -> None:
        if host is not None:
            raise ConfigurationError(
                f"Host {route.host!r} is nested in Host {host!r}; scopeguard reads one Host level"
            )
        host_marks = _with_marks(marks, route, route.app)
        children = _routes_of(route.app)
        if children is not None:
            self.walk(children, prefix, route.host, host_marks, depth + 1)
            return
        self._emit_opaque("", prefix, self.opaque_default, route.app, route.host, host_marks)

    def _emit_opaque(
        self,
        mount_path: str,
        prefix: str,
        methods: Collection[str],
        app: Any,
        host: str | None,
        marks: tuple[_Mark, ...],
    ) -> None:
        names = set(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)", prefix + mount_path))
        name = "path"
        while name in names:
            name += "_rest"
        # Starlette mounts match "<prefix>/" followed by anything, the empty rest included.
        self._emit(f"{mount_path}/{{{name}:path}}", prefix, methods, app, host, marks, ())

    def _emit(
        self,
        path: str,
        prefix: str,
        methods: Collection[str],
        endpoint: Any,
        host: str | None,
        marks: tuple[_Mark, ...],
        tags: Sequence[Any],
    ) -> None:
        full_path = prefix + path
        if _RAILS_SYNTAX.search(_PARAMETER.sub("", full_path)):
            raise ConfigurationError(
                f"route {full_path!r} contains ':', '*', '(' or ')', which a Canvas-style scope "
                "cannot write as a literal character; rename the path"
            )

        all_marks = _with_marks(marks, endpoint)
        # The innermost mark that names a resource wins: the endpoint's, then its routers'.
        named = [mark for mark in all_marks if mark.resource is not None]
        resource, resource_name = self._resource(full_path, named[-1] if named else None, tags)
        is_public = any(mark.public for mark in all_marks) or full_path in self.public_paths
        is_report_only = any(mark.report_only for mark in all_marks)
        controller, action = _controller_action(endpoint)

        for method in _ordered(methods):
            scope_method = None
            if method == "HEAD" and "GET" in methods:
                scope_method = "GET"
            elif method == WEBSOCKET and self.websocket_scope_method != "GET":
                scope_method = self.websocket_scope_method
            self.routes.append(
                Route(
                    method,
                    full_path,
                    resource=resource,
                    resource_name=resource_name,
                    controller=controller,
                    action=action,
                    public=is_public,
                    host=host,
                    scope_method=scope_method,
                    report_only=is_report_only,
                )
            )

    def _resource(
        self, full_path: str, mark: _Mark | None, tags: Sequence[Any]
    ) -> tuple[str | None, str | None]:
        if mark is not None and mark.resource is not None:
            return mark.resource, mark.resource_name
        for tag in tags:
            text = str(tag.value if hasattr(tag, "value") else tag)
            if text:
                return _slug(text), text
        segment = self._first_literal_segment(full_path)
        if segment is None:
            return None, None
        return segment, _title(segment)

    def _first_literal_segment(self, full_path: str) -> str | None:
        path = full_path
        if self.api_prefix is not None:
            if path == self.api_prefix or path.startswith(self.api_prefix + "/"):
                path = path[len(self.api_prefix) :]
            segments = [segment for segment in path.split("/") if segment]
        else:
            segments = [segment for segment in path.split("/") if segment]
            while segments and (segments[0] == "api" or _VERSION_SEGMENT.fullmatch(segments[0])):
                segments.pop(0)
        if not segments or "{" in segments[0]:
            return None
        return segments[0]


@dataclass(frozen=True)
class _IncludedRoute:
    """A route of a FastAPI router added with ``include_router``, with its full path."""

    path: str
    methods: Collection[str] | None
    endpoint: Any
    tags: Sequence[Any]
    websocket: bool


def _expand_included_routers(
    routes: Sequence[BaseRoute], prefix: str
) -> list[BaseRoute | _IncludedRoute]:
    """Return ``routes`` with each FastAPI included router replaced by its routes, in place.

    FastAPI 0.165, the version tested, keeps each ``include_router`` call as one route
    object that matches its routes in order, and ``fastapi.routing.iter_route_contexts``
    lists them with their full paths. Releases that copy the routes into the parent router
    need no expansion.
    """
    if all(_is_plain(route) for route in routes):
        return list(routes)
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return list(routes)

    expanded: list[BaseRoute | _IncludedRoute] = []
    for route in routes:
        if _is_plain(route):
            expanded.append(route)
            continue
        for context in iter_route_contexts([route]):
            original = context.original_route
            if context.original_route is route:
                expanded.append(route)
            elif isinstance(original, (StarletteRoute, WebSocketRoute)) and context.path:
                expanded.append(
                    _IncludedRoute(
                        path=context.path,
                        methods=context.methods,
                        endpoint=context.endpoint,
                        tags=getattr(context, "tags", None) or (),
                        websocket=isinstance(original, WebSocketRoute),
                    )
                )
            else:
                raise ConfigurationError(
                    f"cannot read {type(original).__name__} of an included FastAPI router under "
                    f"{prefix or '/'!r}; pass routes= to the middleware instead"
                )
    return expanded


def _is_plain(route: BaseRoute) -> bool:
    """Return whether ``route`` is a route class this module reads directly."""
    return isinstance(route, (StarletteRoute, WebSocketRoute, Mount, Host))


def _routes_of(app: Any) -> list[BaseRoute] | None:
    """Return the routes of an app, router or middleware-wrapped app, or ``None``."""
    current = app
    for _ in range(_MAX_DEPTH):
        if current is None:
            return None
        for owner in (getattr(current, "router", None), current):
            routes = getattr(owner, "routes", None)
            if isinstance(routes, list):
                _reject_low_priority_routes(owner)
                return routes
        current = getattr(current, "app", None)
    return None


def _reject_low_priority_routes(router: Any) -> None:
    """Raise when a FastAPI router has frontend routes, which it matches after all others.

    Their order is not the declaration order, so a table read in declaration order could
    disagree with the router about them.
    """
    iterate = getattr(router, "_iter_low_priority_routes", None)
    if callable(iterate) and any(True for _ in iterate()):
        raise ConfigurationError(
            "the FastAPI app has frontend routes, which scopeguard cannot read yet; pass "
            "routes= to the middleware instead"
        )


def _unwrap(endpoint: Any) -> Any:
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    return endpoint


def _endpoint_methods(endpoint: Any) -> list[str] | None:
    """Return the methods of an ``HTTPEndpoint`` class, or ``None`` for another endpoint."""
    if not inspect.isclass(endpoint):
        return None
    methods = [
        method for method in _METHOD_ORDER if callable(getattr(endpoint, method.lower(), None))
    ]
    if "GET" in methods and "HEAD" not in methods:
        # HTTPEndpoint handles HEAD with its get method.
        methods.insert(1, "HEAD")
    return methods or None


def _check_methods(methods: Sequence[str], option: str) -> tuple[str, ...]:
    if isinstance(methods, str):
        raise ConfigurationError(f"{option} must be a list of methods, not the string {methods!r}")
    result = tuple(methods)
    unknown = [method for method in result if method not in HTTP_METHODS]
    if unknown or not result:
        raise ConfigurationError(
            f"{option} must list methods from {', '.join(sorted(HTTP_METHODS))}, got {list(result)}"
        )
    if "GET" in result and "HEAD" not in result:
        result = (*result, "HEAD")
    return result


def _ordered(methods: Collection[str]) -> list[str]:
    unknown = sorted(method for method in methods if method not in _METHOD_ORDER)
    known = [method for method in _METHOD_ORDER if method in methods]
    return known + unknown


def _mark_of(target: Any) -> _Mark | None:
    mark = getattr(target, _MARK, None)
    return mark if isinstance(mark, _Mark) else None


def _with_marks(marks: tuple[_Mark, ...], *targets: Any) -> tuple[_Mark, ...]:
    found = tuple(mark for mark in (_mark_of(target) for target in targets) if mark is not None)
    return marks + found


def _controller_action(endpoint: Any) -> tuple[str | None, str | None]:
    target = endpoint if inspect.isfunction(endpoint) or inspect.isclass(endpoint) else None
    if target is None:
        target = getattr(endpoint, "__func__", None) or type(endpoint)
    module = getattr(target, "__module__", None)
    name = getattr(target, "__name__", None)
    return (module if isinstance(module, str) else None, name if isinstance(name, str) else None)


def _title(resource: str) -> str:
    return resource.replace("_", " ").replace("-", " ").title()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or text

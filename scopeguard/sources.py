"""Route table sources named on the command line: a route file or ``module:attribute``."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
from collections.abc import Iterator

from scopeguard.errors import ConfigurationError
from scopeguard.introspect import routes_from_app
from scopeguard.middleware import ScopeGuardMiddleware
from scopeguard.routefile import load_routes
from scopeguard.table import RouteTable

__all__ = ["load_source"]

#: Most middleware layers searched for a ScopeGuardMiddleware.
_MAX_LAYERS = 32

_MODULE_ATTRIBUTE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def load_source(spec: str) -> RouteTable:
    """Load the route table that ``spec`` names: a route file or ``module:attribute``.

    A ``spec`` that is an existing path or does not have the form ``module:attribute``
    is read with :func:`~scopeguard.routefile.load_routes`. Otherwise the module is
    imported with the current directory first on ``sys.path``, as uvicorn does. An
    attribute that is a :class:`RouteTable` is returned as is, and any other callable is
    read as an ASGI app. When the app is or wraps a
    :class:`~scopeguard.ScopeGuardMiddleware`, directly or through ``add_middleware``, the
    table is the one that middleware decides with, so its ``routes`` and
    ``websocket_scope_method`` apply. Otherwise the app's routes are read with
    ``scopeguard.introspect.routes_from_app``. Raises :class:`ConfigurationError` naming
    ``spec`` and the problem.
    """
    if os.path.exists(spec) or not _MODULE_ATTRIBUTE.fullmatch(spec):
        if not os.path.exists(spec) and ":" not in spec and not os.path.splitext(spec)[1]:
            raise ConfigurationError(
                f"SOURCE {spec!r} is neither a route file (.toml, .json or .tsv) nor "
                f"module:attribute; to read an app, write it as '{spec}:app'"
            )
        return load_routes(spec)

    module_name, _, attribute = spec.partition(":")
    with _current_directory_on_path():
        target = _import_attribute(spec, module_name, attribute)
        if isinstance(target, RouteTable):
            return target
        return _routes_of_app(spec, target)


@contextlib.contextmanager
def _current_directory_on_path() -> Iterator[None]:
    # The directory stays on sys.path until the app's routes are read, because reading
    # them may import more of the app's modules.
    directory = os.getcwd()
    sys.path.insert(0, directory)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)


def _import_attribute(spec: str, module_name: str, attribute: str) -> object:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and f"{module_name}.".startswith(f"{exc.name}."):
            raise ConfigurationError(
                f"SOURCE {spec!r}: module {module_name!r} not found; run scopeguard from the "
                "directory that contains it, or pass a route file (.toml, .json or .tsv)"
            ) from None
        raise _import_failed(spec, module_name, exc) from exc
    # Importing runs the module's code, which may raise any exception. It is reported as
    # a failed source with the exception's type and message.
    except Exception as exc:
        raise _import_failed(spec, module_name, exc) from exc

    target: object = module
    for name in attribute.split("."):
        try:
            target = getattr(target, name)
        except AttributeError:
            raise ConfigurationError(
                f"SOURCE {spec!r}: module {module_name!r} has no attribute {attribute!r}"
            ) from None
    return target


def _import_failed(spec: str, module_name: str, exc: Exception) -> ConfigurationError:
    return ConfigurationError(
        f"SOURCE {spec!r}: importing module {module_name!r} failed: {type(exc).__name__}: {exc}"
    )


def _routes_of_app(spec: str, app: object) -> RouteTable:
    if not callable(app):
        raise ConfigurationError(
            f"SOURCE {spec!r} names an object of type {type(app).__name__}, which is neither "
            "an ASGI app nor a scopeguard.RouteTable"
        )
    table = _guarded_table(app)
    return table if table is not None else routes_from_app(app)


def _guarded_table(app: object) -> RouteTable | None:
    """Return the table of the first ScopeGuardMiddleware found in ``app``'s layers."""
    target: object = app
    for _ in range(_MAX_LAYERS):
        if isinstance(target, ScopeGuardMiddleware):
            return target.policy.table
        for middleware in getattr(target, "user_middleware", None) or ():
            if getattr(middleware, "cls", None) is ScopeGuardMiddleware:
                return _declared_table(app, getattr(middleware, "kwargs", {}))
        target = getattr(target, "app", None)
        if target is None:
            return None
    return None


def _declared_table(app: object, options: dict[str, object]) -> RouteTable:
    """Return the table that ``add_middleware(ScopeGuardMiddleware, **options)`` builds."""
    routes = options.get("routes")
    if isinstance(routes, RouteTable):
        return routes
    if routes is not None:
        return RouteTable(routes)  # type: ignore[arg-type]
    verb = options.get("websocket_scope_method") or "GET"
    return routes_from_app(app, websocket_scope_method=verb)  # type: ignore[arg-type]

"""The scope catalogue and Canvas's list-scopes API, ``GET /api/v1/accounts/:account_id/scopes``.

The catalogue lists every scope a token can be given: one :class:`ScopeInfo` (Canvas calls
it a Scope object) per distinct scope of the non-public routes, plus any extra scopes that
no route has, such as ``/auth/userinfo``. :class:`ScopeCatalogueEndpoint` serves it as JSON
in the shape Canvas documents::

    [{"resource": "courses", "resource_name": "Courses", "controller": "courses",
      "action": "index", "verb": "GET", "scope": "url:GET|/api/v1/courses"}, ...]

With ``?group_by=resource_name`` or ``?group_by=resource`` the same entries come as an
object keyed by that field. Canvas documents only ``resource_name``, and ``resource`` is
an addition of scopeguard.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple
from urllib.parse import parse_qsl

from scopeguard._types import Receive, Scope, Send
from scopeguard.errors import ConfigurationError
from scopeguard.responses import DenialResponse, response_body
from scopeguard.scopes import ROUTE_SCOPE_PREFIX, SCOPE_VERBS, parse_scope
from scopeguard.table import Route

__all__ = ["GROUP_BY_FIELDS", "GroupBy", "ScopeCatalogueEndpoint", "ScopeInfo", "build_catalogue"]

logger = logging.getLogger("scopeguard.catalogue")

GroupBy = Literal["resource", "resource_name"]

#: The values the ``group_by`` query parameter accepts.
GROUP_BY_FIELDS: Final[tuple[GroupBy, ...]] = ("resource", "resource_name")

_ALLOWED_METHODS: Final = "GET, HEAD"
_TEXT_FIELDS: Final = ("resource", "resource_name", "controller", "action")
# For str patterns, \s matches the characters for which str.isspace() is true.
_WHITESPACE: Final = re.compile(r"\s")


@dataclass(frozen=True, kw_only=True)
class ScopeInfo:
    """One entry of the scope catalogue, with the fields of Canvas's Scope object.

    ``resource`` is the resource's identifier and ``resource_name`` its name for people.
    ``controller`` and ``action`` name the handler of the scope's route. ``verb`` is the
    method written in a ``url:`` scope and is filled in from the scope when left out.
    Another scope, such as ``/auth/userinfo``, has the ``verb`` it is given, or ``None``.

    Raises :class:`ConfigurationError` when ``scope`` is empty or contains whitespace, a
    ``url:`` scope is malformed (:class:`~scopeguard.ScopeSyntaxError`), ``verb`` is not
    an HTTP method or differs from the scope's, or a text field is not a string or ``None``.
    """

    resource: str | None
    resource_name: str | None
    controller: str | None = None
    action: str | None = None
    verb: str | None = None
    scope: str

    def __post_init__(self) -> None:
        if not isinstance(self.scope, str) or not self.scope:
            raise ConfigurationError(
                f"invalid catalogue scope {self.scope!r}: a scope must be a non-empty string"
            )
        if _WHITESPACE.search(self.scope):
            raise ConfigurationError(
                f"invalid catalogue scope {self.scope!r}: a scope must not contain whitespace, "
                "because a token's scope claim separates scopes with spaces"
            )
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(
                    f"catalogue scope {self.scope!r}: {name} must be a string or None, "
                    f"got {type(value).__name__}"
                )
        if self.verb is not None and self.verb not in SCOPE_VERBS:
            raise ConfigurationError(
                f"catalogue scope {self.scope!r}: unknown verb {self.verb!r}; "
                f"use one of {', '.join(sorted(SCOPE_VERBS))}"
            )

        # A prefix in another case ("URL:") is parsed too, so that parse_scope rejects it
        # instead of the catalogue listing it as an opaque scope.
        if self.scope[: len(ROUTE_SCOPE_PREFIX)].lower() != ROUTE_SCOPE_PREFIX:
            return
        route_verb = parse_scope(self.scope).verb
        if self.verb is None:
            object.__setattr__(self, "verb", route_verb)
        elif self.verb != route_verb:
            raise ConfigurationError(
                f"catalogue scope {self.scope!r}: verb {self.verb!r} differs from the scope's "
                f"verb {route_verb!r}; leave verb out or set it to {route_verb!r}"
            )

    @classmethod
    def from_route(cls, route: Route) -> ScopeInfo:
        """Return the entry for ``route``'s scope, with the route's resource and handler."""
        return cls(
            resource=route.resource,
            resource_name=route.resource_name,
            controller=route.controller,
            action=route.action,
            scope=route.scope,
        )

    def as_dict(self) -> dict[str, str | None]:
        """Return the entry as a JSON object, with the keys in the order Canvas lists them."""
        return {
            "resource": self.resource,
            "resource_name": self.resource_name,
            "controller": self.controller,
            "action": self.action,
            "verb": self.verb,
            "scope": self.scope,
        }


def build_catalogue(
    routes: Iterable[Route], extra_scopes: Iterable[ScopeInfo] = ()
) -> tuple[ScopeInfo, ...]:
    """Build the scope catalogue of ``routes`` (a :class:`~scopeguard.RouteTable` or routes
    in declaration order) and ``extra_scopes``.

    Public routes are left out, since they need no scope. Routes that share a scope, such
    as ``download`` and ``download.:type``, give one entry, and the first of them in
    declaration order supplies its resource, resource name, controller and action, as
    Canvas does. The entries are sorted by ``resource_name`` ignoring case, with ``None``
    sorted as ``""``, and then by ``scope``. Canvas sorts with ICU collation and leaves
    out scopes without a resource name, which this function keeps.

    Raises :class:`ConfigurationError` when an item of ``routes`` is not a
    :class:`~scopeguard.Route`, an item of ``extra_scopes`` is not a :class:`ScopeInfo`, or
    an extra scope repeats another extra scope or the scope of a non-public route.
    """
    entries: dict[str, ScopeInfo] = {}
    # The route that supplied each entry, to name it when an extra scope repeats its scope.
    sources: dict[str, Route] = {}
    for position, route in enumerate(routes):
        if not isinstance(route, Route):
            raise ConfigurationError(
                f"route {position}: expected a scopeguard.Route, got {type(route).__name__}"
            )
        if route.public or route.scope in entries:
            continue
        entries[route.scope] = ScopeInfo.from_route(route)
        sources[route.scope] = route

    for position, extra in enumerate(extra_scopes):
        if not isinstance(extra, ScopeInfo):
            raise ConfigurationError(
                f"extra scope {position}: expected a scopeguard.ScopeInfo, "
                f"got {type(extra).__name__}"
            )
        if extra.scope in sources:
            raise ConfigurationError(
                f"extra scope {extra.scope!r} duplicates the scope of route "
                f"{sources[extra.scope]}; remove it from the extra scopes"
            )
        if extra.scope in entries:
            raise ConfigurationError(
                f"extra scope {extra.scope!r} is listed twice; list each extra scope once"
            )
        entries[extra.scope] = extra

    return tuple(sorted(entries.values(), key=_sort_key))


def _sort_key(entry: ScopeInfo) -> tuple[str, str]:
    return ((entry.resource_name or "").casefold(), entry.scope)


class _Rendered(NamedTuple):
    body: bytes
    headers: list[tuple[bytes, bytes]]


class ScopeCatalogueEndpoint:
    """An ASGI app that serves the scope catalogue as JSON, as Canvas's list-scopes API does.

    Use it as the endpoint of a Starlette ``Route`` or mount it as an app of its own. It
    needs no request body and ignores its path, so it can serve any path. Behind
    :class:`~scopeguard.ScopeGuardMiddleware` its route needs a scope like any other, such
    as ``url:GET|/api/v1/accounts/:account_id/scopes``.

    ``GET`` returns a JSON list of Scope objects. ``?group_by=resource_name`` or
    ``?group_by=resource`` returns an object keyed by that field instead, whose keys come
    in the order of their first entry in the list and whose values are lists in list order.
    Entries whose field is ``None`` are listed under the key ``""``, together with any
    whose field is ``""``. Other query parameters are ignored. An unknown, empty or
    repeated ``group_by`` gets 400 and any method other than GET and HEAD gets 405, both
    with a body in Canvas's error shape, ``{"errors": [{"message": "..."}]}``. HEAD
    returns the headers of GET, ``content-length`` included, without the body.

    The catalogue is built at construction, by :func:`build_catalogue`, and kept in list
    order in ``catalogue``. An invalid extra scope therefore raises
    :class:`ConfigurationError` when the app starts. Each of the three JSON bodies is
    rendered on its first request and then reused, since the routes do not change while
    the app runs. A lifespan connection is completed at once, and a websocket connection
    is closed before it is accepted.
    """

    def __init__(self, routes: Iterable[Route], *, extra_scopes: Iterable[ScopeInfo] = ()) -> None:
        self.catalogue: tuple[ScopeInfo, ...] = build_catalogue(routes, extra_scopes)
        self._rendered: dict[GroupBy | None, _Rendered] = {}

    def render(self, group_by: GroupBy | None = None) -> bytes:
        """Return the JSON body for ``group_by``, rendering it on first use.

        Raises ``ValueError`` when ``group_by`` is neither ``None`` nor in
        :data:`GROUP_BY_FIELDS`.
        """
        if group_by is not None and group_by not in GROUP_BY_FIELDS:
            raise ValueError(
                f"invalid group_by {group_by!r}; use {' or '.join(GROUP_BY_FIELDS)}, or None"
            )
        return self._render(group_by).body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _complete_lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            # The ASGI spec has the server reject a handshake closed before it is accepted
            # with HTTP 403.
            await send({"type": "websocket.close", "code": 1000})
            return
        if scope["type"] != "http":
            raise ValueError(f"ScopeCatalogueEndpoint cannot serve a {scope['type']!r} connection")

        method: str = scope["method"]
        if method not in ("GET", "HEAD"):
            message = (
                f"method {method} is not allowed on {scope['path']}; allowed: {_ALLOWED_METHODS}"
            )
            logger.debug("rejected %s %r: %s", method, scope["path"], message)
            await _send_error(send, 405, message, [(b"allow", _ALLOWED_METHODS.encode("ascii"))])
            return

        group_by, problem = _read_group_by(scope.get("query_string", b""))
        if problem is not None:
            logger.debug("rejected %s %r: %s", method, scope["path"], problem)
            await _send_error(send, 400, problem, [], head=method == "HEAD")
            return

        rendered = self._render(group_by)
        await send(
            {"type": "http.response.start", "status": 200, "headers": list(rendered.headers)}
        )
        await send(
            {"type": "http.response.body", "body": b"" if method == "HEAD" else rendered.body}
        )

    def _render(self, group_by: GroupBy | None) -> _Rendered:
        # Without an await between the lookup and the store, concurrent requests on one
        # event loop cannot render a body twice. Threads might, which is harmless.
        rendered = self._rendered.get(group_by)
        if rendered is None:
            body = _render_json(self.catalogue, group_by)
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
            ]
            rendered = self._rendered[group_by] = _Rendered(body, headers)
        return rendered


def _render_json(catalogue: Iterable[ScopeInfo], group_by: GroupBy | None) -> bytes:
    document: list[dict[str, str | None]] | dict[str, list[dict[str, str | None]]]
    if group_by is None:
        document = [entry.as_dict() for entry in catalogue]
    else:
        groups: dict[str, list[dict[str, str | None]]] = {}
        for entry in catalogue:
            key = entry.resource if group_by == "resource" else entry.resource_name
            groups.setdefault(key or "", []).append(entry.as_dict())
        document = groups
    # json.dumps escapes every non-ASCII character, lone surrogates included, so encoding
    # to ASCII cannot fail.
    return json.dumps(document, separators=(",", ":")).encode("ascii")


def _read_group_by(query_string: bytes) -> tuple[GroupBy | None, str | None]:
    """Return the ``group_by`` of a query string, or the message of a 400 as the second item."""
    if not query_string:
        return None, None

    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    values = [value for name, value in pairs if name == "group_by"]
    if not values:
        return None, None
    allowed = " or ".join(GROUP_BY_FIELDS)
    if len(values) > 1:
        return None, f"group_by was given {len(values)} times; give it once, as {allowed}"

    value = values[0]
    for field_name in GROUP_BY_FIELDS:
        if value == field_name:
            return field_name, None
    return None, (
        f"invalid group_by {value!r}; use {allowed}, or leave group_by out for an ungrouped list"
    )


async def _send_error(
    send: Send,
    status: int,
    message: str,
    extra_headers: list[tuple[bytes, bytes]],
    *,
    head: bool = False,
) -> None:
    body = response_body(DenialResponse(status, message))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _complete_lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown, as an app without startup work does."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

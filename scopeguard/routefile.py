"""Route table files in TOML, JSON or tab-separated form, and Canvas scope catalogues.

TOML contains an optional ``precedence`` and an array of ``[[routes]]`` tables::

    precedence = "first_declared"

    [[routes]]
    method = "GET"
    path = "/api/v1/courses/:course_id/files"
    resource = "files"
    resource_name = "Files"
    controller = "files"
    action = "api_index"

    [[routes]]
    method = "GET"
    path = "/health"
    public = true

JSON contains either a list of route objects with the same keys, or an object with
``precedence`` and ``routes``. A ``.tsv`` file has a header line naming its columns from
the same keys (``method`` and ``path`` are required), one route per line.

A list of Scope objects, as Canvas's list-scopes endpoint returns them, may stand in for
a list of route objects, and so may the endpoint's grouped form: an object that maps
each resource name to such a list. Each ``url:`` scope becomes one route.

:func:`dump_routes` writes a table back to TOML or JSON, and loading the file gives an
equal table.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import secrets
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scopeguard.errors import ConfigurationError, ScopeSyntaxError
from scopeguard.openapi import is_openapi_document, load_openapi, routes_from_openapi
from scopeguard.scopes import ROUTE_SCOPE_PREFIX, parse_scope
from scopeguard.table import PRECEDENCES, WEBSOCKET, Precedence, Route, RouteTable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "ROUTE_KEYS",
    "dump_routes",
    "format_routes",
    "load_routes",
    "routes_from_data",
    "routes_to_data",
]

#: Keys a route entry may have. ``method`` and ``path`` are required.
ROUTE_KEYS = (
    "method",
    "path",
    "resource",
    "resource_name",
    "controller",
    "action",
    "public",
    "report_only",
    "host",
    "scope_method",
)
_FLAG_KEYS = ("public", "report_only")
_TEXT_KEYS = tuple(key for key in ROUTE_KEYS if key not in _FLAG_KEYS)

# The keys of a Scope object of Canvas's list-scopes endpoint. Canvas versions whose
# catalogue also lists the route's path without its format part send ``path`` as well.
_SCOPE_KEYS = ("resource", "resource_name", "controller", "action", "verb", "scope", "path")
_SCOPE_TEXT_KEYS = tuple(key for key in _SCOPE_KEYS if key != "scope")

# The list-scopes endpoint sorts its scopes by resource name, not in the order the service
# declares its routes, and writes every parameter as ":name", without its converter. A
# table read from it cannot know which of several matching routes the service runs, so
# unless the file sets a precedence it requires the scopes of all of them.
_CATALOGUE_PRECEDENCE: Precedence = "all_matching"
_ROUTE_LIST_PRECEDENCE: Precedence = "first_declared"

_READ_SUFFIXES = (".toml", ".json", ".tsv")
_WRITE_SUFFIXES = (".toml", ".json")


# --- Reading --------------------------------------------------------------------------------


def load_routes(path: str | Path) -> RouteTable:
    """Load a route table from a ``.toml``, ``.json`` or ``.tsv`` file, or from an OpenAPI
    document (a ``.yaml`` or ``.yml`` file, or a ``.json`` file with an ``openapi`` key),
    read with :func:`~scopeguard.routes_from_openapi`.

    Raises :class:`ConfigurationError` naming the file, the entry and the problem when the
    file cannot be read or parsed, or a route is invalid.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return load_openapi(file)
    if suffix not in _READ_SUFFIXES:
        raise ConfigurationError(
            f"{file}: unknown route file type {suffix!r}; use .toml, .json or .tsv, or an "
            "OpenAPI document (.yaml, .yml or .json)"
        )
    try:
        # utf-8-sig also reads files that editors saved with a byte order mark.
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{file}: cannot read the route file: {exc}") from exc

    data: Any
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            data = _read_tsv(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"{file}: invalid {suffix[1:].upper()}: {exc}") from exc
    if is_openapi_document(data):
        try:
            return routes_from_openapi(data)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{file}: {exc}") from None
    return routes_from_data(data, source=str(file))


def routes_from_data(data: Any, *, source: str = "route data") -> RouteTable:
    """Build a route table from parsed file data.

    ``data`` is a list of entries, a mapping with such a list under ``routes`` and an
    optional ``precedence``, or a mapping from resource names to lists of Scope objects.
    A list whose first entry has a ``scope`` key and no ``method`` key is a list of Scope
    objects, and any other list is a list of route objects. Non-``url:`` scopes grant no
    route and are skipped. The precedence defaults to ``all_matching`` for Scope objects,
    because a catalogue keeps neither the declaration order nor the converters that decide
    which route the service runs, and to ``first_declared`` for route objects. ``source``
    starts every error message.
    """
    if isinstance(data, Mapping) and _is_scope_groups(data):
        routes: list[Route] = []
        for group, entries in data.items():
            routes.extend(_routes_from_scopes(entries, source, group))
        return RouteTable(routes, precedence=_CATALOGUE_PRECEDENCE)

    precedence: Any = None
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - {"routes", "precedence"})
        if unknown:
            raise ConfigurationError(
                f"{source}: unknown top-level key {unknown[0]!r}; use 'routes' and 'precedence'"
            )
        if "routes" not in data:
            raise ConfigurationError(f"{source}: missing 'routes', the list of routes")
        if "precedence" in data:
            precedence = data["precedence"]
            if precedence not in PRECEDENCES:
                raise ConfigurationError(
                    f"{source}: unknown precedence {precedence!r}; "
                    f"use one of {', '.join(PRECEDENCES)}"
                )
        entries = data["routes"]
    else:
        entries = data
    if not isinstance(entries, list):
        raise ConfigurationError(f"{source}: routes must be a list, got {type(entries).__name__}")

    if entries and _is_scope_entry(entries[0]):
        routes = _routes_from_scopes(entries, source)
        default = _CATALOGUE_PRECEDENCE
    else:
        routes = [
            _route(entry, f"{source}: route {index + 1}") for index, entry in enumerate(entries)
        ]
        default = _ROUTE_LIST_PRECEDENCE
    return RouteTable(routes, precedence=precedence or default)


def _route(entry: Any, label: str) -> Route:
    if not isinstance(entry, Mapping):
        raise ConfigurationError(f"{label}: expected an object with method and path")
    unknown = sorted(set(entry) - set(ROUTE_KEYS))
    if unknown:
        raise ConfigurationError(
            f"{label}: unknown key {unknown[0]!r}; allowed keys are {', '.join(ROUTE_KEYS)}"
        )
    for key in ("method", "path"):
        if key not in entry:
            raise ConfigurationError(f"{label}: missing {key!r}")
    for key in _TEXT_KEYS:
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{label}: {key!r} must be a string, got {value!r}")
    flags = {key: entry.get(key, False) for key in _FLAG_KEYS}
    for key, flag in flags.items():
        if not isinstance(flag, bool):
            raise ConfigurationError(f"{label}: {key!r} must be true or false, got {flag!r}")

    try:
        return Route(
            entry["method"],
            entry["path"],
            resource=entry.get("resource"),
            resource_name=entry.get("resource_name"),
            controller=entry.get("controller"),
            action=entry.get("action"),
            public=flags["public"],
            report_only=flags["report_only"],
            host=entry.get("host"),
            scope_method=entry.get("scope_method"),
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{label}: {exc}") from exc


def _is_scope_entry(entry: Any) -> bool:
    return isinstance(entry, Mapping) and "scope" in entry and "method" not in entry


def _is_scope_groups(data: Mapping[Any, Any]) -> bool:
    """Return whether ``data`` is the grouped form of a scope catalogue.

    The endpoint creates a group only for a resource that has scopes, so every value is a
    non-empty list that starts with a Scope object. Any other mapping is read as a route
    file object, which keeps the error messages for a mistyped ``routes`` key.
    """
    if not data or "routes" in data or "precedence" in data:
        return False
    return all(
        isinstance(entries, list) and entries and _is_scope_entry(entries[0])
        for entries in data.values()
    )


def _routes_from_scopes(entries: list[Any], source: str, group: str | None = None) -> list[Route]:
    """Build a route from every ``url:`` scope in ``entries``, skipping the other scopes."""
    routes: list[Route] = []
    for index, entry in enumerate(entries):
        label = f"{source}: scope {index + 1}"
        if group is not None:
            label += f" of {group!r}"
        route = _scope_route(entry, label)
        if route is not None:
            routes.append(route)
    return routes


def _scope_route(entry: Any, label: str) -> Route | None:
    """Return the route a Scope object grants, or ``None`` when its scope is not a
    ``url:`` scope (such as ``/auth/userinfo``) and so grants no route."""
    if not isinstance(entry, Mapping):
        raise ConfigurationError(f"{label}: expected a Scope object with a scope key")
    unknown = sorted(set(entry) - set(_SCOPE_KEYS))
    if unknown:
        raise ConfigurationError(
            f"{label}: unknown key {unknown[0]!r}; a Scope object has the keys "
            f"{', '.join(_SCOPE_KEYS)}"
        )
    if "scope" not in entry:
        raise ConfigurationError(f"{label}: missing 'scope'")
    scope = entry["scope"]
    if not isinstance(scope, str):
        raise ConfigurationError(f"{label}: 'scope' must be a string, got {scope!r}")
    for key in _SCOPE_TEXT_KEYS:
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{label}: {key!r} must be a string, got {value!r}")
    # A prefix in another case ("URL:") is parsed too, so that parse_scope rejects the
    # mistyped scope instead of this loader skipping it as a scope that grants no route.
    if scope[: len(ROUTE_SCOPE_PREFIX)].lower() != ROUTE_SCOPE_PREFIX:
        return None

    try:
        parsed = parse_scope(scope)
    except ScopeSyntaxError as exc:
        raise ConfigurationError(f"{label}: {exc}") from exc
    verb = entry.get("verb")
    if verb is not None and verb != parsed.verb:
        raise ConfigurationError(f"{label}: verb {verb!r} does not match the scope {scope!r}")
    path = entry.get("path")
    if path is not None and path != parsed.path:
        raise ConfigurationError(f"{label}: path {path!r} does not match the scope {scope!r}")

    try:
        route = Route(
            parsed.verb,
            parsed.path,
            resource=entry.get("resource"),
            resource_name=entry.get("resource_name"),
            controller=entry.get("controller"),
            action=entry.get("action"),
            # Only a websocket route can carry the WEBSOCKET verb.
            scope_method=WEBSOCKET if parsed.verb == WEBSOCKET else None,
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{label}: {exc}") from exc
    # A path in Starlette notation or with a trailing format part gives the route another
    # scope, which a token holding the catalogue's scope would then lack.
    if route.scope != scope:
        raise ConfigurationError(
            f"{label}: the route of scope {scope!r} needs the scope {route.scope!r}; write "
            "the path in Canvas notation without a trailing format part"
        )
    return route


def _read_tsv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(
        io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE, restkey="(extra column)"
    )
    rows: list[dict[str, Any]] = []
    for row in reader:
        entry: dict[str, Any] = {
            key: value for key, value in row.items() if value not in ("", None)
        }
        for key in _FLAG_KEYS:
            flag = str(entry.get(key, "")).lower()
            if flag in ("true", "false"):
                entry[key] = flag == "true"
        rows.append(entry)
    return rows


# --- Writing --------------------------------------------------------------------------------


def routes_to_data(table: RouteTable) -> dict[str, Any]:
    """Return the plain data of a route table: its ``precedence`` and a list of routes.

    Each route is a dictionary with the keys of :data:`ROUTE_KEYS` in that order, without
    the keys whose value is ``None`` and without ``public`` and ``report_only`` when they
    are false.
    :func:`routes_from_data` builds an equal table from the result.
    """
    routes: list[dict[str, str | bool]] = []
    for route in table:
        entry: dict[str, str | bool] = {}
        for key in ROUTE_KEYS:
            value = getattr(route, key)
            if value is None or (key in _FLAG_KEYS and not value):
                continue
            entry[key] = value
        routes.append(entry)
    return {"precedence": table.precedence, "routes": routes}


def dump_routes(table: RouteTable, path: str | Path) -> None:
    """Write a route table to a ``.toml`` or ``.json`` file, chosen by the file's suffix.

    The file contains the table's precedence and every route, as :func:`routes_to_data`
    returns them, and :func:`load_routes` reads it back as an equal table. The write is
    atomic: the text goes to a temporary file in the same folder, which then replaces
    ``path``, so a reader sees the old file or the new one, never a part. A symbolic link
    stays a link, and the file it points to is replaced. Raises
    :class:`ConfigurationError` naming the file for another suffix, for a string that
    UTF-8 cannot encode (a lone surrogate), or when the file cannot be written.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in _WRITE_SUFFIXES:
        raise ConfigurationError(
            f"{file}: cannot write a route file of type {suffix!r}; use .toml or .json"
        )

    text = format_routes(table, suffix[1:], source=str(file))
    _write_atomically(file, text.encode("utf-8"))


def format_routes(table: RouteTable, file_format: str, *, source: str = "route data") -> str:
    """Return ``table`` as the text of a ``"toml"`` or ``"json"`` route file.

    Raises :class:`ConfigurationError`, starting with ``source``, for a string that UTF-8
    cannot encode (a lone surrogate) or an unknown format.
    """
    data = routes_to_data(table)
    _check_encodable(data["routes"], source)
    if file_format == "toml":
        return _toml_document(data)
    if file_format == "json":
        # Non-ASCII characters stay readable. The json module escapes the quote, the
        # backslash and the control characters.
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    raise ConfigurationError(
        f"{source}: unknown route file format {file_format!r}; use toml or json"
    )


def _check_encodable(routes: list[dict[str, str | bool]], source: str) -> None:
    for index, entry in enumerate(routes):
        for key, value in entry.items():
            if not isinstance(value, str):
                continue
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                character = value[exc.start]
                raise ConfigurationError(
                    f"{source}: route {index + 1}: {key} {value!r} contains the lone "
                    f"surrogate U+{ord(character):04X}, which a UTF-8 file cannot hold"
                ) from None


def _toml_document(data: dict[str, Any]) -> str:
    lines = [f"precedence = {toml_string(data['precedence'])}"]
    if not data["routes"]:
        # A file without a [[routes]] table has no routes key, which the loader rejects.
        lines.append("routes = []")
    for entry in data["routes"]:
        lines.extend(("", "[[routes]]"))
        # Every key of ROUTE_KEYS is a bare TOML key, so none needs quotes.
        for key, value in entry.items():
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return toml_string(value)


# Characters that have a short escape in a TOML basic string.
_TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def toml_string(text: str) -> str:
    """Quote ``text`` as a TOML basic string.

    TOML requires escapes for the quote, the backslash and the control characters U+0000
    to U+001F and U+007F. Other characters that ``str.isprintable`` rejects, such as
    U+0085, U+2028 and U+200B, are escaped too, so the file shows them. Printable
    non-ASCII characters are written as they are, because a TOML file is UTF-8.
    """
    pieces: list[str] = []
    for character in text:
        escape = _TOML_ESCAPES.get(character)
        if escape is not None:
            pieces.append(escape)
        elif character.isprintable():
            pieces.append(character)
        elif ord(character) <= 0xFFFF:
            pieces.append(f"\\u{ord(character):04X}")
        else:
            pieces.append(f"\\U{ord(character):08X}")
    return '"' + "".join(pieces) + '"'


def _write_atomically(file: Path, content: bytes) -> None:
    """Write ``content`` to a temporary file in the folder of ``file``, flush it to disk,
    and move it over ``file`` with ``os.replace``, which is atomic within a file system."""
    target = Path(os.path.realpath(file)) if file.is_symlink() else file
    # O_EXCL turns a name collision into an error instead of writing into another
    # writer's file, and the random name makes a collision unlikely.
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    try:
        try:
            mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = None
        # 0o666 lets the umask set the permissions of a new file, as open() does.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        descriptor = os.open(temporary, flags, 0o666)
        try:
            with open(descriptor, "wb") as stream:
                stream.write(content)
                stream.flush()
                os.fsync(stream.fileno())
            # A replaced file keeps its permissions.
            if mode is not None:
                os.chmod(temporary, mode)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
    except OSError as exc:
        raise ConfigurationError(f"{file}: cannot write the route file: {exc}") from exc

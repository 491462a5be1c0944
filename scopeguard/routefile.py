"""Route table files in TOML, JSON or tab-separated form.

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

JSON holds either a list of route objects with the same keys, or an object with
``precedence`` and ``routes``. A ``.tsv`` file has a header line naming its columns from
the same keys (``method`` and ``path`` are required), one route per line.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scopeguard.errors import ConfigurationError
from scopeguard.table import PRECEDENCES, Route, RouteTable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["ROUTE_KEYS", "load_routes", "routes_from_data"]

#: Keys a route entry may have. ``method`` and ``path`` are required.
ROUTE_KEYS = ("method", "path", "resource", "resource_name", "controller", "action", "public")
_TEXT_KEYS = ("method", "path", "resource", "resource_name", "controller", "action")


def load_routes(path: str | Path) -> RouteTable:
    """Load a route table from a ``.toml``, ``.json`` or ``.tsv`` file.

    Raises :class:`ConfigurationError` naming the file, the entry and the problem when the
    file cannot be read or parsed, or a route is invalid.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".toml", ".json", ".tsv"):
        raise ConfigurationError(
            f"{file}: unknown route file type {suffix!r}; use .toml, .json or .tsv"
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
    return routes_from_data(data, source=str(file))


def routes_from_data(data: Any, *, source: str = "route data") -> RouteTable:
    """Build a route table from parsed file data: a list of routes, or a mapping with
    ``routes`` and an optional ``precedence``."""
    precedence: Any = "first_declared"
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - {"routes", "precedence"})
        if unknown:
            raise ConfigurationError(
                f"{source}: unknown top-level key {unknown[0]!r}; use 'routes' and 'precedence'"
            )
        if "routes" not in data:
            raise ConfigurationError(f"{source}: missing 'routes', the list of routes")
        precedence = data.get("precedence", precedence)
        if precedence not in PRECEDENCES:
            raise ConfigurationError(
                f"{source}: unknown precedence {precedence!r}; use one of {', '.join(PRECEDENCES)}"
            )
        entries = data["routes"]
    else:
        entries = data
    if not isinstance(entries, list):
        raise ConfigurationError(f"{source}: routes must be a list, got {type(entries).__name__}")

    routes = [_route(entry, f"{source}: route {index + 1}") for index, entry in enumerate(entries)]
    return RouteTable(routes, precedence=precedence)


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
    public = entry.get("public", False)
    if not isinstance(public, bool):
        raise ConfigurationError(f"{label}: 'public' must be true or false, got {public!r}")

    try:
        return Route(
            entry["method"],
            entry["path"],
            resource=entry.get("resource"),
            resource_name=entry.get("resource_name"),
            controller=entry.get("controller"),
            action=entry.get("action"),
            public=public,
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{label}: {exc}") from exc


def _read_tsv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(
        io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE, restkey="(extra column)"
    )
    rows: list[dict[str, Any]] = []
    for row in reader:
        entry: dict[str, Any] = {
            key: value for key, value in row.items() if value not in ("", None)
        }
        flag = str(entry.get("public", "")).lower()
        if flag in ("true", "false"):
            entry["public"] = flag == "true"
        rows.append(entry)
    return rows

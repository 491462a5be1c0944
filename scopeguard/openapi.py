"""Route tables from an OpenAPI 3.0 or 3.1 document.

:func:`routes_from_openapi` turns every operation of the document's ``paths`` into a
route, so a gateway can guard a service whose code it cannot read:

* A path template's ``{param}`` segments become route parameters, written ``:param`` in
  scopes. A name that is not an identifier (``{user-id}``) has its other characters
  replaced by ``_``.
* The path part of each ``servers`` URL prefixes the paths. The innermost ``servers``
  given wins: the operation's, then the path item's, then the document's. Server
  variables take their ``default``, and several servers with different paths give a
  route per path.
* The table uses ``most_specific`` precedence: the OpenAPI specification states that concrete
  paths match before templated ones.
* ``resource`` and ``resource_name`` come from the operation's first tag, ``action`` from
  its ``operationId``. An operation whose ``security`` is an empty list needs no
  authentication in OpenAPI, and its route is public.

Errors name the location in the document, such as ``paths./courses/{id}.get``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from scopeguard.errors import ConfigurationError
from scopeguard.table import Route, RouteTable

__all__ = ["OPENAPI_METHODS", "load_openapi", "routes_from_openapi"]

#: Operation keys of a path item, in the order routes are emitted. ``trace`` gets no route,
#: so a TRACE request to a path with routes gets 405.
OPENAPI_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch")
_PARAMETER: Final = re.compile(r"\{([^{}]*)\}")
_IDENTIFIER_CHARACTER: Final = re.compile(r"[^A-Za-z0-9_]")
_SERVER_VARIABLE: Final = re.compile(r"\{([^{}]+)\}")


def load_openapi(path: str | Path) -> RouteTable:
    """Read an OpenAPI document from a ``.json``, ``.yaml`` or ``.yml`` file and return its
    route table. YAML needs PyYAML, from the ``openapi`` extra.

    Raises :class:`ConfigurationError` naming the file and the problem.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the OpenAPI document {str(file)!r}: {exc}") from exc
    document: Any
    if file.suffix.lower() in (".yaml", ".yml"):
        document = _parse_yaml(text, file)
    else:
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise ConfigurationError(f"{file}: not valid JSON: {exc}") from None
    try:
        return routes_from_openapi(document)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{file}: {exc}") from None


def is_openapi_document(document: object) -> bool:
    """Return whether ``document`` declares itself an OpenAPI 3 document."""
    return isinstance(document, Mapping) and isinstance(document.get("openapi"), str)


def routes_from_openapi(document: Any) -> RouteTable:
    """Return a ``most_specific`` route table with a route per operation of ``document``.

    Raises :class:`ConfigurationError` for a document that is not OpenAPI 3.0 or 3.1, or
    for an operation a route cannot express, naming its location.
    """
    if not isinstance(document, Mapping):
        raise ConfigurationError("an OpenAPI document must be a JSON or YAML object")
    version = document.get("openapi")
    if version is None and "swagger" not in document:
        raise ConfigurationError(
            "not an OpenAPI document: it has no 'openapi' key; route files are .toml, .json "
            "or .tsv files"
        )
    if not isinstance(version, str) or not re.match(r"3\.[01](\.|$)", version):
        raise ConfigurationError(
            f"openapi: expected version 3.0 or 3.1, got {version!r}; Swagger 2.0 documents "
            "need converting first"
        )
    paths = document.get("paths", {})
    if not isinstance(paths, Mapping):
        raise ConfigurationError("paths: must be an object")
    root_bases = _server_paths(document.get("servers"), "servers")

    routes: list[Route] = []
    for template, item in paths.items():
        location = f"paths.{template}"
        if not isinstance(template, str) or not template.startswith("/"):
            raise ConfigurationError(f"{location}: a path must start with '/'")
        item = _resolve(document, item, location)
        if not isinstance(item, Mapping):
            raise ConfigurationError(f"{location}: must be an object")
        item_bases = _server_paths(item.get("servers"), f"{location}.servers") or root_bases
        route_path = _route_template(template, location)
        for method in OPENAPI_METHODS:
            if method not in item:
                continue
            operation = item[method]
            where = f"{location}.{method}"
            if not isinstance(operation, Mapping):
                raise ConfigurationError(f"{where}: must be an object")
            bases = _server_paths(operation.get("servers"), f"{where}.servers") or item_bases
            for base in bases or [""]:
                routes.append(_route(method, base + route_path, operation, where))
    return RouteTable(routes, precedence="most_specific")


def _route(method: str, path: str, operation: Mapping[str, Any], where: str) -> Route:
    tags = operation.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ConfigurationError(f"{where}.tags: must be a list of strings")
    operation_id = operation.get("operationId")
    if operation_id is not None and not isinstance(operation_id, str):
        raise ConfigurationError(f"{where}.operationId: must be a string")
    security = operation.get("security")
    if security is not None and not isinstance(security, list):
        raise ConfigurationError(f"{where}.security: must be a list")
    resource = _slug(tags[0]) if tags else None
    try:
        return Route(
            method.upper(),
            path or "/",
            resource=resource,
            resource_name=tags[0] if tags else None,
            controller="openapi",
            action=operation_id,
            public=security == [],
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def _route_template(template: str, location: str) -> str:
    """Return the OpenAPI path template in Starlette syntax, parameter names made valid."""
    names: set[str] = set()

    def parameter(match: re.Match[str]) -> str:
        name = match.group(1)
        if not name:
            raise ConfigurationError(f"{location}: empty parameter '{{}}'")
        valid = _IDENTIFIER_CHARACTER.sub("_", name)
        if valid[0].isdigit():
            valid = "_" + valid
        if valid in names:
            raise ConfigurationError(
                f"{location}: parameter {{{name}}} repeats the name {valid!r}; rename one"
            )
        names.add(valid)
        return f"{{{valid}}}"

    if _RAILS_CHARACTERS.search(_PARAMETER.sub("", template)):
        raise ConfigurationError(
            f"{location}: a literal ':', '*', '(' or ')' cannot be written in a route scope"
        )
    return _PARAMETER.sub(parameter, template)


_RAILS_CHARACTERS: Final = re.compile(r"[:*()]")


def _server_paths(servers: object, location: str) -> list[str]:
    """Return the distinct path parts of ``servers``, without a trailing slash."""
    if servers is None:
        return []
    if not isinstance(servers, list):
        raise ConfigurationError(f"{location}: must be a list")
    paths: list[str] = []
    for index, server in enumerate(servers):
        where = f"{location}[{index}]"
        if not isinstance(server, Mapping) or not isinstance(server.get("url"), str):
            raise ConfigurationError(f"{where}: must be an object with a 'url' string")
        url = _expand_variables(server["url"], server.get("variables") or {}, where)
        path = urlsplit(url).path.rstrip("/")
        if path and not path.startswith("/"):
            path = "/" + path
        if path not in paths:
            paths.append(path)
    return paths


def _expand_variables(url: str, variables: object, where: str) -> str:
    if not isinstance(variables, Mapping):
        raise ConfigurationError(f"{where}.variables: must be an object")

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        variable = variables.get(name)
        if not isinstance(variable, Mapping) or not isinstance(variable.get("default"), str):
            raise ConfigurationError(
                f"{where}: server variable {{{name}}} needs a 'default' in 'variables'"
            )
        return str(variable["default"])

    return _SERVER_VARIABLE.sub(value, url)


def _resolve(document: Mapping[str, Any], item: object, location: str) -> object:
    """Follow a local ``$ref`` of a path item (OpenAPI 3.1 ``components/pathItems``)."""
    if not isinstance(item, Mapping) or "$ref" not in item:
        return item
    reference = item["$ref"]
    if not isinstance(reference, str) or not reference.startswith("#/"):
        raise ConfigurationError(
            f"{location}.$ref: only references inside the document ('#/...') are supported"
        )
    target: object = document
    for part in reference[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, Mapping) or key not in target:
            raise ConfigurationError(f"{location}.$ref: {reference!r} points to nothing")
        target = target[key]
    return target


def _parse_yaml(text: str, file: Path) -> object:
    try:
        import yaml
    except ModuleNotFoundError:
        raise ConfigurationError(
            f"{file}: reading YAML needs PyYAML; install it with "
            "pip install '.[openapi]' in a checkout of scopeguard, or give the document as JSON"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{file}: not valid YAML: {exc}") from None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or text

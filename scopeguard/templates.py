"""Route templates: parsing, the scope path of a route, and compiled matchers.

Two syntaxes are accepted, one per template:

* Rails and Canvas: ``:name`` matches a non-empty run of characters other than ``/``. It
  may start mid-segment, as in ``/jobs2/:bucket/by_:group``. ``*name`` matches one or more
  characters including ``/``, so one or more segments. ``( ... )`` marks an optional part
  and may nest, as in ``/outcome_imports(/group/:group_id)`` or ``/download(.:format)``.
* Starlette: ``{name}`` or ``{name:converter}`` with the converters ``str`` (``[^/]+``),
  ``int`` (``[0-9]+``), ``float`` (``[0-9]+(\\.[0-9]+)?``), ``uuid`` (hexadecimal groups with
  optional dashes) and ``path`` (``.*``, any rest of the path, possibly empty). A template
  that contains ``{`` uses this syntax, and ``:``, ``*``, ``(`` and ``)`` are then rejected
  because the Canvas notation of its scope could not express them.

Every other character matches itself: a ``.`` is a dot.

Whatever the syntax, the scope path of a template is written in Canvas notation, with
a trailing format part (``(.:format)``, ``(.:anything)`` or ``.:anything``) removed, so
``/files/{file_id:int}/download.{type}`` has the scope path ``/files/:file_id/download``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from starlette.routing import Host as StarletteHost
from starlette.routing import Match

from scopeguard.errors import RouteTemplateError

__all__ = ["CONVERTER_PATTERNS", "RouteTemplate", "compile_host", "compile_template"]

#: Regular expressions of the Starlette path converters, as ``starlette.convertors`` defines them.
CONVERTER_PATTERNS: Final = {
    "str": "[^/]+",
    "int": "[0-9]+",
    "float": r"[0-9]+(?:\.[0-9]+)?",
    "uuid": "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
    "path": ".*",
}

SEGMENT_PATTERN: Final = "[^/]+"
GLOB_PATTERN: Final = ".+"

# A template may expand into at most this many alternatives (2**6), which bounds the work
# of compiling deeply nested or long chains of optional groups.
MAX_VARIANTS: Final = 64

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STARLETTE_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_][A-Za-z0-9_]*))?\}")


@dataclass(frozen=True)
class Literal:
    """Characters that match themselves."""

    text: str


@dataclass(frozen=True)
class Param:
    """A parameter within one segment, matching ``pattern``."""

    name: str
    pattern: str


@dataclass(frozen=True)
class Glob:
    """A parameter that may span segments: ``*name`` or a Starlette ``path`` converter."""

    name: str
    pattern: str


@dataclass(frozen=True)
class Group:
    """An optional group ``( ... )``."""

    parts: tuple[Part, ...]


Part = Literal | Param | Glob | Group
Token = Literal | Param | Glob


@dataclass(frozen=True)
class RouteTemplate:
    """A compiled route template.

    ``variants`` lists the token sequences that the template matches, one per choice of
    optional groups, each starting with a literal ``/``. ``regex`` matches exactly the paths
    the template matches and serves as the reference for the trie in the route table.
    """

    text: str
    parts: tuple[Part, ...]
    param_names: tuple[str, ...]
    canvas_path: str
    scope_path: str
    variants: tuple[tuple[Token, ...], ...]
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        """Return whether ``path`` matches the template."""
        return self.regex.fullmatch(path) is not None


def compile_template(text: str) -> RouteTemplate:
    """Parse and compile ``text``, raising :class:`RouteTemplateError` when it is invalid."""
    if not isinstance(text, str):
        raise RouteTemplateError(repr(text), "a route template must be a string")
    if not text.startswith("/"):
        raise RouteTemplateError(text, "a route template must start with '/'")
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in text):
        raise RouteTemplateError(text, "remove the control character from the template")
    if any(character.isspace() for character in text):
        raise RouteTemplateError(text, "remove the whitespace from the template")

    parts = _parse_starlette(text) if "{" in text or "}" in text else _Parser(text).parse()

    names = _param_names(parts)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RouteTemplateError(
            text, f"duplicate parameter name {', '.join(duplicates)}; give each one its own name"
        )

    variants = tuple(_merge_literals(variant) for variant in _expand(text, parts))
    regex = re.compile(_regex_of(parts))
    canvas_path = _canvas(parts)
    scope_path = _canvas(_strip_format(parts)) or canvas_path
    return RouteTemplate(
        text=text,
        parts=parts,
        param_names=tuple(names),
        canvas_path=canvas_path,
        scope_path=scope_path,
        variants=variants,
        regex=regex,
    )


class _Parser:
    """Recursive-descent parser of the Rails and Canvas syntax."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def parse(self) -> tuple[Part, ...]:
        parts = self._parse_sequence(depth=0)
        if self.position < len(self.text):
            raise RouteTemplateError(
                self.text, f"unbalanced ')' at position {self.position}; remove it or add '('"
            )
        return parts

    def _parse_sequence(self, depth: int) -> tuple[Part, ...]:
        parts: list[Part] = []
        literal: list[str] = []

        def flush() -> None:
            if literal:
                parts.append(Literal("".join(literal)))
                literal.clear()

        while self.position < len(self.text):
            character = self.text[self.position]
            if character == ")":
                if depth == 0:
                    break
                flush()
                return tuple(parts)
            if character == "(":
                flush()
                start = self.position
                self.position += 1
                group = self._parse_sequence(depth + 1)
                if self.position >= len(self.text):
                    raise RouteTemplateError(
                        self.text, f"unbalanced '(' at position {start}; close it with ')'"
                    )
                self.position += 1
                if not group:
                    raise RouteTemplateError(
                        self.text,
                        f"empty group '()' at position {start}; remove it or put the optional "
                        "part inside",
                    )
                parts.append(Group(group))
                continue
            if character in ":*":
                flush()
                parts.append(self._parse_param(character))
                continue
            literal.append(character)
            self.position += 1

        # At the end of the text inside a group, the caller reports the unclosed '('.
        flush()
        return tuple(parts)

    def _parse_param(self, sigil: str) -> Param | Glob:
        match = _NAME.match(self.text, self.position + 1)
        if match is None:
            kind = "parameter" if sigil == ":" else "glob"
            raise RouteTemplateError(
                self.text,
                f"'{sigil}' at position {self.position} must be followed by a {kind} name "
                "made of letters, digits and '_'",
            )
        self.position = match.end()
        if sigil == ":":
            return Param(match.group(), SEGMENT_PATTERN)
        return Glob(match.group(), GLOB_PATTERN)


def _parse_starlette(text: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    position = 0
    for match in _STARLETTE_PARAM.finditer(text):
        if match.start() > position:
            parts.append(Literal(text[position : match.start()]))
        name, converter = match.group(1), match.group(2) or "str"
        if converter not in CONVERTER_PATTERNS:
            known = ", ".join(CONVERTER_PATTERNS)
            raise RouteTemplateError(
                text, f"unknown converter {converter!r} for {{{name}}}; use one of {known}"
            )
        pattern = CONVERTER_PATTERNS[converter]
        parts.append(Glob(name, pattern) if converter == "path" else Param(name, pattern))
        position = match.end()
    if position < len(text):
        parts.append(Literal(text[position:]))

    for part in parts:
        if not isinstance(part, Literal):
            continue
        for character in "{}:*()":
            if character in part.text:
                raise RouteTemplateError(
                    text,
                    f"{character!r} outside a '{{name}}' or '{{name:converter}}' parameter; "
                    "a Starlette-style template may not mix in Rails syntax or literal "
                    f"{character!r}",
                )
    return tuple(parts)


def _param_names(parts: tuple[Part, ...]) -> list[str]:
    names: list[str] = []
    for part in parts:
        if isinstance(part, (Param, Glob)):
            names.append(part.name)
        elif isinstance(part, Group):
            names.extend(_param_names(part.parts))
    return names


def _expand(text: str, parts: tuple[Part, ...]) -> list[tuple[Token, ...]]:
    """Return every token sequence the parts can match, shortest choices first."""
    variants: list[tuple[Token, ...]] = [()]
    for part in parts:
        if isinstance(part, Group):
            inner = _expand(text, part.parts)
            variants = [prefix + suffix for prefix in variants for suffix in [(), *inner]]
        else:
            variants = [(*prefix, part) for prefix in variants]
        if len(variants) > MAX_VARIANTS:
            raise RouteTemplateError(
                text, f"more than {MAX_VARIANTS} combinations of optional groups; split the route"
            )
    return variants


def _merge_literals(tokens: tuple[Token, ...]) -> tuple[Token, ...]:
    merged: list[Token] = []
    for token in tokens:
        if isinstance(token, Literal) and merged and isinstance(merged[-1], Literal):
            merged[-1] = Literal(merged[-1].text + token.text)
        else:
            merged.append(token)
    return tuple(merged)


def _regex_of(parts: tuple[Part, ...]) -> str:
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, Literal):
            pieces.append(re.escape(part.text))
        elif isinstance(part, (Param, Glob)):
            pieces.append(f"(?:{part.pattern})")
        else:
            pieces.append(f"(?:{_regex_of(part.parts)})?")
    return "".join(pieces)


def _canvas(parts: tuple[Part, ...]) -> str:
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, Literal):
            pieces.append(part.text)
        elif isinstance(part, Param):
            pieces.append(f":{part.name}")
        elif isinstance(part, Glob):
            pieces.append(f"*{part.name}")
        else:
            pieces.append(f"({_canvas(part.parts)})")
    return "".join(pieces)


def _strip_format(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    """Remove a trailing ``(.:name)`` group or ``.:name`` suffix, as Canvas scopes omit it."""
    if not parts:
        return parts
    last = parts[-1]
    if isinstance(last, Group) and _is_format(last.parts):
        return parts[:-1]
    if isinstance(last, Param) and len(parts) >= 2:
        before = parts[-2]
        if isinstance(before, Literal) and before.text.endswith("."):
            stem = before.text[:-1]
            return (*parts[:-2], Literal(stem)) if stem else parts[:-2]
    return parts


def _is_format(parts: tuple[Part, ...]) -> bool:
    return len(parts) == 2 and parts[0] == Literal(".") and isinstance(parts[1], Param)


def compile_host(text: str) -> Callable[[str | None], bool]:
    """Compile a Starlette ``Host`` template, such as ``{tenant}.example.org``.

    Returns a function that takes a request's ``Host`` header value (or ``None`` when the
    request has none) and returns whether a Starlette ``Host`` route with this template
    matches it. The function calls a ``Host`` route of the installed Starlette, because
    Starlette versions differ in how they parse the header (ports, IPv6 literals) and in
    whether they ignore case. Raises :class:`RouteTemplateError` for an empty template,
    whitespace, a ``/`` or an unknown converter.
    """
    if not isinstance(text, str) or not text:
        raise RouteTemplateError(repr(text), "a host template must be a non-empty string")
    if any(character.isspace() or character == "/" for character in text):
        raise RouteTemplateError(text, "a host template may not contain whitespace or '/'")
    for match in _STARLETTE_PARAM.finditer(text):
        name, converter = match.group(1), match.group(2) or "str"
        if converter not in CONVERTER_PATTERNS:
            known = ", ".join(CONVERTER_PATTERNS)
            raise RouteTemplateError(
                text, f"unknown converter {converter!r} for {{{name}}}; use one of {known}"
            )
    try:
        host_route = StarletteHost(text, app=_unreachable_app)
    except (AssertionError, ValueError) as exc:
        raise RouteTemplateError(text, f"Starlette rejects it: {exc}") from None

    def matches(host: str | None) -> bool:
        headers = [] if host is None else [(b"host", host.encode("latin-1", "replace"))]
        match, _ = host_route.matches({"type": "http", "headers": headers})
        return match is Match.FULL

    return matches


async def _unreachable_app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
    raise RuntimeError("the Host route of a compiled host template is only matched, never run")

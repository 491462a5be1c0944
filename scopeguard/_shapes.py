"""Containment and intersection of route template variants, for the lint checks.

A variant is turned into items: single literal characters, parameters (which never match
"/", because the route table matches them against one segment) and globs (which may).
A parameter with the pattern [^/]+ and a glob with .+ or .* are wildcards: they match any
run of characters that contains no "/" (for the parameter) and is not empty (except .*).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from scopeguard.table import (
    GLOB_RANK,
    LITERAL_RANK,
    MIXED_RANK,
    PARAM_RANK,
    split_segments,
    tokens_regex,
)
from scopeguard.templates import CONVERTER_PATTERNS, GLOB_PATTERN, SEGMENT_PATTERN, Param
from scopeguard.templates import Literal as LiteralToken
from scopeguard.templates import Token as TemplateToken


class _Item(NamedTuple):
    kind: int
    # The character of a _CHARACTER item, or the pattern of a parameter or glob.
    text: str


_CHARACTER, _PARAMETER, _GLOB_ITEM = 0, 1, 2
_SLASH: Final = _Item(_CHARACTER, "/")

# Pairs (inner, outer) of converter patterns where every value of inner matches outer.
_PATTERN_SUBSETS: Final = frozenset({(CONVERTER_PATTERNS["int"], CONVERTER_PATTERNS["float"])})

# Values tried for a parameter that is not a wildcard when looking for a shared path. The
# UUIDs are all digits, so that they also match the int and float patterns.
_SAMPLE_VALUES: Final = {
    CONVERTER_PATTERNS["int"]: ("1",),
    CONVERTER_PATTERNS["float"]: ("1", "1.5"),
    CONVERTER_PATTERNS["uuid"]: (
        "12345678-1234-5678-1234-567812345678",
        "12345678123456781234567812345678",
    ),
}
# The character a wildcard takes when both sides of an intersection are wildcards.
_WILDCARD_VALUE: Final = "1"


@dataclass(frozen=True)
class Shape:
    """One variant of a route template, split into segments at "/" as the route table
    splits it: the segments before the first glob, and the rest of the path from the
    segment holding that glob on (the tail)."""

    segments: tuple[tuple[_Item, ...], ...]
    # The text of each segment made only of literal characters, else None.
    literals: tuple[str | None, ...]
    # The regular expression of each segment that has a parameter, else None.
    segment_regexes: tuple[re.Pattern[str] | None, ...]
    tail: tuple[_Item, ...] | None
    rank: tuple[int, ...]
    regex: re.Pattern[str]
    example: str | None

    @classmethod
    def of(cls, variant: tuple[TemplateToken, ...]) -> Shape:
        token_segments, tail_tokens = split_segments(variant)
        segments = tuple(_items(segment) for segment in token_segments)
        literals = tuple(
            "".join(item.text for item in segment)
            if all(item.kind == _CHARACTER for item in segment)
            else None
            for segment in segments
        )
        segment_regexes = tuple(
            None if text is not None else re.compile(tokens_regex(segment))
            for segment, text in zip(token_segments, literals, strict=True)
        )
        tail = _items(tail_tokens) if tail_tokens is not None else None
        rank = tuple(_segment_rank(segment) for segment in token_segments)
        if tail is not None:
            rank += (GLOB_RANK,)
        regex = re.compile(tokens_regex(variant))
        shape = cls(segments, literals, segment_regexes, tail, rank, regex, None)
        return dataclasses.replace(shape, example=shape_common(shape, shape))

    def rest(self, start: int) -> tuple[_Item, ...]:
        """Return the items of the path from segment ``start`` on, each segment preceded by
        its "/"."""
        items: list[_Item] = []
        for segment in self.segments[start:]:
            items += (_SLASH, *segment)
        if self.tail is not None:
            items += (_SLASH, *self.tail)
        return tuple(items)


def _items(tokens: Iterable[TemplateToken]) -> tuple[_Item, ...]:
    items: list[_Item] = []
    for token in tokens:
        if isinstance(token, LiteralToken):
            items += (_Item(_CHARACTER, character) for character in token.text)
        elif isinstance(token, Param):
            items.append(_Item(_PARAMETER, token.pattern))
        else:
            items.append(_Item(_GLOB_ITEM, token.pattern))
    return tuple(items)


def _segment_rank(segment: Sequence[TemplateToken]) -> int:
    # The segment ranks of most_specific precedence, as the route table computes them.
    if all(isinstance(token, LiteralToken) for token in segment):
        return LITERAL_RANK
    if len(segment) == 1 and isinstance(segment[0], Param):
        return PARAM_RANK
    return MIXED_RANK


def disjoint(first: Shape, second: Shape) -> bool:
    """Return True only if no path matches both shapes."""
    # A shape with a tail matches paths with more segments than it has before the tail.
    for shape, other in ((first, second), (second, first)):
        if shape.tail is None:
            fewest = len(other.segments) + (1 if other.tail is not None else 0)
            if other.tail is None and len(shape.segments) != fewest:
                return True
            if other.tail is not None and len(shape.segments) < fewest:
                return True

    for index in range(min(len(first.segments), len(second.segments))):
        first_text, second_text = first.literals[index], second.literals[index]
        if first_text is not None and second_text is not None and first_text != second_text:
            return True
        for text, regex in (
            (first_text, second.segment_regexes[index]),
            (second_text, first.segment_regexes[index]),
        ):
            if text is not None and regex is not None and regex.fullmatch(text) is None:
                return True
    return False


def shape_covers(inner: Shape, outer: Shape) -> bool:
    """Return True only if every path that ``inner`` matches also matches ``outer``."""
    if inner.tail is None and outer.tail is None and len(inner.segments) != len(outer.segments):
        return False
    shared = min(len(inner.segments), len(outer.segments))
    for index in range(shared):
        inner_text, outer_text = inner.literals[index], outer.literals[index]
        if inner_text is not None and outer_text is not None:
            if inner_text != outer_text:
                return False
        elif not _covers(inner.segments[index], outer.segments[index]):
            return False
    return _covers(inner.rest(shared), outer.rest(shared))


def shape_common(left: Shape, right: Shape) -> str | None:
    """Return a path that both shapes match, or None when none was found."""
    if left.tail is None and right.tail is None and len(left.segments) != len(right.segments):
        return None
    shared = min(len(left.segments), len(right.segments))
    pieces: list[str] = []
    for index in range(shared):
        left_text, right_text = left.literals[index], right.literals[index]
        if left_text is not None and right_text is not None:
            if left_text != right_text:
                return None
            text: str | None = left_text
        else:
            text = _common_string(left.segments[index], right.segments[index])
        if text is None:
            return None
        pieces.append("/" + text)
    rest = _common_string(left.rest(shared), right.rest(shared))
    if rest is None:
        return None

    path = "".join(pieces) + rest
    # The search builds the path from the items, and the variants' own regular
    # expressions confirm it.
    if left.regex.fullmatch(path) is None or right.regex.fullmatch(path) is None:
        return None
    return path


@functools.lru_cache(maxsize=256)
def _matches_empty(pattern: str) -> bool:
    return re.fullmatch(pattern, "") is not None


def _fullmatches(item: _Item, text: str) -> bool:
    if item.kind == _PARAMETER and "/" in text:
        return False
    return re.fullmatch(item.text, text) is not None


def _is_wildcard(item: _Item) -> bool:
    if item.kind == _PARAMETER:
        return item.text == SEGMENT_PATTERN
    return item.kind == _GLOB_ITEM and item.text in (GLOB_PATTERN, CONVERTER_PATTERNS["path"])


def _is_fixed(item: _Item) -> bool:
    """Return whether ``item`` is a parameter or glob that is not a wildcard, such as
    ``{id:int}``."""
    return item.kind != _CHARACTER and not _is_wildcard(item)


def _never_empty(item: _Item) -> bool:
    return item.kind == _CHARACTER or not _matches_empty(item.text)


def _stays_in_segment(item: _Item) -> bool:
    return item.kind == _PARAMETER or (item.kind == _CHARACTER and item.text != "/")


def _wildcard_accepts(wildcard: _Item, text: str) -> bool:
    return wildcard.kind == _GLOB_ITEM or "/" not in text


def _covers(inner: Sequence[_Item], outer: Sequence[_Item]) -> bool:
    """Return True only if every string that ``inner`` matches also matches ``outer``.

    The proof is an alignment: each item of ``outer`` takes a run of ``inner`` that it
    matches whatever values the run's parameters and globs take. False means that no
    such alignment exists, which does not prove that some string matches ``inner`` and
    not ``outer``.
    """
    count = len(inner)
    # covered[j][i] is whether outer[j:] covers inner[i:]. It is filled from the end, so
    # each row needs only the row after it.
    following = [False] * count + [True]
    for item in reversed(outer):
        following = [_takes_run(item, inner, start, following) for start in range(count + 1)]
    return following[0]


def _takes_run(item: _Item, inner: Sequence[_Item], start: int, following: list[bool]) -> bool:
    """Return whether ``item`` covers some run ``inner[start:end]`` with ``following[end]``."""
    if item.kind == _CHARACTER:
        return start < len(inner) and inner[start] == item and following[start + 1]

    may_be_empty = _matches_empty(item.text)
    if may_be_empty and following[start]:
        return True

    if _is_wildcard(item):
        taken_nonempty = False
        for end in range(start, len(inner)):
            part = inner[end]
            if item.kind == _PARAMETER and not _stays_in_segment(part):
                return False
            taken_nonempty = taken_nonempty or _never_empty(part)
            if (may_be_empty or taken_nonempty) and following[end + 1]:
                return True
        return False

    # A parameter or glob with its own pattern covers the same kind of item with the same
    # (or a narrower) pattern, or a run of literal characters that its pattern matches.
    if start < len(inner):
        part = inner[start]
        if (
            part.kind == item.kind
            and (part.text == item.text or (part.text, item.text) in _PATTERN_SUBSETS)
            and following[start + 1]
        ):
            return True
    text = ""
    for end in range(start, len(inner)):
        part = inner[end]
        if part.kind != _CHARACTER:
            break
        text += part.text
        if following[end + 1] and _fullmatches(item, text):
            return True
    return False


# A search state: the positions in the left and right items, and whether the wildcard at
# each position has taken a character yet.
_State = tuple[int, int, bool, bool]


def _common_string(left: Sequence[_Item], right: Sequence[_Item]) -> str | None:
    """Return a string that both item sequences match, or None when none was found.

    A breadth-first search walks both sequences at once. Characters must agree, a
    wildcard takes the other side's characters one at a time, and a parameter with its
    own pattern takes a run of the other side's characters or one of the sample values.
    """
    start: _State = (0, 0, False, False)
    previous: dict[_State, tuple[_State, str] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if state[0] == len(left) and state[1] == len(right):
            return _text_to(previous, state)
        for following, text in _steps(left, right, state):
            if following not in previous:
                previous[following] = (state, text)
                queue.append(following)
    return None


def _text_to(previous: dict[_State, tuple[_State, str] | None], state: _State) -> str:
    pieces: list[str] = []
    step = previous[state]
    while step is not None:
        state, text = step
        pieces.append(text)
        step = previous[state]
    return "".join(reversed(pieces))


def _steps(
    left: Sequence[_Item], right: Sequence[_Item], state: _State
) -> Iterator[tuple[_State, str]]:
    i, j, left_started, right_started = state
    left_item = left[i] if i < len(left) else None
    right_item = right[j] if j < len(right) else None

    # A wildcard ends once it has taken a character. An item that may match the empty
    # string (a .* glob) may also end at once.
    if left_item is not None and _may_end(left_item, left_started):
        yield (i + 1, j, False, right_started), ""
    if right_item is not None and _may_end(right_item, right_started):
        yield (i, j + 1, left_started, False), ""
    if left_item is None or right_item is None:
        return

    if _is_fixed(left_item):
        for end, started, text in _fixed_steps(left_item, right, j):
            yield (i + 1, end, False, started or right_started), text
        return
    if _is_fixed(right_item):
        for end, started, text in _fixed_steps(right_item, left, i):
            yield (end, j + 1, started or left_started, False), text
        return

    character = _shared_character(left_item, right_item)
    if character is not None:
        left_next = (i + 1, False) if left_item.kind == _CHARACTER else (i, True)
        right_next = (j + 1, False) if right_item.kind == _CHARACTER else (j, True)
        yield (left_next[0], right_next[0], left_next[1], right_next[1]), character


def _may_end(item: _Item, started: bool) -> bool:
    if item.kind == _CHARACTER:
        return False
    return (started and _is_wildcard(item)) or _matches_empty(item.text)


def _shared_character(left: _Item, right: _Item) -> str | None:
    if left.kind == _CHARACTER and right.kind == _CHARACTER:
        return left.text if left.text == right.text else None
    if left.kind == _CHARACTER:
        return left.text if _wildcard_accepts(right, left.text) else None
    if right.kind == _CHARACTER:
        return right.text if _wildcard_accepts(left, right.text) else None
    return _WILDCARD_VALUE


def _fixed_steps(
    fixed: _Item, others: Sequence[_Item], start: int
) -> Iterator[tuple[int, bool, str]]:
    """Yield (next position in ``others``, whether a wildcard there has started, text) for
    each way the fixed-pattern ``fixed`` can match the same text as ``others[start:]``."""
    other = others[start]
    if _is_fixed(other):
        for value in (*_SAMPLE_VALUES.get(fixed.text, ()), *_SAMPLE_VALUES.get(other.text, ())):
            if _fullmatches(fixed, value) and _fullmatches(other, value):
                yield start + 1, False, value
    elif _is_wildcard(other):
        for value in _SAMPLE_VALUES.get(fixed.text, ()):
            if value and _wildcard_accepts(other, value):
                yield start, True, value
    else:
        text = ""
        for end in range(start, len(others)):
            part = others[end]
            if part.kind != _CHARACTER or (fixed.kind == _PARAMETER and part.text == "/"):
                break
            text += part.text
            if _fullmatches(fixed, text):
                yield end + 1, False, text

"""Checks of an HTTP request target, made before scopeguard decides on the request's path.

scopeguard and Starlette's router both read the decoded ``scope["path"]``. Other
components may read the same target differently: a proxy in front of the app, a router
that splits ``scope["raw_path"]``, or a handler that decodes a parameter again or maps it
to a file. Where the readings disagree, a token's scope for one route could reach another
route, so :func:`target_problem` rejects the targets on which they can differ.

The rules follow RFC 3986, "Uniform Resource Identifier (URI): Generic Syntax":

- Section 2.1, "Percent-Encoding": an escape is ``%`` followed by two hexadecimal digits,
  and upper and lower case digits are equivalent, so every rule matches both cases.
- Section 2.4, "When to Encode or Decode": a string must not be decoded more than once.
  The double-encoding rule rejects the paths on which a second decoding would change
  the result.
- Section 5.2.4, "Remove Dot Segments": that algorithm removes the complete segments
  ``.`` and ``..``, and ``..`` also removes the segment before it. The dot-segment rule
  rejects both, so no component can resolve them after the decision.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Final

from scopeguard.errors import ConfigurationError

__all__ = ["TargetChecks", "target_problem"]

# The patterns read the decoded path, and raw_path decoded as Latin-1. Latin-1 maps each
# byte to the character of the same value, so a pattern finds exactly the bytes it names.
# Tests with "in" also run several times faster on str than on bytes. The patterns end
# with \Z, never $, because $ also matches before a final newline.
_CONTROL: Final = re.compile("[\x00-\x1f\x7f]")
_ENCODED_CONTROL: Final = re.compile("%(?:[01][0-9A-Fa-f]|7[Ff])")
_ENCODED_SLASH: Final = re.compile("%(?:2[Ff]|5[Cc])")
# A dot segment ends at a separator, at the end, or at ";", because servers that remove ";"
# path parameters before mapping (Apache Tomcat, for example) read "..;x" as "..". A
# backslash counts as a separator, because Windows file APIs accept it as one. A target
# may also begin with a dot segment, as "..", which has no separator before it.
_RAW_DOT_SEGMENT: Final = re.compile(r"(?:\A|[/\\])((?:\.|%2[Ee]){1,2})(?=[/\\;]|\Z)")
_DOT_SEGMENT: Final = re.compile(r"(?:\A|[/\\])(\.{1,2})(?=[/\\;]|\Z)")
_DOUBLE_ESCAPE: Final = re.compile("%25[0-9A-Fa-f]{2}")
_ESCAPE: Final = re.compile("%[0-9A-Fa-f]{2}")


@dataclass(frozen=True)
class TargetChecks:
    """The request-target checks that are on. All are on by default, and each can be off.

    Raises :class:`ConfigurationError` when a field is not a ``bool``.
    """

    #: Reject %2F and %5C (any case) in raw_path.
    encoded_slashes: bool = True
    #: Reject NUL and ASCII control characters, literal or encoded (%00-%1F, %7F).
    control_characters: bool = True
    #: Reject "." and ".." segments, literal or encoded (%2E, %2e), including forms like
    #: "..;" and ".;x".
    dot_segments: bool = True
    #: Reject paths whose decoding differs from a second decoding (%25 followed by two hex
    #: digits).
    double_encoding: bool = True
    #: Reject a literal backslash ("\") in the path.
    backslashes: bool = True

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            # An int such as 0 or 1 is rejected too, because it often means a typo.
            if not isinstance(value, bool):
                raise ConfigurationError(
                    f"TargetChecks.{field.name} must be True or False, "
                    f"got {value!r} of type {type(value).__name__}"
                )


def target_problem(
    path: str, raw_path: bytes | None, checks: TargetChecks = TargetChecks()
) -> str | None:
    """Return a short reason why the request target must be rejected with 400, or ``None``.

    ``path`` is the decoded ``scope["path"]`` and ``raw_path`` the undecoded
    ``scope["raw_path"]`` of an ASGI scope. Pass both whole, with ``root_path`` still in
    them. ``raw_path`` is ``None`` when the server does not provide it. The query string
    takes no part. A ``?`` cannot occur in a path, so anything in ``raw_path`` from the
    first ``?`` on is ignored as a query string. Nothing is trimmed, case-folded or merged:
    an empty segment or a trailing slash is accepted, because the router resolves it to
    another route or to none.

    The rules read these inputs:

    - ``encoded_slashes``: ``raw_path`` only. Without it, a ``/`` in ``path`` may be a
      decoded ``%2F`` and nothing can tell, so no encoded slash is found.
    - ``control_characters`` and ``dot_segments``: ``raw_path``, then ``path``. The path
      check finds what only decoding reveals, such as the ``..`` segment that the
      decoded slashes of ``/a%2F..%2Fb`` delimit.
    - ``double_encoding``: ``raw_path`` for ``%25`` and two hexadecimal digits, then
      ``path`` for any escape left after decoding, such as ``%41`` from ``%25%34%31``.
    - ``backslashes``: ``raw_path``, or ``path`` when ``raw_path`` is ``None``. Without
      ``raw_path`` a decoded ``%5C`` and a literal backslash look the same, so both are
      rejected even when ``encoded_slashes`` is off.

    The rules run in the order of the :class:`TargetChecks` fields, and the reason names
    the first rule that rejects the target. It quotes at most the offending escape, dot
    segment or character code, so it is safe to send to the client. For a ``str`` path
    and a ``bytes`` or ``None`` raw_path, this function does not raise.
    """
    # Fast path: a target without "%", ".", "\" or control characters passes every rule.
    # isprintable() is false for every control character, and for a few other characters,
    # which then take the full checks. A raw_path equal to the path encoded as UTF-8 has
    # the same characters, so checking the path covers it.
    if (
        "%" not in path
        and "." not in path
        and "\\" not in path
        and path.isprintable()
        # "surrogatepass" encodes every str, so this comparison cannot raise.
        and (raw_path is None or raw_path == path.encode("utf-8", "surrogatepass"))
    ):
        return None

    # Latin-1 decodes every byte, so bytes above 0x7F cannot make the decoding fail.
    raw = raw_path.partition(b"?")[0].decode("latin-1") if raw_path is not None else None
    if checks.encoded_slashes and raw is not None and "%" in raw:
        problem = _encoded_slash_problem(raw)
        if problem is not None:
            return problem
    if checks.control_characters:
        problem = _control_character_problem(path, raw)
        if problem is not None:
            return problem
    if checks.dot_segments:
        problem = _dot_segment_problem(path, raw)
        if problem is not None:
            return problem
    if checks.double_encoding:
        problem = _double_encoding_problem(path, raw)
        if problem is not None:
            return problem
    if checks.backslashes and "\\" in (raw if raw is not None else path):
        return "the request path contains a backslash"
    return None


def _encoded_slash_problem(raw: str) -> str | None:
    match = _ENCODED_SLASH.search(raw)
    if match is None:
        return None
    escape = match.group()
    kind = "slash" if escape[1] == "2" else "backslash"
    return f"the request path contains an encoded {kind} ({escape})"


def _control_character_problem(path: str, raw: str | None) -> str | None:
    # isprintable() is false for every control character, so most targets skip a search.
    if raw is not None:
        if not raw.isprintable():
            problem = _literal_control_problem(raw)
            if problem is not None:
                return problem
        if "%" in raw:
            match = _ENCODED_CONTROL.search(raw)
            if match is not None:
                return f"the request path contains an encoded control character ({match.group()})"
    if not path.isprintable():
        return _literal_control_problem(path)
    return None


def _literal_control_problem(text: str) -> str | None:
    match = _CONTROL.search(text)
    if match is None:
        return None
    return f"the request path contains a control character (0x{ord(match.group()):02X})"


def _dot_segment_problem(path: str, raw: str | None) -> str | None:
    # A dot segment starts the target or follows a separator, with a dot or, in raw_path,
    # an escape. The "in" tests skip the search for a path such as /files/report.pdf.
    if raw is not None and (
        raw.startswith((".", "%")) or "/." in raw or "/%" in raw or "\\." in raw or "\\%" in raw
    ):
        match = _RAW_DOT_SEGMENT.search(raw)
        if match is not None:
            return f"the request path contains a dot segment ({match.group(1)})"
    if path.startswith(".") or "/." in path or "\\." in path:
        match = _DOT_SEGMENT.search(path)
        if match is not None:
            return f"the request path contains a dot segment ({match.group(1)})"
    return None


def _double_encoding_problem(path: str, raw: str | None) -> str | None:
    if raw is not None and "%25" in raw:
        match = _DOUBLE_ESCAPE.search(raw)
        if match is not None:
            return f"the request path contains a double-encoded escape ({match.group()})"
    # Decoding the path again changes it exactly when an escape is left in it. That also
    # finds the escapes that raw_path spells another way, such as %25%34%31 for %41.
    if "%" in path:
        match = _ESCAPE.search(path)
        if match is not None:
            escape = match.group()
            return f"the request path contains a double-encoded escape ({escape} after decoding)"
    return None

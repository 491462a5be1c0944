"""Token sources beside JWT verifiers: resolvers, a fixed token table, and source chains.

A *resolver* is any async callable that takes the bearer token and returns a
:class:`~scopeguard.tokens.TokenInfo` for a token it accepts, or ``None`` for a token it
does not know. :func:`as_verifier` turns one into a
:class:`~scopeguard.tokens.TokenVerifier`, and :class:`TokenSources` tries several sources
in order, so that JWTs and opaque tokens can be accepted side by side.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeAlias

from scopeguard.errors import ConfigurationError, InvalidToken, UnknownToken
from scopeguard.tokens import TokenInfo, TokenVerifier, scopes_from_claims

__all__ = [
    "StaticResolver",
    "TokenResolver",
    "TokenSource",
    "TokenSources",
    "as_verifier",
]

#: An async callable that returns the info of a token it accepts, or ``None``.
TokenResolver: TypeAlias = Callable[[str], Awaitable[TokenInfo | None]]

#: One token source: a verifier or a resolver. The middleware takes one or a sequence.
TokenSource: TypeAlias = TokenVerifier | TokenResolver


class _ResolverVerifier:
    """A :class:`TokenVerifier` that calls a resolver."""

    def __init__(self, resolver: TokenResolver) -> None:
        self.resolver = resolver

    def __repr__(self) -> str:
        return f"as_verifier({self.resolver!r})"

    async def verify(self, token: str) -> TokenInfo:
        info = await self.resolver(token)
        if info is None:
            raise UnknownToken("the token is not recognized")
        if not isinstance(info, TokenInfo):
            raise TypeError(
                f"the resolver {self.resolver!r} returned {type(info).__name__}, "
                "expected a scopeguard.TokenInfo or None"
            )
        return info


def as_verifier(source: object) -> TokenVerifier:
    """Return ``source`` as a :class:`TokenVerifier`.

    A verifier (an object with ``async def verify(self, token)``) is returned as it is. An
    async callable is taken as a resolver: its ``None`` becomes :class:`UnknownToken`. A
    list or tuple becomes :class:`TokenSources`. Raises :class:`ConfigurationError` for
    anything else.
    """
    if isinstance(source, (list, tuple)):
        return TokenSources(source)
    verify = getattr(source, "verify", None)
    if verify is not None and inspect.iscoroutinefunction(verify):
        return source  # type: ignore[return-value]
    call = getattr(source, "__call__", None)  # noqa: B004 - an async __call__ is needed
    if inspect.iscoroutinefunction(source) or inspect.iscoroutinefunction(call):
        return _ResolverVerifier(source)  # type: ignore[arg-type]
    raise ConfigurationError(
        "a token source must have an 'async def verify(self, token)' method or be an async "
        f"callable that takes the token, got {type(source).__name__}"
    )


class TokenSources:
    """Tries several token sources in order and returns the first info one gives.

    A source that raises :class:`UnknownToken` (or a resolver that returns ``None``) passes
    the token on to the next. Any other :class:`InvalidToken`, such as an expired JWT with a
    valid signature, ends the search: the source has claimed the token and rejected it, so
    later sources never see it. When every source passes, the reason is the first one that
    names a specific cause (``UnknownToken.specific``), or else the last source's.

    :param sources: verifiers and resolvers, in the order to ask them.
    """

    def __init__(self, sources: Iterable[object]) -> None:
        if isinstance(sources, (str, bytes)):
            raise ConfigurationError("sources must be a list of verifiers or resolvers")
        self.sources: tuple[TokenVerifier, ...] = tuple(as_verifier(item) for item in sources)
        if not self.sources:
            raise ConfigurationError("sources must name at least one verifier or resolver")

    def __repr__(self) -> str:
        return f"TokenSources({list(self.sources)!r})"

    async def start(self) -> None:
        """Start every source that has an ``async def start()`` method, in order."""
        for source in self.sources:
            start = getattr(source, "start", None)
            if inspect.iscoroutinefunction(start):
                await start()

    async def verify(self, token: str) -> TokenInfo:
        """Return the info of the first source that accepts ``token``."""
        specific: UnknownToken | None = None
        last: UnknownToken | None = None
        for source in self.sources:
            try:
                return await source.verify(token)
            except UnknownToken as exc:
                last = exc
                if specific is None and exc.specific:
                    specific = exc
        assert last is not None
        raise specific or last


class StaticResolver:
    """Resolves tokens from a fixed table, for tests, demos and service accounts.

    :param tokens: a mapping from token string to its scopes (a space-separated string or
        a list of strings), its claims (a mapping with a ``scope`` claim), or a
        :class:`TokenInfo`.

    Unknown tokens resolve to ``None``. Raises :class:`ConfigurationError` for an entry of
    another type or an empty token.
    """

    def __init__(self, tokens: Mapping[str, Any]) -> None:
        if not isinstance(tokens, Mapping):
            raise ConfigurationError(
                f"tokens must be a mapping from token to scopes, got {type(tokens).__name__}"
            )
        self._tokens = {token: _info(token, entry) for token, entry in tokens.items()}

    def __repr__(self) -> str:
        return f"StaticResolver({len(self._tokens)} tokens)"

    async def __call__(self, token: str) -> TokenInfo | None:
        return self._tokens.get(token)


def _info(token: object, entry: object) -> TokenInfo:
    if not isinstance(token, str) or not token:
        raise ConfigurationError("every token of a StaticResolver must be a non-empty string")
    if isinstance(entry, TokenInfo):
        return entry
    if isinstance(entry, str):
        return TokenInfo(frozenset(entry.split()), MappingProxyType({"scope": entry}))
    if isinstance(entry, Sequence) and all(isinstance(scope, str) for scope in entry):
        listed = list(entry)
        return TokenInfo(frozenset(listed), MappingProxyType({"scope": " ".join(listed)}))
    if isinstance(entry, Mapping):
        try:
            granted = scopes_from_claims(entry)
        except InvalidToken as exc:
            raise ConfigurationError(f"a StaticResolver entry: {exc.reason}") from None
        return TokenInfo(granted, MappingProxyType(dict(entry)))
    raise ConfigurationError(
        "a StaticResolver entry must be scopes, a mapping of claims or a TokenInfo, got "
        f"{type(entry).__name__}"
    )

"""A bounded cache of verified tokens, keyed by a digest so that no token is kept."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scopeguard.errors import ConfigurationError

if TYPE_CHECKING:
    from scopeguard.tokens import TokenInfo

__all__ = ["VerifiedTokenCache", "cache_deadline", "token_digest", "validate_cache_options"]


def token_digest(token: str) -> bytes:
    """Return the SHA-256 digest of ``token``, the key under which its result is cached."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def cache_deadline(claims: Mapping[str, Any], leeway: float) -> float | None:
    """Return the wall-clock time until which a verified token may be cached, or ``None``
    when it has no numeric ``exp``. Tokens without one are verified on every request."""
    expires = claims.get("exp")
    if isinstance(expires, bool) or not isinstance(expires, (int, float)):
        return None
    # PyJWT truncates "exp" to an integer and rejects a token once now >= exp + leeway.
    return int(expires) + leeway


def validate_cache_options(size: object, ttl: object) -> tuple[int, float]:
    """Return ``size`` and ``ttl`` checked, or raise :class:`ConfigurationError`."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ConfigurationError(f"cache_size must be an integer >= 0, got {size!r}")
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0:
        raise ConfigurationError(f"cache_ttl must be a number of seconds > 0, got {ttl!r}")
    return size, float(ttl)


@dataclass(frozen=True)
class _Entry:
    info: TokenInfo
    #: Wall-clock time (time.time) from which the token is no longer valid.
    expires_at: float
    #: Monotonic time (time.monotonic) at which the entry ends, whatever the token's exp.
    stale_at: float
    #: The source that verified the token, such as a key, for the owner to check on a hit.
    source: Any


class VerifiedTokenCache:
    """Verified tokens in least-recently-used order, at most ``size`` of them.

    An entry ends at the token's expiry or ``ttl`` seconds after it was stored, whichever
    comes first. A size of 0 stores nothing.
    """

    def __init__(self, size: int, ttl: float) -> None:
        self.size = size
        self.ttl = ttl
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes) -> tuple[TokenInfo, Any] | None:
        """Return the cached result for ``digest`` and its source, or ``None``."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if time.time() >= entry.expires_at or time.monotonic() >= entry.stale_at:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return entry.info, entry.source

    def put(self, digest: bytes, info: TokenInfo, expires_at: float, source: Any = None) -> None:
        """Store ``info`` until the wall-clock time ``expires_at`` or the TTL, if sooner."""
        if self.size == 0:
            return
        self._entries[digest] = _Entry(info, expires_at, time.monotonic() + self.ttl, source)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def discard(self, digest: bytes) -> None:
        """Remove the entry for ``digest``, if there is one."""
        self._entries.pop(digest, None)

    def clear(self) -> None:
        """Remove every entry."""
        self._entries.clear()

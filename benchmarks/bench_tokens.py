"""Measure token verification: first-seen and cached tokens against PyJWT's own decode.

For HS256 (``JWTVerifier`` with a shared secret) and RS256 (``JWKSVerifier`` with a fixed
key set, so no fetch is timed), the script prints Markdown tables of medians, in
microseconds per token:

* ``jwt.decode`` alone, with the key, the algorithm and the ``exp`` requirement: the
  floor any verifier built on PyJWT pays for a token it has not seen.
* A decision for a first-seen token: ``verify`` on a token the verifier has not seen,
  then ``Policy.decide`` on the Canvas route table.
* A decision for a cached token: the same, for a token verified before, and the cached
  ``verify`` alone.
* Whether the target is met: a cached decision at least 10 times faster than
  ``jwt.decode`` of the same token.

Each timed round runs a batch of calls in one asyncio event loop, with the garbage
collector off, as in ``timeit``. First-seen batches use fresh tokens, signed before the
round starts.

Run it from the repository root::

    python benchmarks/bench_tokens.py           # full run, about 20 seconds
    python benchmarks/bench_tokens.py --quick   # smoke run of a few seconds
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter_ns
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from report import format_ratio, machine_summary, print_table

from scopeguard import JWKSVerifier, JWTVerifier, Policy, load_routes
from scopeguard.tokens import TokenVerifier

ROUTE_FILE = Path(__file__).resolve().parent.parent / "tests" / "data" / "canvas_api_routes.tsv"
SECRET = "benchmark-secret-0123456789abcdef"
SCOPES = [f"url:GET|/api/v1/courses/:course_id/item{index}" for index in range(9)] + [
    "url:GET|/api/v1/courses/:id"
]
PATH = "/api/v1/courses/7"
TARGET_RATIO = 10.0


@dataclass(frozen=True)
class Settings:
    """The number of timed rounds per figure, and of calls in one round."""

    rounds: int
    batch: int


FULL = Settings(rounds=21, batch=200)
QUICK = Settings(rounds=3, batch=20)


@dataclass
class Scheme:
    """One signing scheme: how to sign a token, how to decode it, and the verifier."""

    name: str
    sign: Callable[[int], str]
    decode: Callable[[str], Any]
    verifier: Callable[[], TokenVerifier]


def hs256() -> Scheme:
    def sign(index: int) -> str:
        claims = {"sub": f"user-{index}", "exp": int(time.time()) + 3600, "scope": " ".join(SCOPES)}
        return jwt.encode(claims, SECRET, algorithm="HS256")

    def decode(token: str) -> Any:
        return jwt.decode(token, SECRET, algorithms=["HS256"], options={"require": ["exp"]})

    return Scheme("HS256", sign, decode, lambda: JWTVerifier(key=SECRET, algorithms=["HS256"]))


def rs256() -> Scheme:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    assert isinstance(jwk, dict)
    key_set = {"keys": [{**jwk, "kid": "bench"}]}

    def sign(index: int) -> str:
        claims = {"sub": f"user-{index}", "exp": int(time.time()) + 3600, "scope": " ".join(SCOPES)}
        return jwt.encode(claims, private, algorithm="RS256", headers={"kid": "bench"})

    public = private.public_key()

    def decode(token: str) -> Any:
        return jwt.decode(token, public, algorithms=["RS256"], options={"require": ["exp"]})

    return Scheme(
        "RS256",
        sign,
        decode,
        lambda: JWKSVerifier(keys=key_set, algorithms=["RS256"], leeway=0),
    )


def interleaved_medians(runs: dict[str, Callable[[int], float]], rounds: int) -> dict[str, float]:
    """Return the median of ``rounds`` rounds of each run after one warm-up round, in
    microseconds per call. Each run gets the round number and returns microseconds per
    call. The runs take turns round by round, so a slow spell of the shared machine slows
    every figure alike instead of all rounds of one."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for number in range(rounds + 1):
        for name, run_round in runs.items():
            gc.disable()
            try:
                samples[name].append(run_round(number))
            finally:
                gc.enable()
    return {name: statistics.median(values[1:]) for name, values in samples.items()}


def measure(
    scheme: Scheme, policy: Policy, loop: asyncio.AbstractEventLoop, settings: Settings
) -> dict[str, float]:
    """Return the medians of one scheme: decode, first-seen decision, cached decision."""
    batch = settings.batch
    token_sets = [
        [scheme.sign(round_number * batch + index) for index in range(batch)]
        for round_number in range(settings.rounds + 1)
    ]
    verifier = scheme.verifier()

    def decode_round(number: int) -> float:
        tokens = token_sets[number]
        start = perf_counter_ns()
        for token in tokens:
            scheme.decode(token)
        return (perf_counter_ns() - start) / 1_000 / batch

    async def decide_all(tokens: list[str]) -> None:
        for token in tokens:
            info = await verifier.verify(token)
            decision = policy.decide("GET", PATH, info.scopes)
            assert decision.allowed, decision.message

    def first_seen_round(number: int) -> float:
        tokens = token_sets[number]
        start = perf_counter_ns()
        loop.run_until_complete(decide_all(tokens))
        return (perf_counter_ns() - start) / 1_000 / batch

    # The first-seen rounds leave every token cached, so the cached rounds reuse one.
    cached_tokens = token_sets[0][:1] * batch

    def cached_round(number: int) -> float:
        start = perf_counter_ns()
        loop.run_until_complete(decide_all(cached_tokens))
        return (perf_counter_ns() - start) / 1_000 / batch

    async def verify_all(tokens: list[str]) -> None:
        for token in tokens:
            await verifier.verify(token)

    def cached_verify_round(number: int) -> float:
        start = perf_counter_ns()
        loop.run_until_complete(verify_all(cached_tokens))
        return (perf_counter_ns() - start) / 1_000 / batch

    # Round 0 of the first-seen run comes before round 0 of the cached runs and caches
    # the token they send.
    runs: dict[str, Callable[[int], float]] = {
        "decode": decode_round,
        "first": first_seen_round,
        "cached": cached_round,
        "cached_verify": cached_verify_round,
    }
    return interleaved_medians(runs, settings.rounds)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every figure, print the tables and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"run {QUICK.rounds} rounds of {QUICK.batch} calls, a smoke test whose figures "
        "are not results",
    )
    options = parser.parse_args(argv)
    settings = QUICK if options.quick else FULL

    policy = Policy(load_routes(ROUTE_FILE))
    loop = asyncio.new_event_loop()
    try:
        results = {
            scheme.name: measure(scheme, policy, loop, settings) for scheme in (hs256(), rs256())
        }
    finally:
        loop.close()

    print("# scopeguard token benchmark\n")
    print(f"Machine: {machine_summary()}")
    print(f"PyJWT {jwt.__version__}\n")
    mode = "--quick (a smoke run, whose figures mean nothing)" if options.quick else "full"
    print(
        f"Mode: {mode}. {settings.rounds} timed rounds of {settings.batch} calls per figure. "
        f"Figures are medians in µs per token. Tokens carry {len(SCOPES)} scopes; the table "
        f"has {len(policy.table):,} routes.\n"
    )

    print("## Verification and decision\n")
    rows = [
        [
            name,
            f"{figures['decode']:.1f}",
            f"{figures['first']:.1f}",
            f"{figures['cached']:.2f}",
            format_ratio(figures["decode"] / figures["cached"]),
            f"{figures['cached_verify']:.2f}",
        ]
        for name, figures in results.items()
    ]
    header = [
        "algorithm",
        "jwt.decode µs",
        "first-seen decision µs",
        "cached decision µs",
        "decode / cached",
        "cached verify alone µs",
    ]
    print_table(header, rows)

    print("## Target\n")
    rows = []
    for name, figures in results.items():
        ratio = figures["decode"] / figures["cached"]
        met = "met" if ratio >= TARGET_RATIO else "missed"
        rows.append(
            [
                f"{name}: cached decision ≥ {TARGET_RATIO:g}x faster than jwt.decode",
                format_ratio(ratio),
                met,
            ]
        )
    print_table(["target", "measured", "result"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

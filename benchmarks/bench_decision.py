"""Measure how long scopeguard takes to decide a request with an already verified token.

The script prints Markdown tables of per-request medians in microseconds:

* ``Policy.decide`` (path check, route resolution and scope check) for route tables of
  10, 100, 1,000 and 10,000 routes and tokens of 1, 10 and 100 scopes.
* ``Policy.decide`` on the 10-route table's requests against every table, which separates
  the effect of the table size from that of the request mix.
* The same requests through ``ScopeGuardMiddleware`` around an app that returns at once,
  with the token already in the ``JWTVerifier`` cache, minus that app alone.
* The cached token lookup alone: ``bearer_token`` plus ``JWTVerifier.verify``.
* A whole request to a trivial ASGI app, with and without the middleware.
* Whether each target is met: the 10,000-route figure within 1.5 times the 10-route
  figure, and every median under 10 µs.

The tables start from the Canvas LMS routes in ``tests/data/canvas_api_routes.tsv`` and are
extended with generated resources to 10,000 routes. Each table gets up to 24 requests for
routes spread over its declaration order. Every request is allowed, because each token
carries the scope of its route. Each figure is the median of the batch means, and the
batches of all cells in a section run interleaved, so a slow spell on a shared machine
affects every cell alike. The garbage collector is off during the timed batches, as in
``timeit``.
Everything runs in this process: ASGI apps are called directly, with no server or socket.

Run it from the repository root::

    python benchmarks/bench_decision.py            # full run, under a minute
    python benchmarks/bench_decision.py --quick    # smoke run of a few seconds
    python benchmarks/bench_decision.py --profile  # also print cProfile statistics
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import itertools
import re
import statistics
import sys
from collections.abc import (
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Mapping,
    MutableMapping,
    Sequence,
)
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter_ns
from typing import Any, TypeVar

from report import machine_summary, print_table

from scopeguard import (
    Decision,
    JWTVerifier,
    Policy,
    Resolution,
    Route,
    RouteTable,
    ScopeGuardMiddleware,
    TokenInfo,
    load_routes,
)
from scopeguard.bearer import bearer_token
from scopeguard.middleware import STATE_KEY
from scopeguard.tokens import mint_token

ROUTE_FILE = Path(__file__).resolve().parent.parent / "tests" / "data" / "canvas_api_routes.tsv"
TABLE_SIZES = (10, 100, 1_000, 10_000)
SCOPE_COUNTS = (1, 10, 100)
REQUESTS_PER_TABLE = 24
WHOLE_REQUEST_SCOPES = 10
# The target for the table-size ratio and the target for one decision.
RATIO_TARGET = 1.5
DECISION_TARGET_US = 10.0
PROFILE_ROWS = 15
# The columns that describe a table's requests: their number, their mean number of path
# segments and the mean number of routes whose template matches their path.
REQUEST_COLUMNS = ("requests", "segments", "matching routes")
# JWTVerifier rejects an HS256 key shorter than 32 bytes, the size of a SHA-256 digest.
SECRET = "scopeguard-benchmark-secret-for-local-tokens-only-0123456789abcdef"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# Runs one batch and returns the elapsed time in nanoseconds.
BatchRunner = Callable[[], int]
# A cell of the result grids: (table size, number of scopes in the token).
Cell = tuple[int, int]
Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Settings:
    """The number of requests in one batch and the number of timed batches per cell."""

    batch_size: int
    rounds: int


FULL = Settings(batch_size=2_000, rounds=41)
QUICK = Settings(batch_size=30, rounds=3)


@dataclass(frozen=True)
class Request:
    """A request for one route of a table, with the route's position in declaration order."""

    method: str
    path: str
    route: Route
    position: int


@dataclass(frozen=True)
class TableSetup:
    """A route table, the requests sent to it and one token per request and scope count."""

    table: RouteTable
    requests: tuple[Request, ...]
    scope_sets: Mapping[int, tuple[frozenset[str], ...]]
    tokens: Mapping[int, tuple[str, ...]]
    # For each request, how many routes of the table match its path, whatever the method.
    matching_routes: tuple[int, ...]

    def describe_requests(self) -> list[str]:
        """Return the number of requests, their mean path segments and mean matching routes."""
        segments = statistics.mean(request.path.count("/") for request in self.requests)
        return [
            str(len(self.requests)),
            f"{segments:.1f}",
            f"{statistics.mean(self.matching_routes):.1f}",
        ]


class CountingVerifier(JWTVerifier):
    """A JWTVerifier that counts full verifications, to show that the timed lookups hit the cache.

    It overrides the private ``_decode``, which only runs on a cache miss.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.decodes = 0

    def _decode(self, token: str) -> dict[str, Any]:
        self.decodes += 1
        return super()._decode(token)


# Route tables --------------------------------------------------------------------------------

# Generated resources are nested the way Canvas nests its own: top level, or under a course,
# an account, a user or a group.
_CONTEXTS = (
    "",
    "/courses/:course_id",
    "/accounts/:account_id",
    "/users/:user_id",
    "/groups/:group_id",
)


# Large enough for the 100-scope tokens, which pass the default limit of 8 KiB.
MAX_HEADER_BYTES = 16384


def generate_routes(count: int) -> list[Route]:
    """Generate ``count`` routes for resources ``resource0``, ``resource1`` and so on.

    Each resource gets 10 routes: index, create, show, update and destroy on itself and on
    its ``items``, such as ``GET /api/v1/courses/:course_id/resource1/:resource1_id/items``.
    """
    routes: list[Route] = []
    for number in itertools.count():
        if len(routes) >= count:
            break
        resource = f"resource{number}"
        collection = f"/api/v1{_CONTEXTS[number % len(_CONTEXTS)]}/{resource}"
        member = f"{collection}/:{resource}_id"
        items = f"{member}/items"
        item = f"{items}/:item_id"
        for method, path, action in (
            ("GET", collection, "index"),
            ("POST", collection, "create"),
            ("GET", member, "show"),
            ("PUT", member, "update"),
            ("DELETE", member, "destroy"),
            ("GET", items, "items"),
            ("POST", items, "create_item"),
            ("GET", item, "item"),
            ("PUT", item, "update_item"),
            ("DELETE", item, "destroy_item"),
        ):
            routes.append(Route(method, path, controller=resource, action=action))
    return routes[:count]


def build_table(canvas: Sequence[Route], size: int) -> RouteTable:
    """Return the first ``size`` Canvas routes, followed by generated routes when they run out."""
    if size <= len(canvas):
        return RouteTable(canvas[:size])
    return RouteTable([*canvas, *generate_routes(size - len(canvas))])


# Requests and tokens -------------------------------------------------------------------------

_GLOB = re.compile(r"\*[A-Za-z_][A-Za-z0-9_]*")
_PARAM = re.compile(r":[A-Za-z_][A-Za-z0-9_]*")


def concrete_path(route: Route) -> str:
    """Return a path that matches ``route``, with every optional group present.

    Only the Rails and Canvas template syntax is handled, which is all the route file uses.
    Raises ``ValueError`` when the result does not match the template.
    """
    path = _GLOB.sub("reports/2024/summary.pdf", route.path)
    path = _PARAM.sub("4071", path)
    path = path.replace("(", "").replace(")", "")
    if not route.template.matches(path):
        raise ValueError(f"the generated path {path!r} does not match the route {route}")
    return path


def spread_positions(size: int, count: int) -> list[int]:
    """Return ``count`` positions spread evenly from the first to the last of ``size``."""
    if count >= size:
        return list(range(size))
    if count == 1:
        return [0]
    return [round(index * (size - 1) / (count - 1)) for index in range(count)]


def pick_requests(table: RouteTable, count: int) -> tuple[Request, ...]:
    """Pick up to ``count`` requests for routes spread over the table's declaration order.

    A route that an earlier route shadows cannot be reached, so the next route in
    declaration order that a request does resolve to is taken in its place, continuing from
    the first route after the last.
    """
    routes = table.routes
    chosen: list[Request] = []
    used: set[int] = set()
    for start in spread_positions(len(routes), count):
        for offset in range(len(routes)):
            position = (start + offset) % len(routes)
            if position in used:
                continue
            route = routes[position]
            path = concrete_path(route)
            if table.resolve(route.method, path).route is route:
                chosen.append(Request(route.method, path, route, position))
                used.add(position)
                break
    return tuple(chosen)


def token_scopes(required: str, count: int, pool: Sequence[str]) -> frozenset[str]:
    """Return ``required`` plus the first ``count - 1`` other scopes of ``pool``."""
    others = [scope for scope in pool if scope != required][: count - 1]
    if len(others) < count - 1:
        raise ValueError(f"the scope pool has {len(others)} other scopes, {count - 1} needed")
    return frozenset([required, *others])


def scope_pool(largest: RouteTable) -> list[str]:
    """Return the scopes that tokens carry besides the one their request needs.

    They are spread over the largest table and shared by every table, so a token with a
    given number of scopes has about the same length whatever table it is sent to.
    """
    scopes = list(dict.fromkeys(route.scope for route in largest))
    return [scopes[position] for position in spread_positions(len(scopes), max(SCOPE_COUNTS))]


def set_up_table(table: RouteTable, pool: Sequence[str]) -> TableSetup:
    requests = pick_requests(table, REQUESTS_PER_TABLE)
    scope_sets: dict[int, tuple[frozenset[str], ...]] = {}
    tokens: dict[int, tuple[str, ...]] = {}
    for count in SCOPE_COUNTS:
        sets = tuple(token_scopes(request.route.scope, count, pool) for request in requests)
        scope_sets[count] = sets
        tokens[count] = tuple(mint_token(SECRET, sorted(scopes)) for scopes in sets)
    matching_routes = tuple(
        sum(route.template.matches(request.path) for route in table) for request in requests
    )
    return TableSetup(table, requests, scope_sets, tokens, matching_routes)


# ASGI pieces ---------------------------------------------------------------------------------


def asgi_scope(request: Request, token: str) -> dict[str, Any]:
    """Return the HTTP connection scope a server would build for ``request``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": request.path,
        "raw_path": request.path.encode("ascii"),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"accept", b"application/json"),
            (b"authorization", b"Bearer " + token.encode("ascii")),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def receive_empty_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def discard(message: Message) -> None:
    return None


async def empty_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Return at once, so that timing the middleware around this app measures the middleware."""
    return None


async def hello_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Read the request body and send a two-byte response, as the smallest useful app does."""
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


# Measurement ---------------------------------------------------------------------------------


def cycle_to(items: Sequence[Any], length: int) -> list[Any]:
    """Repeat ``items`` in order until the list has ``length`` entries."""
    return list(itertools.islice(itertools.cycle(items), length))


def decide_runner(policy: Policy, calls: list[tuple[str, str, frozenset[str]]]) -> BatchRunner:
    decide = policy.decide

    def run() -> int:
        start = perf_counter_ns()
        for method, path, scopes in calls:
            decide(method, path, scopes)
        return perf_counter_ns() - start

    return run


def asgi_runner(
    loop: asyncio.AbstractEventLoop, app: ASGIApp, scopes: list[dict[str, Any]]
) -> BatchRunner:
    """Return a batch runner that awaits ``app`` once per scope, on a fresh copy of the scope.

    A server builds a new scope for every request, and the middleware writes to it.
    """

    async def batch() -> int:
        start = perf_counter_ns()
        for scope in scopes:
            await app(dict(scope), receive_empty_body, discard)
        return perf_counter_ns() - start

    return lambda: loop.run_until_complete(batch())


def lookup_runner(
    loop: asyncio.AbstractEventLoop,
    verifier: JWTVerifier,
    header_lists: list[list[tuple[bytes, bytes]]],
) -> BatchRunner:
    verify = verifier.verify

    async def batch() -> int:
        start = perf_counter_ns()
        for headers in header_lists:
            await verify(bearer_token(headers, max_bytes=MAX_HEADER_BYTES))
        return perf_counter_ns() - start

    return lambda: loop.run_until_complete(batch())


def measure(cells: Mapping[Key, BatchRunner], settings: Settings) -> dict[Key, float]:
    """Return the median over batches of the mean microseconds per request, for each cell."""
    for run in cells.values():
        run()  # warm-up batch, not counted
    samples: dict[Key, list[float]] = {key: [] for key in cells}
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(settings.rounds):
            for key, run in cells.items():
                samples[key].append(run() / settings.batch_size / 1_000)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {key: statistics.median(values) for key, values in samples.items()}


# Checks that every timed request is allowed, as the tables assume ----------------------------


def check_decisions(setup: TableSetup, policy: Policy) -> None:
    for count in SCOPE_COUNTS:
        for request, scopes in zip(setup.requests, setup.scope_sets[count], strict=True):
            decision = policy.decide(request.method, request.path, scopes)
            if not decision.allowed or decision.route is not request.route:
                raise RuntimeError(
                    f"Policy.decide did not allow {request.method} {request.path}: "
                    f"{decision.message}"
                )


def check_middleware(
    loop: asyncio.AbstractEventLoop, middleware: ScopeGuardMiddleware, scopes: Iterable[Scope]
) -> None:
    for scope in scopes:
        copy = dict(scope)
        loop.run_until_complete(middleware(copy, receive_empty_body, discard))
        decision = copy.get("state", {}).get(STATE_KEY)
        if decision is None or not decision.allowed:
            raise RuntimeError(
                f"the middleware denied {scope['method']} {scope['path']}, "
                "but every benchmark request must be allowed"
            )


# Output --------------------------------------------------------------------------------------


def print_grid(results: Mapping[Cell, float], setups: Mapping[int, TableSetup]) -> None:
    """Print one row per table size and a last row with the 10,000 / 10 ratio per column."""
    header = ["routes", *REQUEST_COLUMNS]
    header += [f"{count} scope{'s' if count > 1 else ''}" for count in SCOPE_COUNTS]
    rows = [
        [f"{size:,}", *setups[size].describe_requests()]
        + [f"{results[size, count]:.2f}" for count in SCOPE_COUNTS]
        for size in TABLE_SIZES
    ]
    ratio_row = [f"ratio {TABLE_SIZES[-1]:,} / {TABLE_SIZES[0]:,}"] + [""] * len(REQUEST_COLUMNS)
    rows.append(ratio_row + [f"{ratio(results, count):.2f}" for count in SCOPE_COUNTS])
    print_table(header, rows)


def ratio(results: Mapping[Cell, float], count: int) -> float:
    return results[TABLE_SIZES[-1], count] / results[TABLE_SIZES[0], count]


def print_profile(title: str, run: BatchRunner, requests: int) -> None:
    """Print the functions that take the most own time while ``run`` handles ``requests``.

    cProfile adds a fixed cost to every call, so small functions look slower than they are
    and the total exceeds the unprofiled median.
    """
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    entries = sorted(profiler.getstats(), key=lambda entry: entry.inlinetime, reverse=True)
    print(f"### Profile: {title}\n")
    rows = []
    # Every dataclass __init__ has the same name and file, so name those by their class.
    generated = {
        getattr(cls.__init__, "__code__", None): f"{cls.__name__}.__init__ (dataclass)"
        for cls in (Decision, Resolution, TokenInfo)
    }
    for entry in entries[:PROFILE_ROWS]:
        code = entry.code
        if isinstance(code, str):
            name = code
        elif code in generated:
            name = generated[code]
        else:
            # co_qualname, which includes the class, exists from Python 3.11 on.
            qualified_name = getattr(code, "co_qualname", code.co_name)
            name = f"{qualified_name} ({Path(code.co_filename).name}:{code.co_firstlineno})"
        rows.append(
            [
                f"`{name}`",
                f"{entry.callcount / requests:.2f}",
                f"{entry.inlinetime / requests * 1e6:.2f}",
                f"{entry.totaltime / requests * 1e6:.2f}",
            ]
        )
    print_table(["function", "calls per request", "own µs", "cumulative µs"], rows)


# Sections ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    """The tables, requests and objects that every section of the benchmark uses."""

    settings: Settings
    setups: Mapping[int, TableSetup]
    policies: Mapping[int, Policy]
    verifier: CountingVerifier
    loop: asyncio.AbstractEventLoop
    # The ASGI scope of every request, by table size and token scope count.
    asgi_scopes: Mapping[Cell, list[dict[str, Any]]]


def set_up_bench(settings: Settings, loop: asyncio.AbstractEventLoop) -> Bench:
    """Build the tables, pick the requests, mint the tokens and put them in the cache."""
    canvas = list(load_routes(ROUTE_FILE))
    tables = {size: build_table(canvas, size) for size in TABLE_SIZES}
    pool = scope_pool(tables[TABLE_SIZES[-1]])
    setups = {size: set_up_table(table, pool) for size, table in tables.items()}
    verifier = CountingVerifier(key=SECRET, algorithms=["HS256"])
    for setup in setups.values():
        for tokens in setup.tokens.values():
            for token in tokens:
                loop.run_until_complete(verifier.verify(token))
    asgi_scopes = {
        (size, count): [
            asgi_scope(request, token)
            for request, token in zip(setup.requests, setup.tokens[count], strict=True)
        ]
        for size, setup in setups.items()
        for count in SCOPE_COUNTS
    }
    policies = {size: Policy(setup.table) for size, setup in setups.items()}
    return Bench(settings, setups, policies, verifier, loop, asgi_scopes)


def bench_decide(bench: Bench) -> tuple[dict[Cell, float], dict[Cell, BatchRunner]]:
    """Measure and print Policy.decide by table size and scope count.

    Returns the medians and the batch runners, which ``--profile`` reuses.
    """
    cells: dict[Cell, BatchRunner] = {}
    for size, setup in bench.setups.items():
        check_decisions(setup, bench.policies[size])
        for count in SCOPE_COUNTS:
            calls = [
                (request.method, request.path, scopes)
                for request, scopes in zip(setup.requests, setup.scope_sets[count], strict=True)
            ]
            batch = cycle_to(calls, bench.settings.batch_size)
            cells[size, count] = decide_runner(bench.policies[size], batch)
    results = measure(cells, bench.settings)

    print("## Policy.decide: route resolution and scope check\n")
    print_grid(results, bench.setups)
    return results, dict(cells)


def bench_decide_fixed_requests(bench: Bench) -> None:
    """Measure and print Policy.decide on the smallest table's requests against every table.

    The requests for the larger tables have longer paths, so this separates the effect of
    the table size from that of the request mix.
    """
    smallest = bench.setups[TABLE_SIZES[0]]
    calls = [
        (request.method, request.path, scopes)
        for request, scopes in zip(
            smallest.requests, smallest.scope_sets[WHOLE_REQUEST_SCOPES], strict=True
        )
    ]
    batch = cycle_to(calls, bench.settings.batch_size)
    cells = {size: decide_runner(bench.policies[size], batch) for size in TABLE_SIZES}
    results = measure(cells, bench.settings)

    print(
        f"## Policy.decide: the {len(smallest.requests)} requests of the {TABLE_SIZES[0]}-route "
        f"table against every table, {WHOLE_REQUEST_SCOPES} scopes\n"
    )
    rows = [[f"{size:,}", f"{results[size]:.2f}"] for size in TABLE_SIZES]
    fixed_ratio = results[TABLE_SIZES[-1]] / results[TABLE_SIZES[0]]
    rows.append([f"ratio {TABLE_SIZES[-1]:,} / {TABLE_SIZES[0]:,}", f"{fixed_ratio:.2f}"])
    print_table(["routes", "µs"], rows)


def bench_middleware(bench: Bench) -> tuple[dict[Cell, float], dict[Cell, BatchRunner]]:
    """Measure and print the middleware's own work by table size and scope count.

    Each figure is the median for the middleware around an app that returns at once, minus
    the median for that app alone. Returns the figures and the batch runners.
    """
    cells: dict[Cell, BatchRunner] = {}
    for size, setup in bench.setups.items():
        middleware = ScopeGuardMiddleware(
            empty_app,
            routes=setup.table,
            verifier=bench.verifier,
            # A 100-scope token is about 8.6 KB, past the default limit of 8 KiB.
            max_authorization_bytes=MAX_HEADER_BYTES,
        )
        for count in SCOPE_COUNTS:
            scopes = bench.asgi_scopes[size, count]
            check_middleware(bench.loop, middleware, scopes)
            batch = cycle_to(scopes, bench.settings.batch_size)
            cells[size, count] = asgi_runner(bench.loop, middleware, batch)
    # The key (0, 0) is the app alone, measured interleaved with the others.
    baseline = cycle_to(bench.asgi_scopes[TABLE_SIZES[0], 1], bench.settings.batch_size)
    cells[0, 0] = asgi_runner(bench.loop, empty_app, baseline)
    medians = measure(cells, bench.settings)
    empty_app_us = medians.pop((0, 0))
    runners = dict(cells)
    del runners[0, 0]
    results = {key: value - empty_app_us for key, value in medians.items()}

    print("## Middleware check: ScopeGuardMiddleware with a cached token\n")
    print(
        "The middleware around an app that returns at once, minus that app alone "
        f"({empty_app_us:.2f} µs, which includes copying the scope).\n"
    )
    print_grid(results, bench.setups)
    return results, runners


def bench_token_lookup(bench: Bench) -> tuple[dict[int, float], dict[int, int]]:
    """Measure and print bearer_token plus a cached JWTVerifier.verify, by scope count.

    Returns the medians and the mean token lengths in bytes, by scope count."""
    largest = TABLE_SIZES[-1]
    cells: dict[int, BatchRunner] = {}
    token_lengths: dict[int, int] = {}
    for count in SCOPE_COUNTS:
        headers = [scope["headers"] for scope in bench.asgi_scopes[largest, count]]
        batch = cycle_to(headers, bench.settings.batch_size)
        cells[count] = lookup_runner(bench.loop, bench.verifier, batch)
        token_lengths[count] = round(statistics.mean(map(len, bench.setups[largest].tokens[count])))
    results = measure(cells, bench.settings)

    print("## Token lookup: bearer_token and a cached JWTVerifier.verify\n")
    rows = [
        [str(count), f"{token_lengths[count]:,}", f"{results[count]:.2f}"] for count in SCOPE_COUNTS
    ]
    print_table(["scopes", "token bytes", "µs"], rows)
    return results, token_lengths


def bench_whole_request(bench: Bench) -> None:
    """Measure and print a request to a trivial app, with and without the middleware."""
    cells: dict[tuple[int, bool], BatchRunner] = {}
    for size, setup in bench.setups.items():
        guarded = ScopeGuardMiddleware(
            hello_app,
            routes=setup.table,
            verifier=bench.verifier,
            max_authorization_bytes=MAX_HEADER_BYTES,
        )
        scopes = bench.asgi_scopes[size, WHOLE_REQUEST_SCOPES]
        check_middleware(bench.loop, guarded, scopes)
        batch = cycle_to(scopes, bench.settings.batch_size)
        cells[size, False] = asgi_runner(bench.loop, hello_app, batch)
        cells[size, True] = asgi_runner(bench.loop, guarded, batch)
    results = measure(cells, bench.settings)

    print(f"## Whole request: trivial ASGI app, {WHOLE_REQUEST_SCOPES}-scope token\n")
    rows = [
        [
            f"{size:,}",
            f"{results[size, False]:.2f}",
            f"{results[size, True]:.2f}",
            f"{results[size, True] - results[size, False]:.2f}",
        ]
        for size in TABLE_SIZES
    ]
    print_table(["routes", "app alone µs", "with middleware µs", "difference µs"], rows)


def print_targets(
    decide_results: Mapping[Cell, float],
    middleware_results: Mapping[Cell, float],
) -> None:
    """Print whether each target is met, for Policy.decide and for the middleware check."""
    rows = []
    for name, results in (
        ("Policy.decide", decide_results),
        ("Middleware check", middleware_results),
    ):
        ratios = [ratio(results, count) for count in SCOPE_COUNTS]
        rows.append(
            [
                f"{name}: {TABLE_SIZES[-1]:,}-route median within {RATIO_TARGET}x of "
                f"{TABLE_SIZES[0]}-route, for 1, 10 and 100 scopes",
                ", ".join(f"{value:.2f}" for value in ratios),
                verdict(max(ratios) <= RATIO_TARGET),
            ]
        )
    for name, results in (
        ("Policy.decide", decide_results),
        ("Middleware check", middleware_results),
    ):
        # The slowest table for each token size, so a miss shows which tokens cause it.
        slowest = list(slowest_by_scopes(results).values())
        rows.append(
            [
                f"{name}: slowest median under {DECISION_TARGET_US:g} µs, for 1, 10 and 100 scopes",
                ", ".join(f"{value:.2f}" for value in slowest) + " µs",
                verdict(max(slowest) < DECISION_TARGET_US),
            ]
        )
    print("## Targets\n")
    print_table(["target", "measured", "result"], rows)


def slowest_by_scopes(results: Mapping[Cell, float]) -> dict[int, float]:
    """Return the slowest median over all tables for each scope count."""
    return {
        scopes: max(value for (_, count), value in results.items() if count == scopes)
        for scopes in SCOPE_COUNTS
    }


def explain_middleware_miss(
    middleware_results: Mapping[Cell, float],
    lookup_results: Mapping[int, float],
    token_lengths: Mapping[int, int],
) -> None:
    """Print, for each token size whose middleware check misses its target, how much of it
    the token lookup alone takes."""
    for scopes, slowest in slowest_by_scopes(middleware_results).items():
        if slowest < DECISION_TARGET_US:
            continue
        print(
            f"The middleware check misses {DECISION_TARGET_US:g} µs with {scopes}-scope tokens "
            f"({slowest:.2f} µs). Those tokens are {token_lengths[scopes]:,} bytes long, and "
            f"their lookup alone, which checks their characters and computes their SHA-256 "
            f"digest, takes {lookup_results[scopes]:.2f} µs.\n"
        )


def verdict(met: bool) -> str:
    return "met" if met else "missed"


# Main ----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run every section, print its table and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="run 3 batches of 30 requests per cell, a smoke test whose figures are not results",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print cProfile statistics for the 10,000-route table with 10 scopes",
    )
    options = parser.parse_args(argv)
    settings = QUICK if options.quick else FULL

    loop = asyncio.new_event_loop()
    try:
        bench = set_up_bench(settings, loop)
        print("# scopeguard decision benchmark\n")
        print(f"Machine: {machine_summary()}")
        mode = "--quick (a smoke run, whose figures mean nothing)" if options.quick else "full"
        print(
            f"Mode: {mode}. {settings.rounds} batches of {settings.batch_size:,} requests per "
            "cell. Figures are medians of batch means, in µs per request.\n"
        )

        decide_results, decide_runners = bench_decide(bench)
        bench_decide_fixed_requests(bench)
        middleware_results, middleware_runners = bench_middleware(bench)
        lookup_results, token_lengths = bench_token_lookup(bench)
        bench_whole_request(bench)

        # Each distinct token is verified once, when it is put in the cache. Tokens with the
        # same scopes minted in the same second are equal.
        distinct_tokens = {
            token
            for setup in bench.setups.values()
            for tokens in setup.tokens.values()
            for token in tokens
        }
        if bench.verifier.decodes != len(distinct_tokens):
            missed = bench.verifier.decodes - len(distinct_tokens)
            raise RuntimeError(f"{missed} timed token lookups missed the verifier cache")

        print_targets(decide_results, middleware_results)
        explain_middleware_miss(middleware_results, lookup_results, token_lengths)

        if options.profile:
            key = (TABLE_SIZES[-1], WHOLE_REQUEST_SCOPES)
            print(f"## Profiles: {key[0]:,} routes, {key[1]} scopes\n")
            print_profile("Policy.decide", decide_runners[key], settings.batch_size)
            print_profile("middleware check", middleware_runners[key], settings.batch_size)
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

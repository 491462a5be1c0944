"""Compare scopeguard's decision with the alternatives, in one run, on the same requests.

Contenders, each asked whether a request with a token may pass:

* **scopeguard**: ``Policy.decide`` on a route table (segment trie, one frozenset lookup).
* **canvas**: Canvas LMS's check, modelled on ``AccessToken#url_scopes_for_method`` in
  Canvas's ``app/models/access_token.rb``: every ``url:`` scope of the token for the
  request's method becomes a regular expression, and the path must match one of them.
  Canvas builds each ``Regexp`` again per request, so the figure that the targets use
  empties Python's pattern cache first. Python caches compiled patterns (512 of them),
  which makes the other canvas figure flatter the algorithm.
* **casbin**: pycasbin with a RESTful model (``keyMatch2`` on the path, ``regexMatch`` on
  the method) and one policy line per route of the table, so ``enforce`` evaluates its
  matcher against the lines in turn.
* **starlette**: the routes as Starlette ``Route`` objects, tried in order with
  ``Route.matches`` as Starlette's router does, until one matches fully.

Tables: the first N of the 1,299 Canvas routes and generated routes past them, as in
``bench_decision.py``. Tokens carry the request's scope and 9, 99 or 499 others. Each
figure is the median of timed rounds, in microseconds per decision.

Run it from the repository root; casbin comes with the ``bench`` extra::

    python benchmarks/bench_compare.py           # full run, a few minutes
    python benchmarks/bench_compare.py --quick   # smoke run
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_decision import build_table, concrete_path, pick_requests, spread_positions
from report import format_ratio, machine_summary, print_table
from starlette.routing import Match
from starlette.routing import Route as StarletteRoute

from scopeguard import Policy, Route, RouteTable, load_routes

ROUTE_FILE = Path(__file__).resolve().parent.parent / "tests" / "data" / "canvas_api_routes.tsv"
TABLE_SIZES = (10, 100, 1_000, 1_299, 10_000)
CANVAS_SIZE = 1_299
TOKEN_SIZES = (10, 100, 500)
POSITIONS = (0, 5, 10, 20, 50, 100, 500, 1_000, 1_298)
TARGET_CANVAS = 100.0
TARGET_CASBIN = 1_000.0

CASBIN_MODEL = """
[request_definition]
r = obj, act

[policy_definition]
p = obj, act

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = keyMatch2(r.obj, p.obj) && regexMatch(r.act, p.act)
"""


@dataclass(frozen=True)
class Settings:
    """How long each figure is measured: rounds, and the least time per round in seconds."""

    rounds: int
    round_time: float


FULL = Settings(rounds=9, round_time=0.2)
QUICK = Settings(rounds=2, round_time=0.01)


def median_us(decide: Callable[[int], bool], count: int, settings: Settings) -> float:
    """Return the median microseconds of ``decide(index)`` over ``count`` indexes, timed in
    rounds that each last at least ``settings.round_time``."""
    samples = []
    for _ in range(settings.rounds + 1):
        calls = 0
        gc.disable()
        start = time.perf_counter()
        try:
            while True:
                for index in range(count):
                    if not decide(index):
                        raise AssertionError(f"request {index} was denied")
                calls += count
                elapsed = time.perf_counter() - start
                if elapsed >= settings.round_time:
                    break
        finally:
            gc.enable()
        samples.append(elapsed / calls * 1e6)
    return statistics.median(samples[1:])


# --- Canvas's algorithm ---------------------------------------------------------------------

_CANVAS_PARAM = re.compile(r":[A-Za-z_][A-Za-z0-9_]*")
_CANVAS_GLOB = re.compile(r"\*[A-Za-z_][A-Za-z0-9_]*")


# The rewrites Canvas applies to a scope's route template, in its order: a parameter
# matches one segment, a glob the rest of the path, and an optional group may be empty.
_SCOPE_PARAM = re.compile(r":[^/)]+")
_SCOPE_GLOB = re.compile(r"\*[^/)]+")


def canvas_compiling(method: str, path: str, scopes: Sequence[str]) -> bool:
    """Canvas's check with every pattern compiled for this request, as Ruby builds each
    ``Regexp`` again: the re module's cache is emptied first."""
    re.purge()
    return canvas_allows(method, path, scopes)


def canvas_pattern(template: str) -> str:
    """Return the regular expression Canvas builds from a scope's route template."""
    pattern = _SCOPE_PARAM.sub("[^/]+", template)
    pattern = _SCOPE_GLOB.sub(".+", pattern)
    pattern = pattern.replace("(", "(?:").replace(")", "|)")
    # File routes also grant the matching preview route. ":type" stays literal, because
    # Canvas rewrites parameters before it adds this alternative.
    pattern = pattern.replace("/download", "/(?:download|preview)(?:\\.:type)?")
    # Any route also matches with a format extension, such as .json.
    return f"^{pattern}(?:\\.[^/]+|)$"


def canvas_allows(method: str, path: str, scopes: Sequence[str]) -> bool:
    """Return whether one of the token's ``url:`` scopes for ``method`` matches ``path``.

    As in Canvas, the patterns of all those scopes are built first and then tried in turn.
    """
    prefix = f"url:{method}|"
    patterns = [
        re.compile(canvas_pattern(scope[len(prefix) :]))
        for scope in scopes
        if scope.startswith(prefix)
    ]
    return any(pattern.match(path) for pattern in patterns)


# --- Starlette and casbin ---------------------------------------------------------------------


def starlette_routes(table: RouteTable) -> list[StarletteRoute]:
    """Return the table's routes as Starlette routes, optional groups left out."""

    async def endpoint(request: Any) -> None:
        return None

    routes = []
    for route in table:
        path = re.sub(r"\([^()]*\)", "", route.path)
        path = _CANVAS_GLOB.sub(lambda match: "{" + match.group(0)[1:] + ":path}", path)
        path = _CANVAS_PARAM.sub(lambda match: "{" + match.group(0)[1:] + "}", path)
        routes.append(StarletteRoute(path, endpoint, methods=[route.method]))
    return routes


def starlette_position(routes: Sequence[StarletteRoute], method: str, path: str) -> int:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    for position, route in enumerate(routes):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return position
    return -1


def casbin_enforcer(table: RouteTable) -> Any:
    """Return a casbin enforcer with one policy line per route of ``table``."""
    import casbin

    # casbin reads its model from a file, once, when the enforcer is built.
    with tempfile.TemporaryDirectory() as folder:
        model_path = Path(folder) / "model.conf"
        model_path.write_text(CASBIN_MODEL, encoding="utf-8")
        enforcer = casbin.Enforcer(str(model_path))
    for route in table:
        path = re.sub(r"\([^()]*\)", "", route.path)
        path = _CANVAS_GLOB.sub(lambda match: ":" + match.group(0)[1:], path)
        enforcer.add_policy(path, route.method)
    return enforcer


# --- The run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requests:
    methods: list[str]
    paths: list[str]
    scopes: dict[int, list[frozenset[str]]]


def requests_for(table: RouteTable, pool: Sequence[str]) -> Requests:
    chosen = pick_requests(table, 24)
    scopes = {}
    for size in TOKEN_SIZES:
        sets = []
        for request in chosen:
            others = [scope for scope in pool if scope != request.route.scope][: size - 1]
            # The needed scope sits in the middle, as one of many a token lists.
            ordered = [
                *others[: len(others) // 2],
                request.route.scope,
                *others[len(others) // 2 :],
            ]
            sets.append(frozenset(ordered))
        scopes[size] = sets
    return Requests(
        [request.method for request in chosen], [request.path for request in chosen], scopes
    )


def ours_for(
    policy: Policy, requests: Requests, sets: Sequence[frozenset[str]]
) -> Callable[[int], bool]:
    return lambda i: policy.decide(requests.methods[i], requests.paths[i], sets[i]).allowed


def canvas_for(requests: Requests, ordered: Sequence[Sequence[str]]) -> Callable[[int], bool]:
    return lambda i: canvas_allows(requests.methods[i], requests.paths[i], ordered[i])


def compiling_for(requests: Requests, ordered: Sequence[Sequence[str]]) -> Callable[[int], bool]:
    return lambda i: canvas_compiling(requests.methods[i], requests.paths[i], ordered[i])


def casbin_for(enforcer: Any, requests: Requests) -> Callable[[int], bool]:
    return lambda i: bool(enforcer.enforce(requests.paths[i], requests.methods[i]))


def starlette_for(routes: Sequence[StarletteRoute], requests: Requests) -> Callable[[int], bool]:
    return lambda i: starlette_position(routes, requests.methods[i], requests.paths[i]) >= 0


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every contender, print the tables and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run, not results")
    options = parser.parse_args(argv)
    settings = QUICK if options.quick else FULL
    # A smoke run still measures the Canvas table, which the targets are set on.
    sizes = (10, CANVAS_SIZE) if options.quick else TABLE_SIZES

    canvas_routes: list[Route] = list(load_routes(ROUTE_FILE).routes)
    largest = build_table(canvas_routes, max(TABLE_SIZES))
    all_scopes = list(dict.fromkeys(route.scope for route in largest))
    pool = [all_scopes[i] for i in spread_positions(len(all_scopes), max(TOKEN_SIZES))]
    print("# scopeguard compared with the alternatives\n")
    print(f"Machine: {machine_summary()}")
    mode = "--quick (a smoke run, whose figures mean nothing)" if options.quick else "full"
    print(f"Mode: {mode}. Figures are medians in µs per decision.\n")
    with_casbin = importlib.util.find_spec("casbin") is not None
    if not with_casbin:
        print("casbin is not installed (the bench extra has it), so its column is left out.\n")

    rows = []
    at_canvas: dict[str, float] = {}
    for size in sizes:
        table = build_table(canvas_routes, size)
        requests = requests_for(table, pool)
        policy = Policy(table)
        count = len(requests.paths)
        row = [f"{size:,}"]
        for tokens in TOKEN_SIZES:
            sets = requests.scopes[tokens]
            ordered = [sorted(scopes) for scopes in sets]
            ours = median_us(ours_for(policy, requests, sets), count, settings)
            theirs = median_us(canvas_for(requests, ordered), count, settings)
            row += [f"{ours:.2f}", f"{theirs:.1f}"]
            if size == CANVAS_SIZE:
                at_canvas[f"scopeguard {tokens}"] = ours
                at_canvas[f"canvas {tokens}"] = theirs
        if with_casbin:
            enforcer = casbin_enforcer(table)
            casbin_us = median_us(casbin_for(enforcer, requests), count, settings)
            row.append(f"{casbin_us:,.0f}")
            if size == CANVAS_SIZE:
                at_canvas["casbin"] = casbin_us
        rows.append(row)

    print("## Decision by table size and token size\n")
    header = ["routes"]
    for tokens in TOKEN_SIZES:
        header += [f"scopeguard, {tokens} scopes", f"canvas, {tokens} scopes"]
    if with_casbin:
        header.append("casbin")
    print_table(header, rows)

    print("## Starlette's scan against scopeguard, by route position in the Canvas table\n")
    canvas_table = RouteTable(canvas_routes)
    routes = starlette_routes(canvas_table)
    policy = Policy(canvas_table)
    position_rows = []
    slower_after_ten = []
    for position in POSITIONS if not options.quick else (0, 10, 100):
        route = canvas_table.routes[position]
        path = concrete_path(route)
        found = starlette_position(routes, route.method, path)
        single = Requests([route.method], [path], {1: [frozenset({route.scope})]})
        scan = median_us(starlette_for(routes, single), 1, settings)
        ours = median_us(ours_for(policy, single, single.scopes[1]), 1, settings)
        position_rows.append([f"{position:,}", f"{found:,}", f"{scan:.2f}", f"{ours:.2f}"])
        if position > 10 and ours >= scan:
            slower_after_ten.append(position)
    print_table(
        ["route position", "Starlette match position", "Starlette scan µs", "scopeguard µs"],
        position_rows,
    )

    print("## Canvas's check with patterns compiled per request, Canvas table\n")
    requests = requests_for(canvas_table, pool)
    compiled_rows = []
    for tokens in TOKEN_SIZES:
        ordered = [sorted(scopes) for scopes in requests.scopes[tokens]]
        compiled = median_us(compiling_for(requests, ordered), len(requests.paths), settings)
        compiled_rows.append([str(tokens), f"{compiled:,.0f}"])
        at_canvas[f"compiled {tokens}"] = compiled
    print_table(["scopes", "canvas, compiled per request µs"], compiled_rows)

    if "scopeguard 100" in at_canvas:
        # Canvas compiles its patterns per request, so the model with Python's pattern
        # cache is shown for comparison, not held to the target.
        cached_ratio = at_canvas["canvas 100"] / at_canvas["scopeguard 100"]
        print(
            f"With Python's pattern cache, canvas takes {at_canvas['canvas 100']:,.1f} µs at "
            f"the Canvas table with 100-scope tokens, {format_ratio(cached_ratio)} "
            "scopeguard's time.\n"
        )
        print("## Targets\n")
        compiled_ratio = at_canvas["compiled 100"] / at_canvas["scopeguard 100"]
        target_rows = [
            [
                "Canvas table, 100-scope tokens: ≥ 100x faster than canvas, compiled per request",
                format_ratio(compiled_ratio),
                "met" if compiled_ratio >= TARGET_CANVAS else "missed",
            ],
        ]
        casbin_target = "Canvas table: ≥ 1,000x faster than casbin"
        if "casbin" in at_canvas:
            ratio = at_canvas["casbin"] / at_canvas["scopeguard 100"]
            target_rows.append(
                [
                    casbin_target,
                    format_ratio(ratio),
                    "met" if ratio >= TARGET_CASBIN else "missed",
                ]
            )
        else:
            target_rows.append([casbin_target, "not run", "not run: casbin is not installed"])
        target_rows.append(
            [
                "faster than Starlette's scan past the first ten routes",
                "slower at " + ", ".join(map(str, slower_after_ten))
                if slower_after_ten
                else "all faster",
                "missed" if slower_after_ten else "met",
            ]
        )
        print_table(["target", "measured", "result"], target_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

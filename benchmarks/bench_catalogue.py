"""Measure how long the list-scopes endpoint takes to serve the Canvas route table.

The script loads the 1,299 Canvas LMS routes of ``tests/data/canvas_api_routes.tsv`` and
prints Markdown tables of medians:

* ``build_catalogue`` on the loaded table, and ``ScopeCatalogueEndpoint`` construction,
  which builds the catalogue too.
* For each response form (the list, ``group_by=resource_name`` and ``group_by=resource``):
  the first request to a new endpoint, which renders and caches the JSON body, and a
  request whose body is already cached.
* Whether the target is met: the first response of each form, construction included,
  under 50 ms.

Loading the route file is not timed, because an app does it once at startup. Requests
are ASGI calls awaited directly in one asyncio event loop, with no server or socket. The
garbage collector is off during the timed calls, as in ``timeit``.

Run it from the repository root::

    python benchmarks/bench_catalogue.py           # full run, about 5 seconds
    python benchmarks/bench_catalogue.py --quick   # smoke run of about a second
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter_ns

from report import machine_summary, print_table

from scopeguard import RouteTable, ScopeCatalogueEndpoint, build_catalogue, load_routes
from scopeguard._types import Message, Scope

ROUTE_FILE = Path(__file__).resolve().parent.parent / "tests" / "data" / "canvas_api_routes.tsv"
# Each response form, by the label printed for it and its query string.
FORMS = (
    ("list", b""),
    ("group_by=resource_name", b"group_by=resource_name"),
    ("group_by=resource", b"group_by=resource"),
)
TARGET_MS = 50.0


@dataclass(frozen=True)
class Settings:
    """The number of timed rounds per figure, and of cached requests in one round."""

    rounds: int
    cached_batch: int


FULL = Settings(rounds=41, cached_batch=200)
QUICK = Settings(rounds=3, cached_batch=5)


def asgi_scope(query: bytes) -> Scope:
    """Return the HTTP connection scope a server would build for a list-scopes request."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/accounts/1/scopes",
        "raw_path": b"/api/v1/accounts/1/scopes",
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def receive_empty_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class Recorder:
    """An ASGI send callable that keeps the status and the size of the last response."""

    def __init__(self) -> None:
        self.status = 0
        self.body_size = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        else:
            self.body_size = len(message["body"])


def time_ms(run: Callable[[], object]) -> float:
    """Return the milliseconds ``run`` takes, with the garbage collector off."""
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        start = perf_counter_ns()
        run()
        return (perf_counter_ns() - start) / 1e6
    finally:
        if gc_was_enabled:
            gc.enable()


def median_ms(run: Callable[[], object], rounds: int) -> float:
    """Return the median of ``rounds`` timings of ``run``, after one untimed warm-up call."""
    run()
    return statistics.median(time_ms(run) for _ in range(rounds))


def request(
    loop: asyncio.AbstractEventLoop, endpoint: ScopeCatalogueEndpoint, query: bytes
) -> Recorder:
    """Send one GET with ``query`` to ``endpoint`` and return what it sent."""
    recorder = Recorder()
    loop.run_until_complete(endpoint(asgi_scope(query), receive_empty_body, recorder))
    return recorder


def check_responses(loop: asyncio.AbstractEventLoop, table: RouteTable) -> dict[str, int]:
    """Return the body size of each form, after checking that every form returns 200."""
    endpoint = ScopeCatalogueEndpoint(table)
    sizes: dict[str, int] = {}
    for label, query in FORMS:
        recorder = request(loop, endpoint, query)
        if recorder.status != 200:
            raise RuntimeError(f"the {label} request returned {recorder.status}, expected 200")
        sizes[label] = recorder.body_size
    return sizes


def first_response_ms(
    loop: asyncio.AbstractEventLoop, table: RouteTable, query: bytes, rounds: int
) -> float:
    """Return the median time of the first request of one form to a new endpoint."""
    samples = []
    for _ in range(rounds + 1):
        endpoint = ScopeCatalogueEndpoint(table)
        samples.append(time_ms(functools.partial(request, loop, endpoint, query)))
    # The first sample warms up the code paths and is not counted.
    return statistics.median(samples[1:])


def cached_response_us(
    loop: asyncio.AbstractEventLoop, table: RouteTable, query: bytes, settings: Settings
) -> float:
    """Return the median microseconds of a request whose body the endpoint has rendered."""
    endpoint = ScopeCatalogueEndpoint(table)
    request(loop, endpoint, query)
    scopes = [asgi_scope(query) for _ in range(settings.cached_batch)]
    recorder = Recorder()

    async def batch() -> None:
        for scope in scopes:
            await endpoint(dict(scope), receive_empty_body, recorder)

    batch_ms = median_ms(lambda: loop.run_until_complete(batch()), settings.rounds)
    return batch_ms * 1_000 / settings.cached_batch


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every figure, print the tables and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"run {QUICK.rounds} rounds of each figure, a smoke test whose figures are not "
        "results",
    )
    options = parser.parse_args(argv)
    settings = QUICK if options.quick else FULL

    table = load_routes(ROUTE_FILE)
    loop = asyncio.new_event_loop()
    try:
        sizes = check_responses(loop, table)
        entries = len(build_catalogue(table))
        build = median_ms(lambda: build_catalogue(table), settings.rounds)
        construct = median_ms(lambda: ScopeCatalogueEndpoint(table), settings.rounds)
        first = {
            label: first_response_ms(loop, table, query, settings.rounds) for label, query in FORMS
        }
        cached = {label: cached_response_us(loop, table, query, settings) for label, query in FORMS}
    finally:
        loop.close()

    print("# scopeguard list-scopes benchmark\n")
    print(f"Machine: {machine_summary()}")
    mode = "--quick (a smoke run, whose figures mean nothing)" if options.quick else "full"
    print(
        f"Mode: {mode}. {settings.rounds} timed rounds per figure, {settings.cached_batch} "
        "requests per round of cached responses. Figures are medians.\n"
    )
    print(f"{len(table):,} routes, {entries:,} catalogue entries.\n")

    print("## Building the catalogue\n")
    rows = [
        ["build_catalogue", f"{build:.2f}"],
        ["ScopeCatalogueEndpoint construction", f"{construct:.2f}"],
    ]
    print_table(["step", "ms"], rows)

    print("## Responses\n")
    rows = [
        [
            label,
            f"{sizes[label]:,}",
            f"{first[label]:.2f}",
            f"{construct + first[label]:.2f}",
            f"{cached[label]:.2f}",
        ]
        for label, _ in FORMS
    ]
    header = ["form", "body bytes", "first ms", "construction + first ms", "cached µs"]
    print_table(header, rows)

    slowest = max(construct + first[label] for label, _ in FORMS)
    print("## Target\n")
    met = "met" if slowest < TARGET_MS else "missed"
    target = f"construction + first response under {TARGET_MS:g} ms, every form"
    print_table(["target", "measured", "result"], [[target, f"{slowest:.2f} ms", met]])
    return 0


if __name__ == "__main__":
    sys.exit(main())

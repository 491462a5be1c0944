"""Measure whole requests over HTTP: a trivial Starlette app under uvicorn, bare and wrapped.

Two uvicorn servers run in processes of their own on 127.0.0.1: the app alone, and the
app behind ScopeGuardMiddleware with a table of the Canvas routes. wrk, from Debian's
packages, drives them from another process with the same connections and duration, in
alternating rounds, so a slow period of the shared machine hits both alike. Every request
carries the same token, which the middleware's cache keeps after the first, and every
request is allowed.

Run it from the repository root::

    python benchmarks/bench_e2e.py           # full run, about a minute
    python benchmarks/bench_e2e.py --quick   # smoke run
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from report import machine_summary, print_table

from scopeguard import mint_token

SECRET = "scopeguard-e2e-benchmark-secret-0123456789abcdef"
SCOPE = "url:GET|/api/v1/courses/:id"  # the Canvas route file names it :id
TARGET_RATIO = 0.95

# The servers: a Starlette app with the course route, bare or behind scopeguard.
SERVER_CODE = """
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from scopeguard import JWTVerifier, ScopeGuardMiddleware, load_routes


async def course(request):
    return PlainTextResponse("course")


app = Starlette(routes=[Route("/api/v1/courses/{course_id}", course)])
if sys.argv[2] == "wrapped":
    routes = load_routes(Path(sys.argv[3]) / "tests" / "data" / "canvas_api_routes.tsv")
    app = ScopeGuardMiddleware(
        app, routes=routes, verifier=JWTVerifier(key=sys.argv[4], algorithms=["HS256"])
    )
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""


@dataclass(frozen=True)
class Settings:
    rounds: int
    seconds: int
    connections: int


FULL = Settings(rounds=5, seconds=5, connections=32)
QUICK = Settings(rounds=1, seconds=1, connections=4)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(kind: str, root: str) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - this interpreter and the code above
        [sys.executable, "-c", SERVER_CODE, str(port), kind, root, SECRET],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the {kind} server did not start")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def requests_per_second(wrk: str, port: int, token: str, settings: Settings) -> float:
    """Run wrk once against ``port`` and return its requests per second, after checking
    that every response was a 2xx."""
    result = subprocess.run(  # noqa: S603 - wrk with arguments built here
        [
            wrk,
            "-t1",
            f"-c{settings.connections}",
            f"-d{settings.seconds}s",
            "-H",
            f"Authorization: Bearer {token}",
            f"http://127.0.0.1:{port}/api/v1/courses/7",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=settings.seconds + 30,
    )
    if "Non-2xx or 3xx responses" in result.stdout:
        raise RuntimeError(f"wrk saw failed responses:\n{result.stdout}")
    match = re.search(r"Requests/sec:\s+([0-9.]+)", result.stdout)
    if match is None:
        raise RuntimeError(f"cannot read wrk's output:\n{result.stdout}")
    return float(match.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    """Measure both servers, print the table and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run, not results")
    options = parser.parse_args(argv)
    settings = QUICK if options.quick else FULL
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed: install Debian's package wrk to run this benchmark")
        return 0
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    token = mint_token(SECRET, [SCOPE], expires_in=3600)

    bare: list[float] = []
    wrapped: list[float] = []
    with server("bare", root) as bare_port, server("wrapped", root) as wrapped_port:
        # One warm-up run each, not counted.
        requests_per_second(wrk, bare_port, token, QUICK)
        requests_per_second(wrk, wrapped_port, token, QUICK)
        for _ in range(settings.rounds):
            bare.append(requests_per_second(wrk, bare_port, token, settings))
            wrapped.append(requests_per_second(wrk, wrapped_port, token, settings))

    print("# scopeguard end-to-end benchmark\n")
    print(f"Machine: {machine_summary()}")
    mode = "--quick (a smoke run, whose figures mean nothing)" if options.quick else "full"
    print(
        f"Mode: {mode}. {settings.rounds} alternating rounds of {settings.seconds} s per "
        f"server, wrk with 1 thread and {settings.connections} connections.\n"
    )
    ratio = statistics.median(wrapped) / statistics.median(bare)
    print_table(
        ["server", "median requests/s", "rounds"],
        [
            ["bare", f"{statistics.median(bare):,.0f}", ", ".join(f"{x:,.0f}" for x in bare)],
            [
                "wrapped",
                f"{statistics.median(wrapped):,.0f}",
                ", ".join(f"{x:,.0f}" for x in wrapped),
            ],
        ],
    )
    print("## Target\n")
    met = "met" if ratio >= TARGET_RATIO else "missed"
    print_table(
        ["target", "measured", "result"],
        [[f"wrapped throughput ≥ {TARGET_RATIO} of bare", f"{ratio:.3f}", met]],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

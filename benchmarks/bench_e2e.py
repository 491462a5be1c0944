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
import importlib.util
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from report import machine_summary, print_table

from scopeguard import mint_token

SECRET = "scopeguard-e2e-benchmark-secret-0123456789abcdef"
SCOPE = "url:GET|/api/v1/courses/:id"  # the Canvas route file names it :id
TARGET_RATIO = 0.95
TARGET_TEXT = f"wrapped throughput ≥ {TARGET_RATIO} of bare"

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
# h11 and asyncio by name, so that installing httptools or uvloop cannot change the figures.
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, http="h11", loop="asyncio")
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


@dataclass
class Server:
    """A running server: its port and process id."""

    port: int
    pid: int

    def cpu_seconds(self) -> float:
        """Return the user and system CPU time the server's process has used so far."""
        # Fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the name.
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Round:
    """One wrk run against one server."""

    requests_per_second: float
    cpu_us_per_request: float


@contextmanager
def server(kind: str, root: str) -> Iterator[Server]:
    port = free_port()
    # The server's error output goes to a file, so that a failed start can show it.
    with tempfile.TemporaryFile(mode="w+") as errors:
        process = subprocess.Popen(  # noqa: S603 - this interpreter and the code above
            [sys.executable, "-c", SERVER_CODE, str(port), kind, root, SECRET],
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if time.monotonic() > deadline or process.poll() is not None:
                    errors.seek(0)
                    raise RuntimeError(f"the {kind} server did not start:\n{errors.read()}")
                time.sleep(0.05)
            yield Server(port, process.pid)
        finally:
            process.terminate()
            process.wait(10)


def measure(wrk: str, target: Server, token: str, settings: Settings) -> Round:
    """Run wrk once against ``target`` and return its requests per second and the server's
    CPU time per request, after checking that every response was a 2xx."""
    cpu_before = target.cpu_seconds()
    result = subprocess.run(  # noqa: S603 - wrk with arguments built here
        [
            wrk,
            "-t1",
            f"-c{settings.connections}",
            f"-d{settings.seconds}s",
            "-H",
            f"Authorization: Bearer {token}",
            f"http://127.0.0.1:{target.port}/api/v1/courses/7",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=settings.seconds + 30,
    )
    if "Non-2xx or 3xx responses" in result.stdout:
        raise RuntimeError(f"wrk saw failed responses:\n{result.stdout}")
    cpu = target.cpu_seconds() - cpu_before
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", result.stdout)
    count = re.search(r"([0-9]+) requests in", result.stdout)
    if rate is None or count is None:
        raise RuntimeError(f"cannot read wrk's output:\n{result.stdout}")
    return Round(float(rate.group(1)), cpu / int(count.group(1)) * 1e6)


def plural(count: int, noun: str) -> str:
    return noun if count == 1 else f"{noun}s"


def main(argv: Sequence[str] | None = None) -> int:
    """Measure both servers, print the tables and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run, not results")
    options = parser.parse_args(argv)
    settings = QUICK if options.quick else FULL
    wrk = shutil.which("wrk")
    missing = "wrk" if wrk is None else None
    if importlib.util.find_spec("uvicorn") is None:
        missing = "uvicorn"
    if wrk is None or missing is not None:
        print("# scopeguard end-to-end benchmark\n")
        fix = "apt-get install wrk" if missing == "wrk" else "pip install -e '.[bench]'"
        print(f"{missing} is not installed, so this benchmark did not run. Install it: {fix}\n")
        print("## Target\n")
        print_table(
            ["target", "measured", "result"],
            [[TARGET_TEXT, "not run", f"not run: {missing} is not installed"]],
        )
        return 0
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    token = mint_token(SECRET, [SCOPE], expires_in=3600)

    rounds: dict[str, list[Round]] = {"bare": [], "wrapped": []}
    with server("bare", root) as bare, server("wrapped", root) as wrapped:
        # One warm-up run each, not counted.
        measure(wrk, bare, token, QUICK)
        measure(wrk, wrapped, token, QUICK)
        for _ in range(settings.rounds):
            rounds["bare"].append(measure(wrk, bare, token, settings))
            rounds["wrapped"].append(measure(wrk, wrapped, token, settings))

    print("# scopeguard end-to-end benchmark\n")
    print(f"Machine: {machine_summary()}")
    mode = "--quick (a smoke run, whose figures mean nothing)" if options.quick else "full"
    print(
        f"Mode: {mode}. {settings.rounds} alternating {plural(settings.rounds, 'round')} of "
        f"{settings.seconds} s per server, wrk with 1 thread and {settings.connections} "
        "connections.\n"
    )
    print("## Throughput and server CPU time\n")
    rates = {kind: [r.requests_per_second for r in runs] for kind, runs in rounds.items()}
    cpu = {
        kind: statistics.median(r.cpu_us_per_request for r in runs) for kind, runs in rounds.items()
    }
    print_table(
        ["server", "median requests/s", "server CPU µs per request", "rounds, requests/s"],
        [
            [
                kind,
                f"{statistics.median(rates[kind]):,.0f}",
                f"{cpu[kind]:.1f}",
                ", ".join(f"{rate:,.0f}" for rate in rates[kind]),
            ]
            for kind in ("bare", "wrapped")
        ],
    )
    ratio = statistics.median(rates["wrapped"]) / statistics.median(rates["bare"])
    # At the target ratio the wrapped server may spend this much more CPU per request.
    allowance = cpu["bare"] * (1 / TARGET_RATIO - 1)
    print(
        f"The middleware adds {cpu['wrapped'] - cpu['bare']:.1f} µs of server CPU time per "
        f"request. A ratio of {TARGET_RATIO} leaves room for {allowance:.1f} µs: the bare "
        f"server's time per request times (1 / {TARGET_RATIO} - 1).\n"
    )
    print("## Target\n")
    met = "met" if ratio >= TARGET_RATIO else "missed"
    print_table(
        ["target", "measured", "result"],
        [[TARGET_TEXT, f"{ratio:.3f}", met]],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Count the CPU instructions the middleware executes per request, in a loop and in a server.

Timings differ between a tight loop and a server, and between machines. The
number of instructions the interpreter executes does not, so this script counts them with
valgrind's callgrind, which runs the program on a simulated CPU:

* **In a loop**: ScopeGuardMiddleware with the 1,299 Canvas routes around an ASGI app that
  returns at once, awaited for one cached-token request after another, minus the same loop
  around the app alone.
* **In a server**: the bare and wrapped Starlette apps of ``bench_e2e.py`` under uvicorn,
  sent requests one after another over one keep-alive connection by this process, with
  ``http.client``. The count covers everything the server process does per request:
  uvicorn, h11, Starlette and, when wrapped, the middleware.

Each count starts after warm-up requests: the script resets callgrind's counters with
``callgrind_control -z``, sends the requests, and reads the total of a dump taken with
``callgrind_control -d``. valgrind comes from Debian's package of that name.

Run it from the repository root::

    python benchmarks/bench_instructions.py           # about a minute
    python benchmarks/bench_instructions.py --quick   # smoke run, fewer requests
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from bench_e2e import SCOPE, SECRET, SERVER_CODE, free_port
from report import machine_summary, print_table

from scopeguard import mint_token

ROOT = Path(__file__).resolve().parent.parent
PATH = "/api/v1/courses/7"

# The loop: after a line on stdin it runs the requests, then prints "done". It prints
# "ready" before each wait, so that the counters are reset only once it waits.
LOOP_CODE = """
import asyncio, sys
from pathlib import Path

from scopeguard import JWTVerifier, ScopeGuardMiddleware, load_routes

root, secret, token, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
routes = load_routes(Path(root) / "tests" / "data" / "canvas_api_routes.tsv")


async def app(scope, receive, send):
    pass


guarded = ScopeGuardMiddleware(
    app, routes=routes, verifier=JWTVerifier(key=secret, algorithms=["HS256"])
)
scope = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http",
    "method": "GET", "root_path": "", "path": "/api/v1/courses/7",
    "raw_path": b"/api/v1/courses/7", "query_string": b"",
    "headers": [(b"host", b"127.0.0.1:8000"), (b"authorization", b"Bearer " + token.encode())],
    "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
}


async def receive():
    return {"type": "http.request"}


async def send(message):
    pass


async def run(target, times):
    for _ in range(times):
        await target(dict(scope, state={}), receive, send)


async def main():
    for target in (app, guarded):
        await run(target, 200)
        print("ready", flush=True)
        sys.stdin.readline()
        await run(target, count)
        print("done", flush=True)
        sys.stdin.readline()


asyncio.run(main())
"""


class Callgrind:
    """A program running under callgrind, whose counters this process resets and reads."""

    def __init__(self, arguments: Sequence[str], folder: Path) -> None:
        self.folder = folder
        self.process = subprocess.Popen(  # noqa: S603 - valgrind with arguments built here
            [
                tool_path("valgrind"),
                "--tool=callgrind",
                f"--callgrind-out-file={folder}/callgrind.%p",
                *arguments,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def control(self, option: str) -> None:
        subprocess.run(  # noqa: S603 - callgrind_control with a fixed option and our child
            [tool_path("callgrind_control"), option, str(self.process.pid)],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def reset(self) -> None:
        """Set every counter to zero."""
        self.control("-z")

    def instructions(self) -> int:
        """Dump the counters and return the instructions counted since the last reset."""
        before = set(self.folder.glob("callgrind.*"))
        self.control("-d")
        deadline = time.monotonic() + 60
        while True:
            for dump in set(self.folder.glob("callgrind.*")) - before:
                for line in dump.read_text(encoding="utf-8", errors="replace").splitlines():
                    if line.startswith("summary:"):
                        return int(line.split()[1])
            if time.monotonic() > deadline:
                raise RuntimeError("callgrind wrote no dump")
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(30)


def tool_path(name: str) -> str:
    """Return the path of a valgrind program, which main() checked is installed."""
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed")
    return path


def read_line(stream: IO[str] | None) -> str:
    assert stream is not None
    return stream.readline().strip()


def count_loop(token: str, requests: int, folder: Path) -> tuple[float, float]:
    """Return the instructions per request of the loop around the app alone and around the
    middleware."""
    program = Callgrind(
        [sys.executable, "-c", LOOP_CODE, str(ROOT), SECRET, token, str(requests)], folder
    )
    counts = []
    try:
        for _ in range(2):
            if read_line(program.process.stdout) != "ready":
                raise RuntimeError("the loop did not start")
            program.reset()
            assert program.process.stdin is not None
            program.process.stdin.write("go\n")
            program.process.stdin.flush()
            if read_line(program.process.stdout) != "done":
                raise RuntimeError("the loop failed")
            counts.append(program.instructions() / requests)
            program.process.stdin.write("go\n")
            program.process.stdin.flush()
    finally:
        program.stop()
    return counts[0], counts[1]


@contextmanager
def server(kind: str, folder: Path) -> Iterator[tuple[Callgrind, int]]:
    port = free_port()
    program = Callgrind(
        [sys.executable, "-c", SERVER_CODE, str(port), kind, str(ROOT), SECRET], folder
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                connection.connect()
                connection.close()
                break
            except OSError:
                if time.monotonic() > deadline or program.process.poll() is not None:
                    raise RuntimeError(f"the {kind} server did not start") from None
                time.sleep(0.5)
        yield program, port
    finally:
        program.stop()


def send_requests(port: int, token: str, count: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for _ in range(count):
            connection.request("GET", PATH, headers={"Authorization": f"Bearer {token}"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"the server responded with {response.status}")
    finally:
        connection.close()


def count_server(kind: str, token: str, requests: int, folder: Path) -> float:
    """Return the instructions per request of one server."""
    with server(kind, folder) as (program, port):
        send_requests(port, token, 200)
        program.reset()
        send_requests(port, token, requests)
        return program.instructions() / requests


def main(argv: Sequence[str] | None = None) -> int:
    """Count, print the table and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run with fewer requests")
    options = parser.parse_args(argv)
    requests = 100 if options.quick else 2000

    print("# scopeguard instruction counts\n")
    print(f"Machine: {machine_summary()}\n")
    missing = [tool for tool in ("valgrind", "callgrind_control") if shutil.which(tool) is None]
    if missing:
        print(f"{missing[0]} is not installed, so nothing was counted: apt-get install valgrind\n")
        return 0
    token = mint_token(SECRET, [SCOPE], expires_in=3600)
    with tempfile.TemporaryDirectory() as folder:
        loop_bare, loop_wrapped = count_loop(token, requests, Path(folder))
        server_bare = count_server("bare", token, requests, Path(folder))
        server_wrapped = count_server("wrapped", token, requests, Path(folder))

    mode = "--quick (a smoke run, whose figures mean nothing)" if options.quick else "full"
    print(f"Mode: {mode}. {requests:,} counted requests each.\n")
    print("## Instructions per request\n")
    print_table(
        ["measurement", "instructions per request"],
        [
            ["loop, app alone", f"{loop_bare:,.0f}"],
            ["loop, middleware around the app", f"{loop_wrapped:,.0f}"],
            ["middleware in the loop (difference)", f"{loop_wrapped - loop_bare:,.0f}"],
            ["server, bare", f"{server_bare:,.0f}"],
            ["server, wrapped", f"{server_wrapped:,.0f}"],
            ["middleware in the server (difference)", f"{server_wrapped - server_bare:,.0f}"],
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

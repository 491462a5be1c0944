"""Shared fixtures: a real uvicorn server on loopback, a free port and HMAC-signed tokens.

The ``serve_asgi`` and ``serve_asgi_module`` fixtures run any ASGI app under
``uvicorn.Server`` in a background thread, so tests can talk to it over real HTTP and
websocket connections.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import pytest
from starlette.types import ASGIApp

from scopeguard.tokens import mint_token

if TYPE_CHECKING:
    import uvicorn

#: Address every test server binds, so no test listens beyond the local machine.
LOOPBACK_HOST = "127.0.0.1"

#: Seconds a server may take to start, and to stop once ``should_exit`` is set.
SERVER_START_TIMEOUT = 10.0
SERVER_STOP_TIMEOUT = 10.0

#: Seconds uvicorn waits for open connections at shutdown before it cancels them.
GRACEFUL_SHUTDOWN_TIMEOUT = 2


class _ServerThread(threading.Thread):
    """A thread that runs ``server`` on ``listener`` and stores the exception that ended it."""

    def __init__(self, server: uvicorn.Server, listener: socket.socket) -> None:
        super().__init__(name="uvicorn-test-server", daemon=True)
        self.server = server
        self.listener = listener
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.server.run(sockets=[self.listener])
        # uvicorn calls sys.exit() when the app's lifespan startup fails, and a thread
        # drops SystemExit silently, so BaseException is caught to report it.
        except BaseException as exc:
            self.error = exc


@contextlib.contextmanager
def run_asgi_server(app: ASGIApp, *, root_path: str = "") -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 and yield its base URL, ``http://127.0.0.1:<port>``.

    ``root_path`` is passed to uvicorn, as its ``--root-path`` option does, so the app reads
    it from ``scope["root_path"]``.

    The listening socket is bound to port 0 before the server starts, so the kernel picks a
    free port and no other process can take it in between. The URL is yielded only once
    the server accepts connections. On exit, ``should_exit`` is set and the thread joined.
    Raises ``RuntimeError`` when the server fails to start, fails while serving or does not
    stop within the timeouts above, with the server's exception as the cause if there is one.
    """
    # Imported here because uvicorn is an optional dependency (the "demo" extra), and test
    # modules that start no server should run without it.
    import uvicorn

    listener = socket.create_server((LOOPBACK_HOST, 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app,
        # Loggers of the test process stay as pytest configured them.
        log_config=None,
        log_level="warning",
        access_log=False,
        # With "on", an app whose lifespan startup fails stops the server, so the helper
        # raises instead of serving a half-started app.
        lifespan="on",
        # The sans-I/O websockets protocol offers the "websocket.http.response" extension,
        # so a refused handshake gets the app's HTTP status. uvicorn's other "websockets"
        # protocol does too, but in uvicorn 0.55 it emits UvicornDeprecationWarning.
        ws="websockets-sansio",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_TIMEOUT,
        root_path=root_path,
    )
    server = uvicorn.Server(config)
    thread = _ServerThread(server, listener)
    thread.start()
    try:
        _wait_until_started(thread)
        yield f"http://{LOOPBACK_HOST}:{port}"
    finally:
        try:
            _stop(thread)
        finally:
            # uvicorn closes the socket only when it shut down after a complete startup.
            listener.close()
    if thread.error is not None:
        raise RuntimeError("the uvicorn test server failed while serving") from thread.error


def _wait_until_started(thread: _ServerThread) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not thread.server.started:
        if not thread.is_alive():
            raise RuntimeError("the uvicorn test server exited during startup") from thread.error
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the uvicorn test server did not start within {SERVER_START_TIMEOUT} s"
            )
        time.sleep(0.01)


def _stop(thread: _ServerThread) -> None:
    thread.server.should_exit = True
    thread.join(SERVER_STOP_TIMEOUT)
    if thread.is_alive():
        # force_exit skips waiting for open connections and the lifespan shutdown.
        thread.server.force_exit = True
        thread.join(SERVER_STOP_TIMEOUT)
    if thread.is_alive():
        raise RuntimeError(f"the uvicorn test server did not stop within {SERVER_STOP_TIMEOUT} s")


def _server_factory() -> Iterator[Callable[[ASGIApp], str]]:
    with contextlib.ExitStack() as stack:

        def serve(app: ASGIApp) -> str:
            return stack.enter_context(run_asgi_server(app))

        yield serve


@pytest.fixture
def serve_asgi() -> Iterator[Callable[[ASGIApp], str]]:
    """Provide a function that serves an ASGI app with uvicorn and returns its base URL.

    Every server it starts is stopped when the test ends.
    """
    yield from _server_factory()


@pytest.fixture(scope="module")
def serve_asgi_module() -> Iterator[Callable[[ASGIApp], str]]:
    """Provide the function of ``serve_asgi``, but its servers run until the module ends."""
    yield from _server_factory()


@pytest.fixture
def free_tcp_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago, for a server in a subprocess.

    NOTE: the port is released before the caller binds it, so another process can take it
    in between. In-process servers should use ``run_asgi_server``, which has no such gap.
    """
    with socket.create_server((LOOPBACK_HOST, 0)) as probe:
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def demo_secret() -> str:
    """Return a random HMAC secret of 43 characters, more than the 32 bytes HS256 needs."""
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="session")
def mint_demo_token(demo_secret: str) -> Callable[[Sequence[str]], str]:
    """Provide a function that mints an HS256 JWT granting ``scopes``, signed with ``demo_secret``.

    The tokens carry ``sub`` ``dev-user`` and expire one hour after they are minted.
    """

    def mint(scopes: Sequence[str]) -> str:
        return mint_token(demo_secret, scopes)

    return mint

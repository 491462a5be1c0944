"""Run the notes service and a scopeguard gateway in front of it, then call both.

Both listen on free ports of 127.0.0.1. The script sends allowed and denied requests to
the gateway, prints each status, and stops. Requests that the gateway denies never
reach the service, whose own lines show what it received. Run it from the repository
root:

    python examples/gateway/run.py
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

# The repository root, so that the example runs as a script from any directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.gateway.upstream import serve
from scopeguard import build_gateway, load_gateway_config, mint_token

HERE = Path(__file__).resolve().parent
READ = "url:GET|/v1/courses/:course_id/notes"
CREATE = "url:POST|/v1/courses/:course_id/notes"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    secret = os.environ.setdefault("SCOPEGUARD_SECRET", secrets.token_urlsafe(32))
    upstream_port, gateway_port = free_port(), free_port()
    service = serve(upstream_port)

    with tempfile.TemporaryDirectory() as directory:
        # The example's config with the upstream's port of this run.
        shutil.copy(HERE / "openapi.yaml", directory)
        text = (HERE / "gateway.toml").read_text(encoding="utf-8")
        text = text.replace("127.0.0.1:9000", f"127.0.0.1:{upstream_port}")
        config_path = Path(directory) / "gateway.toml"
        config_path.write_text(text, encoding="utf-8")
        app = build_gateway(load_gateway_config(config_path))

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=gateway_port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)

    base = f"http://127.0.0.1:{gateway_port}"
    reader = mint_token(secret, [READ], subject="reader", audience="notes-api")
    writer = mint_token(secret, [READ, CREATE], subject="writer", audience="notes-api")
    calls = [
        ("GET", "/v1/status", None, "public route, no token"),
        ("GET", "/v1/courses/7/notes", None, "no token"),
        ("GET", "/v1/courses/7/notes", reader, "reader"),
        ("POST", "/v1/courses/7/notes", reader, "reader may not create"),
        ("POST", "/v1/courses/7/notes", writer, "writer"),
        ("DELETE", "/v1/courses/7/notes/1", writer, "nobody may delete"),
        ("GET", "/v1/courses/7/notes%2F1", reader, "encoded slash"),
    ]
    print(f"gateway on {base}, notes service on 127.0.0.1:{upstream_port}")
    try:
        with httpx.Client(base_url=base) as client:
            for method, target, token, label in calls:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                body = {"text": "read chapter 3"} if method == "POST" else None
                url = httpx.URL(base).copy_with(raw_path=target.encode("ascii"))
                response = client.request(method, url, headers=headers, json=body)
                time.sleep(0.05)  # lets the service print its line first
                print(f"{method:6} {target:28} {label:24} -> {response.status_code}")
    finally:
        server.should_exit = True
        thread.join(10)
        service.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

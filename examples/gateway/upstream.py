"""The upstream: a notes service on Python's standard HTTP server.

It has no code for scopeguard or tokens, like a service in any language behind a gateway. It
stores notes in memory and reports every request it receives on standard output, so the
run shows that denied requests never reach it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NOTES: dict[str, dict[str, str]] = {"1": {"id": "1", "text": "bring the lab coat"}}
_LOCK = threading.Lock()


class NotesHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def do_DELETE(self) -> None:
        self._route()

    def log_message(self, format: str, *args: Any) -> None:
        print(f"  upstream received: {self.command} {self.path}", flush=True)

    def _route(self) -> None:
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts == ["v1", "status"]:
            self._send(200, {"status": "ok"})
        elif len(parts) == 4 and parts[:2] == ["v1", "courses"] and parts[3] == "notes":
            if self.command == "POST":
                length = int(self.headers.get("Content-Length", "0"))
                text = json.loads(self.rfile.read(length) or b"{}").get("text", "")
                with _LOCK:
                    note = {"id": str(len(NOTES) + 1), "text": text}
                    NOTES[note["id"]] = note
                self._send(201, note)
            else:
                with _LOCK:
                    self._send(200, list(NOTES.values()))
        elif len(parts) == 5 and parts[:2] == ["v1", "courses"] and parts[3] == "notes":
            with _LOCK:
                found = NOTES.get(parts[4])
                if found is not None and self.command == "DELETE":
                    del NOTES[parts[4]]
            if found is None:
                self._send(404, {"error": "no such note"})
            else:
                self._send(200, found)
        else:
            self._send(404, {"error": "not found"})

    def _send(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(port: int) -> ThreadingHTTPServer:
    """Start the notes service on 127.0.0.1:``port`` in a thread and return the server."""
    server = ThreadingHTTPServer(("127.0.0.1", port), NotesHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

"""Canvas's file download routes behind scopeguard, served by uvicorn.

Run from the repository root::

    export SCOPEGUARD_SECRET=$(python -c "import secrets; print(secrets.token_urlsafe(32))")
    uvicorn examples.canvas_files.app:app --host 127.0.0.1 --port 8000

The app itself is built by :func:`scopeguard.demo.create_app`, which ``scopeguard demo``
also serves: read that module for the route list and the endpoints.
"""

from __future__ import annotations

import os

from scopeguard.demo import create_app

secret = os.environ.get("SCOPEGUARD_SECRET")
if not secret:
    raise SystemExit("set SCOPEGUARD_SECRET to the HMAC secret the tokens are signed with")

app = create_app(secret)

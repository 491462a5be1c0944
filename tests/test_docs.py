"""The code examples of the README and the guide run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from scopeguard import mint_token

ROOT = Path(__file__).resolve().parent.parent
SECRET = "docs-example-secret-0123456789abcdef"


def code_blocks(document: Path, language: str, after: str = "") -> list[str]:
    """Return the fenced ``language`` blocks of ``document`` that follow the text ``after``."""
    text = document.read_text(encoding="utf-8")
    start = text.index(after) if after else 0
    return re.findall(rf"```{language}\n(.*?)```", text[start:], flags=re.DOTALL)


@pytest.mark.anyio
async def test_readme_quick_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOPEGUARD_SECRET", SECRET)
    namespace: dict[str, Any] = {}
    exec(code_blocks(ROOT / "README.md", "python", "## Quick start")[0], namespace)  # noqa: S102
    token = mint_token(SECRET, ["url:GET|/api/v1/courses/:course_id/files"])

    transport = httpx.ASGITransport(app=namespace["app"])
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        allowed = await client.get(
            "/api/v1/courses/7/files", headers={"Authorization": f"Bearer {token}"}
        )
        anonymous = await client.get("/api/v1/courses/7/files")

    assert allowed.status_code == 200
    assert allowed.json() == {"course": "7", "files": []}
    assert anonymous.status_code == 401


def test_guide_policy_example(tmp_path: Path) -> None:
    routes, test_module = (
        code_blocks(ROOT / "docs" / "guide.md", "toml", "## Testing a policy")[0],
        code_blocks(ROOT / "docs" / "guide.md", "python", "## Testing a policy")[0],
    )
    (tmp_path / "routes.toml").write_text(routes, encoding="utf-8")
    (tmp_path / "test_example_policy.py").write_text(test_module, encoding="utf-8")

    # The example runs from another folder, as a user's test suite would run it.
    result = subprocess.run(  # noqa: S603 - this interpreter and a file written above
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_guide_websocket_example() -> None:
    namespace: dict[str, Any] = {}
    exec(code_blocks(ROOT / "docs" / "guide.md", "python", "## Websockets")[0], namespace)  # noqa: S102

    assert namespace["live"].scope == "url:WEBSOCKET|/api/v1/courses/:course_id/live"


@pytest.mark.parametrize(
    ("index", "name", "kind"),
    [
        pytest.param(0, "verifier", "JWKSVerifier", id="jwks"),
        pytest.param(1, "verifier", "IntrospectionVerifier", id="introspection"),
        pytest.param(2, "service_tokens", "StaticResolver", id="static"),
        pytest.param(3, "app", "ScopeGuardMiddleware", id="several"),
    ],
)
def test_tokens_page_examples(
    monkeypatch: pytest.MonkeyPatch, index: int, name: str, kind: str
) -> None:
    """Each example of docs/tokens.md builds its source; none of them fetches anything."""
    monkeypatch.setenv("INTROSPECTION_SECRET", "example-client-secret")
    blocks = code_blocks(ROOT / "docs" / "tokens.md", "python")
    namespace: dict[str, Any] = {"app": _empty_app}

    exec(blocks[index], namespace)  # noqa: S102

    assert len(blocks) == 4
    assert type(namespace[name]).__name__ == kind


async def _empty_app(scope: Any, receive: Any, send: Any) -> None:
    return None


@pytest.mark.anyio
async def test_rollout_page_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rollout page's examples run in order: report mode, a callback, a Prometheus
    collector whose samples count the requests sent here."""
    from prometheus_client import generate_latest
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route as StarletteRoute

    async def show(request: Any) -> PlainTextResponse:
        return PlainTextResponse("course")

    monkeypatch.setenv("SCOPEGUARD_SECRET", SECRET)
    namespace: dict[str, Any] = {
        "app": Starlette(routes=[StarletteRoute("/api/v1/courses/{course_id}", show)])
    }
    blocks = code_blocks(ROOT / "docs" / "rollout.md", "python")
    for block in blocks[:3]:
        exec(block, namespace)  # noqa: S102

    transport = httpx.ASGITransport(app=namespace["app"])
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/api/v1/courses/7")
    samples = generate_latest(namespace["registry"]).decode()

    assert response.status_code == 200
    assert [event.reason for event in namespace["would_deny"]] == ["missing_token"]
    # The migration example wraps the app once more, in enforce mode.
    exec(blocks[3], namespace)  # noqa: S102
    assert namespace["canvas"].always_allowed == [("GET", "/api/v1/users/:user_id/profile")]
    assert namespace["app"].compatibility is namespace["canvas"]
    assert (
        'scopeguard_decisions_total{outcome="would_deny",route="/api/v1/courses/{course_id}"} 1.0'
        in samples
    )


def test_testing_page_examples(tmp_path: Path) -> None:
    """The client example and the policy file of docs/testing.md pass under pytest."""
    document = ROOT / "docs" / "testing.md"
    (tmp_path / "test_client_example.py").write_text(
        code_blocks(document, "python")[0], encoding="utf-8"
    )
    (tmp_path / "policy_courses.toml").write_text(
        code_blocks(document, "toml")[0], encoding="utf-8"
    )
    (tmp_path / "routes.toml").write_text(
        '[[routes]]\nmethod = "GET"\npath = "/api/v1/courses/:course_id"\n\n'
        '[[routes]]\nmethod = "GET"\npath = "/api/v1/courses/:course_id/files"\n',
        encoding="utf-8",
    )

    result = subprocess.run(  # noqa: S603 - this interpreter and files written above
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout

"""Tests of the gateway: its TOML file, the app it builds, and ``scopeguard gateway``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from conftest import run_asgi_server

from scopeguard import (
    GATEWAY_HEALTH_PATH,
    GATEWAY_READY_PATH,
    ConfigurationError,
    build_gateway,
    load_gateway_config,
    mint_token,
)
from scopeguard._types import Receive, Scope, Send
from scopeguard.cli import main

SECRET = "gateway-test-secret-0123456789abcdef"
SECRET_VARIABLE = "GATEWAY_TEST_SECRET"
COURSE = "url:GET|/v1/courses/:course_id"

OPENAPI = """\
openapi: 3.1.0
info: {title: Courses, version: "1"}
servers: [{url: /v1}]
paths:
  /courses/{course_id}:
    get: {tags: [Courses], operationId: getCourse}
  /status:
    get: {operationId: getStatus}
"""


def config_text(upstream_url: str, **sections: str) -> str:
    """Return a gateway file. A section given as "" is left out, and "top" contains keys
    that must come before every table."""
    parts = {
        "top": "",
        "upstream": f'[upstream]\nurl = "{upstream_url}"\ntimeout = 5\n',
        "routes": '[routes]\nopenapi = "openapi.yaml"\npublic = ["GET /v1/status"]\n',
        "tokens": f'[[tokens]]\ntype = "jwt"\nsecret_env = "{SECRET_VARIABLE}"\n',
        "gateway": '[gateway]\nrealm = "courses"\n',
    }
    parts.update(sections)
    return "\n".join(part for part in parts.values() if part)


def write_config(directory: Path, text: str) -> Path:
    (directory / "openapi.yaml").write_text(OPENAPI, encoding="utf-8")
    path = directory / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def echo_upstream(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    HITS.append(scope["raw_path"])
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"upstream " + scope["raw_path"]})


HITS: list[bytes] = []


@pytest.fixture(autouse=True)
def secret_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)


@pytest.fixture(scope="module")
def upstream_url() -> Iterator[str]:
    with run_asgi_server(echo_upstream) as url:
        yield url


@pytest.fixture
def gateway_url(tmp_path: Path, upstream_url: str) -> Iterator[str]:
    HITS.clear()
    config = load_gateway_config(write_config(tmp_path, config_text(upstream_url)))
    with run_asgi_server(build_gateway(config)) as url:
        yield url


@pytest.mark.parametrize(
    ("target", "headers", "status", "reached"),
    [
        pytest.param(GATEWAY_HEALTH_PATH, {}, 200, False, id="health"),
        pytest.param(GATEWAY_READY_PATH, {}, 200, False, id="ready"),
        pytest.param("/v1/status", {}, 200, True, id="public-route"),
        pytest.param("/v1/courses/7", {}, 401, False, id="no-token"),
        pytest.param(
            "/v1/courses/7", {"Authorization": f"Bearer {mint_token(SECRET, [COURSE])}"}, 200,
            True, id="allowed",
        ),
        pytest.param(
            "/v1/courses/7", {"Authorization": f"Bearer {mint_token(SECRET, [])}"}, 403, False,
            id="no-scope",
        ),
        pytest.param("/v1/other", {}, 401, False, id="no-route-no-token"),
        pytest.param(GATEWAY_HEALTH_PATH + "/x", {}, 401, False, id="health-prefix-guarded"),
    ],
)  # fmt: skip
def test_gateway_requests(
    gateway_url: str, target: str, headers: dict[str, str], status: int, reached: bool
) -> None:
    response = httpx.get(gateway_url + target, headers=headers)

    assert response.status_code == status
    assert ([target.encode()] == HITS) is reached
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="courses"')


def test_ready_reports_upstream_down(tmp_path: Path, free_tcp_port: int) -> None:
    config = load_gateway_config(
        write_config(tmp_path, config_text(f"http://127.0.0.1:{free_tcp_port}"))
    )

    with run_asgi_server(build_gateway(config)) as url:
        ready = httpx.get(url + GATEWAY_READY_PATH)
        health = httpx.get(url + GATEWAY_HEALTH_PATH)

    assert (ready.status_code, ready.text) == (503, "upstream down")
    assert health.status_code == 200


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        pytest.param({"upstream": ""}, "missing [upstream] section", id="no-upstream"),
        pytest.param({"upstream": '[upstream]\nurl = "ftp://x"\n'},
                     "[upstream] url or timeouts: upstream must", id="bad-url"),
        pytest.param({"upstream": '[upstream]\nurl = "http://127.0.0.1:99999"\n'},
                     "upstream has an invalid port", id="bad-port"),
        pytest.param({"upstream": '[upstream]\nurl = "http://user:pw@127.0.0.1:9"\n'},
                     "must not contain credentials", id="credentials"),
        pytest.param({"routes": '[routes]\nopenapi = "empty.yaml"\n'},
                     "empty.yaml has no routes, so the gateway would deny every request",
                     id="no-routes"),
        pytest.param({"routes": '[routes]\nopenapi = "openapi.yaml"\npublic = ["GET /status"]\n'},
                     "with the OpenAPI servers prefix", id="public-without-prefix"),
        pytest.param({"tokens": '[[tokens]]\ntype = "jwt"\nsecret_env = "EMPTY_VARIABLE_X"\n'},
                     "the environment variable EMPTY_VARIABLE_X is empty", id="secret-empty"),
        pytest.param({"upstream": '[upstream]\nurl = "http://127.0.0.1:9"\nretries = 3\n'},
                     "[upstream]: unknown key 'retries'", id="unknown-key"),
        pytest.param({"routes": '[routes]\nopenapi = "openapi.yaml"\nfile = "r.toml"\n'},
                     "[routes]: give exactly one of openapi and file", id="two-sources"),
        pytest.param({"routes": '[routes]\nfile = "missing.toml"\n'},
                     "[routes] file: ", id="missing-route-file"),
        pytest.param({"routes": '[routes]\nopenapi = "openapi.yaml"\npublic = ["GET /nope"]\n'},
                     "[routes] public: 'GET /nope' matches no route", id="public-no-route"),
        pytest.param({"routes": '[routes]\nopenapi = "openapi.yaml"\npublic = ["/v1/status"]\n'},
                     "[routes] public: '/v1/status' must read \"METHOD /path/template\"",
                     id="public-no-method"),
        pytest.param({"tokens": ""}, "missing [tokens] section", id="no-tokens"),
        pytest.param({"top": "tokens = []\n", "tokens": ""}, "[[tokens]]: give at least one",
                     id="empty-tokens"),
        pytest.param({"tokens": '[[tokens]]\ntype = "saml"\n'}, "[[tokens]] 1 type: must be one of",
                     id="token-type"),
        pytest.param({"tokens": '[[tokens]]\ntype = "jwt"\nsecret_env = "UNSET_VARIABLE_X"\n'},
                     "the environment variable UNSET_VARIABLE_X is not set", id="secret-unset"),
        pytest.param({"tokens": '[[tokens]]\ntype = "jwt"\nsecret = "inline"\n'},
                     "[[tokens]] 1: unknown key 'secret'", id="inline-secret"),
        pytest.param({"tokens": '[[tokens]]\ntype = "jwks"\nurl = "https://idp.example.test/j"\n'},
                     "[[tokens]] 1 (jwks): algorithms: missing", id="jwks-algorithms"),
        pytest.param({"gateway": '[gateway]\nmode = "audit"\n'},
                     "[gateway]: unknown value 'audit' for mode", id="mode"),
    ],
)  # fmt: skip
def test_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sections: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("EMPTY_VARIABLE_X", "")
    (tmp_path / "empty.yaml").write_text(
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n", encoding="utf-8"
    )
    path = write_config(tmp_path, config_text("http://127.0.0.1:9", **sections))

    with pytest.raises(ConfigurationError) as raised:
        load_gateway_config(path)

    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_cli_rejects_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, config_text("http://127.0.0.1:9", gateway="[gateway]\nx = 1\n"))

    status = main(["gateway", "--config", str(path), "--port", "8000"])

    assert status == 2
    assert "[gateway]: unknown key 'x'" in capsys.readouterr().err


def test_cli_serves_gateway(tmp_path: Path, upstream_url: str, free_tcp_port: int) -> None:
    path = write_config(tmp_path, config_text(upstream_url))
    command = [
        sys.executable, "-m", "scopeguard.cli", "gateway", "--config", str(path),
        "--port", str(free_tcp_port), "--workers", "2",
    ]  # fmt: skip
    environment = {**os.environ, SECRET_VARIABLE: SECRET}
    process = subprocess.Popen(  # noqa: S603 - this interpreter and a file written above
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{free_tcp_port}"
    try:
        wait_until_healthy(base, process)
        token = mint_token(SECRET, [COURSE])
        allowed = httpx.get(base + "/v1/courses/7", headers={"Authorization": f"Bearer {token}"})
        denied = httpx.get(base + "/v1/courses/7")
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()

    assert allowed.status_code == 200
    assert allowed.text == "upstream /v1/courses/7"
    # The upstream's uvicorn sends Date and Server; the gateway adds none of its own.
    assert len(allowed.headers.get_list("date")) == 1
    assert allowed.headers.get_list("server") == ["uvicorn"]
    assert denied.status_code == 401
    assert SECRET not in output
    assert token not in output


def wait_until_healthy(base: str, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the gateway exited with status {process.returncode}")
        try:
            if httpx.get(base + GATEWAY_HEALTH_PATH, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the gateway did not become healthy within 20 s")


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gateway"


def test_example_run_script() -> None:
    """examples/gateway/run.py prints each status, and the notes service receives only the
    requests the gateway lets through."""
    result = subprocess.run(  # noqa: S603 - this interpreter and the example script
        [sys.executable, str(EXAMPLE / "run.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = result.stdout.splitlines()
    statuses = [line.rsplit("-> ", 1)[1] for line in lines if "-> " in line]
    received = [line.strip() for line in lines if line.startswith("  upstream received")]

    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses == ["200", "401", "200", "403", "201", "403", "400"]
    assert received == [
        "upstream received: GET /v1/status",
        "upstream received: GET /v1/courses/7/notes",
        "upstream received: POST /v1/courses/7/notes",
    ]


def test_example_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOPEGUARD_SECRET", SECRET)

    config = load_gateway_config(EXAMPLE / "gateway.toml")

    assert [route.scope for route in config.table if not route.public] == [
        "url:GET|/v1/courses/:course_id/notes",
        "url:POST|/v1/courses/:course_id/notes",
        "url:GET|/v1/courses/:course_id/notes/:note_id",
        "url:DELETE|/v1/courses/:course_id/notes/:note_id",
    ]


def test_docs_example_config_loads(tmp_path: Path) -> None:
    """The quick-start file of docs/gateway.md loads; its JWKS source fetches nothing yet."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "gateway.md").read_text()
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "openapi.yaml").write_text(OPENAPI, encoding="utf-8")
    (tmp_path / "gateway.toml").write_text(block.replace("127.0.0.1:9000", "127.0.0.1:9"))

    config = load_gateway_config(tmp_path / "gateway.toml")

    assert [route.public for route in config.table] == [False, True]


# --- Two gateways behind nginx ----------------------------------------------------------------

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed; .ci/run installs Debian's")
def test_nginx_balances_two_gateways(tmp_path: Path, upstream_url: str) -> None:
    assert NGINX is not None
    HITS.clear()
    config = load_gateway_config(write_config(tmp_path, config_text(upstream_url)))
    first, second = build_gateway(config), build_gateway(config)
    with run_asgi_server(first) as first_url, run_asgi_server(second) as second_url:
        nginx_port = free_port()
        conf = (EXAMPLE / "nginx.conf").read_text(encoding="utf-8")
        conf = conf.replace("127.0.0.1:8001", urlsplit(first_url).netloc)
        conf = conf.replace("127.0.0.1:8002", urlsplit(second_url).netloc)
        conf = conf.replace("127.0.0.1:8080", f"127.0.0.1:{nginx_port}")
        prefix = tmp_path / "nginx"
        for folder in ("logs", "temp"):
            (prefix / folder).mkdir(parents=True)
        (prefix / "nginx.conf").write_text(conf, encoding="utf-8")
        process = subprocess.Popen(  # noqa: S603 - nginx with a config written above
            [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{nginx_port}"
        try:
            wait_until_healthy(base, process)
            token = mint_token(SECRET, [COURSE])
            allowed = [
                httpx.get(base + f"/v1/courses/{n}", headers={"Authorization": f"Bearer {token}"})
                for n in range(10)
            ]
            denied = httpx.get(base + "/v1/courses/7")
            attack = httpx.get(httpx.URL(base).copy_with(raw_path=b"/v1/status%2F..%2Fcourses"))
            doubled = httpx.get(httpx.URL(base).copy_with(raw_path=b"/v1//status"))
        finally:
            process.terminate()
            process.communicate(timeout=20)
        counts = [
            gateway.guarded.counters.total()  # type: ignore[attr-defined]
            for gateway in (first, second)
        ]

    assert [response.status_code for response in allowed] == [200] * 10
    assert denied.status_code == 401
    assert attack.status_code == 400
    # nginx keeps "//": the gateway decides on it, and no route matches it.
    assert doubled.status_code == 401
    assert all(count > 0 for count in counts), counts
    assert [f"/v1/courses/{n}".encode() for n in range(10)] == HITS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_kubernetes_manifest_matches_gateway() -> None:
    """The Kubernetes example is not run, but its probes and command must fit the gateway."""
    documents = list(yaml.safe_load_all((EXAMPLE / "kubernetes.yaml").read_text()))
    kinds = [document["kind"] for document in documents]
    (deployment,) = [document for document in documents if document["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]

    assert kinds == ["ConfigMap", "Deployment", "Service"]
    assert container["command"][:2] == ["scopeguard", "gateway"]
    assert container["livenessProbe"]["httpGet"]["path"] == GATEWAY_HEALTH_PATH
    assert container["readinessProbe"]["httpGet"]["path"] == GATEWAY_READY_PATH
    config = documents[0]["data"]["gateway.toml"]
    assert "secret_env" in config
    assert "SCOPEGUARD_SECRET" in str(container["env"])

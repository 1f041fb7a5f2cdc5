"""A REST API bridged without a plugin (issue 15): a `kind: http` manifest in front of a real
Django REST Framework app (Tests/e2e/rest_api, started here on a fresh SQLite database) whose
ViewSet filters by `request.user.username` and authenticates Plugboard's bridge tokens with stock
djangorestframework-simplejwt (ES256 against Plugboard's JWKS, audience and issuer checked).

Plugboard runs with its own OAuth server; alice and bob call through it with `plugboard token`
API tokens. Checked: each sees only their own projects and what alice creates is hers; an
upstream 400 and 404 are tool errors naming the problem; the client's token never reaches the
API (every Authorization header it saw is a bridge JWT for the caller); Django refuses a bridge
token that expired, one for another audience and one signed by another key (a well-formed one
is accepted, so the refusals are about those claims); an upstream that is down or hangs is a
tool error within timeout_ms; a tool added to the manifest is served after `plugboard reload`.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from support import E2E_DIR, LEGACY, PlugboardServer, free_port, json_headers, replace_atomically, rpc

AUDIENCE = "projects-api"
JWKS_PATH = "/.well-known/plugboard-bridge-jwks.json"
PASSWORDS = {"alice": "alice-Bridge-1", "bob": "bob-Bridge-2"}
HANG_TIMEOUT_MS = 1500

PROJECT_TOOLS = """
  - name: list_projects
    description: The caller's projects in the projects API.
    input_schema: { type: object, properties: {} }
    scopes: [projects:read]
    request: { method: GET, path: /projects/ }
  - name: create_project
    description: Create a project owned by the caller.
    input_schema:
      type: object
      properties: { name: { type: string }, budget: { type: integer } }
      required: [name]
    scopes: [projects:write]
    request:
      method: POST
      path: /projects/
      body: { name: "{name}", budget: "{budget}" }
  - name: all_projects
    description: Every one of the caller's projects, page after page.
    input_schema: { type: object, properties: {} }
    request: { path: /paged-projects/, paginate: { items: /results, next: /next } }
  - name: first_two_projects
    description: The caller's first two projects.
    input_schema: { type: object, properties: {} }
    request: { path: /paged-projects/, paginate: { items: /results, next: /next } }
    limits: { max_rows: 2 }
"""
GET_PROJECT_TOOL = """
  - name: get_project
    description: One of the caller's projects by id.
    input_schema: { type: object, properties: { id: { type: string } }, required: [id] }
    scopes: [projects:read]
    request: { path: "/projects/{id}/" }
"""


def projects_manifest(api_port: int, extra: str = "") -> str:
    return f"plugin: projects_api\nkind: http\nhttp:\n  base_url: http://127.0.0.1:{api_port}\n  audience: {AUDIENCE}\ntools:{PROJECT_TOOLS}{extra}"


def one_tool_manifest(plugin: str, port: int, tool: str) -> str:
    return f"""plugin: {plugin}
kind: http
http: {{ base_url: "http://127.0.0.1:{port}", audience: {AUDIENCE} }}
tools:
  - name: {tool}
    description: Reaches an upstream that is not well.
    request: {{ path: /anything/ }}
    limits: {{ timeout_ms: {HANG_TIMEOUT_MS} }}
"""


class HangingUpstream:
    """Accepts connections and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


class Bridge:
    def __init__(self, server: PlugboardServer, api_dir: Path, api_port: int, tokens: dict[str, str]) -> None:
        self.server = server
        self.api_dir = api_dir
        self.api_port = api_port
        self.tokens = tokens

    def call(self, user: str, tool: str, arguments: dict | None = None) -> dict:
        response = httpx2.post(
            self.server.url,
            headers=json_headers(LEGACY, Authorization=f"Bearer {self.tokens[user]}"),
            content=rpc("tools/call", {"name": tool, "arguments": arguments or {}}),
            timeout=30.0,
        )
        assert response.status_code == 200, f"{response.status_code} {response.text[:500]}"
        message = response.json()
        assert "result" in message, message
        return message["result"]

    def tool_names(self, user: str) -> set[str]:
        response = httpx2.post(
            self.server.url, headers=json_headers(LEGACY, Authorization=f"Bearer {self.tokens[user]}"), content=rpc("tools/list", {}), timeout=30.0
        )
        return {tool["name"] for tool in response.json()["result"]["tools"]}

    def api(self, token: str) -> httpx2.Response:
        """GET /projects/ straight at Django with a token of the test's own."""
        return httpx2.get(f"http://127.0.0.1:{self.api_port}/projects/", headers={"Authorization": f"Bearer {token}"}, timeout=10.0)


def error_text(result: dict) -> str:
    assert result.get("isError") is True, result
    return " ".join(block.get("text", "") for block in result["content"])


@pytest.fixture(scope="module")
def bridge(tmp_path_factory, artifacts_dir) -> Iterator[Bridge]:
    api_port, down_port = free_port(), free_port()
    hanging = HangingUpstream()
    workdir = tmp_path_factory.mktemp("rest-bridge")
    server = PlugboardServer(
        "rest-bridge",
        workdir,
        artifacts_dir,
        {
            "projects_api": projects_manifest(api_port),
            "hanging_api": one_tool_manifest("hanging_api", hanging.port, "hanging_call"),
            "down_api": one_tool_manifest("down_api", down_port, "down_call"),
        },
        auth={"mode": "oauth"},
    )
    server.start()
    api_dir = workdir / "api"
    api_log = open(artifacts_dir / "rest-bridge-django.log", "w")
    api = None
    try:
        api = subprocess.Popen(
            [sys.executable, str(E2E_DIR / "rest_api" / "run.py"), "--data-dir", str(api_dir), "--port", str(api_port), "--exit-with-parent"],
            env={
                "PATH": "/usr/bin:/bin",
                "PLUGBOARD_JWKS_URL": f"{server.base_url}{JWKS_PATH}",
                "PLUGBOARD_AUDIENCE": AUDIENCE,
                "PLUGBOARD_ISSUER": server.base_url,
            },
            stdout=api_log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while not (api_dir / "ready.json").exists():
            assert api.poll() is None, f"the Django API exited ({api.returncode}); see rest-bridge-django.log"
            assert time.monotonic() < deadline, "the Django API did not start within 30 s"
            time.sleep(0.05)
        tokens = {}
        for user, password in PASSWORDS.items():
            done = server.cli("user", "add", user, "--password-stdin", input=password + "\n")
            assert done.returncode == 0, done.stdout + done.stderr
            done = server.cli("token", "create", "--user", user, "--scopes", "mcp projects:read projects:write")
            assert done.returncode == 0, done.stdout + done.stderr
            tokens[user] = done.stdout.splitlines()[0].strip()
        yield Bridge(server, api_dir, api_port, tokens)
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=10)
        api_log.close()
        hanging.close()
        server.stop()


def test_each_user_sees_only_their_own_projects(bridge):
    created = bridge.call("alice", "create_project", {"name": "Apollo", "budget": 100})
    assert not created.get("isError"), created
    assert created["structuredContent"]["owner"] == "alice"
    assert not bridge.call("bob", "create_project", {"name": "Borealis"}).get("isError")

    alice = bridge.call("alice", "list_projects")["structuredContent"]["result"]
    bob = bridge.call("bob", "list_projects")["structuredContent"]["result"]
    assert [(p["name"], p["owner"]) for p in alice] == [("Apollo", "alice")]
    assert [(p["name"], p["owner"]) for p in bob] == [("Borealis", "bob")]


def test_pages_are_followed_up_to_max_rows(bridge):
    for name in ("Bellatrix", "Castor"):
        assert not bridge.call("alice", "create_project", {"name": name}).get("isError")
    names = ["Apollo", "Bellatrix", "Castor"]
    every = bridge.call("alice", "all_projects")["structuredContent"]
    assert ([p["name"] for p in every["items"]], every["truncated"]) == (names, False), every
    two = bridge.call("alice", "first_two_projects")["structuredContent"]
    assert ([p["name"] for p in two["items"]], two["truncated"]) == (names[:2], True), two
    assert [p["name"] for p in bridge.call("bob", "all_projects")["structuredContent"]["items"]] == ["Borealis"]


def test_an_upstream_400_is_a_tool_error_with_the_field_errors(bridge):
    text = error_text(bridge.call("alice", "create_project", {"name": "x" * 41}))
    assert "HTTP 400" in text and "name: Ensure this field has no more than 40 characters." in text, text


def test_the_clients_token_never_reaches_the_api(bridge):
    bridge.call("alice", "list_projects")
    seen = (bridge.api_dir / "seen_authorization.txt").read_text().splitlines()
    assert seen
    for line in seen:
        assert all(token not in line for token in bridge.tokens.values()), "a client's token reached the upstream"
        assert line.startswith("Bearer "), line
        claims = jwt.decode(line.removeprefix("Bearer "), options={"verify_signature": False})
        assert claims["sub"] in PASSWORDS and claims["username"] == claims["sub"], claims
        assert claims["aud"] in (AUDIENCE, [AUDIENCE]) and claims["iss"] == bridge.server.base_url, claims
        assert 0 < claims["exp"] - claims["iat"] <= 60 and claims["jti"], claims
        assert jwt.get_unverified_header(line.removeprefix("Bearer "))["alg"] == "ES256"


def test_django_refuses_expired_foreign_audience_and_foreign_key_tokens(bridge):
    key = serialization.load_pem_private_key((bridge.server.state_dir / "bridge-signing-key.pem").read_bytes(), password=None)
    kid = httpx2.get(f"{bridge.server.base_url}{JWKS_PATH}").json()["keys"][0]["kid"]
    now = int(time.time())
    claims = {"sub": "alice", "username": "alice", "aud": AUDIENCE, "iss": bridge.server.base_url, "iat": now, "exp": now + 60, "jti": "t1"}

    def mint(signing_key, **changes) -> str:
        return jwt.encode(claims | changes, signing_key, algorithm="ES256", headers={"kid": kid})

    assert bridge.api(mint(key)).status_code == 200, "a well-formed bridge token must be accepted (the control)"
    assert bridge.api(mint(key, iat=now - 120, exp=now - 60)).status_code == 401
    assert bridge.api(mint(key, aud="another-api")).status_code == 401
    assert bridge.api(mint(ec.generate_private_key(ec.SECP256R1()))).status_code == 401


def test_an_upstream_down_or_hanging_is_a_tool_error_within_the_timeout(bridge):
    started = time.monotonic()
    text = error_text(bridge.call("alice", "down_call"))
    assert "could not be reached" in text, text
    assert time.monotonic() - started < HANG_TIMEOUT_MS / 1000

    started = time.monotonic()
    text = error_text(bridge.call("alice", "hanging_call"))
    elapsed = time.monotonic() - started
    assert f"within its {HANG_TIMEOUT_MS} ms" in text, text
    assert HANG_TIMEOUT_MS / 1000 - 0.05 <= elapsed < HANG_TIMEOUT_MS / 1000 + 1.5, elapsed


def test_a_tool_added_to_the_manifest_is_served_after_reload_and_a_404_is_a_tool_error(bridge):
    assert "get_project" not in bridge.tool_names("alice")
    replace_atomically(bridge.server.plugins_dir / "projects_api" / "manifest.yaml", projects_manifest(bridge.api_port, GET_PROJECT_TOOL))
    done = bridge.server.reload()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "get_project" in bridge.tool_names("alice")

    bobs = bridge.call("bob", "list_projects")["structuredContent"]["result"][0]["id"]
    assert bridge.call("bob", "get_project", {"id": str(bobs)})["structuredContent"]["owner"] == "bob"
    text = error_text(bridge.call("alice", "get_project", {"id": str(bobs)}))
    assert "HTTP 404" in text and "Not found" in text, text
    # An argument cannot climb out of its path segment.
    text = error_text(bridge.call("alice", "get_project", {"id": "../projects"}))
    assert "HTTP 404" in text, text

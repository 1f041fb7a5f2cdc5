"""OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document), end to end.

A client names itself by the URL of a JSON document it publishes (Claude:
https://claude.ai/oauth/mcp-oauth-client-metadata); the server fetches the document, checks it and
treats the client like a registered one. Documents are served here by a Python http.server thread
on 127.0.0.1, which only the server with `auth.test_allow_http_client_metadata: true` (a loopback
test switch) may fetch; the other server (`strict`) has the production rules: https only, public
addresses only (SSRF protection), so it must refuse every loopback URL without connecting.

Each test publishes documents under paths of its own: the server caches good documents for
minutes, so a path is never reused with different content.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from support import MODERN, PlugboardServer, free_port
from test_oauth import (
    sdk_provider,
    _start_oauth_server,
    CONSENT_ACTION,
    DATA_PLUGINS,
    DEMO,
    LOGIN_ACTION,
    MEETING_TOOLS,
    PASSWORDS,
    PROJECT_COUNT,
    PROJECT_TOOLS,
    Browser,
    BrowserAgent,
    authorize_params,
    exchange,
    pkce,
    post_token,
    raw_projects,
    redirect_query,
    token_error,
    tokens_of,
)

APP_NAME = "CIMD E2E App"
APP_HOST = "cimd-app.example.com"
REDIRECT_URI = f"https://{APP_HOST}/callback"
MAX_DOCUMENT_BYTES = 16 * 1024


# -- the documents' web server ----------------------------------------------------------------------


class DocumentServer:
    """A plain http server on 127.0.0.1 (random port) answering from `routes`: path ->
    (status, headers, body). Counts every TCP connection (so an https attempt, which never becomes
    an HTTP request, is seen too) and records every request's method and path."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.delays: dict[str, float] = {}  # path -> seconds to wait before answering
        self.requests: list[tuple[str, str]] = []
        self.connections = 0
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                path = urlsplit(self.path).path
                with owner.lock:
                    owner.requests.append(("GET", path))
                    status, headers, body = owner.routes.get(path, (404, {"Content-Type": "text/plain"}, b"not found"))
                    delay = owner.delays.get(path, 0.0)
                time.sleep(delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def process_request(self, request, client_address) -> None:
                with owner.lock:
                    owner.connections += 1
                super().process_request(request, client_address)

        self.http = Server(("127.0.0.1", 0), Handler)
        self.port = self.http.server_address[1]
        self.thread = threading.Thread(target=self.http.serve_forever, name="cimd-documents", daemon=True)
        self.thread.start()

    def url(self, path: str, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def publish(self, path: str, body: dict | bytes, status: int = 200, headers: dict[str, str] | None = None) -> str:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        with self.lock:
            self.routes[path] = (status, {"Content-Type": "application/json"} | (headers or {}), raw)
        return self.url(path)

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for _, seen in self.requests if seen == path)

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def document(client_id: str, **fields) -> dict:
    """A valid client metadata document for `client_id`, plus or minus `fields` (None removes)."""
    body = {
        "client_id": client_id,
        "client_name": APP_NAME,
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    } | fields
    return {key: value for key, value in body.items() if value is not None}


def fresh_path(label: str) -> str:
    return f"/clients/{label}-{secrets.token_hex(4)}.json"


# -- servers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def documents() -> Iterator[DocumentServer]:
    server = DocumentServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def cimd_server(tmp_path_factory, artifacts_dir) -> Iterator[PlugboardServer]:
    """May fetch http documents on loopback addresses (the test switch)."""
    server = _start_oauth_server("cimd-lab", tmp_path_factory, artifacts_dir, ["alice", "bob"], {"test_allow_http_client_metadata": True})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory, artifacts_dir) -> Iterator[PlugboardServer]:
    """Production rules: https documents on public addresses only."""
    server = _start_oauth_server("cimd-strict", tmp_path_factory, artifacts_dir, [])
    yield server
    server.stop()


def authorize_page(server: PlugboardServer, client_id: str, redirect_uri: str = REDIRECT_URI) -> httpx2.Response:
    _, code_challenge = pkce()
    params = authorize_params(client_id, redirect_uri, code_challenge, "cimd-state", resource=server.url)
    with Browser(server.base_url) as browser:
        return browser.get_authorize(params)


def assert_refused_page(response: httpx2.Response, *, mentions: str | None = None) -> None:
    """The contract's answer when the client itself cannot be trusted: a 400 HTML page, never a
    redirect (to an address nobody vouched for), and certainly no code."""
    location = response.headers.get("location")
    assert response.status_code == 400, f"expected the 400 error page, got {response.status_code} Location={location!r}: {response.text[:500]}"
    assert location is None, location
    assert response.headers.get("content-type", "").startswith("text/html"), response.headers
    assert "code=" not in response.text and LOGIN_ACTION not in response.text, response.text[:1000]
    if mentions is not None:
        assert mentions in response.text, f"{mentions!r} not on the error page:\n{response.text[:2000]}"


# -- discovery -----------------------------------------------------------------------------------


def test_metadata_advertises_client_id_metadata_documents(cimd_server, strict_server):
    for server in (cimd_server, strict_server):
        metadata = httpx2.get(f"{server.base_url}/.well-known/oauth-authorization-server", timeout=30.0).json()
        assert metadata.get("client_id_metadata_document_supported") is True, metadata


# -- the whole chain -------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", [pytest.param("legacy", id="legacy"), pytest.param(MODERN, id="modern")])
async def test_sdk_chain_with_a_metadata_document(cimd_server, documents, mode):
    """The SDK's OAuthClientProvider with `client_metadata_url`: no registration, the document's
    URL as client_id at /authorize and /token, the real login and consent pages."""
    server = cimd_server
    path = fresh_path(f"sdk-{mode}")
    client_id = documents.publish(path, document(documents.url(path)))
    agent = BrowserAgent(server, "alice", REDIRECT_URI, APP_NAME)
    wire: list[tuple[str, str, int]] = []
    token_forms: list[dict[str, str]] = []

    async def record(response: httpx2.Response) -> None:
        request = response.request
        wire.append((request.method, request.url.path, response.status_code))
        if request.url.path == "/token":
            token_forms.append(dict(parse_qsl(request.content.decode())))

    provider = sdk_provider(
        server, agent, APP_NAME, REDIRECT_URI,
        # The SDK's constructor accepts https document URLs only; the documents here are plain
        # http on loopback (the server's test switch allows them). Construct with an https URL,
        # then point the flow at the real one: everything after the constructor is the SDK's own.
        client_metadata_url="https://placeholder.example.com/client.json",
    )
    provider.context.client_metadata_url = client_id
    try:
        async with httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(30.0), event_hooks={"response": [record]}) as http:
            async with Client(streamable_http_client(server.url, http_client=http), mode=mode, read_timeout_seconds=30.0) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                result = await client.call_tool("list_projects", {"limit": 50})
    finally:
        agent.browser.close()

    assert wire and wire[0][1:] == ("/mcp", 401), wire
    assert not any(path == "/register" for _, path, _ in wire), f"the SDK registered instead of using the document: {wire}"
    assert ("POST", "/token", 200) in wire, wire
    assert [form.get("client_id") for form in token_forms] == [client_id], token_forms
    authorize = dict(parse_qsl(urlsplit(agent.authorize_url).query))
    assert authorize["client_id"] == client_id and authorize["redirect_uri"] == REDIRECT_URI, authorize
    assert agent.browser.log == [("GET", "/authorize", 200), ("POST", LOGIN_ACTION, 200), ("POST", CONSENT_ACTION, 303)], agent.browser.log

    # The server fetched the document, and the consent page shows what it says.
    assert documents.hits(path) >= 1, documents.requests
    assert APP_NAME in agent.consent_page, agent.consent_page[:2000]
    assert APP_HOST in agent.consent_page, agent.consent_page[:2000]

    assert PROJECT_TOOLS | MEETING_TOOLS <= tools, tools
    assert not result.is_error, result.content
    names = [project["name"] for project in result.structured_content["projects"]]
    assert len(names) == PROJECT_COUNT["alice"] and all(name.startswith("Alice project ") for name in names), names


def test_hand_driven_flow_with_a_metadata_document(cimd_server, documents):
    """The same chain by hand, as bob: the document's name and redirect host on the consent page,
    the code bound to the document's client_id at /token."""
    server = cimd_server
    path = fresh_path("by-hand")
    client_id = documents.publish(path, document(documents.url(path), client_name="Bob's CIMD Tool"))
    verifier, code_challenge = pkce()
    params = authorize_params(client_id, REDIRECT_URI, code_challenge, "by-hand", scope="mcp projects:read", resource=server.url)
    with Browser(server.base_url) as browser:
        login = browser.get_authorize(params)
        assert login.status_code == 200, f"{login.status_code} {login.headers.get('location')} {login.text[:500]}"
        assert documents.hits(path) == 1, documents.requests
        consent = browser.login(login, "bob")
        assert consent.status_code == 200, f"{consent.status_code} {consent.text[:500]}"
        assert "Bob&#39;s CIMD Tool" in consent.text or "Bob's CIMD Tool" in consent.text, consent.text[:2000]
        assert APP_HOST in consent.text and "projects:read" in consent.text, consent.text[:2000]
        final = browser.consent(consent)
    query = redirect_query(final, REDIRECT_URI)
    assert query["state"] == "by-hand" and query["iss"] == server.base_url and query.get("code"), query

    # Another client (another valid document) cannot redeem bob's code.
    other_path = fresh_path("other")
    other = documents.publish(other_path, document(documents.url(other_path)))
    assert authorize_page(server, other).status_code == 200  # known to the server from now on
    token_error(exchange(server, other, REDIRECT_URI, query["code"], verifier), "invalid_grant")

    # The failed attempt may have used the code up (single use): bob, who already consented, gets
    # a fresh one straight from the login.
    verifier, code_challenge = pkce()
    params = authorize_params(client_id, REDIRECT_URI, code_challenge, "again", scope="mcp projects:read", resource=server.url)
    with Browser(server.base_url) as browser:
        again = browser.authorize(params, "bob")
    code = redirect_query(again, REDIRECT_URI, statuses=(302, 303))["code"]
    issued = tokens_of(exchange(server, client_id, REDIRECT_URI, code, verifier))
    assert set(issued["scope"].split()) == {"mcp", "projects:read"}, issued["scope"]
    names = raw_projects(server, issued["access_token"])
    assert len(names) == PROJECT_COUNT["bob"] and all(name.startswith("Bob project ") for name in names), names


# -- documents that must be refused ------------------------------------------------------------


def _client_id_differs(documents: DocumentServer, path: str) -> tuple[str, list[str]]:
    elsewhere = fresh_path("elsewhere")
    documents.publish(elsewhere, document(documents.url(elsewhere)))
    return documents.publish(path, document(documents.url(elsewhere))), []


def _redirected(documents: DocumentServer, path: str) -> tuple[str, list[str]]:
    # The target is a document that would be valid for the client_id asked for, if followed.
    target = fresh_path("redirect-target")
    client_id = documents.url(path)
    documents.publish(target, document(client_id))
    documents.publish(path, b"", status=302, headers={"Location": documents.url(target)})
    return client_id, [target]


def _too_large(documents: DocumentServer, path: str) -> tuple[str, list[str]]:
    client_id = documents.url(path)
    body = json.dumps(document(client_id, padding="x" * (MAX_DOCUMENT_BYTES + 512))).encode()
    assert len(body) > MAX_DOCUMENT_BYTES
    return documents.publish(path, body), []


def _not_200(documents: DocumentServer, path: str) -> tuple[str, list[str]]:
    return documents.publish(path, document(documents.url(path)), status=404), []


def _client_secret(documents: DocumentServer, path: str) -> tuple[str, list[str]]:
    return documents.publish(path, document(documents.url(path), client_secret="s3cret")), []


def _secret_auth_method(documents: DocumentServer, path: str) -> tuple[str, list[str]]:
    return documents.publish(path, document(documents.url(path), token_endpoint_auth_method="client_secret_basic")), []


def _not_json(documents: DocumentServer, path: str) -> tuple[str, list[str]]:
    return documents.publish(path, b"<html>client</html>", headers={"Content-Type": "text/html"}), []


REFUSALS: dict[str, Callable[[DocumentServer, str], tuple[str, list[str]]]] = {
    "client_id differs from URL": _client_id_differs,
    "302 to a valid document": _redirected,
    "larger than 16 KiB": _too_large,
    "HTTP 404": _not_200,
    "client_secret": _client_secret,
    "client_secret_basic auth method": _secret_auth_method,
    "not JSON": _not_json,
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_unusable_documents_are_refused(cimd_server, documents, case):
    server = cimd_server
    path = fresh_path(case.replace(" ", "-").lower())
    client_id, never_fetched = REFUSALS[case](documents, path)
    response = authorize_page(server, client_id)
    assert documents.hits(path) >= 1, f"the server did not fetch {path}: {documents.requests}"
    assert_refused_page(response)
    for target in never_fetched:
        assert documents.hits(target) == 0, f"the server followed the redirect to {target}"
    # A refused document makes no client either.
    verifier, _ = pkce()
    token_error(
        post_token(server, grant_type="authorization_code", code="x" * 43, redirect_uri=REDIRECT_URI, client_id=client_id, code_verifier=verifier),
        "invalid_client",
        status=401,
    )


def test_a_document_is_fetched_once_for_concurrent_sign_ins_and_a_refusal_remembered(cimd_server, documents):
    """Sign-ins that arrive together with a new client_id wait for one fetch of its document; a
    document that was refused is refused from memory for a while, not fetched for every request."""
    server = cimd_server
    path = fresh_path("concurrent")
    client_id = documents.publish(path, document(documents.url(path)))
    documents.delays[path] = 1.0
    with ThreadPoolExecutor(6) as pool:
        pages = list(pool.map(lambda _: authorize_page(server, client_id), range(6)))
    assert [page.status_code for page in pages] == [200] * 6, [page.status_code for page in pages]
    assert documents.hits(path) == 1, documents.requests

    broken = fresh_path("broken")
    broken_id = documents.publish(broken, b"not json")
    for _ in range(3):
        assert_refused_page(authorize_page(server, broken_id))
    assert documents.hits(broken) == 1, documents.requests

    # A client_id over 2 KiB is refused without a fetch.
    long_path = "/clients/" + "x" * 2100 + ".json"
    long_id = documents.publish(long_path, document(documents.url(long_path)))
    assert_refused_page(authorize_page(server, long_id))
    assert documents.hits(long_path) == 0, "a 2 KiB+ client_id was fetched"

    # A failure of the moment is neither a refusal nor remembered: 503, and the next try fetches.
    flaky = fresh_path("flaky")
    flaky_id = documents.publish(flaky, b"busy", status=503)
    unavailable = authorize_page(server, flaky_id)
    assert unavailable.status_code == 503 and unavailable.headers.get("retry-after"), (unavailable.status_code, unavailable.headers)
    assert "location" not in unavailable.headers
    documents.publish(flaky, document(flaky_id))
    assert authorize_page(server, flaky_id).status_code == 200
    assert documents.hits(flaky) == 2, documents.requests


def test_redirect_uri_not_in_the_document_is_refused(cimd_server, documents):
    server = cimd_server
    path = fresh_path("redirect-uri")
    client_id = documents.publish(path, document(documents.url(path)))
    for redirect_uri in ("https://evil.example.com/callback", f"https://{APP_HOST}/other", f"https://{APP_HOST}.evil.example.com/callback"):
        assert_refused_page(authorize_page(server, client_id, redirect_uri=redirect_uri))
    assert documents.hits(path) >= 1, documents.requests
    # The listed one is fine (so the refusals above were about the redirect URI).
    assert authorize_page(server, client_id).status_code == 200


# -- SSRF: the production rules ---------------------------------------------------------------


def test_strict_server_refuses_local_documents_without_connecting(strict_server, documents):
    server = strict_server
    path = fresh_path("ssrf")
    documents.publish(path, document(documents.url(path)))  # would be valid, if it were fetched
    before = documents.connections

    # Plain http is not a metadata document URL at all without the test switch.
    assert_refused_page(authorize_page(server, documents.url(path)))

    port = documents.port
    for client_id in (
        f"https://127.0.0.1:{port}{path}",
        f"https://localhost:{port}{path}",
        f"https://[::1]:{port}{path}",
        f"https://[::ffff:127.0.0.1]:{port}{path}",
        f"https://2130706433:{port}{path}",  # 127.0.0.1 as one decimal number
        "https://169.254.169.254/latest/meta-data/client.json",  # cloud metadata service
        "https://10.0.0.1/client.json",
        "https://192.168.1.1/client.json",
    ):
        mark = server.log_mark()
        response = authorize_page(server, client_id)
        # The page names no address (it must not become a network scanner); the log says why.
        assert_refused_page(response, mentions="see the server log")
        assert "not a public address" not in response.text
        server.wait_for_log(r"not a public address", since=mark)

    time.sleep(0.2)
    assert documents.connections == before, f"the server connected to the documents' server: {documents.requests[-5:]}"
    assert documents.hits(path) == 0


def test_test_switch_is_refused_off_loopback(tmp_path_factory, artifacts_dir):
    """auth.test_allow_http_client_metadata weakens SSRF protection: the server must not start with
    it on a non-loopback address."""
    workdir = tmp_path_factory.mktemp("cimd-exposed")
    server = PlugboardServer(
        "cimd-exposed", workdir, artifacts_dir, DATA_PLUGINS, database=f"sqlite:{workdir / 'data.db'}", seed=DEMO / "sqlite.sql",
        auth={"mode": "oauth", "test_allow_http_client_metadata": True},
    )
    server.prepare()
    port = free_port()
    text = server.config_text(port)
    assert f'listen: "127.0.0.1:{port}"' in text, text
    server.config_path.write_text(text.replace(f'listen: "127.0.0.1:{port}"', f'listen: "0.0.0.0:{port}"'))
    process = subprocess.Popen(
        [str(server.binary), "serve", "--config", str(server.config_path)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"the server kept running on 0.0.0.0 with the test switch on:\n{output.decode(errors='replace')[-2000:]}")
    text = output.decode(errors="replace")
    assert process.returncode != 0, text[-2000:]
    assert "test_allow_http_client_metadata" in text, text[-2000:]

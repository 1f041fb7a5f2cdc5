"""OAuth 2.1 end to end: the built-in authorization server and the resource server at /mcp.

The official SDK's `OAuthClientProvider` drives the whole chain (401 -> protected resource
metadata -> authorization server metadata -> dynamic client registration -> /authorize), and a
scripted browser (`Browser`) fills in the real login and consent pages the way a person's browser
would: it keeps the cookies, posts the forms' hidden fields back, and stops at the 303 to the
redirect URI (which is never fetched). Raw HTTP covers discovery, every refusal, Claude's
registration and refresh habits, scopes and static tokens.

Servers (module scope, each with the projects and meetings demo plugins over the SQLite demo seed):
`oauth` (plain OAuth), `public` (server.public_url https://mcp.example.com) and `proxy`
(auth.trusted_proxies [192.0.2.1, 127.0.0.0/8] and a 1-second code lifetime).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

from support import (
    LEGACY,
    MODERN,
    REPO_ROOT,
    SERVER_NAME,
    PlugboardServer,
    free_port,
    json_headers,
    modern_meta,
    plugin_manifest,
    rpc,
    sse_messages,
)

DEMO = REPO_ROOT / "examples" / "demo"
DATA_PLUGINS = {"projects": plugin_manifest("projects"), "meetings": plugin_manifest("meetings")}
SUPPORTED_SCOPES = {"mcp", "projects:read", "meetings:read"}
PROJECT_TOOLS = {"list_projects", "get_project"}
MEETING_TOOLS = {"list_meetings", "get_engagement_summary", "get_engagement_frames"}
# Rows of the demo seed (Tests/e2e/test_data.py checks the same numbers without OAuth).
PROJECT_COUNT = {"alice": 32, "bob": 24}

# carol is disabled by a test, dave is locked out by one, erin logs in once per test that needs a
# user of its own: none of them may share state with alice and bob.
PASSWORDS = {
    "alice": "alice-Secret-1",
    "bob": "correct horse battery staple",
    "carol": "carol-Secret-3",
    "dave": "dave-Secret-4",
    "erin": "erin-Secret-5",
}
LOGIN_ACTION = "/authorize/login"
CONSENT_ACTION = "/authorize/consent"
REDIRECT_STATUSES = (302, 303)
TOKEN_CACHE_S = 1
CLI_GRACE_S = TOKEN_CACHE_S + 2.0

CLAUDE_CALLBACK = "https://claude.ai/api/mcp/auth_callback"
CLAUDE_COM_CALLBACK = "https://claude.com/api/mcp/auth_callback"
CLAUDE_DCR = {
    "client_name": "claudeai",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
    "scope": "claudeai",
    "redirect_uris": [CLAUDE_CALLBACK],
}


# -- servers --------------------------------------------------------------------------------------


def _start_oauth_server(name: str, tmp_path_factory: pytest.TempPathFactory, artifacts: Path, users: list[str], auth: dict | None = None, **options) -> PlugboardServer:
    workdir = tmp_path_factory.mktemp(f"oauth-{name}")
    server = PlugboardServer(
        f"oauth-{name}",
        workdir,
        artifacts,
        DATA_PLUGINS,
        database=f"sqlite:{workdir / 'data.db'}",
        seed=DEMO / "sqlite.sql",
        # token_cache_s: how long the server may keep trusting a token the CLI revoked (user
        # disable, token revoke); 1 s instead of the default 30 keeps those tests short.
        auth={"mode": "oauth", "token_cache_s": TOKEN_CACHE_S} | (auth or {}),
        **options,
    )
    server.start()
    try:
        for user in users:
            done = server.cli("user", "add", user, "--password-stdin", input=PASSWORDS[user] + "\n")
            assert done.returncode == 0, f"user add {user} failed ({done.returncode}): {done.stdout}{done.stderr}"
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def oauth_server(tmp_path_factory, artifacts_dir) -> Iterator[PlugboardServer]:
    server = _start_oauth_server("main", tmp_path_factory, artifacts_dir, ["alice", "bob", "carol", "dave", "erin"])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def public_server(tmp_path_factory, artifacts_dir) -> Iterator[PlugboardServer]:
    server = _start_oauth_server("public", tmp_path_factory, artifacts_dir, [], public_url="https://mcp.example.com")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy_server(tmp_path_factory, artifacts_dir) -> Iterator[PlugboardServer]:
    server = _start_oauth_server("proxy", tmp_path_factory, artifacts_dir, ["alice"], auth={"trusted_proxies": ["192.0.2.1", "127.0.0.0/8"], "code_ttl_s": 1})
    yield server
    server.stop()


def add_client(server: PlugboardServer, *redirect_uris: str, name: str = "E2E App") -> str:
    """`plugboard client add`: a public client; its id is the first stdout line."""
    arguments = ["client", "add", "--name", name]
    for uri in redirect_uris:
        arguments += ["--redirect-uri", uri]
    done = server.cli(*arguments)
    assert done.returncode == 0, f"client add failed ({done.returncode}): {done.stdout}{done.stderr}"
    client_id = done.stdout.splitlines()[0].strip()
    assert client_id and " " not in client_id, done.stdout
    return client_id


def create_token(server: PlugboardServer, user: str, scopes: str | None = None, name: str | None = None) -> str:
    arguments = ["token", "create", "--user", user]
    if scopes is not None:
        arguments += ["--scopes", scopes]
    if name is not None:
        arguments += ["--name", name]
    done = server.cli(*arguments)
    assert done.returncode == 0, f"token create failed ({done.returncode}): {done.stdout}{done.stderr}"
    token = done.stdout.splitlines()[0].strip()
    assert token and " " not in token, done.stdout
    return token


@pytest.fixture(scope="module")
def loopback_client(oauth_server) -> tuple[str, str]:
    """A client registered with the CLI (no /register rate limit): (client_id, redirect_uri)."""
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    return add_client(oauth_server, redirect_uri), redirect_uri


# -- a scripted browser ---------------------------------------------------------------------------


class _Forms(HTMLParser):
    """Every <form> of a page: action, method, named inputs (name -> value) and named buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._form = {"action": attributes.get("action", ""), "method": attributes.get("method", "get").lower(), "inputs": {}, "buttons": []}
            self.forms.append(self._form)
        elif self._form is not None and "name" in attributes:
            if tag == "button" or (tag == "input" and attributes.get("type", "").lower() == "submit"):
                self._form["buttons"].append((attributes["name"], attributes.get("value", "")))
            elif tag in ("input", "textarea", "select"):
                self._form["inputs"][attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def form_of(page: httpx2.Response, action: str) -> dict:
    """The page's one POST form whose action is `action`."""
    parser = _Forms()
    parser.feed(page.text)
    found = [form for form in parser.forms if form["action"] == action and form["method"] == "post"]
    assert len(found) == 1, f"expected one <form method=post action={action!r}> in the {page.status_code} page, found {parser.forms}:\n{page.text[:2000]}"
    return found[0]


def has_form(page: httpx2.Response, action: str) -> bool:
    parser = _Forms()
    parser.feed(page.text)
    return any(form["action"] == action for form in parser.forms)


def parse_set_cookie(raw: str) -> tuple[str, str, dict[str, str]]:
    """name, value and attributes (lower-case names) of one Set-Cookie header."""
    first, *rest = [part.strip() for part in raw.split(";")]
    name, _, value = first.partition("=")
    attributes = {}
    for part in rest:
        key, _, val = part.partition("=")
        attributes[key.strip().lower()] = val.strip()
    return name.strip(), value.strip(), attributes


class Browser:
    """What a browser does with the authorization pages: one connection pool, a cookie jar of its
    own (sent back to the server's origin), same-origin Origin headers on form posts, and no
    redirect following, so the 30x to the client's redirect URI is captured, never fetched."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url
        self.http = httpx2.Client(timeout=30.0, follow_redirects=False, headers=headers)
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []
        self.log: list[tuple[str, str, int]] = []

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def request(self, method: str, url: str, **options) -> httpx2.Response:
        url = urljoin(self.base_url + "/", url)
        headers = dict(options.pop("headers", None) or {})
        if self.cookies and "Cookie" not in headers:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if method == "POST":
            parts = urlsplit(url)
            headers.setdefault("Origin", f"{parts.scheme}://{parts.netloc}")
        response = self.http.request(method, url, headers=headers, **options)
        self.http.cookies.clear()  # the jar above is the only one
        for raw in response.headers.get_list("set-cookie"):
            self.set_cookies.append(raw)
            name, value, attributes = parse_set_cookie(raw)
            if attributes.get("max-age") == "0" or value == "":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        self.log.append((method, urlsplit(url).path, response.status_code))
        return response

    def get_authorize(self, params: dict[str, str]) -> httpx2.Response:
        return self.request("GET", "/authorize?" + urlencode(params))

    def submit(self, page: httpx2.Response, action: str, fields: dict[str, str], drop: tuple[str, ...] = ()) -> httpx2.Response:
        """Posts the page's form `action` with its own inputs, overridden by `fields`, minus `drop`."""
        form = form_of(page, action)
        data = dict(form["inputs"]) | fields
        for name in drop:
            data.pop(name, None)
        return self.request("POST", urljoin(str(page.url), form["action"]), data=data)

    def login(self, page: httpx2.Response, user: str, password: str | None = None, **options) -> httpx2.Response:
        form = form_of(page, LOGIN_ACTION)
        assert {"request", "csrf_token", "username", "password"} <= set(form["inputs"]), form
        return self.submit(page, LOGIN_ACTION, {"username": user, "password": PASSWORDS[user] if password is None else password}, **options)

    def consent(self, page: httpx2.Response, decision: str = "allow", **options) -> httpx2.Response:
        form = form_of(page, CONSENT_ACTION)
        assert {"request", "csrf_token"} <= set(form["inputs"]), form
        assert ("decision", "allow") in form["buttons"] and ("decision", "deny") in form["buttons"], form
        return self.submit(page, CONSENT_ACTION, {"decision": decision}, **options)

    def authorize(self, params: dict[str, str], user: str) -> httpx2.Response:
        """GET /authorize, the login page, the consent page: the final 303 to the redirect URI.
        A user who already consented to this client and these scopes is sent there straight
        from the login (the contract's remembered consent), so the consent page is optional."""
        page = self.get_authorize(params)
        assert page.status_code == 200, f"GET /authorize: {page.status_code} {page.headers.get('location')} {page.text[:500]}"
        consent = self.login(page, user)
        if consent.status_code == 303:
            return consent
        assert consent.status_code == 200, f"login as {user}: {consent.status_code} {consent.headers.get('location')} {consent.text[:500]}"
        return self.consent(consent)


def redirect_query(response: httpx2.Response, redirect_uri: str, statuses: tuple[int, ...] = (303,)) -> dict[str, str]:
    """The query of a redirect to `redirect_uri` (exactly that URI, then '?')."""
    location = response.headers.get("location", "")
    assert response.status_code in statuses, f"expected {statuses} to {redirect_uri}, got {response.status_code} Location={location!r}: {response.text[:500]}"
    assert location.startswith(redirect_uri + "?"), f"Location {location!r} is not {redirect_uri}?..."
    query = dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))
    return query


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize_params(client_id: str, redirect_uri: str, challenge: str | None, state: str, scope: str | None = None, resource: str | None = None, method: str | None = "S256") -> dict[str, str]:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state}
    if challenge is not None:
        params["code_challenge"] = challenge
    if method is not None:
        params["code_challenge_method"] = method
    if scope is not None:
        params["scope"] = scope
    if resource is not None:
        params["resource"] = resource
    return params


def obtain_code(server: PlugboardServer, client_id: str, redirect_uri: str, user: str, scope: str | None = None, resource: str | None = "", browser: Browser | None = None) -> tuple[str, str]:
    """Logs `user` in and consents through the real pages: (code, code_verifier)."""
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(16)
    params = authorize_params(client_id, redirect_uri, challenge, state, scope, server.url if resource == "" else resource)
    if browser is None:
        with Browser(server.base_url) as own:
            final = own.authorize(params, user)
    else:
        final = browser.authorize(params, user)
    query = redirect_query(final, redirect_uri)
    assert query.get("state") == state, query
    assert query.get("iss") == server.base_url, query
    assert query.get("code"), query
    return query["code"], verifier


def post_token(server: PlugboardServer, **form: str) -> httpx2.Response:
    return httpx2.post(f"{server.base_url}/token", data=form, timeout=30.0)


def exchange(server: PlugboardServer, client_id: str, redirect_uri: str, code: str, verifier: str, resource: str | None = "") -> httpx2.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "client_id": client_id, "code_verifier": verifier}
    if resource is not None:
        form["resource"] = server.url if resource == "" else resource
    return post_token(server, **form)


def refresh(server: PlugboardServer, client_id: str, refresh_token: str, resource: str | None = "") -> httpx2.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    if resource is not None:
        form["resource"] = server.url if resource == "" else resource
    return post_token(server, **form)


def tokens_of(response: httpx2.Response) -> dict:
    """A successful token response, checked field by field (AS-8)."""
    assert response.status_code == 200, f"/token: {response.status_code} {response.text}"
    assert "no-store" in response.headers.get("cache-control", ""), response.headers
    body = response.json()
    assert body["token_type"].lower() == "bearer", body
    assert isinstance(body["access_token"], str) and body["access_token"], body
    assert isinstance(body["refresh_token"], str) and body["refresh_token"], body
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0, body
    assert isinstance(body["scope"], str), body
    return body


def token_error(response: httpx2.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, f"/token: expected {status} {error}, got {response.status_code} {response.text}"
    assert response.json()["error"] == error, response.text


def oauth_tokens(server: PlugboardServer, client_id: str, redirect_uri: str, user: str, scope: str | None = None) -> dict:
    code, verifier = obtain_code(server, client_id, redirect_uri, user, scope)
    return tokens_of(exchange(server, client_id, redirect_uri, code, verifier))


# -- the resource server, raw ---------------------------------------------------------------------


def mcp_post(server: PlugboardServer, token: str | None, body: bytes, version: str | None = LEGACY, path: str = "/mcp", **headers: str) -> httpx2.Response:
    extra = dict(headers)
    if token is not None:
        extra["Authorization"] = f"Bearer {token}"
    return httpx2.post(f"{server.base_url}{path}", headers=json_headers(version, **extra), content=body, timeout=30.0)


def rpc_result(response: httpx2.Response) -> dict:
    assert response.status_code == 200, f"/mcp: {response.status_code} {response.headers.get('www-authenticate')} {response.text[:500]}"
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        message = sse_messages(response.text)[-1]
    else:
        message = response.json()
    assert "result" in message, message
    return message["result"]


def raw_tool_names(server: PlugboardServer, token: str) -> set[str]:
    return {tool["name"] for tool in rpc_result(mcp_post(server, token, rpc("tools/list", {}, id=1)))["tools"]}


def raw_projects(server: PlugboardServer, token: str, **headers: str) -> list[str]:
    result = rpc_result(mcp_post(server, token, rpc("tools/call", {"name": "list_projects", "arguments": {"limit": 50}}, id=2), **headers))
    assert not result.get("isError"), result
    return [project["name"] for project in result["structuredContent"]["projects"]]


def challenge(response: httpx2.Response) -> dict[str, str]:
    """The parameters of a `WWW-Authenticate: Bearer ...` header."""
    header = response.headers.get("www-authenticate")
    assert header is not None, f"{response.status_code} without WWW-Authenticate: {response.text[:300]}"
    assert header.startswith("Bearer "), header
    return dict(re.findall(r'([A-Za-z_]+)="([^"]*)"', header))


def prm_url(base: str) -> str:
    return f"{base}/.well-known/oauth-protected-resource/mcp"


def assert_meetings_need_their_scope(server: PlugboardServer, token: str) -> None:
    """A token without meetings:read calling list_meetings: 403 insufficient_scope naming the
    scope and where to read the resource's metadata (RS-7)."""
    forbidden = mcp_post(server, token, rpc("tools/call", {"name": "list_meetings", "arguments": {}}, id=3))
    assert forbidden.status_code == 403, f"{forbidden.status_code} {forbidden.text[:300]}"
    params = challenge(forbidden)
    assert params.get("error") == "insufficient_scope", params
    assert "meetings:read" in params.get("scope", "").split(), params
    assert params.get("resource_metadata") == prm_url(server.base_url), params


def assert_invalid_token(server: PlugboardServer, token: str, within: float = 0.0) -> None:
    """401 with error="invalid_token" and the full challenge (RS-5, RS-6). `within`: how long a
    change made outside the server (the CLI) may take to reach it (auth.token_cache_s)."""
    deadline = time.monotonic() + within
    response = mcp_post(server, token, rpc("tools/list", {}, id=1))
    while response.status_code != 401 and time.monotonic() < deadline:
        time.sleep(0.1)
        response = mcp_post(server, token, rpc("tools/list", {}, id=1))
    assert response.status_code == 401, f"token {token[:40]!r}: expected 401, got {response.status_code} {response.text[:300]}"
    params = challenge(response)
    assert params.get("error") == "invalid_token", params
    assert params.get("resource_metadata") == prm_url(server.base_url), params
    assert set(params.get("scope", "").split()) == SUPPORTED_SCOPES, params


def b64url(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# -- 1. the SDK's whole chain with the real login and consent pages ------------------------------


class MemoryStorage:
    """The SDK's TokenStorage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def sdk_provider(server: PlugboardServer, agent: "BrowserAgent", client_name: str, redirect_uri: str, **options) -> OAuthClientProvider:
    """The official SDK's OAuth client for a public client, with `agent` as its browser."""
    return OAuthClientProvider(
        server_url=server.url,
        client_metadata=OAuthClientMetadata(
            client_name=client_name,
            redirect_uris=[AnyUrl(redirect_uri)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=MemoryStorage(),
        redirect_handler=agent.redirect_handler,
        callback_handler=agent.callback_handler,
        **options,
    )


class BrowserAgent:
    """The SDK's redirect and callback handlers: a person in a browser logging in and consenting."""

    def __init__(self, server: PlugboardServer, user: str, redirect_uri: str, client_name: str) -> None:
        self.server = server
        self.user = user
        self.redirect_uri = redirect_uri
        self.client_name = client_name
        self.browser = Browser(server.base_url)
        self.authorize_url: str | None = None
        self.consent_page: str = ""
        self.result: AuthorizationCodeResult | None = None

    def _drive(self, url: str) -> AuthorizationCodeResult:
        self.authorize_url = url
        assert url.startswith(f"{self.server.base_url}/authorize?"), url
        login_page = self.browser.request("GET", url)
        assert login_page.status_code == 200, f"GET /authorize: {login_page.status_code} {login_page.headers.get('location')} {login_page.text[:500]}"
        consent_page = self.browser.login(login_page, self.user)
        assert consent_page.status_code == 200, f"login: {consent_page.status_code} {consent_page.text[:500]}"
        self.consent_page = consent_page.text
        final = self.browser.consent(consent_page)
        query = redirect_query(final, self.redirect_uri)
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    async def redirect_handler(self, url: str) -> None:
        self.result = await anyio.to_thread.run_sync(self._drive, url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


def in_order(wire: list[tuple[str, str, int]], steps: list[tuple[str, str, int]]) -> bool:
    """Whether `steps` occur in `wire` in this order (others may come between)."""
    position = 0
    for entry in wire:
        if position < len(steps) and entry == steps[position]:
            position += 1
    return position == len(steps)


async def tools_and_projects(server: PlugboardServer, auth: httpx2.Auth, mode: str, on_response) -> tuple[set[str], object]:
    """Through the official client signed in by `auth`: the tool names it lists, and its
    list_projects result. `on_response` sees every HTTP response (the OAuth chain among them)."""
    async with httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30.0), event_hooks={"response": [on_response]}) as http:
        async with Client(streamable_http_client(server.url, http_client=http), mode=mode, read_timeout_seconds=30.0) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            return tools, await client.call_tool("list_projects", {"limit": 50})


@pytest.mark.anyio
@pytest.mark.parametrize("user", ["alice", "bob"])
@pytest.mark.parametrize("mode", [pytest.param("legacy", id="legacy"), pytest.param(MODERN, id="modern")])
async def test_sdk_full_chain_with_login_and_consent(oauth_server, mode, user):
    server = oauth_server
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    client_name = f"E2E SDK {user} {mode}"
    agent = BrowserAgent(server, user, redirect_uri, client_name)
    wire: list[tuple[str, str, int]] = []

    async def record(response: httpx2.Response) -> None:
        wire.append((response.request.method, response.request.url.path, response.status_code))

    provider = sdk_provider(server, agent, client_name, redirect_uri)
    try:
        tools, result = await tools_and_projects(server, provider, mode, record)
    finally:
        agent.browser.close()

    # The chain went the documented way, and the first /mcp request was refused.
    assert wire and wire[0][1] == "/mcp" and wire[0][2] == 401, wire
    assert in_order(
        wire,
        [
            ("GET", "/.well-known/oauth-protected-resource/mcp", 200),
            ("GET", "/.well-known/oauth-authorization-server", 200),
            ("POST", "/register", 201),
            ("POST", "/token", 200),
        ],
    ), wire
    assert agent.browser.log == [("GET", "/authorize", 200), ("POST", LOGIN_ACTION, 200), ("POST", CONSENT_ACTION, 303)], agent.browser.log
    authorize = dict(parse_qsl(urlsplit(agent.authorize_url).query))
    assert authorize["resource"] == server.url and authorize["code_challenge_method"] == "S256", authorize
    # The consent page names the client and lists what it asks for.
    assert client_name in agent.consent_page and "projects:read" in agent.consent_page

    # RFC 9207: iss in the redirect is the issuer of the metadata.
    metadata = httpx2.get(f"{server.base_url}/.well-known/oauth-authorization-server", timeout=30.0).json()
    assert agent.result.iss == metadata["issuer"] == server.base_url

    # The 401 named every scope, so all were granted, and every tool is listed.
    assert set(provider.context.current_tokens.scope.split()) == SUPPORTED_SCOPES
    assert PROJECT_TOOLS | MEETING_TOOLS <= tools, tools

    # The token's user is the owner of the call.
    assert not result.is_error, result.content
    names = [project["name"] for project in result.structured_content["projects"]]
    prefix = f"{user.capitalize()} project "
    assert len(names) == PROJECT_COUNT[user] and all(name.startswith(prefix) for name in names), names


# -- 2. discovery ---------------------------------------------------------------------------------


def test_protected_resource_metadata(oauth_server):
    server = oauth_server
    documents = []
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        response = httpx2.get(f"{server.base_url}{path}", timeout=30.0)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        assert response.headers["content-type"].startswith("application/json"), response.headers
        document = response.json()
        assert document["resource"] == server.url, document
        assert document["authorization_servers"] == [server.base_url], document
        assert set(document["scopes_supported"]) == SUPPORTED_SCOPES and len(document["scopes_supported"]) == 3, document
        assert document["bearer_methods_supported"] == ["header"], document
        assert document["resource_name"] == SERVER_NAME, document
        documents.append(document)
    assert documents[0] == documents[1]


def test_authorization_server_metadata(oauth_server):
    base = oauth_server.base_url
    response = httpx2.get(f"{base}/.well-known/oauth-authorization-server", timeout=30.0)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json"), response.headers
    metadata = response.json()
    assert metadata["issuer"] == base
    assert metadata["authorization_endpoint"] == f"{base}/authorize"
    assert metadata["token_endpoint"] == f"{base}/token"
    assert metadata["registration_endpoint"] == f"{base}/register"
    assert metadata["revocation_endpoint"] == f"{base}/revoke"
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["token_endpoint_auth_methods_supported"] == ["none"]
    assert set(metadata["scopes_supported"]) == SUPPORTED_SCOPES
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert isinstance(metadata["client_id_metadata_document_supported"], bool)

    alias = httpx2.get(f"{base}/.well-known/openid-configuration", timeout=30.0)
    assert alias.status_code == 200
    assert alias.json() == metadata


@pytest.mark.parametrize("method", ["POST", "POST server/discover", "GET", "DELETE"])
def test_unauthenticated_mcp_gets_401_challenge(oauth_server, method):
    server = oauth_server
    if method == "POST":
        response = mcp_post(server, None, rpc("tools/list", {}, id=1))
    elif method == "POST server/discover":
        response = mcp_post(server, None, rpc("server/discover", {"_meta": modern_meta()}, id=1), MODERN, **{"Mcp-Method": "server/discover"})
    elif method == "GET":
        response = httpx2.get(server.url, headers={"Accept": "text/event-stream", "MCP-Protocol-Version": LEGACY}, timeout=30.0)
    else:
        response = httpx2.delete(server.url, headers={"MCP-Protocol-Version": LEGACY, "Mcp-Session-Id": "0" * 32}, timeout=30.0)
    assert response.status_code == 401, f"{method} /mcp: {response.status_code} {response.text[:300]}"
    params = challenge(response)
    assert params["resource_metadata"] == prm_url(server.base_url), params
    assert set(params["scope"].split()) == SUPPORTED_SCOPES, params
    assert "error" not in params, params  # no credentials at all: no error code (RFC 6750 §3.1)


def test_public_url_is_advertised(public_server):
    server = public_server
    public = "https://mcp.example.com"
    prm = httpx2.get(f"{server.base_url}/.well-known/oauth-protected-resource/mcp", timeout=30.0).json()
    assert prm["resource"] == f"{public}/mcp" and prm["authorization_servers"] == [public], prm
    metadata = httpx2.get(f"{server.base_url}/.well-known/oauth-authorization-server", timeout=30.0).json()
    assert metadata["issuer"] == public
    for endpoint in ("authorize", "token", "register", "revoke"):
        key = {"authorize": "authorization_endpoint", "token": "token_endpoint", "register": "registration_endpoint", "revoke": "revocation_endpoint"}[endpoint]
        assert metadata[key] == f"{public}/{endpoint}", metadata
    refused = mcp_post(server, None, rpc("tools/list", {}, id=1))
    assert refused.status_code == 401
    assert challenge(refused)["resource_metadata"] == prm_url(public)

    # Behind https the CSRF cookie carries the __Host- prefix (so Secure, Path=/, no Domain).
    client_id = add_client(server, "https://app.example.com/callback")
    _, code_challenge = pkce()
    with Browser(server.base_url) as browser:
        page = browser.get_authorize(authorize_params(client_id, "https://app.example.com/callback", code_challenge, "s1", resource=f"{public}/mcp"))
        assert page.status_code == 200, f"{page.status_code} {page.headers.get('location')} {page.text[:300]}"
        csrf = [parse_set_cookie(raw) for raw in browser.set_cookies if parse_set_cookie(raw)[0].endswith("plugboard_csrf")]
    assert [name for name, _, _ in csrf] == ["__Host-plugboard_csrf"], browser.set_cookies
    _, _, attributes = csrf[0]
    assert "secure" in attributes and attributes.get("path") == "/" and "domain" not in attributes, attributes


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "mcp.proxy.example"}


def test_forwarded_headers_only_from_trusted_proxies(oauth_server, proxy_server):
    trusted = "https://mcp.proxy.example"
    prm = httpx2.get(f"{proxy_server.base_url}/.well-known/oauth-protected-resource/mcp", headers=FORWARDED, timeout=30.0).json()
    assert prm["resource"] == f"{trusted}/mcp" and prm["authorization_servers"] == [trusted], prm
    metadata = httpx2.get(f"{proxy_server.base_url}/.well-known/oauth-authorization-server", headers=FORWARDED, timeout=30.0).json()
    assert metadata["issuer"] == trusted and metadata["token_endpoint"] == f"{trusted}/token", metadata
    refused = mcp_post(proxy_server, None, rpc("tools/list", {}, id=1), **FORWARDED)
    assert refused.status_code == 401 and challenge(refused)["resource_metadata"] == prm_url(trusted)
    # Without the headers the same server answers with the request's own origin.
    plain = httpx2.get(f"{proxy_server.base_url}/.well-known/oauth-protected-resource/mcp", timeout=30.0).json()
    assert plain["resource"] == proxy_server.url, plain

    # A server that trusts no proxy ignores them.
    untrusted = httpx2.get(f"{oauth_server.base_url}/.well-known/oauth-protected-resource/mcp", headers=FORWARDED, timeout=30.0).json()
    assert untrusted["resource"] == oauth_server.url and untrusted["authorization_servers"] == [oauth_server.base_url], untrusted
    metadata = httpx2.get(f"{oauth_server.base_url}/.well-known/oauth-authorization-server", headers=FORWARDED, timeout=30.0).json()
    assert metadata["issuer"] == oauth_server.base_url, metadata
    # ... and says so in its log, once for this address however many requests carry them; the
    # trusted proxy's server says nothing.
    untrusted_warning = r"X-Forwarded-\S+ from 127\.0\.0\.1 ignored: .*auth\.trusted_proxies"
    oauth_server.wait_for_log(untrusted_warning)
    assert len(oauth_server.log_lines(untrusted_warning)) == 1, oauth_server.log_lines(untrusted_warning)
    assert proxy_server.find_log(untrusted_warning) is None


# -- 3. refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["no code_challenge", "method plain", "response_type token", "foreign resource"])
def test_authorize_refusals_redirect_with_error(oauth_server, loopback_client, case):
    client_id, redirect_uri = loopback_client
    _, code_challenge = pkce()
    params = authorize_params(client_id, redirect_uri, code_challenge, "state-" + case.replace(" ", "-"), resource=oauth_server.url)
    expected = "invalid_request"
    if case == "no code_challenge":
        del params["code_challenge"]
    elif case == "method plain":
        params["code_challenge_method"] = "plain"
    elif case == "response_type token":
        params["response_type"] = "token"
        expected = "unsupported_response_type"  # RFC 6749 §4.1.2.1 (the contract lumps it with invalid_request)
    else:
        params["resource"] = "https://other.example.com/mcp"
        expected = "invalid_target"
    with Browser(oauth_server.base_url) as browser:
        response = browser.get_authorize(params)
    query = redirect_query(response, redirect_uri, statuses=REDIRECT_STATUSES)
    assert query.get("error") == expected, query
    assert query.get("state") == params["state"] and query.get("iss") == oauth_server.base_url, query
    assert "code" not in query
    assert response.status_code == 302, f"the contract's error redirect from GET /authorize is a 302, got {response.status_code}"


@pytest.mark.parametrize("case", ["redirect mismatch", "unknown client"])
def test_authorize_refusals_never_redirect(oauth_server, loopback_client, case):
    client_id, redirect_uri = loopback_client
    _, code_challenge = pkce()
    if case == "redirect mismatch":
        params = authorize_params(client_id, "http://127.0.0.1:1/elsewhere", code_challenge, "s", resource=oauth_server.url)
    else:
        params = authorize_params("no-such-client", redirect_uri, code_challenge, "s", resource=oauth_server.url)
    with Browser(oauth_server.base_url) as browser:
        response = browser.get_authorize(params)
    assert response.status_code == 400, f"{response.status_code} {response.headers.get('location')}"
    assert "location" not in response.headers
    assert response.headers.get("content-type", "").startswith("text/html"), response.headers


def test_token_endpoint_refusals(oauth_server, loopback_client):
    server = oauth_server
    client_id, redirect_uri = loopback_client

    code, verifier = obtain_code(server, client_id, redirect_uri, "alice")
    token_error(exchange(server, client_id, redirect_uri, code, pkce()[0]), "invalid_grant")  # wrong code_verifier

    code, verifier = obtain_code(server, client_id, redirect_uri, "alice")
    token_error(exchange(server, client_id, "http://127.0.0.1:1/elsewhere", code, verifier), "invalid_grant")  # redirect_uri differs (AS-5)

    code, verifier = obtain_code(server, client_id, redirect_uri, "alice")
    token_error(exchange(server, client_id, redirect_uri, code, verifier, resource="https://other.example.com/mcp"), "invalid_target")

    code, verifier = obtain_code(server, client_id, redirect_uri, "alice")
    token_error(exchange(server, "no-such-client", redirect_uri, code, verifier), "invalid_client", status=401)

    token_error(post_token(server, grant_type="password", username="alice", password=PASSWORDS["alice"], client_id=client_id), "unsupported_grant_type")


def test_code_replay_revokes_the_grant(oauth_server, loopback_client):
    server = oauth_server
    client_id, redirect_uri = loopback_client
    code, verifier = obtain_code(server, client_id, redirect_uri, "alice")
    first = tokens_of(exchange(server, client_id, redirect_uri, code, verifier))
    assert "list_projects" in raw_tool_names(server, first["access_token"])

    token_error(exchange(server, client_id, redirect_uri, code, verifier), "invalid_grant")
    assert_invalid_token(server, first["access_token"])
    token_error(refresh(server, client_id, first["refresh_token"]), "invalid_grant")


def test_one_code_per_authorization_request(oauth_server):
    """The consent form sent several times at once (a double click, a replayed post): one code
    comes out of the authorization request, the other submissions get an error page."""
    server = oauth_server
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    client_id = add_client(server, redirect_uri)  # a client alice has not consented to yet
    _, code_challenge = pkce()
    with Browser(server.base_url) as browser:
        login = browser.get_authorize(authorize_params(client_id, redirect_uri, code_challenge, "once", resource=server.url))
        consent = browser.login(login, "alice")
        assert consent.status_code == 200, f"{consent.status_code} {consent.headers.get('location')} {consent.text[:300]}"
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: browser.consent(consent), range(4)))
    codes = [answer for answer in answers if "code=" in (answer.headers.get("location") or "")]
    assert len(codes) == 1, [(answer.status_code, answer.headers.get("location")) for answer in answers]
    assert all(answer.status_code >= 400 for answer in answers if answer not in codes), [answer.status_code for answer in answers]


def test_expired_code(proxy_server):
    server = proxy_server  # auth.code_ttl_s: 1
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    client_id = add_client(server, redirect_uri)
    code, verifier = obtain_code(server, client_id, redirect_uri, "alice")
    time.sleep(2.0)
    token_error(exchange(server, client_id, redirect_uri, code, verifier), "invalid_grant")


def test_refresh_token_reuse_revokes_the_grant(oauth_server, loopback_client):
    server = oauth_server
    client_id, redirect_uri = loopback_client
    first = oauth_tokens(server, client_id, redirect_uri, "alice")
    second = tokens_of(refresh(server, client_id, first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert "list_projects" in raw_tool_names(server, second["access_token"])

    token_error(refresh(server, client_id, first["refresh_token"]), "invalid_grant")
    assert_invalid_token(server, second["access_token"])
    token_error(refresh(server, client_id, second["refresh_token"]), "invalid_grant")


def test_disabled_user_tokens_stop_working(oauth_server, loopback_client):
    server = oauth_server
    client_id, redirect_uri = loopback_client
    issued = oauth_tokens(server, client_id, redirect_uri, "carol")
    static = create_token(server, "carol", name="carol-static")
    assert "list_projects" in raw_tool_names(server, issued["access_token"])
    assert "list_projects" in raw_tool_names(server, static)

    done = server.cli("user", "disable", "carol")
    assert done.returncode == 0, done.stdout + done.stderr
    listing = server.cli("user", "list")
    assert listing.returncode == 0 and any(line.split()[:2] == ["carol", "disabled"] for line in listing.stdout.splitlines()), listing.stdout
    assert_invalid_token(server, issued["access_token"], within=CLI_GRACE_S)
    assert_invalid_token(server, static, within=CLI_GRACE_S)
    token_error(refresh(server, client_id, issued["refresh_token"]), "invalid_grant")

    # A disabled user cannot log in either (same answer as a wrong password).
    _, code_challenge = pkce()
    with Browser(server.base_url) as browser:
        page = browser.get_authorize(authorize_params(client_id, redirect_uri, code_challenge, "s", resource=server.url))
        refused = browser.login(page, "carol")
    assert refused.status_code == 401, refused.status_code
    assert "Wrong user name or password" in refused.text


def test_revoked_token(oauth_server, loopback_client):
    server = oauth_server
    client_id, redirect_uri = loopback_client
    issued = oauth_tokens(server, client_id, redirect_uri, "alice")
    assert "list_projects" in raw_tool_names(server, issued["access_token"])
    revoked = httpx2.post(f"{server.base_url}/revoke", data={"token": issued["access_token"], "client_id": client_id}, timeout=30.0)
    assert revoked.status_code == 200, revoked.text
    assert_invalid_token(server, issued["access_token"])
    # RFC 7009: an unknown token is no error.
    unknown = httpx2.post(f"{server.base_url}/revoke", data={"token": "no-such-token", "client_id": client_id}, timeout=30.0)
    assert unknown.status_code == 200, unknown.text

    # Revoking the refresh token ends it too.
    issued = oauth_tokens(server, client_id, redirect_uri, "alice")
    revoked = httpx2.post(f"{server.base_url}/revoke", data={"token": issued["refresh_token"], "client_id": client_id}, timeout=30.0)
    assert revoked.status_code == 200, revoked.text
    token_error(refresh(server, client_id, issued["refresh_token"]), "invalid_grant")


def test_forged_tokens_are_refused(oauth_server):
    server = oauth_server
    now = int(time.time())
    claims = {"iss": server.base_url, "sub": "alice", "aud": server.url, "iat": now, "exp": now + 3600, "scope": " ".join(sorted(SUPPORTED_SCOPES))}
    alg_none = f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims)}."
    foreign_claims = claims | {"iss": "https://evil.example.com"}
    signing_input = f"{b64url({'alg': 'HS256', 'typ': 'JWT'})}.{b64url(foreign_claims)}"
    signature = b64url(hmac.new(b"not-this-servers-key", signing_input.encode(), hashlib.sha256).digest())
    foreign = f"{signing_input}.{signature}"
    for token in ["garbage", secrets.token_urlsafe(32), alg_none, foreign]:
        assert_invalid_token(server, token)


def test_foreign_origin_is_refused_even_with_a_token(oauth_server):
    token = create_token(oauth_server, "alice", name="origin-check")
    assert raw_projects(oauth_server, token)  # the token itself is fine
    response = mcp_post(oauth_server, token, rpc("tools/list", {}, id=1), Origin="http://evil.example.com")
    assert response.status_code == 403, f"{response.status_code} {response.text[:300]}"


def test_access_token_in_query_is_refused(oauth_server):
    token = create_token(oauth_server, "alice", name="query-check")
    for headers_token in (None, token):
        response = mcp_post(oauth_server, headers_token, rpc("tools/list", {}, id=1), path=f"/mcp?access_token={token}")
        assert response.status_code == 400, f"{response.status_code} {response.text[:300]}"
        assert "invalid_request" in response.text + response.headers.get("www-authenticate", ""), (response.headers, response.text)


def test_login_page_and_csrf(oauth_server, loopback_client):
    server = oauth_server
    client_id, redirect_uri = loopback_client
    _, code_challenge = pkce()
    params = authorize_params(client_id, redirect_uri, code_challenge, "s", resource=server.url)
    with Browser(server.base_url) as browser:
        page = browser.get_authorize(params)
        assert page.status_code == 200, page.status_code
        assert page.headers.get("x-frame-options", "").upper() == "DENY", page.headers
        assert "frame-ancestors 'none'" in page.headers.get("content-security-policy", ""), page.headers
        assert "no-store" in page.headers.get("cache-control", ""), page.headers
        assert "plugboard_csrf" in browser.cookies, browser.set_cookies

        assert browser.login(page, "alice", drop=("csrf_token",)).status_code == 403
        wrong = browser.submit(page, LOGIN_ACTION, {"username": "alice", "password": PASSWORDS["alice"], "csrf_token": "wrong-" + secrets.token_hex(16)})
        assert wrong.status_code == 403, wrong.status_code
    # The form's token without the cookie it must equal.
    with Browser(server.base_url) as cookieless:
        stolen = cookieless.submit(page, LOGIN_ACTION, {"username": "alice", "password": PASSWORDS["alice"]})
        assert stolen.status_code == 403, stolen.status_code


def test_login_lockout(oauth_server, loopback_client):
    server = oauth_server
    client_id, redirect_uri = loopback_client
    _, code_challenge = pkce()
    with Browser(server.base_url) as browser:
        page = browser.get_authorize(authorize_params(client_id, redirect_uri, code_challenge, "s", resource=server.url))
        assert page.status_code == 200
        statuses, pages = [], []
        for attempt in range(6):
            answer = browser.login(page, "dave", password=f"wrong-{attempt}")
            statuses.append(answer.status_code)
            if answer.status_code == 401:
                pages.append(answer.text)
                page = answer  # the login page again, with its form
        assert statuses == [401, 401, 401, 401, 401, 429], statuses
        assert all("Wrong user name or password" in text for text in pages)
        # Locked out: the right password does not help for now.
        assert browser.login(page, "dave").status_code == 429


def test_login_throttle_counts_the_address_a_trusted_proxy_saw(proxy_server):
    """Behind a trusted proxy every peer is the proxy: failures count per X-Forwarded-For address,
    so one attacker does not lock everyone out, and cannot escape the count by staying behind it."""
    server = proxy_server
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    client_id = add_client(server, redirect_uri)
    _, code_challenge = pkce()

    def attempts(address: str, count: int) -> list[int]:
        with Browser(server.base_url, headers={"X-Forwarded-For": f"198.51.100.7, {address}"}) as browser:
            page = browser.get_authorize(authorize_params(client_id, redirect_uri, code_challenge, "s", resource=server.url))
            statuses = []
            for attempt in range(count):
                answer = browser.login(page, "alice", password=f"wrong-{attempt}")
                statuses.append(answer.status_code)
                if answer.status_code == 401:
                    page = answer
            return statuses

    assert attempts("203.0.113.10", 6) == [401, 401, 401, 401, 401, 429]
    # Another client address behind the same proxy is not locked out by the first one.
    assert attempts("203.0.113.11", 1) == [401]


def test_registration_and_authorization_rate_limits(proxy_server):
    """20 registrations and 300 authorization requests a minute per client address (the one the
    first trusted proxy saw); the next gets 429, while another address behind the same proxy still
    gets in."""
    base = proxy_server.base_url

    def forwarded(address: str) -> dict[str, str]:
        return {"X-Forwarded-For": f"198.51.100.7, {address}"}

    body = {"client_name": "Rate", "redirect_uris": ["http://127.0.0.1:9/cb"], "token_endpoint_auth_method": "none"}
    statuses = [httpx2.post(f"{base}/register", json=body, headers=forwarded("203.0.113.20"), timeout=30.0).status_code for _ in range(21)]
    assert statuses == [201] * 20 + [429], statuses
    assert httpx2.post(f"{base}/register", json=body, headers=forwarded("203.0.113.21"), timeout=30.0).status_code == 201
    # Behind a second trusted proxy (127.0.0.9 is in 127.0.0.0/8) it is still the same client.
    chained = {"X-Forwarded-For": "198.51.100.7, 203.0.113.20, 127.0.0.9"}
    assert httpx2.post(f"{base}/register", json=body, headers=chained, timeout=30.0).status_code == 429

    # Malformed requests count too: the limit stands before any parsing.
    with httpx2.Client(base_url=base, headers=forwarded("203.0.113.22"), timeout=30.0) as client:
        statuses = [client.get("/authorize", params={"client_id": "nobody"}).status_code for _ in range(301)]
    assert set(statuses[:300]) == {400}, sorted(set(statuses[:300]))
    assert statuses[300] == 429
    assert httpx2.get(f"{base}/authorize", params={"client_id": "nobody"}, headers=forwarded("203.0.113.23"), timeout=30.0).status_code == 400


def test_consent_deny_and_foreign_session(oauth_server, loopback_client):
    server = oauth_server
    client_id, redirect_uri = loopback_client
    _, code_challenge = pkce()
    with Browser(server.base_url) as browser:
        consent = browser.login(browser.get_authorize(authorize_params(client_id, redirect_uri, code_challenge, "stolen-state", resource=server.url)), "erin")
        assert consent.status_code == 200, consent.status_code
        # Another browser (without erin's session cookie) posting erin's consent form gets no code.
        with Browser(server.base_url) as other:
            stolen = other.consent(consent)
        assert "code=" not in stolen.headers.get("location", ""), (stolen.status_code, stolen.headers.get("location"))

        # erin, logged in, asks again: no login page this time, and she says no.
        again = browser.get_authorize(authorize_params(client_id, redirect_uri, code_challenge, "deny-state", resource=server.url))
        assert again.status_code == 200 and not has_form(again, LOGIN_ACTION), (again.status_code, again.text[:500])
        denied = browser.consent(again, decision="deny")
    query = redirect_query(denied, redirect_uri)
    assert query.get("error") == "access_denied" and query.get("state") == "deny-state" and query.get("iss") == server.base_url, query
    assert "code" not in query


# -- 4. Claude --------------------------------------------------------------------------------------


def register(server: PlugboardServer, body: dict) -> httpx2.Response:
    return httpx2.post(f"{server.base_url}/register", json=body, timeout=30.0)


def test_claude_registration(oauth_server):
    for callback in (CLAUDE_CALLBACK, CLAUDE_COM_CALLBACK):
        response = register(oauth_server, CLAUDE_DCR | {"redirect_uris": [callback]})
        assert response.status_code == 201, f"{response.status_code} {response.text}"
        body = response.json()
        assert isinstance(body["client_id"], str) and body["client_id"]
        assert isinstance(body["client_id_issued_at"], int)
        assert body["client_name"] == "claudeai"
        assert body["redirect_uris"] == [callback]
        assert body["grant_types"] == ["authorization_code", "refresh_token"]
        assert body["response_types"] == ["code"]
        assert body["token_endpoint_auth_method"] == "none"
        assert "client_secret" not in body
        assert isinstance(body["scope"], str)

    refused = register(oauth_server, CLAUDE_DCR | {"redirect_uris": ["http://evil.example.com/callback"]})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_redirect_uri", refused.text


def test_claude_authorization_and_quick_refresh(oauth_server):
    server = oauth_server
    client_id = register(server, CLAUDE_DCR).json()["client_id"]
    verifier, code_challenge = pkce()
    state = secrets.token_urlsafe(16)
    params = authorize_params(client_id, CLAUDE_CALLBACK, code_challenge, state, scope="claudeai", resource=server.url)
    with Browser(server.base_url) as browser:
        consent = browser.login(browser.get_authorize(params), "bob")
        assert consent.status_code == 200, consent.status_code
        # The consent page names the client and its redirect host and lists every scope granted.
        assert "claudeai" in consent.text and "claude.ai" in consent.text
        for scope in SUPPORTED_SCOPES - {"mcp"}:
            assert scope in consent.text, scope
        final = browser.consent(consent)
    query = redirect_query(final, CLAUDE_CALLBACK)
    assert query["state"] == state and query["iss"] == server.base_url and query["code"]

    first = tokens_of(exchange(server, client_id, CLAUDE_CALLBACK, query["code"], verifier))
    assert set(first["scope"].split()) == SUPPORTED_SCOPES, first["scope"]
    time.sleep(1.0)  # claude.ai refreshes about a second after the exchange
    second = tokens_of(refresh(server, client_id, first["refresh_token"]))
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert set(second["scope"].split()) == SUPPORTED_SCOPES
    assert PROJECT_TOOLS | MEETING_TOOLS <= raw_tool_names(server, second["access_token"])
    names = raw_projects(server, second["access_token"])
    assert len(names) == PROJECT_COUNT["bob"] and all(name.startswith("Bob project ") for name in names)


def test_resource_variants(oauth_server, loopback_client):
    server = oauth_server
    client_id, redirect_uri = loopback_client
    # Trailing slash at /authorize and /token.
    code, verifier = obtain_code(server, client_id, redirect_uri, "alice", resource=server.url + "/")
    issued = tokens_of(exchange(server, client_id, redirect_uri, code, verifier, resource=server.url + "/"))
    assert "list_projects" in raw_tool_names(server, issued["access_token"])
    # Without a resource at all.
    code, verifier = obtain_code(server, client_id, redirect_uri, "alice", resource=None)
    issued = tokens_of(exchange(server, client_id, redirect_uri, code, verifier, resource=None))
    assert "list_projects" in raw_tool_names(server, issued["access_token"])
    # Refreshes naming the resource the other ways the contract tolerates.
    for resource in (server.url, server.url + "/", server.base_url, server.base_url + "/"):
        issued = tokens_of(refresh(server, client_id, issued["refresh_token"], resource=resource))
        assert "list_projects" in raw_tool_names(server, issued["access_token"]), resource


def test_initialize_before_every_call(oauth_server, loopback_client):
    """Claude's habit: a fresh initialize (no session id) before each call, same token."""
    server = oauth_server
    client_id, redirect_uri = loopback_client
    token = oauth_tokens(server, client_id, redirect_uri, "alice")["access_token"]
    params = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "claude-ai", "version": "0.1.0"}}
    for call in range(3):
        initialized = mcp_post(server, token, rpc("initialize", params, id=10 + call))
        result = rpc_result(initialized)
        assert result["protocolVersion"] == LEGACY
        session = {"Mcp-Session-Id": initialized.headers["mcp-session-id"]} if "mcp-session-id" in initialized.headers else {}
        notified = mcp_post(server, token, rpc("notifications/initialized", id=None), **session)
        assert notified.status_code == 202, notified.status_code
        names = raw_projects(server, token, **session)
        assert len(names) == PROJECT_COUNT["alice"] and all(name.startswith("Alice project ") for name in names)


# -- 5. scopes and static tokens --------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", [pytest.param("legacy", id="legacy"), pytest.param(MODERN, id="modern")])
async def test_scoped_static_token(oauth_server, mode):
    server = oauth_server
    label = f"scoped-{mode}-{secrets.token_hex(4)}"
    token = create_token(server, "alice", scopes="mcp projects:read", name=label)
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30.0)) as http:
        async with Client(streamable_http_client(server.url, http_client=http), mode=mode, read_timeout_seconds=30.0) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            result = await client.call_tool("list_projects", {"limit": 50})
    assert PROJECT_TOOLS <= tools and not tools & MEETING_TOOLS, tools
    assert not result.is_error and len(result.structured_content["projects"]) == PROJECT_COUNT["alice"]

    assert_meetings_need_their_scope(server, token)

    # Revoked by id, as `token list` shows it.
    listing = server.cli("token", "list")
    assert listing.returncode == 0, listing.stdout + listing.stderr
    lines = [line for line in listing.stdout.splitlines() if label in line]
    assert len(lines) == 1, listing.stdout
    token_id = lines[0].split()[0].rstrip(",")
    assert token not in listing.stdout  # shown once, at creation
    done = server.cli("token", "revoke", token_id)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_invalid_token(server, token, within=CLI_GRACE_S)


def test_resource_scopes_filter_lists_refuse_reads_and_are_audited(oauth_server):
    """Resources carry scopes like tools: a token without `projects:read` does not see the
    projects resource template, and reading one of its URIs is 403 insufficient_scope naming the
    scope; with the scope the read works, and every read is in the audit log."""
    server = oauth_server
    meetings_only = create_token(server, "alice", scopes="mcp meetings:read")
    listed = rpc_result(mcp_post(server, meetings_only, rpc("resources/templates/list", {}, id=1)))
    assert "projects://{id}" not in [template["uriTemplate"] for template in listed["resourceTemplates"]], listed
    forbidden = mcp_post(server, meetings_only, rpc("resources/read", {"uri": "projects://1"}, id=2))
    assert forbidden.status_code == 403, f"{forbidden.status_code} {forbidden.text[:300]}"
    params = challenge(forbidden)
    assert params.get("error") == "insufficient_scope" and "projects:read" in params.get("scope", "").split(), params

    allowed = create_token(server, "alice", scopes="mcp projects:read")
    listed = rpc_result(mcp_post(server, allowed, rpc("resources/templates/list", {}, id=3)))
    assert "projects://{id}" in [template["uriTemplate"] for template in listed["resourceTemplates"]], listed
    project_id = rpc_result(mcp_post(server, allowed, rpc("tools/call", {"name": "list_projects", "arguments": {"limit": 1}}, id=4)))
    first = project_id["structuredContent"]["projects"][0]["id"]
    read = rpc_result(mcp_post(server, allowed, rpc("resources/read", {"uri": f"projects://{first}"}, id=5)))
    assert read["contents"][0]["uri"] == f"projects://{first}", read
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        tail = server.cli("audit", "tail", "-n", "50").stdout
        if f"resource projects projects://{first}  ok" in tail:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no audit record of the resource read in:\n{tail}")
    assert "alice" in [line for line in tail.splitlines() if f"projects://{first}" in line][0]


def test_static_token_default_scopes_are_all(oauth_server):
    token = create_token(oauth_server, "bob")
    assert PROJECT_TOOLS | MEETING_TOOLS <= raw_tool_names(oauth_server, token)
    names = raw_projects(oauth_server, token)
    assert len(names) == PROJECT_COUNT["bob"] and all(name.startswith("Bob project ") for name in names)


# -- 6. remembered consent ---------------------------------------------------------------------------


def test_remembered_consent_skips_the_pages(oauth_server):
    server = oauth_server
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    client_id = add_client(server, redirect_uri, name="Remembered App")
    with Browser(server.base_url) as browser:
        code, verifier = obtain_code(server, client_id, redirect_uri, "erin", scope="mcp projects:read", browser=browser)
        assert "plugboard_session" in browser.cookies, browser.set_cookies
        tokens_of(exchange(server, client_id, redirect_uri, code, verifier))

        # Same user (session cookie), same client, same scopes: straight back with a code.
        verifier, code_challenge = pkce()
        again = browser.get_authorize(authorize_params(client_id, redirect_uri, code_challenge, "again", scope="mcp projects:read", resource=server.url))
        query = redirect_query(again, redirect_uri, statuses=REDIRECT_STATUSES)
        assert query.get("state") == "again" and query.get("iss") == server.base_url and query.get("code"), query
        second = tokens_of(exchange(server, client_id, redirect_uri, query["code"], verifier))
        assert set(second["scope"].split()) == {"mcp", "projects:read"}, second["scope"]

        # More scopes than consented: the consent page again, but no login page.
        _, code_challenge = pkce()
        more = browser.get_authorize(authorize_params(client_id, redirect_uri, code_challenge, "more", scope="mcp projects:read meetings:read", resource=server.url))
        assert more.status_code == 200, (more.status_code, more.headers.get("location"))
        assert has_form(more, CONSENT_ACTION) and not has_form(more, LOGIN_ACTION), more.text[:1000]

"""A real django-oauth-toolkit (DOT) as Plugboard's external issuer: opaque tokens, checked by RFC 7662
introspection.

The issuer is the Django project in `dot_issuer/` (DOT 3.4.1 on Django 5.2, pinned in
requirements.txt), started by `dot_issuer/run.py` on a fresh SQLite database: Django's own login
page at /accounts/login/, DOT at /o/ (issuer http://127.0.0.1:PORT/o), its RFC 8414 metadata at
the site root (/.well-known/oauth-authorization-server/o), DOT's consent page (every
authorization really posts it), and an introspection view that adds `user_id` (the user's
primary key) to DOT's answer. Users alice (pk 1) and bob (pk 2); applications: the public MCP
client `plugboard-mcp`, the confidential `company-portal` (another application of the same site)
and `plugboard-rs`, Plugboard's introspection credentials, whose secret has `+`, `%`, `/` and `=`.

Plugboard reaches the introspection endpoint through `IntrospectionTap`, a recording pass-through,
so the tests can see how it authenticates (HTTP Basic with the form-encoded id and secret, or the
request body). DOT binds a token to the RFC 8707 `resource` the client asked for and answers
`aud` then; a token without one has no audience, and Plugboard accepts it only from a client in
`auth.allowed_clients`.

Servers (module scope, the projects and meetings demo plugins over the SQLite seed):
`by_username` (auth.owner_claim username, introspection_auth left at client_secret_basic) and
`by_pk` (owner_claim user_id, introspection_auth client_secret_post, the demo seed with the owners
renamed to alice's and bob's primary keys); one test starts its own, with a wrong secret.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode, urlsplit

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata
from pydantic import AnyUrl

from support import E2E_DIR, MODERN, REPO_ROOT, PlugboardServer, free_port, rpc
from test_oauth import (
    DATA_PLUGINS,
    DEMO,
    MEETING_TOOLS,
    PROJECT_TOOLS,
    SUPPORTED_SCOPES,
    Browser,
    MemoryStorage,
    assert_invalid_token,
    challenge,
    form_of,
    in_order,
    mcp_post,
    pkce,
    prm_url,
    raw_projects,
    redirect_query,
    tools_and_projects,
)
from test_oauth_external import assert_rows_of

DOT_STARTUP_TIMEOUT_S = 60.0
TOKEN_CACHE_S = 1
LOGIN_PATH = "/accounts/login/"
AUTHORIZE_PATH = "/o/authorize/"
CONSENT_ACTION = ""  # DOT's consent form posts back to the authorization URL (no action attribute)
DOT_REDIRECT = (302,)


# -- the issuer ------------------------------------------------------------------------------------


@dataclass
class Dot:
    """The running DOT issuer, as dot_issuer/run.py describes it in ready.json."""

    process: subprocess.Popen
    ready: dict

    @property
    def base_url(self) -> str:
        return self.ready["base_url"]

    @property
    def issuer(self) -> str:
        return self.ready["issuer"]

    def password(self, user: str) -> str:
        return self.ready["users"][user]["password"]

    def pk(self, user: str) -> int:
        return self.ready["users"][user]["pk"]

    @property
    def mcp_client_id(self) -> str:
        return self.ready["mcp_client"]["client_id"]

    @property
    def rs_credentials(self) -> tuple[str, str]:
        client = self.ready["introspection_client"]
        return client["client_id"], client["client_secret"]

    def introspect(self, token: str) -> dict:
        """DOT's own answer about a token (RFC 7662, HTTP Basic with the form-encoded credentials)."""
        response = httpx2.post(self.ready["introspection_url"], data={"token": token}, headers={"Authorization": basic(*self.rs_credentials)}, timeout=30.0)
        assert response.status_code == 200, f"introspection: {response.status_code} {response.text[:300]}"
        return response.json()


def basic(client_id: str, secret: str, encode: bool = True) -> str:
    """HTTP Basic credentials; RFC 6749 §2.3.1 form-encodes the id and the secret first."""
    if encode:
        client_id, secret = quote(client_id, safe=""), quote(secret, safe="")
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture(scope="module")
def dot(tmp_path_factory, artifacts_dir) -> Iterator[Dot]:
    data_dir = tmp_path_factory.mktemp("dot-issuer")
    log = open(artifacts_dir / "dot-issuer.log", "ab", buffering=0)
    process = subprocess.Popen(
        [sys.executable, str(E2E_DIR / "dot_issuer" / "run.py"), "--data-dir", str(data_dir), "--port", "0", "--exit-with-parent"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ | {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + DOT_STARTUP_TIMEOUT_S
        ready_file = data_dir / "ready.json"
        while not ready_file.exists():
            if process.poll() is not None:
                raise RuntimeError(f"the DOT issuer exited with status {process.returncode}: see {log.name}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the DOT issuer was not ready within {DOT_STARTUP_TIMEOUT_S:.0f} s: see {log.name}")
            time.sleep(0.1)
        yield Dot(process, json.loads(ready_file.read_text()))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.close()


class IntrospectionTap:
    """A pass-through in front of DOT's introspection endpoint (`url(name)` forwards there) that
    records, per name, each request's Authorization header, form body and DOT's status."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: dict[str, list[tuple[str | None, dict[str, str], int]]] = {}
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name: value for name, value in self.headers.items() if name.lower() in ("authorization", "content-type", "accept")}
                answer = httpx2.post(owner.upstream, content=body, headers=headers, timeout=30.0)
                with owner.lock:
                    owner.calls.setdefault(self.path, []).append(
                        (self.headers.get("Authorization"), dict(parse_qsl(body.decode(), keep_blank_values=True)), answer.status_code)
                    )
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *_args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.http = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, name="introspection-tap", daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/{name}"

    def seen(self, name: str) -> list[tuple[str | None, dict[str, str], int]]:
        with self.lock:
            return list(self.calls.get(f"/{name}", []))

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture(scope="module")
def tap(dot) -> Iterator[IntrospectionTap]:
    recorder = IntrospectionTap(dot.ready["introspection_url"])
    yield recorder
    recorder.close()


# -- Plugboard -------------------------------------------------------------------------------------


def _start(name: str, dot: Dot, tap: IntrospectionTap, tmp_path_factory, artifacts, auth: dict, seed: Path | None = None) -> PlugboardServer:
    workdir = tmp_path_factory.mktemp(f"dot-{name}")
    client_id, secret = dot.rs_credentials
    server = PlugboardServer(
        f"dot-{name}",
        workdir,
        artifacts,
        DATA_PLUGINS,
        database=f"sqlite:{workdir / 'data.db'}",
        seed=seed or DEMO / "sqlite.sql",
        auth={
            "mode": "external",
            "issuer": dot.issuer,
            "introspection_url": tap.url(name),
            "introspection_client_id": client_id,
            "introspection_client_secret": secret,
            "allowed_clients": [dot.mcp_client_id],
            "token_cache_s": TOKEN_CACHE_S,
        }
        | auth,
    )
    server.start()
    return server


@pytest.fixture(scope="module")
def by_username(dot, tap, tmp_path_factory, artifacts_dir) -> Iterator[PlugboardServer]:
    server = _start("by_username", dot, tap, tmp_path_factory, artifacts_dir, {"owner_claim": "username"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def by_pk(dot, tap, tmp_path_factory, artifacts_dir) -> Iterator[PlugboardServer]:
    """Owners are Django primary keys here: the demo seed with 'alice' and 'bob' replaced by them."""
    seed = (DEMO / "sqlite.sql").read_text()
    assert (seed.count("'alice'"), seed.count("'bob'")) == (4, 3), "the demo seed changed: adapt the owner renaming"
    seed = seed.replace("'alice'", f"'{dot.pk('alice')}'").replace("'bob'", f"'{dot.pk('bob')}'")
    seed_file = tmp_path_factory.mktemp("dot-seed") / "sqlite-by-pk.sql"
    seed_file.write_text(seed)
    server = _start("by_pk", dot, tap, tmp_path_factory, artifacts_dir, {"owner_claim": "user_id", "introspection_auth": "client_secret_post"}, seed=seed_file)
    yield server
    server.stop()


# -- signing in at Django ----------------------------------------------------------------------------


def sign_in_and_consent(browser: Browser, url: str, user: str, password: str) -> httpx2.Response:
    """A person at the authorization URL: Django's login page (unless the browser's session is
    signed in already), then DOT's consent page, approved. Returns DOT's final redirect."""
    page = browser.request("GET", url)
    if page.status_code == 302 and urlsplit(page.headers["location"]).path == LOGIN_PATH:
        login = browser.request("GET", page.headers["location"])
        assert login.status_code == 200, f"GET {LOGIN_PATH}: {login.status_code} {login.text[:500]}"
        form = form_of(login, LOGIN_PATH)
        assert {"csrfmiddlewaretoken", "username", "password", "next"} <= set(form["inputs"]), form
        signed_in = browser.submit(login, LOGIN_PATH, {"username": user, "password": password})
        assert signed_in.status_code == 302, f"login as {user}: {signed_in.status_code} {signed_in.text[:500]}"
        assert urlsplit(signed_in.headers["location"]).path == AUTHORIZE_PATH, signed_in.headers["location"]
        page = browser.request("GET", signed_in.headers["location"])
    assert page.status_code == 200, f"consent page: {page.status_code} {page.headers.get('location')} {page.text[:500]}"
    form = form_of(page, CONSENT_ACTION)
    assert "csrfmiddlewaretoken" in form["inputs"] and ("allow", "Authorize") in form["buttons"], form
    return browser.submit(page, CONSENT_ACTION, {"allow": "Authorize"})


@pytest.fixture(scope="module")
def sessions(dot) -> Iterator[dict[str, Browser]]:
    """A browser per user whose Django session outlives one authorization (only the first signs in)."""
    browsers = {user: Browser(dot.base_url) for user in dot.ready["users"]}
    yield browsers
    for browser in browsers.values():
        browser.close()


def dot_tokens(dot: Dot, browser: Browser, user: str, scope: str, client: str = "mcp", resource: str | None = None) -> dict:
    """Authorization code with PKCE straight against DOT, through its login and consent pages:
    the token response for `user`, granted to the MCP client or (client="other") the portal."""
    if client == "mcp":
        client_id, secret, path = dot.mcp_client_id, None, "/callback"
    else:
        other = dot.ready["other_client"]
        client_id, secret, path = other["client_id"], other["client_secret"], urlsplit(other["redirect_uri"]).path
    redirect_uri = f"http://127.0.0.1:{free_port()}{path}"  # loopback: any port (RFC 8252)
    verifier, code_challenge = pkce()
    state = secrets.token_urlsafe(16)
    params = {
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state,
        "code_challenge": code_challenge, "code_challenge_method": "S256", "scope": scope,
    }
    if resource is not None:
        params["resource"] = resource
    final = sign_in_and_consent(browser, f"{dot.ready['authorization_url']}?{urlencode(params)}", user, dot.password(user))
    query = redirect_query(final, redirect_uri, statuses=DOT_REDIRECT)
    assert query.get("state") == state and query.get("iss") == dot.issuer and query.get("code"), query
    form = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": redirect_uri, "code_verifier": verifier}
    headers = {}
    if secret is None:
        form["client_id"] = client_id
    else:
        headers["Authorization"] = basic(client_id, secret)
    if resource is not None:
        form["resource"] = resource
    response = httpx2.post(dot.ready["token_url"], data=form, headers=headers, timeout=30.0)
    assert response.status_code == 200, f"DOT token endpoint: {response.status_code} {response.text[:300]}"
    issued = response.json()
    assert set(issued["scope"].split()) == set(scope.split()), issued
    return issued


def manifest_scopes() -> set[str]:
    """Every scope a tool manifest of the repository names (Plugins/*, Tests/e2e/manifests)."""
    found: set[str] = set()
    for manifest in [*REPO_ROOT.glob("Plugins/*/manifest.yaml"), *(E2E_DIR / "manifests").glob("*.yaml")]:
        for listed in re.findall(r"^\s*scopes:\s*\[([^\]]*)\]", manifest.read_text(), re.M):
            # A scope is a plain name or `{ name: x, description: ... }`.
            named = re.findall(r"\{\s*name:\s*([^,}\s]+)", listed)
            plain = [scope for scope in re.sub(r"\{[^}]*\}", "", listed).split(",") if scope.strip()]
            found |= {scope.strip().strip("'\"") for scope in named + plain}
    return found


# -- discovery ------------------------------------------------------------------------------------------


def test_authorization_server_metadata_where_mcp_clients_look(dot, by_username):
    """Plugboard names the issuer http://HOST/o; MCP clients read RFC 8414 metadata for an issuer
    with a path at /.well-known/oauth-authorization-server/o, which the site root serves."""
    prm = httpx2.get(prm_url(by_username.base_url), timeout=30.0).json()
    assert prm["authorization_servers"] == [dot.issuer], prm

    response = httpx2.get(f"{dot.base_url}/.well-known/oauth-authorization-server/o", timeout=30.0)
    assert response.status_code == 200, response.status_code
    metadata = response.json()
    base = dot.base_url
    assert metadata["issuer"] == dot.issuer
    assert metadata["authorization_endpoint"] == f"{base}/o/authorize/"
    assert metadata["token_endpoint"] == f"{base}/o/token/"
    assert metadata["introspection_endpoint"] == f"{base}/o/introspect/"
    assert metadata["revocation_endpoint"] == f"{base}/o/revoke_token/"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert "none" in metadata["token_endpoint_auth_methods_supported"]
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert "registration_endpoint" not in metadata  # no dynamic registration: clients are pre-registered
    scopes = set(metadata["scopes_supported"])
    assert {"mcp"} | manifest_scopes() | SUPPORTED_SCOPES <= scopes, scopes
    assert "mobile" in scopes and "notes:write" in scopes, scopes


# -- the official MCP client signs in through Django ----------------------------------------------------


class PreRegistered(MemoryStorage):
    """The SDK's token storage, holding the client DOT knows from the start (DOT offers no dynamic
    registration here): the SDK uses it instead of registering."""

    def __init__(self, client_id: str, redirect_uri: str) -> None:
        super().__init__()
        self.client_info = OAuthClientInformationFull(
            client_id=client_id,
            redirect_uris=[AnyUrl(redirect_uri)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        )


class DjangoAgent:
    """The SDK's redirect and callback handlers: a person in a fresh browser at DOT's pages."""

    def __init__(self, dot: Dot, user: str, redirect_uri: str) -> None:
        self.dot = dot
        self.user = user
        self.redirect_uri = redirect_uri
        self.browser = Browser(dot.base_url)
        self.authorize_url = ""
        self.result: AuthorizationCodeResult | None = None

    def _drive(self, url: str) -> AuthorizationCodeResult:
        self.authorize_url = url
        assert url.startswith(self.dot.ready["authorization_url"] + "?"), url
        final = sign_in_and_consent(self.browser, url, self.user, self.dot.password(self.user))
        query = redirect_query(final, self.redirect_uri, statuses=DOT_REDIRECT)
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    async def redirect_handler(self, url: str) -> None:
        self.result = await anyio.to_thread.run_sync(self._drive, url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


@pytest.mark.anyio
@pytest.mark.parametrize("user", ["alice", "bob"])
@pytest.mark.parametrize("mode", [pytest.param("legacy", id="legacy"), pytest.param(MODERN, id="modern")])
async def test_sdk_signs_in_through_django_login_and_dot_consent(dot, by_username, tap, mode, user):
    server = by_username
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    agent = DjangoAgent(dot, user, redirect_uri)
    wire: list[tuple[str, str, int]] = []

    async def record(response: httpx2.Response) -> None:
        wire.append((response.request.method, response.request.url.path, response.status_code))

    provider = OAuthClientProvider(
        server_url=server.url,
        client_metadata=OAuthClientMetadata(
            client_name=f"E2E DOT {user} {mode}",
            redirect_uris=[AnyUrl(redirect_uri)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=PreRegistered(dot.mcp_client_id, redirect_uri),
        redirect_handler=agent.redirect_handler,
        callback_handler=agent.callback_handler,
    )
    try:
        tools, result = await tools_and_projects(server, provider, mode, record)
    finally:
        agent.browser.close()

    # Plugboard's 401, its metadata, DOT's metadata where RFC 8414 puts it, DOT's token endpoint;
    # no registration anywhere.
    assert wire and wire[0][1] == "/mcp" and wire[0][2] == 401, wire
    assert in_order(
        wire,
        [
            ("GET", "/.well-known/oauth-protected-resource/mcp", 200),
            ("GET", "/.well-known/oauth-authorization-server/o", 200),
            ("POST", "/o/token/", 200),
        ],
    ), wire
    assert not [entry for entry in wire if "register" in entry[1]], wire
    # Django's real login form (CSRF token and all), then DOT's real consent form.
    assert agent.browser.log == [
        ("GET", AUTHORIZE_PATH, 302),
        ("GET", LOGIN_PATH, 200),
        ("POST", LOGIN_PATH, 302),
        ("GET", AUTHORIZE_PATH, 200),
        ("POST", AUTHORIZE_PATH, 302),
    ], agent.browser.log
    authorize = dict(parse_qsl(urlsplit(agent.authorize_url).query))
    assert authorize["client_id"] == dot.mcp_client_id and authorize["code_challenge_method"] == "S256", authorize
    assert authorize["resource"] == server.url, authorize
    assert agent.result is not None and agent.result.iss == dot.issuer

    # The 401 named every scope the server's tools need, and DOT granted them all.
    tokens = provider.context.current_tokens
    assert set(tokens.scope.split()) == SUPPORTED_SCOPES, tokens.scope
    assert PROJECT_TOOLS | MEETING_TOOLS <= tools, tools
    assert not result.is_error, result.content
    assert_rows_of([project["name"] for project in result.structured_content["projects"]], user)

    # DOT bound the token to the resource the SDK named (RFC 8707), so Plugboard accepted it by
    # its audience; the owner came from `username`.
    answer = dot.introspect(tokens.access_token)
    assert answer["active"] and answer["aud"] == [server.url] and answer["username"] == user, answer
    assert answer["client_id"] == dot.mcp_client_id and answer["user_id"] == dot.pk(user), answer


# -- revocation, audiences, clients and scopes ----------------------------------------------------------------


def test_revocation_at_dot_takes_effect_within_the_cache_time(dot, by_username, sessions):
    server = by_username
    token = dot_tokens(dot, sessions["alice"], "alice", "mcp projects:read")["access_token"]
    assert_rows_of(raw_projects(server, token), "alice")
    # No audience: accepted because plugboard-mcp is in auth.allowed_clients.
    assert "aud" not in dot.introspect(token)

    revoked = httpx2.post(dot.ready["revocation_url"], data={"token": token, "client_id": dot.mcp_client_id}, timeout=30.0)
    assert revoked.status_code == 200, f"{revoked.status_code} {revoked.text[:300]}"
    assert dot.introspect(token) == {"active": False}
    # Plugboard may believe its cached answer for token_cache_s, not longer (plus slack for a busy machine).
    assert_invalid_token(server, token, within=TOKEN_CACHE_S + 3.0)


def test_a_token_granted_to_another_application_is_refused(dot, by_username, sessions):
    """The same user, the same scopes, but granted to the company portal: DOT calls it active,
    Plugboard refuses it (no audience, and the portal is not in auth.allowed_clients)."""
    token = dot_tokens(dot, sessions["bob"], "bob", "mcp projects:read", client="other")["access_token"]
    answer = dot.introspect(token)
    assert answer["active"] and answer["client_id"] == dot.ready["other_client"]["client_id"] and answer["username"] == "bob", answer
    assert "aud" not in answer, answer
    mark = by_username.log_mark()
    assert_invalid_token(by_username, token)
    by_username.wait_for_log(r"refused: .*company-portal.*allowed_clients", since=mark)


def test_a_token_for_another_resource_is_refused(dot, by_username, sessions):
    """The MCP client's own token, but bound (RFC 8707) to another resource server."""
    token = dot_tokens(dot, sessions["alice"], "alice", "mcp projects:read", resource="https://api.example.com/mcp")["access_token"]
    assert dot.introspect(token)["aud"] == ["https://api.example.com/mcp"]
    mark = by_username.log_mark()
    assert_invalid_token(by_username, token)
    by_username.wait_for_log(r"refused: .*audience.*api\.example\.com", since=mark)


def test_a_token_bound_to_the_bare_origin_is_accepted(dot, by_username, sessions):
    """claude.ai names the server's origin as the resource; DOT binds the token to exactly that."""
    server = by_username
    token = dot_tokens(dot, sessions["bob"], "bob", "mcp projects:read", resource=server.base_url + "/")["access_token"]
    assert dot.introspect(token)["aud"] == [server.base_url + "/"]
    assert_rows_of(raw_projects(server, token), "bob")


def test_made_up_tokens_are_refused(by_username):
    assert_invalid_token(by_username, secrets.token_urlsafe(22))


def test_a_token_without_the_mcp_scope_gets_403(dot, by_username, sessions):
    """Valid, from the right client, but without `mcp`: RFC 6750 §3.1 insufficient_scope, naming it."""
    server = by_username
    token = dot_tokens(dot, sessions["alice"], "alice", "projects:read mobile")["access_token"]
    assert dot.introspect(token)["active"]
    response = mcp_post(server, token, rpc("tools/list", {}, id=1))
    assert response.status_code == 403, f"{response.status_code} {response.text[:300]}"
    params = challenge(response)
    assert params.get("error") == "insufficient_scope", params
    assert "mcp" in params.get("scope", "").split(), params
    assert params.get("resource_metadata") == prm_url(server.base_url), params


# -- how Plugboard authenticates to DOT -----------------------------------------------------------------------


def test_introspection_with_client_secret_basic(dot, by_username, tap, sessions):
    """The default: HTTP Basic over the form-encoded id and secret (RFC 6749 §2.3.1), which DOT
    decodes; the secret's `+` and `%` sent as they are would not match."""
    client_id, secret = dot.rs_credentials
    # DOT's side of the contract: the form-encoded credentials are accepted, the raw ones are not.
    probe = {"token": "no-such-token"}
    assert httpx2.post(dot.ready["introspection_url"], data=probe, headers={"Authorization": basic(client_id, secret)}, timeout=30.0).status_code == 200
    raw = httpx2.post(dot.ready["introspection_url"], data=probe, headers={"Authorization": basic(client_id, secret, encode=False)}, timeout=30.0)
    assert raw.status_code in (401, 403), raw.status_code

    token = dot_tokens(dot, sessions["bob"], "bob", "mcp projects:read")["access_token"]
    assert_rows_of(raw_projects(by_username, token), "bob")
    calls = [call for call in tap.seen("by_username") if call[1].get("token") == token]
    assert calls, "Plugboard never introspected the token"
    for authorization, form, status in calls:
        assert status == 200, status
        assert authorization is not None and authorization.startswith("Basic "), authorization
        sent_id, _, sent_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        assert (unquote_plus(sent_id), unquote_plus(sent_secret)) == (client_id, secret), (sent_id, sent_secret)
        assert "client_secret" not in form, form


def test_introspection_with_client_secret_post(dot, by_pk, tap, sessions):
    client_id, secret = dot.rs_credentials
    token = dot_tokens(dot, sessions["alice"], "alice", "mcp projects:read")["access_token"]
    assert_rows_of(raw_projects(by_pk, token), "alice")
    calls = [call for call in tap.seen("by_pk") if call[1].get("token") == token]
    assert calls, "Plugboard never introspected the token"
    for authorization, form, status in calls:
        assert status == 200, status
        assert authorization is None, authorization
        assert (form.get("client_id"), form.get("client_secret")) == (client_id, secret), form


def test_a_wrong_introspection_secret_is_the_servers_fault(dot, tap, sessions, tmp_path_factory, artifacts_dir):
    """DOT refuses Plugboard's credentials (403): the client's token may be fine, so the answer is
    503 with Retry-After and an error in the log, never a 401 that sends the user to sign in again."""
    server = _start("wrong_secret", dot, tap, tmp_path_factory, artifacts_dir, {"owner_claim": "username", "introspection_client_secret": "not-the-secret"})
    try:
        token = dot_tokens(dot, sessions["bob"], "bob", "mcp projects:read")["access_token"]
        response = mcp_post(server, token, rpc("tools/list", {}, id=1))
        assert response.status_code == 503 and response.headers.get("retry-after"), f"{response.status_code} {response.headers}"
        assert [status for _, form, status in tap.seen("wrong_secret") if form.get("token") == token] == [403]
        server.wait_for_log(r" error .*403")
    finally:
        server.stop()


# -- whose rows -------------------------------------------------------------------------------------------------


def test_owner_from_username(dot, by_username, sessions):
    for user in ("bob", "alice"):
        token = dot_tokens(dot, sessions[user], user, "mcp projects:read")["access_token"]
        assert_rows_of(raw_projects(by_username, token), user)


def test_owner_from_the_integer_user_id(dot, by_pk, sessions):
    """owner_claim user_id: DOT's answer carries the integer primary key, the owner is its decimal
    string, and the rows seeded for "1" and "2" are alice's and bob's."""
    for user in ("alice", "bob"):
        token = dot_tokens(dot, sessions[user], user, "mcp projects:read")["access_token"]
        answer = dot.introspect(token)
        assert answer["user_id"] == dot.pk(user) and isinstance(answer["user_id"], int), answer
        assert_rows_of(raw_projects(by_pk, token), user)

"""External issuer mode: another server (Keycloak, Auth0, Entra, ...) issues the access tokens and
Plugboard is only the resource server.

The issuer is simulated in Python: RSA keys made with `cryptography`, their JWKS served by an
http.server thread on 127.0.0.1, tokens minted with PyJWT (RS256 with a kid), and an RFC 7662
introspection endpoint for opaque tokens.

Servers (module scope, each with the projects and meetings demo plugins over the SQLite seed):
`external` (JWKS), `custom` (auth.audience and auth.owner_claim set), `rotating` (its own JWKS,
to which a test adds a key) and `introspecting` (introspection instead of JWTs).

Key rotation: the server fetches the JWKS again on a token whose key it does not know, but at
most every 30 s. The first test makes `rotating` load its JWKS; the last test (file order) waits
until 31 s after that load, so the wait overlaps the rest of the module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from support import MODERN, PlugboardServer, free_port, rpc
from test_oauth import (
    DATA_PLUGINS,
    DEMO,
    MEETING_TOOLS,
    PROJECT_COUNT,
    PROJECT_TOOLS,
    SUPPORTED_SCOPES,
    assert_invalid_token,
    assert_meetings_need_their_scope,
    b64url,
    challenge,
    mcp_post,
    prm_url,
    raw_projects,
    raw_tool_names,
)

ISSUER = "https://idp.test"
REFETCH_INTERVAL_S = 30  # ExternalTokenVerifier: the JWKS is fetched again at most this often
INTROSPECTION_CLIENT = ("rs", "s3cret")


# -- the issuer ------------------------------------------------------------------------------------


class Trickle:
    """An answer whose body comes a byte at a time, slower than anyone should wait for."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def send(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        deadline = time.monotonic() + self.seconds
        try:
            while time.monotonic() < deadline:
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.25)
        except OSError:
            pass  # the server gave up: what the test wants


class IssuerStub:
    """The issuer's HTTP side on 127.0.0.1 (random port): `routes` maps a path to a function of
    (method, headers, body) returning (status, JSON body). Every request is recorded."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[str, dict[str, str], bytes], tuple[int, object]]] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                headers = {name.lower(): value for name, value in self.headers.items()}
                with owner.lock:
                    owner.requests.append((self.command, path, headers, body))
                    route = owner.routes.get(path)
                status, answer = route(self.command, headers, body) if route else (404, {"error": "not_found"})
                if isinstance(answer, Trickle):
                    answer.send(self)
                    return
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = _answer  # noqa: N815 (http.server's naming)
            do_POST = _answer  # noqa: N815

            def log_message(self, *_args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.http = Server(("127.0.0.1", 0), Handler)
        self.port = self.http.server_address[1]
        self.thread = threading.Thread(target=self.http.serve_forever, name="issuer-stub", daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> list[tuple[str, str, dict[str, str], bytes]]:
        with self.lock:
            return [request for request in self.requests if request[1] == path]

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


class SigningKey:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict:
        return json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key())) | {"kid": self.kid, "alg": "RS256", "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class JWKS:
    """A JWKS document whose keys a test may change while it is served."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)

    def add(self, key: SigningKey) -> None:
        self.keys = self.keys + [key]

    def route(self, method: str, _headers: dict[str, str], _body: bytes) -> tuple[int, object]:
        if method != "GET":
            return 405, {"error": "method_not_allowed"}
        return 200, {"keys": [key.jwk() for key in self.keys]}


def claims_for(server: PlugboardServer, sub: str | None = "alice", scope: str | None = "mcp projects:read", **overrides) -> dict:
    """A good token's claims for `server`; overrides replace claims, None removes one."""
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": server.url, "sub": sub, "scope": scope, "iat": now, "exp": now + 300, "jti": secrets.token_hex(8)} | overrides
    return {key: value for key, value in claims.items() if value is not None}


def mint(key: SigningKey, claims: dict, kid: str | None = None) -> str:
    return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": kid or key.kid})


def hand_signed(header: dict, claims: dict, secret: bytes | None) -> str:
    """A JWT put together by hand: HS256 with `secret`, or unsigned (alg none) without one."""
    signing_input = f"{b64url(header)}.{b64url(claims)}"
    if secret is None:
        return signing_input + "."
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


async def client_view(server: PlugboardServer, token: str, mode: str) -> tuple[set[str], list[str]]:
    """The official client's tools/list and list_projects with a bearer token."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30.0)) as http:
        async with Client(streamable_http_client(server.url, http_client=http), mode=mode, read_timeout_seconds=30.0) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            result = await client.call_tool("list_projects", {"limit": 50})
    assert not result.is_error, result.content
    return tools, [project["name"] for project in result.structured_content["projects"]]


def assert_rows_of(names: list[str], user: str) -> None:
    prefix = f"{user.capitalize()} project "
    assert len(names) == PROJECT_COUNT[user] and all(name.startswith(prefix) for name in names), names


# -- servers ---------------------------------------------------------------------------------------


def _start(name: str, tmp_path_factory, artifacts, auth: dict) -> PlugboardServer:
    workdir = tmp_path_factory.mktemp(f"external-{name}")
    server = PlugboardServer(
        f"external-{name}",
        workdir,
        artifacts,
        DATA_PLUGINS,
        database=f"sqlite:{workdir / 'data.db'}",
        seed=DEMO / "sqlite.sql",
        auth={"mode": "external", "issuer": ISSUER, "token_cache_s": 1} | auth,
    )
    server.start()
    return server


@pytest.fixture(scope="module")
def issuer() -> Iterator[IssuerStub]:
    stub = IssuerStub()
    yield stub
    stub.close()


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    return {"main": SigningKey("main-1"), "attacker": SigningKey("main-1"), "rot1": SigningKey("rot-1"), "rot2": SigningKey("rot-2")}


@pytest.fixture(scope="module")
def main_jwks(issuer, keys) -> str:
    """The JWKS of `external` and `custom`: the main key only (never the attacker's)."""
    issuer.routes["/jwks"] = JWKS(keys["main"]).route
    return issuer.url("/jwks")


@pytest.fixture(scope="module")
def external(main_jwks, tmp_path_factory, artifacts_dir) -> Iterator[PlugboardServer]:
    server = _start("main", tmp_path_factory, artifacts_dir, {"jwks_url": main_jwks})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def custom(main_jwks, tmp_path_factory, artifacts_dir) -> Iterator[PlugboardServer]:
    server = _start(
        "custom",
        tmp_path_factory,
        artifacts_dir,
        {"jwks_url": main_jwks, "audience": "api://plugboard", "owner_claim": "preferred_username", "allowed_clients": ["trusted-app"]},
    )
    yield server
    server.stop()


class Rotating:
    def __init__(self, server: PlugboardServer, jwks: JWKS, loaded_at: float) -> None:
        self.server = server
        self.jwks = jwks
        self.loaded_at = loaded_at


@pytest.fixture(scope="module")
def rotating(issuer, keys, tmp_path_factory, artifacts_dir) -> Iterator[Rotating]:
    """A server whose JWKS (rot-1 only, at first) was loaded once, when `loaded_at` (monotonic)
    had passed."""
    jwks = JWKS(keys["rot1"])
    issuer.routes["/rotating/jwks"] = jwks.route
    server = _start("rotating", tmp_path_factory, artifacts_dir, {"jwks_url": issuer.url("/rotating/jwks")})
    try:
        assert raw_tool_names(server, mint(keys["rot1"], claims_for(server))) >= PROJECT_TOOLS
        loaded_at = time.monotonic()
        assert len(issuer.hits("/rotating/jwks")) == 1, issuer.hits("/rotating/jwks")
        yield Rotating(server, jwks, loaded_at)
    finally:
        server.stop()


class Introspection:
    """The issuer's introspection endpoint: HTTP Basic rs:s3cret, and a table of opaque tokens."""

    def __init__(self) -> None:
        self.audience = ""

    def route(self, method: str, headers: dict[str, str], body: bytes) -> tuple[int, object]:
        expected = "Basic " + base64.b64encode(":".join(INTROSPECTION_CLIENT).encode()).decode()
        if method != "POST" or headers.get("authorization") != expected:
            return 401, {"error": "invalid_client"}
        token = dict(parse_qsl(body.decode())).get("token", "")
        now = int(time.time())
        base = {"active": True, "iss": ISSUER, "aud": self.audience, "scope": "mcp projects:read", "exp": now + 300, "iat": now}
        answers = {
            "opaque-alice": base | {"sub": "alice"},
            "opaque-bob": base | {"sub": "bob", "scope": "mcp projects:read meetings:read"},
            "opaque-foreign-audience": base | {"sub": "alice", "aud": "https://other.example.com/mcp"},
            "opaque-foreign-issuer": base | {"sub": "alice", "iss": "https://evil.test"},
            "opaque-expired": base | {"sub": "alice", "exp": now - 600},
        }
        if token.startswith("opaque-slow-"):
            time.sleep(1.0)  # a slow issuer: requests with a new token pile up meanwhile
            return 200, base | {"sub": "alice"}
        return 200, answers.get(token, {"active": False})


@pytest.fixture(scope="module")
def introspecting(issuer, tmp_path_factory, artifacts_dir) -> Iterator[tuple[PlugboardServer, Introspection]]:
    endpoint = Introspection()
    issuer.routes["/introspect"] = endpoint.route
    client_id, secret = INTROSPECTION_CLIENT
    server = _start(
        "introspecting",
        tmp_path_factory,
        artifacts_dir,
        {"introspection_url": issuer.url("/introspect"), "introspection_client_id": client_id, "introspection_client_secret": secret},
    )
    endpoint.audience = server.url
    yield server, endpoint
    server.stop()


# -- key rotation, part 1 (first in the module: starts the 30 s clock) -------------------------------


def test_unknown_key_within_the_refetch_interval_is_refused_without_refetch(rotating, issuer, keys):
    """A token under a key the server has not loaded, right after it loaded the JWKS: refused, and
    the JWKS is not fetched again for it (no fetch per forged token)."""
    rotating.jwks.add(keys["rot2"])  # rotated in at the issuer; the server has the old set
    server = rotating.server
    for _ in range(3):
        assert_invalid_token(server, mint(keys["rot2"], claims_for(server)))
    assert len(issuer.hits("/rotating/jwks")) == 1, "the server fetched the JWKS again within 30 s"
    # The known key still works.
    assert raw_tool_names(server, mint(keys["rot1"], claims_for(server, jti="again"))) >= PROJECT_TOOLS


# -- discovery -------------------------------------------------------------------------------------


def test_protected_resource_metadata_names_the_issuer(external):
    server = external
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        response = httpx2.get(f"{server.base_url}{path}", timeout=30.0)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        document = response.json()
        assert document["authorization_servers"] == [ISSUER], document
        assert document["resource"] == server.url, document
        assert set(document["scopes_supported"]) == SUPPORTED_SCOPES, document


def test_no_authorization_server_here(external):
    """The issuer is elsewhere: none of the built-in authorization server's endpoints exist."""
    base = external.base_url
    answers = {
        "GET /authorize": httpx2.get(f"{base}/authorize?response_type=code&client_id=x&redirect_uri=http://127.0.0.1:1/cb", timeout=30.0),
        "POST /token": httpx2.post(f"{base}/token", data={"grant_type": "authorization_code", "code": "x", "client_id": "x"}, timeout=30.0),
        "POST /register": httpx2.post(f"{base}/register", json={"redirect_uris": ["http://127.0.0.1:1/cb"]}, timeout=30.0),
        "POST /authorize/login": httpx2.post(f"{base}/authorize/login", data={"username": "alice", "password": "x"}, timeout=30.0),
        "GET AS metadata": httpx2.get(f"{base}/.well-known/oauth-authorization-server", timeout=30.0),
    }
    statuses = {name: response.status_code for name, response in answers.items()}
    assert all(status == 404 for status in statuses.values()), statuses


def test_401_without_token_points_to_the_metadata(external):
    response = mcp_post(external, None, rpc("tools/list", {}, id=1))
    assert response.status_code == 401, f"{response.status_code} {response.text[:300]}"
    params = challenge(response)
    assert params.get("resource_metadata") == prm_url(external.base_url), params
    assert set(params.get("scope", "").split()) == SUPPORTED_SCOPES, params
    assert "error" not in params, params


# -- valid tokens ----------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", [pytest.param("legacy", id="legacy"), pytest.param(MODERN, id="modern")])
async def test_official_client_with_an_issuer_token(external, keys, mode):
    token = mint(keys["main"], claims_for(external, "alice"))
    tools, names = await client_view(external, token, mode)
    assert PROJECT_TOOLS <= tools and not tools & MEETING_TOOLS, tools
    assert_rows_of(names, "alice")


def test_owner_is_the_sub_claim(external, keys):
    assert_rows_of(raw_projects(external, mint(keys["main"], claims_for(external, "bob"))), "bob")
    assert_rows_of(raw_projects(external, mint(keys["main"], claims_for(external, "alice"))), "alice")


def test_audience_forms_accepted(external, keys):
    """The /mcp URL in every form clients ask issuers for, compared as URLs: with a trailing slash,
    the bare origin (claude.ai), other case, among other audiences."""
    server = external
    scheme, authority = server.base_url.split("://")
    for audience in (
        server.url + "/",
        server.base_url,
        server.base_url + "/",
        f"{scheme.upper()}://{authority.upper()}/mcp",
        [server.url],
        ["https://other.example.com/mcp", server.url],
    ):
        token = mint(keys["main"], claims_for(server, "bob", aud=audience))
        assert_rows_of(raw_projects(server, token), "bob")


def test_a_token_without_the_mcp_scope_is_refused(external, keys):
    """auth.require_scope (on in external mode): a token the issuer granted for something else is
    403 insufficient_scope naming `mcp`, on every request, not only on tools that declare scopes."""
    token = mint(keys["main"], claims_for(external, "alice", scope="projects:read"))
    for message in (rpc("tools/list", {}, id=1), rpc("tools/call", {"name": "list_projects", "arguments": {}}, id=2)):
        response = mcp_post(external, token, message)
        assert response.status_code == 403, f"{response.status_code} {response.text[:300]}"
        params = challenge(response)
        assert params.get("error") == "insufficient_scope" and params.get("scope") == "mcp", params


# -- tokens that must be refused -----------------------------------------------------------------


def _refused_tokens(server: PlugboardServer, keys: dict[str, SigningKey]) -> dict[str, str]:
    main = keys["main"]
    now = int(time.time())
    good = claims_for(server)
    signed = mint(main, good)
    header, payload, signature = signed.split(".")
    tampered_payload = b64url(good | {"sub": "bob"})
    return {
        "wrong aud": mint(main, claims_for(server, aud="https://other.example.com/mcp")),
        "aud of another path": mint(main, claims_for(server, aud=server.base_url + "/other")),
        "wrong iss": mint(main, claims_for(server, iss="https://evil.test")),
        "no iss": mint(main, claims_for(server, iss=None)),
        "no aud": mint(main, claims_for(server, aud=None)),
        "expired": mint(main, claims_for(server, iat=now - 900, exp=now - 600)),
        "no exp": mint(main, claims_for(server, exp=None)),
        "nbf in the future": mint(main, claims_for(server, nbf=now + 600)),
        "no sub": mint(main, claims_for(server, sub=None)),
        "alg none": hand_signed({"alg": "none", "typ": "JWT", "kid": main.kid}, good, None),
        "HS256 with the public key as secret": hand_signed({"alg": "HS256", "typ": "JWT", "kid": main.kid}, good, main.public_pem()),
        "other key, same kid": mint(keys["attacker"], good),
        "unknown kid": mint(keys["rot2"], good),
        "payload changed after signing": f"{header}.{tampered_payload}.{signature}",
        "garbage": "garbage",
        "three garbage parts": "abc.def.ghi",
    }


CASES = [
    "wrong aud", "aud of another path", "wrong iss", "no iss", "no aud", "expired", "no exp", "nbf in the future", "no sub",
    "alg none", "HS256 with the public key as secret", "other key, same kid", "unknown kid", "payload changed after signing",
    "garbage", "three garbage parts",
]


@pytest.mark.parametrize("case", CASES)
def test_invalid_tokens_are_refused(external, keys, case):
    token = _refused_tokens(external, keys)[case]
    assert_invalid_token(external, token)


def test_refusal_cases_are_complete(external, keys):
    assert sorted(_refused_tokens(external, keys)) == sorted(CASES)


# -- scopes ------------------------------------------------------------------------------------------


def test_scopes_of_the_token_limit_tools(external, keys):
    server = external
    token = mint(keys["main"], claims_for(server, "alice", scope="mcp projects:read"))
    tools = raw_tool_names(server, token)
    assert PROJECT_TOOLS <= tools and not tools & MEETING_TOOLS, tools
    assert_meetings_need_their_scope(server, token)


def test_scp_array_claim(external, keys):
    """Entra/Okta style: the scopes as an `scp` array."""
    token = mint(keys["main"], claims_for(external, "bob", scope=None, scp=["mcp", "meetings:read"]))
    tools = raw_tool_names(external, token)
    assert MEETING_TOOLS <= tools and not tools & PROJECT_TOOLS, tools


# -- configured audience and owner claim ------------------------------------------------------------


def test_configured_audience_and_owner_claim(custom, keys):
    server = custom
    main = keys["main"]
    token = mint(main, claims_for(server, sub="0f8e5a3c-uuid-of-bob", aud="api://plugboard", preferred_username="bob"))
    assert_rows_of(raw_projects(server, token), "bob")
    # The configured audience replaces the resource URL; the owner comes from the configured claim only.
    assert_invalid_token(server, mint(main, claims_for(server, sub="x", aud=server.url, preferred_username="bob")))
    assert_invalid_token(server, mint(main, claims_for(server, sub="alice", aud="api://plugboard")))


def test_unbound_tokens_only_from_allowed_clients(custom, keys):
    """No confused deputy: a token bound to no audience (an issuer without resource indicators)
    passes only if its client is in auth.allowed_clients; one the user granted to any other
    application of the issuer is refused."""
    server = custom
    main = keys["main"]
    trusted = mint(main, claims_for(server, aud=None, preferred_username="bob", client_id="trusted-app"))
    assert_rows_of(raw_projects(server, trusted), "bob")
    for client in ({"client_id": "mobile-app"}, {"azp": "mobile-app"}, {}):
        assert_invalid_token(server, mint(main, claims_for(server, aud=None, preferred_username="bob") | client))
    # Bound elsewhere: refused even for an allowed client.
    assert_invalid_token(server, mint(main, claims_for(server, aud="api://other", preferred_username="bob", client_id="trusted-app")))


def test_a_verified_token_is_cached_for_its_resource_only(external, keys):
    """Without server.public_url, on loopback, the audience follows the Host the client used: a
    token verified for one resource URL, then presented under another Host within the cache
    time, is checked again (and refused), not answered from the cache."""
    server = external
    port = server.base_url.rsplit(":", 1)[1]
    token = mint(keys["main"], claims_for(server, "alice"))
    assert_rows_of(raw_projects(server, token), "alice")
    other = mcp_post(server, token, rpc("tools/list", {}, id=1), Host=f"localhost:{port}")
    assert other.status_code == 401, f"{other.status_code} {other.text[:300]}"
    assert challenge(other).get("error") == "invalid_token", other.headers.get("www-authenticate")


# -- an issuer in trouble -------------------------------------------------------------------------------


def test_a_failing_jwks_is_fetched_once_and_not_again_for_five_seconds(issuer, keys, tmp_path_factory, artifacts_dir):
    """Requests that need the keys while the JWKS fails share one fetch and get 503 (retry, not
    sign in again); for 5 s after the failure they fail fast without fetching; then a fetch again."""
    healthy = JWKS(keys["main"])
    failing = {"on": True}
    def flaky(method: str, headers: dict[str, str], body: bytes) -> tuple[int, object]:
        if failing["on"]:
            time.sleep(0.5)  # slow to fail, so the four requests below overlap the one fetch
            return 500, {"error": "down"}
        return healthy.route(method, headers, body)

    issuer.routes["/flaky/jwks"] = flaky
    server = _start("flaky", tmp_path_factory, artifacts_dir, {"jwks_url": issuer.url("/flaky/jwks")})
    try:
        token = mint(keys["main"], claims_for(server, "alice"))
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda _: mcp_post(server, token, rpc("tools/list", {}, id=1)).status_code, range(4)))
        failed_at = time.monotonic()
        assert statuses == [503] * 4, statuses
        for _ in range(2):
            assert mcp_post(server, token, rpc("tools/list", {}, id=1)).status_code == 503
        assert len(issuer.hits("/flaky/jwks")) == 1, issuer.hits("/flaky/jwks")

        failing["on"] = False
        time.sleep(max(0.0, failed_at + 5.3 - time.monotonic()))
        assert_rows_of(raw_projects(server, token), "alice")
        assert len(issuer.hits("/flaky/jwks")) == 2, issuer.hits("/flaky/jwks")
    finally:
        server.stop()


def test_a_trickling_jwks_is_given_up_on_in_time(issuer, keys, tmp_path_factory, artifacts_dir):
    """An issuer that sends its headers and then a byte now and then cannot hold a request: the
    whole fetch has one 5 s deadline, not just the wait for the headers."""
    issuer.routes["/trickle/jwks"] = lambda method, headers, body: (200, Trickle(30))
    server = _start("trickle", tmp_path_factory, artifacts_dir, {"jwks_url": issuer.url("/trickle/jwks")})
    try:
        started = time.monotonic()
        response = mcp_post(server, mint(keys["main"], claims_for(server, "alice")), rpc("tools/list", {}, id=1))
        assert response.status_code == 503, response.status_code
        assert time.monotonic() - started < 8, time.monotonic() - started
    finally:
        server.stop()


def test_a_closed_issuer_port_is_reported_as_refused(tmp_path_factory, artifacts_dir):
    """Nothing listens where the introspection endpoint should be: 503 for the client, and the log
    says the connection was refused, not that the issuer was slow."""
    closed = free_port()
    server = _start(
        "closed",
        tmp_path_factory,
        artifacts_dir,
        {"introspection_url": f"http://127.0.0.1:{closed}/introspect", "introspection_client_id": "rs", "introspection_client_secret": "s"},
    )
    try:
        mark = server.log_mark()
        assert mcp_post(server, "opaque-alice", rpc("tools/list", {}, id=1)).status_code == 503
        line = server.wait_for_log(r"cannot verify tokens of", since=mark)
        assert "connection refused" in line and "time limit" not in line, line
    finally:
        server.stop()


# -- plugboard auth test ---------------------------------------------------------------------------------


def test_auth_test_command_says_what_the_server_decides(custom, keys):
    """`plugboard auth test --token T` verifies with the live issuer as /mcp would, and says why."""
    server = custom
    main = keys["main"]
    accepted = server.cli("auth", "test", "--token", mint(main, claims_for(server, aud="api://plugboard", preferred_username="bob")))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "accepted" in accepted.stdout and "owner 'bob'" in accepted.stdout, accepted.stdout

    foreign = server.cli("auth", "test", "--token", mint(main, claims_for(server, aud=None, preferred_username="bob", client_id="mobile-app")))
    assert foreign.returncode == 1, foreign.stdout + foreign.stderr
    assert "401 invalid_token" in foreign.stdout and "'mobile-app' is not in auth.allowed_clients" in foreign.stdout, foreign.stdout

    no_owner = server.cli("auth", "test", "--token", mint(main, claims_for(server, aud="api://plugboard", email="bob@example.com")))
    assert no_owner.returncode == 1, no_owner.stdout
    assert "no preferred_username claim" in no_owner.stdout and "email" in no_owner.stdout, no_owner.stdout
    assert "bob@example.com" not in no_owner.stdout, "claim values must not be shown"

    unscoped = server.cli("auth", "test", "--token", mint(main, claims_for(server, aud="api://plugboard", preferred_username="bob", scope="projects:read")))
    assert unscoped.returncode == 1 and "403 insufficient_scope" in unscoped.stdout, unscoped.stdout


# -- introspection -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_introspection_of_opaque_tokens(introspecting, issuer):
    server, _ = introspecting
    tools, names = await client_view(server, "opaque-alice", MODERN)
    assert PROJECT_TOOLS <= tools and not tools & MEETING_TOOLS, tools
    assert_rows_of(names, "alice")
    assert_rows_of(raw_projects(server, "opaque-bob"), "bob")

    calls = issuer.hits("/introspect")
    assert calls, "the server never called the introspection endpoint"
    expected = "Basic " + base64.b64encode(b"rs:s3cret").decode()
    for method, _, headers, body in calls:
        assert method == "POST" and headers.get("authorization") == expected, headers
        assert headers.get("content-type", "").startswith("application/x-www-form-urlencoded"), headers
        assert dict(parse_qsl(body.decode())).get("token") in {"opaque-alice", "opaque-bob"}, body


@pytest.mark.parametrize("token", ["opaque-unknown", "opaque-foreign-audience", "opaque-foreign-issuer", "opaque-expired"])
def test_introspection_refusals(introspecting, token):
    server, _ = introspecting
    assert_invalid_token(server, token)


def introspections_of(issuer, token: str) -> int:
    return sum(1 for _, _, _, body in issuer.hits("/introspect") if dict(parse_qsl(body.decode())).get("token") == token)


def test_introspection_answers_are_shared_and_refusals_remembered(introspecting, issuer):
    """Requests carrying one new token wait for one introspection; a token the issuer called
    inactive is refused from the cache, not sent again (auth.token_cache_s)."""
    server, _ = introspecting
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: raw_projects(server, "opaque-slow-shared"), range(8)))
    for names in answers:
        assert_rows_of(names, "alice")
    assert introspections_of(issuer, "opaque-slow-shared") == 1

    made_up = f"opaque-made-up-{secrets.token_hex(8)}"
    for _ in range(4):
        assert_invalid_token(server, made_up)
    assert introspections_of(issuer, made_up) == 1


def test_a_flood_of_new_tokens_is_bounded(introspecting, issuer):
    """Made-up tokens cannot make the server hammer the issuer: at most 16 introspections run at
    once; requests beyond them get 503 with Retry-After (retry later, not sign in again)."""
    server, _ = introspecting
    tokens = [f"opaque-slow-{index}-{secrets.token_hex(4)}" for index in range(24)]
    with ThreadPoolExecutor(24) as pool:
        responses = list(pool.map(lambda token: mcp_post(server, token, rpc("tools/list", {}, id=1)), tokens))
    statuses = [response.status_code for response in responses]
    assert set(statuses) == {200, 503}, statuses
    assert 1 <= statuses.count(503) <= 8, statuses
    assert all(response.headers.get("retry-after") == "1" for response in responses if response.status_code == 503)
    assert sum(introspections_of(issuer, token) for token in tokens) == statuses.count(200)
    # Being turned away for a full house is not remembered: the same token, sent again, gets in.
    refused = tokens[statuses.index(503)]
    assert mcp_post(server, refused, rpc("tools/list", {}, id=1)).status_code == 200


# -- key rotation, part 2 (last in the module) ---------------------------------------------------------


def test_rotated_key_accepted_after_refetch_interval(rotating, issuer, keys):
    """31 s after the first load, a token under the key rotated in makes the server fetch the JWKS
    again and is accepted; the old key keeps working."""
    server = rotating.server
    wait = rotating.loaded_at + REFETCH_INTERVAL_S + 1 - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    if keys["rot2"] not in rotating.jwks.keys:  # run on its own (-k): part 1 did not add it
        rotating.jwks.add(keys["rot2"])
    assert_rows_of(raw_projects(server, mint(keys["rot2"], claims_for(server, "bob"))), "bob")
    assert len(issuer.hits("/rotating/jwks")) == 2, issuer.hits("/rotating/jwks")
    assert_rows_of(raw_projects(server, mint(keys["rot1"], claims_for(server, "alice"))), "alice")

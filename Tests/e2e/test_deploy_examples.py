"""The deploy examples as shipped: examples/nginx/plugboard.conf (with its proxy snippet) in front
of a real Plugboard, the way README "Deploy behind nginx" sets them up.

The example is rewritten only where a test must differ from a server: loopback ports instead of
443 and 80, a self-signed certificate, and the snippet and webroot in a temporary folder. nginx
runs unprivileged from a minimal nginx.conf of its own (pid, logs and temporary files in that
folder). Skipped only when nginx is not installed; CI installs Debian's (1.22 on Debian 12, the
oldest nginx the example promises to load on).
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx2
import pytest

from support import LEGACY, REPO_ROOT, PlugboardServer, free_port, json_headers, plugin_manifest, rpc

NGINX = shutil.which("nginx") or next((path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx); CI installs it")

EXAMPLES = REPO_ROOT / "examples"
PUBLIC_HOST = "mcp.example.com"
SERVER_NAME = "Example tools"
PASSWORD = "alice-Secret-1"
ACME_TOKEN = "Zm9vYmFyLWNoYWxsZW5nZS10b2tlbg"
UNTRUSTED_WARNING = "is not in auth.trusted_proxies"


def nginx_site(folder: Path, tls_port: int, http_port: int, upstream_port: int) -> str:
    """examples/nginx/plugboard.conf with test ports and paths; fails if the example changed shape."""
    text = (EXAMPLES / "nginx" / "plugboard.conf").read_text()
    replacements = [
        # IPv6 may be missing in a CI container; the IPv4 lines next to these are the same directives.
        ("    listen [::]:443 ssl http2;\n", ""),
        ("    listen [::]:80;\n", ""),
        ("listen 443 ", f"listen 127.0.0.1:{tls_port} "),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream_port};"),
        ("/etc/letsencrypt/live/mcp.example.com/fullchain.pem", str(folder / "cert.pem")),
        ("/etc/letsencrypt/live/mcp.example.com/privkey.pem", str(folder / "key.pem")),
        ("/etc/nginx/snippets/plugboard-proxy.conf", str(folder / "plugboard-proxy.conf")),
        ("/var/www/letsencrypt", str(folder / "webroot")),
    ]
    for old, new in replacements:
        assert old in text, f"examples/nginx/plugboard.conf no longer has {old!r}: update this test"
        text = text.replace(old, new)
    leftovers = re.findall(r"(?<![\w.])/(?:etc|var)/\S+", re.sub(r"#.*", "", text))
    assert not leftovers, f"the example names system paths this test does not redirect: {leftovers}"
    return text


def nginx_main(folder: Path) -> str:
    """A minimal nginx.conf around the site: everything nginx writes stays in `folder`."""
    temporary = folder / "temp"
    temporary.mkdir(exist_ok=True)
    # As root, nginx's workers would run as `nobody`, who cannot enter pytest's private folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    paths = "\n".join(f"    {kind}_temp_path {temporary / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (
        f"{user}worker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} info;\n"
        "events { worker_connections 128; }\n"
        f"http {{\n    access_log {folder / 'access.log'};\n{paths}\n    include {folder / 'plugboard.conf'};\n}}\n"
    )


def self_signed_certificate(folder: Path) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make the test certificate (apt-get install openssl)"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-subj", f"/CN={PUBLIC_HOST}", "-addext", f"subjectAltName=DNS:{PUBLIC_HOST}",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True, capture_output=True,
    )


class Nginx:
    """nginx on two loopback ports with the example's site, in the foreground, stopped by the test."""

    def __init__(self, folder: Path, upstream_port: int) -> None:
        assert NGINX is not None
        self.folder = folder
        self.tls_port = free_port()
        self.http_port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(EXAMPLES / "nginx" / "plugboard-proxy.conf", folder / "plugboard-proxy.conf")
        (folder / "plugboard.conf").write_text(nginx_site(folder, self.tls_port, self.http_port, upstream_port))
        (folder / "nginx.conf").write_text(nginx_main(folder))
        self_signed_certificate(folder)
        self.process: subprocess.Popen[bytes] | None = None

    def command(self, *extra: str) -> list[str]:
        assert NGINX is not None
        return [NGINX, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"), "-e", str(self.folder / "error.log"), *extra]

    def check(self) -> subprocess.CompletedProcess[str]:
        """`nginx -t`: the configuration loads."""
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)

    def start(self) -> None:
        self.process = subprocess.Popen(self.command("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"nginx exited: {self.process.stderr.read().decode() if self.process.stderr else ''}"
            try:
                socket.create_connection(("127.0.0.1", self.tls_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not listen within 20 s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful: lets the worker finish
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    @property
    def origin(self) -> str:
        """What clients see: the public name with the TLS port (the Host header they send)."""
        return f"https://{PUBLIC_HOST}:{self.tls_port}"

    def client(self) -> httpx2.Client:
        """A client reaching nginx on loopback under the public name (Host header), certificate unchecked."""
        return httpx2.Client(
            base_url=f"https://127.0.0.1:{self.tls_port}", headers={"Host": f"{PUBLIC_HOST}:{self.tls_port}"}, verify=False, timeout=30.0
        )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[tuple[PlugboardServer, Nginx]]:
    """Plugboard behind the example nginx, configured like the README says for a setup without
    server.public_url: the proxy trusted, the public name in allowed_hosts, a server name."""
    workdir = tmp_path_factory.mktemp("deploy")
    server = PlugboardServer(
        "deploy-nginx", workdir / "plugboard", artifacts_dir,
        {"demo": plugin_manifest("demo"), "projects": plugin_manifest("projects")},
        database=f"sqlite:{workdir / 'plugboard' / 'state' / 'plugboard.db'}",
        seed=EXAMPLES / "demo" / "sqlite.sql",
        auth={"mode": "oauth", "trusted_proxies": ["127.0.0.1"]},
        server_settings={"name": SERVER_NAME, "allowed_hosts": [PUBLIC_HOST]},
    )
    server.start()
    nginx = Nginx(workdir / "nginx", server.port)
    try:
        done = server.cli("user", "add", "alice", "--password-stdin", input=PASSWORD + "\n")
        assert done.returncode == 0, f"user add failed: {done.stdout}{done.stderr}"
        checked = nginx.check()
        assert checked.returncode == 0, f"nginx -t refused the example:\n{checked.stderr}"
        nginx.start()
        yield server, nginx
    finally:
        nginx.stop()
        server.stop()
        # Kept for diagnosis beside the server's log: the rewritten site and nginx's own log.
        for name in ("plugboard.conf", "error.log"):
            if (nginx.folder / name).exists():
                shutil.copyfile(nginx.folder / name, artifacts_dir / f"deploy-nginx.nginx-{name}")


def test_example_loads_with_this_nginx(deployment):
    """`nginx -t` accepts the example (`listen ... http2`, which 1.22 knows; `http2 on;` needs 1.25.1)."""
    _, nginx = deployment
    checked = nginx.check()
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr, checked.stderr


def test_discovery_through_nginx_keeps_https_and_the_port(deployment):
    """The discovery documents name the public origin with its port: X-Forwarded-Proto and
    X-Forwarded-Host ($http_host, not $host, which drops the port) believed from the trusted proxy."""
    server, nginx = deployment
    with nginx.client() as http:
        challenge = http.post("/mcp", headers=json_headers(), content=rpc("tools/list", {}))
        assert challenge.status_code == 401, (challenge.status_code, challenge.text[:300])
        assert f'resource_metadata="{nginx.origin}/.well-known/oauth-protected-resource/mcp"' in challenge.headers["www-authenticate"], challenge.headers
        resource = http.get("/.well-known/oauth-protected-resource/mcp")
        assert resource.status_code == 200, resource.text[:300]
        assert resource.json()["resource"] == f"{nginx.origin}/mcp", resource.json()
        metadata = http.get("/.well-known/oauth-authorization-server").json()
        assert metadata["issuer"] == nginx.origin, metadata
        assert metadata["token_endpoint"] == f"{nginx.origin}/token", metadata
    assert server.find_log(UNTRUSTED_WARNING) is None, "the proxy is trusted: no warning expected"


def test_mcp_call_through_nginx(deployment):
    """A tools/call with a bearer token passes through nginx under the public Host name (which
    server.allowed_hosts lets through; without it the server answers 421)."""
    server, nginx = deployment
    done = server.cli("token", "create", "--user", "alice", "--name", "nginx-e2e")
    assert done.returncode == 0, done.stdout + done.stderr
    token = done.stdout.splitlines()[0].strip()  # printed once, first line
    assert token.startswith("pbk_"), done.stdout
    with nginx.client() as http:
        response = http.post(
            "/mcp", headers=json_headers(LEGACY, Authorization=f"Bearer {token}"),
            content=rpc("tools/call", {"name": "say", "arguments": {"text": "through nginx"}}),
        )
    assert response.status_code == 200, (response.status_code, response.text[:300])
    assert response.json()["result"]["content"][0]["text"] == "through nginx", response.text


def test_acme_challenges_come_from_the_filesystem(deployment):
    """/.well-known/acme-challenge/ is nginx's webroot on both ports (Let's Encrypt renewals work);
    the rest of /.well-known/ is Plugboard's, and plain http is sent to https."""
    _, nginx = deployment
    challenges = nginx.folder / "webroot" / ".well-known" / "acme-challenge"
    challenges.mkdir(parents=True, exist_ok=True)
    (challenges / ACME_TOKEN).write_text(f"{ACME_TOKEN}.key-authorization")
    with httpx2.Client(base_url=f"http://127.0.0.1:{nginx.http_port}", headers={"Host": PUBLIC_HOST}, timeout=30.0) as plain:
        served = plain.get(f"/.well-known/acme-challenge/{ACME_TOKEN}")
        assert served.status_code == 200 and served.text == f"{ACME_TOKEN}.key-authorization", (served.status_code, served.text[:200])
        redirect = plain.get("/mcp")
        assert redirect.status_code == 308 and redirect.headers["location"] == f"https://{PUBLIC_HOST}/mcp", redirect.headers
    with nginx.client() as http:
        served = http.get(f"/.well-known/acme-challenge/{ACME_TOKEN}")
        assert served.status_code == 200 and served.text == f"{ACME_TOKEN}.key-authorization", (served.status_code, served.text[:200])
        missing = http.get("/.well-known/acme-challenge/unknown")
        assert missing.status_code == 404 and "nginx" in missing.text, "a missing challenge is nginx's 404, not Plugboard's"


def test_sign_in_and_consent_pages_through_nginx(deployment):
    """The sign-in page names server.name; the consent page says in words what the projects
    plugin's scope allows (its manifest's description) and keeps the scope's name."""
    _, nginx = deployment
    redirect_uri = "http://127.0.0.1:9/callback"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    with nginx.client() as http:
        registered = http.post("/register", json={"client_name": "Deploy test", "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none"})
        assert registered.status_code == 201, registered.text
        query = {
            "response_type": "code", "client_id": registered.json()["client_id"], "redirect_uri": redirect_uri, "state": "s",
            "code_challenge": challenge, "code_challenge_method": "S256", "scope": "mcp projects:read", "resource": f"{nginx.origin}/mcp",
        }
        login = http.get(f"/authorize?{urlencode(query)}")
        assert login.status_code == 200, login.text[:500]
        assert f"<h1>Sign in to {SERVER_NAME}</h1>" in login.text, login.text
        consent = http.post("/authorize/login", data={**hidden_fields(login.text), "username": "alice", "password": PASSWORD})
        assert consent.status_code == 200, (consent.status_code, consent.text[:500])
        assert f"<li>Use {SERVER_NAME} <code>mcp</code></li>" in consent.text, consent.text
        assert "<li>Read your projects and customers <code>projects:read</code></li>" in consent.text, consent.text
        granted = http.post("/authorize/consent", data={**hidden_fields(consent.text), "decision": "allow"})
        assert granted.status_code == 303, granted.status_code
        answer = dict(parse_qsl(urlsplit(granted.headers["location"]).query))
        assert answer.get("code") and answer.get("iss") == nginx.origin, answer


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of a page's form (request id, CSRF token)."""
    return {name: html.unescape(value) for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)}

"""The OAuth login and consent pages driven in a real headless Chromium (Debian's `chromium` and
`chromium-driver` packages, through Selenium): alice signs in, the consent page is screenshotted,
she allows, and the browser lands on the client's loopback redirect URI with code, state and iss.
The code is then exchanged at /token and the access token drives the official MCP client.

Screenshots (PNG), the pages' HTML and chromedriver's log go to the run's artifacts folder, under
oauth_browser/."""

from __future__ import annotations

import base64
import hashlib
import secrets
import shutil
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from support import REPO_ROOT, plugin_manifest, text_of

DEMO = REPO_ROOT / "examples" / "demo"
DATA_PLUGINS = {"projects": plugin_manifest("projects"), "meetings": plugin_manifest("meetings")}
PASSWORD = "correct horse battery staple"
CLIENT_NAME = "Browser test"

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WAIT_S = 30.0


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")
    return verifier, challenge


class Callback:
    """A tiny HTTP server standing in for the client's loopback redirect URI: it records the
    query string of each request to /callback and answers with a short page."""

    def __init__(self) -> None:
        received: list[dict[str, str]] = []
        arrived = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *arguments) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != "/callback":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                received.append({key: values[0] for key, values in parse_qs(url.query, keep_blank_values=True).items()})
                arrived.set()
                body = b"<!doctype html><title>Callback</title><h1>Client callback</h1><p>The client got the authorization response.</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.received = received
        self.arrived = arrived
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "Callback":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class Forms(HTMLParser):
    """The forms of a page: action, method and the name/value of each input."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attributes.get("action"), "method": (attributes.get("method") or "get").lower(), "inputs": {}})
        elif tag in ("input", "button") and self.forms and attributes.get("name"):
            self.forms[-1]["inputs"].setdefault(attributes["name"], attributes.get("value") or "")


def forms_of(html: str) -> list[dict]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


def assert_page_headers(response: httpx2.Response, page: str) -> None:
    """The headers every login/consent page carries (anti-framing, no caching)."""
    headers = response.headers
    assert headers.get("x-frame-options", "").upper() == "DENY", f"{page}: X-Frame-Options is {headers.get('x-frame-options')!r}"
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, f"{page}: Content-Security-Policy is {csp!r}"
    assert "no-store" in headers.get("cache-control", ""), f"{page}: Cache-Control is {headers.get('cache-control')!r}"
    assert headers.get("content-type", "").startswith("text/html"), f"{page}: Content-Type is {headers.get('content-type')!r}"


@pytest.fixture
def oauth_server(make_server, tmp_path: Path):
    """A server in auth mode oauth with the projects and meetings demo plugins over a seeded SQLite
    database, user alice, and a client registered for a loopback redirect URI."""
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip(f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER} not found; .ci/run installs them)")
    options = {"database": f"sqlite:{tmp_path / 'shared.db'}", "seed": DEMO / "sqlite.sql"}
    server = make_server("oauth", DATA_PLUGINS, auth={"mode": "oauth"}, **options)
    done = server.cli("user", "add", "alice", "--password-stdin", input=f"{PASSWORD}\n")
    assert done.returncode == 0, f"user add failed ({done.returncode}): {done.stdout}{done.stderr}"
    return server


def register_client(server, redirect_uri: str) -> str:
    done = server.cli("client", "add", "--name", CLIENT_NAME, "--redirect-uri", redirect_uri)
    assert done.returncode == 0, f"client add failed ({done.returncode}): {done.stdout}{done.stderr}"
    client_id = done.stdout.splitlines()[0].strip() if done.stdout.strip() else ""
    assert client_id and " " not in client_id, f"client add printed no client_id on its first line: {done.stdout!r}"
    return client_id


def authorize_url(server, client_id: str, redirect_uri: str, challenge: str, state: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
        "scope": "mcp projects:read",
        "resource": server.url,
    }
    return f"{server.base_url}/authorize?{urlencode(query)}"


def chromium_driver(artifacts: Path, profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in [
        "--headless=new",
        "--no-sandbox",  # CI and the developers' machines run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1100,900",
        "--no-first-run",
        "--no-default-browser-check",
        "--password-store=basic",
        "--no-proxy-server",
        # Loopback only: no update checks, sync, metrics or name look-ups beyond this machine.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    ]:
        options.add_argument(argument)
    # Given the driver's path, Selenium never runs Selenium Manager (which would download things).
    service = Service(executable_path=CHROMEDRIVER, log_output=str(artifacts / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT_S)
    return driver


async def mcp_as(url: str, token: str) -> tuple[list[str], dict]:
    """tools/list and list_projects through the official SDK with the bearer token."""
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0), headers={"Authorization": f"Bearer {token}"}) as http:
        async with Client(streamable_http_client(url, http_client=http), mode="legacy", read_timeout_seconds=30.0) as client:
            listing = await client.list_tools()
            result = await client.call_tool("list_projects", {"limit": 5})
            assert not result.is_error, text_of(result)
            return sorted(tool.name for tool in listing.tools), result.structured_content


def test_pages_carry_anti_framing_headers(oauth_server):
    """GET /authorize answers the login page, POST /authorize/login the consent page: both with
    X-Frame-Options: DENY, frame-ancestors 'none' and no-store."""
    server = oauth_server
    with Callback() as callback:
        client_id = register_client(server, callback.uri)
        _verifier, challenge = pkce_pair()
        with httpx2.Client(timeout=30.0, follow_redirects=False) as http:
            login = http.get(authorize_url(server, client_id, callback.uri, challenge, secrets.token_urlsafe(12)))
            assert login.status_code == 200, f"GET /authorize: {login.status_code} {login.headers.get('location')} {login.text[:500]}"
            assert_page_headers(login, "login page")
            form = next((f for f in forms_of(login.text) if "password" in f["inputs"]), None)
            assert form is not None, f"no login form on the page: {login.text[:2000]}"
            assert {"request", "csrf_token", "username", "password"} <= set(form["inputs"]), form
            assert form["method"] == "post" and urlsplit(form["action"] or "").path == "/authorize/login", form
            fields = dict(form["inputs"], username="alice", password=PASSWORD)
            consent = http.post(f"{server.base_url}/authorize/login", data=fields)
            assert consent.status_code == 200, f"POST /authorize/login: {consent.status_code} {consent.text[:500]}"
            assert_page_headers(consent, "consent page")
            assert any(f["inputs"].get("decision") is not None for f in forms_of(consent.text)), consent.text[:2000]


def test_login_and_consent_in_headless_chromium(oauth_server, artifacts_dir: Path, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    server = oauth_server
    shots = artifacts_dir / "oauth_browser"
    shots.mkdir(parents=True, exist_ok=True)

    with Callback() as callback:
        client_id = register_client(server, callback.uri)
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(16)
        driver = chromium_driver(shots, tmp_path / "chromium-profile")
        try:
            wait = WebDriverWait(driver, WAIT_S)
            driver.get(authorize_url(server, client_id, callback.uri, challenge, state))

            # The login page.
            username = wait.until(EC.presence_of_element_located((By.NAME, "username")))
            password = driver.find_element(By.NAME, "password")
            assert password.get_attribute("type") == "password"
            username.send_keys("alice")
            password.send_keys(PASSWORD)
            driver.save_screenshot(str(shots / "1-login.png"))
            (shots / "1-login.html").write_text(driver.page_source)
            submit = driver.find_element(
                By.XPATH,
                "//input[@name='password']/ancestor::form//*[self::button[not(@type) or @type='submit'] or self::input[@type='submit']]",
            )
            submit.click()

            # The consent page: names the client and its redirect host, lists the scopes.
            allow = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "button[name='decision'][value='allow']")))
            driver.find_element(By.CSS_SELECTOR, "button[name='decision'][value='deny']")
            driver.save_screenshot(str(shots / "2-consent.png"))
            (shots / "2-consent.html").write_text(driver.page_source)
            text = driver.find_element(By.TAG_NAME, "body").text
            assert CLIENT_NAME in text, f"the consent page does not name the client: {text!r}"
            assert "127.0.0.1" in text, f"the consent page does not name the redirect host: {text!r}"
            assert "projects:read" in text, f"the consent page does not list the scopes: {text!r}"
            allow.click()

            # The browser ends on the client's redirect URI with code, state and iss.
            assert callback.arrived.wait(WAIT_S), f"the browser never reached {callback.uri}; it is on {driver.current_url}"
            wait.until(lambda d: d.current_url.startswith(callback.uri))
            driver.save_screenshot(str(shots / "3-callback.png"))
            landed = urlsplit(driver.current_url)
        except Exception:
            try:
                driver.save_screenshot(str(shots / "failure.png"))
                (shots / "failure.html").write_text(f"<!-- {driver.current_url} -->\n{driver.page_source}")
            except Exception:
                pass
            raise
        finally:
            driver.quit()

    assert f"{landed.scheme}://{landed.netloc}{landed.path}" == callback.uri
    query = {key: values[0] for key, values in parse_qs(landed.query).items()}
    assert len(callback.received) == 1, callback.received
    assert callback.received[0] == query, (callback.received, query)
    assert "error" not in query, query
    assert query.get("code"), query
    assert query.get("state") == state, query
    assert query.get("iss") == server.base_url, query

    with httpx2.Client(timeout=30.0) as http:
        token = http.post(
            f"{server.base_url}/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"],
                "redirect_uri": callback.uri,
                "client_id": client_id,
                "code_verifier": verifier,
                "resource": server.url,
            },
        )
    assert token.status_code == 200, f"POST /token: {token.status_code} {token.text}"
    assert "no-store" in token.headers.get("cache-control", "")
    body = token.json()
    assert body.get("token_type", "").lower() == "bearer", body
    assert body.get("access_token") and body.get("refresh_token"), body
    assert set(body.get("scope", "").split()) >= {"projects:read"}, body

    tools, page = anyio.run(mcp_as, server.url, body["access_token"])
    assert "list_projects" in tools and "get_project" in tools, tools
    assert "list_meetings" not in tools, f"the token holds no meetings:read, yet tools/list shows {tools}"
    assert page["projects"] and all(p["name"].startswith("Alice project") for p in page["projects"]), page

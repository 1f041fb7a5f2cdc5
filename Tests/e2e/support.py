"""Shared machinery of the end-to-end suite: starting a real `plugboard` process and talking to it.

Nothing here is a test. `conftest.py` turns it into fixtures; the test modules import the
client helpers and constants directly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import anyio
import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

# Tests/e2e/support.py -> the repository root is two folders up from Tests/.
REPO_ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
MANIFESTS_DIR = E2E_DIR / "manifests"
ARTIFACTS_ROOT = REPO_ROOT / "test-artifacts" / "e2e"

# Generous limits for a slow, busy 2-core machine: start-up may wait, behaviour may not.
STARTUP_TIMEOUT_S = float(os.environ.get("PLUGBOARD_E2E_STARTUP_TIMEOUT", "90"))
SHUTDOWN_TIMEOUT_S = 15.0
LOG_WAIT_S = 5.0

LOCAL_OWNER = "local"
SERVER_NAME = "plugboard"
INSTRUCTIONS = "End-to-end test server: every tool comes from a plugin."

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
ALL_VERSIONS = [MODERN, "2025-11-25", "2025-06-18", "2025-03-26"]

DEMO_TOOLS = ["say", "statistics", "countdown", "divide"]
ECHO_C_TOOLS = ["echo", "add_integers", "wait"]
NOTES_TOOLS = ["add_note", "list_notes"]
VERSIONED_V1 = "libfixture_versioned_v1.so"
VERSIONED_V2 = "libfixture_versioned_v2.so"
VERSIONED_LIBRARY = "libversioned.so"
MISBEHAVING_TOOLS = ["hang", "twice", "bad_json", "wrong_shape", "bad_structured", "internal", "whoami", "query", "late"]


def plugboard_binary() -> Path:
    """The server binary: $PLUGBOARD_BIN, else the debug build of this checkout."""
    override = os.environ.get("PLUGBOARD_BIN")
    return Path(override).resolve() if override else REPO_ROOT / ".build" / "debug" / "plugboard"


def library_path() -> list[Path]:
    """Where manifests' `library:` names are looked up: $PLUGBOARD_LIBRARY_PATH (os.pathsep-separated),
    else the binary's own folder and the debug build folder."""
    override = os.environ.get("PLUGBOARD_LIBRARY_PATH")
    if override:
        return [Path(p).resolve() for p in override.split(os.pathsep) if p]
    folders = [plugboard_binary().parent, REPO_ROOT / ".build" / "debug"]
    unique: list[Path] = []
    for folder in folders:
        if folder not in unique:
            unique.append(folder)
    return unique


def plugin_manifest(name: str) -> Path:
    """A manifest the suite can serve: a shipped plugin's or one of Tests/e2e/manifests/."""
    shipped = REPO_ROOT / "Plugins" / name / "manifest.yaml"
    if shipped.is_file():
        return shipped
    own = MANIFESTS_DIR / f"{name}.yaml"
    if own.is_file():
        return own
    raise FileNotFoundError(f"no manifest for plugin {name!r}")


def versioned_manifest(
    answer: str = "answer",
    slow: str = "slow",
    crash: bool = False,
    answer_handler: str = "versioned.answer",
    config: dict[str, object] | None = None,
    isolation: str | None = None,
) -> str:
    """The manifest of the `versioned` fixture plugin (two builds: libfixture_versioned_v1/_v2.so,
    installed as libversioned.so). `answer` is on line 8 and `slow` on line 11: the tests that
    check reported line numbers rely on that layout."""
    lines = [
        "# The versioned fixture plugin (Tests/Fixtures/versioned_core), written by Tests/e2e.",
        "plugin: versioned",
        "version: 1.0.0",
        f"library: {VERSIONED_LIBRARY}",
        "abi: 1",
        f"config: {json.dumps(config or {})}",
        "tools:",
        f"  - name: {answer}",
        f"    handler: {answer_handler}",
        "    description: Says which build of the plugin answers (v1 or v2).",
        f"  - name: {slow}",
        "    handler: versioned.slow",
        "    description: Counts slowly, reporting progress that names the build.",
        "    input_schema: { type: object, properties: { steps: { type: integer }, delay_ms: { type: integer } }, required: [steps, delay_ms] }",
        "    limits: { timeout_ms: 60000 }",
    ]
    if crash:
        lines += [
            "  - name: crash",
            "    handler: versioned.crash",
            "    description: Crashes the plugin on purpose (mode segfault or fatal); any other mode survives.",
            "    input_schema: { type: object, properties: { mode: { type: string } }, required: [mode] }",
        ]
    if isolation is not None:
        lines.append(f"isolation: {isolation}")
    return "\n".join(lines) + "\n"


# host:port of the test PostgreSQL cluster scripts/test runs (scripts/postgres); None without one.
TEST_POSTGRES = os.environ.get("PLUGBOARD_TEST_POSTGRES")


def fresh_postgres_database(superuser: bool = True) -> dict[str, str]:
    """A new database owned by pb_owner in the test cluster, as database.* settings: the tables'
    owner, the restricted query login and (with `superuser`) the login that hardens the database."""
    assert TEST_POSTGRES, "PLUGBOARD_TEST_POSTGRES is not set"
    host, port = TEST_POSTGRES.rsplit(":", 1)
    name = f"pbe2e_{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["psql", "-q", "-h", host, "-p", port, "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", f"CREATE DATABASE {name} OWNER pb_owner"],
        check=True,
        capture_output=True,
    )
    url = f"postgres://{{}}@{host}:{port}/{name}".format
    settings = {"url": url("pb_owner"), "query_url": url("pb_query")}
    if superuser:
        settings["superuser_url"] = url("postgres")
    return settings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def built_library(file_name: str) -> Path:
    """A plugin library of the build (e.g. libfixture_versioned_v1.so), from the library path."""
    for folder in library_path():
        if (folder / file_name).is_file():
            return folder / file_name
    raise FileNotFoundError(f"{file_name} not found in {[str(p) for p in library_path()]} (build it first)")


def replace_atomically(path: Path, text: str) -> None:
    """Writes a file beside the target under a dot-prefixed name, then renames it into place."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _yaml(value: object) -> str:
    """A YAML scalar or flow sequence: JSON is valid YAML flow syntax and quotes paths safely."""
    return json.dumps(value)


class PlugboardServer:
    """One `plugboard` process with its own config, plugins folder, state dir and log file."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        artifacts: Path,
        plugins: dict[str, Path | str],
        page_size: int | None = None,
        files: dict[str, Path] | None = None,
        watch: bool = False,
        debounce_ms: int | None = None,
        isolation: dict[str, str] | None = None,
        tool_overlays: dict[str, dict[str, object]] | None = None,
        local_owner: str = LOCAL_OWNER,
        database: str | dict[str, str] | None = None,
        seed: Path | None = None,
        data: dict[str, str] | None = None,
        auth: dict[str, object] | None = None,
        public_url: str | None = None,
        plugin_settings: dict[str, object] | None = None,
        server_settings: dict[str, object] | None = None,
    ) -> None:
        """`plugins` maps a folder of the plugins folder to its manifest: a file to copy (Path) or
        the manifest's text (str). `files` maps paths inside the plugins folder to files copied
        there (plugin libraries). `database` is database.url, or every database.* key but seed;
        `data` the keys of a data: section (the plugins' tables elsewhere), seed included.
        `auth` replaces the default `auth: {mode: none}` section; `public_url` is server.public_url;
        `plugin_settings` are more plugins.* keys (alias_ttl, reload ...); `server_settings` more
        server.* keys (name, allowed_hosts ...).
        The other options become `plugins.*` and `tools:` settings."""
        self.name = name
        self.workdir = workdir
        self.artifacts = artifacts
        self.plugins = plugins
        self.page_size = page_size
        self.files = files or {}
        self.watch = watch
        self.debounce_ms = debounce_ms
        self.isolation = isolation or {}
        self.tool_overlays = tool_overlays or {}
        self.local_owner = local_owner
        self.database = database
        self.seed = seed
        self.data = data
        self.auth = auth
        self.public_url = public_url
        self.plugin_settings = plugin_settings or {}
        self.server_settings = server_settings or {}
        self.binary = plugboard_binary()
        self.plugins_dir = workdir / "plugins"
        self.state_dir = workdir / "state"
        self.config_path = workdir / "config.yaml"
        self.log_path = artifacts / f"{name}.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file = None

    # -- set-up ---------------------------------------------------------------------------------

    def write_plugins(self) -> None:
        if self.plugins_dir.exists():
            shutil.rmtree(self.plugins_dir)
        for folder, manifest in self.plugins.items():
            target = self.plugins_dir / folder
            target.mkdir(parents=True)
            if isinstance(manifest, str):
                (target / "manifest.yaml").write_text(manifest)
            else:
                shutil.copyfile(manifest, target / "manifest.yaml")
        for relative, source in self.files.items():
            target = self.plugins_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)

    def config_text(self, port: int) -> str:
        lines = [
            "# Written by Tests/e2e for one test run.",
            "server:",
            f"  listen: {_yaml(f'127.0.0.1:{port}')}",
            f"  instructions: {_yaml(INSTRUCTIONS)}",
        ]
        if self.page_size is not None:
            lines.append(f"  page_size: {self.page_size}")
        if self.public_url is not None:
            lines.append(f"  public_url: {_yaml(self.public_url)}")
        lines += [f"  {key}: {_yaml(value)}" for key, value in self.server_settings.items()]
        lines.append("auth:")
        auth = self.auth if self.auth is not None else {"mode": "none", "local_owner": self.local_owner}
        lines += [f"  {key}: {_yaml(value)}" for key, value in auth.items()]
        lines += [
            "plugins:",
            f"  folder: {_yaml(str(self.plugins_dir))}",
            f"  library_path: {_yaml([str(p) for p in library_path()])}",
            f"  state_dir: {_yaml(str(self.state_dir))}",
        ]
        if self.watch:
            lines.append("  watch: true")
        if self.debounce_ms is not None:
            lines.append(f"  debounce_ms: {self.debounce_ms}")
        lines += [f"  {key}: {_yaml(value)}" for key, value in self.plugin_settings.items()]
        if self.isolation:
            lines.append("  isolation:")
            lines += [f"    {_yaml(plugin)}: {_yaml(mode)}" for plugin, mode in self.isolation.items()]
        if self.database is not None or self.seed is not None:
            lines.append("database:")
            database = {"url": self.database} if isinstance(self.database, str) else self.database or {}
            lines += [f"  {key}: {_yaml(value)}" for key, value in database.items()]
            if self.seed is not None:
                lines.append(f"  seed: {_yaml(str(self.seed))}")
        if self.data is not None:
            lines.append("data:")
            lines += [f"  {key}: {_yaml(value)}" for key, value in self.data.items()]
        if self.tool_overlays:
            lines.append("tools:")
            for tool, overlay in self.tool_overlays.items():
                lines.append(f"  {_yaml(tool)}: {_yaml(overlay)}")
        lines += [
            "logging:",
            "  level: debug",
            "",
        ]
        return "\n".join(lines)

    def write_config(self, port: int) -> None:
        self.config_path.write_text(self.config_text(port))
        shutil.copyfile(self.config_path, self.artifacts / f"{self.name}.config.yaml")

    def rewrite_config(self, listen_port: int | None = None) -> None:
        """Rewrites config.yaml of a running server from the current options, the way an editor
        saving atomically does (a dot-prefixed temporary file renamed into place). The listen
        port stays the served one unless `listen_port` is given."""
        replace_atomically(self.config_path, self.config_text(listen_port or self.port))
        shutil.copyfile(self.config_path, self.artifacts / f"{self.name}.config.yaml")

    def prepare(self) -> None:
        """Writes the plugins folder and a config (for stdio use, where no port is served)."""
        if not self.binary.is_file():
            raise FileNotFoundError(f"plugboard binary not found at {self.binary} (build it, or set PLUGBOARD_BIN)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.write_plugins()
        self.write_config(self.port or free_port())

    # -- life cycle -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/mcp"

    def start(self) -> None:
        """Starts the server and waits until GET /readyz answers 200. Retries on a port clash."""
        self.prepare()
        last_error = ""
        for _attempt in range(3):
            self.port = free_port()
            self.write_config(self.port)
            self._log_file = open(self.log_path, "ab", buffering=0)
            self._log_file.write(f"=== {time.strftime('%H:%M:%S')} starting {self.binary} serve on port {self.port}\n".encode())
            self.process = subprocess.Popen(
                [str(self.binary), "serve", "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
            )
            try:
                self._wait_ready()
                return
            except RuntimeError as error:
                last_error = str(error)
                self.stop()
                if "in use" not in self.log_text().lower():
                    break
        raise RuntimeError(f"server {self.name!r} did not start: {last_error}\n--- log tail ---\n{self.log_text()[-4000:]}")

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with httpx2.Client(timeout=5.0) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"exited with status {self.process.returncode} before it was ready")
                try:
                    if http.get(f"{self.base_url}/readyz").status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"not ready within {STARTUP_TIMEOUT_S:.0f} s")

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM (the server drains plugin calls), then SIGKILL if it lingers."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=SHUTDOWN_TIMEOUT_S)
        if process is not None and self._log_file is not None:
            self._log_file.write(f"=== {time.strftime('%H:%M:%S')} stopped, exit status {process.returncode}\n".encode())
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # -- administration -------------------------------------------------------------------------

    def admin(self, *arguments: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Runs `plugboard <arguments> --config <this server's config>` (admin socket commands)."""
        return subprocess.run(
            [str(self.binary), *arguments, "--config", str(self.config_path)],
            capture_output=True, text=True, timeout=timeout, cwd=self.workdir, stdin=subprocess.DEVNULL,
        )

    def cli(self, *arguments: str, input: str | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Runs `plugboard <arguments> --config <this server's config>` with `input` on stdin
        (user and token management: `cli("user", "add", "alice", "--password-stdin", input="pw\\n")`)."""
        return subprocess.run(
            [str(self.binary), *arguments, "--config", str(self.config_path)],
            capture_output=True, text=True, timeout=timeout, cwd=self.workdir, input=input or "",
        )

    def reload(self, json_output: bool = False) -> subprocess.CompletedProcess[str]:
        """`plugboard reload`: returns once the new generation serves (exit 0) or was refused (1)."""
        return self.admin("reload", *(["--json"] if json_output else []))

    def status(self) -> dict:
        """`plugboard status`, parsed."""
        done = self.admin("status", "--json")
        assert done.returncode == 0, f"plugboard status failed ({done.returncode}): {done.stdout}{done.stderr}"
        return json.loads(done.stdout)

    def status_from_socket(self) -> dict:
        """GET /status on the admin socket directly, without the CLI (which first reads
        config.yaml to find the socket, and so cannot while config.yaml is broken)."""
        with httpx2.Client(transport=httpx2.HTTPTransport(uds=str(self.state_dir / "admin.sock")), timeout=10.0) as admin:
            response = admin.get("http://localhost/status")
        assert response.status_code == 200, response.text
        return response.json()

    def plugin_status(self, plugin: str) -> dict:
        found = [entry for entry in self.status()["plugins"] if entry["name"] == plugin]
        assert len(found) == 1, f"plugin {plugin!r} is not served exactly once: {found}"
        return found[0]

    # -- the plugins folder ---------------------------------------------------------------------

    def install_library(self, folder: str, source: Path, name: str) -> None:
        """Drops a library in by the documented convention: copy to a dot-prefixed name in the
        plugin's folder (ignored by the watcher), then rename it into place."""
        target = self.plugins_dir / folder / name
        temporary = target.with_name(f".{name}.tmp")
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)

    def write_manifest(self, folder: str, text: str) -> None:
        replace_atomically(self.plugins_dir / folder / "manifest.yaml", text)

    def worker_pids(self) -> list[int]:
        """`plugboard plugin-worker` processes of this server: children of its process whose
        arguments name a library in its state dir."""
        if self.process is None:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                arguments = (entry / "cmdline").read_bytes().split(b"\0")
                parent = int(re.search(r"^PPid:\s+(\d+)", (entry / "status").read_text(), re.M).group(1))
            except (OSError, AttributeError):
                continue
            if parent == self.process.pid and b"plugin-worker" in arguments and any(str(self.state_dir).encode() in a for a in arguments):
                found.append(int(entry.name))
        return sorted(found)

    # -- the log --------------------------------------------------------------------------------

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_mark(self) -> int:
        """The log's current length: pass it to `wait_for_log` to see only what comes after."""
        return len(self.log_text())

    def log_lines(self, pattern: str, since: int = 0) -> list[str]:
        """Every log line after `since` that matches the regular expression."""
        regex = re.compile(pattern)
        return [line for line in self.log_text()[since:].splitlines() if regex.search(line)]

    def find_log(self, pattern: str, since: int = 0) -> str | None:
        """The first log line after `since` that matches the regular expression, if any."""
        regex = re.compile(pattern)
        for line in self.log_text()[since:].splitlines():
            if regex.search(line):
                return line
        return None

    def wait_for_log(self, pattern: str, since: int = 0, timeout: float = LOG_WAIT_S) -> str:
        """Waits (blocking: for synchronous tests) until a log line after `since` matches."""
        deadline = time.monotonic() + timeout
        while (line := self.find_log(pattern, since)) is None:
            if time.monotonic() >= deadline:
                raise AssertionError(f"no log line matching {pattern!r} within {timeout} s in {self.log_path}")
            time.sleep(0.05)
        return line

    async def await_log(self, pattern: str, since: int = 0, timeout: float = LOG_WAIT_S) -> str:
        """Waits like `wait_for_log` without blocking the event loop (for async tests, whose
        clients must keep running meanwhile)."""
        deadline = time.monotonic() + timeout
        while (line := self.find_log(pattern, since)) is None:
            if time.monotonic() >= deadline:
                raise AssertionError(f"no log line matching {pattern!r} within {timeout} s in {self.log_path}")
            await anyio.sleep(0.05)
        return line


# -- clients --------------------------------------------------------------------------------------


@asynccontextmanager
async def connect(url: str, mode: str, **options) -> AsyncIterator[Client]:
    """The official SDK client over Streamable HTTP, in `legacy` (initialize) or a modern mode.
    `options` go to `Client` (e.g. `message_handler`)."""
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode, read_timeout_seconds=30.0, **options) as client:
            yield client


def text_of(result) -> str:
    """The text of a result's single text content block."""
    assert len(result.content) == 1, f"expected one content block, got {result.content!r}"
    block = result.content[0]
    assert block.type == "text", f"expected a text block, got {block!r}"
    return block.text


def json_headers(version: str | None = LEGACY, **extra: str) -> dict[str, str]:
    """Headers of a well-formed MCP POST; `version=None` leaves MCP-Protocol-Version out."""
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if version is not None:
        headers["MCP-Protocol-Version"] = version
    headers.update(extra)
    return headers


def modern_meta() -> dict[str, object]:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    }


def rpc(method: str, params: dict | None = None, id: object = 1) -> bytes:
    message: dict[str, object] = {"jsonrpc": "2.0", "method": method}
    if id is not None:
        message["id"] = id
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def sse_messages(body: str) -> list[dict]:
    """The JSON-RPC messages of an SSE body (one `data:` line per event here)."""
    messages = []
    for event in body.split("\n\n"):
        data = [line[5:].lstrip() for line in event.splitlines() if line.startswith("data:")]
        if data:
            messages.append(json.loads("\n".join(data)))
    return messages

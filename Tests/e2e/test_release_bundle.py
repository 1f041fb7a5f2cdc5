"""The release bundle (`scripts/release`) runs without Swift installed.

`scripts/release --skip-build` packages the build this suite runs against (the debug build, unless
PLUGBOARD_BIN names a release one): the layout, the runtime libraries, the RUNPATH rewriting and
the stripping are the same as for a release build, which takes minutes more and is not repeated
here. The tarball is unpacked into a fresh folder and served in a private mount namespace
(`unshare -m`) where a tmpfs hides the toolchain folder, so nothing can load from it.

Served there: `initialize`, `tools/list` and `tools/call` of the C plugin (echo_c, in process),
a Swift plugin with scoped queries (projects, in process) and a Swift plugin in a worker process
(demo, `isolation: process`: the bundle's `plugboard` re-executes itself); and an isolated Swift
plugin that crashes: the call fails cleanly at once, the bundle's own `swift-backtrace` writes the
backtrace, and the restarted worker answers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx2
import pytest

from support import (
    LEGACY,
    REPO_ROOT,
    STARTUP_TIMEOUT_S,
    VERSIONED_LIBRARY,
    VERSIONED_V1,
    built_library,
    free_port,
    json_headers,
    plugboard_binary,
    rpc,
    sse_messages,
    versioned_manifest,
)

RELEASE_SCRIPT = REPO_ROOT / "scripts" / "release"


def build_configuration() -> str:
    """The configuration of the build under test: the folder of its plugboard binary."""
    folder = plugboard_binary().parent.name
    return folder if folder in ("debug", "release") else "debug"


def toolchain_folders() -> list[Path]:
    """What to hide: the toolchain root above .../usr/lib/swift/linux (e.g. /opt/swift), read from
    the RUNPATH the build gave the binary; only its Swift folders when the root is the system's."""
    dynamic = subprocess.run(["readelf", "-d", str(plugboard_binary())], capture_output=True, text=True, check=True).stdout
    match = re.search(r"\(RUNPATH\).*\[(.*)\]", dynamic)
    assert match, f"{plugboard_binary()} has no RUNPATH"
    runtime = next((Path(entry) for entry in match.group(1).split(":") if entry.endswith("/lib/swift/linux")), None)
    assert runtime is not None and (runtime / "libswiftCore.so").is_file(), match.group(1)
    runtime = runtime.resolve()
    usr = runtime.parents[2]
    root = usr.parent
    if root in (Path("/"), Path("/usr")):
        return [usr / "lib" / "swift", usr / "libexec" / "swift"]
    return [root]


def hidden(command: str, folders: list[Path]) -> list[str]:
    """`command` (shell) in a private mount namespace where `folders` are empty tmpfs mounts."""
    mounts = " && ".join(f"mount -t tmpfs -o size=1m tmpfs '{folder}'" for folder in folders)
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", f"{mounts} && {command}"]


@pytest.fixture(scope="module")
def namespaces_allowed() -> list[Path]:
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    folders = toolchain_folders()
    probe = subprocess.run(hidden("true", folders), capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"a private mount namespace is not permitted here: {probe.stderr.strip()}")
    return folders


@pytest.fixture(scope="module")
def bundle(namespaces_allowed, tmp_path_factory) -> Path:
    """The tarball scripts/release makes, unpacked into a fresh folder."""
    output = tmp_path_factory.mktemp("release")
    made = subprocess.run(
        [str(RELEASE_SCRIPT), "--configuration", build_configuration(), "--skip-build", "--output", str(output)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    tarballs = list(output.glob("plugboard-*-linux-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    unpacked = tmp_path_factory.mktemp("unpacked")
    subprocess.run(["tar", "-xzf", str(tarballs[0]), "-C", str(unpacked)], check=True)
    (root,) = unpacked.iterdir()
    return root


def test_layout(bundle):
    sources = (path.read_text() for path in (REPO_ROOT / "Sources").rglob("*.swift"))
    version = next(m.group(1) for text in sources if (m := re.search(r'enum PlugboardVersion \{\s*public static let current = "([^"]+)"', text)))
    assert bundle.name.startswith(f"plugboard-{version}-linux-")
    for path in ["bin/plugboard", "lib/libswiftCore.so", "lib/swift-backtrace", "config.yaml", "README.md", "examples/demo/sqlite.sql"]:
        assert (bundle / path).is_file(), path
    for plugin in ["demo", "echo_c", "meetings", "notes", "projects"]:
        assert (bundle / "plugins" / plugin / "manifest.yaml").is_file(), plugin
        assert (bundle / "plugins" / plugin / f"lib{plugin}.so").is_file(), plugin
    expected = {"bin/plugboard": "$ORIGIN/../lib", "plugins/echo_c/libecho_c.so": "$ORIGIN/../../lib", "plugins/demo/libdemo.so": "$ORIGIN/../../lib"}
    for path, runpath in expected.items():
        dynamic = subprocess.run(["readelf", "-d", str(bundle / path)], capture_output=True, text=True, check=True).stdout
        assert f"Library runpath: [{runpath}]" in dynamic, (path, dynamic)
    sections = subprocess.run(["readelf", "-S", str(bundle / "bin" / "plugboard")], capture_output=True, text=True, check=True).stdout
    assert ".symtab" not in sections, "bin/plugboard is not stripped"


def test_nothing_resolves_into_the_toolchain(bundle, namespaces_allowed):
    folders = namespaces_allowed
    files = ["bin/plugboard", "lib/swift-backtrace", *(str(p.relative_to(bundle)) for p in sorted(bundle.glob("plugins/*/*.so")))]
    script = f"test ! -e '{folders[0]}/usr' && " + " && ".join(f"echo '== {f}' && ldd '{f}'" for f in files)
    result = subprocess.run(hidden(script, folders), cwd=bundle, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not found" not in result.stdout, result.stdout
    for folder in folders:
        assert str(folder) not in result.stdout, result.stdout
    # Every Swift library comes from the bundle's lib/.
    swift = [line for line in result.stdout.splitlines() if re.search(r"lib(swift|Foundation|dispatch|BlocksRuntime|_Foundation)", line)]
    assert swift and all(f"{bundle}/" in line or "/../lib/" in line for line in swift), swift


def post(http: httpx2.Client, method: str, params: dict | None = None, id: int = 1) -> dict:
    response = http.post("/mcp", headers=json_headers(LEGACY), content=rpc(method, params, id=id))
    assert response.status_code == 200, (method, response.status_code, response.text)
    if response.headers["content-type"].startswith("text/event-stream"):
        messages = [m for m in sse_messages(response.text) if m.get("id") == id]
        assert len(messages) == 1, response.text
        return messages[0]
    return response.json()


def call(http: httpx2.Client, tool: str, arguments: dict, id: int) -> dict:
    answer = post(http, "tools/call", {"name": tool, "arguments": arguments}, id=id)
    assert "result" in answer, answer
    return answer["result"]


def text(result: dict) -> str:
    (block,) = result["content"]
    assert block["type"] == "text", result
    return block["text"]


def test_serves_without_the_toolchain(bundle, namespaces_allowed, artifacts_dir):
    # The bundle's config with a test port, demo in a worker process, and the crashing fixture.
    shipped = (bundle / "config.yaml").read_text()
    port = free_port()
    config = shipped.replace("listen: 127.0.0.1:8080", f"listen: 127.0.0.1:{port}")
    config = config.replace("  # isolation: { demo: process }", "  isolation: { demo: process, versioned: process }")
    assert config.count(str(port)) == 1 and "versioned: process" in config, "examples/release/config.yaml changed: update this test"
    (bundle / "test-config.yaml").write_text(config)
    versioned = bundle / "plugins" / "versioned"
    versioned.mkdir()
    (versioned / "manifest.yaml").write_text(versioned_manifest(crash=True))
    shutil.copy(built_library(VERSIONED_V1), versioned / VERSIONED_LIBRARY)

    log_path = artifacts_dir / "release-bundle.log"
    with open(log_path, "wb", buffering=0) as log:
        process = subprocess.Popen(
            hidden("exec bin/plugboard serve --config test-config.yaml", namespaces_allowed),
            cwd=bundle, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as http:
                deadline = time.monotonic() + STARTUP_TIMEOUT_S
                while True:
                    assert process.poll() is None, f"exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
                    try:
                        if http.get("/readyz").status_code == 200:
                            break
                    except httpx2.TransportError:
                        pass
                    assert time.monotonic() < deadline, f"not ready:\n{log_path.read_text()[-4000:]}"
                    time.sleep(0.1)

                initialized = post(http, "initialize", {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}})
                assert initialized["result"]["protocolVersion"] == LEGACY, initialized
                tools = {tool["name"] for tool in post(http, "tools/list", id=2)["result"]["tools"]}
                assert {"echo", "say", "list_projects", "add_note", "list_meetings", "crash"} <= tools, tools

                assert text(call(http, "echo", {"text": "from C"}, id=3)) == "from C"
                projects = call(http, "list_projects", {"limit": 2}, id=4)
                assert projects.get("isError") is not True and len(projects["structuredContent"]["projects"]) == 2, projects
                said = call(http, "say", {"text": "from a worker"}, id=5)
                assert said.get("isError") is not True and text(said) == "from a worker", said

                # The isolated plugins run in `plugboard plugin-worker` processes started from the bundle.
                workers = subprocess.run(["pgrep", "-P", str(process.pid), "-f", "plugin-worker"], capture_output=True, text=True).stdout.split()
                assert len(workers) == 2, workers
                for worker in workers:
                    assert Path(f"/proc/{worker}/exe").resolve() == bundle / "bin" / "plugboard"

                # A crash fails its call cleanly and quickly; the bundle's backtracer writes the backtrace.
                began = time.monotonic()
                crashed = call(http, "crash", {"mode": "segfault"}, id=6)
                assert time.monotonic() - began < 10
                assert crashed.get("isError") is True and "crashed while handling this call" in text(crashed), crashed
                again = call(http, "answer", {}, id=7)
                assert again.get("isError") is not True and text(again) == "v1", again
                deadline = time.monotonic() + 10
                while "*** Signal 11" not in log_path.read_text(errors="replace") or not re.search(r"Versioned\.swift:\d+", log_path.read_text(errors="replace")):
                    assert time.monotonic() < deadline, f"no symbolicated backtrace in the log:\n{log_path.read_text()[-4000:]}"
                    time.sleep(0.1)
                assert process.poll() is None, "the host died"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
    assert process.returncode == 0, f"exit status {process.returncode}:\n{log_path.read_text()[-4000:]}"

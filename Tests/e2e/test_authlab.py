"""mcp-authlab (PyPI, pinned in requirements.txt) grades the server's OAuth 2.1 authorization as a
black box: `mcp-authlab login --no-browser` discovers the authorization server, registers a client
(RFC 7591), runs the code flow with PKCE twice and probes the authorization server on the way (the
ASF-* checks); `mcp-authlab scan` then checks the challenge, both metadata documents and how the
resource server treats good and bad tokens. The server runs with auth.test_auto_consent: alice, so
/authorize answers with a redirect carrying a code and no page (that is what --no-browser needs).

The audience-binding probe (TOK-03) gets a token that is valid for a different resource: a static
API token of a second Plugboard server. authlab's own foreign token would be requested for the
issuer URL, which this server takes as an alias of its resource (the contract tolerates the bare
origin), so it would be this server's own token and the check would only warn.

Artifacts: authlab-login.txt, authlab-report.json (with every HTTP exchange, tokens redacted by
authlab) and authlab-report.txt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx2

from support import REPO_ROOT, json_headers, plugin_manifest, rpc

DEMO = REPO_ROOT / "examples" / "demo"
DATA_PLUGINS = {"projects": plugin_manifest("projects"), "meetings": plugin_manifest("meetings")}
PASSWORD = "correct horse battery staple"


def authlab(*arguments: str, env: dict[str, str], timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_authlab", *arguments],
        capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL,
    )


def add_alice(server) -> None:
    done = server.cli("user", "add", "alice", "--password-stdin", input=f"{PASSWORD}\n")
    assert done.returncode == 0, f"user add failed ({done.returncode}): {done.stdout}{done.stderr}"


def test_authlab_grades_a(make_server, artifacts_dir: Path, tmp_path: Path):
    options = {"database": f"sqlite:{tmp_path / 'shared.db'}", "seed": DEMO / "sqlite.sql"}
    server = make_server("authlab", DATA_PLUGINS, auth={"mode": "oauth", "test_auto_consent": "alice"}, **options)
    add_alice(server)

    # A token that works, but on another server: the foreign-audience token for TOK-03.
    elsewhere = make_server("authlab-elsewhere", {"demo": plugin_manifest("demo")}, auth={"mode": "oauth"})
    add_alice(elsewhere)
    created = elsewhere.cli("token", "create", "--user", "alice", "--name", "authlab foreign")
    assert created.returncode == 0, f"token create failed ({created.returncode}): {created.stdout}{created.stderr}"
    foreign = created.stdout.splitlines()[0].strip()
    with httpx2.Client(timeout=30.0) as http:
        works = http.post(elsewhere.url, headers=json_headers(Authorization=f"Bearer {foreign}"), content=rpc("ping"))
    assert works.status_code == 200, f"the foreign token does not work where it was made: {works.status_code} {works.text}"

    env = dict(os.environ)
    env["MCP_AUTHLAB_TOKENS"] = str(tmp_path / "authlab-tokens.json")  # never the user's ~/.config
    env.pop("MCP_AUTHLAB_TOKEN", None)
    env.pop("MCP_AUTHLAB_FOREIGN_TOKEN", None)
    env["NO_COLOR"] = "1"

    login = authlab("login", server.url, "--no-browser", "--no-color", "--timeout", "60", "--http-timeout", "30", env=env)
    (artifacts_dir / "authlab-login.txt").write_text(f"exit {login.returncode}\n--- stdout\n{login.stdout}\n--- stderr\n{login.stderr}")
    assert login.returncode == 0, f"mcp-authlab login failed ({login.returncode}):\n{login.stdout}\n{login.stderr}"

    report_path = artifacts_dir / "authlab-report.json"
    scan = authlab(
        "scan", server.url, "--format", "json", "--requests", "--no-color", "--timeout", "30",
        "--foreign-token", foreign, "--output", str(report_path),
        env=env,
    )
    assert scan.returncode == 0, f"mcp-authlab scan failed ({scan.returncode}):\n{scan.stdout}\n{scan.stderr}"
    report = json.loads(report_path.read_text())
    try:
        from mcp_authlab import report as authlab_report

        (artifacts_dir / "authlab-report.txt").write_text(authlab_report.render(report, "text", color=False) + "\n")
    except Exception as error:  # a convenience only
        (artifacts_dir / "authlab-report.txt").write_text(f"could not render the text report: {error!r}\n")

    results = report["results"]
    failed = [f"{r['id']}: {r['message']}" for r in results if r["status"] in ("fail", "error")]
    warned = [f"{r['id']}: {r['message']}" for r in results if r["status"] == "warn"]
    skipped = [f"{r['id']}: {r['message']}" for r in results if r["status"] == "skip" and r.get("applicable", True)]
    summary = (
        f"authlab: {report['conformance']}, grade {report['grade']}, score {report['score']}, {report['coverage']['line']}\n"
        "failed:\n  " + "\n  ".join(failed or ["none"]) + "\n"
        "warnings:\n  " + "\n  ".join(warned or ["none"]) + "\n"
        "skipped:\n  " + "\n  ".join(skipped or ["none"]) + f"\n(full report: {report_path})"
    )
    assert not failed, summary
    assert report["grade"] == "A", summary
    # Every critical check ran: the scan had a token, a foreign token and a session to probe with.
    assert report["coverage"]["critical_not_run"] == [], summary
    assert report["login"] and report["login"]["issuer"] == server.base_url, report["login"]

"""The status page and `plugboard status` against a real server: tool calls through the official
MCP client, a rename and a disabled tool applied by a reload, then `plugboard status` (the table
and `--json`) and `/status` opened in headless Chromium (Debian's `chromium` and
`chromium-driver`, through Selenium; skipped when they are absent). The screenshot and the page's
HTML go to the run's artifacts folder, under status_page/."""

from __future__ import annotations

import json
import shutil
import time

import httpx2
import pytest

from support import connect, plugin_manifest, text_of
from test_oauth_browser import CHROMEDRIVER, CHROMIUM, chromium_driver

DEMO = {"demo": plugin_manifest("demo")}


async def call_say(server, times: int) -> None:
    async with connect(server.url, "legacy") as client:
        for index in range(times):
            result = await client.call_tool("say", {"text": f"hello {index}"})
            assert not result.is_error and text_of(result) == f"hello {index}"


def reload_with_overlays(server) -> None:
    """Renames say to repeat and disables divide, then reloads: generation 2, with `say` an old name."""
    server.tool_overlays = {"say": {"name": "repeat"}, "divide": {"enabled": False}}
    server.rewrite_config()
    done = server.reload()
    assert done.returncode == 0, f"reload failed ({done.returncode}): {done.stdout}{done.stderr}"


def wait_for_audit(server, tool: str, count: int) -> str:
    """/status once the audit log (flushed in the background) holds `count` calls of `tool`."""
    deadline = time.monotonic() + 15
    while True:
        page = httpx2.get(f"{server.base_url}/status", timeout=10)
        assert page.status_code == 200, page.text
        if page.text.count(f"<td><code>{tool}</code></td>") >= count or time.monotonic() > deadline:
            return page.text
        time.sleep(0.05)


@pytest.mark.anyio
async def test_cli_status_table_and_json(make_server):
    server = make_server("cli", DEMO)
    await call_say(server, 2)
    reload_with_overlays(server)

    table = server.admin("status")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "generation 2", table.stdout
    rows = {tuple(line.split(None, 2)) for line in lines}
    assert ("repeat", "demo", "served") in rows, table.stdout
    assert ("divide", "demo", "disabled (config.yaml)") in rows, table.stdout
    assert ("say", "demo", "old name of repeat") in rows, table.stdout
    assert any(line.startswith("demo ") and "in_process" in line for line in lines), table.stdout
    assert any(line.startswith("last reload: applied (plugboard reload)") for line in lines), table.stdout

    scripted = server.admin("status", "--json")
    assert scripted.returncode == 0, scripted.stderr
    status = json.loads(scripted.stdout)
    assert status["generation"] == 2
    assert status["alias_targets"] == {"say": "repeat"}
    (demo,) = [plugin for plugin in status["plugins"] if plugin["name"] == "demo"]
    assert demo["disabled_tools"] == ["divide"] and "repeat" in demo["tools"]


@pytest.mark.anyio
async def test_status_page_in_chromium(make_server, artifacts_dir, tmp_path):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER} not found; .ci/run installs them)")
    from selenium.webdriver.common.by import By

    server = make_server("page", DEMO)
    await call_say(server, 5)
    reload_with_overlays(server)
    async with connect(server.url, "legacy") as client:
        result = await client.call_tool("repeat", {"text": "after the rename"})
        assert not result.is_error
    page = httpx2.get(f"{server.base_url}/status", timeout=10)
    csp = page.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "script-src" not in csp, csp
    assert page.headers["content-type"].startswith("text/html")
    wait_for_audit(server, "say", 5)

    artifacts = artifacts_dir / "status_page"
    artifacts.mkdir(parents=True, exist_ok=True)
    driver = chromium_driver(artifacts, tmp_path / "profile")
    try:
        driver.set_window_size(1200, 1400)
        driver.get(f"{server.base_url}/status")
        (artifacts / "status.html").write_text(driver.page_source)
        driver.save_screenshot(str(artifacts / "status.png"))
        assert driver.find_element(By.ID, "generation").text == "2"
        plugins = driver.find_elements(By.CSS_SELECTOR, "#plugins tr.plugin")
        assert [row.get_attribute("data-plugin") for row in plugins] == ["demo"]
        assert "in_process" in plugins[0].text and "disabled: divide" in plugins[0].text
        for tool in ("say", "repeat"):
            (row,) = driver.find_elements(By.CSS_SELECTOR, f'#tools tr.tool[data-tool="{tool}"]')
            charts = row.find_elements(By.CSS_SELECTOR, "svg.chart")
            assert {chart.get_attribute("class") for chart in charts} == {"chart calls", "chart latency"}
            assert row.find_elements(By.CSS_SELECTOR, "svg.calls rect[fill='#4c78a8']"), f"no call bars for {tool}"
            assert charts[0].size["width"] > 100 and charts[0].size["height"] > 20, "the chart is laid out"
        say = driver.find_element(By.CSS_SELECTOR, '#tools tr.tool[data-tool="say"]').text
        assert " 5 " in f" {say} ", say
        assert "applied" in driver.find_element(By.ID, "last-reload").text
        assert len(driver.find_elements(By.CSS_SELECTOR, "#audit tbody tr")) >= 6
        # Nothing tried to run or load: the browser's console has no CSP violation.
        problems = [entry for entry in driver.get_log("browser") if "Content Security Policy" in entry.get("message", "")]
        assert not problems, problems
    finally:
        driver.quit()

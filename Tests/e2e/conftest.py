"""Fixtures of the end-to-end suite: real `plugboard` processes, started once per run.

Each server gets a temporary config.yaml and plugins folder (copies of the manifests) and logs
to <repo>/test-artifacts/e2e/<run>/<server>.log, which stays behind for diagnosis.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from support import (
    ARTIFACTS_ROOT,
    VERSIONED_LIBRARY,
    VERSIONED_V1,
    PlugboardServer,
    built_library,
    plugin_manifest,
    versioned_manifest,
)

MAIN_PLUGINS = {
    "demo": plugin_manifest("demo"),
    "echo_c": plugin_manifest("echo_c"),
    "notes": plugin_manifest("notes"),
    "misbehaving": plugin_manifest("misbehaving"),
}


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    # The SDK runs on anyio; asyncio is the backend installed everywhere.
    return "asyncio"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    run = ARTIFACTS_ROOT / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run.mkdir(parents=True, exist_ok=True)
    latest = ARTIFACTS_ROOT / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(run.name)
    except OSError:
        pass  # a convenience only
    return run


def _serve(name: str, tmp_path_factory: pytest.TempPathFactory, artifacts: Path, plugins: dict[str, Path], **options) -> Iterator[PlugboardServer]:
    server = PlugboardServer(name, tmp_path_factory.mktemp(name), artifacts, plugins, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[PlugboardServer]:
    """The main server: demo, echo_c, notes and the misbehaving fixture plugin."""
    yield from _serve("main", tmp_path_factory, artifacts_dir, MAIN_PLUGINS)


@pytest.fixture(scope="session")
def paged_server(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[PlugboardServer]:
    """A server that lists two items per page (server.page_size: 2)."""
    yield from _serve("paged", tmp_path_factory, artifacts_dir, MAIN_PLUGINS, page_size=2)


@pytest.fixture(scope="session")
def fail_init_server(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[PlugboardServer]:
    """A server whose misbehaving plugin refuses to start (config fail_init: true), beside demo."""
    plugins = {"demo": plugin_manifest("demo"), "broken": plugin_manifest("misbehaving_fail_init")}
    yield from _serve("fail_init", tmp_path_factory, artifacts_dir, plugins)


@pytest.fixture(scope="session")
def stdio_server(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> PlugboardServer:
    """Config and plugins for `plugboard stdio`; the test's client starts the process itself."""
    server = PlugboardServer("stdio", tmp_path_factory.mktemp("stdio"), artifacts_dir, MAIN_PLUGINS)
    server.prepare()
    return server


ServerFactory = Callable[..., PlugboardServer]


@pytest.fixture
def make_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[ServerFactory]:
    """Starts servers of the test's own, each with a fresh plugins folder, config and state dir
    (for tests that change them); stops them after the test. Arguments as `PlugboardServer`."""
    started: list[PlugboardServer] = []
    test = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name.removeprefix("test_")).strip("-")

    def make(name: str, plugins: dict[str, Path | str], **options) -> PlugboardServer:
        server = PlugboardServer(f"{test}-{name}", tmp_path_factory.mktemp(name), artifacts_dir, plugins, **options)
        started.append(server)
        server.start()
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def versioned_server(make_server: ServerFactory) -> ServerFactory:
    """Starts a server with the `versioned` fixture plugin (its library copied next to the
    manifest as libversioned.so), the demo example and `extra_plugins`. `manifest` options go to
    `versioned_manifest`; the rest to `PlugboardServer`."""

    def make(
        name: str = "versioned",
        library: str = VERSIONED_V1,
        manifest: dict[str, object] | None = None,
        extra_plugins: tuple[str, ...] = (),
        **options,
    ) -> PlugboardServer:
        plugins = {"versioned": versioned_manifest(**(manifest or {})), "demo": plugin_manifest("demo")}
        plugins.update({plugin: plugin_manifest(plugin) for plugin in extra_plugins})
        files = {f"versioned/{VERSIONED_LIBRARY}": built_library(library)}
        return make_server(name, plugins, files=files, **options)

    return make

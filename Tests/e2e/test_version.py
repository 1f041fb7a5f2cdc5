"""`plugboard --version`: the host's version, the plugin ABI it speaks and the Swift that built it,
each checked against its one source (PlugboardVersion, plugboard.h, the toolchain on PATH)."""

import re
import shutil
import subprocess

import pytest

from support import REPO_ROOT, plugboard_binary


def source_version() -> str:
    text = (REPO_ROOT / "Sources" / "PlugboardServer" / "PlugboardApp.swift").read_text()
    match = re.search(r'enum PlugboardVersion \{\s*public static let current = "([^"]+)"', text)
    assert match, "PlugboardVersion.current not found"
    return match.group(1)


def abi_version() -> str:
    header = (REPO_ROOT / "Sources" / "CPlugboard" / "include" / "plugboard.h").read_text()
    major = re.search(r"#define PLUGBOARD_ABI_MAJOR (\d+)", header)
    minor = re.search(r"#define PLUGBOARD_ABI_MINOR (\d+)", header)
    assert major and minor
    return f"{major.group(1)}.{minor.group(1)}"


def test_version_names_host_abi_and_swift() -> None:
    binary = plugboard_binary()
    if not binary.exists():
        pytest.fail(f"plugboard binary not found at {binary} (build it, or set PLUGBOARD_BIN)")
    result = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    expected = re.compile(rf"plugboard {re.escape(source_version())} · plugin ABI {re.escape(abi_version())} · built with Swift (\d+\.\d+\.\d+)")
    match = expected.fullmatch(line)
    assert match, f"unexpected --version output: {line!r}"
    swift = shutil.which("swift")
    if swift:
        # The binary under test is normally built by the toolchain on PATH; a PLUGBOARD_BIN from
        # elsewhere may not be, so only compare when it is this checkout's build.
        installed = subprocess.run([swift, "--version"], capture_output=True, text=True, timeout=60).stdout
        found = re.search(r"Swift version (\d+\.\d+(?:\.\d+)?)", installed)
        if found and binary == REPO_ROOT / ".build" / "debug" / "plugboard":
            words = found.group(1) if found.group(1).count(".") == 2 else found.group(1) + ".0"
            assert match.group(1) == words, f"{line!r} but `swift --version` says {found.group(1)}"

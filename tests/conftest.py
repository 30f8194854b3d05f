"""Fixtures: plugins written to tmp dirs, a PATH the test controls, the real `tool` entry point."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Directories the sh plugins need for their utilities; nothing here is named tool-*.
SYSTEM_PATH = "/usr/bin:/bin"
HANG_BOUND = 60  # seconds: only to turn a hang into a failure, never a speed check


def _find_tool() -> str:
    scripts = sysconfig.get_path("scripts")
    for candidate in (os.path.join(scripts, "tool"), os.path.join(os.path.dirname(sys.executable), "tool")):
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("tool")
    if found:
        return found
    pytest.exit("the `tool` entry point is not installed: run pip install -e '.[test]' first", 2)


TOOL = _find_tool()


class Env:
    """A controlled environment for running the real `tool`: its own plugin dir, PATH, HOME and caches."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        home = root / "home"
        home.mkdir()
        self.vars = {
            "PATH": f"{self.bin}:{SYSTEM_PATH}",
            "HOME": str(home),
            "XDG_CACHE_HOME": str(root / "cache"),
            "XDG_CONFIG_HOME": str(root / "config"),
            "LC_ALL": "C.UTF-8",
        }

    def plugin(self, name: str, body: str, *, mode: int = 0o755, directory: Path | None = None) -> Path:
        """Write an executable plugin file; `body` is dedented; `name` is the full file name."""
        d = directory or self.bin
        d.mkdir(parents=True, exist_ok=True)
        path = d / name
        path.write_text(textwrap.dedent(body).lstrip())
        path.chmod(mode)
        return path

    def sh(self, name: str, script: str, **kw: object) -> Path:
        return self.plugin(name, "#!/bin/sh\n" + textwrap.dedent(script), **kw)  # type: ignore[arg-type]

    def run(
        self,
        *args: str | bytes,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        exe: str = TOOL,
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [exe, *args],
            input=input if input is not None else b"",
            capture_output=True,
            env={**self.vars, **(env or {})},
            cwd=cwd or self.root,
            timeout=HANG_BOUND,
        )


@pytest.fixture
def tenv(tmp_path: Path) -> Env:
    return Env(tmp_path)


def err_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    """The host's stderr, asserting it is exactly one `tool:` line and no traceback."""
    text = proc.stderr.decode()
    assert "Traceback" not in text, text
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("tool: "), text
    return lines[0]

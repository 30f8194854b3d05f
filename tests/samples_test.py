"""The sample plugins, run through the real `tool` as the README's quick start does."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import Env

SAMPLES = Path(__file__).resolve().parent.parent / "sample-plugins"


def test_hello_sample_as_in_the_quick_start(tenv: Env) -> None:
    proc = tenv.run("hello", "world", env={"TOOL_PLUGIN_PATH": str(SAMPLES)})
    assert proc.returncode == 0
    assert proc.stdout == b"Hello, world! (run as 'tool hello')\n"


def test_samples_are_listed_without_warnings(tenv: Env) -> None:
    proc = tenv.run("list", env={"TOOL_PLUGIN_PATH": str(SAMPLES)})
    assert proc.returncode == 0
    assert b"hello" in proc.stdout
    assert b"warning" not in proc.stdout

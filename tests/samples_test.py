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


def test_python_sdk_sample(tenv: Env) -> None:
    proc = tenv.run("greet", "Ada", env={"TOOL_PLUGIN_PATH": str(SAMPLES)})
    assert (proc.returncode, proc.stdout) == (0, b"Hello, Ada!\n")
    assert b"preparing a greeting for Ada" in proc.stderr


def test_sh_protocol_sample(tenv: Env) -> None:
    import json
    import os

    proc = tenv.run("--json", "sysinfo", env={"TOOL_PLUGIN_PATH": str(SAMPLES)})
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [m["type"] for m in lines] == ["output", "result", "exit"]
    assert lines[1]["data"]["processors"] == os.cpu_count()
    assert lines[0]["text"].startswith("hello friend\nkernel: ")
    # Its prompt, without a terminal, falls back to the default with a warning.
    proc = tenv.run("sysinfo", "--ask", env={"TOOL_PLUGIN_PATH": str(SAMPLES)})
    assert proc.returncode == 0 and b"cannot ask here" in proc.stderr


def test_node_sample_reads_stdin_through_the_protocol(tenv: Env) -> None:
    import json
    import shutil

    import pytest

    if shutil.which("node", path=tenv.vars["PATH"]) is None:
        pytest.skip("node is not installed")
    data = b"one two three\nfour\n" * 10000
    proc = tenv.run("--json", "wc", input=data, env={"TOOL_PLUGIN_PATH": str(SAMPLES)})
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert lines[-2]["data"] == {"lines": 20000, "words": 40000, "bytes": len(data)}
    assert lines[-1] == {"type": "exit", "code": 0}


def test_plain_sample_runs_direct_the_second_time(tenv: Env) -> None:
    env = {"TOOL_PLUGIN_PATH": str(SAMPLES)}
    assert tenv.run("hello", "x", env=env).stdout == tenv.run("hello", "x", env=env).stdout


def test_every_protocol_sample_stream_matches_the_schema(tenv: Env) -> None:
    # run_plugin checks each message against the message model and protocol/schema/v1.json.
    import shutil
    import sys

    from protocol.testing import run_plugin

    t = run_plugin([sys.executable, str(SAMPLES / "tool-greet")], ["Ada"], env=tenv.vars)
    assert (t.exit_code, t.result) == (0, {"greeted": "Ada"})
    t = run_plugin([str(SAMPLES / "tool-sysinfo")], ["--ask"], answers={"Your name?": "Lin"}, env=tenv.vars)
    assert t.exit_code == 0 and t.output.startswith(b"hello Lin\n")
    if shutil.which("node", path=tenv.vars["PATH"]):
        t = run_plugin([str(SAMPLES / "tool-wc")], stdin=b"a b\nc\n", env=tenv.vars)
        assert (t.exit_code, t.result) == (0, {"lines": 2, "words": 3, "bytes": 6})


def test_progress_is_shown_on_a_terminal_only(tenv: Env) -> None:
    from tests.conftest import in_pty

    env = {"TOOL_PLUGIN_PATH": str(SAMPLES)}
    code, screen = in_pty(tenv, "greet", "Ada", extra=env).finish()
    assert code == 0
    assert b"warming up 3/3 (100%)" in screen and b"Hello, Ada!" in screen
    proc = tenv.run("greet", "Ada", env=env)
    assert b"warming up" not in proc.stderr + proc.stdout

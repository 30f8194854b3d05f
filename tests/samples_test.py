"""The sample plugins, run through the real `tool` as the README's quick start does; and the
same tests over copies of the samples as they were written for protocol 1 before its
features existed (tests/data/v1-plugins): a plugin written then keeps working unchanged."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Env

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent / "sample-plugins"
V1 = HERE / "data" / "v1-plugins"  # frozen: never edit these files


@pytest.fixture(params=[SAMPLES, V1], ids=["today", "v1"])
def samples(request: pytest.FixtureRequest) -> Path:
    return request.param  # type: ignore[no-any-return]


def test_hello_sample_as_in_the_quick_start(tenv: Env, samples: Path) -> None:
    proc = tenv.run("hello", "world", env={"TOOL_PLUGIN_PATH": str(samples)})
    assert proc.returncode == 0
    assert proc.stdout == b"Hello, world! (run as 'tool hello')\n"


def test_samples_are_listed_without_warnings(tenv: Env, samples: Path) -> None:
    proc = tenv.run("list", env={"TOOL_PLUGIN_PATH": str(samples)})
    assert proc.returncode == 0
    assert b"hello" in proc.stdout
    assert b"warning" not in proc.stdout


def test_python_sdk_sample(tenv: Env, samples: Path) -> None:
    proc = tenv.run("greet", "Ada", env={"TOOL_PLUGIN_PATH": str(samples)})
    assert (proc.returncode, proc.stdout) == (0, b"Hello, Ada!\n")
    assert b"preparing a greeting for Ada" in proc.stderr


def test_sh_protocol_sample(tenv: Env, samples: Path) -> None:
    import json
    import os

    proc = tenv.run("--json", "sysinfo", env={"TOOL_PLUGIN_PATH": str(samples)})
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [m["type"] for m in lines] == ["output", "result", "exit"]
    assert lines[1]["data"]["processors"] == os.cpu_count()
    assert lines[0]["text"].startswith("hello friend\nkernel: ")
    # Its prompt, without a terminal, falls back to the default with a warning.
    proc = tenv.run("sysinfo", "--ask", env={"TOOL_PLUGIN_PATH": str(samples)})
    assert proc.returncode == 0 and b"cannot ask here" in proc.stderr


def test_node_sample_reads_stdin_through_the_protocol(tenv: Env, samples: Path) -> None:
    import json
    import shutil

    import pytest

    if shutil.which("node", path=tenv.vars["PATH"]) is None:
        pytest.skip("node is not installed")
    data = b"one two three\nfour\n" * 10000
    proc = tenv.run("--json", "wc", input=data, env={"TOOL_PLUGIN_PATH": str(samples)})
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert lines[-2]["data"] == {"lines": 20000, "words": 40000, "bytes": len(data)}
    assert lines[-1] == {"type": "exit", "code": 0}


def test_plain_sample_runs_direct_the_second_time(tenv: Env, samples: Path) -> None:
    env = {"TOOL_PLUGIN_PATH": str(samples)}
    assert tenv.run("hello", "x", env=env).stdout == tenv.run("hello", "x", env=env).stdout


def test_every_protocol_sample_stream_matches_the_schema(tenv: Env, samples: Path) -> None:
    # run_plugin checks each message against the message model and protocol/schema/v1.json.
    import shutil
    import sys

    from protocol.testing import run_plugin

    t = run_plugin([sys.executable, str(samples / "tool-greet")], ["Ada"], env=tenv.vars)
    assert (t.exit_code, t.result) == (0, {"greeted": "Ada"})
    t = run_plugin([str(samples / "tool-sysinfo")], ["--ask"], answers={"Your name?": "Lin"}, env=tenv.vars)
    assert t.exit_code == 0 and t.output.startswith(b"hello Lin\n")
    if shutil.which("node", path=tenv.vars["PATH"]):
        t = run_plugin([str(samples / "tool-wc")], stdin=b"a b\nc\n", env=tenv.vars)
        assert (t.exit_code, t.result) == (0, {"lines": 2, "words": 3, "bytes": 6})


def test_progress_is_shown_on_a_terminal_only(tenv: Env, samples: Path) -> None:
    from tests.conftest import in_pty

    env = {"TOOL_PLUGIN_PATH": str(samples)}
    code, screen = in_pty(tenv, "greet", "Ada", extra=env).finish()
    assert code == 0
    assert b"warming up 3/3 (100%)" in screen and b"Hello, Ada!" in screen
    proc = tenv.run("greet", "Ada", env=env)
    assert b"warming up" not in proc.stderr + proc.stdout


def test_the_v1_docs_example_as_first_published(tenv: Env) -> None:
    """The sh example of docs/protocol.md as it was (it takes any first request for a run)."""
    env = {"TOOL_PLUGIN_PATH": str(V1)}
    proc = tenv.run("hi", "Ada", env=env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"hi Ada\n", b"about to say hi\n")
    proc = tenv.run("--json", "hi", "Ada", env=env)
    assert proc.stdout.splitlines() == [b'{"type":"output","text":"hi Ada\\n"}', b'{"type":"result","data":{"greeted":"Ada"}}',
                                        b'{"type":"exit","code":0}']

"""The examples in docs/ work as written."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Env, in_pty, offered

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _block(doc: str, lang: str, index: int = 0) -> str:
    text = (DOCS / doc).read_text()
    return text.split(f"```{lang}\n")[index + 1].split("```", 1)[0]


def test_protocol_md_sh_example(tenv: Env) -> None:
    tenv.plugin("tool-hi", _block("protocol.md", "sh"))
    proc = tenv.run("hi", "Ada")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"hi Ada\n", b"about to say hi\n")
    proc = tenv.run("--json", "hi", "Ada")
    assert [json.loads(x) for x in proc.stdout.splitlines()] == [
        {"type": "output", "text": "hi Ada\n"},
        {"type": "result", "data": {"greeted": "Ada"}},
        {"type": "exit", "code": 0},
    ]
    direct = subprocess.run([str(tenv.bin / "tool-hi")], capture_output=True, env=tenv.vars, timeout=60)
    assert direct.stdout == b"hi there\n", "run directly by a person: no protocol"
    check = json.loads(tenv.run("plugin", "check", "hi", "--json").stdout)
    assert check["ok"] is True
    assert {c["name"]: c["status"] for c in check["checks"] if c["status"] != "ok"} == {"cancel": "untested"}, check


def test_protocol_md_fuller_sh_example_is_the_count_sample(tenv: Env) -> None:
    sample = (DOCS.parent / "sample-plugins" / "tool-count").read_text()
    assert _block("protocol.md", "sh", 1) == sample
    tenv.plugin("tool-count", sample)
    assert tenv.run("count", "2").stdout == b'{"n":1,"of":2}\n{"n":2,"of":2}\n'
    assert [json.loads(x)["type"] for x in tenv.run("--json", "count", "1").stdout.splitlines()] == ["record", "exit"]
    proc = tenv.run("count")  # no terminal to ask on
    assert (proc.returncode, proc.stderr) == (2, b"tool count: error: give a number: tool count N\n")


@pytest.mark.slow
def test_the_count_sample_is_cancellable_and_asks(tenv: Env) -> None:
    tenv.plugin("tool-count", (DOCS.parent / "sample-plugins" / "tool-count").read_text())
    proc = tenv.run("--timeout", "1.5", "count", "30")
    assert proc.returncode == 124 and proc.stdout.startswith(b'{"n":1,"of":30}\n')
    term = in_pty(tenv, "count")
    term.read_until(b"Count to? [3] ")
    term.send(b"2\r")
    code, screen = term.finish()
    assert code == 0 and b"N  OF\r\n1   2\r\n2   2\r\n" in screen
    check = json.loads(tenv.run("plugin", "check", "count", "--json", "--", "3").stdout)
    assert check["ok"] is True and all(c["status"] == "ok" for c in check["checks"]), check


def test_writing_plugins_sdk_example(tenv: Env) -> None:
    source = _block("writing-plugins.md", "python").replace("#!/usr/bin/env python3", f"#!{sys.executable}")
    tenv.plugin("tool-greet", source)
    proc = tenv.run("greet", "Ada")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"Hello, Ada!\n", b"greeting Ada\n")
    proc = tenv.run("--json", "greet", "Ada")
    assert proc.stdout.decode().splitlines() == [
        '{"type":"output","text":"Hello, Ada!\\n"}',
        '{"type":"result","data":{"greeted":"Ada"}}',
        '{"type":"exit","code":0}',
    ]
    proc = tenv.run("greet")
    assert proc.returncode == 1
    assert proc.stderr.decode().splitlines()[-2:] == [
        "tool greet: error: cannot prompt: there is no terminal to ask on",
        "tool greet: hint: pass the value as an argument instead",
    ]


def test_writing_plugins_md_summary_comment_and_sidecar(tenv: Env) -> None:
    summary, sidecar = _block("writing-plugins.md", "sh", 1), _block("writing-plugins.md", "sh", 2)
    assert "tool-summary:" in summary and "printf" in sidecar
    tenv.plugin("tool-deploy", summary + 'echo "deploying $*"\n')
    tenv.plugin("tool_complete-deploy", sidecar)
    listed = json.loads(tenv.run("list", "--json").stdout)["plugins"]
    assert [(p["summary"], p["summary_from"]) for p in listed] == [("Deploy the current build to an environment", "header")]
    completed = tenv.run("__complete", "--shell", "fish", "--", "deploy", "")
    assert offered(completed.stdout) == ["staging\tthe staging cluster", "production\tlive"]


def test_installing_md_lock_example_is_a_valid_lock_file(tmp_path: Path) -> None:
    from dispatch.install import lockfile

    path = tmp_path / "tool-plugins.lock"
    path.write_text(_block("installing.md", "toml"))
    entries = lockfile.load(str(path))
    assert [(name, request.kind) for name, request in entries] == [("deploy", "git"), ("report", "python")]

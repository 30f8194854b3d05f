"""The examples in docs/ work as written."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import Env

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

"""The protocol session through the real `tool`: every message type, every error path, --json."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from protocol.messages import FEATURES
from tests.conftest import DECLARATION, TOOL, Env, err_line, in_pty, python_plugin, raw_plugin, sdk_plugin, started

HELLO = '{"type":"hello","protocol":1,"plugin":{"name":"p","version":"1.0","summary":"s"}}'

SDK_DEMO = """
from protocol.plugin import Plugin, PluginError
plugin = Plugin("demo", version="2.0", summary="demo plugin")

@plugin.run
def run(ctx, args):
    ctx.log.debug("debug line")
    ctx.log.info("info line")
    ctx.log.warning("warning line")
    ctx.progress("working", current=1, total=2)
    if args and args[0] == "fail":
        raise PluginError("it broke", code="broken", hint="try again", exit_code=int(args[1]) if len(args) > 1 else 1)
    ctx.output("text out\\n")
    ctx.output(bytes(range(256)))
    return {"args": args, "interactive": ctx.interactive, "output": ctx.output_mode, "protocol": ctx.protocol}

plugin.main()
"""


@pytest.fixture
def demo(tenv: Env) -> Env:
    python_plugin(tenv, "tool-demo", SDK_DEMO)
    return tenv


def test_sdk_plugin_text_mode(demo: Env) -> None:
    proc = demo.run("demo", "a", "b")
    assert proc.returncode == 0
    # Output verbatim; the result is not repeated for people after text output.
    assert proc.stdout == b"text out\n" + bytes(range(256))
    assert proc.stderr.decode().splitlines() == ["info line", "warning: warning line"]


def test_verbosity_filters_logs(demo: Env) -> None:
    assert demo.run("-v", "demo").stderr.decode().count("debug: debug line") == 1
    assert demo.run("-q", "demo").stderr == b""


def test_sdk_plugin_json_mode(demo: Env) -> None:
    proc = demo.run("--json", "demo", "x")
    assert proc.returncode == 0
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [m["type"] for m in lines] == ["output", "output", "result", "exit"]
    assert lines[0] == {"type": "output", "text": "text out\n"}
    assert base64.b64decode(lines[1]["base64"]) == bytes(range(256))
    assert lines[2]["data"] == {"args": ["x"], "interactive": False, "output": "json", "protocol": 1}
    assert lines[3] == {"type": "exit", "code": 0}
    assert "info line" in proc.stderr.decode()


def test_plugin_error_is_reported_with_status(demo: Env) -> None:
    proc = demo.run("demo", "fail", "3")
    assert proc.returncode == 3
    assert proc.stderr.decode().splitlines()[-2:] == ["tool demo: error: it broke", "tool demo: hint: try again"]
    proc = demo.run("--json", "demo", "fail")
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[-2] == {"type": "error", "code": "broken", "message": "it broke", "hint": "try again"}
    assert lines[-1] == {"type": "exit", "code": 1}


def test_error_then_exit_zero_is_status_one(tenv: Env) -> None:
    raw_plugin(tenv, "tool-liar", [HELLO, '{"type":"error","code":"x","message":"failed"}'], "exit 0")
    proc = tenv.run("liar")
    assert proc.returncode == 1
    assert "tool liar: error: failed" in proc.stderr.decode()


def test_result_shown_as_text_when_no_output(tenv: Env) -> None:
    raw_plugin(tenv, "tool-res", [HELLO, '{"type":"result","data":{"n":1,"s":"caf\u00e9"}}'])
    proc = tenv.run("res")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"n": 1, "s": "café"}
    raw_plugin(tenv, "tool-res2", [HELLO, '{"type":"result","data":"plain words"}'])
    assert tenv.run("res2").stdout == b"plain words\n"


@pytest.mark.parametrize(
    ("supported", "fix"),
    [("[2,3]", "upgrade tool to a version that speaks protocol 2, 3"), ("[0]", "upgrade tool-old (or its SDK) to speak protocol 1")],
)
def test_no_common_version(tenv: Env, supported: str, fix: str) -> None:
    raw_plugin(tenv, "tool-old", [f'{{"type":"hello","protocol":null,"supported":{supported}}}'], "exit 76")
    proc = tenv.run("old")
    assert proc.returncode == 76
    line = err_line(proc)
    assert "no protocol version in common" in line and fix in line
    assert "tool-old speaks" in line and "speaks 1" in line


def test_version_the_host_did_not_offer(tenv: Env) -> None:
    raw_plugin(tenv, "tool-v7", ['{"type":"hello","protocol":7}'], "sleep 30")
    proc = tenv.run("v7")
    assert proc.returncode == 76
    assert "chose protocol 7, which tool did not offer (TOOL_PROTOCOL=1)" in err_line(proc)


def test_sdk_refuses_a_host_offering_no_version_it_speaks(tenv: Env) -> None:
    python_plugin(tenv, "tool-sdk", SDK_DEMO)
    from protocol.testing import run_plugin

    t = run_plugin([str(tenv.bin / "tool-sdk")], offer=[9], env=tenv.vars)
    assert t.hello == {"type": "hello", "protocol": None, "supported": [1], "plugin": t.hello["plugin"]}
    assert t.exit_code == 76


@pytest.mark.parametrize(
    ("lines", "fragment"),
    [
        (["Debug: x=1"], "not a protocol message (a stray print?"),
        (['{"type":"output","text":"unterminated'], "not valid JSON"),
        (['{"type":"log","level":"info"}'], "'log' message has no 'message' field"),
        (['{"type":"output","text":5}'], "field 'text' must be a string, got an integer"),
        (['{"type":"output","base64":"!!!"}'], "invalid base64"),
        ([HELLO], "a second 'hello' message"),
        (['{"type":"result","data":1}', '{"type":"result","data":2}'], "a second 'result' message"),
        (['[1]'], "not a JSON object"),
    ],
)
def test_protocol_errors_exit_76_quoting_the_line(tenv: Env, lines: list[str], fragment: str) -> None:
    raw_plugin(tenv, "tool-bad", [HELLO, *lines], "sleep 30")
    proc = tenv.run("bad")
    assert proc.returncode == 76
    line = err_line(proc)
    assert line.startswith("tool: protocol error from tool-bad: ")
    assert fragment in line
    if not lines[-1].startswith(('{"type":"result"', HELLO[:10])):
        assert lines[-1][:20] in line, "the offending line is quoted"


def test_protocol_error_in_json_mode_ends_with_exit_line(tenv: Env) -> None:
    raw_plugin(tenv, "tool-bad", [HELLO, '{"type":"output","text":"ok\\n"}', "oops"])
    proc = tenv.run("--json", "bad")
    assert proc.returncode == 76
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[0] == {"type": "output", "text": "ok\n"}
    assert lines[-2]["type"] == "error" and lines[-2]["code"] == "protocol_error"
    assert lines[-1] == {"type": "exit", "code": 76}


def test_eof_in_the_middle_of_a_message(tenv: Env) -> None:
    tenv.sh("tool-cut", f"{DECLARATION}printf '%s\\n' '{HELLO}'\nprintf '%s' '{{\"type\":\"output\",\"te'\n")
    proc = tenv.run("cut")
    assert proc.returncode == 76
    assert "stdout ended in the middle of a message" in err_line(proc)


def test_oversized_line_is_76_with_bounded_memory(tenv: Env) -> None:
    python_plugin(
        tenv,
        "tool-huge",
        f"""
        import os
        os.write(1, {HELLO!r}.encode() + b"\\n")
        chunk = b"x" * (1 << 20)
        try:
            for _ in range(64):
                os.write(1, chunk)
        except BrokenPipeError:
            pass
        """,
        declare=True,
    )
    # Measure the peak RSS of the host (the child of this small wrapper).
    wrapper = (
        "import resource, subprocess, sys\n"
        f"p = subprocess.run([{TOOL!r}, 'huge'], capture_output=True)\n"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.stderr.buffer.write(p.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, env=tenv.vars, timeout=120)
    code, maxrss_kb = proc.stdout.split()
    assert int(code) == 76
    assert b"line longer than 16777216 bytes" in proc.stderr
    assert int(maxrss_kb) < 120 * 1024, f"host peak RSS {int(maxrss_kb) // 1024} MiB for a 64 MiB line"


def test_unknown_types_ignored_and_unknown_methods_answered(tenv: Env) -> None:
    python_plugin(
        tenv,
        "tool-future",
        f"""
        import json, os, sys
        out = sys.stdout
        out.write({HELLO!r} + "\\n"); out.flush()
        run = json.loads(sys.stdin.readline())
        out.write('{{"type":"telemetry","x":1}}\\n')
        out.write('{{"type":"request","id":9,"method":"teleport","params":{{}}}}\\n'); out.flush()
        reply = json.loads(sys.stdin.readline())
        out.write(json.dumps({{"type": "output", "text": reply["error"]["code"] + "\\n"}}) + "\\n")
        """,
        declare=True,
    )
    proc = tenv.run("future")
    assert (proc.returncode, proc.stdout) == (0, b"unknown_method\n")


def test_run_message_fields(tenv: Env) -> None:
    python_plugin(
        tenv,
        "tool-echo-run",
        f"""
        import json, sys
        sys.stdout.write({HELLO!r} + "\\n"); sys.stdout.flush()
        run = sys.stdin.readline()
        sys.stdout.write(json.dumps({{"type": "result", "data": json.loads(run)}}) + "\\n")
        """,
        declare=True,
    )
    proc = tenv.run("--json", "-v", "--no-input", "echo-run", "a", "--b", env={"COLUMNS": "123"})
    run = json.loads(proc.stdout.splitlines()[0])["data"]
    assert run == {
        "type": "run",
        "argv": ["a", "--b"],
        "interactive": False,
        "output": "json",
        "color": False,
        "width": 123,
        "verbosity": 1,
        "host": {"name": "tool", "version": run["host"]["version"]},
        "features": list(FEATURES),
        "stdin_fd": 3,  # the test's stdin is a pipe, not a terminal: the plugin may read it directly
    }


def test_prompt_without_a_terminal_is_interaction_unavailable(tenv: Env) -> None:
    sample = Path(__file__).resolve().parent.parent / "sample-plugins" / "tool-greet"
    tenv.plugin("tool-greet", sample.read_text())
    proc = tenv.run("greet")
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "tool greet: error: cannot prompt: there is no terminal to ask on" in err
    assert "hint: pass the value as an argument instead" in err
    assert tenv.run("greet", "Ada").stdout == b"Hello, Ada!\n"


def test_prompt_on_a_terminal(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-ask", """
        name = ctx.prompt("Name?", default="nobody")
        pw = ctx.prompt("Password?", secret=True)
        ctx.output(f"name={name} pwlen={len(pw)}\\n")
    """)
    term = in_pty(tenv, "ask")
    term.read_until(b"Name? [nobody] ")
    term.send(b"Ada\r")
    term.read_until(b"Password? ")
    term.send(b"s3cret!\r")
    code, screen = term.finish()
    assert code == 0
    assert b"name=Ada pwlen=7" in screen
    assert b"s3cret" not in screen, "a secret answer is not echoed"
    term = in_pty(tenv, "--no-input", "ask")
    code, screen = term.finish()
    assert code == 1 and b"--no-input was given" in screen


def test_read_input_is_byte_exact(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-upper", """
        h = hashlib.sha256()
        total = 0
        while True:
            chunk = ctx.read_input(int(args[0]))
            if not chunk:
                break
            h.update(chunk)
            total += len(chunk)
            if args[1:] == ["echo"]:
                ctx.output(chunk)
        return {"sha256": h.hexdigest(), "bytes": total}
    """, header="import hashlib")
    data = os.urandom(1 << 20) + bytes(range(256))
    proc = tenv.run("--json", "upper", "65536", input=data)
    result = json.loads(proc.stdout.splitlines()[0])["data"]
    assert result == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    proc = tenv.run("upper", "1000", "echo", input=data)
    assert proc.stdout == data
    assert tenv.run("--json", "upper", "10").stdout.startswith(b'{"type":"result","data":{"sha256":"e3b0')


def test_plain_plugin_in_json_mode(tenv: Env) -> None:
    # Split a multi-byte character across writes, then bytes that are not UTF-8.
    tenv.sh("tool-mixed", "printf 'caf\\303'; sleep 0.2; printf '\\251\\n'; sleep 0.2; printf '\\377\\376'; exit 4\n")
    proc = tenv.run("--json", "mixed")
    assert proc.returncode == 4
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[-1] == {"type": "exit", "code": 4}
    out = b""
    for m in lines[:-1]:
        assert m["type"] == "output"
        out += m["text"].encode() if "text" in m else base64.b64decode(m["base64"])
    assert out == "café\n".encode() + b"\xff\xfe"
    assert any("text" in m and "é" in m["text"] for m in lines)


def test_json_mode_for_host_failures(tenv: Env) -> None:
    proc = tenv.run("--json", "nosuch")
    assert proc.returncode == 127
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[0]["type"] == "error" and lines[0]["code"] == "not_found"
    assert lines[-1] == {"type": "exit", "code": 127}


def test_plain_plugin_printing_json_is_plain(tenv: Env) -> None:
    tenv.sh("tool-status", "echo '{\"status\":\"ok\"}'\necho done\n")
    proc = tenv.run("status")
    assert (proc.returncode, proc.stdout) == (0, b'{"status":"ok"}\ndone\n')


def test_plain_plugin_reading_stdin_first(tenv: Env) -> None:
    tenv.sh("tool-count", "exec wc -l\n")
    proc = tenv.run("count", input=b"a\nb\nc\n", env={"TOOL_HANDSHAKE_TIMEOUT": "0.3"})
    assert (proc.returncode, proc.stdout.strip()) == (0, b"3")
    # Remembered as plain (it was silent while running): the next run is direct.
    proc = tenv.run("count", input=b"a\n")
    assert proc.stdout.strip() == b"1"


def test_late_hello_is_a_protocol_error(tenv: Env) -> None:
    tenv.sh("tool-slow", f"{DECLARATION}sleep 1\nprintf '%s\\n' '{HELLO}'\nsleep 30\n")
    proc = tenv.run("slow", env={"TOOL_HANDSHAKE_TIMEOUT": "0.3"})
    assert proc.returncode == 76
    assert "greeted after the 0.3 s handshake window" in err_line(proc)


def _declared_cache(tenv: Env) -> list[str]:
    d = tenv.root / "cache" / "tool" / "declared"
    return sorted(os.readlink(p) for p in d.iterdir()) if d.exists() else []


def _big(tenv: Env, name: str, body: str) -> Path:
    """A plugin file large enough that its declaration scan is cached (a compiled plugin's size)."""
    return tenv.sh(name, body + "exit $?\n" + "#" * (300 * 1024) + "\n")


def test_only_large_files_have_their_scan_cached(tenv: Env) -> None:
    tenv.sh("tool-small", "echo small\n")
    assert tenv.run("small").stdout == b"small\n"
    assert _declared_cache(tenv) == [], "a script is simply read each time"
    _big(tenv, "tool-bigplain", "echo big\n")
    assert tenv.run("bigplain").stdout == b"big\n"
    _big(tenv, "tool-bigproto", DECLARATION + f"printf '%s\\n' '{HELLO}' '{{\"type\":\"output\",\"text\":\"p\\n\"}}'\n")
    assert tenv.run("bigproto").stdout == b"p\n"
    assert _declared_cache(tenv) == ["TOOL_PROTOCOL=no", "TOOL_PROTOCOL=yes"]
    # The cached answers serve the next runs the same way.
    assert (tenv.run("bigplain").stdout, tenv.run("bigproto").stdout) == (b"big\n", b"p\n")


def test_edited_plugin_follows_its_file(tenv: Env) -> None:
    for make in (tenv.sh, lambda name, body: _big(tenv, name, body)):
        make("tool-up", 'echo "v1 $(env | grep -c PROTOCOL=)"\n')
        assert tenv.run("up").stdout == b"v1 0\n"
        # The same file, now declaring and speaking the protocol: the next run follows the file.
        make("tool-up", f"{DECLARATION}printf '%s\\n' '{HELLO}' '{{\"type\":\"output\",\"text\":\"v2\\n\"}}'\n")
        assert tenv.run("up").stdout == b"v2\n"


@pytest.mark.parametrize("garbage", ["file", "dangling", "bad-target", "other-needle"])
def test_corrupted_cache_is_ignored(tenv: Env, garbage: str) -> None:
    _big(tenv, "tool-c", "echo plain\n")
    tenv.run("c")
    d = tenv.root / "cache" / "tool" / "declared"
    (entry,) = list(d.iterdir())
    entry.unlink()
    if garbage == "file":
        entry.write_bytes(b"\x00garbage")
    elif garbage == "dangling":
        entry.symlink_to("TOOL_PROTOCOL=")
    elif garbage == "bad-target":
        entry.symlink_to("../../../../etc/passwd")
    else:
        entry.symlink_to("MYCLI_PROTOCOL=yes")
    # Unknown again: scanned, and still plain (exec'd: no protocol variable).
    proc = tenv.run("c")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"plain\n", b"")


def test_unwritable_cache_changes_nothing(tenv: Env) -> None:
    blocker = tenv.root / "not-a-dir"
    blocker.write_text("")
    _big(tenv, "tool-c", 'echo "offers: $(env | grep -c PROTOCOL=)"\n')
    for _ in range(2):
        proc = tenv.run("c", env={"XDG_CACHE_HOME": str(blocker)})
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"offers: 0\n", b"")


def test_while_read_loop_processes_every_line(tenv: Env) -> None:
    # Every run is a first run (no cache), and the plugin ignores its stdin:
    # what the host relayed but the plugin never read goes back to the file.
    tenv.sh("tool-x", 'echo "got $1"\n')
    lines = [f"line{i}" for i in range(20)]
    data = tenv.root / "input.txt"
    data.write_text("".join(f"{line}\n" for line in lines))
    blocker = tenv.root / "no-cache"
    blocker.write_text("")
    script = f'while read l; do "{TOOL}" x "$l"; done < {data}'
    proc = subprocess.run(
        ["/bin/sh", "-c", script], capture_output=True, env={**tenv.vars, "XDG_CACHE_HOME": str(blocker)}, timeout=120
    )
    assert proc.stdout.decode().splitlines() == [f"got {line}" for line in lines]


def test_plain_plugin_that_reads_some_stdin_leaves_the_rest(tenv: Env) -> None:
    tenv.sh("tool-head1", 'echo start; IFS= read -r first; echo "took $first"\n')
    data = tenv.root / "input.txt"
    data.write_text("a\nb\nc\n")
    blocker = tenv.root / "no-cache"
    blocker.write_text("")
    script = f'{{ "{TOOL}" head1; echo "rest: $(cat)"; }} < {data}'
    proc = subprocess.run(
        ["/bin/sh", "-c", script], capture_output=True, env={**tenv.vars, "XDG_CACHE_HOME": str(blocker)}, timeout=60
    )
    assert proc.stdout.decode().splitlines() == ["start", "took a", "rest: b", "c"]


def test_sdk_protects_the_stream_from_stray_prints(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-noisy", """
        print("a stray print")
        os.system("echo from a child process")
        sys.stdout.flush()
        ctx.output("real output\\n")
        return {"ok": True}
    """)
    proc = tenv.run("--json", "noisy")
    assert proc.returncode == 0
    assert [json.loads(x)["type"] for x in proc.stdout.splitlines()] == ["output", "result", "exit"]
    assert b"a stray print" in proc.stderr and b"from a child process" in proc.stderr


def test_sdk_plugin_run_directly_is_an_ordinary_command(tenv: Env) -> None:
    path = python_plugin(tenv, "tool-demo", SDK_DEMO)
    env = {k: v for k, v in tenv.vars.items()}
    proc = subprocess.run([str(path), "a"], capture_output=True, env=env, timeout=60)
    assert proc.returncode == 0
    # As under the host: the result is for scripts when the plugin already wrote for people.
    assert proc.stdout == b"text out\n" + bytes(range(256))
    proc = subprocess.run([str(path), "fail", "5"], capture_output=True, env=env, timeout=60)
    assert proc.returncode == 5
    assert proc.stderr.decode().splitlines()[-2:] == ["demo: error: it broke", "demo: hint: try again"]


def test_sdk_honours_cancel(tenv: Env) -> None:
    from protocol.testing import run_plugin

    path = sdk_plugin(tenv, "tool-loop", """
        ctx.output("started\\n")
        while True:
            time.sleep(0.05)
    """)
    t = run_plugin([str(path)], cancel_after=0.5, env=tenv.vars, timeout=30)
    assert t.output == b"started\n"
    assert t.exit_code == 130


def test_sdk_stops_when_the_host_goes_away(tenv: Env) -> None:
    path = sdk_plugin(tenv, "tool-orphan", """
        while True:
            time.sleep(0.05)
    """)
    proc = started([str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**tenv.vars, "TOOL_PROTOCOL": "1"})
    assert json.loads(proc.stdout.readline())["type"] == "hello"  # type: ignore[union-attr]
    run = {"type": "run", "argv": [], "interactive": False, "output": "text", "color": False, "width": 80, "verbosity": 0, "host": {"name": "t", "version": "0"}}
    proc.stdin.write(json.dumps(run).encode() + b"\n")  # type: ignore[union-attr]
    proc.stdin.close()  # type: ignore[union-attr]  # the host is gone
    assert proc.wait(timeout=30) != 0


def test_testing_helper_drives_the_sample(tenv: Env) -> None:
    from protocol.testing import run_plugin

    sample = os.path.join(os.path.dirname(__file__), "..", "sample-plugins", "tool-greet")
    t = run_plugin([sys.executable, sample], answers={"Who shall I greet?": "Grace"}, env=tenv.vars)
    assert t.exit_code == 0
    assert t.prompts == ["Who shall I greet?"]
    assert t.output == b"Hello, Grace!\n"
    assert t.result == {"greeted": "Grace"}
    assert ("info", "preparing a greeting for Grace") in t.logs
    assert [p["current"] for p in t.progress] == [1, 2, 3]
    t = run_plugin([sys.executable, sample], interactive=False, env=tenv.vars)
    assert t.exit_code == 1 and t.error is not None and t.error["code"] == "interaction_unavailable"

"""Protocol 1's features (docs/protocol.md, "Features"), each from both sides through real
processes: the host (`tool`, driven by plugins that write the wire format by hand) and the SDK
(plugins written with protocol.plugin, run by `tool` and by the fake host of protocol.testing)."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time

import pytest

from protocol.messages import FEATURES
from protocol.testing import run_plugin
from tests.conftest import DECLARATION, HANG_BOUND, TOOL, Env, err_line, in_pty, sdk_plugin, started

HELLO = '{"type":"hello","protocol":1}'


def wire_plugin(env: Env, name: str, script: str, *, hello: str = HELLO) -> None:
    """An sh plugin that greets with `hello`, keeps the first request in $ROOT/heard, then runs `script`
    (which may read more lines with `read -r line`)."""
    env.sh(name, f"""{DECLARATION}printf '%s\\n' '{hello}'
IFS= read -r first
printf '%s\\n' "$first" > {env.root}/heard
{script}
""")


def heard(env: Env) -> list[dict[str, object]]:
    return [json.loads(line) for line in (env.root / "heard").read_text().splitlines()]


def json_lines(data: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in data.splitlines()]


# -- features and requires ----------------------------------------------------------------------


def test_every_request_lists_the_hosts_features(tenv: Env) -> None:
    wire_plugin(tenv, "tool-f", """printf '%s\\n' '{"type":"description","summary":"s"}'""")
    tenv.run("help", "f")
    assert heard(tenv)[0]["type"] == "describe" and heard(tenv)[0]["features"] == list(FEATURES)
    wire_plugin(tenv, "tool-f", """printf '%s\\n' '{"type":"completions","candidates":[]}'""")
    tenv.run("f")  # known as a protocol plugin from now on: completion may ask it
    tenv.run("__complete", "--shell", "bash", "--", "f", "")
    assert heard(tenv)[0]["type"] == "complete" and heard(tenv)[0]["features"] == list(FEATURES)


def test_a_plugin_requiring_what_the_host_lacks_is_76_upgrade_tool(tenv: Env) -> None:
    wire_plugin(tenv, "tool-new", "", hello='{"type":"hello","protocol":1,"requires":["records","hologram"]}')
    proc = tenv.run("new")
    assert proc.returncode == 76
    line = err_line(proc)
    assert "requires 'hologram', which tool" in line and "upgrade tool" in line
    assert not (tenv.root / "heard").exists() or not (tenv.root / "heard").read_text().strip(), "it is sent nothing"


def test_requiring_what_the_host_has_runs(tenv: Env) -> None:
    wire_plugin(tenv, "tool-ok", """printf '%s\\n' '{"type":"record","data":{"a":1}}'""",
                hello='{"type":"hello","protocol":1,"features":["records"],"requires":["records"]}')
    proc = tenv.run("ok")
    assert (proc.returncode, proc.stdout) == (0, b'{"a":1}\n')


def test_sdk_hello_lists_features_and_requires(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-req", "return 1", header="Plugin = __import__('functools').partial(Plugin, requires=['call'])")
    t = run_plugin([str(tenv.bin / "tool-req")], env=tenv.vars)
    assert t.hello is not None and t.hello["features"] == list(FEATURES) and t.hello["requires"] == ["call"]
    with pytest.raises(Exception, match=r"requires 'call'.*upgrade tool-testing"):
        run_plugin([str(tenv.bin / "tool-req")], env=tenv.vars, features=["records"])


# -- records --------------------------------------------------------------------------------------

RECORDS = """
for i in range(int(args[0])):
    ctx.record({"name": f"item{i}", "size": i * 10, "ok": i % 2 == 0, "tags": ["a", "b"] if i == 0 else None})
"""


def test_records_in_a_pipe_are_json_lines(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-rows", RECORDS)
    proc = tenv.run("rows", "3")
    assert proc.returncode == 0
    assert json_lines(proc.stdout) == [
        {"name": "item0", "size": 0, "ok": True, "tags": ["a", "b"]},
        {"name": "item1", "size": 10, "ok": False, "tags": None},
        {"name": "item2", "size": 20, "ok": True, "tags": None},
    ]


def test_records_under_json_are_messages(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-rows", RECORDS)
    lines = json_lines(tenv.run("--json", "rows", "2").stdout)
    assert [m["type"] for m in lines] == ["record", "record", "exit"]
    assert lines[1]["data"] == {"name": "item1", "size": 10, "ok": False, "tags": None}


def test_records_on_a_terminal_are_a_table_cut_to_the_width(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-rows", """
        ctx.record({"name": "short", "size": 5, "note": "x"})
        ctx.record({"name": "a-much-longer-name", "size": 12345, "note": "n" * 200 + "\\x1b[31m"})
    """)
    code, screen = in_pty(tenv, "rows").finish()
    assert code == 0
    lines = screen.decode().splitlines()
    assert lines[0] == "NAME                 SIZE  NOTE"
    assert lines[1] == "short                   5  x", "numbers to the right"
    assert lines[2].startswith("a-much-longer-name  12345  nnn") and lines[2].endswith("\u2026")
    assert max(len(line) for line in lines) <= 80
    assert "\x1b[31m" not in screen.decode(), "a plugin's escape sequences never reach the terminal"


def test_a_table_streams_rows_while_the_plugin_still_runs(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-slow", """
        for i in range(3):
            ctx.record({"n": i})
        time.sleep(HANG)
    """, header=f"HANG = {HANG_BOUND}")
    term = in_pty(tenv, "slow")
    term.read_until(b"N\r\n0\r\n1\r\n2\r\n")  # the first rows are held a moment to size the columns, not to the end
    term.proc.send_signal(signal.SIGTERM)
    code, _ = term.finish()
    assert code == -signal.SIGTERM


def test_records_reach_a_pipe_as_they_come(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-slow", """
        ctx.record({"n": 1})
        time.sleep(HANG)
    """, header=f"HANG = {HANG_BOUND}")
    host = started([TOOL, "slow"], stdout=-1, env=tenv.vars)
    assert host.stdout is not None and host.stdout.readline() == b'{"n":1}\n'
    host.terminate()
    assert host.wait(HANG_BOUND) == -signal.SIGTERM, "the plugin ended by cancel (143), the host as it would have"


def test_sdk_records_with_an_older_host_are_json_lines(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-rows", RECORDS)
    t = run_plugin([str(tenv.bin / "tool-rows")], ["2"], env=tenv.vars, features=[])
    assert t.records == [] and json_lines(t.output)[1]["size"] == 10
    t = run_plugin([str(tenv.bin / "tool-rows")], ["2"], env=tenv.vars)
    assert t.output == b"" and t.records[0]["tags"] == ["a", "b"]


def test_sdk_records_run_directly_are_json_lines(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-rows", RECORDS)
    proc = started([tenv.bin / "tool-rows", "1"], stdout=-1, env=tenv.vars)
    out, _ = proc.communicate(timeout=HANG_BOUND)
    assert json_lines(out) == [{"name": "item0", "size": 0, "ok": True, "tags": ["a", "b"]}]


# -- progress with ids ----------------------------------------------------------------------------


def test_progress_lines_by_id_shown_together_and_cleared_when_done(tenv: Env) -> None:
    wire_plugin(tenv, "tool-tasks", """
printf '%s\\n' '{"type":"progress","id":"a","message":"copying","current":1,"total":4}'
sleep 0.2
printf '%s\\n' '{"type":"progress","id":"b","message":"hashing","current":3,"total":4}'
sleep 0.2
printf '%s\\n' '{"type":"progress","id":"a","done":true}'
printf '%s\\n' '{"type":"progress","id":"b","done":true}'
printf '%s\\n' '{"type":"output","text":"finished\\n"}'
""")
    code, screen = in_pty(tenv, "tasks").finish()
    assert code == 0
    text = screen.decode()
    assert "copying 1/4 (25%)" in text and "hashing 3/4 (75%)" in text
    both = text.index("hashing")
    assert "\x1b[1A" in text[both:], "the two lines are erased together, the cursor moving up one"
    assert text.rstrip().endswith("finished")


def test_sdk_tasks_send_ids_and_done(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-tasks", """
        with ctx.task("copy", total=2) as a, ctx.task("hash") as b:
            a.update(1)
            b.update(message="hashing")
    """)
    t = run_plugin([str(tenv.bin / "tool-tasks")], env=tenv.vars)
    assert [(p.get("id"), p.get("message"), p.get("current"), p.get("done")) for p in t.progress] == [
        ("task-1", "copy", None, None), ("task-2", "hash", None, None), ("task-1", "copy", 1, None),
        ("task-2", "hashing", None, None), ("task-2", "hashing", None, True), ("task-1", "copy", 1, True),
    ]
    t = run_plugin([str(tenv.bin / "tool-tasks")], env=tenv.vars, features=[])
    assert all("id" not in p and "done" not in p for p in t.progress), "an older host gets its one line"


# -- confirm and choose ---------------------------------------------------------------------------

ASK = """
ok = ctx.confirm("Delete it?", default=False)
colour = ctx.choose("Colour?", ["red", "green", "blue"], default="green")
ctx.output(f"ok={ok} colour={colour}\\n")
"""


def test_confirm_and_choose_on_a_terminal(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-ask", ASK)
    term = in_pty(tenv, "ask")
    term.read_until(b"Delete it? [y/N] ")
    term.send(b"maybe\r")
    term.read_until(b"Please answer y or n: ")
    term.send(b"y\r")
    term.read_until(b"1) red")
    term.read_until(b"[green]: ")
    term.send(b"3\r")
    code, screen = term.finish()
    assert code == 0 and b"ok=True colour=blue" in screen
    term = in_pty(tenv, "ask")
    term.read_until(b"[y/N] ")
    term.send(b"\r")
    term.read_until(b"[green]: ")
    term.send(b"\r")
    code, screen = term.finish()
    assert code == 0 and b"ok=False colour=green" in screen, "an empty answer takes the default"


def test_confirm_without_a_terminal_or_with_no_input_is_refused_cleanly(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-ask", ASK)
    proc = tenv.run("ask")
    assert proc.returncode == 1
    assert b"cannot prompt: there is no terminal to ask on" in proc.stderr
    code, screen = in_pty(tenv, "--no-input", "ask").finish()
    assert code == 1 and b"--no-input was given" in screen


def test_questions_with_bad_params_are_invalid_params(tenv: Env) -> None:
    wire_plugin(tenv, "tool-bad", """
printf '%s\\n' '{"type":"request","id":1,"method":"choose","params":{"message":"Pick","choices":[]}}'
IFS= read -r answer; printf '%s\\n' "$answer" >> {root}/heard
""".replace("{root}", str(tenv.root)))
    code, _ = in_pty(tenv, "bad").finish()
    assert code == 0
    assert heard(tenv)[1]["error"]["code"] == "invalid_params"


def test_sdk_questions_with_the_fake_host_and_an_older_one(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-ask", ASK)
    t = run_plugin([str(tenv.bin / "tool-ask")], env=tenv.vars, answers={"Delete it?": True, "Colour?": "red"})
    assert t.output == b"ok=True colour=red\n" and t.prompts == ["Delete it?", "Colour?"]
    # An older host has prompts only: the SDK asks in words and reads the answer itself.
    t = run_plugin([str(tenv.bin / "tool-ask")], env=tenv.vars, features=[],
                   answers={"Delete it? (y/n)": "yes", "Colour? (red/green/blue)": "blue"})
    assert t.output == b"ok=True colour=blue\n"
    with pytest.raises(Exception, match=r"no key of answers matches.*'Colour'"):
        run_plugin([str(tenv.bin / "tool-ask")], env=tenv.vars, answers={"Delete it?": "y", "Colour": "red"})


# -- the terminal, handed over --------------------------------------------------------------------


def test_the_terminal_handed_to_a_plugin_and_taken_back(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-edit", """
        import subprocess
        ctx.progress("before")
        with ctx.terminal():
            # What an editor does: its own terminal modes, reading keys from the terminal.
            subprocess.run(["sh", "-c", "stty -echo -icanon; printf 'key? '; k=$(dd bs=1 count=1 2>/dev/null); echo; echo got=$k"])
        ctx.output("back\\n")
    """)
    term = in_pty(tenv, "edit")
    term.read_until(b"key? ")
    term.send(b"q")
    term.read_until(b"got=q")
    code, screen = term.finish(close=False)
    import termios

    attrs = termios.tcgetattr(term.master)
    os.close(term.master)
    assert code == 0 and b"back" in screen
    assert attrs[3] & termios.ECHO and attrs[3] & termios.ICANON, "the host put the terminal's modes back"


def test_the_terminal_is_refused_without_one(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-edit", """
        with ctx.terminal():
            ctx.output("never\\n")
    """)
    proc = tenv.run("edit")
    assert proc.returncode == 1 and proc.stdout == b""
    assert b"there is no terminal to hand over" in proc.stderr
    t = run_plugin([str(tenv.bin / "tool-edit")], env=tenv.vars)
    assert t.exit_code == 1 and t.error is not None and "no terminal" in t.error["message"]


# -- calls ------------------------------------------------------------------------------------------


def test_a_call_returns_another_commands_output_records_result_and_exit(tenv: Env) -> None:
    tenv.sh("tool-plain", "echo plain says $1; exit 3")
    sdk_plugin(tenv, "tool-rows", RECORDS + "return {'n': int(args[0])}")
    sdk_plugin(tenv, "tool-compose", """
        rows = ctx.call("rows", "2")
        plain = ctx.call("plain", "hi")
        version = ctx.call("version")
        missing = ctx.call("nope")
        return {"rows": [rows.exit, len(rows.records), rows.result], "plain": [plain.exit, plain.text],
                "version": [version.exit, version.result is not None or "tool" in version.text],
                "missing": missing.exit, "stdin": sys.stdin.read()}
    """)
    proc = tenv.run("--json", "compose", input=b"for the caller only")
    result = json_lines(proc.stdout)[0]["data"]
    assert result == {"rows": [0, 2, {"n": 2}], "plain": [3, "plain says hi\n"], "version": [0, True], "missing": 127, "stdin": ""}


def test_calls_nest_eight_deep_at_most(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-again", """
        depth = int(args[0]) if args else 0
        try:
            inner = ctx.call("again", str(depth + 1))
        except PluginError as e:
            return {"deepest": depth, "why": e.code}
        return inner.result
    """)
    proc = tenv.run("--json", "again")
    assert json_lines(proc.stdout)[0]["data"] == {"deepest": 8, "why": "call_failed"}


def test_a_call_is_stopped_with_its_caller(tenv: Env) -> None:
    pidfile = tenv.root / "inner.pid"
    tenv.sh("tool-inner", f"echo $$ > {pidfile}; exec sleep {HANG_BOUND}")
    sdk_plugin(tenv, "tool-outer", 'ctx.call("inner")')
    host = started([TOOL, "--timeout", "1", "outer"], env=tenv.vars)
    assert host.wait(HANG_BOUND) == 124
    deadline = time.monotonic() + HANG_BOUND
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_sdk_calls_through_the_fake_host(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-compose", 'return ctx.call("list", "--x").records')
    t = run_plugin([str(tenv.bin / "tool-compose")], env=tenv.vars, calls=lambda argv: {"records": [{"argv": argv}]})
    assert t.result == [{"argv": ["list", "--x"]}] and t.calls == [["list", "--x"]]
    t = run_plugin([str(tenv.bin / "tool-compose")], env=tenv.vars, features=[])
    assert t.exit_code == 1 and t.error is not None and "upgrade" in t.error["message"]


# -- the user's stdin as a descriptor -------------------------------------------------------------


def test_stdin_fd_is_the_users_stdin_byte_exact(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-sum", """
        data = ctx.stdin.read()
        return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    """, header="import hashlib")
    data = os.urandom(3 << 20) + b"\r\n\x00\xff"
    proc = tenv.run("--json", "sum", input=data)
    assert json_lines(proc.stdout)[0]["data"] == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    t = run_plugin([str(tenv.bin / "tool-sum")], env=tenv.vars, stdin=data, stdin_fd=True)
    assert t.result["bytes"] == len(data)
    t = run_plugin([str(tenv.bin / "tool-sum")], env=tenv.vars, stdin=data)  # through read_input
    assert t.result["sha256"] == hashlib.sha256(data).hexdigest()


def test_sh_plugin_reads_the_descriptor_named_in_run(tenv: Env) -> None:
    wire_plugin(tenv, "tool-count", """
fd=$(printf '%s' "$first" | sed -n 's/.*"stdin_fd":\\([0-9]*\\).*/\\1/p')
n=$(eval "wc -c <&$fd")
printf '{"type":"result","data":%d}\\n' "$n"
""")
    proc = tenv.run("--json", "count", input=b"x" * 100000)
    assert json_lines(proc.stdout)[0]["data"] == 100000


def test_no_stdin_fd_when_stdin_is_the_terminal(tenv: Env) -> None:
    wire_plugin(tenv, "tool-run", "")
    code, _ = in_pty(tenv, "run").finish()
    assert code == 0 and "stdin_fd" not in heard(tenv)[0]


# -- arguments that are not UTF-8 -----------------------------------------------------------------


def test_non_utf8_arguments_are_valid_json_with_their_exact_bytes(tenv: Env) -> None:
    wire_plugin(tenv, "tool-args", "")
    tenv.run("args", b"caf\xe9", "ok", b"\xff\xfe")
    run = heard(tenv)[0]
    assert run["argv"] == ["caf\ufffd", "ok", "\ufffd\ufffd"]
    assert run["argv_raw"] == ["Y2Fm6Q==", None, "//4="]
    sdk_plugin(tenv, "tool-sdkargs", "return [os.fsencode(a).hex() for a in args]")
    proc = tenv.run("--json", "sdkargs", b"caf\xe9", "\u00e9")
    assert json_lines(proc.stdout)[0]["data"] == [b"caf\xe9".hex(), "\u00e9".encode().hex()]


def test_utf8_arguments_have_no_argv_raw(tenv: Env) -> None:
    wire_plugin(tenv, "tool-args", "")
    tenv.run("args", "\u00e9t\u00e9", "-x")
    assert "argv_raw" not in heard(tenv)[0]


# -- cancel ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("how", "reason", "code"), [("timeout", "timeout", 124), ("sigterm", "terminate", 143)])
def test_cancel_says_why_and_how_long_and_pending_requests_are_cancelled(tenv: Env, how: str, reason: str, code: int) -> None:
    record = tenv.root / "after"
    tenv.plugin("tool-wait", f"""#!{sys.executable}
{DECLARATION}import sys
sys.stdout.write('{HELLO}\\n'); sys.stdout.flush()
sys.stdin.readline()
sys.stdout.write('{{"type":"request","id":7,"method":"read_input","params":{{}}}}\\n'); sys.stdout.flush()
log = open({str(record)!r}, "w")
for line in sys.stdin:
    log.write(line); log.flush()
    if '"response"' in line:
        sys.exit({code})
""")
    r, w = os.pipe()  # stdin that never ends: read_input stays pending
    try:
        host = started([TOOL, *(["--timeout", "1"] if how == "timeout" else []), "wait"],
                       stdin=r, env=tenv.vars)
        if how == "sigterm":
            time.sleep(1)
            host.terminate()
        # The plugin's status after cancel is the host's too (by the signal itself for SIGTERM: a shell sees 143).
        assert host.wait(HANG_BOUND) == (code if how == "timeout" else -signal.SIGTERM)
    finally:
        os.close(r)
        os.close(w)
    cancel, response = (json.loads(line) for line in record.read_text().splitlines())
    assert cancel["type"] == "cancel" and cancel["reason"] == reason and cancel["grace"] > 0
    assert response == {"type": "response", "id": 7, "error": {"code": "cancelled", "message": f"the run was stopped ({reason})"}}


def test_sdk_exit_status_after_cancel(tenv: Env) -> None:
    sdk_plugin(tenv, "tool-long", "time.sleep(HANG)", header=f"HANG = {HANG_BOUND}")
    t = run_plugin([str(tenv.bin / "tool-long")], env=tenv.vars, cancel_after=0.5)
    assert t.exit_code == 130
    host = started([TOOL, "--timeout", "0.5", "long"], env=tenv.vars)
    assert host.wait(HANG_BOUND) == 124

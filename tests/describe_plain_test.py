"""Plain plugins described and completed without being run: a summary comment in the file, a
completion sidecar; and `list`/`help` fitted to a terminal, with restrained colour."""
from __future__ import annotations

import json
import os
import time

from tests.conftest import TOOL, Env, PtyRun


def _never_run(tenv: Env, name: str, header: str) -> None:
    """A plain plugin that leaves a mark if it is ever run."""
    tenv.sh(f"tool-{name}", f'{header}\ntouch "{tenv.root}/ran-{name}"\n')


def test_a_summary_comment_is_shown_by_list_and_help(tenv: Env) -> None:
    _never_run(tenv, "deploy", "# tool-summary: Deploy the app\n# more comment")
    tenv.plugin("tool-py", '#!/usr/bin/env python3\n"""tool-summary: A Python one"""\n')
    tenv.plugin("tool-js", "#!/usr/bin/env node\n// tool-summary:   spaced   out  \n")
    _never_run(tenv, "code", 'echo "tool-summary: not a comment"')
    _never_run(tenv, "late", "\n" * 25 + "# tool-summary: too far down")
    _never_run(tenv, "nasty", "# tool-summary: \033]0;owned\007red \033[31mtext" + "x" * 300)
    listing = json.loads(tenv.run("list", "--json").stdout)
    got = {p["name"]: (p["summary"], p["summary_from"]) for p in listing["plugins"]}
    assert got["deploy"] == ("Deploy the app", "header")
    assert got["py"] == ("A Python one", "header")
    assert got["js"] == ("spaced out", "header")
    assert got["code"] == got["late"] == (None, None)
    nasty, source = got["nasty"]
    assert source == "header" and len(nasty) == 200 and nasty.startswith("\033]0;owned")  # JSON carries it as given
    text = tenv.run("list").stdout.decode()
    assert "Deploy the app" in text and "\033" not in text and "\\e]0;owned" in text
    helped = tenv.run("help").stdout.decode()
    assert "  deploy               Deploy the app\n" in helped and "\033" not in helped
    assert not list(tenv.root.glob("ran-*")), "a plain plugin was run to describe it"


def test_a_protocol_plugins_own_summary_wins_over_its_comment(tenv: Env) -> None:
    from tests.conftest import python_plugin

    python_plugin(tenv, "tool-p", "# tool-summary: from the comment\nfrom protocol.plugin import Plugin\n"
                  "plugin = Plugin('p', summary='from the plugin')\nplugin.run(lambda ctx, args: None)\nplugin.main()\n")
    before = {p["name"]: p for p in json.loads(tenv.run("list", "--json").stdout)["plugins"]}
    assert (before["p"]["summary"], before["p"]["summary_from"]) == ("from the comment", "header")  # not run yet
    tenv.run("list", "--refresh")
    after = {p["name"]: p for p in json.loads(tenv.run("list", "--json").stdout)["plugins"]}
    assert (after["p"]["summary"], after["p"]["summary_from"]) == ("from the plugin", "plugin")


def _complete(tenv: Env, *words: str, shell: str = "bash") -> list[str]:
    proc = tenv.run("__complete", "--shell", shell, "--", *words)
    assert proc.returncode == 0 and proc.stderr == b""
    return proc.stdout.decode().splitlines()


def test_a_sidecar_completes_a_plain_plugin(tenv: Env) -> None:
    _never_run(tenv, "deploy", "")
    log = tenv.root / "sidecar-args"
    tenv.sh("tool_complete-deploy", f"""\
        printf '%s\\n' "$@" > "{log}"
        echo "noise" >&2
        printf 'staging\\tthe staging cluster\\nproduction\\tlive\\n:4\\n'
        cat  # stdin is /dev/null: ends at once
        """)
    assert _complete(tenv, "deploy", "--to", "") == ["staging", "production"]
    assert log.read_text() == "--to\n\n"
    assert _complete(tenv, "deploy", "pro", shell="fish") == ["production\tlive"]
    assert _complete(tenv, "deploy", "s", shell="zsh") == ["staging:the staging cluster"]
    assert log.read_text() == "s\n"
    # A multi-word command has its own sidecar, run with the words after the command.
    tenv.sh("tool-db-migrate", "exit 9\n")
    tenv.sh("tool_complete-db-migrate", 'echo "up"; echo "down"; echo "$TOOL_COMMAND"\n')
    assert _complete(tenv, "db", "migrate", "") == ["up", "down", "db migrate"]
    assert not list(tenv.root.glob("ran-*"))


def test_a_slow_sidecar_is_bounded_and_stopped(tenv: Env) -> None:
    _never_run(tenv, "slow", "")
    pidfile = tenv.root / "pid"
    tenv.sh("tool_complete-slow", f'echo early; sleep 30 & echo $! > "{pidfile}"; wait\n')
    start = time.monotonic()
    assert _complete(tenv, "slow", "") == []  # too slow: nothing, not half an answer
    assert time.monotonic() - start < 10
    pid = int(pidfile.read_text())
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        raise AssertionError("the sidecar's child was left running")


def test_an_unusable_sidecar_gives_nothing(tenv: Env) -> None:
    _never_run(tenv, "a", "")
    tenv.plugin("tool_complete-a", "#!/bin/sh\necho x\n", mode=0o644)  # not executable
    assert _complete(tenv, "a", "") == []
    _never_run(tenv, "b", "")
    tenv.plugin("tool_complete-b", "#!/nonexistent/interpreter\n")
    assert _complete(tenv, "b", "") == []


def _listing(tenv: Env, cols: int, extra: dict[str, str] | None = None) -> str:
    term = PtyRun(["list"], {**tenv.vars, "TERM": "xterm", **(extra or {})}, tenv.root, cols=cols)
    code, screen = term.finish()
    assert code == 0
    return screen.decode()


def test_list_fits_the_terminal_and_pipes_get_everything(tenv: Env) -> None:
    deep = tenv.root / ("very-long-directory-name-" * 3) / "bin"
    summary = "a summary that goes on for quite a while, longer than any column should be"
    for name in ("alpha", "beta"):
        tenv.sh(f"tool-{name}", f"# tool-summary: {summary}\ntrue\n", directory=deep)
    env = {"TOOL_PLUGIN_PATH": str(deep)}
    tenv.vars.update(env)
    screen = _listing(tenv, 100, {"NO_COLOR": "1"})
    lines = screen.replace("\r\n", "\n").splitlines()
    assert all(len(line) < 100 for line in lines), lines
    assert "\u2026" in screen and "tool-alpha" in screen  # cut, keeping the file's name
    assert "\033" not in screen
    piped = tenv.run("list").stdout.decode()
    assert summary in piped and f"{deep}/tool-alpha" in piped and "\033" not in piped


def test_list_colours_only_its_own_words_on_a_terminal(tenv: Env) -> None:
    tenv.sh("tool-list", "true\n")  # a builtin's name: a warning
    tenv.sh("tool-ok", "# tool-summary: fine\ntrue\n")
    coloured = _listing(tenv, 200)
    assert "\033[33mwarning:\033[0m" in coloured and f"\033[2m{tenv.bin}/tool-ok\033[0m" in coloured
    for extra in ({"NO_COLOR": "1"}, {"TERM": "dumb"}):
        assert "\033" not in _listing(tenv, 200, extra)

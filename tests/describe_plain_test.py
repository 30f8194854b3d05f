"""Plain plugins described and completed without being run: a summary comment in the file, a
completion sidecar; and `list`/`help` fitted to a terminal, with restrained colour."""
from __future__ import annotations

import json
import os
import re
import time

from tests.conftest import Env, PtyRun, offered


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
    assert re.search(r"^  deploy +Deploy the app$", helped, re.M) and "\033" not in helped
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
    return offered(proc.stdout)


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


def test_narrow_terminals_wide_characters_and_help(tenv: Env) -> None:
    from dispatch.screen.style import cells

    deep = tenv.root / "a-long-directory-name-for-plugins" / "bin"
    tenv.sh("tool-wide", "# tool-summary: 日本語のプラグインの説明はとても長いです、本当に長い\ntrue\n", directory=deep)
    tenv.sh("tool-a-plugin-with-a-name-much-longer-than-most", "# tool-summary: long name\ntrue\n", directory=deep)
    tenv.vars["TOOL_PLUGIN_PATH"] = str(deep)
    for cols in (100, 60):
        screen = _listing(tenv, cols, {"NO_COLOR": "1"})
        lines = screen.replace("\r\n", "\n").splitlines()
        assert lines and all(cells(line) < cols for line in lines), (cols, lines)
        assert ("PATH" in lines[0]) == (cols == 100)  # too narrow for paths: left out, not wrapped
        term = PtyRun(["help"], {**tenv.vars, "TERM": "xterm", "NO_COLOR": "1"}, tenv.root, cols=cols)
        code, out = term.finish()
        helped = out.decode().replace("\r\n", "\n").splitlines()
        assert code == 0 and all(cells(line) < cols for line in helped), (cols, helped)
        assert "Runs tool-<command> found on the plugin search path" in out.decode()
    tenv.sh("tool-plain", "# tool-summary: 日本語\ntrue\n", directory=deep)
    tenv.sh("tool-other", "# tool-summary: short\ntrue\n", directory=deep)
    piped = tenv.run("list").stdout.decode().splitlines()
    # In a pipe every text is whole; the columns stay aligned for wide characters, and a cell
    # longer than its column is (a name over 24, a summary over 48) pushes its own row only.
    starts = {line.split()[0]: cells(line.split("/")[0]) for line in piped[1:]}
    assert starts["plain"] == starts["other"] < starts["wide"], piped
    assert starts["plain"] < starts["a-plugin-with-a-name-much-longer-than-most"], piped
    assert cells(piped[0].split("PATH")[0]) == starts["plain"], "nor the header"


def test_bash_gets_candidates_quoted_never_globbed_or_run(tenv: Env) -> None:
    from tests.discovery_test import _bash_complete

    _never_run(tenv, "sc", "")
    marker = tenv.root / "pwned"
    tenv.sh("tool_complete-sc", f"echo '/*/*'; echo '$(touch {marker})'; echo 'two words'\n")
    got = _bash_complete(tenv, "tool sc ")
    assert got == ["/\\*/\\*", f"\\$\\(touch\\ {marker}\\)", "two\\ words"]
    assert not marker.exists()


def test_a_sidecar_that_leaves_a_child_holding_its_output(tenv: Env) -> None:
    _never_run(tenv, "bg", "")
    tenv.sh("tool_complete-bg", "echo early\nsleep 5 &\nexit 0\n")
    start = time.monotonic()
    assert _complete(tenv, "bg", "") == ["early"]  # it ended: what it said is the answer
    assert time.monotonic() - start < 5


def test_a_sidecar_cut_at_the_cap_gives_no_made_up_candidate(tenv: Env) -> None:
    from dispatch.catalog.sidecar import MAX_BYTES

    _never_run(tenv, "big", "")
    filler = "x" * 99 + "\n"
    count = MAX_BYTES // len(filler)
    cut_at = MAX_BYTES - count * len(filler)  # what is left of the cap for the next line
    tenv.sh("tool_complete-big", f"i=0; while [ $i -lt {count} ]; do echo '{filler[:-1]}'; i=$((i+1)); done\n"
                                 f"echo 'production-readonly-{'y' * cut_at}'\n")
    got = _complete(tenv, "big", "prod")
    assert got == []  # "production-readonly-yyy..." was cut: not offered half


def test_completion_skips_a_value_at_the_end_of_a_flag_cluster(tenv: Env) -> None:
    tenv.sh("tool-sc", "true\n")
    tenv.sh("tool_complete-sc", 'echo "got $*"\n')
    assert _complete(tenv, "-vC", "/tmp", "sc", "") == ["got "]
    assert _complete(tenv, "-vC/tmp", "sc", "") == ["got "]


def test_bad_columns_and_invisible_characters(tenv: Env) -> None:
    tenv.sh("tool-inv", "# tool-summary: safe\u200b\U000e0072\ufeff end\ntrue\n")
    for columns in ("\u00b2", "1" * 5000, "-3", "0"):
        screen = _listing(tenv, 200, {"COLUMNS": columns, "NO_COLOR": "1"})
        assert "safe\\u200b\\U000e0072\\ufeff end" in screen
    assert "safe\\u200b" in tenv.run("list").stdout.decode()

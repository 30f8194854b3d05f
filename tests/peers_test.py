"""What the test suites of tool's peers (git, kubectl, cargo, docker, gh) expect of a
dispatcher, and what new users tripped on (issue 22): each ported as a black-box check
through the real `tool`, and completion through the real shells."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TOOL, Env, err_line, offered, python_plugin, shell_in_pty

ARGS = 'printf "[%s]" "$@"; echo " in $(pwd)"\n'


def _config(env: Env, text: str) -> Path:
    path = env.root / "config" / "tool" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- completion (kubectl's plugin completion tests, docker's cli-plugins) ----------------------


def test_a_name_with_an_underscore_completes_as_one_word(tenv: Env) -> None:
    tenv.sh("tool-foo_bar", ARGS)
    tenv.sh("tool-dry_run", ARGS)
    assert offered(tenv.call("__complete", "--", "fo").stdout) == ["foo-bar"]
    assert offered(tenv.call("__complete", "--", "dry").stdout) == ["dry-run"]
    assert tenv.run("foo-bar", "x").stdout.startswith(b"[x] in ")
    assert offered(tenv.call("__complete", "--", "foo-bar", "").stdout) == []  # nothing deeper, no `bar`


def test_what_cannot_run_is_never_offered(tenv: Env) -> None:
    tenv.sh("tool-real", ARGS)
    (tenv.bin / "tool-adir").mkdir()
    (tenv.bin / "tool-gone").symlink_to(tenv.root / "nowhere")
    tenv.plugin("tool-noexec", "#!/bin/sh\n", mode=0o644)
    names = offered(tenv.call("__complete", "--", "").stdout)
    assert "real" in names and not {"adir", "gone", "noexec"} & set(names), names


def test_help_with_words_after_the_command_is_their_help(tenv: Env) -> None:
    tenv.sh("tool-x", ARGS)
    tenv.sh("tool-db-migrate", ARGS)
    # docker: `help X goodbye` is `X goodbye --help`.
    assert tenv.run("help", "x", "goodbye").stdout == tenv.run("x", "goodbye", "--help").stdout
    assert tenv.run("help", "x", "goodbye").stdout.startswith(b"[goodbye][--help] in ")
    assert offered(tenv.call("__complete", "--", "help", "db", "").stdout) == ["migrate"]


def _bash(tenv: Env) -> object:
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    term = shell_in_pty(tenv, {"PATH": f"{Path(TOOL).parent}:{tenv.vars['PATH']}"})
    term.send(b'source <(tool completion bash); echo sourced-$((1+1))\r')  # type: ignore[attr-defined]
    term.read_until(b"sourced-2\r\n$ ")  # type: ignore[attr-defined]
    return term


def _typed(term: object, keys: bytes, marker: bytes) -> bytes:
    """What the shell printed after `keys` (a line with Tabs, then Enter), up to `marker`."""
    term.buf = b""  # type: ignore[attr-defined]
    term.send(keys)  # type: ignore[attr-defined]
    return term.read_until(marker)  # type: ignore[attr-defined, no-any-return]


@pytest.mark.slow
def test_bash_completes_across_equals_signs_spaces_and_directives(tenv: Env) -> None:
    python_plugin(tenv, "tool-greet", """
        from protocol.plugin import Flag, Plugin
        plugin = Plugin("greet", flags=[Flag("--lang", "the language", choices=["en", "fr"]),
                                        Flag("--delay", "wait first", metavar="SECONDS")])

        @plugin.run
        def run(ctx, args):
            ctx.output("greet " + "|".join(args) + " done\\n")

        plugin.main()
    """)
    tenv.run("greet")  # seen greeting: completion may ask it
    tenv.sh("tool-zone", 'echo "zone $* done"\n')
    tenv.sh("tool_complete-zone", 'case "$1" in w*) echo "with space";; *) printf "Antarctica/\\n:2\\n";; esac\n')
    term = _bash(tenv)
    try:
        # bash splits words at `=`: the host is given the line, and completes as it was typed.
        assert b"greet  done" in _typed(term, b"tool --timeout=5 gr\t\r", b" done")
        assert b"greet --lang=fr done" in _typed(term, b"tool greet --lang=f\t\r", b" done")
        # A candidate with a space is inserted quoted, and arrives as one word.
        assert b"zone with space done" in _typed(term, b"tool zone w\t\r", b" done")
        # cobra's :2 (no space after it): the next keys continue the same word.
        assert b"zone Antarctica/Casey done" in _typed(term, b"tool zone \tCasey\r", b" done")
    finally:
        term.send(b"exit\r")  # type: ignore[attr-defined]
        term.finish()  # type: ignore[attr-defined]
    help_text = tenv.run("help", "greet").stdout.decode()
    assert "--delay SECONDS" in help_text and "--lang {en,fr}" in help_text, help_text


# -- -C as git's (t0056) -----------------------------------------------------------------------


def test_each_c_is_relative_to_the_one_before_and_an_empty_one_is_nothing(tenv: Env) -> None:
    tenv.sh("tool-where", ARGS)
    (tenv.root / "d1" / "d2").mkdir(parents=True)
    assert tenv.run("-C", "d1", "-C", "d2", "where").stdout == f"[] in {tenv.root}/d1/d2\n".encode()
    assert tenv.run("-C", "", "where").stdout.endswith(f" in {tenv.root}\n".encode())
    assert tenv.run("-C", "d1", "-C", "", "-C", "d2", "where").stdout.endswith(b"/d1/d2\n")
    proc = tenv.run("-C", "d1", "-C", "nope", "where")
    assert proc.returncode == 2 and "nope" in err_line(proc)


# -- failures say so on stderr, once ------------------------------------------------------------


def test_plugin_without_a_subcommand_is_a_usage_error_on_stderr(tenv: Env) -> None:
    proc = tenv.run("plugin")
    assert proc.returncode == 2 and proc.stdout == b""
    assert "install" in err_line(proc)


def test_a_bad_host_option_under_json_still_gets_the_envelope(tenv: Env) -> None:
    tenv.sh("tool-hello", "echo hi\n")
    for args in (("--json", "--timeout", "soon", "hello"), ("--json", "--bogus", "hello"), ("--json", "-C")):
        proc = tenv.run(*args)
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        assert proc.returncode == 2 and lines[-1] == {"type": "exit", "code": 2}, (args, proc)
        assert lines[0]["type"] == "error" and lines[0]["code"] == "usage_error" and lines[0]["message"] in err_line(proc)
    # The same mistake from the environment, as before.
    proc = tenv.run("--json", "hello", env={"TOOL_TIMEOUT": "soon"})
    assert proc.returncode == 2 and json.loads(proc.stdout.splitlines()[-1]) == {"type": "exit", "code": 2}


def test_json_help_is_a_document(tenv: Env) -> None:
    tenv.sh("tool-hello", "# tool-summary: Say hello\necho hi\n")
    _config(tenv, '[alias]\nhi = "hello there"\n')
    document = json.loads(tenv.run("--json", "help").stdout)
    assert {"name": "hello", "kind": "plain", "summary": "Say hello"} in document["plugins"]
    assert document["aliases"] == [{"name": "hi", "expands_to": ["hello", "there"]}]
    assert ["--json"] in [o["flags"] for o in document["options"]] and "list" in [b["name"] for b in document["builtins"]]
    assert json.loads(tenv.run("--json", "help", "list").stdout)["usage"] == "tool list [--json] [--refresh]"


# -- aliases (cargo's alias tests, git help -a) --------------------------------------------------


def test_aliases_are_in_help_list_and_list_json_and_a_hidden_one_is_warned_about(tenv: Env) -> None:
    tenv.sh("tool-checkout", ARGS)
    tenv.sh("tool-co", ARGS)
    path = _config(tenv, '[alias]\nco = "checkout -q"\nsw = "checkout -b"\n')
    assert "alias for checkout -b" in tenv.run("help").stdout.decode()
    listed = tenv.run("list")
    lines = listed.stdout.decode().splitlines()
    assert any(line.split()[:2] == ["sw", "alias"] and "alias for checkout -b" in line for line in lines), lines
    assert any("never used: the plugin" in line and "tool-co" in line for line in lines), lines
    aliases = {a["name"]: a for a in json.loads(tenv.run("list", "--json").stdout)["aliases"]}
    assert aliases["sw"] == {"name": "sw", "expands_to": ["checkout", "-b"], "config": str(path), "hidden_by": None}
    assert aliases["co"]["hidden_by"] == str(tenv.bin / "tool-co")
    findings = json.loads(tenv.run("doctor", "--json").stdout)["findings"]
    hidden = [f for f in findings if f["code"] == "alias_hidden_by_plugin"]
    assert len(hidden) == 1 and "alias 'co' is never used" in hidden[0]["message"], findings


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names")
def test_files_whose_names_cannot_be_commands_are_reported_and_never_run(tenv: Env) -> None:
    for name in ("tool-a b", "tool-.x", "tool-データ"):
        tenv.sh(name, "echo ran\n")
    tenv.sh("tool-fine", "echo fine\n")
    invalid = json.loads(tenv.run("list", "--json").stdout)["invalid"]
    assert sorted(os.path.basename(i["path"]) for i in invalid) == ["tool-.x", "tool-a b", "tool-データ"]
    assert all("cannot be typed as a command" in i["reason"] for i in invalid)
    listed = tenv.run("list")
    assert listed.stdout.decode().count("never run:") == 3 and b"3 warning(s)" in listed.stderr
    codes = [f["code"] for f in json.loads(tenv.run("doctor", "--json").stdout)["findings"]]
    assert codes.count("invalid_name") == 3
    for word in ("a b", ".x", "データ"):
        proc = tenv.run(word)
        assert proc.returncode != 0 and b"ran" not in proc.stdout, (word, proc)


# -- doctor on the docs' own example ------------------------------------------------------------


def test_doctor_finds_a_sticky_world_writable_search_directory(tenv: Env) -> None:
    sticky = tenv.root / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    proc = tenv.run("doctor", "--json", env={"TOOL_PLUGIN_PATH": str(sticky)})
    found = [f for f in json.loads(proc.stdout)["findings"] if f["path"] == str(sticky)]
    assert proc.returncode == 1 and [f["code"] for f in found] == ["world_writable_dir"], found
    # As a parent it protects what is in it: a private directory in a sticky /tmp is fine.
    private = sticky / "mine"
    private.mkdir(mode=0o755)
    found = json.loads(tenv.run("doctor", "--json", env={"TOOL_PLUGIN_PATH": str(private)}).stdout)["findings"]
    assert not [f for f in found if str(sticky) in (f["path"] or "")], found


# -- the config's line numbers -------------------------------------------------------------------


def test_a_config_error_keeps_its_line_after_a_header_with_a_comment(tenv: Env) -> None:
    path = _config(tenv, '# my config\n[defaults]   # what every run gets\ntimeout = "soon"\n')
    tenv.sh("tool-x", "echo x\n")
    proc = tenv.run("x")
    assert proc.returncode == 2
    assert err_line(proc).startswith(f"tool: bad config {path}, line 3: defaults.timeout"), err_line(proc)


def test_verbose_shows_a_command_line_that_can_be_pasted(tenv: Env) -> None:
    tenv.sh("tool-x", ARGS)
    proc = tenv.run("-v", "x", "two words", "$(echo no)")
    line = next(line for line in proc.stderr.decode().splitlines() if line.startswith("tool: running (plain): "))
    pasted = subprocess.run(["sh", "-c", line.split(": ", 2)[2]], capture_output=True, env=tenv.vars, cwd=tenv.root, timeout=60)
    assert pasted.stdout == proc.stdout == f"[two words][$(echo no)] in {tenv.root}\n".encode()


def test_the_sdk_completes_a_flag_s_value_in_the_same_word_and_nothing_else_there() -> None:
    from protocol.plugin import Flag, Plugin

    plugin = Plugin("greet", flags=[Flag("--lang", choices=["en", "fr"]), Flag("--quiet")], subcommands={"loud": ""})
    assert plugin.complete([], "--lang=") == [{"value": "--lang=en"}, {"value": "--lang=fr"}]
    assert plugin.complete([], "--quiet=") == []  # a flag without a value has none to complete
    # No word before: the subcommands, not the choices of a flag that has no short form.
    assert plugin.complete([], "") == [{"value": "loud"}]
    assert plugin.complete(["--lang"], "f") == [{"value": "fr"}]

"""The dispatcher end to end: the real `tool` entry point running real plugins from tmp dirs."""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import HANG_BOUND, TOOL, Env, err_line

# A plugin that prints each argument on its own line, then its name.
ECHO_ARGS = """\
for a in "$@"; do printf '[%s]\\n' "$a"; done
echo "ran $(basename "$0")"
"""


@pytest.mark.parametrize("status", [0, 1, 3, 125])
def test_exit_status_passes_through(tenv: Env, status: int) -> None:
    tenv.sh("tool-exit", f"echo out; echo err >&2; exit {status}\n")
    proc = tenv.run("exit")
    assert proc.returncode == status
    assert proc.stdout == b"out\n"
    assert proc.stderr == b"err\n"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV])
def test_killed_by_signal_is_128_plus_n_for_the_shell(tenv: Env, sig: signal.Signals) -> None:
    # It prints first, so the host learns it is plain: the first run is
    # relayed (the host reports 128+N), later runs are exec'd (the process
    # itself dies by N, which the shell shows as 128+N). Same to a script.
    tenv.sh("tool-die", f"echo dying\nkill -{int(sig)} $$\nsleep 5\n")
    script = f'"{TOOL}" die; echo "status=$?"'
    for run in ("first", "second"):
        shell = subprocess.run(["/bin/sh", "-c", script], capture_output=True, env=tenv.vars, timeout=60)
        assert shell.stdout == f"dying\nstatus={128 + int(sig)}\n".encode(), run
    assert tenv.run("die").returncode == -int(sig)


def test_longest_name_wins_and_gets_the_rest(tenv: Env) -> None:
    for name in ("tool-a", "tool-a-b", "tool-a-b-c"):
        tenv.sh(name, ECHO_ARGS)
    assert tenv.call("a", "b", "c", "d").stdout == b"[d]\nran tool-a-b-c\n"
    assert tenv.call("a", "b", "x").stdout == b"[x]\nran tool-a-b\n"
    assert tenv.call("a", "x", "b").stdout == b"[x]\n[b]\nran tool-a\n"
    assert tenv.call("a-b-c", "z").stdout == b"[z]\nran tool-a-b-c\n"


def test_longest_match_across_directories(tenv: Env, tmp_path: Path) -> None:
    early, late = tmp_path / "early", tmp_path / "late"
    tenv.sh("tool-a", ECHO_ARGS, directory=early)
    tenv.sh("tool-a-b", ECHO_ARGS, directory=late)
    proc = tenv.call("a", "b", env={"PATH": f"{early}:{late}:/usr/bin:/bin"})
    assert proc.stdout == b"ran tool-a-b\n"


def test_dash_in_a_word_matches_underscore(tenv: Env) -> None:
    tenv.sh("tool-foo_bar", ECHO_ARGS)
    assert tenv.call("foo-bar", "x").stdout == b"[x]\nran tool-foo_bar\n"
    assert tenv.call("foo_bar").stdout == b"ran tool-foo_bar\n"
    # Words are still joined with '-': `foo bar` means tool-foo-bar only.
    assert tenv.call("foo", "bar").returncode == 127


def test_exact_name_beats_underscore_variant_in_same_dir(tenv: Env) -> None:
    tenv.sh("tool-foo_bar", ECHO_ARGS)
    tenv.sh("tool-foo-bar", ECHO_ARGS)
    assert tenv.call("foo-bar").stdout == b"ran tool-foo-bar\n"


def test_a_flag_ends_the_command_words(tenv: Env) -> None:
    tenv.sh("tool-a", ECHO_ARGS)
    tenv.sh("tool-a-b", ECHO_ARGS)
    assert tenv.call("a", "-x", "b").stdout == b"[-x]\n[b]\nran tool-a\n"
    # Everything after the words goes to the plugin untouched, --help included.
    assert tenv.call("a", "b", "--help", "-v").stdout == b"[--help]\n[-v]\nran tool-a-b\n"


@pytest.mark.parametrize("word", ["sub/evil", "../bin/tool-x", "./tool-x", ".x", "sub\\evil"])
def test_path_like_words_are_never_looked_up(tenv: Env, word: str) -> None:
    marker = tenv.root / "ran"
    evil = f"touch {marker}\n"
    tenv.sh("evil", evil, directory=tenv.bin / "tool-sub")
    tenv.sh("tool-x", evil)
    tenv.sh("tool-sub\\evil", evil)
    proc = tenv.call(word)
    assert proc.returncode == 127
    line = err_line(proc)
    assert "is not a tool command" in line
    assert not marker.exists()


def test_invalid_later_word_is_an_argument(tenv: Env) -> None:
    tenv.sh("tool-a", ECHO_ARGS)
    assert tenv.call("a", "../b").stdout == b"[../b]\nran tool-a\n"


def test_relative_and_empty_path_entries_are_ignored(tenv: Env) -> None:
    work = tenv.root / "work"
    tenv.sh("tool-rel", "echo relative\n", directory=work / "bin")
    tenv.sh("tool-rel", "echo cwd\n", directory=work)
    for path in ("bin", f"bin:{tenv.bin}", f":{tenv.bin}", f"{tenv.bin}::/usr/bin", "."):
        proc = tenv.run("rel", env={"PATH": path, "TOOL_PLUGIN_PATH": "bin:."}, cwd=work)
        assert proc.returncode == 127, path
        assert proc.stdout == b""


def test_verbose_traces_the_search(tenv: Env) -> None:
    tenv.sh("tool-hi", 'printf "%s|" "$TOOL_COMMAND" "$@"; echo\n')
    path = f"rel::{tenv.bin}:/nonexistent:/usr/bin:/bin"
    proc = tenv.run("-v", "hi", "a b", "it's", "$HOME", env={"PATH": path, "TOOL_PROTOCOL": "1"})
    assert proc.returncode == 0 and proc.stdout == b"hi|a b|it's|$HOME|\n", proc
    err = proc.stderr.decode()
    assert "skipped PATH entry 'rel': relative" in err
    assert "skipped PATH entry '': empty" in err
    assert "skipped /nonexistent: not a directory" in err
    # The exact command line, as git's GIT_TRACE shows it: pasted into sh, it does the same.
    line = next(line for line in err.splitlines() if line.startswith("tool: running (plain): "))
    assert line.endswith(f"{tenv.bin}/tool-hi 'a b' 'it'\"'\"'s' '$HOME'") and "env -u TOOL_PROTOCOL " in line, line
    assert "TOOL_COMMAND=hi " in line and "TOOL_BIN=" in line, line
    pasted = subprocess.run(["sh", "-c", line.removeprefix("tool: running (plain): ")], capture_output=True, timeout=HANG_BOUND,
                            env={**tenv.vars, "PATH": path, "TOOL_PROTOCOL": "1"})
    assert pasted.stdout == proc.stdout, pasted


def test_plugin_path_comes_before_path(tenv: Env) -> None:
    extra = tenv.root / "extra"
    tenv.sh("tool-who", "echo path\n")
    tenv.sh("tool-who", "echo plugin-path\n", directory=extra)
    assert tenv.call("who", env={"TOOL_PLUGIN_PATH": str(extra)}).stdout == b"plugin-path\n"
    assert tenv.call("who").stdout == b"path\n"


def test_missing_and_unusable_directories_are_skipped_silently(tenv: Env) -> None:
    afile = tenv.root / "afile"
    afile.write_text("")
    tenv.sh("tool-ok", "echo ok\n")
    proc = tenv.call("ok", env={"PATH": f"/nonexistent:{afile}:{tenv.bin}:/usr/bin:/bin"})
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"ok\n", b"")


def test_not_executable_is_126_with_the_fix(tenv: Env) -> None:
    path = tenv.sh("tool-nox", "echo hi\n", mode=0o644)
    proc = tenv.call("nox")
    assert proc.returncode == 126
    line = err_line(proc)
    assert str(path) in line and f"chmod +x {path}" in line


def test_not_executable_longer_name_does_not_block_shorter(tenv: Env) -> None:
    tenv.sh("tool-a-b", "echo long\n", mode=0o644)
    tenv.sh("tool-a", ECHO_ARGS)
    proc = tenv.call("a", "b")
    assert (proc.returncode, proc.stdout) == (0, b"[b]\nran tool-a\n")


def test_not_executable_earlier_does_not_block_later_dir(tenv: Env) -> None:
    later = tenv.root / "later"
    tenv.sh("tool-x", "echo early\n", mode=0o644)
    tenv.sh("tool-x", "echo later\n", directory=later)
    proc = tenv.call("x", env={"PATH": f"{tenv.bin}:{later}:/usr/bin:/bin"})
    assert proc.stdout == b"later\n"


def test_directory_and_broken_link_are_126(tenv: Env) -> None:
    (tenv.bin / "tool-dir").mkdir()
    proc = tenv.call("dir")
    assert proc.returncode == 126
    assert "is a directory" in err_line(proc)
    (tenv.bin / "tool-link").symlink_to(tenv.root / "nowhere")
    proc = tenv.call("link")
    assert proc.returncode == 126
    assert "does not exist" in err_line(proc) and "tool-link" in err_line(proc)


def test_symlinked_plugin_runs(tenv: Env) -> None:
    target = tenv.sh("real-script", "echo via-link\n", directory=tenv.root / "elsewhere")
    (tenv.bin / "tool-ln").symlink_to(target)
    assert tenv.call("ln").stdout == b"via-link\n"


def test_bad_interpreter_is_126_naming_it(tenv: Env) -> None:
    path = tenv.plugin("tool-badi", "#!/nonexistent/interp\necho hi\n")
    proc = tenv.run("badi")
    assert proc.returncode == 126
    line = err_line(proc)
    assert str(path) in line and "/nonexistent/interp" in line


def test_env_interpreter_missing_is_126_not_127(tenv: Env) -> None:
    path = tenv.plugin("tool-badenv", "#!/usr/bin/env no-such-interpreter-xyz\necho hi\n")
    proc = tenv.run("badenv")
    assert proc.returncode == 126
    line = err_line(proc)
    assert str(path) in line and "no-such-interpreter-xyz" in line


def test_env_interpreter_with_options_runs(tenv: Env) -> None:
    tenv.plugin("tool-envs", "#!/usr/bin/env -S sh -e\necho env-ok\n")
    assert tenv.run("envs").stdout == b"env-ok\n"


def test_script_without_shebang_runs_with_sh(tenv: Env) -> None:
    tenv.plugin("tool-noshebang", "echo plain \"$1\"\n")
    proc = tenv.run("noshebang", "x")
    assert (proc.returncode, proc.stdout) == (0, b"plain x\n")


def test_builtins_win_over_plugins(tenv: Env) -> None:
    for name in ("tool-list", "tool-help", "tool-version"):
        tenv.sh(name, "echo plugin-ran\n")
    for word in ("list", "help", "version"):
        proc = tenv.call(word)
        assert proc.returncode == 0
        assert b"plugin-ran" not in proc.stdout


def test_did_you_mean_builtin(tenv: Env) -> None:
    proc = tenv.call("helo")
    assert proc.returncode == 127
    assert err_line(proc) == "tool: 'helo' is not a tool command. Did you mean 'help'?"


def test_did_you_mean_plugin(tenv: Env) -> None:
    tenv.sh("tool-deploy", "true\n")
    tenv.sh("tool-db-migrate", "true\n")
    proc = tenv.call("deplyo")
    assert proc.returncode == 127
    assert "Did you mean 'deploy'?" in err_line(proc)
    proc = tenv.call("db", "migrat", "--now")
    assert "Did you mean 'db-migrate'?" in err_line(proc)


def test_unknown_without_close_names(tenv: Env) -> None:
    proc = tenv.call("zzzzzzzz")
    assert proc.returncode == 127
    assert err_line(proc) == (
        "tool: 'zzzzzzzz' is not a tool command. See 'tool list' for the plugins on the search path."
    )


def test_non_utf8_arguments_pass_byte_exact(tenv: Env) -> None:
    out = tenv.root / "args"
    tenv.sh("tool-argbytes", f"printf '%s\\0' \"$@\" > {out}\n")
    args = [b"\xff\xfe", b"caf\xc3\xa9", b"a b", b"", b"--x=\x80"]
    proc = tenv.run(b"argbytes", *args)
    assert proc.returncode == 0
    assert out.read_bytes() == b"".join(a + b"\0" for a in args)


def test_stdin_and_binary_stdout_pass_byte_exact(tenv: Env) -> None:
    tenv.sh("tool-cat", "exec cat\n")
    data = bytes(range(256)) * 4096 + b"\r\n\x00tail-without-newline"
    proc = tenv.run("cat", input=data)
    assert proc.returncode == 0
    assert proc.stdout == data


def test_environment_given_to_plugins(tenv: Env) -> None:
    # A plain plugin (its file does not name the protocol variable): never offered the protocol.
    tenv.sh("tool-env-show", 'echo "bin=$TOOL_BIN"; echo "cmd=$TOOL_COMMAND"; env | grep "^TOOL_" | sort\n')
    for _ in range(2):  # the first run as every other
        proc = tenv.run("env", "show", "extra")
        assert proc.returncode == 0
        assert proc.stdout.decode().splitlines() == [
            f"bin={TOOL}", "cmd=env show", f"TOOL_BIN={TOOL}", "TOOL_COMMAND=env show"
        ]
    # A plugin calling back into tool never leaks its own TOOL_PROTOCOL to the next one.
    proc = tenv.run("env", "show", env={"TOOL_PROTOCOL": "1"})
    assert b"PROTOCOL" not in proc.stdout


def test_tool_bin_calls_back_into_the_host(tenv: Env) -> None:
    tenv.sh("tool-outer", '"$TOOL_BIN" inner "$@"\n')
    tenv.sh("tool-inner", 'echo "inner got $1"\n')
    assert tenv.run("outer", "x").stdout == b"inner got x\n"


def test_change_directory_option(tenv: Env) -> None:
    target = tenv.root / "there"
    target.mkdir()
    tenv.sh("tool-pwd", "pwd\n")
    assert tenv.run("-C", str(target), "pwd").stdout == f"{target}\n".encode()
    assert tenv.run(f"-C{target}", "pwd").stdout == f"{target}\n".encode()
    proc = tenv.run("-C", str(tenv.root / "missing"), "pwd")
    assert proc.returncode == 2
    assert "cannot change to directory" in err_line(proc)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--bogus", "x"], "unknown option '--bogus'"),
        (["-Z", "x"], "unknown option '-Z'"),
        (["--timeout"], "needs a value"),
        (["--timeout", "soon", "x"], "positive number of seconds"),
        (["--timeout", "-1", "x"], "positive number of seconds"),
        (["--timeout=0", "x"], "positive number of seconds"),
        (["--timeout", "nan", "x"], "positive number of seconds"),
        (["-C"], "option '-C' needs a value (DIR)"),
        (["--json=yes", "x"], "option '--json' takes no value"),
    ],
)
def test_bad_host_options_are_usage_errors(tenv: Env, args: list[str], fragment: str) -> None:
    tenv.sh("tool-x", "echo should-not-run\n")
    proc = tenv.call(*args)
    assert proc.returncode == 2
    assert fragment in err_line(proc)
    assert proc.stdout == b""


@pytest.mark.parametrize("value", ["5", "1.5", "90s", "2m", "1h"])
def test_valid_timeouts_are_accepted(tenv: Env, value: str) -> None:
    tenv.sh("tool-x", "echo ran\n")
    assert tenv.call("--timeout", value, "x").stdout == b"ran\n"
    assert tenv.call(f"--timeout={value}", "x").stdout == b"ran\n"


def test_host_options_cluster_and_double_dash(tenv: Env) -> None:
    tenv.sh("tool-x", ECHO_ARGS)
    proc = tenv.call("-vq", "--", "x", "-v")
    assert proc.stdout == b"[-v]\nran tool-x\n"
    proc = tenv.call("--", "-x")
    assert proc.returncode == 2
    assert "expected a command" in err_line(proc)


def test_help_forms(tenv: Env) -> None:
    tenv.sh("tool-deploy", "true\n")
    outputs = {tuple(a): tenv.call(*a) for a in ([], ["help"], ["-h"], ["--help"])}
    for args, proc in outputs.items():
        assert proc.returncode == 0, args
        text = proc.stdout.decode()
        assert text.startswith("usage: tool "), args
        assert "list" in text and "version" in text and "deploy" in text
    assert len({p.stdout for p in outputs.values()}) == 1


def test_help_for_a_builtin_and_for_a_plugin(tenv: Env) -> None:
    proc = tenv.call("help", "list")
    assert proc.returncode == 0 and proc.stdout.startswith(b"usage: tool list")
    tenv.sh("tool-deploy", ECHO_ARGS)
    proc = tenv.call("help", "deploy")
    assert proc.stdout == b"[--help]\nran tool-deploy\n"
    proc = tenv.call("help", "nosuch")
    assert proc.returncode == 127


def test_version_forms(tenv: Env) -> None:
    import json

    from dispatch import __version__

    for args in (["version"], ["--version"], ["-V"]):
        proc = tenv.call(*args)
        assert proc.returncode == 0
        assert proc.stdout.decode().startswith(f"tool {__version__} (Python 3.")
    doc = json.loads(tenv.call("version", "--json").stdout)
    assert doc["name"] == "tool" and doc["version"] == __version__
    assert json.loads(tenv.call("--json", "version").stdout) == doc
    proc = tenv.call("version", "extra")
    assert proc.returncode == 2 and "unexpected argument 'extra'" in err_line(proc)


def test_python_dash_m_runs_the_same_cli(tenv: Env) -> None:
    import sys

    tenv.sh("tool-x", ECHO_ARGS)
    proc = subprocess.run(
        [sys.executable, "-m", "dispatch", "x", "y"], capture_output=True, env=tenv.vars, timeout=60
    )
    assert proc.stdout == b"[y]\nran tool-x\n"


def test_many_arguments_do_not_slow_resolution_to_a_crawl(tenv: Env) -> None:
    # 20k positional args: resolution must bound its lookups (file names have a maximum length).
    tenv.sh("tool-count", 'echo $#\n')
    args = [f"file{i}" for i in range(20000)]
    proc = tenv.run("count", *args)
    assert proc.stdout == b"20000\n"

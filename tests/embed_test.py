"""A program's own builtins and host options (dispatch.embed), through a real program that embeds the dispatcher."""
from __future__ import annotations

import re
import sys
import textwrap

import pytest

from tests.conftest import Env

PROGRAM = """
import sys
from dispatch import Dispatcher
from dispatch import Builtin, Option

def show(inv, args):
    print("settings", sorted(inv.settings.items()), "args", args)
    return 3

Dispatcher(
    prog="mycli", version="2.0", version_text=lambda inv: f"mycli 2.0 with {len(inv.dirs)} dir(s)",
    builtins=[Builtin("show", "show the settings", show, usage="mycli show [ARG...]"),
              Builtin("list", "my own list", lambda inv, args: print("own list") or 0)],
    options=[Option("-c", metavar="K=V", repeat=True, help="set a value", env="MYCLI_C"),
             Option("-n", "--dry-run", help="do nothing", env="MYCLI_DRY"),
             Option("--name", metavar="NAME", help="a name"),
             Option("--hello", help="say hello and stop", run=lambda inv: print("hello", inv.settings.get("name")) or 5)],
    no_command=2,
).run()
"""


@pytest.fixture
def mycli(tenv: Env) -> str:
    path = tenv.root / "mycli"
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(PROGRAM))
    path.chmod(0o755)
    return str(path)


def test_own_builtins_win_and_read_the_options(tenv: Env, mycli: str) -> None:
    tenv.sh("mycli-show", "echo plugin\n")
    proc = tenv.run("-c", "a=1", "-cb=2", "--dry-run", "--name=x", "show", "-c", "z", exe=mycli)
    assert proc.returncode == 3
    assert proc.stdout == b"settings [('c', ['a=1', 'b=2']), ('dry_run', True), ('name', 'x')] args ['-c', 'z']\n"
    assert tenv.run("list", exe=mycli).stdout == b"own list\n"  # replaces the library's


def test_own_options_reach_plugins_through_the_environment(tenv: Env, mycli: str) -> None:
    tenv.sh("mycli-env", 'echo "c=${MYCLI_C-unset} dry=${MYCLI_DRY-unset}"\n')
    assert tenv.run("env", exe=mycli).stdout == b"c=unset dry=unset\n"
    assert tenv.run("-nc", "a=1", "-c", "b=2", "env", exe=mycli).stdout == b"c=a=1 b=2 dry=1\n"


def test_an_option_that_runs(tenv: Env, mycli: str) -> None:
    proc = tenv.run("--name", "ada", "--hello", "anything", exe=mycli)
    assert (proc.returncode, proc.stdout) == (5, b"hello ada\n")


def test_bad_own_options_are_usage_errors(tenv: Env, mycli: str) -> None:
    for argv, message in (
        (["--name"], "mycli: option '--name' needs a value (NAME)\n"),
        (["-c"], "mycli: option '-c' needs a value (K=V)\n"),
        (["--dry-run=yes", "x"], "mycli: option '--dry-run' takes no value\n"),
        (["--nope", "x"], "mycli: unknown option '--nope'; see 'mycli --help'\n"),
    ):
        proc = tenv.run(*argv, exe=mycli)
        assert (proc.returncode, proc.stderr.decode()) == (2, message), argv


def test_no_command_version_help_and_completion(tenv: Env, mycli: str) -> None:
    proc = tenv.run(exe=mycli)
    assert (proc.returncode, proc.stdout) == (2, b"") and proc.stderr.startswith(b"usage: mycli [options]")
    assert tenv.run("--version", exe=mycli).stdout == b"mycli 2.0 with 0 dir(s)\n"
    helped = tenv.run("--help", exe=mycli).stdout.decode()
    assert re.search(r"^  -c K=V +set a value$", helped, re.M) and re.search(r"^  -n, --dry-run +do nothing$", helped, re.M)
    assert re.search(r"^  show +show the settings$", helped, re.M) and re.search(r"^  list +my own list$", helped, re.M)
    assert tenv.run("help", "show", exe=mycli).stdout == b"usage: mycli show [ARG...]\n\nshow the settings\n"
    words = tenv.run("__complete", "--", "", exe=mycli).stdout.decode().split()
    assert "show" in words and "list" in words
    flags = tenv.run("__complete", "--", "--", exe=mycli).stdout.decode().split()
    assert {"--dry-run", "--name", "--hello", "--json"} <= set(flags)
    # The value of an own option is skipped: the next word is the command.
    assert "show" in tenv.run("__complete", "--", "-c", "a=1", "sh", exe=mycli).stdout.decode().split()


def test_bad_declarations_are_refused() -> None:
    from dispatch import Builtin, Dispatcher, Option

    for bad in (lambda: Option("-v", help="x"), lambda: Option("--json", help="x"), lambda: Option("-c", "-c", help="x")):
        with pytest.raises(ValueError):
            Dispatcher(prog="p", options=[bad()])
    for spelled in ("c", "--", "-cc", "--a b"):
        with pytest.raises(ValueError):
            Option(spelled, help="x")
    with pytest.raises(ValueError):
        Builtin("../x", "s", lambda inv, args: 0)
    with pytest.raises(ValueError):
        Dispatcher(prog="p", builtins=[Builtin("a", "s", lambda i, a: 0), Builtin("a", "t", lambda i, a: 0)])
    for env in ("", "A=B", "A\0"):
        with pytest.raises(ValueError):
            Option("-x", help="x", env=env)
    with pytest.raises(ValueError, match="dispatcher's own"):
        Dispatcher(prog="p", options=[Option("-x", help="x", env="P_DISPATCH_BIN")])
    with pytest.raises(AttributeError):
        Option("-x", help="x").help = "y"  # type: ignore[misc]


def test_no_user_facing_text_says_tool_under_another_name(tenv: Env) -> None:
    """Every builtin and every error path, run as `mycli`, never names `tool`."""
    prog = tenv.root / "mycli"
    prog.write_text(f"#!{sys.executable}\nfrom dispatch import Dispatcher\nDispatcher(prog='mycli').run()\n")
    prog.chmod(0o755)
    tenv.sh("mycli-plain", "echo plain\n")
    tenv.sh("mycli-list", "echo shadowed\n")
    tenv.sh("mycli-proto", "# MYCLI_DISPATCH_PROTOCOL\nexit 3\n")
    tenv.plugin("mycli-noexec", "#!/bin/sh\n", mode=0o644)
    config = tenv.root / "config" / "mycli"
    config.mkdir(parents=True)
    (config / "config.toml").write_text('[alias]\nlist = "plain"\nloop = "loop2"\nloop2 = "loop"\n')
    runs = [
        [], ["help"], ["--help"], ["help", "list"], ["help", "plugin"], ["help", "nosuch"], ["help", "plain"], ["list"],
        ["list", "--json"], ["list", "--bad"], ["version"], ["--version"], ["version", "--json"], ["completion"],
        ["completion", "bash"], ["completion", "zsh"], ["completion", "fish"], ["completion", "nosh"], ["doctor"],
        ["doctor", "--json"], ["plugin"], ["plugin", "check"], ["plugin", "check", "plain"], ["plugin", "check", "nosuch"],
        ["plugin", "check", "proto"], ["nosuch"], ["plian"], ["noexec"], ["proto"], ["--json", "proto"], ["--json"],
        ["--bogus"], ["--timeout", "x", "plain"], ["-C"], ["-C", "/nonexistent", "plain"], ["loop"], ["../x"],
        ["__complete", "--", ""], ["--json", "nosuch"],
        # Installing plugins, as `mycli plugin ...`.
        ["plugin", "list"], ["plugin", "install", str(tenv.root / "src" / "mycli-inst")], ["plugin", "list", "--json"],
        ["plugin", "install", str(tenv.root / "src" / "mycli-inst")], ["plugin", "upgrade", "--all"], ["plugin", "lock"],
        ["plugin", "install", "https://example.invalid/x.tar.gz"], ["plugin", "install", str(tenv.root / "nowhere")],
        ["plugin", "install", str(tenv.root / "src" / "mycli-plain")], ["plugin", "remove", "inst"],
        ["plugin", "remove", "inst"], ["plugin", "frob"], ["help", "plugin"], ["doctor"],
    ]
    tenv.sh("mycli-inst", "echo inst\n", directory=tenv.root / "src")
    tenv.sh("mycli-plain", "echo clash\n", directory=tenv.root / "src")
    said = []
    for argv in runs:
        proc = tenv.run(*argv, exe=str(prog))
        text = (proc.stdout + proc.stderr).decode(errors="replace")
        said.extend(f"mycli {' '.join(argv)}: {line}" for line in text.splitlines() if re.search(r"\btool\b", line, re.I))
    assert said == []


def test_without_a_version_the_library_says_so(tenv: Env) -> None:
    prog = tenv.root / "acme"
    prog.write_text(f"#!{sys.executable}\nfrom dispatch import Dispatcher\nDispatcher(prog='acme').run()\n")
    prog.chmod(0o755)
    assert tenv.run("--version", exe=str(prog)).stdout.startswith(b"acme (made with the dispatch library ")
    proc = tenv.run("nosuch", exe=str(prog))
    assert proc.stderr.startswith(b"acme: 'nosuch' is not an acme command.")


def test_main_puts_the_working_directory_back(tenv: Env) -> None:
    import os

    from dispatch import Dispatcher

    (tenv.root / "a" / "b").mkdir(parents=True)
    tenv.sh("tool-where", "pwd > \"$0.out\"\n")
    here = os.getcwd()
    code = Dispatcher("tool", use_exec=False).main(["-C", str(tenv.root / "a"), "-C", "b", "-C", "", "where"], environ=tenv.vars)
    assert code == 0
    assert os.getcwd() == here, "the embedding program's directory is its own again"
    assert (tenv.bin / "tool-where.out").read_text() == f"{tenv.root / 'a' / 'b'}\n", "each -C relative to the one before"
    assert Dispatcher("tool", use_exec=False).main(["-C", str(tenv.root / "nowhere"), "where"], environ=tenv.vars) == 2
    assert os.getcwd() == here


def test_a_program_of_its_own_options_converts_and_counts(tenv: Env) -> None:
    from dispatch import Builtin, Dispatcher, Option, ToolError
    from dispatch.exitcodes import ExitCode

    def jobs(value: str, flag: str) -> int:
        if not value.isdecimal():
            raise ToolError(ExitCode.USAGE, f"{flag} needs a number of jobs, got {value!r}")
        return int(value)

    seen: dict[str, object] = {}
    show = Builtin("show", "show the settings", lambda inv, args: seen.update(inv.settings) or 0)
    program = Dispatcher("mycli", builtins=[show], options=[
        Option("-j", "--jobs", metavar="N", convert=jobs, help="run N jobs"),
        Option("-d", "--debug", repeat=True, help="more debugging, the more often given"),
        Option("--fast", dest="speed", const="fast", help="go fast"),
    ])
    assert program.main(["-j4", "-dd", "--debug", "--fast", "show"], environ=tenv.vars) == 0
    assert seen == {"jobs": 4, "debug": 3, "speed": "fast"}
    assert program.main(["--jobs", "many", "show"], environ=tenv.vars) == 2

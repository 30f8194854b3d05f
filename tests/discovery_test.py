"""Discovery: describe, help, shell completion, doctor, aliases and config, plugin check."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import TOOL, Env, err_line, offered, python_plugin, raw_plugin

DEPLOY = """
from protocol.plugin import Flag, Plugin
plugin = Plugin(
    "deploy",
    version="3.1.0",
    summary="Ship the current build",
    usage="tool deploy [--env ENV] [--force] TARGET",
    description="Builds, uploads and switches traffic.",
    flags=[Flag("--env", "where to deploy", short="-e", choices=["dev", "staging", "prod"]), Flag("--force", "skip checks")],
    subcommands={"status": "show what is deployed", "rollback": "go back one version"},
)

@plugin.completer
def complete(words, current):
    if words[:1] == ["status"]:
        return [("web", "the web tier"), ("api", "the API tier")]
    return plugin.__class__.complete.__wrapped__(plugin, words, current) if False else None

@plugin.run
def run(ctx, args):
    ctx.output("deploying " + " ".join(args) + "\\n")

plugin.main()
"""


@pytest.fixture
def deploy(tenv: Env) -> Env:
    python_plugin(tenv, "tool-deploy", DEPLOY)
    return tenv


def _learn(tenv: Env, *names: str) -> None:
    for name in names:
        tenv.run(name)


# -- describe and help ------------------------------------------------------------------------

def test_help_for_a_protocol_plugin_renders_its_description(deploy: Env) -> None:
    _learn(deploy, "deploy")
    proc = deploy.run("help", "deploy")
    assert proc.returncode == 0
    assert proc.stdout.decode() == (
        "usage: tool deploy [--env ENV] [--force] TARGET\n\n"
        "Ship the current build\n\n"
        "Builds, uploads and switches traffic.\n\n"
        "Commands:\n"
        "  status    show what is deployed\n"
        "  rollback  go back one version\n\n"
        "Options:\n"
        "  -e, --env {dev,staging,prod}  where to deploy\n"
        "  --force                       skip checks\n"
    )
    # The plugin's own --help (run, not describe) says the same.
    assert deploy.run("deploy", "--help").stdout == proc.stdout


def test_help_for_a_plain_plugin_runs_its_help_and_says_so(tenv: Env) -> None:
    tenv.sh("tool-old", 'echo "old help for: $*"\n')
    _learn(tenv, "old")
    proc = tenv.run("help", "old")
    assert proc.stdout == b"old help for: --help\n"
    assert err_line(proc) == "tool: tool-old does not describe itself; here is its own --help"


def test_general_help_groups_plugins_with_summaries(deploy: Env) -> None:
    deploy.sh("tool-zap", "echo zap\n")
    _learn(deploy, "deploy", "zap")
    text = deploy.call("help").stdout.decode()
    assert "Builtin commands:\n" in text
    assert re.search(r"^Plugins:\n  deploy +Ship the current build\n", text, re.M)
    assert "Other plugins:\n  zap\n" in text


def test_describe_is_cached_by_file_identity(deploy: Env) -> None:
    _learn(deploy, "deploy")
    first = deploy.run("help", "deploy").stdout
    log = deploy.root / "described"
    # Same file, same identity: the cached answer is used, the plugin not run again.
    path = deploy.bin / "tool-deploy"
    st = path.stat()
    assert deploy.run("help", "deploy").stdout == first
    assert path.stat().st_mtime == st.st_mtime and not log.exists()


# -- completion -----------------------------------------------------------------------------------

def _bash_complete(tenv: Env, line: str, env: dict[str, str] | None = None) -> list[str]:
    """Complete `line` (cursor at the end) with the real bash script, in a real bash."""
    script = subprocess.run([TOOL, "completion", "bash"], capture_output=True, env=tenv.vars, check=True).stdout.decode()
    words = line.split(" ")
    driver = (
        script
        + "\nCOMP_WORDS=(" + " ".join("'" + w + "'" for w in words) + ")"
        + f"\nCOMP_CWORD={len(words) - 1}\nCOMP_LINE='{line}'\nCOMP_POINT={len(line)}\n"
        + "_tool_complete\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    proc = subprocess.run(["bash", "--norc", "-c", driver], capture_output=True, env={**tenv.vars, **(env or {})}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [w for w in proc.stdout.decode().splitlines() if w]


def test_bash_completes_builtins_and_plugin_names(deploy: Env) -> None:
    deploy.sh("tool-db-migrate", "true\n")
    deploy.sh("tool-db-seed", "true\n")
    names = _bash_complete(deploy, "tool ")
    assert {"help", "list", "version", "completion", "doctor", "deploy", "db"} <= set(names)
    assert _bash_complete(deploy, "tool de") == ["deploy"]
    assert _bash_complete(deploy, "tool db ") == ["migrate", "seed"]
    assert _bash_complete(deploy, "tool --j") == ["--json"]
    assert _bash_complete(deploy, "tool completion ") == ["bash", "zsh", "fish"]


def test_bash_completes_a_protocol_plugins_arguments(deploy: Env) -> None:
    _learn(deploy, "deploy")
    assert _bash_complete(deploy, "tool deploy --") == ["--env", "--force"]
    assert _bash_complete(deploy, "tool deploy --env ") == ["dev", "staging", "prod"]
    assert _bash_complete(deploy, "tool deploy --env p") == ["prod"]
    assert _bash_complete(deploy, "tool deploy ") == ["status", "rollback"]
    assert _bash_complete(deploy, "tool deploy status ") == ["web", "api"]
    assert _bash_complete(deploy, "tool -v deploy --env s") == ["staging"]


def test_completion_never_runs_unknown_or_plain_plugins(tenv: Env) -> None:
    marker = tenv.root / "ran"
    tenv.sh("tool-plain", f"touch {marker}\necho hi\n")
    assert _bash_complete(tenv, "tool plain ") == []
    assert not marker.exists(), "unknown: never run"
    tenv.run("plain")
    marker.unlink()
    assert _bash_complete(tenv, "tool plain ") == []
    assert not marker.exists(), "plain: never run"


def test_completion_of_a_hanging_plugin_is_bounded(tenv: Env) -> None:
    # Runs at once, and hangs when asked to complete.
    raw_plugin(tenv, "tool-slow", ['{"type":"hello","protocol":1}'], 'IFS= read -r req; case $req in *complete*) sleep 300;; esac')
    assert tenv.run("slow").returncode == 0  # seen speaking the protocol
    t0 = time.monotonic()
    assert _bash_complete(tenv, "tool slow ") == []
    assert time.monotonic() - t0 < 10


def test_completion_scripts_for_zsh_and_fish(tenv: Env) -> None:
    for shell in ("zsh", "fish"):
        proc = tenv.run("completion", shell)
        assert proc.returncode == 0
        text = proc.stdout.decode()
        assert f"__complete --shell {shell} -- " in text
        exe = shutil.which(shell)
        if exe:
            path = tenv.root / f"c.{shell}"
            path.write_text(text)
            assert subprocess.run([exe, "-n", str(path)], capture_output=True).returncode == 0
    assert tenv.run("completion", "tcsh").returncode == 2
    assert tenv.run("completion").returncode == 2


def test_completion_descriptions_for_zsh_and_fish(deploy: Env) -> None:
    _learn(deploy, "deploy")
    fish = offered(deploy.run("__complete", "--shell", "fish", "--", "deploy", "").stdout)
    assert "status\tshow what is deployed" in fish
    zsh = offered(deploy.run("__complete", "--shell", "zsh", "--", "deploy", "--e").stdout)
    assert zsh == ["--env:where to deploy"]


# -- doctor ------------------------------------------------------------------------------------------

def _doctor(tenv: Env, env: dict[str, str] | None = None) -> tuple[int, dict[str, list[dict[str, object]]]]:
    proc = tenv.call("doctor", "--json", env=env)
    doc = json.loads(proc.stdout)
    by_code: dict[str, list[dict[str, object]]] = {}
    for f in doc["findings"]:
        by_code.setdefault(str(f["code"]), []).append(f)
    return proc.returncode, by_code


def test_doctor_all_clear(tenv: Env) -> None:
    tenv.sh("tool-ok", "echo ok\n")
    proc = tenv.call("doctor")
    assert proc.returncode == 0
    assert proc.stdout.decode().startswith("no problems found; 1 plugin file(s)")


def test_doctor_shadowed_nonexecutable_builtin_name(tenv: Env) -> None:
    other = tenv.root / "other"
    tenv.sh("tool-dup", "true\n")
    tenv.sh("tool-dup", "true\n", directory=other)
    tenv.sh("tool-nox", "true\n", mode=0o644)
    tenv.sh("tool-list", "true\n")
    code, found = _doctor(tenv, {"PATH": f"{tenv.bin}:{other}:/usr/bin:/bin"})
    assert code == 1
    assert found["shadowed"][0]["path"] == f"{other}/tool-dup"
    assert found["not_executable"][0]["fix"] == "chmod +x the file, or remove it"
    assert found["builtin_name"][0]["path"] == f"{tenv.bin}/tool-list"


def test_doctor_world_writable_dir_and_relative_entries(tenv: Env) -> None:
    open_dir = tenv.root / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    code, found = _doctor(tenv, {"PATH": f"{open_dir}:bin::{tenv.bin}:/usr/bin:/bin"})
    assert code == 1
    assert found["world_writable_dir"][0]["path"] == str(open_dir)
    assert "chmod o-w" in str(found["world_writable_dir"][0]["fix"])
    assert len(found["path_entry_skipped"]) == 2


def test_doctor_broken_shebang(tenv: Env) -> None:
    tenv.plugin("tool-badi", "#!/usr/bin/env no-such-interpreter\n")
    tenv.plugin("tool-badp", "#!/no/such/interp\n")
    code, found = _doctor(tenv)
    assert code == 1
    assert {f["path"] for f in found["bad_interpreter"]} == {f"{tenv.bin}/tool-badi", f"{tenv.bin}/tool-badp"}


def test_doctor_failed_handshake(tenv: Env) -> None:
    raw_plugin(tenv, "tool-v9", ['{"type":"hello","protocol":null,"supported":[9]}'], "exit 76")
    assert tenv.run("v9").returncode == 76
    code, found = _doctor(tenv)
    assert code == 1
    assert "no protocol version in common" in str(found["handshake_failed"][0]["message"])


def test_doctor_cache_problem(tenv: Env) -> None:
    blocker = tenv.root / "cachefile"
    blocker.write_text("")
    code, found = _doctor(tenv, {"XDG_CACHE_HOME": str(blocker)})
    assert code == 1 and found["cache_unusable"]


def test_doctor_text_output(tenv: Env) -> None:
    tenv.sh("tool-nox", "true\n", mode=0o644)
    proc = tenv.call("doctor")
    assert proc.returncode == 1
    assert proc.stdout.decode().splitlines() == [
        f"error: {tenv.bin}/tool-nox: not executable; run: chmod +x {tenv.bin}/tool-nox",
        "  fix: chmod +x the file, or remove it",
        "1 problem(s) found; 1 plugin file(s) in 4 directories",
    ]


# -- config and aliases ---------------------------------------------------------------------------

def _config(tenv: Env, text: str) -> Path:
    path = tenv.root / "config" / "tool" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_aliases_like_git(tenv: Env) -> None:
    tenv.sh("tool-checkout", 'echo "checkout $*"\n')
    _config(tenv, '[alias]\nco = "checkout --quiet"\nci = ["checkout", "a b"]\nls = "list --json"\nsw = "co main"\n')
    assert tenv.run("co", "x").stdout == b"checkout --quiet x\n"
    assert tenv.run("ci").stdout == b"checkout a b\n"
    assert json.loads(tenv.run("ls").stdout)["plugins"][0]["name"] == "checkout"
    assert tenv.run("sw").stdout == b"checkout --quiet main\n", "an alias of an alias"


def test_alias_cannot_hide_a_builtin_or_a_plugin(tenv: Env) -> None:
    tenv.sh("tool-real", "echo real\n")
    _config(tenv, '[alias]\nlist = "real"\nreal = "list"\n')
    assert tenv.call("list", "--json").returncode == 0
    assert json.loads(tenv.call("list", "--json").stdout)
    assert tenv.call("real").stdout == b"real\n"
    _, found = _doctor(tenv)
    assert found["alias_hides_builtin"][0]["message"] == "alias 'list' has the name of a builtin and is never used"


def test_alias_loop_is_detected(tenv: Env) -> None:
    _config(tenv, '[alias]\na = "b x"\nb = "c"\nc = "a"\n')
    proc = tenv.call("a")
    assert proc.returncode == 2
    assert "alias loop: a -> b -> c -> a" in err_line(proc)


def test_config_defaults_and_extra_dirs(tenv: Env) -> None:
    extra = tenv.root / "mytools"
    tenv.sh("tool-slow", "echo started; sleep 300\n", directory=extra)
    _config(tenv, f'[defaults]\ntimeout = "0.3s"\n\n[plugins]\ndirs = ["{extra}"]\n')
    t0 = time.monotonic()
    proc = tenv.run("slow")
    assert proc.returncode == 124 and time.monotonic() - t0 < 15
    assert "within 0.3 s" in err_line(proc)
    # The command line wins over the config.
    assert "within 0.6 s" in err_line(tenv.run("--timeout", "0.6", "slow"))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[alias\nco = 1\n", "line 1"),
        ('[defaults]\ntimeout = "soon"\n', "line 2: defaults.timeout needs a positive number of seconds"),
        ("[defaults]\n\nverbosity = true\n", "line 3: defaults.verbosity has a wrong value: True"),
        ("[defaults]\ntimout = 5\n", "line 2: unknown key defaults.timout"),
        ("[colors]\nx = 1\n", "line 1: unknown section [colors]"),
        ("[alias]\nco = 5\n", "line 2: alias.co must be a string or a list of strings"),
        ('[plugins]\ndirs = "~/bin"\n', "line 2: plugins.dirs must be a list"),
    ],
)
def test_bad_config_names_file_line_and_key(tenv: Env, text: str, fragment: str) -> None:
    path = _config(tenv, text)
    tenv.sh("tool-x", "echo x\n")
    proc = tenv.call("x")
    assert proc.returncode == 2
    line = err_line(proc)
    assert line.startswith(f"tool: bad config {path}")
    assert fragment in line


def test_tool_config_overrides_the_path(tenv: Env) -> None:
    tenv.sh("tool-checkout", 'echo "checkout $*"\n')
    other = tenv.root / "elsewhere.toml"
    other.write_text('[alias]\nco = "checkout -b"\n')
    assert tenv.call("co", env={"TOOL_CONFIG": str(other)}).stdout == b"checkout -b\n"
    proc = tenv.call("co", env={"TOOL_CONFIG": str(tenv.root / "missing.toml")})
    assert proc.returncode == 2 and "no such file (from TOOL_CONFIG)" in err_line(proc)


# -- plugin check ----------------------------------------------------------------------------------

def test_plugin_check_passes_a_good_plugin(deploy: Env) -> None:
    proc = deploy.run("plugin", "check", "deploy", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0, doc
    assert [c["name"] for c in doc["checks"]] == [
        "declaration", "hello", "features", "version mismatch", "run", "describe", "complete", "cancel", "eof on stdin",
    ]
    assert [c["name"] for c in doc["checks"] if c["status"] != "ok"] == ["cancel"], "--help ends at once"
    assert "ends by itself" in doc["checks"][7]["detail"]


@pytest.mark.slow
def test_plugin_check_reports_what_a_bad_plugin_gets_wrong(tenv: Env) -> None:
    # Greets, but ignores the offered versions, prints junk on run and never stops.
    # In-process, with small bounds: the scenarios' own waits are what this would cost.
    from dispatch.builtins.check import Bounds, Checker, text_report
    from dispatch.cli import Dispatcher

    path = python_plugin(
        tenv,
        "tool-sloppy",
        """
        import sys, time
        print('{"type":"hello","protocol":1}', flush=True)
        line = sys.stdin.readline()
        if '"run"' in line:
            print("debug: running", flush=True)
        time.sleep(60)
        """,
        declare=True,
    )
    bounds = Bounds(answer=0.5, run=5.0, cancel=0.3, eof=0.3, exit=0.2)
    results = Checker(Dispatcher("tool").program, str(path), tenv.vars, ["--help"], bounds).check()
    out = text_report(str(path), results)
    assert "ok    declaration: its file contains TOOL_PROTOCOL" in out
    assert "FAIL  version mismatch: offered only 99, it chose 1 instead of null" in out
    assert "FAIL  run: a line on stdout is not a protocol message (a stray print?" in out
    assert "FAIL  describe: no answer within 0.5 s" in out
    assert "FAIL  eof on stdin: kept running after its stdin closed" in out
    assert "FAIL  cancel: still running 0.3 s after 'cancel'" in out and "exiting 130" in out
    assert out.rstrip().endswith("3 of 9 checks passed")


def _shell_and_script(tenv: Env, shell: str, file_name: str) -> tuple[str, Path]:
    """The shell (the test is skipped without it) and tool's completion script for it, saved."""
    exe = shutil.which(shell)
    if exe is None:
        pytest.skip(f"{shell} is not installed (.ci/run installs it)")
    _learn(tenv, "deploy")
    script = tenv.root / file_name
    script.write_text(tenv.run("completion", shell).stdout.decode())
    return exe, script


def test_fish_completion_for_real(deploy: Env) -> None:
    fish, script = _shell_and_script(deploy, "fish", "tool.fish")
    proc = subprocess.run(
        [fish, "--no-config", "-c", f"source {script}; complete -C 'tool dep'; complete -C 'tool deploy --env '"],
        capture_output=True, env=deploy.vars, timeout=60,
    )
    lines = proc.stdout.decode().splitlines()
    assert lines[0] == "deploy\tShip the current build", "a plugin's summary is its description"
    assert [line.split("\t")[0] for line in lines[1:]] == ["dev", "prod", "staging"]


def _zsh_candidates(env: Env, load: str, calls: str) -> list[str]:
    """What the zsh script offers: `load` sets it up (given the script's path), `calls` completes.
    Stand-ins for the completion system's output functions print the candidates."""
    zsh, script = _shell_and_script(env, "zsh", "_tool")
    driver = (
        load.format(script=script, dir=script.parent)
        + "; _describe() { shift; print -rl -- ${(P)1} }; _files() { print FILES }; " + calls
    )
    proc = subprocess.run([zsh, "-f", "-c", driver], capture_output=True, env=env.vars, timeout=60)
    return proc.stdout.decode().splitlines()


def test_zsh_completion_for_real(deploy: Env) -> None:
    calls = "words=(tool deploy --e); CURRENT=3; _tool_complete; words=(tool deploy ./); CURRENT=3; _tool_complete"
    assert _zsh_candidates(deploy, "source {script}", calls) == ["--env:where to deploy", "FILES"]


def test_zsh_completion_autoloaded_from_fpath_completes_on_the_first_tab(deploy: Env) -> None:
    load = "fpath=({dir} $fpath); autoload -Uz _tool"
    assert _zsh_candidates(deploy, load, "words=(tool dep); CURRENT=2; _tool") == ["deploy:Ship the current build"]

"""What tool reads from disk and from plugins is never turned against the user.

The cache directory as another user could prepare it, plugin text full of
escape sequences, inputs that used to take quadratic time, limits past what
the kernel takes, odd metadata, concurrent writers, a FIFO swapped in for a
plugin, Ctrl-C during start-up, a relative HOME, and doctor's findings.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import DECLARATION, HANG_BOUND, TOOL, Env, err_line, in_pty, raw_plugin, started

ESC, BEL, RLO = b"\x1b", b"\x07", "\u202e".encode()
NOBODY = 65534

needs_root = pytest.mark.skipif(os.getuid() != 0, reason="simulating another user needs chown (CI runs as root)")


def _hello(summary: str = "s", version: str = "1.0") -> str:
    return json.dumps({"type": "hello", "protocol": 1, "plugin": {"name": "p", "version": version, "summary": summary}})


def _no_raw_controls(*streams: bytes) -> None:
    for data in streams:
        assert ESC not in data and BEL not in data and RLO not in data, data[-400:]


# -- the cache directory is ours alone ----------------------------------------------------------

@needs_root
def test_a_cache_directory_someone_else_owns_is_not_used(tenv: Env) -> None:
    victim = tenv.root / "victim.txt"
    victim.write_text("precious\n")
    shared = tenv.root / "shared"
    planted = shared / "tool"
    (planted / "metadata").mkdir(parents=True)
    (planted / "declared").mkdir()
    # Links that a naive writer would follow, and entries that would lie about plugins.
    for i in range(50):
        (planted / "metadata" / f".x.{i}.tmp").symlink_to(victim)
    (planted / "metadata-index.json").symlink_to(victim)
    for p in [shared, planted, planted / "metadata", planted / "declared"]:
        os.chown(p, NOBODY, NOBODY)
        p.chmod(0o777)
    raw_plugin(tenv, "tool-proto", [_hello(), '{"type":"output","text":"p\\n"}'])
    big = tenv.sh("tool-big", 'echo "offered=$(env | grep -c PROTOCOL=)"\n' + "#" * 300_000 + "\n")
    ident = "-".join(f"{v:x}" for v in (big.stat().st_dev, big.stat().st_ino, big.stat().st_size,
                                        big.stat().st_mtime_ns, big.stat().st_ctime_ns))
    (planted / "declared" / ident).symlink_to("TOOL_PROTOCOL=yes")
    env = {"XDG_CACHE_HOME": str(shared)}
    assert tenv.run("proto", env=env).stdout == b"p\n"
    assert tenv.run("big", env=env).stdout == b"offered=0\n", "a planted entry cannot make a plain plugin protocol"
    assert tenv.run("list", env=env).returncode == 0
    assert victim.read_text() == "precious\n"
    assert sorted(p.name for p in (planted / "metadata").iterdir()) == sorted(f".x.{i}.tmp" for i in range(50))
    doc = json.loads(tenv.run("doctor", "--json", env=env).stdout)
    (finding,) = [f for f in doc["findings"] if f["code"] == "cache_untrusted"]
    assert "owned by someone else" in finding["message"] and "rm -r" in finding["fix"]


@pytest.mark.slow
def test_a_cache_directory_that_is_a_link_is_not_followed(tenv: Env) -> None:
    victim = tenv.root / "victim-dir"
    victim.mkdir()
    for i in range(5000):
        os.close(os.open(victim / f"{i:08x}-1-2-3-4", os.O_CREAT | os.O_WRONLY, 0o644))
    cache = tenv.root / "cache"
    cache.mkdir()
    (cache / "tool").symlink_to(victim)
    for i in range(3):
        raw_plugin(tenv, f"tool-p{i}", [_hello()])
        tenv.sh(f"tool-b{i}", "echo\n" + "#" * 300_000 + "\n")
        assert tenv.run(f"p{i}").returncode == 0 and tenv.run(f"b{i}").returncode == 0
    assert len(list(victim.iterdir())) == 5000, "nothing pruned, nothing added"
    doctor = json.loads(tenv.run("doctor", "--json").stdout)
    untrusted = [f for f in doctor["findings"] if f["code"] == "cache_untrusted"]
    assert [f["message"] for f in untrusted] == [f"the cache {cache / 'tool'} is not used: it is a symbolic link"]


def test_the_cache_is_private_whatever_the_umask(tenv: Env) -> None:
    raw_plugin(tenv, "tool-proto", [_hello()])
    proc = subprocess.run(["/bin/sh", "-c", f'umask 000; "{TOOL}" proto; "{TOOL}" list'], env=tenv.vars,
                          capture_output=True, timeout=HANG_BOUND)
    assert proc.returncode == 0
    root = tenv.root / "cache" / "tool"
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode & 0o777
        assert mode & 0o077 == 0, f"{path} is {mode:o}"


def test_metadata_planted_in_our_own_cache_is_shown_escaped(tenv: Env) -> None:
    raw_plugin(tenv, "tool-proto", [_hello()])
    tenv.run("proto")
    (entry,) = (tenv.root / "cache" / "tool" / "metadata").iterdir()
    data = json.loads(entry.read_text())
    data["plugin"]["summary"] = "\x1b]0;pwned\x07\x1b[2J\u202eevil"
    entry.write_text(json.dumps(data))
    proc = tenv.run("list")
    _no_raw_controls(proc.stdout, proc.stderr)
    assert b"\\e]0;pwned" in proc.stdout


# -- plugin text never reaches the terminal raw ------------------------------------------------

NASTY = "\x1b]52;c;aGk=\x07\x1b]8;;http://x\x07link\x1b]8;;\x07\x1b[2J\u202eRLO\x9b31m"


def test_escape_sequences_are_shown_escaped_everywhere(tenv: Env) -> None:
    describe = json.dumps({"type": "description", "summary": NASTY, "usage": NASTY, "description": NASTY,
                           "flags": [{"name": "--x", "summary": NASTY}], "subcommands": [{"name": "s", "summary": NASTY}]})
    completions = json.dumps({"type": "completions", "candidates": [
        {"value": "ok", "description": NASTY}, {"value": "bad\x1b[2J", "description": "x"}]})
    run_stream = [
        json.dumps({"type": "log", "level": "warning", "message": NASTY}),
        json.dumps({"type": "progress", "message": NASTY, "current": 1e308, "total": 1e-320}),
        json.dumps({"type": "request", "id": 1, "method": "prompt", "params": {"message": NASTY, "default": NASTY}}),
        json.dumps({"type": "error", "code": "x", "message": NASTY, "hint": NASTY}),
    ]
    script = (
        f"{DECLARATION}printf '%s\\n' '{_hello(NASTY, NASTY)}'\n"
        "IFS= read -r req\n"
        f"case $req in *describe*) printf '%s\\n' '{describe}'; exit 0;; *complete*) printf '%s\\n' '{completions}'; exit 0;; esac\n"
        + "".join(f"printf '%s\\n' '{line}'\n" for line in run_stream)
        + "IFS= read -r answer\nexit 1\n"
    )
    tenv.sh("tool-nasty", script)
    outputs = []
    for args in (["nasty"], ["list"], ["list", "--refresh"], ["help"], ["help", "nasty"], ["doctor"],
                 ["__complete", "--shell", "zsh", "--", "nasty", ""], ["__complete", "--shell", "fish", "--", "nasty", ""],
                 ["__complete", "--shell", "bash", "--", "nasty", ""]):
        proc = tenv.run(*args)
        outputs.append(proc)
        _no_raw_controls(proc.stdout, proc.stderr)
    assert b"ok" in outputs[-1].stdout and b"bad" not in outputs[-1].stdout, "a value with controls is not offered"
    # On a terminal: the prompt and progress paths.
    term = in_pty(tenv, "nasty")
    term.read_until(b"RLO")
    term.send(b"\r")
    code, screen = term.finish()
    assert code == 1
    _no_raw_controls(screen.replace(b"\r\x1b[2K", b""))  # the host's own progress line clearing aside


def test_output_stays_verbatim(tenv: Env) -> None:
    raw_plugin(tenv, "tool-raw", [_hello(), json.dumps({"type": "output", "text": NASTY})])
    assert tenv.run("raw").stdout == NASTY.encode(), "a plugin's output is the user's data, untouched"
    proc = tenv.run("--json", "raw")
    assert json.loads(proc.stdout.splitlines()[0]) == {"type": "output", "text": NASTY}


# -- linear work before the plugin starts ------------------------------------------------------

def test_a_hundred_thousand_arguments(tenv: Env) -> None:
    tenv.sh("tool-n", 'echo "$#"\n')
    start = time.monotonic()
    proc = subprocess.run([TOOL, "n", *map(str, range(100_000))], capture_output=True, env=tenv.vars, timeout=HANG_BOUND)
    assert (proc.returncode, proc.stdout) == (0, b"100000\n")
    assert time.monotonic() - start < 10, "quadratic lookup (it took minutes)"


@pytest.mark.slow
def test_many_aliases_cost_nothing_much(tenv: Env) -> None:
    config = tenv.root / "config" / "tool" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[alias]\n" + "".join(f'a{i} = "a{i + 1} x"\n' for i in range(20_000)) + 'a20000 = "hi"\n')
    tenv.sh("tool-hi", 'echo "hi $#"\n')
    start = time.monotonic()
    proc = tenv.run("a19990")
    assert (proc.returncode, proc.stdout) == (0, b"hi 10\n")
    assert tenv.run("doctor").returncode == 0
    assert time.monotonic() - start < 20, "quadratic config checks (20,000 aliases took minutes)"


@pytest.mark.parametrize("kind", ["zero", "fifo", "huge"])
def test_a_config_that_is_not_a_small_file_is_refused(tenv: Env, kind: str) -> None:
    tenv.sh("tool-x", "echo x\n")
    path = tenv.root / "cfg"
    if kind == "zero":
        path = Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.write_text("[alias]\n" + "#" * (2 << 20) + "\n")
    proc = tenv.call("x", env={"TOOL_CONFIG": str(path)})
    assert proc.returncode == 2
    assert ("not a regular file" if kind != "huge" else "larger than 1024 KiB") in err_line(proc)


# -- limits are checked before anything starts ---------------------------------------------------

@pytest.mark.parametrize(("args", "fragment"), [
    (["--timeout", "366d"], "--timeout is at most 365d"),
    (["--max-cpu", "1e19"], "--max-cpu needs a positive number of seconds"),
    (["--max-memory", "99999T"], "--max-memory is at most 1024T"),
    (["--max-output", "2000T"], "--max-output is at most 1024T"),
    (["--timeout", "\u0661\u0660"], "--timeout needs a positive number"),
    (["--max-output", "\u0661\u0660"], "--max-output needs a positive size"),
])
def test_out_of_range_limits_are_usage_errors_before_spawning(tenv: Env, args: list[str], fragment: str) -> None:
    marker = tenv.root / "ran"
    tenv.sh("tool-m", f"touch {marker}\n")
    proc = tenv.call(*args, "m")
    assert proc.returncode == 2 and fragment in err_line(proc)
    assert not marker.exists()


def test_large_limits_that_fit_work(tenv: Env) -> None:
    tenv.sh("tool-m", "echo ran\n")
    raw_plugin(tenv, "tool-p", [_hello(), '{"type":"output","text":"p\\n"}'])
    proc = tenv.run("--timeout", "597h", "--max-cpu", "364d", "--max-memory", "1000T", "--max-output", "1000T", "m")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"ran\n", b"")
    assert tenv.run("--timeout", "597h", "p").stdout == b"p\n"


# -- metadata never fails a run ----------------------------------------------------------------

def test_odd_metadata_is_stored_or_dropped_never_an_error(tenv: Env) -> None:
    odd_dir = tenv.root / os.fsdecode(b"dir-\xff\xfe")
    odd_dir.mkdir()
    nested = '{"x":' * 900 + '"deep"' + "}" * 900
    hellos = {
        "surrogate": '{"type":"hello","protocol":1,"plugin":{"name":"a\\ud800","version":"\\udfff","summary":"\\ud83d"}}',
        "nested": '{"type":"hello","protocol":1,"plugin":{"name":"n","extra":' + nested + "}}",
    }
    for name, hello in hellos.items():
        tenv.sh(f"tool-{name}", f"{DECLARATION}printf '%s\\n' '{hello}' '{{\"type\":\"output\",\"text\":\"ok\\n\"}}'\n", directory=odd_dir)
    env = {"PATH": f"{odd_dir}:{tenv.vars['PATH']}"}
    for name in hellos:
        proc = tenv.run(name, env=env)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"ok\n", b""), name
    for args in (["list"], ["list", "--refresh"], ["list", "--json"], ["doctor"]):
        proc = tenv.run(*args, env=env)
        assert b"Traceback" not in proc.stderr and proc.returncode in (0, 1), (args, proc.stderr)
    assert not list((tenv.root / "cache").rglob("*.tmp")), "no temporary file left behind"


@pytest.mark.slow
def test_concurrent_first_runs_keep_every_plugins_metadata(tenv: Env) -> None:
    for i in range(20):
        raw_plugin(tenv, f"tool-c{i:02d}", [_hello(f"summary {i}", f"{i}.0")])
    names = " ".join(f"c{i % 20:02d}" for i in range(300))
    subprocess.run(["/bin/sh", "-c", f'printf "%s\\n" {names} | xargs -P 50 -n 1 "{TOOL}"'], env=tenv.vars,
                   timeout=HANG_BOUND * 2, check=True, capture_output=True)
    doc = json.loads(tenv.run("list", "--json").stdout)
    assert {p["name"]: p["summary"] for p in doc["plugins"]} == {f"c{i:02d}": f"summary {i}" for i in range(20)}
    assert all(p["protocol"] == 1 for p in doc["plugins"])


# -- odd inputs ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_fifo_swapped_in_for_the_plugin_never_hangs(tenv: Env) -> None:
    # A binary plugin (a script's interpreter would itself block opening a FIFO, as it would
    # run directly): what must never block is tool's own reading of the file.
    path = tenv.bin / "tool-swap"
    stop = threading.Event()
    binary = Path("/bin/echo").read_bytes() + b"\0TOOL_PROTOCOL"

    def churn() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            tmp = tenv.bin / f".swap{i}"
            try:
                if i % 2:
                    os.mkfifo(tmp)
                else:
                    tmp.write_bytes(binary)
                tmp.chmod(0o755)
                os.replace(tmp, path)
            except OSError:
                pass
            time.sleep(0.0005)

    t = threading.Thread(target=churn)
    t.start()
    try:
        for _ in range(80):
            proc = subprocess.run([TOOL, "swap"], capture_output=True, env=tenv.vars, timeout=30, stdin=subprocess.DEVNULL)
            assert proc.returncode in (0, 2, 126, 127), proc.stderr
            assert b"Traceback" not in proc.stderr
    finally:
        stop.set()
        t.join()


@pytest.mark.slow
def test_ctrl_c_during_start_up(tenv: Env) -> None:
    """However early the interrupt, tool's own code never shows a traceback, and a --json
    envelope that has begun ends with its exit line. (In the first milliseconds the Python
    interpreter itself is starting and handles Ctrl-C its own way, before any of tool's code.)"""
    raw_plugin(tenv, "tool-p", [_hello(), '{"type":"output","text":"p\\n"}'], after="sleep 0.05")
    rng = random.Random(20261125)
    package = str(Path(__file__).resolve().parent.parent / "dispatch")
    outcomes: dict[int, int] = {}
    for _ in range(60):
        # `started`: SIGINT at its default even when the suite runs from a background job (where it is ignored).
        proc = started([TOOL, "--json", "p"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tenv.vars)
        time.sleep(rng.uniform(0.0, 0.08))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=HANG_BOUND)
        outcomes[proc.returncode] = outcomes.get(proc.returncode, 0) + 1
        assert package.encode() not in err, err.decode(errors="replace")
        if out:
            assert json.loads(out.splitlines()[-1])["type"] == "exit", out
    assert -signal.SIGINT in outcomes, outcomes


def test_a_relative_home_is_ignored(tenv: Env) -> None:
    repo = tenv.root / "repo"
    (repo / "relhome" / ".config" / "tool").mkdir(parents=True)
    (repo / "evil").mkdir()
    (repo / "evil" / "tool-ls").write_text("#!/bin/sh\necho pwned\n")
    (repo / "evil" / "tool-ls").chmod(0o755)
    (repo / "relhome" / ".config" / "tool" / "config.toml").write_text(f'[plugins]\ndirs = ["{repo / "evil"}"]\n')
    tenv.sh("tool-ls", "echo safe\n")
    env = {"HOME": "relhome", "XDG_CONFIG_HOME": "", "XDG_CACHE_HOME": ""}
    proc = tenv.run("ls", env=env, cwd=repo)
    assert proc.stdout == b"safe\n"
    assert sorted(p.name for p in repo.iterdir()) == ["evil", "relhome"], "no cache made in the current directory"


def test_a_number_too_large_for_json_is_a_protocol_error(tenv: Env) -> None:
    raw_plugin(tenv, "tool-big", [_hello(), '{"type":"progress","current":1e400}'])
    proc = tenv.run("big")
    assert proc.returncode == 76 and "not valid JSON" in err_line(proc)


def test_json_without_a_command_is_json(tenv: Env) -> None:
    proc = tenv.call("--json")
    assert proc.returncode == 2
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert lines[0]["code"] == "usage_error" and lines[-1] == {"type": "exit", "code": 2}


# -- doctor ---------------------------------------------------------------------------------------

def _doctor(tenv: Env, env: dict[str, str] | None = None) -> dict[str, list[dict[str, object]]]:
    doc = json.loads(tenv.call("doctor", "--json", env=env).stdout)
    found: dict[str, list[dict[str, object]]] = {}
    for f in doc["findings"]:
        found.setdefault(f["code"], []).append(f)
    return found


def test_doctor_on_a_stock_debian_path(tenv: Env) -> None:
    proc = tenv.call("doctor", env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"})
    assert (proc.returncode, proc.stdout.decode().splitlines()[-1].split(";")[0]) == (0, "no problems found")


def test_doctor_finds_who_else_can_add_or_change_commands(tenv: Env) -> None:
    parent = tenv.root / "loose"
    inner = parent / "bin"
    inner.mkdir(parents=True)
    parent.chmod(0o777)  # anyone can rename bin/ away and put their own in its place
    group = tenv.root / "groupdir"
    group.mkdir()
    group.chmod(0o775)
    tenv.sh("tool-open", "echo\n", mode=0o777)
    fifo = tenv.bin / "tool-fifo"
    os.mkfifo(fifo)
    found = _doctor(tenv, {"PATH": f"{inner}:{group}:{tenv.bin}:/usr/bin:/bin"})
    assert found["writable_parent"][0]["path"] == str(parent)
    assert found["writable_dir"][0]["path"] == str(group)
    assert found["writable_plugin"][0]["path"] == str(tenv.bin / "tool-open")
    assert found["not_a_file"][0]["path"] == str(fifo)
    proc = tenv.call("list")
    assert b"tool-fifo" in proc.stdout and b"not a regular file" in proc.stdout


def test_doctor_says_when_a_longer_name_later_takes_over(tenv: Env) -> None:
    later = tenv.root / "later"
    tenv.sh("tool-a", "echo a\n")
    tenv.sh("tool-a-b", "echo a-b\n", directory=later)
    env = {"PATH": f"{tenv.bin}:{later}:/usr/bin:/bin"}
    assert tenv.call("a", "b", env=env).stdout == b"a-b\n"
    (finding,) = _doctor(tenv, env)["takes_over"]
    assert finding["path"] == str(later / "tool-a-b")
    assert "'tool a b' runs this file, not 'tool a'" in str(finding["message"])


@needs_root
def test_doctor_reports_a_foreign_plugin_file(tenv: Env) -> None:
    path = tenv.sh("tool-theirs", "echo\n")
    os.chown(path, NOBODY, NOBODY)
    assert _doctor(tenv)["writable_plugin"][0]["path"] == str(path)


def test_a_relative_path_entry_is_named_when_nothing_is_found(tenv: Env) -> None:
    here = tenv.root / "proj"
    here.mkdir()
    (here / "tool-build").write_text("#!/bin/sh\necho built\n")
    (here / "tool-build").chmod(0o755)
    proc = tenv.run("build", env={"PATH": f".:{tenv.vars['PATH']}"}, cwd=here)
    assert proc.returncode == 127
    line = err_line(proc)
    assert "./tool-build exists, but the PATH entry '.' is relative" in line and "absolute path" in line

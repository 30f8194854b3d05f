"""Installing plugins you can trust (issue 20): what was checked is what runs, a lock installs
exactly what it lists, no one else's directory runs code, every wait is bounded, nothing of the
user's is lost. One test per item of the attack, with real processes: a fake local index, swaps
timed by strace, a second user (as root), a loopback server that never answers, RSS measured."""
from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import HANG_BOUND, SYSTEM_PATH, TOOL, Env, err_line, offered, started
from tests.install_test import _git, _installed, _ok, _source, _versions
from tests.wheels import wheel

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a second user's files (CI runs as root)")
needs_strace = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to time a swap at a system call")
NOBODY = 65534


def _data(env: Env) -> Path:
    return env.root / "data" / "tool"


def _wait_for(predicate: object, what: str) -> None:
    end = time.monotonic() + HANG_BOUND
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > end:
            raise AssertionError(f"{what} did not happen")
        time.sleep(0.01)


# Peak RSS is measured from a small parent: a child forked by the (large) test process would
# start its count at the test process's own size, which survives exec.
_MEASURE = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
os._exit(code if code >= 0 else 128 - code)
"""


def _peak(argv: list[str], env: dict[str, str]) -> tuple[int, bytes, bytes, int]:
    """Run to the end: (exit status, stdout, stderr, peak RSS in MiB of that process alone)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "maxrss")
        proc = started([sys.executable, "-c", _MEASURE, report, *argv], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # its whole group killed after the test
        out, err = proc.communicate(timeout=HANG_BOUND)
        with open(report) as f:
            return proc.returncode, out, err, int(f.read()) // 1024


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- 1. a lock pins everything: no build in locked mode -----------------------------------------

_BACKEND = '''
import base64, hashlib, os, zipfile

def _files():
    info = "evil-1.0.dist-info"
    files = {"evil.py": "def main():\\n    print('EVIL ran')\\n",
             info + "/METADATA": "Metadata-Version: 2.1\\nName: evil\\nVersion: 1.0\\n",
             info + "/WHEEL": "Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
             info + "/entry_points.txt": "[console_scripts]\\ntool-evil = evil:main\\n"}
    record = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()},{len(t)}"
              for p, t in files.items()]
    files[info + "/RECORD"] = "\\n".join(record + [info + "/RECORD,,"]) + "\\n"
    return files

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "evil-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for path, text in _files().items():
            z.writestr(path, text)
    return name
'''


def _evil_index(root: Path) -> tuple[Path, Path]:
    """A find-links directory whose `setuptools 999` builds any sdist into the `evil` wheel, and an
    sdist that asks for setuptools (as nearly every sdist does)."""
    index = root / "index"
    wheel(index, "setuptools", "999", {"setuptools/__init__.py": "", "setuptools/build_meta.py": _BACKEND})
    sdist = root / "dist" / "evil-1.0.tar.gz"
    sdist.parent.mkdir()
    with tarfile.open(sdist, "w:gz") as tar:
        for name, text in {"evil-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n",
                           "evil-1.0/pyproject.toml": '[build-system]\nrequires = ["setuptools"]\n'
                                                      'build-backend = "setuptools.build_meta"\n'}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return index, sdist


@pytest.mark.slow
def test_a_locked_install_builds_nothing_and_an_sdist_is_not_locked(ienv: Env) -> None:
    index, sdist = _evil_index(ienv.root)
    pip = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(index), "PIP_CONFIG_FILE": os.devnull}
    lock = ienv.root / "hand.lock"
    lock.write_text('lock = 1\n[[plugin]]\nname = "evil"\nkind = "python"\nsource = "evil"\ncommands = ["evil"]\n'
                    f'requirements = ["evil @ file://{sdist} --hash=sha256:{_sha(sdist)}"]\n')
    proc = ienv.run("plugin", "install", "--locked", str(lock), env=pip)
    assert proc.returncode == 2, proc.stderr
    assert "is a source distribution: a locked install builds nothing" in err_line(proc)
    assert _installed(ienv) == {} and ienv.run("evil").returncode == 127
    # Installing an sdist (not locked) runs its build, as the docs say; such a plugin is not locked.
    _ok(ienv.run("plugin", "install", str(sdist), env=pip))
    assert _ok(ienv.run("evil")) == "EVIL ran\n"
    proc = ienv.run("plugin", "lock")
    assert proc.returncode == 1 and proc.stdout == b""
    assert "evil cannot be locked: evil @ file://" in err_line(proc) and "pip wheel --no-deps" in err_line(proc)


# -- 2. what was checked is what is installed ---------------------------------------------------


@needs_strace
def test_a_file_swapped_after_the_check_is_not_installed(ienv: Env) -> None:
    good = _source(ienv, "tool-swap", "echo good\n")
    digest = _sha(good)
    _ok(ienv.run("plugin", "install", str(_source(ienv, "tool-other", "true\n", directory="o"))))  # the store exists
    evil = _source(ienv, "tool-swap", "echo EVIL\n", directory="evil")
    # Every mkdir held 0.4 s on its way out: the swap lands while `files/` is being made, after
    # the old code had hashed the source and before it copied it.
    proc = started(["strace", "-qq", "-o", "/dev/null", "-e", "inject=mkdir:delay_exit=400000", TOOL, "plugin", "install",
                    str(good), "--sha256", digest], env=ienv.vars, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(lambda: list(_data(ienv).glob("plugins/swap/v-*/files")), "the new version's files/ directory")
    os.replace(evil, good)
    _out, err = proc.communicate(timeout=HANG_BOUND)
    if proc.returncode == 0:  # copied before the swap: then what runs is what was checked
        assert _ok(ienv.run("swap")) == "good\n"
    else:
        assert proc.returncode == 1 and b"hash mismatch for " in err and b"nothing was installed" in err, err
        assert ienv.run("swap").returncode == 127
    assert _ok(ienv.run("other")) == ""


@pytest.mark.slow
def test_a_wheel_swapped_while_the_venv_is_made_is_not_installed(ienv: Env) -> None:
    whl = wheel(ienv.root / "wheels", "tool-w", "1.0", {"w.py": "def main():\n    print('good wheel')\n"},
                scripts={"tool-w": "w:main"})
    digest = _sha(whl)
    evil = wheel(ienv.root / "evil", "tool-w", "1.0", {"w.py": "def main():\n    print('EVIL wheel')\n"},
                 scripts={"tool-w": "w:main"})
    proc = started([TOOL, "plugin", "install", str(whl), "--sha256", digest], env={**ienv.vars, "PIP_NO_INDEX": "1"},
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(lambda: list(_data(ienv).glob("plugins/*/v-*/venv")), "the venv being made")
    os.replace(evil, whl)  # pip has not read the wheel yet
    _, err = proc.communicate(timeout=HANG_BOUND * 3)
    assert proc.returncode == 0, err
    assert _ok(ienv.run("w")) == "good wheel\n"
    assert f'--hash=sha256:{digest}"' in _ok(ienv.run("plugin", "lock"))  # the lock says what was checked


# -- 3. no one else's directory runs code ---------------------------------------------------------


def _planted_store(root: Path, command: str = "status") -> Path:
    """A data directory with an installed `tool-<command>` that prints MALLORY."""
    data = root / "tool"
    files = data / "plugins" / command / "v-1" / "files"
    files.mkdir(parents=True)
    (files / f"tool-{command}").write_text("#!/bin/sh\necho MALLORY\n")
    (files / f"tool-{command}").chmod(0o755)
    (data / "plugins" / command / "current").symlink_to("v-1")
    (data / "bin").mkdir()
    (data / "bin" / f"tool-{command}").symlink_to(f"../plugins/{command}/current/files/tool-{command}")
    return data


@needs_root
def test_another_users_data_directory_is_never_used(tmp_path: Path) -> None:
    mallory = tmp_path / "mallory"
    data = _planted_store(mallory / ".local" / "share")
    for path in [mallory, *mallory.rglob("*")]:
        os.lchown(path, NOBODY, NOBODY)
    env = {"HOME": str(mallory), "PATH": SYSTEM_PATH, "LC_ALL": "C.UTF-8"}  # `sudo -E`, `su` without `-`
    proc = subprocess.run([TOOL, "status"], capture_output=True, env=env, timeout=HANG_BOUND)
    assert proc.returncode == 127 and b"MALLORY" not in proc.stdout
    assert f"it is owned by someone else (uid {NOBODY})" in err_line(proc)
    verbose = subprocess.run([TOOL, "-v", "status"], capture_output=True, env=env, timeout=HANG_BOUND).stderr.decode()
    assert (f"skipped installed entry '{data}/bin': the installed plugins' directory is not used: {data}: "
            "it is owned by someone else") in verbose
    doctor = json.loads(subprocess.run([TOOL, "doctor", "--json"], capture_output=True, env=env, timeout=HANG_BOUND).stdout)
    [finding] = [f for f in doctor["findings"] if f["code"] == "installed_untrusted"]
    assert finding["severity"] == "error" and "sudo -H" in finding["fix"] and "XDG_DATA_HOME" in finding["fix"]
    proc = subprocess.run([TOOL, "plugin", "install", "/bin/true", "--name", "t"], capture_output=True, env=env, timeout=HANG_BOUND)
    assert proc.returncode == 1 and "is not safe to install into: it is owned by someone else" in err_line(proc)
    assert not (data / "plugins" / "t").exists()


@pytest.mark.parametrize("loose", ["", "bin", "plugins"])
def test_a_data_directory_others_can_write_to_is_skipped(tenv: Env, loose: str) -> None:
    data = _planted_store(tenv.root / "share")
    (data / loose).chmod(0o775)
    env = {"XDG_DATA_HOME": str(tenv.root / "share")}
    proc = tenv.run("status", env=env)
    assert proc.returncode == 127 and b"MALLORY" not in proc.stdout
    assert "others can write to it (mode 775)" in err_line(proc)
    [finding] = [f for f in json.loads(tenv.run("doctor", "--json", env=env).stdout)["findings"] if f["code"] == "installed_untrusted"]
    assert finding["fix"].startswith(f"chmod -R go-w {data / loose if loose else data}")
    proc = tenv.run("plugin", "install", "/bin/true", "--name", "t", env=env)
    assert proc.returncode == 1 and "is not safe to install into: others can write to it" in err_line(proc)


# -- 4. archive headers are bounded as they are read ------------------------------------------------


def _huge_headers(path: Path, kind: str) -> None:
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as z:
            for i in range(400_000):
                z.writestr(f"{i}", b"")
        return
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for i in range(120):
            info = tarfile.TarInfo(f"m{i}")
            if kind == "pax path":
                info.name = "./" * (2 << 20) + "."  # "." once normalized: nothing written, the next one read
            else:
                info.pax_headers = {"comment": "c" * (4 << 20)}
            tar.addfile(info, io.BytesIO(b""))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pax path", "pax comment", "zip"])
def test_archive_headers_are_counted_as_they_are_read(ienv: Env, kind: str) -> None:
    archive = ienv.root / ("a.zip" if kind == "zip" else "a.tar.gz")
    _huge_headers(archive, kind)
    code, _, err, peak = _peak([TOOL, "plugin", "install", str(archive), "--sha256", _sha(archive), "--name", "a"], ienv.vars)
    assert code == 1 and err.startswith(b"tool: unsafe archive: "), err
    assert peak < 100, f"{peak} MiB for an archive of {archive.stat().st_size >> 10} KiB"
    assert _installed(ienv) == {} and _versions(ienv, "a") == []


# -- 5. git never hangs, and never while holding the lock --------------------------------------------


class _Silent:
    """A loopback server that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def closed_by_peer(self) -> bool:
        for conn in self.accepted:
            conn.setblocking(False)
            try:
                if conn.recv(65536) == b"":
                    return True
            except BlockingIOError:
                pass
        return False


@pytest.fixture
def silent() -> Iterator[_Silent]:
    server = _Silent()
    yield server
    server.sock.close()
    for conn in server.accepted:
        conn.close()


@needs_git
def test_git_that_never_answers_holds_nothing_and_is_stopped(ienv: Env, silent: _Silent) -> None:
    hung = started([TOOL, "plugin", "install", f"git://127.0.0.1:{silent.port}/x.git"], env=ienv.vars,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(lambda: silent.accepted, "git's connection")
    # Another writer does not wait for it: the lock is not held across a network wait.
    source = _source(ienv, "tool-hi", "echo hi\n")
    proc = ienv.run("plugin", "install", str(source))
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    assert _ok(ienv.run("hi")) == "hi\n" and hung.poll() is None
    hung.send_signal(signal.SIGTERM)
    hung.communicate(timeout=HANG_BOUND)
    assert hung.returncode == -signal.SIGTERM
    _wait_for(silent.closed_by_peer, "git stopped with tool")
    assert sorted(_installed(ienv)) == ["hi"] and _versions(ienv, "x") == []
    # Transports that run commands or read our descriptors are not allowed.
    for url in ("git+fd::3", "git+ext::sh -c touch% /tmp/pwned"):
        proc = ienv.run("plugin", "install", url, "--name", "x")
        assert proc.returncode == 1 and "transport" in err_line(proc) and "not allowed" in err_line(proc), proc.stderr


@needs_git
def test_git_has_a_deadline(silent: _Silent) -> None:
    from dispatch.errors import ToolError
    from dispatch.install.sources import git

    start = time.monotonic()
    with pytest.raises(ToolError) as info:
        git(["ls-remote", "--", f"git://127.0.0.1:{silent.port}/x.git"], {"PATH": os.environ["PATH"]}, deadline=1)
    assert info.value.message == "git ls-remote did not finish within 1 s; it was stopped"
    assert time.monotonic() - start < HANG_BOUND
    _wait_for(silent.closed_by_peer, "git stopped")


# -- 6. credentials are never stored or shown; everything written is private --------------------------


def test_a_url_with_a_credential_is_refused_and_never_shown(ienv: Env) -> None:
    proc = ienv.run("plugin", "install", "https://me:s3cr3t-TOKEN@127.0.0.1:1/tool-x.git")
    assert proc.returncode == 2 and "s3cr3t" not in err_line(proc)
    assert "credential.helper" in err_line(proc) and "https://127.0.0.1:1/tool-x.git" in err_line(proc)
    proc = ienv.run("plugin", "install", "tool-x @ https://u:s3cr3t@127.0.0.1:1/x.whl")
    assert proc.returncode == 2 and "s3cr3t" not in err_line(proc)
    # A manifest an older version wrote with a token in it: never printed again.
    _ok(ienv.run("plugin", "install", str(_source(ienv, "tool-hi", "echo hi\n")), "--name", "hi"))
    manifest = next(_data(ienv).glob("plugins/hi/v-*/manifest.json"))
    data = json.loads(manifest.read_text())
    data["source"] = {"kind": "git", "location": "https://me:s3cr3t@example.com/tool-hi.git", "resolved": "a" * 40}
    manifest.write_text(json.dumps(data))
    for args in (["plugin", "list"], ["plugin", "list", "--json"], ["plugin", "lock"], ["doctor"]):
        out = ienv.run(*args)
        assert b"s3cr3t" not in out.stdout + out.stderr, args
    assert "https://example.com/tool-hi.git" in _ok(ienv.run("plugin", "list"))


@needs_root
def test_another_user_reads_nothing_the_host_wrote(ienv: Env) -> None:
    shared = Path(tempfile.mkdtemp(prefix="tool-private-"))
    try:
        shared.chmod(0o755)  # another user can reach it: what is inside must keep them out
        env = {"XDG_DATA_HOME": str(shared)}
        _ok(ienv.run("plugin", "install", str(_source(ienv, "tool-hi", "echo hi\n")), env=env))
        manifest = next(shared.glob("tool/plugins/hi/v-*/manifest.json"))
        assert (shared / "tool").stat().st_mode & 0o777 == 0o700 and manifest.stat().st_mode & 0o777 == 0o600
        peek = subprocess.run(["cat", str(manifest)], capture_output=True, user=NOBODY, timeout=HANG_BOUND)
        assert peek.returncode != 0 and b"Permission denied" in peek.stderr
    finally:
        shutil.rmtree(shared)


# -- 7. an upgrade refuses what an install refuses ------------------------------------------------


def test_an_upgrade_never_adds_a_command_that_shadows_yours(ienv: Env) -> None:
    work = ienv.root / "work"
    ienv.sh("tool-a", "echo a\n", directory=work)
    _ok(ienv.run("plugin", "install", str(work)))
    ienv.sh("tool-login", "echo your own login\n")  # on PATH
    ienv.sh("tool-login", "echo upstream login\n", directory=work)  # upstream adds it
    proc = ienv.run("plugin", "upgrade", "a")
    assert proc.returncode == 1 and proc.stdout == b"a: failed\n"
    line = err_line(proc)
    assert line.startswith("tool: a: not upgraded: its new version adds a command: 'tool login' already runs ")
    assert "--force" in line
    assert _ok(ienv.run("login")) == "your own login\n" and _installed(ienv)["a"]["commands"] == ["a"]
    assert _ok(ienv.run("plugin", "install", str(work), "--name", "a", "--force")).endswith("tool a, tool login\n")


# -- 8. a symlinked source is followed ------------------------------------------------------------


def test_a_linked_source_installs_what_it_points_to(ienv: Env) -> None:
    target = _source(ienv, "x.sh", "echo linked\n", directory="real")
    link = ienv.root / "home" / "bin" / "tool-x"
    link.parent.mkdir(parents=True)
    link.symlink_to("../../real/x.sh")
    out = _ok(ienv.run("plugin", "install", str(link), "--sha256", _sha(target)))
    assert out.startswith("installed x ") and out.endswith(": tool x\n")
    assert _ok(ienv.run("x")) == "linked\n"
    assert not next(_data(ienv).glob("plugins/x/v-*/files/tool-x")).is_symlink()  # a copy, not a link
    whl = wheel(ienv.root / "wheels", "tool-w", "1.0", {"w.py": "def main(): pass\n"}, scripts={"tool-w": "w:main"})
    linked = ienv.root / "home" / "w.whl"
    linked.symlink_to(whl)
    proc = ienv.run("plugin", "install", str(linked), "--sha256", "0" * 64)
    assert proc.returncode == 1 and f"got {_sha(whl)}; nothing was installed" in err_line(proc)


# -- 9. signals during an install stop what it started ----------------------------------------------


def _running_in(directory: Path) -> list[str]:
    """Live processes (not zombies) whose command line names something under `directory`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and str(directory).encode() in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_a_signal_during_an_install_stops_pip_and_the_venv(ienv: Env, sig: int) -> None:
    # Enough files that pip takes a while to unpack them into the new venv.
    files = {"w.py": "def main(): pass\n", **{f"w_data/f{i}.py": "" for i in range(3000)}}
    whl = wheel(ienv.root / "wheels", "tool-w", "1.0", files, scripts={"tool-w": "w:main"})
    proc = started([TOOL, "plugin", "install", str(whl)], env={**ienv.vars, "PIP_NO_INDEX": "1"},
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # While pip (a child of tool, or the venv's Python it runs, or ensurepip under `python -m
    # venv` where the host has no recent pip) installs into the version's venv.
    _wait_for(lambda: [c for c in _running_in(_data(ienv) / "plugins") if "pip" in c], "pip installing into the venv")
    proc.send_signal(sig)
    proc.communicate(timeout=HANG_BOUND)
    assert proc.returncode == -sig
    plugins = _data(ienv) / "plugins"
    end = time.monotonic() + 5  # SIGKILL: the guard reads EOF and kills the group (no wait involved otherwise)
    while _running_in(plugins) and time.monotonic() < end:
        time.sleep(0.05)
    assert _running_in(plugins) == []
    if sig != signal.SIGKILL:
        assert _versions(ienv, "w") == []  # removed on the way out
    else:  # left for the next writer, but stopped with tool: the package never finished installing
        assert not list(_data(ienv).glob("plugins/*/v-*/venv/lib/python*/site-packages/tool_w-*.dist-info/RECORD"))
    _ok(ienv.run("plugin", "install", str(_source(ienv, "tool-hi", "echo hi\n"))))  # the next writer clears the rest
    assert _versions(ienv, "w") == [] and _ok(ienv.run("hi")) == "hi\n"


# -- 10. --sha256 covers what is installed: the sidecar is left out, and said so ----------------------


def test_a_sidecar_unchecked_by_sha256_is_left_out_and_said(ienv: Env) -> None:
    source = _source(ienv, "tool-hello", "echo hello\n")
    _source(ienv, "tool_complete-hello", "echo EVIL-COMPLETION\n")
    out = _ok(ienv.run("plugin", "install", str(source), "--sha256", _sha(source)))
    assert out.endswith(": tool hello (its completion sidecar tool_complete-hello was left out: --sha256 checks tool-hello alone)\n")
    assert offered(ienv.run("__complete", "--", "hello", "").stdout) == []
    out = _ok(ienv.run("plugin", "install", str(source)))
    assert out.endswith(": tool hello, with its completion sidecar tool_complete-hello\n")
    assert offered(ienv.run("__complete", "--", "hello", "").stdout) == ["EVIL-COMPLETION"]


# -- 11. a lock's entries cannot share a command ----------------------------------------------------


def test_a_lock_whose_entries_clash_installs_nothing(ienv: Env) -> None:
    one = _source(ienv, "tool-x", "echo one\n", directory="one")
    two = _source(ienv, "tool-x", "echo two\n", directory="two")
    lock = ienv.root / "clash.lock"
    lock.write_text("lock = 1\n" + "".join(
        f'[[plugin]]\nname = "{n}"\nkind = "file"\nsource = "{p}"\nsha256 = "{_sha(p)}"\ncommands = ["x"]\n'
        f'files = {{ "files/tool-x" = "{_sha(p)}" }}\n' for n, p in (("a", one), ("b", two))))
    proc = ienv.run("plugin", "install", "--locked", str(lock), "--force")
    assert proc.returncode == 1
    assert "the plugins a and b both provide the command 'x'" in err_line(proc)
    assert _installed(ienv) == {} and ienv.run("x").returncode == 127 and _versions(ienv, "a") == []


# -- 12. upgrade --dry-run runs nothing of the plugin's environment -------------------------------------


@pytest.mark.slow
def test_a_dry_run_runs_nothing_from_the_plugins_venv(ienv: Env) -> None:
    marker = ienv.root / "ran"
    wheels = ienv.root / "wheels"
    # A package shipping a .pth (run by every start of its venv's Python), and a PYTHONPATH
    # with a `pip` that would shadow the real one.
    wheel(wheels, "tool-pth", "1.0", {"pth.py": "def main(): print('pth')\n",
                                      "zz_evil.pth": f"import os; open({str(marker)!r} + '.pth', 'w')\n"},
          scripts={"tool-pth": "pth:main"})
    shadow = ienv.root / "shadow" / "pip"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    (shadow / "__main__.py").write_text(f"open({str(marker)!r} + '.pythonpath', 'w')\n")
    pip = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_CONFIG_FILE": os.devnull}
    _ok(ienv.run("plugin", "install", "tool-pth", env=pip))
    assert not list(ienv.root.glob("ran*"))
    wheel(wheels, "tool-pth", "1.1", {"pth.py": "def main(): print('pth 1.1')\n"}, scripts={"tool-pth": "pth:main"})
    out = _ok(ienv.run("plugin", "upgrade", "pth", "--dry-run", env={**pip, "PYTHONPATH": str(shadow.parent)}))
    assert out == "pth: would upgrade 1.0 -> 1.1\n"
    assert not list(ienv.root.glob("ran*"))


# -- 13. deeply nested TOML ---------------------------------------------------------------------------


def test_deeply_nested_toml_is_a_clear_error(ienv: Env) -> None:
    deep = "x = " + "[" * 5000 + "]" * 5000 + "\n"
    lock = ienv.root / "deep.lock"
    lock.write_text("lock = 1\n" + deep)
    proc = ienv.run("plugin", "install", "--locked", str(lock))
    assert proc.returncode == 2
    assert err_line(proc) == f"tool: {lock} is not a lock file: nested more than 64 levels deep (line 2)"
    config = ienv.root / "config" / "tool" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(deep)
    assert _ok(ienv.run("version")).startswith("tool ")
    assert _ok(ienv.run("--version")).startswith("tool ")
    proc = ienv.run("list")
    assert proc.returncode == 2
    assert err_line(proc) == f"tool: bad config {config}: not valid TOML: nested more than 64 levels deep (line 1)"
    doctor = json.loads(ienv.run("doctor", "--json").stdout)
    assert [f["code"] for f in doctor["findings"]][:1] == ["bad_config"]


# -- 14. the queue to a plugin that never reads is bounded ------------------------------------------------


def test_a_plugin_that_never_reads_is_stopped_with_little_memory(tenv: Env) -> None:
    from tests.conftest import python_plugin

    python_plugin(tenv, "tool-deaf", """
        import os, sys
        # speaks TOOL_PROTOCOL, and never reads its stdin
        out = os.fdopen(1, "wb", buffering=1 << 20)
        out.write(b'{"type":"hello","protocol":1,"plugin":{"name":"deaf","version":"1"}}\\n')
        line = b'{"type":"request","id":%d,"method":"prompt","params":{"message":"Name?"}}\\n'
        for i in range(1_000_000):
            out.write(line % i)
        out.flush()
    """, declare=True)
    code, _, err, peak = _peak([TOOL, "deaf"], tenv.vars)
    assert code == 76, err
    assert err == (b"tool: protocol error from tool-deaf: it stopped reading its stdin: more than 16 MiB of messages "
                   b"from the host were waiting for it (a protocol plugin must keep reading its stdin until EOF)\n")
    assert peak < 80, f"{peak} MiB"


# -- 15. a source path that is not UTF-8 -------------------------------------------------------------


def test_a_source_path_that_is_not_utf8_is_not_locked_into_bad_toml(ienv: Env) -> None:
    odd = os.path.join(os.fsencode(ienv.root), b"dir-\xff")
    os.mkdir(odd)
    plugin = os.path.join(odd, b"tool-odd")
    with open(plugin, "w") as f:
        f.write("#!/bin/sh\necho odd\n")
    os.chmod(plugin, 0o755)
    _ok(ienv.run("plugin", "install", plugin))
    assert _ok(ienv.run("odd")) == "odd\n"
    for args in (["plugin", "lock"], ["plugin", "lock", "--json"]):
        proc = ienv.run(*args)
        assert proc.returncode == 1 and proc.stdout == b"", args
        assert r"odd cannot be locked: b'" in err_line(proc) and r"\xff" in err_line(proc) and "not UTF-8" in err_line(proc)


# -- 16. text from disk never reaches a terminal raw ----------------------------------------------------


def test_locations_results_and_json_are_escaped(ienv: Env) -> None:
    from tests.conftest import raw_plugin

    evil = _source(ienv, "tool-esc", "echo esc\n", directory="odd\x1b[2J\u202edir")
    out = _ok(ienv.run("plugin", "install", str(evil)))
    assert "\x1b" not in out and "\u202e" not in out and "odd\\e[2J\\u202edir" in out
    listed = ienv.run("plugin", "list", "--json").stdout
    assert b"\x1b" not in listed and "\u202e".encode() not in listed and b"\\u202e" in listed
    assert json.loads(listed)["plugins"][0]["source"] == str(evil)  # the same data, escaped
    raw_plugin(ienv, "tool-res", ['{"type":"hello","protocol":1,"plugin":{"name":"res","version":"1"}}',
                                  '{"type":"result","data":"done \\u001b[2J\\u202eok"}'])
    proc = ienv.run("res")
    assert proc.returncode == 0 and proc.stdout == b"done \\e[2J\\u202eok\n", proc.stdout


# -- 17. a full disk, and an output that cannot be written --------------------------------------------------


def test_a_full_data_directory_and_an_unwritable_report_say_what_happened(ienv: Env) -> None:
    big = _source(ienv, "tool-big", "echo big\n")
    with open(big, "a") as f:
        f.write("#" * (1 << 20) + "\n")

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))

    proc = subprocess.run([TOOL, "plugin", "install", str(big)], capture_output=True, env=ienv.vars,
                          preexec_fn=small_files, timeout=HANG_BOUND)
    assert proc.returncode == 1
    assert err_line(proc).startswith(f"tool: cannot install big into {_data(ienv)}: File too large")
    assert err_line(proc).endswith("; nothing was installed") and _versions(ienv, "big") == []
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([TOOL, "plugin", "install", str(_source(ienv, "tool-hi", "echo hi\n"))], stdout=full,
                              stderr=subprocess.PIPE, env=ienv.vars, timeout=HANG_BOUND)
    assert proc.returncode == 1 and proc.stderr.decode() == (
        "tool: hi: done, but its report cannot be written to stdout: No space left on device; "
        "'tool plugin list' shows what is installed\n")
    assert _ok(ienv.run("hi")) == "hi\n"


# -- 18. everything written is private, whatever the umask; doctor sees what changed -----------------------


def _loose_entries(top: Path) -> list[str]:
    return [str(p) for p in [top, *top.rglob("*")] if not p.is_symlink() and p.lstat().st_mode & 0o077]


@needs_git
def test_installed_code_is_private_under_a_loose_umask(tenv: Env) -> None:
    repo = tenv.root / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    tenv.sh("tool-g", "echo g\n", directory=repo)
    (repo / "lib").mkdir()
    (repo / "lib" / "data.txt").write_text("x")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "x")
    source = _source(tenv, "tool-f", "echo f\n")

    def loose() -> None:
        os.umask(0o002)

    for args in ([f"file://{repo}"], [str(source)]):
        proc = subprocess.run([TOOL, "plugin", "install", *args], capture_output=True, env=tenv.vars,
                              preexec_fn=loose, timeout=HANG_BOUND)
        assert proc.returncode == 0, proc.stderr
    home = tenv.root / "home"
    assert (home / ".local").stat().st_mode & 0o777 == 0o700
    data = home / ".local" / "share" / "tool"
    assert _loose_entries(data) == [] and _ok(tenv.run("g")) == "g\n" and _ok(tenv.run("f")) == "f\n"
    assert _ok(tenv.run("doctor")).startswith("no problems found")
    # Compiled Python beside the verified files, and a file others may change: reported.
    version = next(data.glob("plugins/g/v-*"))
    (version / "src" / "lib" / "__pycache__").mkdir()
    (version / "src" / "lib" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"planted")
    (version / "src" / "lib" / "data.txt").chmod(0o666)
    [finding] = json.loads(tenv.run("doctor", "--json").stdout)["findings"]
    assert finding["code"] == "installed_changed"
    assert "src/lib/__pycache__/mod.cpython-311.pyc was added" in finding["message"]
    assert "src/lib/data.txt can be changed by others (mode 666)" in finding["message"]


# -- 19. what the user put under plugins/ is never removed -------------------------------------------------


def test_a_directory_of_the_users_under_plugins_is_kept(ienv: Env) -> None:
    _ok(ienv.run("plugin", "install", str(_source(ienv, "tool-hi", "echo hi\n"))))
    mine = _data(ienv) / "plugins" / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("precious")
    (_data(ienv) / "plugins" / "empty").mkdir()
    codes = sorted(f["code"] for f in json.loads(ienv.run("doctor", "--json").stdout)["findings"])
    assert codes == ["installed_foreign", "installed_leftover"]
    _ok(ienv.run("plugin", "install", str(_source(ienv, "tool-hi", "echo hi 2\n", directory="two")), "--force", "--name", "hi"))
    assert (mine / "todo.txt").read_text() == "precious" and not (_data(ienv) / "plugins" / "empty").exists()
    _ok(ienv.run("plugin", "remove", "hi"))
    assert (mine / "todo.txt").read_text() == "precious"


# -- 20. a lock file that is a FIFO; relative sources in a lock ----------------------------------------------


def test_a_fifo_lock_never_hangs_and_relative_sources_are_the_locks(ienv: Env) -> None:
    fifo = ienv.root / "fifo.lock"
    os.mkfifo(fifo)
    proc = ienv.run("plugin", "install", "--locked", str(fifo))
    assert proc.returncode == 2 and err_line(proc) == f"tool: {fifo} is not a lock file: not a regular file"
    project = ienv.root / "project"
    tool_rel = _source(ienv, "tool-rel", "echo relative\n", directory="project/tools")
    linked = project / "dev"
    ienv.sh("tool-dev", "echo dev\n", directory=linked)
    (project / "plugins.lock").write_text(
        f'lock = 1\n[[plugin]]\nname = "rel"\nkind = "file"\nsource = "tools/tool-rel"\nsha256 = "{_sha(tool_rel)}"\n'
        f'files = {{ "files/tool-rel" = "{_sha(tool_rel)}" }}\n'
        '[[plugin]]\nname = "dev"\nkind = "link"\nsource = "dev"\n')
    elsewhere = ienv.root / "elsewhere"
    elsewhere.mkdir()
    proc = ienv.run("plugin", "install", "--locked", "../project/plugins.lock", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert _ok(ienv.run("rel")) == "relative\n" and _ok(ienv.run("dev")) == "dev\n"
    assert _installed(ienv)["rel"]["source"] == str(tool_rel) and _installed(ienv)["dev"]["source"] == str(linked)


# -- 21. precise words ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "said"), [
    ("[" * 100_000, "line is nested too deeply (JSON over about 1000 levels)"),
    ('{"type":"log","level":"info","message":"x","n":' + "9" * 5000 + "}", "line holds a number with too many digits (more than 4300)"),
])
def test_json_too_deep_or_too_long_a_number_is_said_so(tenv: Env, line: str, said: str) -> None:
    from tests.conftest import raw_plugin

    raw_plugin(tenv, "tool-j", ['{"type":"hello","protocol":1,"plugin":{"name":"j","version":"1"}}', line], "cat >/dev/null")
    proc = tenv.run("j")
    assert proc.returncode == 76 and said in err_line(proc)


@needs_root
def test_doctor_on_a_plugin_owned_by_another_user_names_the_file_and_the_owner(ienv: Env) -> None:
    work = ienv.root / "work"
    plugin = ienv.sh("tool-theirs", "echo theirs\n", directory=work)
    os.chown(plugin, NOBODY, NOBODY)
    _ok(ienv.run("plugin", "install", str(work)))
    [finding] = [f for f in json.loads(ienv.run("doctor", "--json").stdout)["findings"] if f["code"] == "writable_plugin"]
    assert f"its owner (uid {NOBODY}) can change this plugin" in finding["message"]
    assert finding["fix"] == f"make sure you trust uid {NOBODY}, or copy {plugin} to a file of your own"


# -- 22. --pin on a directory that is not a repository --------------------------------------------------------


def test_pin_on_a_directory_that_is_not_a_repository(ienv: Env) -> None:
    work = ienv.root / "work"
    ienv.sh("tool-w", "echo w\n", directory=work)
    proc = ienv.run("plugin", "install", str(work), "--pin", "v1")
    assert proc.returncode == 2
    assert err_line(proc) == (f"tool: {work} is a directory but not a git repository, and --pin needs one: make it one "
                              "(git init), or leave out --pin to link the directory as it is")

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

from tests.conftest import HANG_BOUND, SYSTEM_PATH, TOOL, Env, err_line, started
from tests.install_test import _git, _installed, _ok, _source, _versions, ienv  # noqa: F401 - ienv: a fixture
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


def _peak(argv: list[str], env: dict[str, str], **kw: object) -> tuple[int, bytes, bytes, int]:
    """Run to the end: (exit status, stdout, stderr, peak RSS in MiB of that process alone)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = started(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, **kw)
        timer = threading.Timer(HANG_BOUND, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), usage.ru_maxrss // 1024


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
    _wait_for(lambda: list(_data(ienv).glob("plugins/*/v-*/files")), "the version's files/ directory")
    os.replace(evil, good)
    out, err = proc.communicate(timeout=HANG_BOUND)
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

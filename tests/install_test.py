"""`tool plugin install|list|upgrade|remove|lock`: every source kind, local only (files, `git init`
repositories, wheels written here, archives served on 127.0.0.1), atomic under failure,
SIGKILL and concurrency."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TOOL, Env, offered, started

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _installed(env: Env) -> dict[str, dict[str, object]]:
    proc = env.run("plugin", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    return {p["name"]: p for p in json.loads(proc.stdout)["plugins"]}


def _source(env: Env, name: str, text: str, directory: str = "src") -> Path:
    return env.sh(name, text, directory=env.root / directory)


def _ok(proc: subprocess.CompletedProcess[bytes]) -> str:
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


# -- local files and directories ---------------------------------------------------------------


def test_a_file_installed_upgraded_and_removed(ienv: Env) -> None:
    source = _source(ienv, "tool-hi", "echo hi v1 \"$@\"\n")
    out = _ok(ienv.run("plugin", "install", str(source)))
    assert out.startswith("installed hi ") and out.endswith(": tool hi\n")
    assert _ok(ienv.run("hi", "x")) == "hi v1 x\n"
    listed = _installed(ienv)["hi"]
    assert (listed["kind"], listed["source"], listed["commands"]) == ("file", str(source), ["hi"])
    link = ienv.root / "data" / "tool" / "bin" / "tool-hi"
    assert os.readlink(link) == "../plugins/hi/current/files/tool-hi"
    # The copy is what runs: editing the source changes nothing until an upgrade.
    source.write_text("#!/bin/sh\necho hi v2\n")
    assert _ok(ienv.run("hi")) == "hi v1\n"
    assert _ok(ienv.run("plugin", "upgrade", "--all", "--dry-run")).startswith("hi: would upgrade ")
    assert _ok(ienv.run("hi")) == "hi v1\n"
    assert _ok(ienv.run("plugin", "upgrade", "hi")).startswith("hi: upgraded ")
    assert _ok(ienv.run("hi")) == "hi v2\n"
    assert _ok(ienv.run("plugin", "upgrade", "hi")) == "hi: up to date\n"
    versions = list((ienv.root / "data" / "tool" / "plugins" / "hi").iterdir())
    assert sorted(p.name for p in versions)[0] == "current" and len(versions) == 2, "the old version is gone"
    assert _ok(ienv.run("plugin", "remove", "hi")) == "removed hi (tool hi)\n"
    assert ienv.run("hi").returncode == 127 and not link.exists()
    assert source.exists()
    proc = ienv.run("plugin", "remove", "hi")
    assert proc.returncode == 1 and proc.stderr == b"tool: not installed: hi ('tool plugin list' shows what is)\n"


def test_names_and_clashes(ienv: Env) -> None:
    script = _source(ienv, "deploy.sh", "echo deploying\n")
    proc = ienv.run("plugin", "install", str(script))
    assert proc.returncode == 1 and b"has no executable named tool-NAME (give the command's name with --name)" in proc.stderr
    _ok(ienv.run("plugin", "install", str(script), "--name", "ship"))
    assert _ok(ienv.run("ship")) == "deploying\n"
    # A builtin's name, or a command found elsewhere on the search path: refused, saying who has it.
    builtin = _source(ienv, "tool-list", "true\n")
    proc = ienv.run("plugin", "install", str(builtin))
    assert proc.returncode == 1 and b"'tool list' is a builtin command of tool" in proc.stderr
    ienv.sh("tool-greet", "echo from PATH\n")
    greet = _source(ienv, "tool-greet", "echo installed\n")
    proc = ienv.run("plugin", "install", str(greet))
    assert proc.returncode == 1
    assert f"'tool greet' already runs {ienv.bin}/tool-greet; the installed one would shadow it".encode() in proc.stderr
    assert "greet" not in _installed(ienv)
    _ok(ienv.run("plugin", "install", str(greet), "--force"))
    assert _ok(ienv.run("greet")) == "installed\n"  # before PATH
    listing = json.loads(ienv.run("list", "--json").stdout)["plugins"]
    shadowed = next(p for p in listing if p["path"] == f"{ienv.bin}/tool-greet")
    assert [q["code"] for q in shadowed["problems"]] == ["shadowed"]
    # A command another installed plugin provides: refused even with --force.
    _source(ienv, "tool-ship", "echo other\n", directory="elsewhere")
    _source(ienv, "tool-other", "echo other\n", directory="elsewhere")
    proc = ienv.run("plugin", "install", str(ienv.root / "elsewhere"), "--force")
    assert proc.returncode == 1 and b"'tool ship' is already provided by the installed plugin ship" in proc.stderr
    assert sorted(_installed(ienv)) == ["greet", "ship"]
    proc = ienv.run("plugin", "install", str(ienv.root / "nowhere" / "x"))
    assert (proc.returncode, proc.stderr) == (2, f"tool: {ienv.root}/nowhere/x: no such file or directory\n".encode())


def test_a_directory_is_linked_for_development(ienv: Env) -> None:
    work = ienv.root / "work"
    ienv.sh("tool-dev", "echo dev one\n", directory=work)
    ienv.sh("tool-dev-test", "echo dev test\n", directory=work)
    out = _ok(ienv.run("plugin", "install", str(work)))
    assert out.endswith(": tool dev, tool dev-test\n")
    (work / "tool-dev").write_text("#!/bin/sh\necho dev two\n")
    assert _ok(ienv.run("dev")) == "dev two\n"  # linked: edits are live
    assert _ok(ienv.run("dev", "test")) == "dev test\n"
    assert _ok(ienv.run("plugin", "upgrade", "work")) == "work: linked (always current)\n"
    assert _ok(ienv.run("doctor")).startswith("no problems found")
    _ok(ienv.run("plugin", "remove", "work"))
    assert (work / "tool-dev").exists()


# -- git ---------------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "HOME": str(repo.parent), "PATH": os.environ["PATH"]}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True, env=env, timeout=60).stdout.decode()


def _repo(env: Env, text: str) -> Path:
    repo = env.root / "tool-deploy-plugin"
    repo.mkdir()
    _git(repo, "init", "-q")
    env.sh("tool-deploy", text, directory=repo)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "one")
    _git(repo, "tag", "v1")
    return repo


def _commit(repo: Path, text: str) -> str:
    (repo / "tool-deploy").write_text("#!/bin/sh\n" + text)
    _git(repo, "commit", "-qam", "next")
    return _git(repo, "rev-parse", "HEAD").strip()


@needs_git
def test_git_pinned_and_following(ienv: Env) -> None:
    repo = _repo(ienv, "echo deploy v1\n")
    v1 = _git(repo, "rev-parse", "HEAD").strip()
    _commit(repo, "echo deploy v2\n")
    out = _ok(ienv.run("plugin", "install", str(repo), "--pin", "v1"))
    assert out.startswith(f"installed deploy {v1[:12]} from {repo} (git)")  # one command: known by it
    assert _ok(ienv.run("deploy")) == "deploy v1\n"
    assert _ok(ienv.run("plugin", "upgrade", "deploy")) == "deploy: pinned\n"
    # Following the default branch: upgrades when it moves.
    proc = ienv.run("plugin", "install", f"file://{repo}")  # another source for an installed name
    assert proc.returncode == 1 and b"deploy is installed from " in proc.stderr and b"use --force to replace it" in proc.stderr
    _ok(ienv.run("plugin", "install", f"file://{repo}", "--force"))
    assert _ok(ienv.run("deploy")) == "deploy v2\n"
    v3 = _commit(repo, "echo deploy v3\n")
    assert _ok(ienv.run("plugin", "upgrade", "--all", "--dry-run")) == f"deploy: would upgrade {_installed(ienv)['deploy']['version']} -> {v3[:12]}\n"
    assert _ok(ienv.run("deploy")) == "deploy v2\n"
    report = json.loads(_ok(ienv.run("plugin", "upgrade", "--all", "--json")))
    assert report["plugins"][0]["status"] == "upgraded" and report["plugins"][0]["to"] == v3[:12]
    assert _ok(ienv.run("deploy")) == "deploy v3\n"
    # git's own words when it fails.
    proc = ienv.run("plugin", "install", str(repo), "--pin", "nosuch", "--name", "x")
    assert proc.returncode == 1 and proc.stderr.startswith(b"tool: no tag, branch or commit 'nosuch' in ")
    assert b"git said: fatal:" in proc.stderr
    proc = ienv.run("plugin", "install", f"file://{ienv.root}/missing.git")
    assert proc.returncode == 1 and b"git clone failed: fatal:" in proc.stderr
    assert not [p for p in (ienv.root / "data" / "tool" / "plugins").iterdir() if p.name not in ("deploy",)]


@needs_git
def test_the_lock_round_trip_on_a_fresh_data_dir(ienv: Env) -> None:
    repo = _repo(ienv, "echo deploy v1\n")
    _ok(ienv.run("plugin", "install", f"file://{repo}"))
    hi = _source(ienv, "tool-hi", "echo hi\n")
    _ok(ienv.run("plugin", "install", str(hi)))
    lock = ienv.root / "plugins.lock"
    lock.write_text(_ok(ienv.run("plugin", "lock")))
    _commit(repo, "echo deploy v2\n")  # the repository moved on: the lock still says v1
    fresh = {"XDG_DATA_HOME": str(ienv.root / "fresh")}
    out = _ok(ienv.run("plugin", "install", "--locked", str(lock), env=fresh))
    assert out.splitlines() == [f"installed deploy {_installed(ienv)['deploy']['version']} (git, as locked)",
                                f"installed hi {_installed(ienv)['hi']['version']} (file, as locked)"]
    assert _ok(ienv.run("deploy", env=fresh)) == "deploy v1\n"
    assert ienv.run("plugin", "lock", env=fresh).stdout == lock.read_bytes().replace(
        str(ienv.root / "data").encode(), str(ienv.root / "fresh").encode())
    # A file that differs from the lock: refused, and nothing at all installed.
    hi.write_text("#!/bin/sh\necho tampered\n")
    other = {"XDG_DATA_HOME": str(ienv.root / "other")}
    proc = ienv.run("plugin", "install", "--locked", str(lock), env=other)
    assert proc.returncode == 1 and b"hash mismatch for " in proc.stderr and b"nothing was installed" in proc.stderr
    assert _installed_in(ienv, other) == {}
    bad = ienv.root / "bad.lock"
    bad.write_text(lock.read_text().replace("lock = 1", "lock = 7"))
    proc = ienv.run("plugin", "install", "--locked", str(bad), env=other)
    assert proc.returncode == 2 and b"is not a lock file of version 1" in proc.stderr


@needs_git
def test_a_locked_install_of_what_is_installed_already_changes_nothing(ienv: Env) -> None:
    repo = _repo(ienv, "echo deploy v1\n")
    _ok(ienv.run("plugin", "install", f"file://{repo}"))
    hi = _source(ienv, "tool-hi", "echo hi\n")
    _ok(ienv.run("plugin", "install", str(hi)))
    lock = ienv.root / "plugins.lock"
    lock.write_text(_ok(ienv.run("plugin", "lock")))
    before = {name: _versions(ienv, name) for name in ("deploy", "hi")}
    _commit(repo, "echo deploy v2\n")  # the repository moved on: nothing is fetched to find that out
    shutil.rmtree(repo)
    listed = _installed(ienv)
    out = _ok(ienv.run("plugin", "install", "--locked", str(lock)))
    assert out.splitlines() == [f"deploy {listed['deploy']['version']}: already as locked",
                                f"hi {listed['hi']['version']}: already as locked"]
    assert {name: _versions(ienv, name) for name in ("deploy", "hi")} == before
    document = json.loads(_ok(ienv.run("plugin", "install", "--locked", str(lock), "--json")))
    assert (document["installed"], [p["name"] for p in document["unchanged"]]) == ([], ["deploy", "hi"])
    # A changed installed file is found by hashing again: that one is installed afresh, from its source.
    (ienv.root / "data" / "tool" / "plugins" / "hi" / before["hi"][0] / "files" / "tool-hi").write_text("#!/bin/sh\necho changed\n")
    out = _ok(ienv.run("plugin", "install", "--locked", str(lock)))
    assert out.splitlines() == [f"installed hi {listed['hi']['version']} (file, as locked)",
                                f"deploy {listed['deploy']['version']}: already as locked"]
    assert _ok(ienv.run("hi")) == "hi\n" and _versions(ienv, "hi") != before["hi"]
    # An entry that says otherwise (here, a sandbox) is installed as it says.
    lock.write_text(lock.read_text().replace('commands = ["hi"]', 'commands = ["hi"]\nsandbox = "workdir"'))
    assert _ok(ienv.run("plugin", "install", "--locked", str(lock))).startswith("installed hi ")
    assert _installed(ienv)["hi"]["sandbox"] == "workdir"


def _installed_in(env: Env, extra: dict[str, str]) -> dict[str, object]:
    return {p["name"]: p for p in json.loads(env.run("plugin", "list", "--json", env=extra).stdout)["plugins"]}


# -- Python packages ----------------------------------------------------------------------------


@pytest.mark.slow
def test_python_packages_from_wheels_and_the_lock(ienv: Env) -> None:
    import tomllib

    from tests.wheels import sdk_wheel, wheel

    # The package of docs/writing-plugins.md, "Publishing a plugin", as a wheel.
    doc = (Path(__file__).resolve().parent.parent / "docs" / "writing-plugins.md").read_text()
    project = tomllib.loads(doc.split("`pyproject.toml`:\n\n```toml\n")[1].split("```")[0])["project"]
    module = doc.split("`tool_report.py`:\n\n```python\n")[1].split("```")[0]
    wheels = ienv.root / "wheels"
    sdk_wheel(wheels)
    report = wheel(wheels, project["name"], project["version"], {"tool_report.py": module},
                   scripts=project["scripts"], requires=tuple(project["dependencies"]))
    # A package whose one command is not called as the package is: "utils" gives `tool fmt`.
    wheel(wheels, "tool-utils", "2.0", {"plainpy.py": "def main():\n    print('plain python')\n"},
          scripts={"tool-fmt": "plainpy:main"})
    pip = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
    ienv.vars.update(pip)
    assert _ok(ienv.run("plugin", "install", str(report))).startswith("installed report 1.0 from ")
    # An SDK plugin speaks the protocol from its very first run.
    assert [json.loads(line) for line in _ok(ienv.run("--json", "report")).splitlines()] == [
        {"type": "record", "data": {"build": "ok", "warnings": 0}}, {"type": "exit", "code": 0}]
    assert _ok(ienv.run("plugin", "install", "tool-utils")) == "installed utils 2.0 from tool-utils (python): tool fmt\n"
    assert _ok(ienv.run("fmt")) == "plain python\n"
    # Upgrades follow the index: nothing new, nothing built; a new version, a new venv.
    before = _versions(ienv, "utils")
    assert _ok(ienv.run("plugin", "upgrade", "utils")) == "utils: up to date\n"
    assert _versions(ienv, "utils") == before
    wheel(wheels, "tool-utils", "2.1", {"plainpy.py": "def main():\n    print('plain python 2.1')\n"},
          scripts={"tool-fmt": "plainpy:main"})
    assert _ok(ienv.run("plugin", "upgrade", "--all", "--dry-run")) == "report: up to date\nutils: would upgrade 2.0 -> 2.1\n"
    assert _ok(ienv.run("plugin", "upgrade", "utils")) == "utils: upgraded 2.0 -> 2.1\n"
    assert _ok(ienv.run("fmt")) == "plain python 2.1\n"
    # A wheel file rebuilt under the same version is a change too (its hash, not its version).
    report_bytes = report.read_bytes()
    wheel(wheels, project["name"], project["version"], {"tool_report.py": module + "# rebuilt\n"},
          scripts=project["scripts"], requires=tuple(project["dependencies"]))
    assert _ok(ienv.run("plugin", "upgrade", "report", "--dry-run")).startswith("report: would upgrade 1.0 -> ")
    report.write_bytes(report_bytes)
    assert _ok(ienv.run("plugin", "upgrade", "report", "--dry-run")) == "report: up to date\n"
    kinds = {p["name"]: p["kind"] for p in json.loads(ienv.run("list", "--json").stdout)["plugins"]}
    assert (kinds["report"], kinds["fmt"]) == ("protocol", "plain")  # the launcher declares only for the SDK one
    lock = ienv.root / "plugins.lock"
    lock.write_text(_ok(ienv.run("plugin", "lock")))
    assert "--hash=sha256:" in lock.read_text()
    fresh = {"XDG_DATA_HOME": str(ienv.root / "fresh")}
    out = _ok(ienv.run("plugin", "install", "--locked", str(lock), env=fresh))
    assert out.splitlines() == ["installed report 1.0 (python, as locked)", "installed utils 2.1 (python, as locked)"]
    assert _ok(ienv.run("fmt", env=fresh)) == "plain python 2.1\n"
    # Again on the same machine (a cached CI runner): no pip, no new venv.
    out = _ok(ienv.run("plugin", "install", "--locked", str(lock), env={**fresh, "PIP_FIND_LINKS": str(ienv.root / "none")}))
    assert out.splitlines() == ["report 1.0: already as locked", "utils 2.1: already as locked"]
    # A package that differs from the lock: refused by pip's hash check, nothing installed.
    wheel(wheels, "tool-utils", "2.1", {"plainpy.py": "def main():\n    print('tampered')\n"},
          scripts={"tool-fmt": "plainpy:main"})
    other = {"XDG_DATA_HOME": str(ienv.root / "other")}
    proc = ienv.run("plugin", "install", "--locked", str(lock), env=other)
    assert proc.returncode == 1 and b"hash mismatch installing" in proc.stderr
    assert _installed_in(ienv, other) == {}
    assert _ok(ienv.run("doctor")).startswith("no problems found")


# -- archives ----------------------------------------------------------------------------------


class _Server:
    """Files served on 127.0.0.1; a path in `slow` sends half its body, then waits for `go`;
    `length` is sent as the Content-Length header when set."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.slow: set[str] = set()
        self.length: str | None = None
        self.go = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = server.root / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", server.length or str(len(data)))
                self.end_headers()
                if self.path.lstrip("/") in server.slow:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    server.go.wait(60)
                    data = data[len(data) // 2 :]
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    root = tmp_path / "served"
    root.mkdir()
    s = _Server(root)
    yield s
    s.go.set()
    s.httpd.shutdown()
    s.httpd.server_close()


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            info.size = len(data) if data is not None else 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def _file(name: str, mode: int = 0o755) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info


def _greet_archive(server: _Server, name: str, text: str) -> str:
    return _tar(server.root / name, [(_file("tool-greet-1.0/tool-greet"), f"#!/bin/sh\necho {text}\n".encode())])


def test_an_archive_checked_before_it_is_unpacked(ienv: Env, server: _Server) -> None:
    sha = _greet_archive(server, "tool-greet-1.0.tar.gz", "greet one")
    url = f"{server.url}/tool-greet-1.0.tar.gz"
    proc = ienv.run("plugin", "install", url, "--sha256", sha)
    assert proc.returncode == 2 and b"only https:// (and file://) URLs are fetched (--allow-http allows http://)" in proc.stderr
    proc = ienv.run("plugin", "install", url, "--sha256", "0" * 64, "--allow-http")
    assert proc.returncode == 1 and f"got {sha}; nothing was installed".encode() in proc.stderr
    out = _ok(ienv.run("plugin", "install", url, "--sha256", sha, "--allow-http"))
    assert out.startswith(f"installed greet {sha[:12]} from {url} (archive)")
    assert _ok(ienv.run("greet")) == "greet one\n"
    assert _ok(ienv.run("plugin", "upgrade", "greet")) == "greet: pinned\n"
    proc = ienv.run("plugin", "install", f"{server.url}/missing.tgz", "--sha256", sha, "--allow-http")
    assert proc.returncode == 1 and b"HTTP 404" in proc.stderr
    proc = ienv.run("plugin", "install", url)  # no hash
    assert proc.returncode == 2 and b"is an archive: give its sha256 (--sha256 HEX) to install it" in proc.stderr
    # A local archive with its hash is unpacked as a downloaded one; --sha256 means nothing for git.
    local = server.root / "tool-greet-1.0.tar.gz"
    out = _ok(ienv.run("plugin", "install", str(local), "--sha256", sha, "--name", "greet2"))
    assert out.startswith(f"installed greet2 {sha[:12]} from {local} (archive)")
    proc = ienv.run("plugin", "install", "git@example.com:me/tool-x.git", "--sha256", sha)
    assert proc.returncode == 2 and b"--sha256 is for a file, an archive or a wheel file" in proc.stderr
    # A Content-Length that is no number (a superscript two, in latin-1) is ignored, not fatal.
    server.length = "\u00b2"
    out = _ok(ienv.run("plugin", "install", url, "--sha256", sha, "--allow-http", "--name", "greet3"))
    assert out.startswith(f"installed greet3 {sha[:12]} from {url} (archive)")


@pytest.mark.parametrize("kind", ["traversal", "absolute", "symlink out", "absolute symlink", "device", "fifo",
                                  "through a link", "hard link out"])
def test_malicious_archives_are_refused(ienv: Env, server: _Server, kind: str) -> None:
    members: list[tuple[tarfile.TarInfo, bytes | None]] = [(_file("tool-evil"), b"#!/bin/sh\necho evil\n")]
    if kind == "traversal":
        members.append((_file("../../escaped"), b"x"))
    elif kind == "absolute":
        members.append((_file(str(ienv.root / "escaped")), b"x"))
    elif kind in ("symlink out", "absolute symlink", "through a link"):
        link = tarfile.TarInfo("out")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../.." if kind != "absolute symlink" else str(ienv.root)
        members.append((link, None))
        if kind == "through a link":
            link.linkname = "."  # inside, but nothing may be written through it
            members.append((_file("out/escaped"), b"x"))
    elif kind == "hard link out":
        hard = tarfile.TarInfo("hard")
        hard.type = tarfile.LNKTYPE
        hard.linkname = "../../etc/passwd"
        members.append((hard, None))
    else:
        special = tarfile.TarInfo("special")
        special.type = tarfile.CHRTYPE if kind == "device" else tarfile.FIFOTYPE
        special.devmajor, special.devminor = 1, 3
        members.append((special, None))
    sha = _tar(server.root / "evil.tar.gz", members)
    proc = ienv.run("plugin", "install", f"{server.url}/evil.tar.gz", "--sha256", sha, "--allow-http")
    assert proc.returncode == 1 and proc.stderr.startswith(b"tool: unsafe archive: "), proc.stderr
    assert not (ienv.root / "escaped").exists() and not (ienv.root / "data" / "escaped").exists()
    assert _installed(ienv) == {} and ienv.run("evil").returncode == 127
    assert not list((ienv.root / "data" / "tool" / "plugins").iterdir())


def _wait_for(predicate: object, what: str) -> None:
    end = time.monotonic() + 30
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > end:
            raise AssertionError(f"{what} did not happen")
        time.sleep(0.02)


def _versions(env: Env, name: str) -> list[str]:
    directory = env.root / "data" / "tool" / "plugins" / name
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("v-")) if directory.exists() else []


def test_sigkill_in_the_middle_leaves_the_previous_version_running(ienv: Env, server: _Server) -> None:
    sha1 = _greet_archive(server, "one.tar.gz", "greet one")
    _ok(ienv.run("plugin", "install", f"{server.url}/one.tar.gz", "--sha256", sha1, "--allow-http"))
    sha2 = _greet_archive(server, "two.tar.gz", "greet two")
    server.slow.add("two.tar.gz")
    proc = started([TOOL, "plugin", "install", f"{server.url}/two.tar.gz", "--sha256", sha2, "--allow-http", "--name",
                    "greet"], env=ienv.vars, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(lambda: len(_versions(ienv, "greet")) == 2, "the new version's directory")
    time.sleep(0.2)  # in the middle of the download
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert _ok(ienv.run("greet")) == "greet one\n"
    doctor = json.loads(ienv.run("doctor", "--json").stdout)
    assert [f["code"] for f in doctor["findings"]] == ["installed_leftover"]
    # The next writer cleans up, and installs.
    server.slow.clear()
    _ok(ienv.run("plugin", "install", f"{server.url}/two.tar.gz", "--sha256", sha2, "--allow-http", "--name", "greet",
                 "--force"))
    assert _ok(ienv.run("greet")) == "greet two\n" and len(_versions(ienv, "greet")) == 1
    assert _ok(ienv.run("doctor")).startswith("no problems found")


def test_ctrl_c_in_the_middle_and_two_installs_at_once(ienv: Env, server: _Server) -> None:
    sha1 = _greet_archive(server, "one.tar.gz", "greet one")
    sha2 = _greet_archive(server, "two.tar.gz", "greet two")
    server.slow.add("one.tar.gz")
    args = ["plugin", "install", "--allow-http", "--name", "greet", "--force"]
    first = started([TOOL, *args, f"{server.url}/one.tar.gz", "--sha256", sha1], env=ienv.vars,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(lambda: len(_versions(ienv, "greet")) == 1, "the first install's directory")
    # The writers' lock is never held while a source is fetched: the second does not wait for the
    # first's download; it installs, and the first, finishing last, replaces it.
    second = started([TOOL, *args, f"{server.url}/two.tar.gz", "--sha256", sha2], env=ienv.vars,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _out2, err2 = second.communicate(timeout=60)
    assert (second.returncode, err2) == (0, b""), err2
    assert first.poll() is None and _ok(ienv.run("greet")) == "greet two\n"
    server.go.set()
    out1, err1 = first.communicate(timeout=60)
    assert first.returncode == 0, err1
    assert b"(replacing " in out1 and _ok(ienv.run("greet")) == "greet one\n"
    assert len(_versions(ienv, "greet")) == 1
    _ok(ienv.run(*args, f"{server.url}/two.tar.gz", "--sha256", sha2))
    # Ctrl-C while downloading: the installed version stays, nothing is left behind.
    server.go.clear()
    server.slow.add("two.tar.gz")
    sha3 = _greet_archive(server, "three.tar.gz", "greet three")
    server.slow.add("three.tar.gz")
    third = started([TOOL, *args, f"{server.url}/three.tar.gz", "--sha256", sha3], env=ienv.vars,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(lambda: len(_versions(ienv, "greet")) == 2, "the third install's directory")
    time.sleep(0.2)
    third.send_signal(signal.SIGINT)
    third.communicate(timeout=60)
    assert third.returncode == -signal.SIGINT  # dies of it, as a shell loop expects
    assert _ok(ienv.run("greet")) == "greet two\n" and len(_versions(ienv, "greet")) == 1


def test_doctor_reports_changed_files_and_v_shows_the_order(ienv: Env) -> None:
    source = _source(ienv, "tool-hi", "echo hi\n")
    _ok(ienv.run("plugin", "install", str(source)))
    current = ienv.root / "data" / "tool" / "plugins" / "hi" / "current"
    (current / "files" / "tool-hi").write_text("#!/bin/sh\necho changed\n")
    (current / "files" / "extra").write_text("x")
    doctor = json.loads(ienv.run("doctor", "--json").stdout)
    [finding] = doctor["findings"]
    assert finding["code"] == "installed_changed"
    assert "files/tool-hi was changed; files/extra was added" in finding["message"]
    assert finding["fix"] == f"reinstall it (tool plugin install {source} --name hi), or remove it (tool plugin remove hi)"
    proc = ienv.run("-v", "hi")
    said = proc.stderr.decode()
    assert f"installed plugins (tool plugin install) are in {ienv.root}/data/tool/bin, after TOOL_PLUGIN_PATH" in said
    _ok(ienv.run("plugin", "install", str(source), "--name", "hi"))
    assert _ok(ienv.run("doctor")).startswith("no problems found")


def test_every_builtin_name_is_refused(ienv: Env) -> None:
    from dispatch.commands import BUILTINS

    source = _source(ienv, "tool-x", "true\n")
    for name in BUILTINS:
        proc = ienv.run("plugin", "install", str(source), "--name", name)
        assert proc.returncode == 1 and f"'tool {name}' is a builtin command of tool".encode() in proc.stderr, name
    assert _installed(ienv) == {}


def test_progress_on_a_terminal_and_hostile_lock_lines(ienv: Env, server: _Server) -> None:
    from tests.conftest import PtyRun

    sha = _greet_archive(server, "one.tar.gz", "greet one")
    term = PtyRun(["plugin", "install", f"{server.url}/one.tar.gz", "--sha256", sha, "--allow-http"],
                  {**ienv.vars, "TERM": "xterm"}, ienv.root)
    code, screen = term.finish()
    assert code == 0
    assert f"tool: downloading {server.url}/one.tar.gz\r\n".encode() in screen
    assert b"tool: 134 bytes of 134 bytes (100%)\r\ntool: downloaded 134 bytes\r\n" in screen
    lock = ienv.root / "evil.lock"
    lock.write_text('lock = 1\n[[plugin]]\nname = "x"\nkind = "python"\nsource = "x"\n'
                    'requirements = ["--index-url http://evil --hash=sha256:' + "0" * 64 + '"]\n')
    proc = ienv.run("plugin", "install", "--locked", str(lock))
    assert proc.returncode == 2 and b"requirements must be lines 'NAME @ URL --hash=sha256:HEX'" in proc.stderr
    proc = ienv.run("plugin", "install", "--", "--index-url=http://evil")
    assert proc.returncode == 2


def test_sidecars_are_installed_and_links_follow_the_directory(ienv: Env) -> None:
    work = ienv.root / "work"
    ienv.sh("tool-dev", "echo dev\n", directory=work)
    ienv.sh("tool_complete-dev", "echo alpha; echo beta\n", directory=work)
    _ok(ienv.run("plugin", "install", str(work)))
    assert offered(ienv.run("__complete", "--", "dev", "").stdout) == ["alpha", "beta"]
    # A command added to the linked directory is linked by an upgrade; one removed is reported.
    ienv.sh("tool-dev2", "echo dev2\n", directory=work)
    assert _ok(ienv.run("plugin", "upgrade", "--all", "--dry-run")) == "dev: would upgrade - -> commands dev dev2\n"
    assert _ok(ienv.run("plugin", "upgrade", "--all")) == "dev: upgraded - -> commands dev dev2\n"
    assert _ok(ienv.run("dev2")) == "dev2\n"
    (work / "tool-dev2").unlink()
    [finding] = json.loads(ienv.run("doctor", "--json").stdout)["findings"]
    assert finding["code"] == "installed_changed" and "src/tool-dev2 is gone from the linked directory" in finding["message"]
    _ok(ienv.run("plugin", "upgrade", "dev"))
    assert _ok(ienv.run("doctor")).startswith("no problems found")
    _ok(ienv.run("plugin", "remove", "dev"))
    assert not list((ienv.root / "data" / "tool" / "bin").iterdir())


def test_an_http_archive_in_a_lock_and_a_wheel_with_a_wrong_hash(ienv: Env, server: _Server) -> None:
    from tests.wheels import wheel

    sha = _greet_archive(server, "one.tar.gz", "greet one")
    _ok(ienv.run("plugin", "install", f"{server.url}/one.tar.gz", "--sha256", sha, "--allow-http"))
    lock = ienv.root / "plugins.lock"
    lock.write_text(_ok(ienv.run("plugin", "lock")))
    fresh = {"XDG_DATA_HOME": str(ienv.root / "fresh")}
    proc = ienv.run("plugin", "install", "--locked", str(lock), env=fresh)
    assert proc.returncode == 2 and b"--allow-http allows http://" in proc.stderr
    _ok(ienv.run("plugin", "install", "--locked", str(lock), "--allow-http", env=fresh))
    assert _ok(ienv.run("greet", env=fresh)) == "greet one\n"
    whl = wheel(ienv.root / "wheels", "tool-w", "1.0", {"w.py": "def main(): pass\n"}, scripts={"tool-w": "w:main"})
    start = time.monotonic()
    proc = ienv.run("plugin", "install", str(whl), "--sha256", "0" * 64)
    assert proc.returncode == 1 and b"hash mismatch for " in proc.stderr
    assert time.monotonic() - start < 20, "checked before any venv is made"
    proc = ienv.run("plugin", "frobnicate")
    assert proc.returncode == 2 and proc.stderr == b"tool: plugin: unknown subcommand 'frobnicate'; see 'tool help plugin'\n"


# -- found by an attack ------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to interrupt at an exact system call")
@pytest.mark.parametrize("call", ["rename:when=1", "symlink:when=2", "unlink:when=2"])
def test_ctrl_c_inside_the_switch_keeps_a_working_plugin(ienv: Env, call: str) -> None:
    source = _source(ienv, "tool-hi", "echo v1\n")
    _ok(ienv.run("plugin", "install", str(source)))
    source.write_text("#!/bin/sh\necho v2\n")
    syscall, when = call.split(":")
    probe = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=getpid", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("strace cannot trace here")
    proc = subprocess.run(
        ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"inject={syscall}:signal=SIGINT:{when}", TOOL, "plugin",
         "install", str(source)], capture_output=True, env=ienv.vars, timeout=60)
    assert proc.returncode in (0, 130, -signal.SIGINT, 128 + signal.SIGINT), proc.stderr
    assert _ok(ienv.run("hi")) in ("v1\n", "v2\n")  # one or the other, whole
    _ok(ienv.run("plugin", "list"))
    assert "hi" in _installed(ienv)


def test_a_failed_switch_puts_the_previous_state_back(ienv: Env) -> None:
    work = ienv.root / "work"
    ienv.sh("tool-a", "echo a\n", directory=work)
    _ok(ienv.run("plugin", "install", str(work)))
    blocker = ienv.root / "data" / "tool" / "bin" / "tool-b"
    blocker.mkdir()
    (blocker / "x").write_text("")
    ienv.sh("tool-b", "echo b\n", directory=work)
    proc = ienv.run("plugin", "upgrade", "a")
    assert proc.returncode == 1 and b"nothing was changed" in proc.stderr, proc.stderr
    assert _ok(ienv.run("a")) == "a\n" and _installed(ienv)["a"]["commands"] == ["a"]
    assert len(_versions(ienv, "a")) == 1


def test_links_leading_outside_are_refused(ienv: Env, server: _Server) -> None:
    outside = ienv.root / "outside"
    outside.write_text("#!/bin/sh\necho OUTSIDE\n")
    outside.chmod(0o755)
    hop = tarfile.TarInfo("x/l")
    hop.type, hop.linkname = tarfile.SYMTYPE, ".."
    chain = tarfile.TarInfo("tool-esc")
    chain.type = tarfile.SYMTYPE
    # Its text stays inside (x/l/x/l/../..), but each x/l leads back to the top: the `..`s then climb to /.
    depth = len(Path(ienv.root / "data" / "tool" / "plugins" / "esc" / "v-x" / "files").parts)
    chain.linkname = "x/l/" * depth + "../" * depth + str(outside).lstrip("/")
    top = tarfile.TarInfo("x")
    top.type = tarfile.DIRTYPE
    sha = _tar(server.root / "chain.tar.gz", [(top, None), (hop, None), (chain, None)])
    proc = ienv.run("plugin", "install", f"{server.url}/chain.tar.gz", "--sha256", sha, "--allow-http", "--name", "esc")
    assert proc.returncode == 1 and b"the link tool-esc leads outside it" in proc.stderr, proc.stderr
    assert ienv.run("esc").returncode == 127
    if shutil.which("git"):
        repo = ienv.root / "repo"
        repo.mkdir()
        _git(repo, "init", "-q")
        (repo / "tool-sh").symlink_to("/bin/sh")
        _git(repo, "add", ".")
        _git(repo, "commit", "-qm", "x")
        proc = ienv.run("plugin", "install", f"file://{repo}")
        assert proc.returncode == 1 and b"the link tool-sh leads outside it" in proc.stderr


def test_the_data_directory_is_never_followed_where_it_was_not_made(ienv: Env) -> None:
    source = _source(ienv, "tool-hi", "echo hi\n")
    _ok(ienv.run("plugin", "install", str(source)))
    victim = ienv.root / "victim"
    (victim / "v-important").mkdir(parents=True)
    (victim / "v-important" / "keep").write_text("precious")
    plugins = ienv.root / "data" / "tool" / "plugins"
    (plugins / "planted").symlink_to(victim)
    doctor = json.loads(ienv.run("doctor", "--json").stdout)
    assert [f["code"] for f in doctor["findings"]] == ["installed_leftover"]
    _ok(ienv.run("plugin", "install", str(source)))  # a writer cleans up: the link, not what it points to
    assert (victim / "v-important" / "keep").read_text() == "precious" and not (plugins / "planted").exists()
    for bad in ("../../victim", ".hidden", "a/b"):
        proc = ienv.run("plugin", "remove", bad)
        assert proc.returncode == 2 and b"is not a plugin name" in proc.stderr
    # A manifest nested past any parser's depth: reported, and removable.
    manifest = plugins / "hi" / "current" / "manifest.json"
    manifest.write_text("[" * 200_000)
    assert _installed(ienv) == {}
    doctor = json.loads(ienv.run("doctor", "--json").stdout)
    assert [f["code"] for f in doctor["findings"]] == ["installed_broken"]
    _ok(ienv.run("plugin", "remove", "hi"))
    assert ienv.run("hi").returncode == 127


def test_archive_headers_and_duplicates(ienv: Env, server: _Server) -> None:
    huge = tarfile.TarInfo("tool-" + "a" * (20 << 20))  # a 20 MiB name: a GNU long-name header
    sha = _tar(server.root / "huge.tar.gz", [(huge, b"")])
    proc = ienv.run("plugin", "install", f"{server.url}/huge.tar.gz", "--sha256", sha, "--allow-http", "--name", "h")
    assert proc.returncode == 1 and b"unsafe archive: its headers (long names, pax records) take more than 16 MiB" in proc.stderr, proc.stderr
    sha = _tar(server.root / "dup.tar.gz", [(_file("tool-d"), b"#!/bin/sh\n"), (_file("tool-d"), b"#!/bin/sh\n")])
    proc = ienv.run("plugin", "install", f"{server.url}/dup.tar.gz", "--sha256", sha, "--allow-http")
    assert proc.returncode == 1 and proc.stderr.startswith(b"tool: cannot unpack the archive: File exists (tool-d)")
    assert _installed(ienv) == {}


def test_a_launcher_for_a_python_whose_path_has_spaces(tmp_path: Path) -> None:
    import sys

    from dispatch.install.sources import _write_launcher

    spaced = tmp_path / "data dir" / "venv" / "bin"
    spaced.mkdir(parents=True)
    (spaced / "python").symlink_to(sys.executable)
    (tmp_path / "mod_x.py").write_text("import sys\ndef main():\n    print('ran', sys.argv[1:])\n")
    launcher = tmp_path / "tool-x"
    _write_launcher(str(launcher), str(spaced / "python"), "mod_x", "main", "x", None)
    proc = subprocess.run([str(launcher), "a b", "c"], capture_output=True, env={"PYTHONPATH": str(tmp_path)}, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, b"ran ['a b', 'c']\n"), proc.stderr


def test_from_a_docs_check(ienv: Env) -> None:
    """A file's sidecar comes along; a `name @ URL` source is a requirement; bin/ keeps only what tool made."""
    src = ienv.root / "src"
    ienv.sh("tool-hello", "echo hello\n", directory=src)
    ienv.sh("tool_complete-hello", "echo world\n", directory=src)
    _ok(ienv.run("plugin", "install", str(src / "tool-hello")))
    assert offered(ienv.run("__complete", "--", "hello", "").stdout) == ["world"]
    from dispatch.install.sources import classify

    assert classify(f"tool-x @ file://{src}/x.whl", pin=None, sha256=None) == ("python", f"tool-x @ file://{src}/x.whl")
    bin_dir = ienv.root / "data" / "tool" / "bin"
    (bin_dir / "tool-planted").symlink_to(src / "tool-hello")
    (bin_dir / "by-hand").write_text("keep me")
    codes = [f["code"] for f in json.loads(ienv.run("doctor", "--json").stdout)["findings"]]
    assert codes == ["installed_foreign", "installed_leftover"]  # by hand: kept; a link: removed
    _ok(ienv.run("plugin", "upgrade", "--all"))  # a writer
    assert not (bin_dir / "tool-planted").is_symlink() and ienv.run("planted").returncode == 127
    assert (bin_dir / "by-hand").read_text() == "keep me"  # reported, never deleted
